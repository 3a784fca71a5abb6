"""The ROP registry and every codec in it: each request and response round-trips (defaults,
failure forms, the irregular layouts), rows against columns (MS-OXCDATA 2.8)."""
import struct
import uuid
from datetime import datetime, timezone

import pytest

from protocols import rops
from protocols.mapi.restrictions import (
    ORDER_DESCENDING, ContentRestriction, FL_SUBSTRING, SortOrder, SortOrderSet,
)
from protocols.rops import EC_NOT_SUPPORTED, ROPS, RopFormatError, decode_request_buffer, encode_buffer
from protocols.rops._wire import Reader, RopContext
from protocols.rops.common import BackoffResponse, BackoffRop, BufferTooSmallResponse, PendingResponse
from protocols.rops.folder import CreateFolderResponse, OpenFolderResponse, SetSearchCriteriaRequest
from protocols.rops.logon import EC_WRONG_SERVER, LogonResponse, LogonTime, LongTermId, LongTermIdFromIdResponse
from protocols.rops.message import CreateMessageResponse
from protocols.rops.property import (
    KIND_LID, KIND_NAME, GetPropertyIdsFromNamesRequest, PropertyName, PropertyProblem, SetPropertiesResponse,
)
from protocols.rops.rows import (
    ROW_FLAGGED, VALUE_ERROR, VALUE_MISSING, FlaggedValue, PropertyRow, TypedValue, decode_row,
    decode_rows, encode_row, encode_rows, standard_row,
)
from protocols.rops.stream import ReadStreamRequest, ReadStreamResponse
from protocols.rops.table import FindRowResponse, QueryRowsResponse, SortTableRequest

PS_PUBLIC_STRINGS = uuid.UUID("00020329-0000-0000-c000-000000000046")
PSETID_Appointment = uuid.UUID("00062002-0000-0000-c000-000000000046")


def roundtrip(obj, ctx=None):
    out = bytearray()
    obj.encode(out)
    r = Reader(bytes(out), 1)
    assert out[0] == type(obj).ROP_ID
    again = type(obj).decode(r, ctx) if ctx is not None else type(obj).decode(r)
    assert r.off == len(out), type(obj).__name__
    assert again == obj
    out2 = bytearray()
    again.encode(out2)
    assert out2 == out
    return bytes(out)


def test_registry_is_consistent():
    assert len(ROPS) >= 70
    for rop_id, codec in ROPS.items():
        for cls in (codec.request, codec.response):
            if cls is not None:
                assert cls.ROP_ID == rop_id, codec.name
        assert codec.name.startswith("Rop")
    for rid in (0x01, 0x02, 0x04, 0x05, 0x07, 0x12, 0x13, 0x14, 0x15, 0x17, 0x18, 0x1C, 0x27, 0x30,
                0x3F, 0x43, 0x4F, 0x56, 0xFE):
        assert ROPS[rid].request is not None
    assert ROPS[0x01].response is None  # RopRelease: no response
    assert ROPS[0xFF].request is None and ROPS[0x6E].request is None


@pytest.mark.parametrize("rop_id", sorted(k for k, v in ROPS.items() if v.request is not None),
                         ids=lambda k: ROPS[k].name)
def test_request_default_round_trips(rop_id):
    roundtrip(ROPS[rop_id].request())


@pytest.mark.parametrize("rop_id", sorted(k for k, v in ROPS.items() if v.response is not None
                                          and hasattr(v.response, "return_value")),
                         ids=lambda k: ROPS[k].name)
def test_response_success_and_failure_round_trip(rop_id):
    cls = ROPS[rop_id].response
    roundtrip(cls())
    failed = cls(handle_index=3, return_value=EC_NOT_SUPPORTED)
    raw = roundtrip(failed)
    assert raw[1] == 3 and struct.unpack_from("<I", raw, 2)[0] == EC_NOT_SUPPORTED


def test_logon_response_forms():
    fids = tuple(0x0001000000000001 + (i << 56) for i in range(13))
    private = LogonResponse(0, 0, 0x01, fids, 0x07, uuid.uuid4(), 1, uuid.uuid4(),
                            LogonTime(5, 4, 3, 2, 1, 12, 2026), 0x1234, 0)
    raw = roundtrip(private)
    assert len(raw) == 1 + 1 + 4 + 1 + 104 + 1 + 16 + 2 + 16 + 8 + 8 + 4  # 2.2.3.1.2
    public = LogonResponse(0, 0, 0x00, fids, replica_id=5, replica_guid=uuid.uuid4(), per_user_guid=uuid.uuid4())
    assert len(roundtrip(public)) == 1 + 1 + 4 + 1 + 104 + 2 + 16 + 16  # 2.2.3.1.3
    assert public.folder("ipm_subtree") == fids[1] and private.folder("inbox") == fids[4]
    redirect = LogonResponse(0, EC_WRONG_SERVER, 0x01, server_name="mbx2.example.test")
    raw = roundtrip(redirect)
    assert raw[7] == len("mbx2.example.test") + 1 and raw.endswith(b".test\x00")


def test_ghosted_folders():
    roundtrip(OpenFolderResponse(1, 0, 1, 1, 1, ("a.example", "b.example")))
    roundtrip(CreateFolderResponse(1, 0, 0x0A00010000000001, 1, 0, 1, 0, ("srv",)))
    roundtrip(CreateFolderResponse(1, 0, 0x0A00010000000001, 0))


def test_search_criteria_and_sort_order():
    res = ContentRestriction(FL_SUBSTRING, 0x0037001F, "hello")
    raw = roundtrip(SetSearchCriteriaRequest(1, 2, res, (0x0100000000010004, 7), 0x0002000A))
    assert raw.endswith(struct.pack("<I", 0x0002000A))
    sos = SortOrderSet((SortOrder(0x0E060040, ORDER_DESCENDING),), 0, 0)
    raw = roundtrip(SortTableRequest(0, 1, 0, sos))
    # SortOrderCount, CategorizedCount, ExpandedCount, then PropertyType, PropertyId, Order
    assert raw[4:] == struct.pack("<HHHHHB", 1, 0, 0, 0x0040, 0x0E06, ORDER_DESCENDING)


def test_property_names_problems_and_ltids():
    names = (PropertyName(KIND_LID, PSETID_Appointment, lid=0x8205),
             PropertyName(KIND_NAME, PS_PUBLIC_STRINGS, name="Keywords"), PropertyName(0xFF, PS_PUBLIC_STRINGS))
    raw = roundtrip(GetPropertyIdsFromNamesRequest(0, 1, 0x02, names))
    assert b"K\x00e\x00y\x00" in raw and raw[raw.index(b"K\x00") - 1] == len("Keywords") * 2 + 2
    roundtrip(SetPropertiesResponse(0, 0, (PropertyProblem(0, 0x0037001F, 0x80040102),)))
    roundtrip(LongTermIdFromIdResponse(0, 0, LongTermId(uuid.uuid4(), 0x0000000000AB, 0)))


def test_streams_and_response_only_rops():
    roundtrip(ReadStreamRequest(0, 1, 0xBABE, 0x10000))
    assert roundtrip(ReadStreamRequest(0, 1, 100)).endswith(b"\x64\x00")
    roundtrip(ReadStreamResponse(1, 0x80040102, b""))  # DataSize is there on failure too
    roundtrip(ReadStreamResponse(1, 0, b"chunk"))
    roundtrip(BufferTooSmallResponse(0x2000, b"\x15\x00\x00\x00\x01\x32\x00"))
    roundtrip(BackoffResponse(1, 500, (BackoffRop(0x15, 200),), b"x"))
    roundtrip(PendingResponse(3))
    roundtrip(CreateMessageResponse(1, 0, 0x1234))
    roundtrip(CreateMessageResponse(1, 0, None))


def test_later_additions():
    from protocols.rops.folder import CopyFolderRequest, MoveCopyMessagesRequest
    from protocols.rops.logon import (
        RECEIVE_FOLDER_COLUMNS, GetPerUserLongTermIdsResponse, GetReceiveFolderTableResponse,
        ReadPerUserInformationRequest,
    )
    from protocols.rops.message import GetAddressTypesResponse
    from protocols.rops.property import GetPropertiesAllResponse, QueryNamedPropertiesRequest, QueryNamedPropertiesResponse
    from protocols.rops.table import ExpandRowResponse

    raw = roundtrip(CopyFolderRequest(0, 1, 2, 0, 1, 0, 0x0100000000000A01, "Copy"))
    assert raw.endswith(b"Copy\x00")  # UseUnicode 0: 8-bit name
    roundtrip(MoveCopyMessagesRequest(0, 1, 2, (1, 2, 3), 0, 1))
    roundtrip(QueryNamedPropertiesRequest(0, 1, 0, PS_PUBLIC_STRINGS))
    roundtrip(QueryNamedPropertiesRequest(0, 1, 0, None))
    roundtrip(QueryNamedPropertiesResponse(0, 0, (0x8001, 0x8002), (
        PropertyName(KIND_LID, PSETID_Appointment, lid=0x8205), PropertyName(KIND_NAME, PS_PUBLIC_STRINGS, name="Keywords"))))
    raw = roundtrip(GetAddressTypesResponse(0, 0, ("SMTP", "EX")))
    assert raw[6:10] == struct.pack("<HH", 2, 8)
    roundtrip(GetPropertiesAllResponse(0, 0, ((0x0037001F, "s"), (0x0E080003, 5), (0x0FF90102, b"\x01"))))
    when = datetime(2026, 1, 2, tzinfo=timezone.utc)
    rows = encode_rows([standard_row(0x0100000000000401, "IPM.Note", when)], RECEIVE_FOLDER_COLUMNS)
    rf = GetReceiveFolderTableResponse(0, 0, 1, rows)
    roundtrip(rf)
    roundtrip(GetPerUserLongTermIdsResponse(0, 0, (LongTermId(uuid.uuid4(), 5, 0),) * 2))
    roundtrip(ReadPerUserInformationRequest(0, 1, LongTermId(uuid.uuid4(), 9, 0), 0, 0, 4096))
    cols = (0x0037001F,)
    roundtrip(ExpandRowResponse(1, 0, 3, 1, encode_rows([standard_row("x")], cols)), RopContext(columns=cols))


# ---- rows ----

COLS = (0x0037001F, 0x0E080003, 0x0E060040, 0x0FF90102, 0x00000000)


def test_standard_and_flagged_rows():
    when = datetime(2026, 12, 5, 8, 30, tzinfo=timezone.utc)
    std = standard_row("Hi", 1234, when, b"\x01\x02", TypedValue(0x000B, True))
    raw = encode_row(std, COLS)
    assert raw[0] == 0 and raw[1:7] == "Hi".encode("utf-16-le") + b"\x00\x00"
    assert decode_row(raw, 0, COLS) == (std, len(raw))
    flagged = PropertyRow(ROW_FLAGGED, ("x", FlaggedValue(VALUE_ERROR, 0x8004010F), FlaggedValue(VALUE_MISSING),
                                        b"", TypedValue(0x0003, FlaggedValue(VALUE_MISSING))))
    raw = encode_row(flagged, COLS)
    assert decode_row(raw, 0, COLS) == (flagged, len(raw))
    rows = [std, flagged, std]
    data = encode_rows(rows, COLS)
    assert decode_rows(data, 3, COLS) == (rows, len(data))
    with pytest.raises(RopFormatError):
        encode_row(standard_row(FlaggedValue(VALUE_MISSING), 1, when, b"", TypedValue(3, 1)), COLS)


def test_query_rows_and_find_row_use_the_columns():
    cols = (0x0037001F, 0x0E080003)
    data = encode_rows([standard_row("a", 1), standard_row("b", 2)], cols)
    qr = QueryRowsResponse(1, 0, 2, 2, data)
    roundtrip(qr, RopContext(columns=cols))
    assert [r.values for r in qr.rows(cols)] == [("a", 1), ("b", 2)]
    fr = FindRowResponse(1, 0, 0, 1, encode_row(standard_row("a", 1), cols))
    roundtrip(fr, RopContext(columns=cols))
    # in a buffer, the columns come from the RopSetColumns request before it
    req = rops.table.SetColumnsRequest(0, 1, 0, cols)
    qreq = rops.table.QueryRowsRequest(0, 1, 0, 1, 10)
    out = encode_buffer([rops.table.SetColumnsResponse(1, 0, 0), qr, rops.table.GetStatusResponse(1, 0, 0)], [7])
    got = rops.decode_response_buffer(out, [req, qreq, rops.table.GetStatusRequest(0, 1)])
    assert got.rops[1] == qr and isinstance(got.rops[2], rops.table.GetStatusResponse)


def test_request_buffer_with_many_families():
    seq = [rops.logon.LogonRequest(0, 0, 1, 0x01000000, 0, "/o=x/cn=u"),
           rops.folder.OpenFolderRequest(0, 0, 1, 0x0400010000000001, 0),
           rops.folder.GetContentsTableRequest(0, 1, 2, 0),
           rops.table.SetColumnsRequest(0, 2, 0, COLS[:2]),
           rops.table.SortTableRequest(0, 2, 0, SortOrderSet((SortOrder(0x0E060040, 1),))),
           rops.table.QueryRowsRequest(0, 2, 0, 1, 50),
           rops.stream.OpenStreamRequest(0, 1, 3, 0x1000001F, 0),
           rops.stream.ReadStreamRequest(0, 3, 0xBABE, 1 << 20),
           rops.common.ReleaseRequest(0, 3)]
    raw = encode_buffer(seq, [0xFFFFFFFF] * 4)
    got = decode_request_buffer(raw)
    assert got.rops == seq and encode_buffer(got.rops, got.handles) == raw


def test_named_property_warning_keeps_the_answers():
    """ecWarnWithErrors (0x00040380) is a warning: the ids/names still follow (MS-OXCROPS 2.2.8.1.2)."""
    import uuid as _uuid
    from protocols.rops import property as _PR
    from protocols.rops._wire import Reader as _Reader
    ids = _PR.GetPropertyIdsFromNamesResponse(1, 0x00040380, (0x8001, 0))
    out = bytearray()
    ids.encode(out)
    assert bytes(out) == bytes.fromhex("56 01 80030400 0200 0180 0000".replace(" ", ""))
    assert _PR.GetPropertyIdsFromNamesResponse.decode(_Reader(bytes(out), 1)) == ids
    names = _PR.GetNamesFromPropertyIdsResponse(0, 0x00040380, (_PR.PropertyName(0xFF, _uuid.UUID(int=0)),))
    out = bytearray()
    names.encode(out)
    assert _PR.GetNamesFromPropertyIdsResponse.decode(_Reader(bytes(out), 1)) == names
    failed = bytearray()
    _PR.GetPropertyIdsFromNamesResponse(1, 0x80040102).encode(failed)
    assert len(failed) == 6                                   # a real error: no body
