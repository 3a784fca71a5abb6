"""ROP buffers (MS-OXCROPS 2.2.1) on real bytes: every distinct Execute that ruler sent over
MAPI/HTTP (and the recorder's answers), two Outlook 2007 EcDoRpcExt2 buffers (LZ77), the
ROP examples printed in the specs; field checks, byte-exact re-encoding, unknown RopIds,
seeded fuzz."""
import json
import random
import struct
import uuid
from pathlib import Path

import pytest

from protocols import rops
from protocols.mapi.restrictions import (
    AndRestriction, BitMaskRestriction, ContentRestriction, PropertyRestriction,
)
from protocols.rops import (
    EC_NOT_SUPPORTED, RopErrorResponse, RopFormatError, UnknownRop, decode_request_buffer,
    decode_response_buffer, encode_buffer,
)
from protocols.rops._wire import Reader
from protocols.rops.folder import CreateFolderRequest, MoveFolderRequest, OpenFolderRequest
from protocols.rops.logon import LogonRequest, LogonResponse
from protocols.rops.rpc_ext import decode_ext_buffer
from protocols.rops.rows import decode_row

ROOT = Path(__file__).resolve().parents[2]
RULER = {v["id"]: v for v in json.loads((ROOT / "fixtures" / "rops" / "ruler_execute.json").read_text())["vectors"]}
SPEC = {v["id"]: v for v in json.loads((ROOT / "fixtures" / "specvectors" / "rop_examples_from_specs.json").read_text())}
OUTLOOK_DIR = ROOT / "captures" / "openchange-lzxpress"

PidTagDisplayName = 0x3001001F
PidTagMessageClass = 0x001A001F
PidTagSubject = 0x0037001F


def ruler_payloads(vid):
    v = RULER[vid]
    (req,) = decode_ext_buffer(bytes.fromhex(v["request_rop_buffer_hex"]))
    (resp,) = decode_ext_buffer(bytes.fromhex(v["response_rop_buffer_hex"]))
    assert req.header.flags == resp.header.flags == 0x0004  # Last only: ruler neither compresses nor XORs
    return req.payload, resp.payload


def outlook_payload(name):
    raw = (OUTLOOK_DIR / name).read_bytes()
    (cb_in,) = struct.unpack_from("<I", raw, 0x18)
    (piece,) = decode_ext_buffer(raw, 0x1C, 0x1C + cb_in)
    return piece.payload


def names(buf):
    return [rops.rop_name(r.rop_id) if isinstance(r, (UnknownRop, RopErrorResponse)) else rops.rop_name(r.ROP_ID)
            for r in buf.rops]


# ---- every ruler Execute: requests and answers decode and re-encode byte-exact ----

RESPONSE_NOT_SPEC = {
    # the recorder's RopCreateFolder answer leaves out IsExistingFolder (MS-OXCROPS 2.2.4.2.2), so
    # read by the spec its FolderId is followed by RopSetProperties' RopId taken as IsExistingFolder
    "mapi_basic_search-7",
}


@pytest.mark.parametrize("vid", sorted(RULER))
def test_ruler_round_trip(vid):
    req, resp = ruler_payloads(vid)
    rb = decode_request_buffer(req)
    assert encode_buffer(rb.rops, rb.handles) == req
    out = decode_response_buffer(resp, rb.rops)
    assert encode_buffer(out.rops, out.handles) == resp
    if vid not in RESPONSE_NOT_SPEC:
        assert not any(isinstance(r, UnknownRop) for r in out.rops)


def test_ruler_logon():
    req, resp = ruler_payloads("mapi_basic_abk-3")
    rb = decode_request_buffer(req)
    (logon,) = rb.rops
    assert isinstance(logon, LogonRequest)
    assert (logon.logon_id, logon.output_handle_index, logon.logon_flags) == (12, 0, 0x01)
    assert logon.open_flags == 0x0100000C and logon.store_state == 0
    assert logon.essdn == "/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=u"
    assert rb.handles == [0xFFFFFFFF]
    (ans,) = decode_response_buffer(resp, rb.rops).rops
    assert isinstance(ans, LogonResponse) and ans.ok and ans.private
    assert len(ans.folder_ids) == 13
    assert ans.folder("root") == 0x0000010000000001 and ans.folder("inbox") == 0x0400010000000001
    assert ans.folder("ipm_subtree") == ans.folder_ids[3]
    assert ans.mailbox_guid == uuid.UUID("11111111-2222-3333-4444-555555555555")
    assert ans.replica_id == 1 and ans.logon_time.year == 2024 and ans.logon_time.hour == 12
    assert decode_response_buffer(resp, rb.rops).handles == [0x0C000000]


def test_ruler_release_open_contents():
    req, resp = ruler_payloads("mapi_basic_check_last-5")
    rb = decode_request_buffer(req)
    assert names(rb) == ["RopRelease", "RopOpenFolder", "RopGetContentsTable"]
    rel, of, ct = rb.rops
    assert rel.input_handle_index == 1
    assert (of.input_handle_index, of.output_handle_index, of.folder_id) == (0, 1, 0x0600010000000001)
    assert (ct.input_handle_index, ct.output_handle_index, ct.table_flags) == (1, 2, 0x40)
    assert rb.handles == [0x0C000000, 0xFFFFFFFF, 0xFFFFFFFF]
    out = decode_response_buffer(resp, rb.rops)
    assert names(out) == ["RopOpenFolder", "RopGetContentsTable"]  # RopRelease has no response
    assert out.rops[0].handle_index == 1 and out.rops[0].has_rules == 0
    assert out.rops[1].row_count == 0
    assert out.handles == [0x0C000000, 0x0C000002, 0x0C000003]


def test_ruler_rules_table_rows():
    req, resp = ruler_payloads("mapi_basic_display-5")
    rb = decode_request_buffer(req)
    assert names(rb) == ["RopGetRulesTable", "RopSetColumns", "RopQueryRows"]
    cols = rb.rops[1].property_tags
    assert cols == (0x6682001F, 0x66740014)  # PidTagRuleName, PidTagRuleId
    assert (rb.rops[2].forward_read, rb.rops[2].row_count) == (1, 50)
    out = decode_response_buffer(resp, rb.rops)
    qr = out.rops[2]
    assert (qr.origin, qr.row_count) == (2, 1)
    (row,) = qr.rows(cols)
    assert row.values == ("RecorderRule", 0x0123456789ABCDEF)


def test_ruler_hierarchy_and_props():
    req, resp = ruler_payloads("mapi_basic_search-5")
    rb = decode_request_buffer(req)
    assert names(rb) == ["RopOpenFolder", "RopGetHierarchyTable"]
    assert decode_response_buffer(resp, rb.rops).rops[1].row_count == 1
    req, resp = ruler_payloads("mapi_basic_homepage_display-5")
    rb = decode_request_buffer(req)
    gps = rb.rops[1]
    assert gps.property_tags == (0x36DF0102,) and gps.want_unicode == 1  # PidTagFolderWebViewInfo
    ans = decode_response_buffer(resp, rb.rops).rops[1]
    assert ans.row(gps.property_tags).values == (b"\xde\xad\xbe\xef",)


def test_ruler_create_folder_and_set_properties():
    req, _ = ruler_payloads("mapi_basic_search-7")
    rb = decode_request_buffer(req)
    cf, sp = rb.rops
    assert isinstance(cf, CreateFolderRequest)
    assert (cf.folder_type, cf.use_unicode, cf.display_name, cf.comment) == (2, 1, "searcher", "some comment")
    assert sp.property_values == ((0x10F4000B, True),)  # PidTagAttributeHidden


def test_ruler_unknown_rop_keeps_the_rest():
    # ruler sent RopOpenFolder without its FolderId; read by the spec, the following
    # RopSetSearchCriteria bytes become the FolderId, then an OpenMessage, then RopId 0x74
    req, resp = ruler_payloads("mapi_basic_search-10")
    rb = decode_request_buffer(req)
    assert names(rb) == ["RopOpenFolder", "RopOpenMessage", "Rop0x74"]
    unk = rb.rops[2]
    assert isinstance(unk, UnknownRop) and unk.rop_id == 0x74 and unk.raw[0] == 0x74
    assert (unk.logon_id, unk.input_handle_index) == (0, 0)
    assert encode_buffer(rb.rops, rb.handles) == req
    out = decode_response_buffer(resp, rb.rops)
    assert isinstance(out.rops[2], RopErrorResponse)
    assert (out.rops[2].rop_id, out.rops[2].return_value) == (0x74, EC_NOT_SUPPORTED)
    # the server's answer for it: RopId, index, ecNotSupported
    built = encode_buffer([out.rops[0], RopErrorResponse(0x03, 1, EC_NOT_SUPPORTED),
                           RopErrorResponse(unk.rop_id, unk.input_handle_index, EC_NOT_SUPPORTED)], out.handles)
    assert built == resp


def test_unknown_rop_in_the_middle():
    buf = encode_buffer([OpenFolderRequest(1, 0, 1, 5, 0)], [1, 2])
    body = buf[2:-8] + bytes([0xEE, 1, 2, 3, 4]) + buf[2:-8]
    raw = struct.pack("<H", 2 + len(body)) + body + struct.pack("<2I", 1, 2)
    rb = decode_request_buffer(raw)
    assert isinstance(rb.rops[0], OpenFolderRequest) and isinstance(rb.rops[1], UnknownRop)
    assert rb.rops[1].raw.startswith(b"\xee\x01\x02") and len(rb.rops) == 2
    assert rb.handles == [1, 2] and encode_buffer(rb.rops, rb.handles) == raw


# ---- Outlook 2007 (OpenChange mapitest data), LZ77-decompressed ----

def test_outlook_modify_recipients_buffer():
    p = outlook_payload("001_Outlook_2007_in_ModifyRecipients_comp.dat")
    rb = decode_request_buffer(p)
    assert names(rb) == ["RopRemoveAllRecipients", "RopModifyRecipients", "RopSetProperties",
                         "RopSubmitMessage", "RopGetPropertiesSpecific"]
    mr = rb.rops[1]
    assert len(mr.recipient_columns) == 12 and mr.recipient_columns[0] == 0x0FFE0003  # PidTagObjectType
    assert len(mr.recipient_rows) >= 1 and mr.recipient_rows[0].row_id == 0
    assert rb.rops[2].property_values == ((0x003D001F, ""), (0x0E1D001F, "test"))
    assert rb.handles == [0x45]
    assert encode_buffer(rb.rops, rb.handles) == p


def test_outlook_tables_buffer():
    p = outlook_payload("002_Outlook_2007_in_Tables_operations_comp.dat")
    rb = decode_request_buffer(p)
    assert names(rb) == ["RopGetContentsTable", "RopSetColumns", "RopFindRow", "RopOpenFolder",
                         "RopOpenFolder", "RopRegisterNotification", "RopGetPropertiesSpecific"]
    assert rb.rops[0].table_flags == 0x02  # Associated
    assert len(rb.rops[1].property_tags) == 13
    fr = rb.rops[2]
    assert isinstance(fr.restriction, AndRestriction) and len(fr.restriction.children) == 5
    first, bm = fr.restriction.children[:2]
    assert isinstance(first, PropertyRestriction) and first.value == "IPM.Microsoft.FolderDesign.NamedView"
    assert isinstance(bm, BitMaskRestriction) and bm.mask == 1
    assert isinstance(fr.restriction.children[4], ContentRestriction)
    assert (fr.origin, fr.bookmark) == (0, b"")
    rn = rb.rops[5]
    assert rn.want_whole_store == 0 and rn.folder_id == rb.rops[4].folder_id
    assert rb.handles == [0x75, 0xFFFFFFFF, 0x71, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF]
    assert encode_buffer(rb.rops, rb.handles) == p


def test_findrow_matches_the_restriction_fixture():
    vec = next(v for v in json.loads((ROOT / "fixtures/mapi/restrictions/vectors.json").read_text())
               if v["id"] == "outlook2007-findrow-named-view")
    p = outlook_payload("002_Outlook_2007_in_Tables_operations_comp.dat")
    assert bytes.fromhex(vec["rop_hex"]) in p


# ---- ROP examples printed in the specs ----

def _spec(vid):
    v = SPEC[vid]
    raw = bytes.fromhex(v["hex"].replace(" ", ""))
    table = rops.REQUEST_CLASSES if v["direction"] == "request" else rops.RESPONSE_CLASSES
    cls = table[raw[0]]
    r = Reader(raw, 1)
    obj = cls.decode(r)
    assert r.off == len(raw)
    out = bytearray()
    obj.encode(out)
    assert bytes(out) == raw
    return obj


def test_spec_set_properties():
    sp = _spec("oxcprpt-setproperties-request")
    assert sp.property_values == ((0x003D001F, ""), (0x0E1D001F, "Hello World"))


def test_spec_query_rows_request():
    qr = _spec("oxctabl-4.5.3.1-queryrows-request")
    assert (qr.query_rows_flags, qr.forward_read, qr.row_count) == (0, 1, 0x32)


def test_spec_table_responses():
    st = _spec("oxctabl-4.3.2-sorttable-response")
    assert (st.handle_index, st.return_value, st.table_status) == (1, 0, 0)
    assert _spec("oxorule-4.2.2-getrulestable-response").ok
    assert _spec("oxorule-4.2.2-setcolumns-response").table_status == 0
    qr = _spec("oxorule-4.2.2-queryrows-response")
    assert (qr.origin, qr.row_count) == (2, 1) and qr.row_data[0] == 0x00  # standard row


def test_spec_move_folder():
    mf = _spec("oxcfold-4.5.1-movefolder-request")
    assert isinstance(mf, MoveFolderRequest)
    assert (mf.source_handle_index, mf.dest_handle_index, mf.want_asynchronous, mf.use_unicode) == (1, 2, 1, 1)
    assert mf.folder_id == struct.unpack("<Q", bytes.fromhex("0100 00000E8EDF36"))[0]
    assert mf.new_folder_name == "Folder1"


# ---- robustness ----

def _all_payloads():
    out = []
    for vid in sorted(RULER):
        req, resp = ruler_payloads(vid)
        out += [("req", req), ("resp", resp)]
    for f in sorted(OUTLOOK_DIR.glob("*.dat")):
        out.append(("req", outlook_payload(f.name)))
    return out


def test_seeded_fuzz_raises_only_the_declared_error():
    rnd = random.Random(5)
    for kind, p in _all_payloads():
        dec = decode_request_buffer if kind == "req" else decode_response_buffer
        for i in range(len(p)):
            try:
                dec(p[:i])
            except RopFormatError:
                pass
        for _ in range(300):
            junk = bytearray(p)
            for _ in range(rnd.randint(1, 4)):
                junk[rnd.randrange(len(junk))] = rnd.randrange(256)
            try:
                got = dec(bytes(junk))
            except RopFormatError:
                continue
            assert encode_buffer(got.rops, got.handles) is not None


def test_garbage_and_bad_sizes():
    for raw in (b"", b"\x01", b"\x01\x00", b"\x05\x00\x01", b"\x02\x00\x01\x02\x03", b"\x04\x00\x01\x0c"):
        with pytest.raises(RopFormatError):
            decode_request_buffer(raw)
    # RopSize 2, no ROPs, one handle: a valid empty buffer
    empty = decode_request_buffer(b"\x02\x00\xff\xff\xff\xff")
    assert empty.rops == [] and empty.handles == [0xFFFFFFFF]


def test_row_decoding_errors_are_declared():
    with pytest.raises(RopFormatError):
        decode_row(b"\x02", 0, (PidTagSubject,))
    with pytest.raises(RopFormatError):
        decode_row(b"\x00a\x00", 0, (PidTagSubject,))
