"""What every capture reader yields: HTTP exchanges in the order they happened, and what it could not read.

A reader never raises on a damaged file: it returns the exchanges it could read and a list of
``Problem`` (where, what), so `exgate decode` shows both. Bodies are bytes as they were on the wire;
``request_content``/``response_content`` undo a gzip/deflate Content-Encoding.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Exchange:
    """One HTTP request and its answer (``status`` None when the capture holds no answer)."""

    seq: int
    method: str
    url: str                                   # absolute URL or a path
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    time: str | None = None                    # ISO 8601 when the request started
    elapsed: float | None = None               # seconds until the answer was complete
    conn: int | None = None                    # the client connection it came on (connection-bound auth)
    source: str = ""                           # where in the file it came from ("line 3", "0007-POST-GetItem.txt")
    notes: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def request_header(self, name: str) -> str | None:
        return header(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return header(self.response_headers, name)

    @property
    def request_content(self) -> bytes:
        return decoded_body(self.request_body, self.request_header("Content-Encoding"))

    @property
    def response_content(self) -> bytes:
        return decoded_body(self.response_body, self.response_header("Content-Encoding"))


@dataclass(frozen=True)
class Problem:
    """Something a reader met. ``level`` "error": part of the capture could not be decoded (a damaged
    or cut-off file, a lost segment, a body that does not parse); "note": said for information only,
    everything was still decoded (a segment put back in order, a capture that began mid-connection)."""

    where: str
    what: str
    level: str = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"

    @property
    def is_error(self) -> bool:
        return self.level != "note"


def note(where: str, what: str) -> Problem:
    return Problem(where, what, "note")


@dataclass
class Capture:
    format: str                                # "jsonl", "har", "recorder", "pcap", "pcapng"
    exchanges: list[Exchange] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    # pcap/pcapng only: the TCP connections that are not HTTP (DCE/RPC over TCP, TLS), as
    # protocols.capture.tcp.Stream, for the readers of those protocols
    streams: list = field(default_factory=list)


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def decoded_body(body: bytes, encoding: str | None) -> bytes:
    """The body without its gzip/deflate Content-Encoding (as it was when the encoding is unknown or broken)."""
    enc = (encoding or "").strip().lower()
    if not body or enc not in ("gzip", "x-gzip", "deflate"):
        return body
    try:
        if enc == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)    # raw deflate, as some servers send it
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    except zlib.error:
        return body


def redact_authorization(value: str) -> str:
    """Authorization (and Proxy-Authorization) kept as its scheme only: "NTLM", "Basic", "Bearer"."""
    return value.strip().split(None, 1)[0] if value.strip() else value


SECRET_HEADERS = ("authorization", "proxy-authorization")


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, redact_authorization(v) if k.lower() in SECRET_HEADERS else v) for k, v in headers]
