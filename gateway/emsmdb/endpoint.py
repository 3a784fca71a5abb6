"""POST /mapi/emsmdb/: MS-OXCMAPIHTTP's mailbox endpoint.

A request is checked in this order, and the first problem answers HTTP 200 with its X-ResponseCode
(2.2.3.3.3) and no body to read: the headers (``validate_request``), the body (Invalid Request Body
12), the Session Context (Context Not Found 10: unknown, expired, disconnected, or another user's) and
the sequence cookie (Invalid Sequence 15). An accepted request gets the first headers, PROCESSING,
PENDING every X-PendingPeriod while the work runs, then DONE, the additional headers and the body.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from aiohttp import web

from gateway.http.sessions import current_user, mailbox_for
from gateway.store.errors import StoreError
from protocols import mapihttp as M
from protocols.mapihttp.headers import DEFAULT_PENDING_PERIOD_MS, SEQUENCE_COOKIE, CONTEXT_COOKIE

from .execute import execute
from .sessions import IDLE_SECONDS, SessionTable

log = logging.getLogger(__name__)

ORG_DN = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"   # as Autodiscover's LegacyDN
MAX_POLLING_INTERVAL_MS = 60_000
RETRY_COUNT = 6
RETRY_DELAY_MS = 10_000
NOTIFICATION_WAIT_SECONDS = 0.0     # no notifications yet: answer at once with EventPending 0
SESSIONS = web.AppKey("emsmdb_sessions", SessionTable)
PENDING_PERIOD = web.AppKey("emsmdb_pending_period_ms", int)


def sessions_of(app: web.Application) -> SessionTable:
    table = app.get(SESSIONS)
    if table is None:
        table = SessionTable()
        app[SESSIONS] = table
    return table


async def shutdown(app: web.Application) -> None:
    table = app.get(SESSIONS)
    if table is not None:
        table.clear()


def _headers_of(request: web.Request):
    items = list(request.headers.items())
    if not any(k.lower() == "host" for k, _ in items) and request.host:
        items.append(("Host", request.host))
    return items


def _reject(rejection: M.Rejection, *, cookies: list[str] = ()) -> web.Response:
    headers = M.response_headers(rejection)
    resp = web.Response(status=200, headers=headers,
                        body=f"<html><body>{int(rejection.code)}: {rejection.reason}</body></html>".encode())
    for c in cookies:
        resp.headers.add("Set-Cookie", c)
    return resp


def _later(meta: M.RequestMeta, code: M.ResponseCode, reason: str) -> M.Rejection:
    echo = meta.echo_headers()
    return M.Rejection(code, reason, echo.get("X-RequestType"), echo.get("X-RequestId"), echo.get("X-ClientInfo"))


async def handle_emsmdb(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    meta = M.validate_request(request.method, request.path, _headers_of(request), authenticated=True)
    if isinstance(meta, M.Rejection):
        return _reject(meta)
    body = await request.read()
    rt = meta.request_type
    try:
        decoded = M.decode_request(rt.value, body) if rt is not M.RequestType.PING else None
    except (M.MapiHttpDecodeError, ValueError, KeyError) as exc:
        return _reject(_later(meta, M.ResponseCode.INVALID_REQUEST_BODY, str(exc)))
    table = sessions_of(request.app)
    if rt is M.RequestType.PING:
        return await _stream(request, meta, [], lambda: _nothing())
    if rt is M.RequestType.CONNECT:
        return await _connect(request, meta, user, decoded, table)
    session = table.get(meta.context_cookie, user.email)
    if session is None:
        return _reject(_later(meta, M.ResponseCode.CONTEXT_NOT_FOUND, "no such session context"))
    bad = M.check_sequence(meta, session.sequence)
    if bad is not None:
        return _reject(bad)
    cookies: list[str] = []
    if rt.sequenced:
        cookies = M.set_cookie_values(M.Endpoint.EMSMDB, session.context, session.next_sequence())
    session.touch()
    if rt is M.RequestType.DISCONNECT:
        table.end(session)
        expired = [f"{CONTEXT_COOKIE}=; path=/mapi/emsmdb/; HttpOnly; Max-Age=0",
                   f"{SEQUENCE_COOKIE}=; path=/mapi/emsmdb/; HttpOnly; Max-Age=0"]
        return await _stream(request, meta, expired, lambda: _encode(M.DisconnectResponse()))
    if rt is M.RequestType.NOTIFICATION_WAIT:
        async def wait():
            await asyncio.sleep(NOTIFICATION_WAIT_SECONDS)
            return M.NotificationWaitResponse(event_pending=False).encode()
        return await _stream(request, meta, cookies, wait)

    async def run():
        async with session.lock:
            try:
                mbx = await mailbox_for(request)
            except StoreError as exc:
                log.info("EMSMDB Execute: mailbox unavailable: %s", exc)
                return M.FailureResponse(0x80040115).encode()       # ecNetworkError
            code, rops = await execute(session, mbx, decoded.rop_buffer, decoded.max_rop_out)
            session.touch()
            return M.ExecuteResponse(rop_buffer=rops, error_code=code).encode()
    return await _stream(request, meta, cookies, run)


async def _nothing() -> bytes:
    return b""


async def _encode(obj) -> bytes:
    return obj.encode()


async def _connect(request, meta, user, req: M.ConnectRequest, table: SessionTable):
    session = table.create(user.email, user.login, user.display_name, req.default_code_page)
    cookies = M.set_cookie_values(M.Endpoint.EMSMDB, session.context, session.next_sequence())

    async def run():
        try:
            await mailbox_for(request)              # opened now, so the first Execute does not wait
        except StoreError as exc:
            log.info("EMSMDB Connect: mailbox unavailable: %s", exc)
            table.end(session)
            return M.FailureResponse(0x80040115).encode()
        return M.ConnectResponse(max_polling_interval=MAX_POLLING_INTERVAL_MS, retry_count=RETRY_COUNT,
                                 retry_delay=RETRY_DELAY_MS, dn_prefix=ORG_DN,
                                 display_name=user.display_name or user.email).encode()
    return await _stream(request, meta, cookies, run)


async def _stream(request: web.Request, meta: M.RequestMeta, cookies: list[str], work) -> web.StreamResponse:
    """First headers, PROCESSING, PENDING while ``work()`` runs, DONE + additional headers + its body."""
    period_ms = request.app.get(PENDING_PERIOD, DEFAULT_PENDING_PERIOD_MS)
    started = time.monotonic()
    start_time = datetime.now(timezone.utc)
    resp = web.StreamResponse(status=200, headers=M.response_headers(meta, pending_period_ms=period_ms,
                                                                     expiration_ms=int(IDLE_SECONDS * 1000)))
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
        log.exception("EMSMDB %s failed", meta.request_type.value)
        body, extra = b"", (("X-ResponseCode", str(int(M.ResponseCode.UNKNOWN_FAILURE))),)
    await resp.write(M.done_block(body, elapsed_ms=int((time.monotonic() - started) * 1000),
                                  start_time=start_time, extra=extra))
    await resp.write_eof()
    return resp
