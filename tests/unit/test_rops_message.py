"""RopOpenMessage's response, RopReadRecipients and the RecipientRow (MS-OXCROPS 2.2.6.1, 2.2.6.6;
MS-OXCDATA 2.8.3, 2.11 TypedString). The RecipientRow decoder runs on real bytes (the row Outlook 2007
sent in RopModifyRecipients, captures/openchange-lzxpress); the OpenMessage and ReadRecipients
vectors are hand-built from the spec's layout (no capture of a server's answer is held)."""
import struct
from pathlib import Path

import pytest

from protocols.rops import RESPONSE_CLASSES, RopFormatError, decode_request_buffer, rop_name
from protocols.rops._wire import Reader
from protocols.rops.message import (
    STRING_8BIT, STRING_EMPTY, STRING_NONE, STRING_REDUCED_UNICODE, STRING_UNICODE, OpenMessageResponse,
    OpenRecipientRow, ReadRecipientRow, ReadRecipientsRequest, ReadRecipientsResponse, TypedString,
)
from protocols.rops.recipients import (
    F_DISPLAY, F_SIMPLE, F_UNICODE, TYPE_SMTP, TYPE_X500DN, RecipientRow, decode_recipient_row,
    encode_recipient_row,
)
from protocols.rops.rpc_ext import decode_ext_buffer
from protocols.rops.rows import standard_row

OUTLOOK = Path(__file__).resolve().parents[2] / "captures" / "openchange-lzxpress"


def _modify_recipients():
    raw = (OUTLOOK / "001_Outlook_2007_in_ModifyRecipients_comp.dat").read_bytes()
    (cb_in,) = struct.unpack_from("<I", raw, 0x18)
    (piece,) = decode_ext_buffer(raw, 0x1C, 0x1C + cb_in)
    return decode_request_buffer(piece.payload).rops[1]


def test_recipient_row_of_outlook_2007():
    """Real bytes: the X500DN recipient Outlook 2007 sent in RopModifyRecipients."""
    mr = _modify_recipients()
    cols = mr.recipient_columns
    raw = mr.recipient_rows[0].recipient_row
    row, end = decode_recipient_row(raw, 0, cols)
    assert end == len(raw)
    assert row.flags == 0x0651 and row.type == TYPE_X500DN and row.unicode
    assert row.flags & F_DISPLAY and row.flags & F_SIMPLE
    assert (row.address_prefix_used, row.display_type, row.x500dn) == (0x45, 0, "Jkerihuel")
    assert row.email_address is None
    assert row.display_name == "Julien Kerihuel" and row.simple_display_name == "jkerihuel"
    assert row.column_count == 12 and len(row.properties.values) == 12
    assert row.properties.values[0] == 6                          # PidTagObjectType: MAPI_MAILUSER
    assert row.properties.values[2] == "jkerihuel"                # 0x39FF001F, PidTagAddressBookDisplayNamePrintable
    assert encode_recipient_row(row, cols) == raw


@pytest.mark.parametrize("ts,raw", [
    (TypedString(STRING_NONE), b"\x00"),
    (TypedString(STRING_EMPTY, ""), b"\x01"),
    (TypedString(STRING_8BIT, "RE: "), b"\x02RE: \x00"),
    (TypedString(STRING_REDUCED_UNICODE, "Hi"), b"\x03Hi\x00"),
    (TypedString(STRING_UNICODE, "Grüße"), b"\x04" + "Grüße".encode("utf-16-le") + b"\x00\x00"),
])
def test_typed_string(ts, raw):
    """Hand-built: one vector per StringType."""
    r = Reader(raw)
    assert TypedString.read(r) == ts and r.left() == 0
    out = bytearray()
    ts.write(out)
    assert bytes(out) == raw


def test_typed_string_of_and_bad_type():
    assert TypedString.of(None).string_type == STRING_NONE
    assert TypedString.of("").string_type == STRING_EMPTY
    assert TypedString.of("x") == TypedString(STRING_UNICODE, "x")
    with pytest.raises(RopFormatError):
        TypedString.read(Reader(b"\x05abc\x00"))


# Hand-built RopOpenMessage response (MS-OXCROPS 2.2.6.1.2): one SMTP To recipient, two columns
COLS = (0x0C150003, 0x3001001F)        # PidTagRecipientType, PidTagDisplayName


def _open_vector():
    email = "b@x".encode("utf-16-le") + b"\x00\x00"
    name = "Bob".encode("utf-16-le") + b"\x00\x00"
    recip = (b"\x1b\x02" + email + name       # RecipientFlags 0x021B: SMTP, E, D, U
             + b"\x02\x00"                     # RecipientColumnCount
             + b"\x00" + b"\x01\x00\x00\x00" + name)   # StandardPropertyRow: To, "Bob"
    return (bytes.fromhex("03 01 00000000 00") + b"\x02RE\x00" + b"\x04" + "Hi".encode("utf-16-le") + b"\x00\x00"
            + bytes.fromhex("0100 0200 0300150c 1f000130 01 01 e404 0000") + struct.pack("<H", len(recip)) + recip)


def test_open_message_response_hand_built():
    raw = _open_vector()
    r = Reader(raw, 1)
    resp = OpenMessageResponse.decode(r)
    assert r.left() == 0
    assert resp.handle_index == 1 and resp.ok and resp.has_named_properties == 0
    assert resp.subject_prefix == TypedString(STRING_8BIT, "RE")
    assert resp.normalized_subject == TypedString(STRING_UNICODE, "Hi")
    assert resp.recipient_count == 1 and resp.recipient_columns == COLS
    (row,) = resp.recipient_rows
    assert (row.recipient_type, row.code_page_id, row.reserved) == (1, 1252, 0)
    rr = row.recipient_row
    assert rr.type == TYPE_SMTP and rr.flags == 0x021B
    assert (rr.email_address, rr.display_name) == ("b@x", "Bob")
    assert rr.properties.values == (1, "Bob")
    out = bytearray()
    resp.encode(out)
    assert bytes(out) == raw
    # built from fields, it gives the same bytes
    built = OpenMessageResponse(1, 0, 0, TypedString(STRING_8BIT, "RE"), TypedString.of("Hi"), 1, COLS,
                                (OpenRecipientRow(1, 1252, RecipientRow.build(
                                    type=TYPE_SMTP, email_address="b@x", display_name="Bob", column_count=2,
                                    properties=standard_row(1, "Bob"))),))
    out = bytearray()
    built.encode(out)
    assert bytes(out) == raw
    assert RESPONSE_CLASSES[0x03] is OpenMessageResponse and rop_name(0x0F) == "RopReadRecipients"


def test_open_message_failure_and_bad_row_size():
    raw = bytes.fromhex("03 02 0f010480")
    resp = OpenMessageResponse.decode(Reader(raw, 1))
    assert resp.return_value == 0x8004010F
    out = bytearray()
    resp.encode(out)
    assert bytes(out) == raw
    good = _open_vector()
    size_at = good.index(bytes.fromhex("e404 0000")) + 4
    bad = bytearray(good)
    struct.pack_into("<H", bad, size_at, struct.unpack_from("<H", good, size_at)[0] - 1)
    with pytest.raises(RopFormatError):
        OpenMessageResponse.decode(Reader(bytes(bad), 1))
    with pytest.raises(RopFormatError):                   # the flags ask for a string the row lacks
        encode_recipient_row(RecipientRow(0x0008 | F_UNICODE, column_count=0, properties=standard_row()), ())


def test_read_recipients_hand_built():
    req_raw = bytes.fromhex("0f 00 01 05000000 0000")
    r = Reader(req_raw, 1)
    req = ReadRecipientsRequest.decode(r)
    assert (req.logon_id, req.input_handle_index, req.row_id) == (0, 1, 5)
    out = bytearray()
    req.encode(out)
    assert bytes(out) == req_raw
    recip = encode_recipient_row(RecipientRow.build(type=TYPE_SMTP, email_address="b@x", column_count=1,
                                                    properties=standard_row(2)), COLS)
    raw = (bytes.fromhex("0f 01 00000000 01 05000000 02 e404 0000") + struct.pack("<H", len(recip)) + recip)
    resp = ReadRecipientsResponse.decode(Reader(raw, 1))
    (row,) = resp.recipient_rows
    assert isinstance(row, ReadRecipientRow) and (row.row_id, row.recipient_type) == (5, 2)
    assert row.row(COLS).email_address == "b@x" and row.row(COLS).properties.values == (2,)
    out = bytearray()
    resp.encode(out)
    assert bytes(out) == raw
