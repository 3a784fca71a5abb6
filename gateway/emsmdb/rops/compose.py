"""Writing messages (MS-OXCROPS 2.2.6, MS-OXCMSG 3.2.5): RopCreateMessage, RopSaveChangesMessage,
RopRemoveAllRecipients, RopModifyRecipients, RopGetMessageStatus, RopSetMessageStatus.

Changes go to the message object's working copy (``editing``) and reach the store on RopSaveChangesMessage.
"""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.rops import message as M
from protocols.rops.recipients import (
    TYPE_MASK, TYPE_SMTP, TYPE_X500DN, decode_recipient_row,
)
from protocols.rops.errors import RopFormatError
from protocols.rops.rows import FlaggedValue, TypedValue

from .. import editing
from ..call import EC_INVALID_PARAM, EC_NOT_FOUND, RopError
from ..editing import key_of
from ..objects import MessageObj
from .message import _in_folder

# SaveFlags, MS-OXCROPS 2.2.6.3.1
KEEP_OPEN_READ_ONLY, KEEP_OPEN_READ_WRITE, FORCE_SAVE = 0x01, 0x02, 0x04
RECIPIENT_TYPE_MASK = 0x0F            # the high bits of RecipientType are flags (resend, P1)


async def create_message(call, req: M.CreateMessageRequest):
    """A new message in a folder; nothing is in the store until RopSaveChangesMessage."""
    parent = call.obj(req.input_handle_index, "logon", "folder")
    folder = await call.mbx.get_folder(req.folder_id)                # NotFound -> ecNotFound
    obj = MessageObj(parent.logon_id, folder.fid, None, associated=bool(req.associated_flag), writable=True)
    editing.working_copy(obj)
    call.put(req.output_handle_index, parent.logon_id, obj)
    return M.CreateMessageResponse(handle_index=req.output_handle_index, return_value=0, message_id=None)


async def save_changes_message(call, req: M.SaveChangesMessageRequest):
    obj = call.obj(req.input_handle_index, "message")
    mid = await editing.save(call.mbx, obj)
    if req.save_flags & 0x03 == KEEP_OPEN_READ_ONLY:
        obj.writable = False
    return M.SaveChangesMessageResponse(handle_index=req.response_handle_index, return_value=0,
                                        input_handle_index=req.input_handle_index, message_id=mid)


async def remove_all_recipients(call, req: M.RemoveAllRecipientsRequest):
    editing.remove_all_recipients(call.obj(req.input_handle_index, "message"))
    return M.RemoveAllRecipientsResponse(handle_index=req.input_handle_index, return_value=0)


def recipient_props(mbx, row, columns, rtype: int, codepage: str) -> dict:
    """A RecipientRow (MS-OXCDATA 2.8.3) as the store's recipient properties."""
    props: dict = {}
    if row.properties is not None:
        for tag, v in zip(columns, row.properties.values):
            if isinstance(v, FlaggedValue):           # no value or an error in that column
                continue
            if isinstance(v, TypedValue):
                tag, v = (tag & 0xFFFF0000) | v.ptype, v.value
            if v is not None:
                props[key_of(mbx, tag)] = v
    kind = row.flags & TYPE_MASK
    email = row.email_address
    if kind == TYPE_X500DN:
        props[P.PidTagAddressType] = "EX"
        props[P.PidTagEmailAddress] = row.x500dn
    elif kind == TYPE_SMTP:
        props[P.PidTagAddressType] = "SMTP"
    elif row.address_type:
        props[P.PidTagAddressType] = row.address_type
    if email:
        props[P.PidTagEmailAddress] = email
        if props.get(P.PidTagAddressType, "SMTP") == "SMTP":
            props.setdefault(P.PidTagSmtpAddress, email)
    name = row.display_name or row.transmittable_display_name or row.simple_display_name
    if name:
        props[P.PidTagDisplayName] = name
    props[P.PidTagRecipientType] = rtype & RECIPIENT_TYPE_MASK
    return props


async def modify_recipients(call, req: M.ModifyRecipientsRequest):
    """Add, replace or remove recipient rows by RowId (an empty RecipientRow removes its row)."""
    obj = call.obj(req.input_handle_index, "message")
    changes: dict = {}
    for mrow in req.recipient_rows:
        if not mrow.recipient_row:
            changes[mrow.row_id] = None
            continue
        try:
            row, _ = decode_recipient_row(mrow.recipient_row, 0, req.recipient_columns, codepage=call.codepage)
        except RopFormatError as exc:
            raise RopError(EC_INVALID_PARAM, f"RecipientRow {mrow.row_id}: {exc}") from exc
        changes[mrow.row_id] = recipient_props(call.mbx, row, req.recipient_columns, mrow.recipient_type,
                                               call.codepage)
    editing.set_recipients(obj, changes)
    return M.ModifyRecipientsResponse(handle_index=req.input_handle_index, return_value=0)


def _status(mbx, mid: int) -> int:
    """PidTagMessageStatus is a client's own marks (hidden, to download, ...): no backend holds it, the
    gateway keeps it in its notes on the message."""
    return int(mbx.remembered(mid).get(P.PidTagMessageStatus) or 0)


async def get_message_status(call, req: M.GetMessageStatusRequest):
    folder = call.obj(req.input_handle_index, "folder")
    if not _in_folder(call.mbx, req.message_id, folder.fid):
        raise RopError(EC_NOT_FOUND, "no such message in the folder")
    return M.GetMessageStatusResponse(handle_index=req.input_handle_index, return_value=0,
                                      message_status_flags=_status(call.mbx, req.message_id))


async def set_message_status(call, req: M.SetMessageStatusRequest):
    """PidTagMessageStatus bits under the mask; the answer is the status before (MS-OXCMSG 3.2.5.8)."""
    folder = call.obj(req.input_handle_index, "folder")
    if not _in_folder(call.mbx, req.message_id, folder.fid):
        raise RopError(EC_NOT_FOUND, "no such message in the folder")
    old = _status(call.mbx, req.message_id)
    new = (old & ~req.message_status_mask) | (req.message_status_flags & req.message_status_mask)
    if new != old:
        call.mbx.remember(req.message_id, {P.PidTagMessageStatus: new})
    return M.SetMessageStatusResponse(handle_index=req.input_handle_index, return_value=0,
                                      message_status_flags=old)


HANDLERS = {0x06: create_message, 0x0C: save_changes_message, 0x0D: remove_all_recipients,
            0x0E: modify_recipients, 0x1F: get_message_status, 0x20: set_message_status}
