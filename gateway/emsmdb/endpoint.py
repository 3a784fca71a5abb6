"""POST /mapi/emsmdb/: MS-OXCMAPIHTTP's mailbox endpoint.

The MAPI/HTTP transport (``gateway.http.mapihttp``, shared with /mapi/nspi/) checks a request in this
order, and the first problem answers HTTP 200 with its X-ResponseCode (2.2.3.3.3) and no body to read:
the headers (``validate_request``), the body (Invalid Request Body 12), the Session Context (Context
Not Found 10: unknown, expired, disconnected, or another user's) and the sequence cookie (Invalid
Sequence 15). An accepted request gets the first headers, PROCESSING, PENDING every X-PendingPeriod
while the work runs, then DONE, the additional headers and the body.
"""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gateway.http import mapihttp as T
from gateway.http.sessions import mailbox_for
from gateway.store.errors import StoreError
from protocols import mapihttp as M

from .execute import execute
from .sessions import SessionTable

log = logging.getLogger(__name__)

ORG_DN = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"   # as Autodiscover's LegacyDN
MAX_POLLING_INTERVAL_MS = 60_000
RETRY_COUNT = 6
RETRY_DELAY_MS = 10_000
# how long a NotificationWait is held when nothing happens (the client sends the next one at once); well
# under the session's idle expiry and the proxies' read timeouts, the PENDING keep-alives cover the wait
NOTIFICATION_WAIT_SECONDS = 300.0
SESSIONS = web.AppKey("emsmdb_sessions", SessionTable)
PENDING_PERIOD = T.PENDING_PERIOD


def sessions_of(app: web.Application) -> SessionTable:
    return T.session_table(app, SESSIONS, SessionTable)


shutdown = T.closer(SESSIONS)


def _decode(rt: M.RequestType, body: bytes):
    return M.decode_request(rt.value, body)


async def handle_emsmdb(request: web.Request) -> web.StreamResponse:
    table = sessions_of(request.app)
    got = await T.accept(request, table, _decode)
    if isinstance(got, web.StreamResponse):
        return got
    meta, user, decoded, session, cookies = got.meta, got.user, got.decoded, got.session, got.cookies
    rt = meta.request_type
    if rt is M.RequestType.PING:
        return await T.stream(request, meta, [], T.nothing)
    if rt is M.RequestType.CONNECT:
        return await _connect(request, meta, user, decoded, table)
    if rt is M.RequestType.DISCONNECT:
        table.end(session)
        return await T.stream(request, meta, T.expired_cookies(M.Endpoint.EMSMDB),
                              lambda: _encode(M.DisconnectResponse()))
    if rt is M.RequestType.NOTIFICATION_WAIT:
        limit = NOTIFICATION_WAIT_SECONDS  # read per wait: tests shorten it

        async def wait():
            # MS-OXCMAPIHTTP 3.1.5.5: answers when an event for the session is waiting (the next Execute
            # carries it), or when the wait ends with nothing
            session.touch()
            if not session.pending:
                session.wake.clear()
                try:
                    await asyncio.wait_for(session.wake.wait(), limit)
                except asyncio.TimeoutError:
                    pass
            session.touch()
            return M.NotificationWaitResponse(event_pending=bool(session.pending)).encode()
        return await T.stream(request, meta, cookies, wait)

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
    return await T.stream(request, meta, cookies, run)


async def _encode(obj) -> bytes:
    return obj.encode()


async def _connect(request, meta, user, req: M.ConnectRequest, table: SessionTable):
    session = table.create(user.email, user.login, user.display_name, req.default_code_page)
    cookies = T.new_session_cookies(meta, session)

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
    return await T.stream(request, meta, cookies, run)
