"""PropertyValue codec (MS-OXCDATA 2.11) on spec bytes and round trips."""
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from protocols.mapi.props import core as P
from protocols.mapi.types import PropType as T
from protocols.mapi.values import (PropValueError, decode_bag, decode_tagged, decode_value, encode_bag,
                                   encode_tagged, encode_value, datetime_to_filetime, filetime_to_datetime)

REF = Path(__file__).resolve().parents[2] / "fixtures" / "specvectors"


def _spec(id_):
    for ex in json.loads((REF / "rop_examples_from_specs.json").read_text()):
        if ex["id"] == id_:
            return bytes.fromhex(ex["hex"])
    raise KeyError(id_)


def test_setproperties_example_values():
    # [MS-OXCPRPT] section 4 RopSetProperties: RopId, LogonId, HandleIndex, PropertyValueSize(2), count(2), values
    buf = _spec("oxcprpt-setproperties-request")
    values = buf[7:]
    tag1, v1, off = decode_tagged(values, 0)
    tag2, v2, off = decode_tagged(values, off)
    assert (tag1, v1) == (P.PidTagSubjectPrefix, "")
    assert (tag2, v2) == (P.PidTagNormalizedSubject, "Hello World")
    assert off == len(values)
    assert encode_tagged(tag1, v1) + encode_tagged(tag2, v2) == values


@pytest.mark.parametrize("ptype,value", [
    (T.Integer16, -2), (T.Integer32, 0x7FFFFFFF), (T.Integer64, (1 << 64) - 1), (T.Boolean, True),
    (T.Floating64, 1.5), (T.Floating32, 0.25), (T.Currency, -10), (T.ErrorCode, 0x8004010F),
    (T.String, "Grüße 日本"), (T.String8, "plain"), (T.Binary, b"\x00\x01\xff"),
    (T.Guid, uuid.UUID("00062008-0000-0000-c000-000000000046")),
    (T.Time, datetime(2026, 11, 23, 8, 30, 1, 500000, tzinfo=timezone.utc)),
    (T.MultipleString, ["a", "Bé", ""]), (T.MultipleInteger32, [1, 2, 3]), (T.MultipleBinary, [b"x", b""]),
])
@pytest.mark.parametrize("wide", [False, True])
def test_round_trip(ptype, value, wide):
    data = encode_value(ptype, value, wide=wide)
    back, off = decode_value(ptype, data, wide=wide)
    assert back == value and off == len(data)
    assert encode_value(ptype, back, wide=wide) == data


def test_guid_wire_layout_is_little_endian_fields():
    g = uuid.UUID("00062008-0000-0000-c000-000000000046")
    assert encode_value(T.Guid, g).hex() == "0820060000000000c000000000000046"


def test_filetime():
    # 2000-01-01T00:00:00Z is 125911584000000000 ticks after 1601
    dt = datetime(2000, 1, 1, tzinfo=timezone.utc)
    assert datetime_to_filetime(dt) == 125911584000000000
    assert filetime_to_datetime(125911584000000000) == dt


def test_short_buffer_is_an_error_not_a_crash():
    with pytest.raises(PropValueError):
        decode_value(T.Integer64, b"\x01\x02")
    with pytest.raises(PropValueError):
        decode_value(T.String, b"a\x00b")  # no terminator
    with pytest.raises(PropValueError):
        decode_value(T.Binary, b"\x10\x00abc")
    with pytest.raises(PropValueError):
        decode_value(T.MultipleInteger32, b"\xff\xff")


def test_bag():
    bag = {P.PidTagSubject: "x", P.PidTagMessageFlags: 1, P.PidTagMid: 0x0100000000000d01}
    assert decode_bag(encode_bag(bag)) == bag
