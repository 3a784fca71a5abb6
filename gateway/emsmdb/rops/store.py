"""Store ROPs of a private logon (MS-OXCROPS 2.2.3, MS-OXCSTOR 3.2.5): RopGetReceiveFolderTable,
RopSetReceiveFolder, RopGetStoreState, RopGetPerUserLongTermIds, RopGetPerUserGuid,
RopReadPerUserInformation.

Where mail is delivered is the mail server's business (Dovecot's LMTP puts it in INBOX): the receive
folder of every message class is the Inbox, except IPC's, the root (as Exchange has them), and a client
asking to deliver elsewhere is refused rather than told yes. Per-user read state is what a public folder
keeps for each reader; a private mailbox has none, so those ROPs answer with nothing.
"""
from __future__ import annotations

from datetime import datetime, timezone

from protocols.rops import logon as L
from protocols.rops.rows import encode_row, PropertyRow, ROW_STANDARD

from ..call import EC_NO_SUPPORT, EC_NOT_FOUND, RopError

# MS-OXCSTOR 3.1.4.2: the receive folder table's message classes (8-bit strings)
RECEIVE_CLASSES = (("", "inbox"), ("IPC", "root"), ("IPM", "inbox"), ("REPORT.IPM", "inbox"))


async def get_receive_folder_table(call, req: L.GetReceiveFolderTableRequest):
    call.obj(req.input_handle_index, "logon")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rows = bytearray()
    for cls, role in RECEIVE_CLASSES:
        fid = (await call.mbx.folder_by_role(role)).fid
        rows += encode_row(PropertyRow(ROW_STANDARD, (fid, cls, now)), L.RECEIVE_FOLDER_COLUMNS,
                           codepage=call.codepage)
    return L.GetReceiveFolderTableResponse(handle_index=req.input_handle_index, return_value=0,
                                           row_count=len(RECEIVE_CLASSES), row_data=bytes(rows))


async def set_receive_folder(call, req: L.SetReceiveFolderRequest):
    """Only what is so already is accepted (the Inbox for mail, the root for IPC)."""
    call.obj(req.input_handle_index, "logon")
    cls = (req.message_class or "").upper()
    role = "root" if cls == "IPC" or cls.startswith("IPC.") else "inbox"
    if req.folder_id != (await call.mbx.folder_by_role(role)).fid:
        raise RopError(EC_NO_SUPPORT, "the mail server decides where mail is delivered")
    return L.SetReceiveFolderResponse(handle_index=req.input_handle_index, return_value=0)


async def get_store_state(call, req: L.GetStoreStateRequest):
    """StoreState 0: no search folder of this store has reminders being searched (STORE_HAS_SEARCHES)."""
    call.obj(req.input_handle_index, "logon")
    return L.GetStoreStateResponse(handle_index=req.input_handle_index, return_value=0, store_state=0)


async def get_per_user_long_term_ids(call, req: L.GetPerUserLongTermIdsRequest):
    call.obj(req.input_handle_index, "logon")
    return L.GetPerUserLongTermIdsResponse(handle_index=req.input_handle_index, return_value=0, long_term_ids=())


async def get_per_user_guid(call, req: L.GetPerUserGuidRequest):
    call.obj(req.input_handle_index, "logon")
    raise RopError(EC_NOT_FOUND, "no per-user information is kept for this folder")


async def read_per_user_information(call, req: L.ReadPerUserInformationRequest):
    call.obj(req.input_handle_index, "logon")
    return L.ReadPerUserInformationResponse(handle_index=req.input_handle_index, return_value=0, has_finished=1,
                                            data=b"")


HANDLERS = {0x68: get_receive_folder_table, 0x26: set_receive_folder, 0x7B: get_store_state,
            0x60: get_per_user_long_term_ids, 0x61: get_per_user_guid, 0x63: read_per_user_information}
