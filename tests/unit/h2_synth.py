"""Builds the HTTP/2 captures in captures/ with real HTTP/2 implementations (issue 14).

Two ``h2`` (python-hyper) connections, a client and a server, talk in memory: the client sends the
first three answered EWS requests of captures/clients/exchangelib and the MAPI/HTTP session of ruler's
``mapi_basic_check`` recording (Connect, two Execute, Disconnect; fixtures/mapihttp/ruler_exchanges.json),
the server answers each with its recorded answer (MAPI/HTTP bodies with the PROCESSING/DONE framing,
as Exchange sends them). One request body is sent in a padded DATA frame; the server's first answer
carries a 30,000-byte header, so its header block goes out as HEADERS plus CONTINUATION. The bytes
each side wrote, in the order they were written, are framed into TCP segments (capture_synth's
framing):

- ``h2c_bytes()``: cleartext h2c with prior knowledge (deterministic);
- ``make_tls_capture(workdir)``: the same over TLS 1.3 with ALPN h2 between two in-memory SSL objects,
  the client writing the key log (fresh keys each time: run by hand);
- ``curl_capture()``: curl (libcurl with nghttp2) as the client, POSTing three EWS requests, one
  connection each, to a small h2 server on 127.0.0.1 that records the bytes of its socket: two with
  ``--http2-prior-knowledge``, one with ``--http2`` (HTTP/1.1 ``Upgrade: h2c``, then HTTP/2).

``python -m tests.unit.h2_synth`` writes all three into captures/.
"""
from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings

from protocols.capture.pcap import Packet, write_pcapng
from tests.unit.capture_synth import _frame, _tcp

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_764_910_000.0
AUTHORITY = "mail.example.test"
BIG_HEADER = ("X-BackEndCookie", "".join(f"{i:05d}" for i in range(6000)))    # 30,000 bytes: CONTINUATION
SEGMENT = 1200


def messages() -> list[tuple[str, str, list[tuple[str, str]], bytes, int, list[tuple[str, str]], bytes]]:
    """(method, path, request headers, body, status, response headers, response body) to carry."""
    from gateway.replay.files import load
    out = []
    for e in [e for e in load(ROOT / "captures" / "clients" / "exchangelib").exchanges if e.status == 200][:3]:
        out.append((e.method, e.path, [(k, v) for k, v in e.request_headers if k.lower() not in _HOP],
                    e.request_body, e.status, [(k, v) for k, v in e.response_headers if k.lower() not in _HOP],
                    e.response_body))
    data = json.loads((ROOT / "fixtures" / "mapihttp" / "ruler_exchanges.json").read_text())
    for ex in [x for x in data["exchanges"] if x["recording"] == "mapi_basic_check.jsonl"]:
        h = {k.lower(): v for k, v in ex["headers"]}
        body = base64.b64decode(ex["response_b64"])
        framed = (b"PROCESSING\r\nDONE\r\nX-ElapsedTime: 3\r\nX-StartTime: Fri, 05 Dec 2025 01:20:00 GMT\r\n\r\n"
                  + body)
        resp = [("content-type", "application/mapi-http"), ("x-requesttype", h.get("x-requesttype", "")),
                ("x-requestid", h.get("x-requestid", "")), ("x-responsecode", "0"),
                ("x-serverapplication", "Exchange/15.02.1118.030")]
        resp += [("set-cookie", c) for c in ex.get("response_set_cookie") or []]
        out.append((ex["method"], ex["path"], [(k, v) for k, v in ex["headers"] if k.lower() not in _HOP],
                    base64.b64decode(ex["request_b64"]), ex["response_status"], resp, framed))
    return out


# connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2), and what HTTP/2 frames itself
_HOP = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "content-length")


def _lower(headers):
    return [(k.lower(), v) for k, v in headers]


def converse(msgs, *, big_header: bool = True, pad_request: int | None = 1) -> list[tuple[str, bytes]]:
    """The bytes each side wrote, in order, as ('c' | 's', bytes): h2 client and h2 server in memory."""
    cli = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    srv = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    wire: list[tuple[str, bytes]] = []

    def pump():
        moved = True
        while moved:
            moved = False
            for who, a, b in (("c", cli, srv), ("s", srv, cli)):
                d = a.data_to_send()
                if d:
                    wire.append((who, d))
                    for ev in b.receive_data(d):
                        if isinstance(ev, h2.events.DataReceived):
                            b.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    moved = True

    cli.initiate_connection()
    srv.initiate_connection()
    pump()
    for n, (method, path, qh, qbody, status, rh, rbody) in enumerate(msgs):
        sid = cli.get_next_available_stream_id()
        cli.send_headers(sid, [(":method", method), (":scheme", "https"), (":authority", AUTHORITY),
                               (":path", path)] + _lower(qh) + [("content-length", str(len(qbody)))],
                         end_stream=not qbody)
        _send_body(cli, sid, qbody, pump, pad=pad_request if n == 1 else None)
        extra = [BIG_HEADER] if big_header and n == 0 else []
        srv.send_headers(sid, [(":status", str(status))] + _lower(rh) + _lower(extra)
                         + [("content-length", str(len(rbody)))], end_stream=not rbody)
        _send_body(srv, sid, rbody, pump)
    return wire


def _send_body(conn, sid, body: bytes, pump, pad: int | None = None) -> None:
    off = 0
    while off < len(body):
        room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size - (pad or 0) - 1)
        piece = body[off:off + room]
        off += len(piece)
        conn.send_data(sid, piece, end_stream=off >= len(body), pad_length=pad)
        pump()
    pump()


def frames_of(wire, *, client=("10.0.0.20", 40080), server=("10.0.0.1", 80), t0: float = T0,
              handshake: bool = True) -> list[Packet]:
    """The conversation as Ethernet/IPv4/TCP frames: SYN, SYN-ACK, ACK, then each write in segments."""
    C, S = client, server
    seq = {"c": 1000, "s": 5000}
    frames: list[tuple[float, bytes]] = []
    t = t0

    def add(frm, to, s, a, flags, payload=b""):
        nonlocal t
        t += 0.0005
        frames.append((t, _frame(False, frm[0], to[0], _tcp(frm[1], to[1], s, a, flags, payload))))

    if handshake:
        add(C, S, seq["c"], 0, 0x02)
        add(S, C, seq["s"], seq["c"] + 1, 0x12)
        seq["c"] += 1
        seq["s"] += 1
        add(C, S, seq["c"], seq["s"], 0x10)
    for who, data in wire:
        for k in range(0, len(data), SEGMENT):
            piece = data[k:k + SEGMENT]
            if who == "c":
                add(C, S, seq["c"], seq["s"], 0x18, piece)
                seq["c"] += len(piece)
            else:
                add(S, C, seq["s"], seq["c"], 0x18, piece)
                seq["s"] += len(piece)
    add(C, S, seq["c"], seq["s"], 0x11)
    add(S, C, seq["s"], seq["c"] + 1, 0x11)
    add(C, S, seq["c"] + 1, seq["s"] + 1, 0x10)
    return [Packet(i, tm, 1, f, len(f)) for i, (tm, f) in enumerate(frames, 1)]


def h2c_bytes() -> bytes:
    return write_pcapng(frames_of(converse(messages())), application="exgate tests/unit/h2_synth.py (h2c)")


def make_tls_capture(workdir: Path) -> tuple[bytes, str]:
    """The same conversation inside TLS 1.3 with ALPN h2 (the client's key log returned with it)."""
    from gateway.http.tls import ensure_self_signed
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key, keys = workdir / "c.crt", workdir / "c.key", workdir / "keys.log"
    ensure_self_signed(cert, key, [AUTHORITY])
    if keys.exists():
        keys.unlink()
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    sctx.set_alpn_protocols(["h2"])
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.set_alpn_protocols(["h2", "http/1.1"])
    cctx.keylog_filename = str(keys)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    cli = cctx.wrap_bio(c_in, c_out, server_hostname=AUTHORITY)
    srv = sctx.wrap_bio(s_in, s_out, server_side=True)
    wire: list[tuple[str, bytes]] = []

    def move():
        moved = True
        while moved:
            moved = False
            for who, out, into in (("c", c_out, s_in), ("s", s_out, c_in)):
                d = out.read()
                if d:
                    wire.append((who, d))
                    into.write(d)
                    moved = True

    for _ in range(10):
        for o in (cli, srv):
            try:
                o.do_handshake()
            except ssl.SSLWantReadError:
                pass
        move()
    assert cli.selected_alpn_protocol() == "h2", cli.selected_alpn_protocol()
    for who, data in converse(messages()):
        (cli if who == "c" else srv).write(data)
        move()
        for o in (srv, cli):
            try:
                while o.read(1 << 20):
                    pass
            except ssl.SSLWantReadError:
                pass
        move()
    pkts = frames_of(wire, client=("10.0.0.20", 40443), server=("10.0.0.1", 443))
    return write_pcapng(pkts, application="exgate tests/unit/h2_synth.py (TLS 1.3, ALPN h2)"), keys.read_text()


def curl_capture(port: int = 24510) -> bytes:
    """curl POSTing three of exchangelib's EWS requests, one connection each, to an h2 server here that
    answers with the recorded answers and keeps the bytes of its socket: two with
    ``--http2-prior-knowledge``, the third with ``--http2`` on http://, which asks for the upgrade to
    h2c (an HTTP/1.1 request with ``Upgrade: h2c``, a 101 answer, then HTTP/2 with the answer on stream 1)."""
    pkts: list[Packet] = []
    for i, msg in enumerate(messages()[:3]):
        wire = _curl_once(msg, port, i, upgrade=i == 2)
        got = frames_of(wire, client=("10.0.0.30", 40180 + i), server=("10.0.0.1", 80), t0=T0 + 10 * i)
        pkts += [Packet(len(pkts) + k, p.time, p.linktype, p.data, p.length) for k, p in enumerate(got, 1)]
    return write_pcapng(pkts, application="curl --http2-prior-knowledge against an h2 server (exgate h2_synth)")


def _curl_once(msg, port: int, i: int, upgrade: bool = False) -> list[tuple[str, bytes]]:
    method, path, qh, qbody, status, rh, rbody = msg
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(1)
    wire: list[tuple[str, bytes]] = []

    def serve():
        conn, _ = lsock.accept()
        conn.settimeout(20)
        h = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))

        def flush():
            d = h.data_to_send()
            if d:
                wire.append(("s", d))
                conn.sendall(d)

        def answer(sid):
            h.send_headers(sid, [(":status", str(status))] + _lower(rh) + [("content-length", str(len(rbody)))])
            for k in range(0, len(rbody), 16000):
                h.send_data(sid, rbody[k:k + 16000], end_stream=k + 16000 >= len(rbody))
        if upgrade:                              # RFC 7540 3.2: the HTTP/1.1 request, whole, then 101
            got = b""
            while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + len(qbody):
                got += conn.recv(65536)
            wire.append(("c", got))
            settings = [ln.split(b":", 1)[1].strip() for ln in got.split(b"\r\n")
                        if ln.lower().startswith(b"http2-settings:")][0]
            switch = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
            wire.append(("s", switch))
            conn.sendall(switch)
            h.initiate_upgrade_connection(settings)
            answer(1)
        else:
            h.initiate_connection()
        flush()
        try:
            while d := conn.recv(65536):
                wire.append(("c", d))
                for ev in h.receive_data(d):
                    if isinstance(ev, h2.events.DataReceived):
                        h.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        answer(ev.stream_id)
                flush()
        except OSError:
            pass
        conn.close()

    th = threading.Thread(target=serve)
    th.start()
    body_file = Path(f"/tmp/h7/curl-body-{i}.xml")
    body_file.parent.mkdir(parents=True, exist_ok=True)
    body_file.write_bytes(qbody)
    args = ["curl", "-sS", "--http2" if upgrade else "--http2-prior-knowledge", "-o", "/dev/null",
            "--data-binary", f"@{body_file}",
            "--connect-to", f"{AUTHORITY}:{port}:127.0.0.1:{port}"]
    for k, v in qh:
        if k.lower() not in ("authorization", "accept-encoding", "user-agent"):
            args += ["-H", f"{k}: {v}"]
    args += ["-H", "User-Agent: curl (exgate h2 capture; the request of exchangelib)",
             "-X", method, f"http://{AUTHORITY}:{port}{path}"]
    try:
        subprocess.run(args, check=True, timeout=60)
    finally:
        th.join(30)
        lsock.close()
    return wire


if __name__ == "__main__":
    (ROOT / "captures" / "h2c-exchange.pcapng").write_bytes(h2c_bytes())
    pcap, keylog = make_tls_capture(Path("/tmp/h7/tls"))
    (ROOT / "captures" / "h2-tls-exchange.pcapng").write_bytes(pcap)
    (ROOT / "captures" / "h2-tls-exchange.keys").write_text(keylog)
    (ROOT / "captures" / "h2c-curl.pcapng").write_bytes(curl_capture())
