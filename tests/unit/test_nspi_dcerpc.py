"""NSPI over DCE/RPC (protocols/rpch/nspicalls.py, NDR in protocols/rpch/ndr.py) on real stubs: impacket's NSPI
calls in captures/impacket-dcerpc-sealed.pcap (sealed; read with the password, protocols/rpch/unseal.py), each
request and answer decoded and encoded back to the same bytes, and shown by `exgate decode` with property
tags by name."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.replay.mapi import dcerpc_items, tcp_connections
from protocols.capture import read
from protocols.rpch import nspicalls
from protocols.rpch.ndr import NdrError
from protocols.rpch.unseal import password_lookup

ROOT = Path(__file__).resolve().parents[2]
PCAP = ROOT / "captures" / "impacket-dcerpc-sealed.pcap"


def _nspi_calls():
    cap = read(PCAP.name, PCAP.read_bytes())
    return [c for conn in tcp_connections(cap, password_lookup("p")) for c in conn.conv.calls
            if c.interface_name == "NSPI"]


def test_every_nspi_stub_round_trips():
    calls = _nspi_calls()
    assert [c.operation for c in calls] == [
        "NspiBind", "NspiGetSpecialTable", "NspiQueryRows", "NspiQueryRows", "NspiDNToMId", "NspiGetProps",
        "NspiGetPropList", "NspiQueryColumns", "NspiResolveNamesW", "NspiUpdateStat", "NspiSeekEntries",
        "NspiCompareMIds", "NspiGetTemplateInfo", "NspiGetNamesFromIDs", "NspiResolveNames", "NspiModLinkAtt",
        "NspiGetMatches", "NspiGetMatches", "NspiResortRestriction", "NspiGetIDsFromNames", "NspiModProps",
        "NspiUnbind"]
    layouts = {}
    for c in calls[1:]:
        q = nspicalls.decode_request(c.opnum, c.request_stub)
        r = nspicalls.decode_response(c.opnum, c.response_stub)
        assert q.encode() == c.request_stub and r.encode() == c.response_stub, c.operation
        layouts[c.operation] = q.layout
        assert r.layout == "IDL"
        # written again without what the wire kept (referent ids, 0xAB/0xBF padding): same length and values
        q2, r2 = type(q)(**q.params()), type(r)(**r.params())
        q2.layout = q.layout
        assert len(q2.encode()) == len(c.request_stub) and type(r).decode(r2.encode()).params() == r.params()
    # impacket passes GetSpecialTable's and GetProps' STAT by a unique pointer and SeekEntries' arrays inline
    assert {k for k, v in layouts.items() if v != "IDL"} == {"NspiGetSpecialTable", "NspiGetProps",
                                                             "NspiSeekEntries"}


def test_idl_layout_of_the_requests_impacket_marshals_otherwise():
    """The same parameters written as the IDL says (the form Outlook's bytes take) read back as the IDL's."""
    for c in _nspi_calls():
        if c.opnum not in nspicalls.ALT_REQUESTS:
            continue
        q = nspicalls.decode_request(c.opnum, c.request_stub)
        params = q.params()
        if "version" in params and params["version"] is None:
            params["version"] = 0                         # [in, out] DWORD* by reference: never NULL
        idl = type(q)(**params)                           # layout "IDL", fresh referent ids
        raw = idl.encode()
        back = nspicalls.decode_request(c.opnum, raw)
        assert back.layout == "IDL" and back.params() == params and back.encode() == raw
        assert len(raw) != len(c.request_stub)


def _first_of_each():
    by_op: dict = {}
    for c in _nspi_calls():
        by_op.setdefault(c.operation, c)
    return by_op


def test_fields_read():
    by_op = _first_of_each()
    st = nspicalls.decode_response(12, by_op["NspiGetSpecialTable"].response_stub)
    assert st.version == 7 and [r.values[0].value for r in st.rows.rows] == ["Global Address List", "All Users"]
    q = nspicalls.decode_request(3, by_op["NspiQueryRows"].request_stub)
    assert q.stat.container_id == 0x2F and q.count == 50 and q.etable is None
    assert q.prop_tags.tags == [0x3001001F, 0x39FE001F, 0x3A00001F, 0x0FFF0102, 0x0FFE0003]
    r = nspicalls.decode_response(3, by_op["NspiQueryRows"].response_stub)
    assert r.stat.total_recs == 2 and r.stat.code_page == 1252
    assert [[v.value for v in row.values][:3] for row in r.rows.rows] == [
        ["Recorder User", "u@example.test", "u"], ["Bob Example", "bob@example.test", "bob"]]
    assert r.rows.rows[1].values[3].value[-4:] == b"\x11\x00\x00\x00"     # the entry id's MId
    dn = nspicalls.decode_request(7, by_op["NspiDNToMId"].request_stub)
    assert dn.names == ["/o=EXAMPLE/ou=Exchange Administrative Group/cn=Recipients/cn=u"]
    assert nspicalls.decode_response(7, by_op["NspiDNToMId"].response_stub).out_mids.tags == [0x10]
    gp = nspicalls.decode_response(9, by_op["NspiGetProps"].response_stub)
    assert gp.return_value == 0x00040380 and gp.row.values[3].tag == 0x8C9E000A      # MAPI_W_ERRORS_RETURNED
    assert gp.row.values[3].value == 0x8004010F
    rn = nspicalls.decode_request(20, by_op["NspiResolveNamesW"].request_stub)
    assert rn.names == ["bob"] and rn.prop_tags.tags == [0x3001001F, 0x39FE001F]


def test_get_matches_restriction_and_property_name():
    """GetMatches as impacket's NDR engine marshals it (its nspi module has no client for it: declared in
    sealed_synth): an And/Or/Not tree of Content, Exist and Property restrictions, then a property name."""
    by_kind = [c for c in _nspi_calls() if c.operation == "NspiGetMatches"]
    q = nspicalls.decode_request(5, by_kind[0].request_stub)
    f = q.filter
    assert f.kind == "And" and [c.kind for c in f.children] == ["Content", "Or"]
    content, either = f.children
    assert content.fuzzy_level == 0x00010001 and content.prop.tag == 0x3001001F and content.prop.value == "Bo"
    assert [c.kind for c in either.children] == ["Exist", "Not"] and either.children[0].prop_tag == 0x39FE001F
    prop = either.children[1].child
    assert prop.kind == "Property" and prop.relop == 4 and prop.prop.value == "hidden"
    assert q.prop_name is None and q.requested == 50 and q.reserved is None
    assert q.wire.pads                                      # impacket's 0xEF/0xBF alignment bytes, kept
    q2 = nspicalls.decode_request(5, by_kind[1].request_stub)
    assert q2.filter is None and q2.prop_name == nspicalls.PropName(None, 0x8009) and q2.stat.current_rec == 0x11
    r = nspicalls.decode_response(5, by_kind[0].response_stub)
    assert r.out_mids.tags == [0x11] and r.rows.rows[0].values[0].value == "Bob Example"
    by_op = _first_of_each()
    ids = nspicalls.decode_request(18, by_op["NspiGetIDsFromNames"].request_stub)
    assert ids.count == 2 and ids.names == [nspicalls.PropName("00062004-0000-0000-0000-c00000000046", 0x8085), None]
    assert nspicalls.decode_response(18, by_op["NspiGetIDsFromNames"].response_stub).prop_tags.tags == [
        0x8580001F, 0x80000003]
    mod = nspicalls.decode_request(11, by_op["NspiModProps"].request_stub)
    assert mod.prop_tags.tags == [0x3001001F] and mod.row.values[0].value == "Recorder U. Ser"
    assert nspicalls.decode_response(11, by_op["NspiModProps"].response_stub).return_value == 0x80070005
    rr = [c for c in _nspi_calls() if c.operation == "NspiResortRestriction"][0]
    assert nspicalls.decode_request(6, rr.request_stub).in_mids.tags == [0x10, 0x11]
    assert nspicalls.decode_response(6, rr.response_stub).out_mids.tags == [0x11, 0x10]


def test_decode_shows_nspi_calls_by_name():
    cap = read(PCAP.name, PCAP.read_bytes())
    items: dict = {}
    for i in dcerpc_items(cap, password_lookup("p")):
        if i["kind"] == "dcerpc-call" and i["interface"] == "NSPI":
            items.setdefault(i["operation"], i)
    assert not cap.problems
    qr = items["NspiQueryRows"]
    assert qr["request"]["prop_tags"][0] == "PidTagDisplayName (0x3001001F)" and qr["return_value"] == "0x00000000"
    assert qr["response"]["rows"][1]["PidTagSmtpAddress (0x39FE001F)"] == "bob@example.test"
    assert items["NspiDNToMId"]["response"]["out_mids"] == [16]
    assert items["NspiGetProps"]["response"]["row"]["0x8C9E000A"] == "error 0x8004010F"
    assert items["NspiResolveNamesW"]["response"]["rows"] == [
        {"PidTagDisplayName (0x3001001F)": "Bob Example", "PidTagSmtpAddress (0x39FE001F)": "bob@example.test"}]
    assert all("stub_error" not in i for i in items.values())
    assert items["NspiGetMatches"]["request"]["filter"] == {"And": [
        {"Content": {"tag": "PidTagDisplayName (0x3001001F)", "fuzzy_level": "0x00010001", "value": "Bo"}},
        {"Or": [{"Exist": {"tag": "PidTagSmtpAddress (0x39FE001F)"}},
                {"Not": {"Property": {"tag": "PidTagAccount (0x3A00001F)", "relop": 4, "value": "hidden"}}}]}]}
    assert items["NspiGetMatches"]["response"]["out_mids"] == [17]


def test_fragmented_sealed_answer():
    """The second QueryRows asks for 200 rows; the answer (60 rows, 15,892 bytes) came in four fragments, each
    sealed and signed on its own: joined in clear they are one PropertyRowSet_r."""
    big = [c for c in _nspi_calls() if c.operation == "NspiQueryRows"][1]
    assert [p.flags for p in big.response] == [1, 0, 0, 2] and big.seal_note == "signatures verified"
    r = nspicalls.decode_response(3, big.response_stub)
    assert len(r.rows.rows) == 60 and r.rows.rows[59].values[1].value == "person059@example.test"
    assert r.encode() == big.response_stub


def test_bad_stubs_are_clear_errors():
    by_op = _first_of_each()
    stub = by_op["NspiQueryRows"].response_stub
    for cut in (3, 40, 100, len(stub) - 5):
        with pytest.raises(NdrError, match="ends at byte|count of|differs"):
            nspicalls.decode_response(3, stub[:cut])
    with pytest.raises(NdrError, match="left after the last parameter"):
        nspicalls.decode_request(16, by_op["NspiQueryColumns"].request_stub + b"\x00" * 4)
    with pytest.raises(NdrError, match="no codec for NSPI opnum 15"):
        nspicalls.decode_request(15, b"")                     # not an MS-OXNSPI call
    gm = [c for c in _nspi_calls() if c.operation == "NspiGetMatches"][0].request_stub
    with pytest.raises(NdrError, match="rt 0 but the union is switched on 7"):
        nspicalls.decode_request(5, gm[:76] + b"\x07" + gm[77:])   # the filter's union discriminant
    bad = bytearray(stub)
    bad[52:56] = b"\xff\xff\xff\x7f"            # the first row's cValues
    with pytest.raises(NdrError):
        nspicalls.decode_response(3, bytes(bad))


def test_impacket_exchanger_recording_stops_at_the_sealed_bind():
    """fixtures/rpch/impacket_exchanger_nspi.jsonl: the recorder could not seal, so the NSPI bind at level privacy
    (NEGOTIATE only, no CHALLENGE in its bind_ack) is the last PDU; decode says so, with the HTTP NTLM user."""
    from gateway.replay.decoding import decode_file
    dec = decode_file(ROOT / "fixtures" / "rpch" / "impacket_exchanger_nspi.jsonl")
    rpc = [i for i in dec.items if i.get("kind", "").startswith("rpch")]
    assert [i["pdu"] for i in rpc] == ["rts CONN/A1", "rts CONN/B1", "bind", "rts CONN/A3", "rts CONN/C2", "bind_ack"]
    bind = rpc[2]
    assert bind["contexts"][0]["interface"].startswith("NSPI f5cc5a18-4264-101a-8c59-08002b2f8426 v56.0")
    assert bind["auth"] == {"type": "NTLM", "level": "privacy", "token": "NTLMSSP NEGOTIATE (32 bytes)"}
    assert all(i["user"] == "EXAMPLE\\u" for i in rpc) and not dec.faults


def test_damaged_stubs_never_raise_anything_but_ndr_errors():
    """Every NSPI stub of the capture with bytes flipped, cut or added at random: read or refused with NdrError."""
    import random
    rnd = random.Random(14)
    for c in _nspi_calls()[1:]:
        for stub, decode in ((c.request_stub, nspicalls.decode_request), (c.response_stub, nspicalls.decode_response)):
            for _ in range(60):
                b = bytearray(stub)
                for _ in range(rnd.randint(1, 4)):
                    b[rnd.randrange(len(b))] = rnd.choice((0, 1, 0xFF, 0x7F, rnd.randrange(256)))
                if rnd.random() < 0.3:
                    b = b[:rnd.randrange(len(b) + 1)]
                try:
                    decode(c.opnum, bytes(b))
                except NdrError:
                    pass
