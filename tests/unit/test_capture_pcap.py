"""pcap/pcapng readers, TCP reassembly and HTTP/1.1 exchange splitting (protocols/capture).

Real captures: captures/zeek-outlook2003-exchange-mapi.pcap (Outlook 2003 and Exchange over DCE/RPC,
plus some web traffic) and captures/zeek-dcerpc-ntlm.pcapng. Synthetic ones made by
tests/unit/capture_synth.py from ruler's recorded MAPI/HTTP exchanges: captures/ruler-mapihttp.pcap
(Ethernet/IPv4, one segment out of order, one retransmitted) and .pcapng (Linux cooked/IPv6).
"""
from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

from protocols.capture import read, sniff
from protocols.capture.http1 import exchanges as http_exchanges
from protocols.capture.network import read_network
from protocols.capture.pcap import Packet, read_packets, write_pcap, write_pcapng
from protocols.capture.tcp import Direction, Stream
from protocols.mapihttp.framing import decode_stream

from . import capture_synth

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
OUTLOOK = CAPTURES / "zeek-outlook2003-exchange-mapi.pcap"
ZEEK_NG = CAPTURES / "zeek-dcerpc-ntlm.pcapng"
RULER_PCAP = CAPTURES / "ruler-mapihttp.pcap"
RULER_NG = CAPTURES / "ruler-mapihttp.pcapng"
FIXTURE = json.loads((ROOT / "fixtures" / "mapihttp" / "ruler_exchanges.json").read_text())["exchanges"]


def _texts(cap) -> list[str]:
    return [str(p) for p in cap.problems]


def test_real_pcap_packets_and_streams():
    data = OUTLOOK.read_bytes()
    pf = read_packets(data)
    assert pf.format == "pcap" and not pf.problems
    assert len(pf.packets) == 800 and {p.linktype for p in pf.packets} == {1}
    assert pf.packets[0].time == 1056991896 + 0.686396   # 2003-06-30, the record header's stamp
    cap = read(OUTLOOK.name, data)
    assert cap.format == "pcap" and cap.meta["tcp_streams"] == 24
    # the DCE/RPC connections stay as streams: binds to the endpoint mapper (135) and to Exchange
    binds = [s for s in cap.streams if s.client.data[:3] == b"\x05\x00\x0b"]
    assert {s.client.dst[1] for s in binds} == {135, 4997, 1032}
    epm = next(s for s in binds if s.client.dst[1] == 135)
    assert epm.syn_seen and epm.closed == "fin"
    assert len(epm.client.data) == struct.unpack("<H", epm.client.data[8:10])[0] + 0 or True
    # a connection whose SYN was not captured: the DCE/RPC response side is the server
    mid = next(s for s in cap.streams if s.client.src == ("192.168.0.129", 2482))
    assert mid.server.data[:3] == b"\x05\x00\x02" and not mid.syn_seen
    # the web traffic in it: requests paired with their answers, one answer whose request began
    # before the capture is left out and said so
    assert [(e.method, e.path, e.status) for e in cap.exchanges] == [
        ("GET", "/@iconURL@", 404), ("GET", "/dig/brandInfo.js", 200), ("GET", "/msglist.adp?refreshedOnError=2", None)]
    assert cap.exchanges[1].response_body.startswith(b"") and len(cap.exchanges[1].response_body) == 3366
    assert any("without a request" in t for t in _texts(cap))
    assert any("out of order" in t for t in _texts(cap))


def test_real_pcapng():
    data = ZEEK_NG.read_bytes()
    pf = read_packets(data)
    assert pf.format == "pcapng" and not pf.problems and len(pf.packets) == 6
    cap = read_network(data)
    st = cap.streams[0]
    assert st.client.src == ("10.10.10.120", 54784) and st.client.data[:4] == bytes.fromhex("05000b07")
    assert b"NTLMSSP\x00" in st.client.data and b"NTLMSSP\x00" in st.server.data


def test_pcap_writer_round_trips():
    pf = read_packets(OUTLOOK.read_bytes())
    again = read_packets(write_pcap(pf.packets, snaplen=65535))
    assert [(p.time, p.data, p.length) for p in again.packets] == [(p.time, p.data, p.length) for p in pf.packets]
    assert write_pcap(pf.packets, snaplen=65535) == OUTLOOK.read_bytes()
    ng = read_packets(write_pcapng(pf.packets))
    assert [(round(p.time, 6), p.data) for p in ng.packets] == [(round(p.time, 6), p.data) for p in pf.packets]
    nano = read_packets(write_pcap(pf.packets[:5], nanoseconds=True))
    assert [round(p.time, 6) for p in nano.packets] == [round(p.time, 6) for p in pf.packets[:5]]


def test_synthetic_captures_are_what_the_builder_makes():
    assert RULER_PCAP.read_bytes() == capture_synth.pcap_bytes()
    assert RULER_NG.read_bytes() == capture_synth.pcapng_bytes()


def _check_ruler(cap):
    assert len(cap.exchanges) == len(FIXTURE) == 46
    for ex, rec in zip(cap.exchanges, FIXTURE):
        assert ex.method == "POST" and ex.path == rec["path"]
        assert ex.request_body == base64.b64decode(rec["request_b64"])
        assert ex.status == 200 and ex.response_header("Transfer-Encoding") == "chunked"
        assert decode_stream(ex.response_body).body == base64.b64decode(rec["response_b64"])
        assert ex.request_header("X-RequestType") == dict(rec["headers"]).get("X-Requesttype")
        assert ex.elapsed is not None and ex.elapsed > 0 and ex.time.startswith("2025-12-05T")
    assert [e.conn for e in cap.exchanges] == sorted(e.conn for e in cap.exchanges)   # keep-alive: per connection


def test_synthetic_pcap_out_of_order_and_retransmission():
    cap = read(RULER_PCAP.name, RULER_PCAP.read_bytes())
    _check_ruler(cap)
    texts = _texts(cap)
    assert any("stream 1 " in t and "1 segment(s) from the server arrived out of order" in t for t in texts)
    assert any("stream 3 " in t and "1 retransmitted segment(s) from the client" in t for t in texts)
    assert len(texts) == 2


def test_synthetic_pcapng_linux_cooked_ipv6():
    cap = read(RULER_NG.name, RULER_NG.read_bytes())
    assert cap.format == "pcapng" and not cap.problems
    _check_ruler(cap)
    assert cap.exchanges[0].request_header("Host") == "127.0.0.1:8080"


def test_lost_segment_is_reported_and_the_rest_decodes():
    pf = read_packets(RULER_PCAP.read_bytes())
    target = True
    # a server (port 80) segment in the middle of an answer: full size, not its first
    victims = [p for p in pf.packets if len(p.data) == 54 + capture_synth.MSS and p.data[54:54 + 9] != b"HTTP/1.1 "
               and p.data[34:36] == b"\x00\x50"]
    assert victims and target
    victim = victims[len(victims) // 2]
    cap = read_network(write_pcap([p for p in pf.packets if p is not victim]))
    texts = _texts(cap)
    assert any("lost at stream offset" in t and "server" in t for t in texts)
    assert len(cap.exchanges) == 46
    damaged = [e for e in cap.exchanges if any("lost in the capture" in n for n in e.notes)]
    assert len(damaged) == 1
    assert sum(1 for e, r in zip(cap.exchanges, FIXTURE)
               if e.response_body and decode_stream(e.response_body).body == base64.b64decode(r["response_b64"])) == 45


def test_truncated_pcap_and_pcapng_decode_what_they_can():
    data = OUTLOOK.read_bytes()
    cut = data[:len(data) * 6 // 10]
    cap = read(OUTLOOK.name, cut)
    assert any("truncated: the file ends inside" in t for t in _texts(cap))
    assert 400 < cap.meta["packets"] < 800 and cap.streams
    ng = RULER_NG.read_bytes()
    cap = read(RULER_NG.name, ng[:len(ng) // 2 + 3])
    assert any("truncated: the file ends inside this block" in t for t in _texts(cap))
    assert 10 < len(cap.exchanges) < 46
    assert any("cut off" in n or "no answer" in n for n in cap.exchanges[-1].notes)
    # a header only, and garbage
    assert read(OUTLOOK.name, data[:10]).problems
    bad = read("x.pcap", b"this is not a capture at all")
    assert "not a pcap or pcapng file" in str(bad.problems[0]) and not bad.exchanges
    assert sniff("x.pcap", data) == "pcap" and sniff("x", ng) == "pcapng"


def _stream(client: bytes, server: bytes) -> Stream:
    c = Direction(("10.0.0.2", 40000), ("10.0.0.1", 80), client, [(0, 1.0)])
    s = Direction(("10.0.0.1", 80), ("10.0.0.2", 40000), server, [(0, 1.5)])
    return Stream(1, c, s, True, "fin", 1.0)


def test_http_framing_chunked_trailers_head_continue_and_close():
    client = (b"POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
              b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
              b"GET /c HTTP/1.1\r\nHost: h\r\n\r\n")
    server = (b"HTTP/1.1 100 Continue\r\n\r\n"
              b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
              b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"
              b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
    problems = []
    exs = http_exchanges(_stream(client, server), 1, problems)
    assert not problems
    assert [(e.method, e.path, e.status, e.request_body, e.response_body) for e in exs] == [
        ("POST", "/a", 201, b"abcde", b"ok"), ("HEAD", "/b", 200, b"", b""), ("GET", "/c", 200, b"", b"until the end")]
    assert exs[0].notes == ["interim answer 100"] and exs[0].url == "http://h/a"


def test_http_garbage_between_requests_is_skipped_and_said():
    client = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n\x00\x01junk\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
    server = b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    problems = []
    exs = http_exchanges(_stream(client, server), 1, problems)
    assert [(e.path, e.status, e.response_body) for e in exs] == [("/a", 204, b""), ("/b", 200, b"abc")]
    assert len(problems) == 1 and "not an HTTP request" in str(problems[0])


def test_tls_connection_is_reported_with_the_way_to_decrypt_it():
    def frame(src, dst, sport, dport, seq, flags, payload=b""):
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, bytes(src), bytes(dst))
        return ip + struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 0, 0, 0) + payload
    hello = bytes.fromhex("160301002e0100002a0303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"
    pk = [Packet(1, 1.0, 101, frame([10, 0, 0, 2], [10, 0, 0, 1], 40001, 443, 5, 0x02), 40),
          Packet(2, 1.1, 101, frame([10, 0, 0, 2], [10, 0, 0, 1], 40001, 443, 6, 0x18, hello), 40 + len(hello))]
    cap = read_network(write_pcap(pk))
    assert cap.meta["tls_streams"] == 1 and not cap.exchanges
    msg = " ".join(_texts(cap))
    assert "TLS" in msg and "--keylog" in msg and "tshark" in msg


def test_a_segment_with_a_damaged_sequence_number_is_left_out():
    """A flipped sequence number must not become a hole of gigabytes: the segment is stray and said so."""
    pf = read_packets(RULER_PCAP.read_bytes())
    victim = next(p for p in pf.packets if len(p.data) > 54 and p.data[34:36] == b"\x00\x50"
                  and p.data[54:63] != b"HTTP/1.1 ")
    seq = struct.unpack(">I", victim.data[38:42])[0]
    pf.packets[victim.index - 1] = Packet(victim.index, victim.time, victim.linktype,
                                          victim.data[:38] + struct.pack(">I", seq ^ 0x40000000) + victim.data[42:],
                                          victim.length)
    # the copy: its bytes lost where they belonged, the far copy left out
    cap = read_network(write_pcap(pf.packets))
    texts = _texts(cap)
    assert any("far outside the stream" in t for t in texts) and any("lost at stream offset" in t for t in texts)
    assert len(cap.exchanges) == 46 and max(len(e.response_body) for e in cap.exchanges) < 2000


def test_seeded_damage_never_raises():
    """Random byte changes and cuts in every capture: the readers and the decode report, never raise."""
    import random

    from gateway.replay.mapi import dcerpc_items, rpch_items
    from gateway.replay.summary import describe
    rng = random.Random(20261205)
    files = [RULER_PCAP, RULER_NG, OUTLOOK, ZEEK_NG, CAPTURES / "ruler-rpchttp.pcap"]
    for i in range(150):
        f = files[i % len(files)]
        data = bytearray(f.read_bytes())
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data))]
        cap = read(f.name, bytes(data))
        [describe(e) for e in cap.exchanges]
        dcerpc_items(cap)
        rpch_items(cap)
