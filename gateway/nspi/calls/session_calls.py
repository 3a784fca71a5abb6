"""Bind and Unbind (MS-OXCMAPIHTTP 2.2.5.1, 2.2.5.2; MS-OXNSPI 3.1.4.1.1, 3.1.4.1.2)."""
from __future__ import annotations

from protocols.nspi.codec import BindResponse, UnbindResponse

from .. import rows as R
from .base import Call


async def bind(call: Call, req) -> BindResponse:
    # the session was made by the endpoint (Bind creates the Session Context); the code page is the STAT's
    if req.state is not None:
        call.session.bind_code_page = req.state.code_page
    return BindResponse(server_guid=call.session.server_guid)


async def unbind(call: Call, req) -> UnbindResponse:
    return UnbindResponse(error_code=R.UNBIND_SUCCESS)
