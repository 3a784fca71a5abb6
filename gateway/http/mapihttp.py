"""The MAPI over HTTP transport both endpoints share (MS-OXCMAPIHTTP): /mapi/emsmdb/ and /mapi/nspi/.

Each endpoint keeps only what is its own (the calls and what a session holds); this module has the rest:

- ``MapiSession`` / ``SessionTable``: Session Contexts of this process (3.1.5.1, 3.2.5.1), one per
  Connect or Bind: the owner, the sequence cookie issued last, a lock; bounded per user and in all,
  ended when idle. An endpoint subclasses ``MapiSession`` for what its sessions hold and hands the
  class to its table.
- ``accept``: a request checked in the spec's order, the first problem answering HTTP 200 with its
  X-ResponseCode (2.2.3.3.3) and no body to read: the headers (``validate_request``), the body
  (Invalid Request Body 12, through the endpoint's decoder), the Session Context (Context Not Found
  10: unknown, expired, ended, or another user's) and the sequence cookie (Invalid Sequence 15). What
  passes comes back as ``Accepted`` with the next sequence cookie already issued.
- Several workers (`serve --workers N`): a session's MapiContext cookie names its worker (``w3-...``);
  a request for another worker's session is passed to it before the lookup (gateway/http/forward.py),
  and Context Not Found when that worker is gone.
- ``stream``: the answer of an accepted request: first headers, PROCESSING, PENDING every
  X-PendingPeriod while the work runs, then DONE, the additional headers and the body (2.2.7).
- ``reject`` / ``later``: the rejection answer, and a rejection found after the headers were read.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from aiohttp import web

from protocols import mapihttp as M
from protocols.mapihttp.headers import CONTEXT_COOKIE, DEFAULT_PENDING_PERIOD_MS, SEQUENCE_COOKIE

from . import forward
from .sessions import current_user

log = logging.getLogger(__name__)

IDLE_SECONDS = 30 * 60          # X-ExpirationInfo: how long an idle Session Context lives
MAX_PER_USER = 16
MAX_SESSIONS = 10_000
PENDING_PERIOD = web.AppKey("mapihttp_pending_period_ms", int)


def codepage_name(cp: int) -> str:
    """A Windows code page number as a Python codec name (cp1252 when Python has none)."""
    name = f"cp{cp}"
    try:
        "".encode(name)
    except LookupError:
        return "cp1252"
    return name


@dataclass(eq=False)
class MapiSession:
    context: str                    # the MapiContext cookie
    email: str                      # the signed-in user's address (lower case): the owner
    login: str
    display_name: str
    code_page: str = "cp1252"
    sequence: str | None = None     # the MapiSequence cookie expected next
    created: float = field(default_factory=time.monotonic)
    used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    def next_sequence(self) -> str:
        self.sequence = secrets.token_hex(16)
        return self.sequence

    def touch(self) -> None:
        self.used = time.monotonic()

    def close(self) -> None:
        """Ended (Disconnect/Unbind, idle, evicted): subclasses drop what the session holds."""
        self.closed = True


def session_table(app: web.Application, key, factory):
    """An endpoint's Session Context table in the app (made on first use: an app built without the
    endpoint's ``register`` still answers)."""
    table = app.get(key)
    if table is None:
        table = app[key] = factory()
    return table


def closer(key):
    """The app cleanup that ends every session of the table under ``key``."""
    async def shutdown(app: web.Application) -> None:
        table = app.get(key)
        if table is not None:
            table.clear()
    return shutdown


class SessionTable:
    def __init__(self, *, idle: float = IDLE_SECONDS, per_user: int = MAX_PER_USER, total: int = MAX_SESSIONS,
                 session_class: type[MapiSession] = MapiSession):
        self.idle = idle
        self.per_user = per_user
        self.total = total
        self.session_class = session_class
        self.prefix = ""                # "w<n>-" in worker n of `serve --workers` (gateway/http/forward.py)
        self._by_context: dict[str, MapiSession] = {}

    def __len__(self) -> int:
        return len(self._by_context)

    def create(self, email: str, login: str, display_name: str, code_page: int = 1252) -> Any:
        self.expire()
        mine = sorted((s for s in self._by_context.values() if s.email == email.lower()), key=lambda s: s.used)
        while len(mine) >= self.per_user:
            self.end(mine.pop(0))
        if len(self._by_context) >= self.total:
            self.end(min(self._by_context.values(), key=lambda s: s.used))
        s = self.session_class(self.prefix + secrets.token_hex(16), email.lower(), login, display_name,
                               codepage_name(code_page))
        self._by_context[s.context] = s
        return s

    def get(self, context: str | None, email: str) -> Any:
        """The live session of that cookie if it is the user's own; None otherwise (Context Not Found)."""
        self.expire()
        s = self._by_context.get(context or "")
        if s is None or s.email != email.lower():
            return None
        return s

    def end(self, s: MapiSession) -> None:
        s.close()
        self._by_context.pop(s.context, None)

    def expire(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        old = [s for s in self._by_context.values() if now - s.used > self.idle and not s.lock.locked()]
        for s in old:
            self.end(s)
        return len(old)

    def clear(self) -> None:
        for s in list(self._by_context.values()):
            self.end(s)


# ---------------------------------------------------------------- answers


def headers_of(request: web.Request):
    items = list(request.headers.items())
    if not any(k.lower() == "host" for k, _ in items) and request.host:
        items.append(("Host", request.host))
    return items


def reject(rejection: M.Rejection, *, cookies: list[str] = ()) -> web.Response:
    headers = M.response_headers(rejection)
    resp = web.Response(status=200, headers=headers,
                        body=f"<html><body>{int(rejection.code)}: {rejection.reason}</body></html>".encode())
    for c in cookies:
        resp.headers.add("Set-Cookie", c)
    return resp


def later(meta: M.RequestMeta, code: M.ResponseCode, reason: str) -> M.Rejection:
    echo = meta.echo_headers()
    return M.Rejection(code, reason, echo.get("X-RequestType"), echo.get("X-RequestId"), echo.get("X-ClientInfo"))


def expired_cookies(endpoint: M.Endpoint) -> list[str]:
    """Set-Cookie values that end the Session Context's cookies (after Disconnect/Unbind)."""
    path = f"/mapi/{endpoint.value}/"
    return [f"{CONTEXT_COOKIE}=; path={path}; HttpOnly; Max-Age=0",
            f"{SEQUENCE_COOKIE}=; path={path}; HttpOnly; Max-Age=0"]


@dataclass
class Accepted:
    meta: M.RequestMeta
    user: Any                       # the signed-in user (gateway.http.sessions.current_user)
    decoded: Any                    # the endpoint decoder's answer (None for PING)
    session: Any = None             # None for PING, Connect and Bind
    cookies: list[str] = field(default_factory=list)

    @property
    def request_type(self) -> M.RequestType:
        return self.meta.request_type


async def accept(request: web.Request, table: SessionTable,
                 decode: Callable[[M.RequestType, bytes], Any]) -> web.Response | Accepted:
    """Headers, body, Session Context, sequence: the first that fails is the answer (a Response)."""
    user = current_user(request)
    meta = M.validate_request(request.method, request.path, headers_of(request), authenticated=True)
    if isinstance(meta, M.Rejection):
        return reject(meta)
    body = await request.read()
    rt = meta.request_type
    if rt.needs_context and (owner := forward.elsewhere(request, meta.context_cookie)) is not None:
        relayed = await forward.relay(request, owner, user, body)      # another worker holds the session
        return relayed if relayed is not None else reject(later(
            meta, M.ResponseCode.CONTEXT_NOT_FOUND, f"worker {owner}, which held this session context, is gone"))
    if rt.creates_context:
        table.prefix = forward.cookie_prefix(request.app)
    try:
        decoded = decode(rt, body) if rt is not M.RequestType.PING else None
    except (M.MapiHttpDecodeError, ValueError, KeyError) as exc:
        return reject(later(meta, M.ResponseCode.INVALID_REQUEST_BODY, str(exc)))
    if rt is M.RequestType.PING or rt.creates_context:
        return Accepted(meta, user, decoded)
    session = table.get(meta.context_cookie, user.email)
    if session is None:
        return reject(later(meta, M.ResponseCode.CONTEXT_NOT_FOUND, "no such session context"))
    bad = M.check_sequence(meta, session.sequence)
    if bad is not None:
        return reject(bad)
    cookies: list[str] = []
    if rt.sequenced:
        cookies = M.set_cookie_values(meta.endpoint, session.context, session.next_sequence())
    session.touch()
    return Accepted(meta, user, decoded, session, cookies)


def new_session_cookies(meta: M.RequestMeta, session: MapiSession) -> list[str]:
    """The cookies a Connect/Bind answer sets: the new Session Context and its first sequence."""
    return M.set_cookie_values(meta.endpoint, session.context, session.next_sequence())


async def nothing() -> bytes:
    return b""


async def stream(request: web.Request, meta: M.RequestMeta, cookies: list[str],
                 work: Callable[[], Awaitable[bytes]], *, idle: float = IDLE_SECONDS) -> web.StreamResponse:
    """First headers, PROCESSING, PENDING while ``work()`` runs, DONE + additional headers + its body."""
    period_ms = request.app.get(PENDING_PERIOD, DEFAULT_PENDING_PERIOD_MS)
    started = time.monotonic()
    start_time = datetime.now(timezone.utc)
    resp = web.StreamResponse(status=200, headers=M.response_headers(meta, pending_period_ms=period_ms,
                                                                     expiration_ms=int(idle * 1000)))
    for c in cookies:
        resp.headers.add("Set-Cookie", c)
    await resp.prepare(request)
    await resp.write(M.processing_line())
    task = asyncio.ensure_future(work())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=period_ms / 1000)
            if done:
                break
            await resp.write(M.pending_line())
        body = task.result()
        extra: tuple = ()
    except asyncio.CancelledError:
        task.cancel()
        raise
    except Exception:   # noqa: BLE001 - a failure after the first headers goes in the additional headers
        log.exception("%s %s failed", meta.endpoint.value, meta.request_type.value)
        body, extra = b"", (("X-ResponseCode", str(int(M.ResponseCode.UNKNOWN_FAILURE))),)
    await resp.write(M.done_block(body, elapsed_ms=int((time.monotonic() - started) * 1000),
                                  start_time=start_time, extra=extra))
    await resp.write_eof()
    return resp
