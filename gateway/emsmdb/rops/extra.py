"""The message ROPs beyond opening and saving (MS-OXCROPS 2.2.6, 2.2.7, 2.2.10): RopSetMessageReadFlag,
RopReloadCachedInformation, RopOpenEmbeddedMessage, RopGetValidAttachments, RopTransportSend,
RopSpoolerLockMessage, RopTransportNewMail, RopOptionsData, RopGetPermissionsTable, RopModifyPermissions.

The gateway is the spooler, so the ROPs a client-side spooler sends about other messages
(SpoolerLockMessage, TransportNewMail) are refused with ecNotSupported. Folder permissions are the
store's (gateway/store/permissions.py: the IMAP server's ACL where it offers one); where there are none
to keep, changing them is refused, never answered with a success that did nothing.
"""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.rops import embedded as E, message as M, permissions as PM, transport as TR

from .. import editing
from gateway.store import permissions
from gateway.store.directory import RECIPIENTS_DN
from protocols.mapi.entryids import decode_address_book, encode_address_book

from ..call import EC_INVALID_PARAM, EC_NO_SUPPORT, EC_NOT_FOUND, RopError
from ..listview import ListRow
from ..objects import MessageObj, TableObj
from .message import CP_UNICODE, RECIPIENT_COLUMNS, _subject_parts, recipient_row
from .submit import submit_message

CLEAR_READ_FLAG = 0x04            # MS-OXCMSG 2.2.3.11.1 ReadFlags
EMBEDDED_CREATE = 0x02            # RopOpenEmbeddedMessage OpenModeFlags


def _message_fields(call, content) -> dict:
    props = editing.tagged(call.mbx, content.props) if content is not None else {}
    prefix, subject = _subject_parts(props)
    rows = []
    recips = list(content.recipients) if content is not None else []
    for n, r in enumerate(recips[:0xFF]):
        rtype, row = recipient_row(r.props, n, call.codepage)
        rows.append(M.OpenRecipientRow(rtype, CP_UNICODE, row))
    return dict(has_named_properties=int(any(not isinstance(k, int) for k in (content.props if content else {}))),
                subject_prefix=prefix, normalized_subject=subject, recipient_count=len(recips),
                recipient_columns=RECIPIENT_COLUMNS, recipient_rows=tuple(rows))


async def set_message_read_flag(call, req: M.SetMessageReadFlagRequest):
    """Read or unread on the store (IMAP \\Seen) for an opened, saved message; ReadStatusChanged says
    whether it changed."""
    obj = call.obj(req.input_handle_index, "message")
    if obj.new:
        raise RopError(EC_NOT_FOUND, "the message is not saved yet")
    read = not req.read_flags & CLEAR_READ_FLAG
    item = obj.item or await call.mbx.get_item(obj.mid)
    was = bool(int(item.props.get(P.PidTagMessageFlags) or 0) & P.MSGFLAG_READ)
    if was != read:
        await call.mbx.set_read([obj.mid], read)
        obj.item = await call.mbx.get_item(obj.mid)
    return M.SetMessageReadFlagResponse(handle_index=req.response_handle_index, return_value=0,
                                        read_status_changed=int(was != read))


async def reload_cached_information(call, req: M.ReloadCachedInformationRequest):
    obj = call.obj(req.input_handle_index, "message")
    if not obj.new and obj.draft is None:
        obj.item = await call.mbx.get_item(obj.mid)
    content = obj.draft if obj.draft is not None else getattr(obj.item, "content", None)
    return M.ReloadCachedInformationResponse(handle_index=req.input_handle_index, return_value=0,
                                             **_message_fields(call, content))


async def open_embedded_message(call, req: E.OpenEmbeddedMessageRequest):
    """The message inside an ATTACH_EMBEDDED_MSG attachment, as a message object of its own; with Create
    an attachment without one gets a new empty message. Saved with RopSaveChangesMessage into the
    attachment (then RopSaveChangesAttachment and the outer message's save keep it)."""
    att = call.obj(req.input_handle_index, "attachment")
    if att.embedded is None:
        if not req.open_mode_flags & EMBEDDED_CREATE:
            raise RopError(EC_NOT_FOUND, "the attachment holds no message")
        editing.need_writable(att)
        from gateway.store.model import MessageContent
        att.embedded = MessageContent({P.PidTagMessageClass: "IPM.Note"})
        att.props[P.PidTagAttachMethod] = 5                     # ATTACH_EMBEDDED_MSG
    inner = MessageObj(att.logon_id, att.message.fid, None, writable=att.writable)
    inner.draft = att.embedded
    inner.embedded_in = att
    call.put(req.output_handle_index, att.logon_id, inner)
    return E.OpenEmbeddedMessageResponse(handle_index=req.output_handle_index, return_value=0, reserved=0,
                                         message_id=0, **_message_fields(call, att.embedded))


async def get_valid_attachments(call, req: E.GetValidAttachmentsRequest):
    obj = call.obj(req.input_handle_index, "message")
    ids = tuple(editing.attachment_number(a, n) for n, a in enumerate(editing.attachments_of(obj)))
    return E.GetValidAttachmentsResponse(handle_index=req.input_handle_index, return_value=0, attachment_ids=ids)


async def transport_send(call, req: TR.TransportSendRequest):
    """As RopSubmitMessage (Outlook sends either), and the message's properties are not sent back."""
    await submit_message(call, M.SubmitMessageRequest(req.logon_id, req.input_handle_index, 0))
    return TR.TransportSendResponse(handle_index=req.input_handle_index, return_value=0, no_properties_returned=1)


async def spooler_only(call, req):
    call.obj(req.input_handle_index, "logon")
    raise RopError(EC_NO_SUPPORT, "the gateway is the spooler")


async def options_data(call, req: TR.OptionsDataRequest):
    """No address-type options and no help file (MS-OXCROPS 2.2.7.9.2)."""
    call.obj(req.input_handle_index, "logon")
    return TR.OptionsDataResponse(handle_index=req.input_handle_index, return_value=0, reserved=1,
                                  options_info=b"", help_file=b"")


PERMISSION_COLUMNS = (P.PidTagMemberId, P.PidTagMemberName, P.PidTagMemberRights, P.PidTagEntryId)


async def get_permissions_table(call, req: PM.GetPermissionsTableRequest):
    """The folder's members as the store keeps them (the IMAP server's ACL where it offers one; else
    Default and Anonymous without rights)."""
    folder = call.obj(req.input_handle_index, "folder")
    rows = []
    for m in await call.mbx.folder_permissions(folder.fid):
        entryid = encode_address_book(RECIPIENTS_DN + "/cn=" + m.identifier) if m.member_id not in (
            permissions.MEMBER_DEFAULT, permissions.MEMBER_ANONYMOUS) else b""
        rows.append(ListRow({P.PidTagMemberId: m.member_id, P.PidTagMemberName: m.name,
                             P.PidTagMemberRights: m.rights, P.PidTagEntryId: entryid}))
    table = TableObj(folder.logon_id, folder.fid, notify=False, fixed_rows=tuple(rows))
    call.put(req.output_handle_index, folder.logon_id, table)
    return PM.GetPermissionsTableResponse(handle_index=req.output_handle_index, return_value=0)


async def modify_permissions(call, req: PM.ModifyPermissionsRequest):
    """Add (a member named by its address book PidTagEntryId), modify or remove (by PidTagMemberId)
    members and their PidTagMemberRights, on the folder's IMAP ACL; where the backend keeps no
    permissions, ecNotSupported (nothing pretends to be saved)."""
    folder = call.obj(req.input_handle_index, "folder")
    set_rights: dict[str, int] = {}
    remove: list[str] = []
    for row in req.permissions_data:
        values = dict(row.property_values)
        if row.flags & PM.ROW_ADD:
            book = decode_address_book(bytes(values.get(P.PidTagEntryId) or b""))
            who = permissions.identifier_of_dn(book[0]) if book else None
            if who is None:
                raise RopError(EC_INVALID_PARAM, "a member is added by its address book EntryID")
        else:
            who = await permissions.identifier_of(call.mbx, folder.fid, values.get(P.PidTagMemberId, -1))
            if who is None:
                raise RopError(EC_NOT_FOUND, "no such member")
        if row.flags & PM.ROW_REMOVE:
            remove.append(who)
        else:
            set_rights[who] = int(values.get(P.PidTagMemberRights) or 0)
    try:
        await call.mbx.change_folder_permissions(folder.fid, set_rights=set_rights, remove=tuple(remove))
    except permissions.NotSupported as exc:
        raise RopError(EC_NO_SUPPORT, str(exc)) from exc
    return PM.ModifyPermissionsResponse(handle_index=req.input_handle_index, return_value=0)


HANDLERS = {0x11: set_message_read_flag, 0x10: reload_cached_information, 0x46: open_embedded_message,
            0x52: get_valid_attachments, 0x4A: transport_send, 0x48: spooler_only, 0x51: spooler_only,
            0x6F: options_data, 0x3E: get_permissions_table, 0x40: modify_permissions}
