"""RopRelease (MS-OXCROPS 2.2.15.3): the object goes, silently (no response); a written stream is committed
first. RopRegisterNotification (2.2.14.1): a subscription object (``notify``)."""
from __future__ import annotations

from protocols.rops.common import RegisterNotificationResponse

from ..objects import NO_HANDLE, NotifyObj


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


async def register_notification(call, req):
    """A subscription (MS-OXCNOTIF 3.1.5.1) on the logon (WantWholeStore, or a folder/message by id) or on
    a folder; the user's notification feed starts with the first one."""
    parent = call.obj(req.input_handle_index, "logon", "folder")
    whole = bool(req.want_whole_store)
    fid = req.folder_id if not whole else None
    if not whole and not fid and parent.kind == "folder":
        fid = parent.fid
    if fid:
        await call.mbx.get_folder(fid)                     # NotFound -> ecNotFound
    sub = NotifyObj(parent.logon_id, req.notification_types, whole, fid, req.message_id or None)
    call.put(req.output_handle_index, parent.logon_id, sub)
    table = getattr(call.session, "table", None)
    if table is not None:
        table.feeds.ensure(call.session.email, call.mbx)
    return RegisterNotificationResponse(handle_index=req.output_handle_index, return_value=0)


HANDLERS = {0x01: release, 0x29: register_notification}
