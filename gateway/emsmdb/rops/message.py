"""Message ROPs (MS-OXCROPS 2.2.6): RopOpenMessage, RopReadRecipients and RopSetReadFlags on the store's items.

RopOpenMessage keeps the Item the store gave (with its content) on the message object, so the
property and stream ROPs that follow read the same version of it. Its response carries the subject's
parts and as many recipient rows as fit; RopReadRecipients returns the rest from a RowId on.
"""
from __future__ import annotations

from gateway.store.errors import StoreError
from protocols.mapi.props import core as P
from protocols.rops import message as M
from protocols.rops.recipients import TYPE_NONE, TYPE_SMTP, TYPE_X500DN, RecipientRow, encode_recipient_row

from ..call import EC_NOT_FOUND, RopError
from ..objects import MessageObj
from ..props import row_values

# the recipient columns of every RecipientRow we send (after the strings in the row itself)
RECIPIENT_COLUMNS = (P.PidTagObjectType, P.PidTagDisplayType, P.PidTagSmtpAddress, P.PidTagRecipientDisplayName,
                     P.PidTagRecipientFlags, P.PidTagRecipientTrackStatus, P.PidTagRecipientOrder)
CP_UNICODE = 1200                  # CodePageId of a row whose strings are Unicode (MS-OXCROPS 2.2.6.1.2.1)
MAPI_MAILUSER = 6
DT_MAILUSER = 0
RECIP_TO = 1
OPEN_READ_WRITE, OPEN_BEST_ACCESS = 0x01, 0x03       # RopOpenMessage OpenModeFlags (MS-OXCROPS 2.2.6.1.1)


def _s(v):
    return v if isinstance(v, str) and v else None


def recipient_row(props: dict, order: int, codepage: str) -> tuple[int, RecipientRow]:
    """(RecipientType, RecipientRow) of one recipient of the store."""
    addrtype = (_s(props.get(P.PidTagAddressType)) or "SMTP").upper()
    email = _s(props.get(P.PidTagEmailAddress))
    smtp = _s(props.get(P.PidTagSmtpAddress)) or (email if addrtype == "SMTP" else None)
    name = _s(props.get(P.PidTagDisplayName)) or smtp or email or ""
    cells = {P.PidTagObjectType: MAPI_MAILUSER, P.PidTagDisplayType: DT_MAILUSER, P.PidTagRecipientOrder: order,
             P.PidTagRecipientFlags: 1, P.PidTagRecipientTrackStatus: 0, P.PidTagRecipientDisplayName: name}
    if smtp:
        cells[P.PidTagSmtpAddress] = smtp
    cells.update({k: v for k, v in props.items() if k in RECIPIENT_COLUMNS and v is not None})
    values = row_values(cells, RECIPIENT_COLUMNS, codepage=codepage, table=False)
    common = dict(display_name=name, transmittable_display_name=name, column_count=len(RECIPIENT_COLUMNS),
                  properties=values)
    if addrtype == "EX" and email:
        row = RecipientRow.build(type=TYPE_X500DN, address_prefix_used=0, display_type=DT_MAILUSER,
                                 x500dn=email, **common)
    elif addrtype == "SMTP":
        row = RecipientRow.build(type=TYPE_SMTP, email_address=smtp or "", **common)
    else:
        row = RecipientRow.build(type=TYPE_NONE, address_type=addrtype, email_address=email or "", **common)
    rtype = props.get(P.PidTagRecipientType)
    return (rtype if isinstance(rtype, int) and 0 <= rtype <= 0xFF else RECIP_TO), row


def _recipients(obj) -> list:
    content = getattr(obj.item, "content", None)
    return list(content.recipients) if content is not None else []


def _subject_parts(props: dict) -> tuple[M.TypedString, M.TypedString]:
    prefix = _s(props.get(P.PidTagSubjectPrefix))
    subject = props.get(P.PidTagNormalizedSubject)
    if not isinstance(subject, str):
        subject = props.get(P.PidTagSubject)
        if isinstance(subject, str) and prefix and subject.startswith(prefix):
            subject = subject[len(prefix):]
    return M.TypedString.of(prefix), M.TypedString.of(subject if isinstance(subject, str) else None)


async def open_message(call, req: M.OpenMessageRequest):
    parent = call.obj(req.input_handle_index, "logon", "folder")
    item = await call.mbx.get_item(req.message_id)              # NotFound -> ecNotFound
    if item.fid != req.folder_id:
        raise RopError(EC_NOT_FOUND, "the message is not in that folder")
    obj = MessageObj(parent.logon_id, item.fid, item.mid, item,
                     writable=bool(req.open_mode_flags & (OPEN_READ_WRITE | OPEN_BEST_ACCESS)))
    props = item.props
    prefix, subject = _subject_parts(props)
    recips = _recipients(obj)
    room = call.space - 64
    rows = []
    for n, r in enumerate(recips):
        rtype, row = recipient_row(r.props, n, call.codepage)
        size = 7 + len(encode_recipient_row(row, RECIPIENT_COLUMNS, codepage=call.codepage))
        if size > room or len(rows) == 0xFF:
            break
        room -= size
        rows.append(M.OpenRecipientRow(rtype, CP_UNICODE, row))
    call.put(req.output_handle_index, parent.logon_id, obj)
    return M.OpenMessageResponse(handle_index=req.output_handle_index, return_value=0,
                                 has_named_properties=int(any(not isinstance(k, int) for k in props)),
                                 subject_prefix=prefix, normalized_subject=subject, recipient_count=len(recips),
                                 recipient_columns=RECIPIENT_COLUMNS, recipient_rows=tuple(rows))


async def read_recipients(call, req: M.ReadRecipientsRequest):
    obj = call.obj(req.input_handle_index, "message")
    recips = _recipients(obj)
    if req.row_id >= len(recips):
        raise RopError(EC_NOT_FOUND, "no recipient at that RowId")
    room = call.space - 8
    rows = []
    for n in range(req.row_id, len(recips)):
        rtype, row = recipient_row(recips[n].props, n, call.codepage)
        data = encode_recipient_row(row, RECIPIENT_COLUMNS, codepage=call.codepage)
        if 11 + len(data) > room or len(rows) == 0xFF:
            break
        room -= 11 + len(data)
        rows.append(M.ReadRecipientRow(n, rtype, CP_UNICODE, data))
    return M.ReadRecipientsResponse(handle_index=req.input_handle_index, return_value=0, recipient_rows=tuple(rows))


# RopSetReadFlags' ReadFlags (MS-OXCMSG 2.2.3.10.1)
RF_CLEAR_READ_FLAG = 0x04
RF_GENERATE_RECEIPT_ONLY = 0x10
RF_CLEAR_NOTIFY = 0x20 | 0x40       # rfClearNotifyRead, rfClearNotifyUnread: receipt state only


async def set_read_flags(call, req: M.SetReadFlagsRequest):
    """Mark messages of the folder read or unread (on IMAP: \\Seen, seen by every client). No MessageIds:
    every message of the folder. Read receipts are not sent, so a receipt-only request changes nothing.
    A message that is not (or no longer) in the folder makes the answer PartialCompletion."""
    folder = call.obj(req.input_handle_index, "folder")
    if req.read_flags & (RF_GENERATE_RECEIPT_ONLY | RF_CLEAR_NOTIFY):
        return M.SetReadFlagsResponse(handle_index=req.input_handle_index, return_value=0, partial_completion=0)
    read = not req.read_flags & RF_CLEAR_READ_FLAG
    mids = list(req.message_ids)
    if not mids:
        mids = [i.mid for i in (await call.mbx.contents_view(folder.fid)).rows(0, None)]
    here = [m for m in mids if _in_folder(call.mbx, m, folder.fid)]
    if here:
        await call.mbx.set_read(here, read)
    return M.SetReadFlagsResponse(handle_index=req.input_handle_index, return_value=0,
                                  partial_completion=int(len(here) != len(mids)))


def _in_folder(mbx, mid: int, fid: int) -> bool:
    try:
        return mbx.item_folder(mid) == fid
    except StoreError:
        return False


HANDLERS = {0x03: open_message, 0x0F: read_recipients, 0x66: set_read_flags}
