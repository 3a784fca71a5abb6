"""DCE/RPC connection-oriented PDUs (protocols/rpch/dcerpc.py) and the EMSMDB stubs that carry ROPs
(protocols/rpch/emsmdb.py), on the real captures in captures/ (Zeek's Outlook 2003 <-> Exchange
session over ncacn_ip_tcp and its DCOM bind with SPNEGO; OpenChange's Outlook 2007 EcDoRpcExt2 stubs)."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from protocols.capture import read
from protocols.rops import decode_ext_buffer, decode_request_buffer, decode_response_buffer, encode_buffer
from protocols.rpch import emsmdb
from protocols.rpch.dcerpc import (
    ContextElem, DceRpcError, Pdu, SecTrailer, Syntax, converse, decode_pdu, encode_pdu, split_pdus,
)

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
OUTLOOK = CAPTURES / "zeek-outlook2003-exchange-mapi.pcap"
ZEEK_NG = CAPTURES / "zeek-dcerpc-ntlm.pcapng"
EMSMDB = "a4f1db00-ca47-1067-b31f-00dd010662da"
NSPI = "f5cc5a18-4264-101a-8c59-08002b2f8426"
NDR = "8a885d04-1ceb-11c9-9fe8-08002b104860"


def _rpc_streams(path):
    cap = read(path.name, path.read_bytes())
    return [s for s in cap.streams if s.client.data[:1] == b"\x05" or s.server.data[:1] == b"\x05"]


def test_every_pdu_in_the_captures_round_trips():
    n = 0
    for path in (OUTLOOK, ZEEK_NG):
        for st in _rpc_streams(path):
            for data in (st.client.data, st.server.data):
                for cut in split_pdus(data):
                    assert cut.pdu is not None, cut.error
                    assert encode_pdu(cut.pdu) == cut.raw
                    n += 1
    assert n == 367


def _stream_to(port, streams):
    return [s for s in streams if s.client.dst[1] == port]


def test_outlook_2003_binds_interfaces_and_operations():
    streams = _rpc_streams(OUTLOOK)
    emsmdb_conn = next(s for s in _stream_to(1032, streams) if s.syn_seen)
    conv = converse(emsmdb_conn.client.data, emsmdb_conn.server.data)
    assert conv.contexts == {0: EMSMDB} and not conv.problems
    bind = conv.events[0][2]
    assert bind.name == "bind" and str(bind.contexts[0].abstract) == f"EMSMDB {EMSMDB} v0.81"
    assert [str(t) for t in bind.contexts[0].transfer] == [f"NDR {NDR} v2.0"]
    assert bind.auth.type_name == "NTLM" and bind.auth.value.startswith(b"NTLMSSP\x00\x01")
    assert [c.operation for c in conv.calls[:3]] == ["EcDoConnect", "EcDoRpc", "EcDoRpc"]
    assert [c.operation for c in conv.calls[5:]] == ["EcRRegisterPushNotification", "EcDoRpc"]
    assert all(c.interface_name == "EMSMDB" and c.protection == "plain" for c in conv.calls)
    assert [bool(c.response) for c in conv.calls] == [True] * 6 + [False]     # the capture ends before the last answer
    assert conv.calls[1].request[0].auth.level_name == "connect"
    nspi_ops = [c.operation for s in _stream_to(4997, streams) for c in converse(s.client.data, s.server.data).calls]
    assert nspi_ops == ["NspiBind", "NspiBind"]
    epm = [c.operation for s in _stream_to(135, streams) for c in converse(s.client.data, s.server.data).calls]
    assert sorted(epm) == ["ept_lookup", "ept_map", "ept_map"]
    # a connection whose bind was before the capture: the context is unknown unless guessed
    mid = next(s for s in streams if s.client.src == ("192.168.0.129", 2482))
    conv = converse(mid.client.data, mid.server.data)
    assert conv.calls[0].interface is None and conv.calls[0].operation == "opnum 2"
    assert any("whose request is not in the capture" in p for p in conv.problems)
    guessed = converse(mid.client.data, mid.server.data, known_contexts={0: EMSMDB})
    assert guessed.calls[0].operation == "EcDoRpc" and guessed.calls[0].interface_guessed


def test_dcom_bind_with_spnego_and_feature_negotiation():
    st = _rpc_streams(ZEEK_NG)[0]
    conv = converse(st.client.data, st.server.data)
    names = [(who, p.name) for who, _o, p in conv.events]
    assert names == [("client", "bind"), ("client", "alter_context"), ("client", "alter_context"),
                     ("server", "bind_ack"), ("server", "alter_context_resp")]
    bind, ack = conv.events[0][2], conv.events[3][2]
    assert [syn.version for syn in (bind.contexts[1].transfer[0],)] == [1]
    assert "bind time feature negotiation" in str(bind.contexts[2].transfer[0])
    assert bind.auth.type_name == "negotiate (SPNEGO)" and bind.auth.level_name == "integrity"
    assert ack.sec_addr == b"58772\x00" and [r.result for r in ack.results] == [0, 2, 3]
    assert conv.contexts == {0: "00000143-0000-0000-c000-000000000046"}


def test_encrypted_and_signed_stubs_are_said_so_and_fragments_join():
    def req(call, flags, stub, level):
        return Pdu(0, flags, b"\x10\x00\x00\x00", call, alloc_hint=len(stub), context_id=0, opnum=11, stub=stub,
                   auth_pad=bytes(-len(stub) % 4), auth=SecTrailer(10, level, -len(stub) % 4, 0, 1, bytes(16)))
    bind = Pdu(11, 3, b"\x10\x00\x00\x00", 1, max_xmit=5840, max_recv=5840,
               contexts=[ContextElem(0, Syntax(EMSMDB, 0x510000), [Syntax(NDR, 2)])])
    ack = Pdu(12, 3, b"\x10\x00\x00\x00", 1, max_xmit=5840, max_recv=5840, sec_addr=b"1032\x00",
              results=[__import__("protocols.rpch.dcerpc", fromlist=["Result"]).Result(0, 0, Syntax(NDR, 2))])
    client = encode_pdu(bind) + encode_pdu(req(2, 1, b"first-", 6)) + encode_pdu(req(2, 2, b"second", 6)) \
        + encode_pdu(req(3, 3, b"plain-signed", 5))
    server = encode_pdu(ack)
    conv = converse(client, server)
    assert [c.operation for c in conv.calls] == ["EcDoRpcExt2", "EcDoRpcExt2"]
    assert conv.calls[0].request_stub == b"first-second" and conv.calls[0].protection == "encrypted"
    assert conv.calls[1].protection == "signed" and not conv.calls[1].response
    for cut in split_pdus(client + server):
        assert encode_pdu(cut.pdu) == cut.raw
    # big-endian data representation
    be = Pdu(0, 3, b"\x00\x00\x00\x00", 7, alloc_hint=3, opnum=2, stub=b"abc")
    raw = encode_pdu(be)
    assert raw[8:10] == struct.pack(">H", len(raw)) and decode_pdu(raw).opnum == 2 and encode_pdu(decode_pdu(raw)) == raw


def test_damaged_pdus_are_reported_not_raised():
    st = next(s for s in _rpc_streams(OUTLOOK) if s.syn_seen and s.client.dst[1] == 1032)
    data = st.client.data
    cuts = split_pdus(data[:len(data) - 10])
    assert cuts[-1].pdu is None and cuts[-1].error.startswith("PDU cut off:")
    assert all(c.pdu for c in cuts[:-1])
    garbage = split_pdus(b"\x05\x00\x00\x03\x10\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00")
    assert garbage[0].error and "not a DCE/RPC PDU header" in garbage[0].error
    with pytest.raises(DceRpcError):
        decode_pdu(b"\x04" + bytes(20))
    with pytest.raises(DceRpcError):
        decode_pdu(data[:12])
    conv = converse(data[:len(data) - 10], st.server.data)
    assert any("cut off" in p for p in conv.problems) and conv.calls


def test_legacy_ecdorpc_stubs_to_rops():
    """Outlook 2003's EcDoRpc: the XOR'd ROP buffers decode, stubs round-trip, answers pair with requests."""
    streams = _rpc_streams(OUTLOOK)
    conn = next(s for s in _stream_to(1032, streams) if s.syn_seen)
    conv = converse(conn.client.data, conn.server.data)
    connect = conv.calls[0]
    q = emsmdb.decode_connect_request(connect.request_stub)
    assert q.user_dn == "/o=SolutionsIQ/ou=CNAMIS/cn=Recipients/cn=ALEONARD" and q.code_page == 1252
    r = emsmdb.decode_connect_response(connect.response_stub)
    assert r.display_name == "Allison Leonard" and r.dn_prefix.startswith("/O=SOLUTIONSIQ") and r.return_value == 0
    first = conv.calls[1]
    req = emsmdb.decode_ecdorpc_request(first.request_stub)
    assert req.obfuscated and emsmdb.encode_ecdorpc_request(req) == first.request_stub
    rops = decode_request_buffer(req.rop_buffer)
    assert type(rops.rops[0]).__name__ == "LogonRequest" and rops.handles == [0xFFFFFFFF]
    assert encode_buffer(rops.rops, rops.handles) == req.rop_buffer
    resp = emsmdb.decode_ecdorpc_response(first.response_stub)
    answer = decode_response_buffer(resp.rop_buffer, rops.rops)
    assert type(answer.rops[0]).__name__ == "LogonResponse" and resp.return_value == 0
    # across the whole capture: every EcDoRpc stub reads and round-trips
    n = 0
    for st in streams:
        for call in converse(st.client.data, st.server.data, known_contexts={0: EMSMDB}).calls:
            if call.interface == EMSMDB and call.opnum == 2:
                q = emsmdb.decode_ecdorpc_request(call.request_stub)
                assert emsmdb.encode_ecdorpc_request(q) == call.request_stub
                if call.response:
                    emsmdb.decode_ecdorpc_response(call.response_stub)
                n += 1
    assert n == 165


@pytest.mark.parametrize("name,size", [("001_Outlook_2007_in_ModifyRecipients_comp.dat", 459),
                                       ("002_Outlook_2007_in_Tables_operations_comp.dat", 380)])
def test_ecdorpcext2_request_stub(name, size):
    raw = (CAPTURES / "openchange-lzxpress" / name).read_bytes()
    r = emsmdb.decode_ecdorpcext2_request(raw)
    assert emsmdb.encode_ecdorpcext2_request(r) == raw
    assert r.cb_out == 0x8007 and len(r.aux_in) == 48
    pieces = decode_ext_buffer(r.rgb_in)
    assert [len(p.payload) for p in pieces] == [size]
    assert decode_request_buffer(pieces[0].payload).rops


def test_outlook_2003_nspibind_stubs_round_trip():
    """Both NspiBind calls of the Outlook 2003 session: request and answer stubs decode and encode back."""
    from protocols.rpch import nspi as rpc_nspi
    streams = _rpc_streams(OUTLOOK)
    calls = [c for s in _stream_to(4997, streams) for c in converse(s.client.data, s.server.data).calls]
    assert [c.operation for c in calls] == ["NspiBind", "NspiBind"]
    codes = []
    for call in calls:
        q = rpc_nspi.decode_bind_request(call.request_stub)
        assert rpc_nspi.encode_bind_request(q) == call.request_stub
        assert q.stat["code_page"] == 1252
        r = rpc_nspi.decode_bind_response(call.response_stub)
        assert rpc_nspi.encode_bind_response(r) == call.response_stub
        codes.append(r.return_value)
    assert codes == [0x80040111, 0]          # the first sign-in fails (MAPI_E_LOGON_FAILED), the second binds
