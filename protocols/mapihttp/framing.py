"""The inner response stream: meta-tags, additional headers, then the body.

MS-OXCMAPIHTTP 2.2.7 and 3.2.5.2. After the HTTP headers the server writes

    PROCESSING\\r\\n            once, as soon as the request is accepted (R1238)
    PENDING\\r\\n               every X-PendingPeriod ms while it works (R1241)
    DONE\\r\\n                  when the answer is ready (R1244)
    X-ElapsedTime: 12\\r\\n     additional headers (R2228); X-ResponseCode here
    X-StartTime: <date>\\r\\n   if the request failed after the first headers (R2229)
    \\r\\n                      an empty line (R2231)
    <response body>            the request type's body, to the end of the stream

The server side is three byte pieces (``processing_line``, ``pending_line``,
``done_block``) for the HTTP layer to write and flush as they come;
``encode_stream``/``decode_stream`` handle a whole stream (tests, replay).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .errors import MapiHttpDecodeError
from .headers import http_date

PROCESSING = b"PROCESSING\r\n"
PENDING = b"PENDING\r\n"
DONE = b"DONE\r\n"
CRLF = b"\r\n"
# a line of the additional-headers block longer than this is garbage, not a header
_MAX_HEADER_LINE = 8192


def processing_line() -> bytes:
    return PROCESSING


def pending_line() -> bytes:
    return PENDING


def done_block(
    body: bytes,
    *,
    elapsed_ms: int,
    start_time: datetime | str,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """DONE, X-ElapsedTime, X-StartTime, any ``extra`` headers, the empty line, the body."""
    start = start_time if isinstance(start_time, str) else http_date(start_time)
    headers = (("X-ElapsedTime", str(int(elapsed_ms))), ("X-StartTime", start)) + tuple(extra)
    return DONE + _header_block(headers) + CRLF + bytes(body)


def _header_block(headers: tuple[tuple[str, str], ...]) -> bytes:
    out = []
    for name, value in headers:
        if not name or any(c in name for c in ":\r\n") or any(c in value for c in "\r\n"):
            raise ValueError(f"not a header: {name!r}: {value!r}")
        out.append(f"{name}: {value}\r\n".encode("latin-1"))
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class ResponseStream:
    """A whole inner response stream, split into its parts."""

    body: bytes
    headers: tuple[tuple[str, str], ...] = ()  # after DONE, in order
    pending: int = 0
    processing: bool = True  # the stream began with PROCESSING

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def elapsed_ms(self) -> int | None:
        value = self.header("X-ElapsedTime")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def response_code(self) -> int | None:
        """An X-ResponseCode among the additional headers: a late failure (R2229)."""
        value = self.header("X-ResponseCode")
        return int(value) if value is not None and value.isdigit() else None

    def encode(self) -> bytes:
        return b"".join((
            PROCESSING if self.processing else b"",
            PENDING * self.pending,
            DONE,
            _header_block(self.headers),
            CRLF,
            self.body,
        ))


def encode_stream(stream: ResponseStream) -> bytes:
    return stream.encode()


def still_held(stream: bytes) -> bool:
    """A response stream that stops before DONE: PROCESSING and PENDING lines only (the last one maybe cut
    short), as a request the server holds (NotificationWait) reads when the client stops waiting."""
    if not stream.startswith(PROCESSING):
        return False
    rest = stream[len(PROCESSING):]
    while rest.startswith(PENDING):
        rest = rest[len(PENDING):]
    return PENDING.startswith(rest)


def decode_stream(data: bytes) -> ResponseStream:
    """Split a recorded inner response stream (the chunked encoding already removed)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MapiHttpDecodeError(f"response stream: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    pos = 0
    processing = data.startswith(PROCESSING)
    if processing:
        pos = len(PROCESSING)
    pending = 0
    while data.startswith(PENDING, pos):
        pending += 1
        pos += len(PENDING)
    if not data.startswith(DONE, pos):
        raise MapiHttpDecodeError(f"response stream: expected PENDING or DONE at offset {pos}")
    pos += len(DONE)
    headers: list[tuple[str, str]] = []
    while True:
        end = data.find(CRLF, pos, pos + _MAX_HEADER_LINE + 2)
        if end < 0:
            raise MapiHttpDecodeError(f"response stream: unterminated header line at offset {pos}")
        if end == pos:  # the empty line; the body follows
            pos += 2
            break
        line = data[pos:end]
        name, colon, value = line.partition(b":")
        if not colon or not name.strip() or name != name.strip():
            raise MapiHttpDecodeError(f"response stream: not a header line at offset {pos}: {line[:40]!r}")
        try:
            headers.append((name.decode("ascii"), value.strip().decode("latin-1")))
        except UnicodeDecodeError:
            raise MapiHttpDecodeError(f"response stream: non-ASCII header name at offset {pos}") from None
        pos = end + 2
    return ResponseStream(body=data[pos:], headers=tuple(headers), pending=pending, processing=processing)
