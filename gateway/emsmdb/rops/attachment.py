"""Attachment ROPs (MS-OXCROPS 2.2.6, MS-OXCMSG 3.2.5.9-3.2.5.13): RopGetAttachmentTable, RopOpenAttachment,
RopCreateAttachment, RopDeleteAttachment, RopSaveChangesAttachment.

An attachment is a copy of its properties on the attachment object; RopSaveChangesAttachment puts it into
the message's working copy and RopSaveChangesMessage saves the message with it (MS-OXCMSG 3.2.5.3: an
attachment is saved only with its message). The attachment table lists the message as this object sees
it, unsaved attachments included.
"""
from __future__ import annotations

from protocols.rops import message as M

from .. import editing
from ..call import EC_NOT_FOUND, RopError
from ..objects import AttachmentObj, TableObj
from .table import ensure_view

READ_WRITE, BEST_ACCESS = 0x01, 0x02          # OpenAttachmentFlags


async def get_attachment_table(call, req: M.GetAttachmentTableRequest):
    msg = call.obj(req.input_handle_index, "message")
    table = TableObj(msg.logon_id, msg.fid, message=msg)
    await ensure_view(call, table)
    call.put(req.output_handle_index, msg.logon_id, table)
    return M.GetAttachmentTableResponse(handle_index=req.output_handle_index, return_value=0)


async def open_attachment(call, req: M.OpenAttachmentRequest):
    msg = call.obj(req.input_handle_index, "message")
    att = editing.find_attachment(msg, req.attachment_id)
    if att is None:
        raise RopError(EC_NOT_FOUND, f"no attachment {req.attachment_id}")
    writable = bool(req.open_attachment_flags & (READ_WRITE | BEST_ACCESS)) and msg.writable
    obj = AttachmentObj(msg.logon_id, msg, req.attachment_id, dict(att.props), att.embedded, writable=writable)
    call.put(req.output_handle_index, msg.logon_id, obj)
    return M.OpenAttachmentResponse(handle_index=req.output_handle_index, return_value=0)


async def create_attachment(call, req: M.CreateAttachmentRequest):
    msg = call.obj(req.input_handle_index, "message")
    obj = editing.new_attachment(msg)
    call.put(req.output_handle_index, msg.logon_id, obj)
    return M.CreateAttachmentResponse(handle_index=req.output_handle_index, return_value=0,
                                      attachment_id=obj.number)


async def delete_attachment(call, req: M.DeleteAttachmentRequest):
    msg = call.obj(req.input_handle_index, "message")
    if not editing.delete_attachment(msg, req.attachment_id):
        raise RopError(EC_NOT_FOUND, f"no attachment {req.attachment_id}")
    return M.DeleteAttachmentResponse(handle_index=req.input_handle_index, return_value=0)


async def save_changes_attachment(call, req: M.SaveChangesAttachmentRequest):
    editing.save_attachment(call.obj(req.input_handle_index, "attachment"))
    return M.SaveChangesAttachmentResponse(handle_index=req.response_handle_index, return_value=0)


HANDLERS = {0x21: get_attachment_table, 0x22: open_attachment, 0x23: create_attachment, 0x24: delete_attachment,
            0x25: save_changes_attachment}
