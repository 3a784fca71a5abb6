"""DCE/RPC calls carried as MAPI/HTTP requests for `exgate replay` (gateway/replay/rpcreplay.py, rpcnspi.py), the
NotificationWait rule (mapireplay.compare_wait), the held-stream test of the framing codec and ruler's RPC/HTTP
log reader, on the captures' real bytes."""
from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

from gateway.replay.files import load
from gateway.replay.mapi import rpch_connections, tcp_connections
from gateway.replay.mapireplay import compare_wait
from gateway.replay.rpcreplay import CARRIED, carried_call, carry
from gateway.replay import rpcnspi, rules
from protocols import mapihttp as M
from protocols.capture.rulerlog import looks_like_ruler_log, read_ruler_log
from protocols.mapihttp.framing import still_held
from protocols.nspi import codec as C
from protocols.rops import decode_ext_buffer
from protocols.rpch import emsmdb as E, nspicalls
from protocols.rpch.unseal import password_lookup

ROOT = Path(__file__).resolve().parents[2]


def _by_call(cap, conns):
    return {f"{c.name}, call {call.call_id}": call for c in conns for call in c.conv.calls}


def test_ruler_rpchttp_calls_become_mapihttp_requests():
    cap = load(ROOT / "captures/ruler-rpchttp.pcap")
    out = carry(cap)
    calls = _by_call(cap, rpch_connections(load(ROOT / "captures/ruler-rpchttp.pcap")))
    assert (out.calls, out.carried) == (9, 9)
    assert Counter(why for _ex, why in out.not_replayed) == {
        "an RPC/HTTP channel: its calls are " + CARRIED: 6,
        # the third session: ruler's recorder cannot seal, so a bind asking for it ends it
        "not replayed: a bind asking for sealing (NTLM at auth level privacy); no call follows it in the capture": 1}
    kinds = [(carried_call(ex), ex.request_header("X-RequestType")) for ex in out.exchanges]
    assert kinds == [("EcDoConnectEx", "Connect"), ("EcDoRpcExt2", "Execute"), ("EcDoRpcExt2", "Execute"),
                     ("EcDoRpcExt2", "Execute"), ("EcDoDisconnect", "Disconnect"), ("EcDoConnectEx", "Connect"),
                     ("EcDoRpcExt2", "Execute"), ("EcDoRpcExt2", "Execute"), ("EcDoDisconnect", "Disconnect")]
    for ex in out.exchanges:
        call = calls[ex.source]
        assert ex.path == "/mapi/emsmdb/" and ex.response_header("X-ResponseCode") == "0"
        if call.opnum == 10:
            q = E.decode_connect_request(call.request_stub)
            body = M.ConnectRequest.decode(ex.request_body)
            assert (body.user_dn, body.flags, body.default_code_page, body.lcid_sort, body.lcid_string) == \
                (q.user_dn, q.flags, q.code_page, q.lcid_sort, q.lcid_string)
            answer = M.ConnectResponse.decode(ex.response_body)
            assert (answer.error_code, answer.display_name) == (0, "Recorder User")
        elif call.opnum == 11:       # the same RPC_HEADER_EXT chains both ways
            q, r = E.decode_ecdorpcext2_request(call.request_stub), E.decode_ecdorpcext2_response(call.response_stub)
            body, answer = M.ExecuteRequest.decode(ex.request_body), M.ExecuteResponse.decode(ex.response_body)
            assert (body.flags, body.rop_buffer, body.max_rop_out) == (q.flags, q.rgb_in, q.cb_out)
            assert (answer.rop_buffer, answer.error_code) == (r.rgb_out, r.return_value)
        else:
            assert M.DisconnectResponse.decode(ex.response_body).error_code == 0


def test_outlook_2003_ecdorpc_is_wrapped_in_an_rpc_header_ext():
    cap = load(ROOT / "captures/zeek-outlook2003-exchange-mapi.pcap")
    out = carry(cap)
    calls = _by_call(cap, tcp_connections(load(ROOT / "captures/zeek-outlook2003-exchange-mapi.pcap")))
    assert (out.calls, out.carried) == (172, 6)
    executes = [ex for ex in out.exchanges if carried_call(ex) == "EcDoRpc"]
    assert len(executes) == 4
    for ex in executes:
        call = calls[ex.source]
        q, r = E.decode_ecdorpc_request(call.request_stub), E.decode_ecdorpc_response(call.response_stub)
        body, answer = M.ExecuteRequest.decode(ex.request_body), M.ExecuteResponse.decode(ex.response_body)
        (piece,) = decode_ext_buffer(body.rop_buffer)
        assert piece.payload == q.rop_buffer and piece.header.flags == 0x4       # Last only: no LZ77, no XOR
        assert body.max_rop_out == q.size + 8 and body.flags == 0x3
        assert decode_ext_buffer(answer.rop_buffer)[0].payload == r.rop_buffer
    reasons = Counter(why.split(" (")[0] for _ex, why in out.not_replayed)
    assert reasons["not replayed: its connection's bind and its session's start are not in the capture"] == 160
    assert reasons["not replayed: its answer is not in the capture"] == 1
    assert sum(reasons.values()) == 172 - 6


def test_sealed_calls_are_carried_with_the_capture_password_and_nspi_bodies_round_trip():
    path = ROOT / "captures/impacket-dcerpc-sealed.pcap"
    closed = carry(load(path))
    assert closed.carried < closed.calls
    assert all("--capture-password" in why for _ex, why in closed.not_replayed if "sealed" in why)
    opened = carry(load(path), password_for=password_lookup("p"))
    assert opened.carried > closed.carried
    nspi = [ex for ex in opened.exchanges if ex.path == "/mapi/nspi/"]
    assert {ex.request_header("X-RequestType") for ex in nspi} >= {"Bind", "QueryRows", "GetProps", "ResolveNames",
                                                                   "Unbind"}
    calls = _by_call(None, tcp_connections(load(path), password_lookup("p")))
    for ex in nspi:                  # what rpcnspi made is valid MAPI/HTTP: it decodes and encodes back
        rt = ex.request_header("X-RequestType")
        assert C.decode_request(rt, ex.request_body).encode() == ex.request_body
        assert C.decode_response(rt, ex.response_body).encode() == ex.response_body
        if rt in ("QueryRows", "ResolveNames"):     # the same rows, columns and names as the DCE/RPC call
            call = calls[ex.source]
            q, r = nspicalls.decode_request(call.opnum, call.request_stub), \
                nspicalls.decode_response(call.opnum, call.response_stub)
            body, answer = C.decode_request(rt, ex.request_body), C.decode_response(rt, ex.response_body)
            assert body.columns if rt == "QueryRows" else body.property_tags == tuple(q.prop_tags.tags)
            assert len(answer.rows.rows) == len(r.rows.rows)
            values = [v.value for row in r.rows.rows for v in row.values]
            assert [v.value for row in answer.rows.rows for v in row.values] == values
    # GetMatches' Restriction_r became the MS-OXCDATA restriction of its Filter, the same tree
    matches = [C.decode_request("GetMatches", ex.request_body) for ex in nspi
               if ex.request_header("X-RequestType") == "GetMatches"]
    assert any(m.filter is not None for m in matches)
    for ex in nspi:
        if ex.request_header("X-RequestType") == "GetMatches":
            q = nspicalls.decode_request(5, calls[ex.source].request_stub)
            assert _shape(C.decode_request("GetMatches", ex.request_body).filter) == _shape(q.filter)


def _shape(r):
    """A restriction tree as (kind, children...), whichever codec's objects hold it."""
    if r is None:
        return None
    kind = getattr(r, "kind", None) or type(r).__name__.replace("Restriction", "").lower()
    kids = getattr(r, "children", None) or ()
    child = getattr(r, "child", None) or getattr(r, "restriction", None)
    kind = {"compareprops": "compareproperties", "sub": "subobject"}.get(kind.lower(), kind.lower())
    return kind, tuple(_shape(k) for k in kids) + ((_shape(child),) if child is not None else ())


def test_an_error_value_makes_a_flagged_row():
    rs = nspicalls.RowSet([nspicalls.PropRow([nspicalls.PropValue(0x3001001F, "Bob"),
                                              nspicalls.PropValue(0x3003000A, 0x8004010F)])])
    out = rpcnspi._rowset(rs, (0x3001001F, 0x3003001F))
    assert out.rows[0].flags == 1
    assert [(v.ptype, v.value, v.flag) for v in out.rows[0].values] == [(0x1F, "Bob", 0), (0x1F, 0x8004010F, 0xA)]
    answer = C.QueryRowsResponse(state=C.Stat(), rows=out).encode()
    back = C.decode_response("QueryRows", answer)
    assert back.encode() == answer
    assert [(v.ptype, v.value, v.flag) for v in back.rows.rows[0].values] == [(0x1F, "Bob", 0), (0x1F, 0x8004010F, 0xA)]


def _held_stream() -> bytes:
    for line in (ROOT / "captures/sessions/mapi-nspi-demo.jsonl").read_text().splitlines():
        obj = json.loads(line)
        if dict(obj.get("request_headers") or []).get("X-RequestType") == "NotificationWait":
            return base64.b64decode(obj["response_body"])
    raise AssertionError("no NotificationWait")


def test_a_held_stream_and_the_notification_wait_rule():
    held = _held_stream()
    assert held == b"PROCESSING\r\nPENDING\r\n" and still_held(held)
    assert still_held(b"PROCESSING\r\nPEND") and not still_held(b"") and not still_held(b"DONE\r\n\r\n")
    answered = b"PROCESSING\r\nDONE\r\nX-ElapsedTime: 1\r\n\r\n"
    no_event = answered + M.NotificationWaitResponse(event_pending=False).encode()
    event = answered + M.NotificationWaitResponse(event_pending=True).encode()
    assert not still_held(no_event)
    for recorded, live in ((held, held), (held, no_event), (no_event, held), (b"", held)):
        r = compare_wait(recorded, live, 5)
        assert not r.differences and r.ignored == {rules.HELD_AS_RECORDED: 1}, (recorded, live)
    assert not compare_wait(event, event, 5).differences
    (d,) = compare_wait(event, held, 5).differences
    assert (d.path, d.recorded, d.live) == ("/NotificationWait/event_pending", "True", "held: no event within 5 s")
    (d,) = compare_wait(held, event, 5).differences
    assert d.path == "/NotificationWait/event_pending"
    (d,) = compare_wait(no_event, event, 5).differences
    assert (d.path, d.recorded, d.live) == ("/NotificationWait/event_pending", "False", "True")


def test_ruler_rpc_log_reader():
    data = (ROOT / "fixtures/rpch/rpc_ntlm_noencrypt_check.jsonl").read_bytes()
    assert looks_like_ruler_log(data)
    assert not looks_like_ruler_log((ROOT / "captures/sessions/mapi-nspi-demo.jsonl").read_bytes())
    cap = read_ruler_log(data)
    assert [(e.method, e.status) for e in cap.exchanges] == [
        ("GET", 401), ("POST", 200), ("RPC_IN_DATA", 401), ("RPC_IN_DATA", None), ("RPC_OUT_DATA", 401),
        ("RPC_OUT_DATA", 200)]
    rows = [json.loads(line) for line in data.decode().splitlines()]
    pdus = lambda kind: b"".join(bytes.fromhex(r["pdu_hex"]) for r in rows if r["kind"] == kind)   # noqa: E731
    assert cap.exchanges[3].request_body == pdus("rpc-in-pdu")
    assert cap.exchanges[5].request_body == pdus("rpc-out-request-body")
    assert cap.exchanges[5].response_body == pdus("rpc-out-pdu")
    assert cap.exchanges[2].response_header("WWW-Authenticate") == "NTLM <challenge>"
    damaged = read_ruler_log(data.decode().splitlines()[0] + "\n{not json\n"
                             + '{"kind": "rpc-in-pdu", "pdu_hex": "05"}\n')
    assert [p.what.split(" (")[0] for p in damaged.problems] == [
        "not JSON", "a PDU of the IN channel before that channel was opened; skipped"]


def test_recordings_without_headers_or_answers():
    """ruler's MAPI/HTTP fixture kept the answers' bodies without X-ResponseCode: the body's StatusCode 0 stands
    for it; its NSPI fixture kept requests only: they are sent, not compared (gateway/replay/rules.py)."""
    exchanges = load(ROOT / "fixtures/mapihttp/ruler_exchanges.json").exchanges
    assert all(ex.response_header("X-ResponseCode") is None for ex in exchanges)
    assert all(rules.status_code_of(ex.response_content) == "0" for ex in exchanges if ex.status == 200)
    framed = b"PROCESSING\r\nDONE\r\nX-ElapsedTime: 1\r\n\r\n" + exchanges[0].response_content
    assert rules.status_code_of(framed) == "0"
    assert rules.status_code_of(b"\x0f\x00\x00\x00\x00\x00\x00\x00") is None     # a failure body
    assert all(ex.status is None for ex in load(ROOT / "fixtures/nspi/ruler_nspi.json").exchanges)


def test_long_term_ids_are_paired_and_put_into_later_requests():
    """Outlook 2003's RopLongTermIdFromId answer: its LongTermId paired with the live server's (here the same
    answer with another database GUID), then a RopIdFromLongTermId naming the recorded one is sent with the
    live one."""
    import dataclasses
    import uuid as _uuid

    from gateway.replay.mapireplay import MapiIds, learn_and_compare, rewrite_execute
    from protocols.rops import decode_request_buffer, decode_response_buffer, encode_buffer, encode_ext_buffer
    from protocols.rops.logon import IdFromLongTermIdRequest

    out = carry(load(ROOT / "captures/zeek-outlook2003-exchange-mapi.pcap"))
    ex = next(ex for ex in out.exchanges if carried_call(ex) == "EcDoRpc" and
              b"\x43" == decode_ext_buffer(M.ExecuteRequest.decode(ex.request_body).rop_buffer)[0].payload[2:3])
    m = MapiIds()
    _body, asked = rewrite_execute(ex.request_body, m)
    recorded = M.ExecuteResponse.decode(ex.response_body)
    answer = decode_response_buffer(decode_ext_buffer(recorded.rop_buffer)[0].payload, asked[0].rops)
    rec_ltid = answer.rops[0].long_term_id
    live_ltid = dataclasses.replace(rec_ltid, database_guid=_uuid.UUID(int=7))
    live = dataclasses.replace(answer.rops[0], long_term_id=live_ltid)
    live_body = M.ExecuteResponse(encode_ext_buffer([encode_buffer([live], answer.handles)])).encode()
    result = learn_and_compare(ex.response_body, live_body, asked, m)
    assert not result.differences and result.ignored["server-chosen key"] == 1
    later = M.ExecuteRequest(3, encode_ext_buffer([encode_buffer([IdFromLongTermIdRequest(0, 0, rec_ltid)],
                                                                 [0x11])]), 0x8000).encode()
    sent, _ = rewrite_execute(later, m)
    (rop,) = decode_request_buffer(decode_ext_buffer(M.ExecuteRequest.decode(sent).rop_buffer)[0].payload).rops
    assert rop.long_term_id == live_ltid


def test_an_address_book_container_id_is_paired_and_put_into_later_stats():
    """GetSpecialTable names each container's MId (PidTagAddressBookContainerId); a later STAT's ContainerID
    is the live server's for it (the demo session's answer, with another id on the recorded side)."""
    import dataclasses

    from gateway.replay.nspireplay import NspiIds, learn_and_compare, rewrite

    ex = next(ex for ex in load(ROOT / SESSION).exchanges if ex.request_header("X-RequestType") == "GetSpecialTable")
    body = M.decode_stream(ex.response_content).body
    live = C.decode_response("GetSpecialTable", body)
    ids = [t.value.value for row in live.rows for t in row if t.tag >> 16 == 0xFFFD]
    assert ids and any(i >= 0x10 for i in ids), ids            # the GAL is 0; the other containers are MIds
    recorded = dataclasses.replace(live, rows=tuple(
        tuple(dataclasses.replace(t, value=dataclasses.replace(t.value, value=t.value.value + 1000))
              if t.tag >> 16 == 0xFFFD and t.value.value >= 0x10 else t for t in row) for row in live.rows))
    m = NspiIds()
    result = learn_and_compare("GetSpecialTable", recorded.encode(), body, m)
    assert not result.differences, result.differences
    container = next(i for i in ids if i >= 0x10)
    asked = C.QueryRowsRequest(flags=0, state=C.Stat(container_id=container + 1000), explicit_table=(), row_count=5,
                               columns=(0x3001001F,)).encode()
    assert C.decode_request("QueryRows", rewrite("QueryRows", asked, m)).state.container_id == container


SESSION = "captures/sessions/mapi-nspi-demo.jsonl"
