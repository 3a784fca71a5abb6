"""HTTP/1.x exchanges out of a reassembled TCP connection (RFC 9112).

The client's bytes are read as requests one after another (keep-alive, pipelining), the server's as
responses; the n-th response answers the n-th request, with interim 1xx answers skipped (kept as a
note). A message's body is framed as RFC 9112 6.3 says: ``Transfer-Encoding: chunked`` (chunk
extensions and trailers allowed), else ``Content-Length``, else (responses only) until the
connection closes; a request without either has no body, and so has the answer to HEAD, 1xx, 204
and 304. Bodies are kept as they were on the wire after de-chunking (a Content-Encoding stays; the
``Exchange`` undoes it). A message cut off by the end of the capture, or with bytes lost inside it,
is kept with a note saying so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .model import Exchange, Problem, header, note
from .tcp import Direction, Stream

METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"PROPFIND", b"PROPPATCH",
           b"MKCOL", b"MKCALENDAR", b"REPORT", b"MOVE", b"COPY", b"LOCK", b"UNLOCK", b"RPC_IN_DATA",
           b"RPC_OUT_DATA", b"CONNECT", b"TRACE", b"SEARCH", b"ACL")
_REQUEST_LINE = re.compile(rb"^([A-Z_]+) (\S+) HTTP/1\.[01]$")
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: (.*))?$")
MAX_HEAD = 256 * 1024


def looks_like_http(client_bytes: bytes) -> bool:
    first = client_bytes[:16].split(b" ", 1)[0]
    return first in METHODS


@dataclass
class Message:
    start: int                    # offset in the direction's bytes where it began
    end: int                      # offset just after it
    first_line: bytes
    headers: list[tuple[str, str]]
    body: bytes
    notes: list[str] = field(default_factory=list)
    complete: bool = True


def _head(data: bytes, off: int) -> tuple[bytes, list[tuple[str, str]], int] | None:
    end = data.find(b"\r\n\r\n", off, off + MAX_HEAD)
    sep = 4
    if end < 0:
        end = data.find(b"\n\n", off, off + MAX_HEAD)
        sep = 2
        if end < 0:
            return None
    lines = data[off:end].replace(b"\r\n", b"\n").split(b"\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and headers:           # obsolete line folding
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip().decode("latin-1"))
            continue
        k, colon, v = line.partition(b":")
        if colon:
            headers.append((k.strip().decode("latin-1"), v.strip().decode("latin-1")))
    return lines[0], headers, end + sep


def _chunked(data: bytes, off: int) -> tuple[bytes, int, bool]:
    """(body, offset after the message, complete)."""
    out = bytearray()
    while True:
        eol = data.find(b"\r\n", off)
        if eol < 0:
            return bytes(out), len(data), False
        size_text = data[off:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(out), off, False
        off = eol + 2
        if size == 0:
            while True:                                         # trailer fields, then an empty line
                eol = data.find(b"\r\n", off)
                if eol < 0:
                    return bytes(out), len(data), False
                line, off = data[off:eol], eol + 2
                if not line:
                    return bytes(out), off, True
        chunk = data[off:off + size]
        out += chunk
        if len(chunk) < size:
            return bytes(out), len(data), False
        off += size
        if data[off:off + 2] == b"\r\n":
            off += 2


def _message(data: bytes, off: int, *, response: bool, no_body: bool, lost) -> Message | None:
    h = _head(data, off)
    if h is None:
        return None
    first, headers, body_at = h
    te = (header(headers, "Transfer-Encoding") or "").lower()
    cl = header(headers, "Content-Length")
    notes: list[str] = []
    complete = True
    if no_body:
        body, end = b"", body_at
    elif "chunked" in te:
        body, end, complete = _chunked(data, body_at)
        if not complete:
            notes.append("the chunked body ends before its last chunk (cut off by the capture, or bytes lost)")
    elif cl is not None and re.fullmatch(r"[0-9]{1,12}", cl.strip()):
        n = int(cl.strip())
        body, end = data[body_at:body_at + n], body_at + n
        if len(body) < n:
            complete = False
            notes.append(f"body cut off by the end of the capture: {len(body)} of {n} bytes")
    elif response and lost(off, body_at):
        # bytes of the header block were lost (Content-Length or Transfer-Encoding may be among them):
        # the body is taken up to the next status line rather than to the end of the connection
        nxt = data.find(b"\r\nHTTP/1.", body_at)
        end = nxt + 2 if nxt >= 0 else len(data)
        body = data[body_at:end]
        notes.append("the header block lost bytes: the body is taken up to the next status line")
    elif response:
        body, end = data[body_at:], len(data)                   # until the connection closes
    else:
        body, end = b"", body_at
    missing = lost(off, end if complete else end + 1)
    if missing:
        notes.append(f"{missing} byte(s) of this message were lost in the capture (zeros in their place)")
    return Message(off, end, first, headers, body, notes, complete)


def _resync(data: bytes, off: int, starts: tuple[bytes, ...]) -> int:
    """The next offset after ``off`` where a line begins with one of ``starts`` (after damage)."""
    best = -1
    for s in starts:
        i = data.find(b"\n" + s, off)
        if i >= 0 and (best < 0 or i + 1 < best):
            best = i + 1
    return best


def iso_time(t: float | None) -> str | None:
    if t is None:
        return None
    try:
        moment = datetime.fromtimestamp(t, timezone.utc)
    except (ValueError, OverflowError, OSError):        # a damaged timestamp
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def exchanges(stream: Stream, seq_start: int, problems: list[Problem]) -> list[Exchange]:
    """The stream's HTTP exchanges, numbered from ``seq_start``."""
    where = f"TCP stream {stream.index} ({stream.name})"
    cdata, sdata = stream.client.data, stream.server.data
    requests: list[Message] = []
    off = 0
    while off < len(cdata):
        m = _REQUEST_LINE.match(cdata[off:cdata.find(b"\n", off, off + 8192)].rstrip(b"\r")) \
            if cdata.find(b"\n", off, off + 8192) >= 0 else None
        msg = _message(cdata, off, response=False, no_body=False, lost=stream.client.lost_in) if m else None
        if msg is None:
            nxt = _resync(cdata, off, METHODS)
            problems.append(Problem(where, f"client bytes at offset {off} are not an HTTP request "
                                           f"({cdata[off:off + 24]!r}...)"
                                           + ("; skipped to the next request line" if nxt > 0 else "; rest skipped")))
            if nxt <= off:
                break
            off = nxt
            continue
        requests.append(msg)
        off = msg.end
    responses: list[Message] = []
    off, i = 0, 0
    while off < len(sdata):
        nl = sdata.find(b"\n", off, off + 8192)
        m = _STATUS_LINE.match(sdata[off:nl].rstrip(b"\r")) if nl >= 0 else None
        if not m:
            nxt = _resync(sdata, off, (b"HTTP/1.",))
            problems.append(Problem(where, f"server bytes at offset {off} are not an HTTP response "
                                           f"({sdata[off:off + 24]!r}...)"
                                           + ("; skipped to the next status line" if nxt > 0 else "; rest skipped")))
            if nxt <= off:
                break
            off = nxt
            continue
        status = int(m.group(1))
        method = _REQUEST_LINE.match(requests[i].first_line).group(1) if i < len(requests) else b""
        no_body = method == b"HEAD" or status < 200 or status in (204, 304)
        msg = _message(sdata, off, response=True, no_body=no_body, lost=stream.server.lost_in)
        if msg is None:
            problems.append(Problem(where, f"the response at server offset {off} is cut off inside its headers"))
            break
        if 100 <= status < 200 and status != 101:
            if i < len(requests):
                requests[i].notes.append(f"interim answer {status}")
            off = msg.end
            continue
        responses.append(msg)
        off, i = msg.end, i + 1
    # the n-th response answers the n-th request, unless it began before that request was sent: then
    # the capture began after its request (an answer without a request, left out)
    orphans = 0
    paired: list[Message | None] = []
    ri = 0
    for resp in responses:
        if ri >= len(requests):
            orphans += 1
            continue
        tq, tr = stream.client.time_at(requests[ri].start), stream.server.time_at(resp.start)
        if tq is not None and tr is not None and tr < tq:
            orphans += 1
            continue
        paired.append(resp)
        ri += 1
    out: list[Exchange] = []
    for n, req in enumerate(requests):
        method, target = _REQUEST_LINE.match(req.first_line).groups()
        host = header(req.headers, "Host") or f"{stream.client.dst[0]}:{stream.client.dst[1]}"
        target_s = target.decode("latin-1")
        url = target_s if target_s.startswith(("http://", "https://")) else f"http://{host}{target_s}"
        resp = paired[n] if n < len(paired) else None
        t0 = stream.client.time_at(req.start)
        t1 = stream.server.time_at(max(resp.end - 1, resp.start)) if resp else None
        ex = Exchange(seq=seq_start + len(out), method=method.decode("latin-1"), url=url,
                      request_headers=req.headers, request_body=req.body,
                      status=int(_STATUS_LINE.match(resp.first_line).group(1)) if resp else None,
                      response_headers=resp.headers if resp else [], response_body=resp.body if resp else b"",
                      time=iso_time(t0), elapsed=round(t1 - t0, 6) if t0 is not None and t1 is not None else None,
                      conn=stream.index, source=f"{where}, request at client offset {req.start}",
                      notes=list(req.notes) + [f"answer: {x}" for x in (resp.notes if resp else [])])
        if resp is None:
            ex.notes.append("no answer in the capture")
        out.append(ex)
    if orphans:
        if stream.syn_seen:         # the connection was seen from its start: an answer to nothing is damage
            problems.append(Problem(where, f"{orphans} response(s) without a request; left out"))
        else:
            problems.append(note(where, f"{orphans} response(s) without a request in the capture (the capture "
                                        "began after the request was sent); left out"))
    return out


def direction_summary(d: Direction) -> str:
    return f"{len(d.data)} bytes"


def parse_message(data: bytes, *, response: bool, method: str = "") -> Message | None:
    """One whole HTTP message as a file holds it (Fiddler's raw/NN_c.txt, NN_s.txt): None when its head
    is not complete. A message whose framing says more than the bytes hold keeps what is there."""
    no_body = False
    if response:
        m = _STATUS_LINE.match(data[:data.find(b"\n")].rstrip(b"\r")) if b"\n" in data else None
        status = int(m.group(1)) if m else 0
        no_body = method.upper() == "HEAD" or 100 <= status < 200 or status in (204, 304)
    return _message(data, 0, response=response, no_body=no_body, lost=lambda a, b: 0)
