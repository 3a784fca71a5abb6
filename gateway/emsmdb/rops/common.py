"""RopRelease (MS-OXCROPS 2.2.15.3): the object goes, silently (no response); a written stream is committed
first."""
from __future__ import annotations

from ..objects import NO_HANDLE


async def release(call, req):
    if req.input_handle_index < len(call.handles):
        h = call.handles[req.input_handle_index]
        if h != NO_HANDLE:
            obj = call.session.objects.get(h)
            if obj is not None and obj.kind == "stream":
                from .stream import commit         # a written stream released uncommitted is kept
                commit(call.mbx, obj, call.codepage)
            call.session.objects.release(h)
    return None


HANDLERS = {0x01: release}
