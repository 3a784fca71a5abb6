"""Sending (MS-OXCROPS 2.2.7, MS-OXOMSG 3.2.5): RopSubmitMessage, RopAbortSubmit, RopGetAddressTypes,
RopSetSpooler, RopGetTransportFolder.

RopSubmitMessage saves what is unsaved and hands the message to the store's submission
(``Mailbox.submit``): sent over SMTP and moved to Sent Items (or the folder PidTagSentMailEntryId names,
or deleted with PidTagDeleteAfterSubmit); when the mail server cannot take it now it waits in the Outbox
and is retried, which is a success for the client as in Exchange. The message is never lost: a
permanent refusal fails the ROP and leaves it where it was.
"""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.rops import message as M

from .. import editing
from ..call import RopError

EC_NO_RECIPIENTS = 0x80040607          # MAPI_E_NO_RECIPIENTS
EC_UNABLE_TO_ABORT = 0x80040114        # MAPI_E_UNABLE_TO_ABORT
ADDRESS_TYPES = ("SMTP", "EX")


def _sent_folder(mbx, props: dict) -> int | None:
    entryid = props.get(P.PidTagSentMailEntryId)
    if not isinstance(entryid, (bytes, bytearray)):
        return None
    try:
        kind, fid = mbx.resolve_entryid(bytes(entryid))
    except Exception:   # noqa: BLE001 - an EntryID not of this mailbox: the default Sent Items
        return None
    return fid if kind == "folder" else None


async def submit_message(call, req: M.SubmitMessageRequest):
    obj = call.obj(req.input_handle_index, "message")
    content = editing.working_copy(obj)
    if not content.recipients:
        raise RopError(EC_NO_RECIPIENTS, "the message has no recipients")
    save_in = _sent_folder(call.mbx, content.props)
    if obj.dirty:
        editing.need_writable(obj)
        await editing.save(call.mbx, obj)
    sent = await call.mbx.submit(obj.mid, save_in=save_in)       # SubmitFailed -> its error, message kept
    obj.writable = False
    if sent is not None:
        obj.mid, obj.fid, obj.item = sent.mid, sent.fid, None
    return M.SubmitMessageResponse(handle_index=req.input_handle_index, return_value=0)


async def abort_submit(call, req: M.AbortSubmitRequest):
    """A submitted message is handed to SMTP at once (or queued for retry): there is nothing to abort."""
    call.obj(req.input_handle_index, "logon", "folder", "message")
    raise RopError(EC_UNABLE_TO_ABORT, "the message was already handed to the mail server")


async def get_address_types(call, req: M.GetAddressTypesRequest):
    call.obj(req.input_handle_index, "logon")
    return M.GetAddressTypesResponse(handle_index=req.input_handle_index, return_value=0,
                                     address_types=ADDRESS_TYPES)


async def set_spooler(call, req: M.SetSpoolerRequest):
    """The gateway is the spooler; the client's claim changes nothing."""
    call.obj(req.input_handle_index, "logon")
    return M.SetSpoolerResponse(handle_index=req.input_handle_index, return_value=0)


async def get_transport_folder(call, req: M.GetTransportFolderRequest):
    call.obj(req.input_handle_index, "logon")
    outbox = await call.mbx.folder_by_role("outbox")
    return M.GetTransportFolderResponse(handle_index=req.input_handle_index, return_value=0, folder_id=outbox.fid)


HANDLERS = {0x32: submit_message, 0x34: abort_submit, 0x49: get_address_types, 0x47: set_spooler,
            0x6D: get_transport_folder}
