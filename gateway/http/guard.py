"""Time limits on connections that stall: no complete request head, no body, nothing at all.

aiohttp bounds none of these by itself (its keep-alive limit is an hour), so a
client that opens connections and sends a few bytes, or a Content-Length it
never delivers, would hold them for as long as it likes. Each connection's
protocol is wrapped in ``GuardedProtocol``, which notes when bytes arrive; the
middleware notes when a request is being handled; a sweep every few seconds
closes connections that are

- part-way through a request head for longer than ``head_seconds``,
- idle (no request at all) for longer than ``idle_seconds``.

A request body must arrive within ``body_seconds`` (``read_body`` in the
middleware; 408 otherwise). Streaming endpoints (RPC/HTTP channels, EWS
streaming notifications) are busy while their handler runs and are never cut.
TLS handshakes are bounded by asyncio's own 60 s ``ssl_handshake_timeout``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass
class GuardSettings:
    head_seconds: float = 30.0     # from the first byte of a request to its complete head
    idle_seconds: float = 120.0    # a connection with no request in progress and nothing sent
    body_seconds: float = 60.0     # for the whole body of a (size-limited) request
    sweep_seconds: float = 5.0


class GuardedProtocol(asyncio.Protocol):
    """Forwards everything to aiohttp's RequestHandler and notes when bytes arrive."""

    def __init__(self, inner: Any, guard: "ConnectionGuard"):
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.BaseTransport | None = None
        self.busy = 0                       # requests being handled
        self.waiting_since = time.monotonic()
        self.partial = False                # bytes of a next request arrived while not busy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.guard.opened(self)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy and data:
            self.partial = True
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def overdue(self, now: float, settings: GuardSettings) -> str | None:
        if self.busy:
            return None
        waited = now - self.waiting_since
        if self.partial and waited > settings.head_seconds:
            return f"no complete request head within {settings.head_seconds:g} s"
        if not self.partial and waited > settings.idle_seconds:
            return f"idle for {settings.idle_seconds:g} s"
        return None


class ConnectionGuard:
    def __init__(self, settings: GuardSettings | None = None):
        self.settings = settings or GuardSettings()
        self._by_inner: dict[int, GuardedProtocol] = {}
        self._task: asyncio.Task | None = None
        self.closed_count = 0               # connections this guard cut (for tests and metrics)

    # ---------------------------------------------------------------- wiring

    def factory(self, inner_factory: Callable[[], Any]) -> Callable[[], GuardedProtocol]:
        def make() -> GuardedProtocol:
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._sweep())
            return GuardedProtocol(inner_factory(), self)
        return make

    def opened(self, p: GuardedProtocol) -> None:
        self._by_inner[id(p.inner)] = p

    def closed(self, p: GuardedProtocol) -> None:
        self._by_inner.pop(id(p.inner), None)

    def of_request(self, request: web.Request) -> GuardedProtocol | None:
        return self._by_inner.get(id(request.protocol))

    def __len__(self) -> int:
        return len(self._by_inner)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # ---------------------------------------------------------------- requests

    def started(self, request: web.Request) -> None:
        p = self.of_request(request)
        if p is not None:
            p.busy += 1
            p.partial = False

    def finished(self, request: web.Request) -> None:
        p = self.of_request(request)
        if p is not None:
            p.busy = max(0, p.busy - 1)
            p.waiting_since = time.monotonic()
            p.partial = False

    async def read_body(self, request: web.Request) -> None:
        """Read a size-limited body now (handlers get it from aiohttp's cache), within body_seconds."""
        if not request.body_exists:
            return
        try:
            await asyncio.wait_for(request.read(), self.settings.body_seconds)
        except asyncio.TimeoutError:
            raise web.HTTPRequestTimeout(
                reason="request body too slow",
                text=f"408 Request Timeout: the body did not arrive within {self.settings.body_seconds:g} s\n",
                headers={"Connection": "close"}) from None

    # ---------------------------------------------------------------- the sweep

    def sweep(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        cut = 0
        for p in list(self._by_inner.values()):
            why = p.overdue(now, self.settings)
            if why is not None and p.transport is not None and not p.transport.is_closing():
                peer = p.transport.get_extra_info("peername")
                log.info("closing connection from %s: %s", peer[0] if peer else "?", why)
                p.transport.close()
                cut += 1
        self.closed_count += cut
        return cut

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            self.sweep()


class GuardedRunner(web.AppRunner):
    """An AppRunner whose sites get guarded protocols (``runner.server`` is the protocol factory sites use)."""

    def __init__(self, app: web.Application, guard: ConnectionGuard, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.guard = guard

    @property
    def server(self):  # type: ignore[override]
        inner = super().server
        return None if inner is None else self.guard.factory(inner)

    async def cleanup(self) -> None:
        await self.guard.stop()
        await super().cleanup()


GUARD = web.AppKey("exgate_guard", ConnectionGuard)


@web.middleware
async def guard_middleware(request: web.Request, handler):
    guard = request.app.get(GUARD)
    if guard is None:
        return await handler(request)
    guard.started(request)
    try:
        return await handler(request)
    finally:
        guard.finished(request)
