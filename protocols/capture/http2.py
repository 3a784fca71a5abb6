"""HTTP/2 exchanges out of a reassembled TCP connection (RFC 9113, HPACK RFC 7541).

A connection is HTTP/2 when the client's bytes begin with the connection preface (RFC 9113 3.4):
cleartext h2c with prior knowledge, or TLS with ALPN ``h2`` once tshark has decrypted it; or it
begins as HTTP/1.1 and switches to h2c by ``Upgrade`` (RFC 7540 3.2, which RFC 9113 deprecates and
curl still does), the upgrading request answered on stream 1. Each side's
bytes are cut into frames (4.1); HEADERS and CONTINUATION fragments are joined into header blocks and
decoded with one HPACK decoder per direction (its dynamic table lives as long as the connection, so
every block is decoded in order, a pushed request's too); DATA is unpadded and gathered per stream.
A client stream (odd id) becomes one ``Exchange``: pseudo-headers give method, URL and status,
``:authority`` becomes ``Host`` as an HTTP/1.1 message would carry it (8.3.1). Exchanges are in the
order the client opened its streams.

A stream reset is a problem (an error, a note for NO_ERROR/CANCEL after a complete answer); a capture
cut inside a frame or before END_STREAM is an error; server push (PUSH_PROMISE) is read for HPACK's
sake and otherwise ignored with a note. SETTINGS, PING, WINDOW_UPDATE and PRIORITY carry nothing an
exchange needs: they are checked for framing only.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from hpack import Decoder
from hpack.exceptions import HPACKError

from .http1 import exchanges as http1_exchanges, iso_time
from .model import Exchange, Problem, header, note
from .tcp import Direction, Stream

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER = 9

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
FRAME_NAMES = {DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
               SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
               WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION"}
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

ERROR_CODES = {0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
               0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM",
               0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR", 0xB: "ENHANCE_YOUR_CALM",
               0xC: "INADEQUATE_SECURITY", 0xD: "HTTP_1_1_REQUIRED"}
SETTINGS_HEADER_TABLE_SIZE = 0x1
REPLAY_NOTE = "exchanges read from HTTP/2 streams; exgate replay sends them to the target over HTTP/1.1"


class H2Error(ValueError):
    """A frame that breaks RFC 9113's framing rules."""


def error_name(code: int) -> str:
    return ERROR_CODES.get(code, f"0x{code:x}")


@dataclass(frozen=True)
class Frame:
    """One frame (RFC 9113 4.1) and where it began in its direction's bytes."""

    type: int
    flags: int
    stream_id: int
    payload: bytes
    offset: int = 0
    reserved: int = 0                   # the R bit before the stream id, kept for the round trip

    @property
    def name(self) -> str:
        return FRAME_NAMES.get(self.type, f"type 0x{self.type:x}")

    def encode(self) -> bytes:
        n = len(self.payload)
        return struct.pack(">BHBBI", n >> 16, n & 0xFFFF, self.type, self.flags,
                           (self.reserved << 31) | self.stream_id) + self.payload


def parse_frame(data: bytes, off: int = 0) -> Frame | None:
    """The frame at ``off``, or None when the bytes end before it does."""
    if len(data) - off < FRAME_HEADER:
        return None
    hi, lo, ftype, flags, sid = struct.unpack_from(">BHBBI", data, off)
    length = (hi << 16) | lo
    end = off + FRAME_HEADER + length
    if end > len(data):
        return None
    return Frame(ftype, flags, sid & 0x7FFFFFFF, data[off + FRAME_HEADER:end], off, sid >> 31)


def frames(data: bytes, start: int = 0) -> tuple[list[Frame], int]:
    """Every whole frame from ``start``; and the offset where the bytes stopped being whole frames."""
    out: list[Frame] = []
    off = start
    while off < len(data):
        f = parse_frame(data, off)
        if f is None:
            break
        out.append(f)
        off += FRAME_HEADER + len(f.payload)
    return out, off


def unpadded(f: Frame) -> bytes:
    """DATA's data, HEADERS' or PUSH_PROMISE's fragment (after its priority or promised stream id),
    without the padding (6.1, 6.2, 6.6)."""
    body = f.payload
    pad = 0
    if f.flags & PADDED and f.type in (DATA, HEADERS, PUSH_PROMISE):
        if not body:
            raise H2Error(f"{f.name} on stream {f.stream_id}: PADDED with no Pad Length")
        pad, body = body[0], body[1:]
    if f.type == HEADERS and f.flags & PRIORITY_FLAG:
        body = body[5:]
    elif f.type == PUSH_PROMISE:
        body = body[4:]
    if pad > len(body):
        raise H2Error(f"{f.name} on stream {f.stream_id}: {pad} bytes of padding in a {len(body)}-byte payload")
    return body[:len(body) - pad]


def promised_stream(f: Frame) -> int:
    body = f.payload[1:] if f.flags & PADDED else f.payload
    return struct.unpack_from(">I", body)[0] & 0x7FFFFFFF if len(body) >= 4 else 0


@dataclass
class HalfStream:
    """What one side sent on one stream."""

    offset: int                                   # where its first HEADERS began in that side's bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    trailers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False                           # END_STREAM seen
    end_offset: int = 0                           # where its last frame began
    informational: list[str] = field(default_factory=list)


@dataclass
class Side:
    """One direction of the connection, read frame by frame."""

    streams: dict[int, HalfStream] = field(default_factory=dict)
    resets: dict[int, int] = field(default_factory=dict)         # stream id -> error code
    pushed: int = 0
    goaway: tuple[int, bytes] | None = None
    settings: dict[int, int] = field(default_factory=dict)
    cut: str | None = None                                        # why reading stopped early


def _decode_block(decoder: Decoder, block: bytes) -> list[tuple[str, str]]:
    try:
        fields = decoder.decode(block, raw=True)
    except (HPACKError, IndexError, ValueError) as exc:         # the library's own errors and bad bytes
        raise H2Error(f"HPACK: the header block does not decode ({type(exc).__name__}: {exc})") from None
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in fields]


def read_side(data: bytes, start: int, decoder: Decoder) -> Side:
    """Frames of one direction from ``start`` (after the preface, for the client)."""
    side = Side()
    got, stop = frames(data, start)
    block: bytearray | None = None                # a header block waiting for its CONTINUATION
    block_frame: Frame | None = None
    for f in got:
        try:
            if block is not None and (f.type != CONTINUATION or f.stream_id != block_frame.stream_id):
                raise H2Error(f"{f.name} at offset {f.offset} where the CONTINUATION of stream "
                              f"{block_frame.stream_id}'s header block was due")
            if f.type in (HEADERS, PUSH_PROMISE):
                if f.stream_id == 0:
                    raise H2Error(f"{f.name} on stream 0")
                block, block_frame = bytearray(unpadded(f)), f
            elif f.type == CONTINUATION:
                if block is None:
                    raise H2Error(f"CONTINUATION at offset {f.offset} with no header block before it")
                block += f.payload
            if block is not None and f.flags & END_HEADERS:
                _header_block(side, decoder, block_frame, bytes(block), f)
                block = block_frame = None
            elif f.type == DATA:
                hs = side.streams.get(f.stream_id)
                if hs is None:
                    raise H2Error(f"DATA on stream {f.stream_id} before its HEADERS")
                hs.body += unpadded(f)
                hs.end_offset = f.offset
                hs.ended = hs.ended or bool(f.flags & END_STREAM)
            elif f.type == RST_STREAM:
                side.resets[f.stream_id] = struct.unpack(">I", f.payload[:4])[0] if len(f.payload) >= 4 else -1
            elif f.type == SETTINGS and not f.flags & ACK:
                for k in range(0, len(f.payload) - 5, 6):
                    ident, value = struct.unpack_from(">HI", f.payload, k)
                    side.settings[ident] = value
            elif f.type == GOAWAY and len(f.payload) >= 8:
                side.goaway = (struct.unpack_from(">I", f.payload, 4)[0], f.payload[8:])
        except H2Error as exc:
            side.cut = str(exc)
            return side
    if block is not None:
        side.cut = f"the capture ends inside stream {block_frame.stream_id}'s header block (no END_HEADERS)"
    elif stop < len(data):
        rest = len(data) - stop
        f = None
        if rest >= FRAME_HEADER:
            hi, lo, ftype = struct.unpack_from(">BHB", data, stop)
            f = (FRAME_NAMES.get(ftype, f"type 0x{ftype:x}"), (hi << 16) | lo)
        side.cut = (f"the capture ends inside a {f[0]} frame at offset {stop}: {rest - FRAME_HEADER} of its "
                    f"{f[1]} payload bytes" if f else f"the capture ends inside a frame header at offset {stop}")
    return side


def _header_block(side: Side, decoder: Decoder, first: Frame, block: bytes, last: Frame) -> None:
    fields = _decode_block(decoder, block)        # always, in order: the dynamic table depends on it
    if first.type == PUSH_PROMISE:
        side.pushed += 1
        return
    hs = side.streams.get(first.stream_id)
    if hs is None:
        hs = side.streams[first.stream_id] = HalfStream(first.offset)
        hs.headers = fields
    elif (header(hs.headers, ":status") or "")[:1] == "1":     # after an interim 1xx answer: the next one
        hs.informational.append(header(hs.headers, ":status") or "")
        hs.headers = fields
    else:
        hs.trailers = fields
    hs.end_offset = last.offset
    hs.ended = hs.ended or bool(first.flags & END_STREAM)


def looks_like_h2(client_bytes: bytes) -> bool:
    """The client's bytes begin with the HTTP/2 connection preface (h2c prior knowledge, or h2 in TLS)."""
    return client_bytes[:len(PREFACE)] == PREFACE[:len(client_bytes)] and len(client_bytes) >= 16


def _regular(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in fields if not k.startswith(":")]


_SWITCH = re.compile(rb"HTTP/1\.1 101[^\r\n]*\r\n")


def upgrade_offsets(stream: Stream) -> tuple[int, int] | None:
    """For an HTTP/1.1 connection that switched to h2c (RFC 7540 3.2: a request with ``Upgrade: h2c``
    answered ``101 Switching Protocols``; curl --http2 on http:// does it): where HTTP/2 begins in the
    client's bytes (its preface) and in the server's (after the 101's header block). None otherwise."""
    c, s = stream.client.data, stream.server.data
    ci = c.find(PREFACE)
    m = _SWITCH.search(s) if ci > 0 else None
    if m is None or b"upgrade: h2c" not in c[:ci].lower().replace(b":  ", b": "):
        return None
    end = s.find(b"\r\n\r\n", m.start())
    if end < 0 or b"h2c" not in s[m.start():end].lower():
        return None
    return ci, end + 4


def _part(d: Direction, start: int, end: int) -> Direction:
    """The bytes ``start:end`` of a direction, with their times and lost bytes."""
    times = [(max(0, o - start), t) for k, (o, t) in enumerate(d.times)
             if o < end and (k + 1 == len(d.times) or d.times[k + 1][0] > start)]
    gaps = [(o - start, n) for o, n in d.gaps if start <= o < end]
    return Direction(d.src, d.dst, d.data[start:end], times, gaps)


def upgraded_exchanges(stream: Stream, seq_start: int, problems: list[Problem]) -> list[Exchange]:
    """An h2c upgrade: the HTTP/1.1 exchanges before it, the upgrading request answered on HTTP/2
    stream 1 (its 101 kept as a note), then the HTTP/2 streams."""
    ci, si = upgrade_offsets(stream)
    first = Stream(stream.index, _part(stream.client, 0, ci), _part(stream.server, 0, si), stream.syn_seen,
                   True, stream.first_time)
    out = http1_exchanges(first, seq_start, problems)
    rest = Stream(stream.index, _part(stream.client, ci, len(stream.client.data)),
                  _part(stream.server, si, len(stream.server.data)), True, stream.closed, stream.first_time)
    upgrading = out[-1] if out and out[-1].status == 101 else None
    return out + exchanges(rest, seq_start + len(out), problems, upgraded=upgrading)


def exchanges(stream: Stream, seq_start: int, problems: list[Problem], *, scheme: str = "http",
              upgraded: Exchange | None = None) -> list[Exchange]:
    """The connection's HTTP/2 exchanges (one per client stream), numbered from ``seq_start``.
    ``upgraded``: the HTTP/1.1 request that asked for h2c, answered on stream 1 (RFC 7540 3.2)."""
    where = f"TCP stream {stream.index} ({stream.name})"
    cdata, sdata = stream.client.data, stream.server.data
    if not cdata.startswith(PREFACE):
        problems.append(Problem(where, "HTTP/2: the client's bytes end inside the connection preface"))
        return []
    # a header table size a side announces bounds what the other side's encoder may use (6.5.2)
    client_dec, server_dec = Decoder(), Decoder()
    client_dec.max_header_list_size = server_dec.max_header_list_size = 1 << 24
    csd = read_side(cdata, len(PREFACE), client_dec)
    ssd_probe = Side()
    first_settings = parse_frame(sdata, 0)
    if first_settings and first_settings.type == SETTINGS:
        for k in range(0, len(first_settings.payload) - 5, 6):
            ident, value = struct.unpack_from(">HI", first_settings.payload, k)
            ssd_probe.settings[ident] = value
    client_dec.max_allowed_table_size = max(4096, ssd_probe.settings.get(SETTINGS_HEADER_TABLE_SIZE, 4096))
    server_dec.max_allowed_table_size = max(4096, csd.settings.get(SETTINGS_HEADER_TABLE_SIZE, 4096))
    ssd = read_side(sdata, 0, server_dec)
    for who, side in (("client", csd), ("server", ssd)):
        if side.cut:
            problems.append(Problem(where, f"HTTP/2 {who} bytes: {side.cut}; the rest is not read"))
        if side.goaway and side.goaway[0] != 0:
            problems.append(Problem(where, f"HTTP/2: the {who} ended the connection with GOAWAY "
                                           f"{error_name(side.goaway[0])} {side.goaway[1][:80]!r}"))
    if ssd.pushed:
        problems.append(note(where, f"HTTP/2: {ssd.pushed} server push(es) (PUSH_PROMISE) ignored"))
    out: list[Exchange] = []
    if upgraded is not None:
        resp = ssd.streams.get(1)
        upgraded.notes.append("upgraded to h2c (101 Switching Protocols); " +
                              ("answered on HTTP/2 stream 1" if resp else "no answer on HTTP/2 stream 1"))
        upgraded.status = None
        upgraded.response_headers, upgraded.response_body = [], b""
        if resp is not None:
            st = header(resp.headers, ":status") or ""
            upgraded.status = int(st) if re.fullmatch(r"[0-9]{3}", st) else None
            upgraded.response_headers, upgraded.response_body = _regular(resp.headers), bytes(resp.body)
            if not resp.ended:
                problems.append(Problem(where, "HTTP/2 stream 1 (the upgraded request): the answer is cut off "
                                               "before its END_STREAM"))
    for sid in sorted(s for s in csd.streams if s % 2 == 1):
        req = csd.streams[sid]
        resp = ssd.streams.get(sid)
        rh = req.headers
        method = header(rh, ":method") or "?"
        authority = header(rh, ":authority") or header(rh, "host") or f"{stream.client.dst[0]}:{stream.client.dst[1]}"
        path = header(rh, ":path") or "/"
        sch = header(rh, ":scheme") or scheme
        headers = _regular(rh)
        if header(headers, "host") is None:
            headers.insert(0, ("Host", authority))
        notes = [f"HTTP/2 stream {sid}"]
        status = None
        if resp is not None and re.fullmatch(r"[0-9]{3}", header(resp.headers, ":status") or ""):
            status = int(header(resp.headers, ":status") or 0)
        notes += [f"interim answer {s}" for s in (resp.informational if resp else [])]
        if req.trailers or (resp and resp.trailers):
            notes.append("trailers: " + ", ".join(k for k, _ in (req.trailers + (resp.trailers if resp else []))))
        code = csd.resets.get(sid, ssd.resets.get(sid))
        who = "client" if sid in csd.resets else "server"
        answered = resp is not None and resp.ended and status is not None
        if code is not None:
            text = f"HTTP/2 stream {sid} ({method} {path}) reset by the {who}: {error_name(code)}"
            notes.append(f"reset by the {who}: {error_name(code)}")
            if code in (0, 8) and answered:         # RFC 9113 8.1: the answer came whole first
                problems.append(note(where, text + " after a complete answer"))
            else:
                problems.append(Problem(where, text))
        elif not req.ended:
            notes.append("the request ends before END_STREAM (cut off by the capture)")
            problems.append(Problem(where, f"HTTP/2 stream {sid} ({method} {path}): the request is cut off "
                                           "before its END_STREAM"))
        elif resp is not None and not resp.ended:
            notes.append("answer: cut off before END_STREAM")
            problems.append(Problem(where, f"HTTP/2 stream {sid} ({method} {path}): the answer is cut off "
                                           "before its END_STREAM"))
        if resp is None:
            notes.append("no answer in the capture")
        t0 = stream.client.time_at(req.offset)
        t1 = stream.server.time_at(resp.end_offset) if resp else None
        out.append(Exchange(seq=seq_start + len(out), method=method, url=f"{sch}://{authority}{path}",
                            request_headers=headers, request_body=bytes(req.body), status=status,
                            response_headers=_regular(resp.headers) if resp else [],
                            response_body=bytes(resp.body) if resp else b"", time=iso_time(t0),
                            elapsed=round(t1 - t0, 6) if t0 is not None and t1 is not None else None,
                            conn=stream.index, source=f"{where}, HTTP/2 stream {sid}", notes=notes))
    if (out or upgraded) and not any(p.what == REPLAY_NOTE for p in problems):      # said once per capture
        problems.append(note("file", REPLAY_NOTE))
    return out
