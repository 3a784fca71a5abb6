"""`exgate record`: a recording reverse proxy that writes exgate's JSON-lines capture format.

Every request that reaches the listener is sent to the upstream (an Exchange server or an exgate)
at the same path, and the answer streamed back; when the answer is complete the exchange is appended
to the file as one line (protocols/capture/jsonl.py) and flushed, so a cut session still reads.

Connection-bound sign-ins (NTLM, Negotiate) work: each client connection gets its own upstream
connection (one aiohttp session with a one-connection pool per client connection), so the three
legs of a handshake and the requests after it reach the upstream on one TCP connection, as they
would without the proxy. Basic works of course. The Authorization header is written with its scheme
only. Bodies are recorded as on the wire (gzip kept; readers undo it). The listener speaks plain
HTTP; put it behind a TLS terminator, or point a client that accepts http:// at it.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from pathlib import Path
from typing import TextIO

import aiohttp
from aiohttp import web

from protocols.capture.jsonl import exchange_line, meta_line
from protocols.capture.model import Exchange
from .tlsopt import client_ssl

log = logging.getLogger("exgate.record")

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Upstream:
    """One client connection's upstream: a session holding at most one connection."""

    def __init__(self, number: int, ssl_ctx, timeout: aiohttp.ClientTimeout):
        self.number = number
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, ssl=ssl_ctx, enable_cleanup_closed=True),
            auto_decompress=False, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar())


class Recorder:
    def __init__(self, upstream: str, out: TextIO, *, verify_tls: bool = True, timeout: float = 600.0):
        self.upstream = upstream.rstrip("/")
        self.out = out
        self._ssl = client_ssl(verify_tls)
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_read=timeout)
        self._upstreams: dict[object, _Upstream] = {}
        self._connections = 0
        self.seq = 0

    def _upstream_for(self, request: web.Request) -> _Upstream:
        for transport in [t for t, u in self._upstreams.items() if t.is_closing()]:
            asyncio.ensure_future(self._upstreams.pop(transport).session.close())
        transport = request.transport
        if transport not in self._upstreams:
            self._connections += 1
            self._upstreams[transport] = _Upstream(self._connections, self._ssl, self._timeout)
        return self._upstreams[transport]

    async def close(self) -> None:
        for up in self._upstreams.values():
            await up.session.close()
        self._upstreams.clear()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        up = self._upstream_for(request)
        self.seq += 1
        started, when = time.monotonic(), _now()
        gone = False
        body = await request.read()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        ex = Exchange(seq=self.seq, method=request.method, url=self.upstream + request.path_qs,
                      request_headers=list(request.headers.items()), request_body=body, time=when, conn=up.number)
        try:
            async with up.session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                          data=body if body else None, allow_redirects=False,
                                          skip_auto_headers=("Accept-Encoding", "User-Agent", "Accept",
                                                             "Content-Type")) as r:
                ex.status = r.status
                ex.response_headers = list(r.headers.items())
                resp = web.StreamResponse(status=r.status, reason=r.reason)
                for k, v in r.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        resp.headers.add(k, v)
                if r.content_length is not None:
                    resp.content_length = r.content_length
                await resp.prepare(request)
                chunks = []
                try:
                    async for chunk in r.content.iter_any():
                        chunks.append(chunk)
                        try:
                            await resp.write(chunk)
                        except (ConnectionError, aiohttp.ClientConnectionResetError):
                            gone = True           # the client stopped reading (a NotificationWait it gave up)
                            raise
                finally:
                    ex.response_body = b"".join(chunks)     # what came before an interruption is kept
                await resp.write_eof()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            ex.notes.append(f"{'client went away' if gone else 'upstream'}: {type(exc).__name__}: {exc}")
            if ex.status is None:
                ex.status = 502
                ex.response_body = f"exgate record: upstream {self.upstream} failed: {exc}".encode()
                ex.response_headers = [("Content-Type", "text/plain; charset=utf-8")]
                self._write(ex, started)
                return web.Response(status=502, body=ex.response_body, content_type="text/plain")
            self._write(ex, started)
            raise
        self._write(ex, started)
        return resp

    def _write(self, ex: Exchange, started: float) -> None:
        ex.elapsed = round(time.monotonic() - started, 6)
        self.out.write(exchange_line(ex))
        self.out.flush()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 ** 3)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


async def serve(listen_host: str, listen_port: int, upstream: str, out_path: Path, *, verify_tls: bool,
                ready=None) -> None:
    """Run until cancelled; ``ready(url)`` is called once listening."""
    with open(out_path, "a", encoding="utf-8") as out:
        if out.tell() == 0:
            out.write(meta_line(upstream=upstream, started=_now(), recorder="exgate record"))
            out.flush()
        rec = Recorder(upstream, out, verify_tls=verify_tls)
        runner = web.AppRunner(rec.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, listen_host, listen_port)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://{listen_host}:{port}"
        if ready is not None:
            ready(url)
        try:
            await asyncio.Event().wait()
        finally:
            await rec.close()
            await runner.cleanup()
