"""POST /mapi/nspi/: MS-OXCMAPIHTTP's address book endpoint (2.2.5), NSPI calls on the store's directory.

The transport is the one /mapi/emsmdb/ uses (``gateway.http.mapihttp``): headers, body, Session
Context and sequence checked in that order, PROCESSING/PENDING/DONE framing. Bind makes the Session
Context, Unbind ends it; every other call goes through the handler table (``calls.HANDLERS``) with a
``Call``. A directory that does not answer is GeneralFailure in the body, the session lives on.
"""
from __future__ import annotations

import logging

from aiohttp import web

from gateway.http import mapihttp as T
from gateway.http.keys import GATEWAY
from gateway.http.urls import public_base_url
from gateway.store.errors import StoreError
from protocols import mapihttp as M
from protocols.nspi import codec as C

from . import rows as R
from .calls import HANDLERS, Call
from .session import NspiSessionTable

log = logging.getLogger(__name__)

SESSIONS = web.AppKey("nspi_sessions", NspiSessionTable)


def sessions_of(app: web.Application) -> NspiSessionTable:
    return T.session_table(app, SESSIONS, NspiSessionTable)


shutdown = T.closer(SESSIONS)


def _decode(rt: M.RequestType, body: bytes):
    return C.decode_request(rt.value, body)


base_url = public_base_url


async def handle_nspi(request: web.Request) -> web.StreamResponse:
    table = sessions_of(request.app)
    got = await T.accept(request, table, _decode)
    if isinstance(got, web.StreamResponse):
        return got
    meta, user, decoded, session, cookies = got.meta, got.user, got.decoded, got.session, got.cookies
    rt = meta.request_type
    if rt is M.RequestType.PING:
        return await T.stream(request, meta, [], T.nothing)
    name = C.request_type_name(rt.value)
    if rt is M.RequestType.BIND:
        code_page = decoded.state.code_page if decoded.state is not None else 1252
        session = table.create(user.email, user.login, user.display_name, code_page)
        cookies = T.new_session_cookies(meta, session)
    elif rt is M.RequestType.UNBIND:
        table.end(session)
        cookies = T.expired_cookies(M.Endpoint.NSPI)
    handler = HANDLERS[name]
    call = Call(name, session, request.app[GATEWAY].store_directory, user, base_url(request))

    async def run() -> bytes:
        async with session.lock:
            try:
                answer = await handler(call, decoded)
            except StoreError as exc:
                log.info("NSPI %s: directory unavailable: %s", name, exc)
                answer = C.FailureResponse(name, R.GENERAL_FAILURE)
            session.touch()
            return answer.encode()
    return await T.stream(request, meta, cookies, run)
