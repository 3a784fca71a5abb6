"""RopRelease (MS-OXCROPS 2.2.15.3): the object goes, silently (no response)."""
from __future__ import annotations

from ..objects import NO_HANDLE


async def release(call, req):
    if req.input_handle_index < len(call.handles):
        h = call.handles[req.input_handle_index]
        if h != NO_HANDLE:
            call.session.objects.release(h)
    return None


HANDLERS = {0x01: release}
