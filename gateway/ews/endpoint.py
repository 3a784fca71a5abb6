"""The HTTP side of EWS: read the SOAP request, check the caller, dispatch, write the answer.

Never HTTP 500 for an operation this server does not implement (Outlook reads a 500 as a
sign-in failure, gromox#261): that is ErrorInvalidOperation in a ResponseMessage with 200.
A body that is not a SOAP envelope gets the ErrorSchemaValidation fault with 500, as
Exchange 2010 SP2 answered Evolution (evolution-ews tests/traces).
"""
from __future__ import annotations

import logging

from aiohttp import web

from gateway.http.auth.access import owns_mailbox
from gateway.http.sessions import current_user, mailbox_for
from gateway.store import errors as se
from protocols.ews.envelope import ServerVersion, SoapFault, build_fault, build_response, parse_request
from protocols.ews.responses import ResponseError, error_message, response_root

from .context import EwsContext, store_error
from .dispatch import OPERATIONS

log = logging.getLogger("exgate.ews")
SERVER_VERSION = ServerVersion()
CONTENT_TYPE = "text/xml"


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=CONTENT_TYPE, charset="utf-8")


def error_response(operation: str, err: ResponseError) -> bytes:
    root, messages = response_root(operation)
    error_message(messages, operation, err)
    return build_response(root, SERVER_VERSION)


async def handle_ews_get(request: web.Request) -> web.Response:
    current_user(request)
    return web.Response(text="exgate Exchange Web Services: POST SOAP 1.1 requests here.\n",
                        content_type="text/plain")


async def handle_ews(request: web.Request) -> web.StreamResponse:
    from gateway.http.keys import GATEWAY
    user = current_user(request)
    data = await request.read()
    try:
        req = parse_request(data)
    except SoapFault as fault:
        return _xml(build_fault(fault, SERVER_VERSION), fault.status)
    op = req.operation
    if req.impersonation is not None and not owns_mailbox(user, req.impersonation.value):
        return _xml(error_response(op, ResponseError("ErrorImpersonationDenied", None)))
    handler = OPERATIONS.get(op)
    if handler is None:
        return _xml(error_response(op, ResponseError(
            "ErrorInvalidOperation", f"The operation {op} is not supported by this server.")))
    try:
        mbx = await mailbox_for(request)
    except (se.StoreError, OSError) as exc:
        err = store_error(exc if isinstance(exc, se.StoreError) else se.BackendUnavailable(str(exc)))
        return _xml(error_response(op, err))
    ctx = EwsContext(request, request.app[GATEWAY], user, mbx, req)
    try:
        payload = await handler(ctx)
    except SoapFault as fault:
        return _xml(build_fault(fault, SERVER_VERSION), fault.status)
    except Exception as exc:  # noqa: BLE001 - nothing a client sends may crash the session
        return _xml(error_response(op, store_error(exc)))
    if isinstance(payload, web.StreamResponse):  # GetStreamingEvents wrote its own chunked answer
        return payload
    return _xml(build_response(payload, SERVER_VERSION))
