"""HTTP/2 in captures (protocols/capture/http2.py, issue 14).

HPACK on RFC 7541 Appendix C's examples; frames and exchanges on captures made by real HTTP/2
implementations (tests/unit/h2_synth.py): captures/h2c-exchange.pcapng (python-hyper's h2 on both
ends, cleartext with prior knowledge), captures/h2c-curl.pcapng (curl/nghttp2 as the client, with prior
knowledge and by Upgrade: h2c),
captures/h2-tls-exchange.pcapng (the same as h2c-exchange inside TLS 1.3 with ALPN h2, and its key log).
Resets and CONTINUATION/padding faults use bytes h2 writes in memory.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest
from hpack import Decoder

from gateway import cli
from protocols.capture import http2, read
from protocols.capture.network import read_network
from protocols.capture.tcp import Direction, Stream
from tests.stacks import needs_installed
from tests.unit import h2_synth

ROOT = Path(__file__).resolve().parents[2]
H2C = ROOT / "captures" / "h2c-exchange.pcapng"
CURL = ROOT / "captures" / "h2c-curl.pcapng"
TLS = ROOT / "captures" / "h2-tls-exchange.pcapng"
TLS_KEYS = ROOT / "captures" / "h2-tls-exchange.keys"

_C3 = [("828684410f7777772e6578616d706c652e636f6d", 57),
       ("828684be58086e6f2d6361636865", 110),
       ("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", 164)]
_C4 = [("828684418cf1e3c2e5f23a6ba0ab90f4ff", 57),
       ("828684be5886a8eb10649cbf", 110),
       ("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", 164)]
_REQ = [[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]]
_REQ.append(_REQ[0] + [("cache-control", "no-cache")])
_REQ.append([(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"),
             ("custom-key", "custom-value")])
_C5 = [("4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470"
        "733a2f2f7777772e6578616d706c652e636f6d", 222),
       ("4803333037c1c0bf", 222),
       ("88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b"
        "48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31", 215)]
_C6 = [("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae"
        "43d3", 222),
       ("4883640effc1c0bf", 222),
       ("88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af"
        "27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007", 215)]
_DATE1, _DATE2 = "Mon, 21 Oct 2013 20:13:21 GMT", "Mon, 21 Oct 2013 20:13:22 GMT"
_RESP = [[(":status", "302"), ("cache-control", "private"), ("date", _DATE1), ("location", "https://www.example.com")],
         [(":status", "307"), ("cache-control", "private"), ("date", _DATE1), ("location", "https://www.example.com")],
         [(":status", "200"), ("cache-control", "private"), ("date", _DATE2), ("location", "https://www.example.com"),
          ("content-encoding", "gzip"), ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")]]


@pytest.mark.parametrize("blocks,table,want", [(_C3, 4096, _REQ), (_C4, 4096, _REQ), (_C5, 256, _RESP),
                                               (_C6, 256, _RESP)], ids=["C.3", "C.4", "C.5", "C.6"])
def test_hpack_rfc7541_appendix_c(blocks, table, want):
    """One decoder per sequence, as one direction of a connection: the dynamic table carries over."""
    dec = Decoder()
    dec.header_table_size = dec.max_allowed_table_size = table
    for (hexed, size), fields in zip(blocks, want):
        assert http2._decode_block(dec, bytes.fromhex(hexed)) == fields
        assert dec.header_table._current_size == size       # the table size the RFC prints after each block


def test_hpack_damage_is_a_clear_error():
    with pytest.raises(http2.H2Error, match="HPACK: the header block does not decode"):
        http2._decode_block(Decoder(), bytes.fromhex("be"))        # dynamic index 62 in an empty table


def _h2(path: Path) -> Stream:
    cap = read_network(path.read_bytes())
    assert len({ex.conn for ex in cap.exchanges}) >= 1
    return cap


def _streams(path: Path) -> list[Stream]:
    from protocols.capture.pcap import read_packets
    from protocols.capture.tcp import segments, streams
    problems: list = []
    return [st for st in streams(segments(read_packets(path.read_bytes()).packets, problems), problems)
            if http2.looks_like_h2(st.client.data)]


@pytest.mark.parametrize("path", [H2C, CURL], ids=["h2", "curl"])
def test_frames_round_trip_on_real_bytes(path):
    kinds = set()
    for st in _streams(path):
        for data, start in ((st.client.data, len(http2.PREFACE)), (st.server.data, 0)):
            got, stop = http2.frames(data, start)
            assert stop == len(data)
            assert b"".join(f.encode() for f in got) == data[start:]
            kinds |= {(f.name, bool(f.flags & http2.PADDED) and f.type == http2.DATA) for f in got}
    assert {("SETTINGS", False), ("HEADERS", False), ("DATA", False)} <= kinds
    if path == H2C:       # the server's first header block went on in CONTINUATION; one padded DATA
        assert ("CONTINUATION", False) in kinds and ("DATA", True) in kinds


def _expected():
    return [(m, p, body, status, rbody) for m, p, _qh, body, status, _rh, rbody in h2_synth.messages()]


def test_h2c_capture_gives_the_exchanges_carried():
    cap = read(H2C.name, H2C.read_bytes())
    assert not [p for p in cap.problems if p.is_error]
    got = [(e.method, e.path, e.request_body, e.status, e.response_body) for e in cap.exchanges]
    assert got == _expected()
    first = cap.exchanges[0]
    assert first.url == "https://mail.example.test/EWS/Exchange.asmx"
    assert first.request_headers[0] == ("Host", "mail.example.test")
    assert first.response_header("X-BackEndCookie") == h2_synth.BIG_HEADER[1]     # HEADERS + CONTINUATION
    assert [e.notes[0] for e in cap.exchanges] == [f"HTTP/2 stream {n}" for n in range(1, 15, 2)]
    assert sum(http2.REPLAY_NOTE in p.what for p in cap.problems) == 1


def test_curl_capture():
    cap = read(CURL.name, CURL.read_bytes())
    assert not [p for p in cap.problems if p.is_error]
    assert [(e.method, e.path, e.request_body, e.status, e.response_body) for e in cap.exchanges] == _expected()[:3]
    assert "curl" in cap.exchanges[0].request_header("user-agent")
    assert cap.exchanges[0].request_header("Host") == "mail.example.test:24510"
    assert sum(http2.REPLAY_NOTE in p.what for p in cap.problems) == 1        # three connections, said once
    # the third asked for the upgrade to h2c over HTTP/1.1 (curl --http2 on http://): answered on stream 1
    up = cap.exchanges[2]
    assert up.request_header("Upgrade") == "h2c" and up.request_header("HTTP2-Settings")
    assert "upgraded to h2c (101 Switching Protocols); answered on HTTP/2 stream 1" in up.notes
    assert up.response_header("content-type") == cap.exchanges[1].response_header("content-type")


def _blocks(text: str) -> list[list[str]]:
    """decode's output per exchange without its number and its notes (the lines in parentheses)."""
    out: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            out.append([line.split(None, 1)[1]])
        elif out and line.startswith("      ") and not line.strip().startswith("("):
            out[-1].append(line)
    return out


def test_decode_shows_what_the_http1_captures_show(capsys):
    assert cli.main(["decode", str(H2C)]) == 0
    h2_out = _blocks(capsys.readouterr().out)
    assert cli.main(["decode", str(ROOT / "captures" / "clients" / "exchangelib")]) == 0
    ews = [b for b in _blocks(capsys.readouterr().out) if "-> 200" in b[0]][:3]
    assert cli.main(["decode", str(ROOT / "captures" / "ruler-mapihttp.pcap")]) == 1     # ruler's known search buffer
    mapi = _blocks(capsys.readouterr().out)[7:11]            # recording 2, mapi_basic_check: its own connection
    assert h2_out == ews + mapi
    assert any("GetFolder" in line for b in h2_out for line in b)
    assert any("RopLogon" in line for b in h2_out for line in b)


@needs_installed(None if shutil.which("tshark") else "tshark", "tshark")
def test_tls_alpn_h2_decrypted(capsys):
    assert cli.main(["decode", str(TLS)]) == 1
    assert "--keylog" in capsys.readouterr().err
    assert cli.main(["decode", str(TLS), "--keylog", str(TLS_KEYS)]) == 0
    out, err = capsys.readouterr()
    assert _blocks(out) == [[b[0].replace("https://", "")] + b[1:] for b in _blocks(out)]
    cli.main(["decode", str(H2C)])
    assert _blocks(out) == _blocks(capsys.readouterr().out)
    assert "sends them to the target over HTTP/1.1" in err


# -- faults, on bytes h2 writes in memory -------------------------------------------------------

def _stream(wire: list[tuple[str, bytes]]) -> Stream:
    c = b"".join(d for w, d in wire if w == "c")
    s = b"".join(d for w, d in wire if w == "s")
    return Stream(1, Direction(("10.0.0.20", 40080), ("10.0.0.1", 80), c, [(0, 1.0)]),
                  Direction(("10.0.0.1", 80), ("10.0.0.20", 40080), s, [(0, 1.5)]), True, True, 1.0)


def _pair():
    cli_ = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    srv = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    wire: list[tuple[str, bytes]] = []

    def pump():
        for _ in range(5):
            for who, a, b in (("c", cli_, srv), ("s", srv, cli_)):
                d = a.data_to_send()
                if d:
                    wire.append((who, d))
                    b.receive_data(d)
    cli_.initiate_connection()
    srv.initiate_connection()
    pump()
    return cli_, srv, wire, pump


_GET = [(":method", "POST"), (":scheme", "https"), (":authority", "mail.example.test"), (":path", "/EWS/Exchange.asmx")]


def test_reset_streams():
    c, s, wire, pump = _pair()
    c.send_headers(1, _GET, end_stream=True)                  # refused by the server: an error
    pump()
    s.reset_stream(1, h2.errors.ErrorCodes.REFUSED_STREAM)
    c.send_headers(3, _GET, end_stream=True)                  # answered whole, then cancelled: a note
    pump()
    s.send_headers(3, [(":status", "200")])
    s.send_data(3, b"<ok/>", end_stream=True)
    pump()
    c.send_headers(5, _GET)                                   # the client gives up mid-request
    c.send_data(5, b"<a")
    pump()
    c.reset_stream(5, h2.errors.ErrorCodes.CANCEL)
    pump()
    wire.append(("c", http2.Frame(http2.RST_STREAM, 0, 3, (8).to_bytes(4, "big")).encode()))
    problems: list = []
    exs = http2.exchanges(_stream(wire), 1, problems)
    assert [(e.status, e.response_body) for e in exs] == [(None, b""), (200, b"<ok/>"), (None, b"")]
    said = {(p.level, p.what) for p in problems}
    assert ("error", "HTTP/2 stream 1 (POST /EWS/Exchange.asmx) reset by the server: REFUSED_STREAM") in said
    assert ("note", "HTTP/2 stream 3 (POST /EWS/Exchange.asmx) reset by the client: CANCEL after a complete "
                    "answer") in said
    assert ("error", "HTTP/2 stream 5 (POST /EWS/Exchange.asmx) reset by the client: CANCEL") in said
    assert "reset by the server: REFUSED_STREAM" in exs[0].notes and "no answer in the capture" in exs[0].notes


def test_request_headers_split_by_continuation_and_padded_data():
    c, s, wire, pump = _pair()
    big = ("cookie", "x" * 20000)
    c.send_headers(1, _GET + [big])
    c.send_data(1, b"<body/>", end_stream=True, pad_length=40)
    pump()
    s.send_headers(1, [(":status", "200")], end_stream=True)
    pump()
    st = _stream(wire)
    got, _ = http2.frames(st.client.data, len(http2.PREFACE))
    assert [f.name for f in got if f.stream_id == 1] == ["HEADERS", "CONTINUATION", "DATA"]
    assert [f for f in got if f.type == http2.DATA][0].flags & http2.PADDED
    problems: list = []
    (ex,) = http2.exchanges(st, 1, problems)
    assert ex.request_header("cookie") == big[1] and ex.request_body == b"<body/>" and ex.status == 200
    assert not [p for p in problems if p.is_error]
    # a frame of another stream where the CONTINUATION was due: said, the rest not read
    frames = [f.encode() for f in got]
    i = next(k for k, f in enumerate(got) if f.type == http2.CONTINUATION)
    ping = http2.Frame(http2.PING, 0, 0, b"\0" * 8).encode()
    bad = Stream(1, Direction(st.client.src, st.client.dst, http2.PREFACE + b"".join(frames[:i] + [ping] + frames[i:]),
                              [(0, 1.0)]), st.server, True, True, 1.0)
    problems = []
    http2.exchanges(bad, 1, problems)
    assert any("PING at offset" in p.what and "CONTINUATION of stream 1's header block was due" in p.what
               for p in problems if p.is_error)
    # padding longer than the frame
    assert pytest.raises(http2.H2Error, http2.unpadded, http2.Frame(http2.DATA, http2.PADDED, 1, b"\x09abc"))


def test_cut_off_capture_says_so(capsys, tmp_path):
    data = H2C.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[:int(len(data) * 0.6)])
    cap = read(cut.name, cut.read_bytes())
    errors = [p.what for p in cap.problems if p.is_error]
    assert cap.exchanges and any("the capture ends inside" in e and e.startswith("HTTP/2") for e in errors), errors
    assert cli.main(["decode", str(cut)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "HTTP/2" in err
    # cut at every frame boundary of the client and in the middle of one: a clear word each time
    st = _streams(H2C)[0]
    got, _ = http2.frames(st.client.data, len(http2.PREFACE))
    f = got[len(got) // 2]
    for end in (f.offset + 4, f.offset + 12):
        short = Stream(1, Direction(st.client.src, st.client.dst, st.client.data[:end], [(0, 1.0)]), st.server,
                       True, False, 1.0)
        problems: list = []
        http2.exchanges(short, 1, problems)
        assert any("the capture ends inside a" in p.what for p in problems), [str(p) for p in problems]


def test_server_push_is_ignored_with_a_note_and_hpack_stays_in_step():
    c, s, wire, pump = _pair()
    c.send_headers(1, _GET + [("x-trace", "first")], end_stream=True)
    pump()
    s.push_stream(1, 2, [(":method", "GET"), (":scheme", "https"), (":authority", "mail.example.test"),
                         (":path", "/pushed.css"), ("x-pushed-header", "indexed-in-the-table")])
    s.send_headers(1, [(":status", "200")], end_stream=True)
    s.send_headers(2, [(":status", "200"), ("x-pushed-header", "indexed-in-the-table")], end_stream=True)
    pump()
    c.send_headers(3, _GET + [("x-trace", "second")], end_stream=True)
    pump()
    s.send_headers(3, [(":status", "204"), ("x-pushed-header", "indexed-in-the-table")], end_stream=True)
    pump()
    c.close_connection(error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR, additional_data=b"bye")
    pump()
    problems: list = []
    exs = http2.exchanges(_stream(wire), 1, problems)
    assert [(e.path, e.status, e.request_header("x-trace")) for e in exs] == [
        ("/EWS/Exchange.asmx", 200, "first"), ("/EWS/Exchange.asmx", 204, "second")]
    assert exs[1].response_header("x-pushed-header") == "indexed-in-the-table"
    said = [(p.level, p.what) for p in problems]
    assert ("note", "HTTP/2: 1 server push(es) (PUSH_PROMISE) ignored") in said
    assert ("error", "HTTP/2: the client ended the connection with GOAWAY PROTOCOL_ERROR b'bye'") in said


def test_damaged_copies_never_raise():
    """Bytes overwritten, bits flipped, cut short, on either side of both h2 captures: problems, no exception."""
    import random
    rng = random.Random(7)
    for path in (H2C, CURL):
        for st in _streams(path):
            for n in range(300):
                c, s = bytearray(st.client.data), bytearray(st.server.data)
                target = c if n % 2 else s
                i = rng.randrange(len(target))
                if n % 3 == 0:
                    target[i:i + 32] = bytes(rng.randrange(256) for _ in range(32))
                elif n % 3 == 1:
                    del target[max(i, 24 if target is c else 0):]
                else:
                    target[i] ^= 1 << rng.randrange(8)
                bad = Stream(1, Direction(st.client.src, st.client.dst, bytes(c), [(0, 1.0)]),
                             Direction(st.server.src, st.server.dst, bytes(s), [(0, 2.0)]), True, True, 1.0)
                http2.exchanges(bad, 1, [])
