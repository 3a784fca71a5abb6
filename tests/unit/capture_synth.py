"""Builds the synthetic MAPI/HTTP captures in captures/ from ruler's recorded exchanges.

``python -m tests.unit.capture_synth`` writes ``captures/ruler-mapihttp.pcap`` (Ethernet, IPv4),
``captures/ruler-mapihttp.pcapng`` (Linux cooked v1 frames over IPv6) and ``captures/ruler-rpchttp.pcap``
(RPC over HTTP v2 channels, below); the tests check that the files in the repository are what this
makes (it is deterministic).

Each of ruler's eight recordings (fixtures/mapihttp/ruler_exchanges.json) becomes one keep-alive
connection: a SYN handshake, each request with Content-Length, each answer as Exchange sends it
(chunked: a ``PROCESSING`` chunk, then ``DONE``, the additional headers and the body, MS-OXCMAPIHTTP
2.2.7), cut into 200-byte segments with ACKs, then FIN. To exercise the reassembly, in the pcap one
server segment of the first connection arrives after the one that follows it and one client segment
of the third connection is sent twice (a retransmission); a connection's requests are cut into two
TCP segments at an odd place.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import struct
from pathlib import Path

from protocols.capture.pcap import Packet, write_pcap, write_pcapng

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "mapihttp" / "ruler_exchanges.json"
MSS = 200
T0 = 1_764_900_000.0          # 2025-12-05T01:20:00Z


def _ip4(src, dst, payload: bytes) -> bytes:
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, 6, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return hdr + payload


def _ip6(src, dst, payload: bytes) -> bytes:
    return struct.pack(">IHBB16s16s", 6 << 28, len(payload), 6, 64, ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + payload


def _tcp(sport, dport, seq, ack, flags, payload=b"") -> bytes:
    return struct.pack(">HHIIBBHHH", sport, dport, seq % 2 ** 32, ack % 2 ** 32, 5 << 4, flags, 65535, 0, 0) + payload


def _frame(v6: bool, src, dst, tcp: bytes) -> bytes:
    if v6:      # Linux cooked v1: packet type 4 (sent by us), ARPHRD_ETHER, address length 6
        return struct.pack(">HHH8sH", 4, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", 0x86DD) + _ip6(src, dst, tcp)
    return (b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00") + _ip4(src, dst, tcp)


def _request(ex: dict) -> bytes:
    body = base64.b64decode(ex["request_b64"])
    headers = [(k, v) for k, v in ex["headers"] if k.lower() not in ("connection", "content-length")]
    head = f"{ex['method']} {ex['path']} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


def _response(ex: dict) -> bytes:
    body = base64.b64decode(ex["response_b64"])
    rtype = dict((k.lower(), v) for k, v in ex["headers"]).get("x-requesttype", "")
    rid = dict((k.lower(), v) for k, v in ex["headers"]).get("x-requestid", "")
    head = ["HTTP/1.1 200 OK", "Content-Type: application/mapi-http", f"X-RequestType: {rtype}",
            f"X-RequestId: {rid}", "X-ResponseCode: 0", "X-PendingPeriod: 15000", "X-ServerApplication: Exchange/15.02.1118.030",
            "Transfer-Encoding: chunked"]
    head += [f"Set-Cookie: {c}" for c in ex.get("response_set_cookie") or []]
    inner = [b"PROCESSING\r\n",
             b"DONE\r\nX-ElapsedTime: 3\r\nX-StartTime: Fri, 05 Dec 2025 01:20:00 GMT\r\n\r\n" + body]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in inner) + b"0\r\n\r\n"
    return ("\r\n".join(head) + "\r\n\r\n").encode() + chunks


def _connection(n: int, exchanges: list[dict], v6: bool, t: float, *, swap: bool, duplicate: bool):
    """Packets of one connection: (time, linktype, frame) in the order they go into the file."""
    cli = (f"fd00::10", 50000 + n) if v6 else ("10.0.0.10", 50000 + n)
    srv = (f"fd00::1", 80) if v6 else ("10.0.0.1", 80)
    cseq, sseq = 1000 * n + 7, 4_294_960_000 + n           # the server's numbers wrap past 2**32
    out: list[tuple[float, bytes]] = []

    def send(frm, to, seq, ack, flags, payload=b""):
        nonlocal t
        t += 0.0005
        out.append((t, _frame(v6, frm[0], to[0], _tcp(frm[1], to[1], seq, ack, flags, payload))))

    send(cli, srv, cseq, 0, 0x02)
    send(srv, cli, sseq, cseq + 1, 0x12)
    cseq, sseq = cseq + 1, sseq + 1
    send(cli, srv, cseq, sseq, 0x10)
    for i, ex in enumerate(exchanges):
        req = _request(ex)
        cut = min(len(req) - 1, 301) if i % 2 else len(req)     # some requests in two segments
        for piece_no, piece in enumerate((req[:cut], req[cut:])):
            if not piece:
                continue
            send(cli, srv, cseq, sseq, 0x18, piece)
            if duplicate and i == 1 and piece_no == 0:
                send(cli, srv, cseq, sseq, 0x18, piece)          # the retransmission
            cseq += len(piece)
        send(srv, cli, sseq, cseq, 0x10)
        resp = _response(ex)
        segs = [resp[k:k + MSS] for k in range(0, len(resp), MSS)]
        start = len(out)
        for seg in segs:
            send(srv, cli, sseq, cseq, 0x18, seg)
            sseq += len(seg)
        if swap and i == 0 and len(segs) >= 2:                    # second segment before the first
            out[start], out[start + 1] = (out[start + 1][0] - 0.0005, out[start + 1][1]), (out[start][0] + 0.0005, out[start][1])
        send(cli, srv, cseq, sseq, 0x10)
    send(cli, srv, cseq, sseq, 0x11)
    send(srv, cli, sseq, cseq + 1, 0x11)
    send(cli, srv, cseq + 1, sseq + 1, 0x10)
    return out, t


def recordings() -> list[tuple[str, list[dict]]]:
    data = json.loads(FIXTURE.read_text())
    groups: dict[str, list[dict]] = {}
    for ex in data["exchanges"]:
        groups.setdefault(ex["recording"], []).append(ex)
    return list(groups.items())


def build(v6: bool = False) -> list[Packet]:
    frames: list[tuple[float, bytes]] = []
    t = T0
    for n, (_name, exs) in enumerate(recordings(), 1):
        pkts, t = _connection(n, exs, v6, t, swap=(n == 1 and not v6), duplicate=(n == 3 and not v6))
        frames.extend(pkts)
        t += 0.25
    lt = 113 if v6 else 1
    return [Packet(i, tm, lt, f, len(f)) for i, (tm, f) in enumerate(frames, 1)]


def pcap_bytes() -> bytes:
    return write_pcap(build(False))


def pcapng_bytes() -> bytes:
    return write_pcapng(build(True), application="exgate tests/unit/capture_synth.py")



# -- RPC over HTTP v2: ruler's recorded channels (fixtures/rpch/*.jsonl) --------------------------

RPCH_FIXTURES = ("rpc_basic_noencrypt_display.jsonl", "rpc_ntlm_noencrypt_check.jsonl", "rpc_basic_encrypt_check.jsonl")
RPC_OUT_ANSWER = (b"HTTP/1.1 200 Success\r\nContent-Type: application/rpc\r\nContent-Length: 1073741824\r\n\r\n")


def _stamp(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rpch_frames() -> list[tuple[float, bytes]]:
    """Each recording's IN channel (RPC_IN_DATA: CONN/B1, then the client's PDUs) and OUT channel
    (RPC_OUT_DATA with CONN/A1 as its body; the answer's body the server's PDUs) as two TCP connections,
    every piece sent at the time the recording gives it (the NTLM legs with an empty body left out)."""
    frames: list[tuple[float, bytes]] = []
    for r, name in enumerate(RPCH_FIXTURES):
        rows = [json.loads(x) for x in (ROOT / "fixtures" / "rpch" / name).read_text().splitlines() if x.strip()]
        conns: dict[str, dict] = {}
        for row in rows:
            t = _stamp(row["time"])
            if row["kind"] == "http" and row["method"] in ("RPC_IN_DATA", "RPC_OUT_DATA"):
                headers = [(k, v) for k, v in row["headers"]]
                if dict((k.lower(), v) for k, v in headers).get("content-length") == "0":
                    continue
                ch = "in" if row["method"] == "RPC_IN_DATA" else "out"
                port = 40000 + 10 * r + (0 if ch == "in" else 1)
                c = {"cli": ("10.0.0.20", port), "cseq": 5000 + port, "sseq": 9000 + port, "t": t}
                conns[ch] = c
                _send_tcp(frames, c, "syn", t)
                head = f"{row['method']} {row['path']} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
                _send_tcp(frames, c, "c", t, (head + "\r\n").encode("latin-1"))
            elif row["kind"] in ("rpc-in-pdu", "rpc-out-request-body"):
                _send_tcp(frames, conns["in" if row["kind"] == "rpc-in-pdu" else "out"], "c", t, bytes.fromhex(row["pdu_hex"]))
            elif row["kind"] == "rpc-out-pdu":
                c = conns["out"]
                if not c.get("answered"):
                    c["answered"] = True
                    _send_tcp(frames, c, "s", t, RPC_OUT_ANSWER)
                _send_tcp(frames, c, "s", t, bytes.fromhex(row["pdu_hex"]))
    frames.sort(key=lambda f: f[0])
    return frames


def _send_tcp(frames, c, what, t, payload=b""):
    cli, srv = c["cli"], ("10.0.0.1", 80)
    if what == "syn":
        frames.append((t, _frame(False, cli[0], srv[0], _tcp(cli[1], srv[1], c["cseq"], 0, 0x02))))
        frames.append((t + 1e-5, _frame(False, srv[0], cli[0], _tcp(srv[1], cli[1], c["sseq"], c["cseq"] + 1, 0x12))))
        c["cseq"] += 1
        c["sseq"] += 1
        return
    for k in range(0, len(payload), MSS):
        piece = payload[k:k + MSS]
        if what == "c":
            frames.append((t, _frame(False, cli[0], srv[0], _tcp(cli[1], srv[1], c["cseq"], c["sseq"], 0x18, piece))))
            c["cseq"] += len(piece)
        else:
            frames.append((t, _frame(False, srv[0], cli[0], _tcp(srv[1], cli[1], c["sseq"], c["cseq"], 0x18, piece))))
            c["sseq"] += len(piece)
        t += 1e-6


def rpch_pcap_bytes() -> bytes:
    return write_pcap([Packet(i, tm, 1, f, len(f)) for i, (tm, f) in enumerate(rpch_frames(), 1)])


# -- TLS: exchangelib's recorded EWS exchanges over TLS 1.3, with the client's key log -----------------

def make_tls_capture(workdir: Path) -> None:
    """Write captures/tls-exchangelib.pcapng and .keys (not deterministic: TLS picks fresh keys; run by
    hand, ``python -c "from tests.unit.capture_synth import make_tls_capture as m; from pathlib import Path;
    m(Path('/tmp/x'))"``): the first three answered exchanges of captures/clients/exchangelib carried between
    two in-memory SSL objects (ssl.MemoryBIO; the client writes the key log), the encrypted bytes framed
    into TCP segments of 1,200 bytes, with a SYN/SYN-ACK before them."""
    import ssl

    from gateway.http.tls import ensure_self_signed
    from gateway.replay.files import load
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = workdir
    cert, key = tmp / 'c.crt', tmp / 'c.key'
    ensure_self_signed(cert, key, ['mail.example.test'])
    keys = tmp / 'keys.log'
    if keys.exists(): keys.unlink()
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); sctx.load_cert_chain(cert, key)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); cctx.check_hostname = False; cctx.verify_mode = ssl.CERT_NONE
    cctx.keylog_filename = str(keys)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    cli = cctx.wrap_bio(c_in, c_out, server_hostname='mail.example.test')
    srv = sctx.wrap_bio(s_in, s_out, server_side=True)
    frames = []
    t = 1764900000.0
    C, S = ('10.0.0.20', 40443), ('10.0.0.1', 443)
    seq = {'c': 1000, 's': 5000}
    def send(who, data):
        nonlocal t
        for k in range(0, len(data), 1200):
            piece = data[k:k+1200]; t += 0.001
            if who == 'c':
                frames.append((t, _frame(False, C[0], S[0], _tcp(C[1], S[1], seq['c'], seq['s'], 0x18, piece)))); seq['c'] += len(piece)
            else:
                frames.append((t, _frame(False, S[0], C[0], _tcp(S[1], C[1], seq['s'], seq['c'], 0x18, piece)))); seq['s'] += len(piece)
    def pump():
        moved = True
        while moved:
            moved = False
            d = c_out.read()
            if d: send('c', d); s_in.write(d); moved = True
            d = s_out.read()
            if d: send('s', d); c_in.write(d); moved = True
    frames.append((t, _frame(False, C[0], S[0], _tcp(C[1], S[1], seq['c'], 0, 0x02)))); seq['c'] += 1
    frames.append((t, _frame(False, S[0], C[0], _tcp(S[1], C[1], seq['s'], seq['c'], 0x12)))); seq['s'] += 1
    for _ in range(10):
        for o in (cli, srv):
            try: o.do_handshake()
            except ssl.SSLWantReadError: pass
        pump()
    exs = [e for e in load(ROOT / 'captures' / 'clients' / 'exchangelib').exchanges if e.status == 200][:3]
    for e in exs:
        head = f"{e.method} {e.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in e.request_headers if k.lower() not in ('content-length', 'transfer-encoding')) + f"Content-Length: {len(e.request_body)}\r\n\r\n"
        cli.write(head.encode('latin-1') + e.request_body); pump()
        got = b''
        while True:
            try: got += srv.read(65536)
            except ssl.SSLWantReadError: break
        rhead = f"HTTP/1.1 {e.status} OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in e.response_headers if k.lower() not in ('content-length', 'transfer-encoding')) + f"Content-Length: {len(e.response_body)}\r\n\r\n"
        srv.write(rhead.encode('latin-1') + e.response_body); pump()
        try:
            while cli.read(65536): pass
        except ssl.SSLWantReadError: pass
    pkts = [Packet(i, tm, 1, fr, len(fr)) for i, (tm, fr) in enumerate(frames, 1)]
    (ROOT / 'captures' / 'tls-exchangelib.pcapng').write_bytes(write_pcapng(pkts, application='exgate (TLS 1.3 over memory BIOs)'))
    (ROOT / 'captures' / 'tls-exchangelib.keys').write_text(keys.read_text())


if __name__ == "__main__":
    (ROOT / "captures" / "ruler-mapihttp.pcap").write_bytes(pcap_bytes())
    (ROOT / "captures" / "ruler-mapihttp.pcapng").write_bytes(pcapng_bytes())
    (ROOT / "captures" / "ruler-rpchttp.pcap").write_bytes(rpch_pcap_bytes())
