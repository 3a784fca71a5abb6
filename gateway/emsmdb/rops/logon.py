"""Logon and store ROPs (MS-OXCROPS 2.2.3): RopLogon, RopGetReceiveFolder, RopLongTermIdFromId,
RopIdFromLongTermId."""
from __future__ import annotations

from datetime import datetime, timezone

from protocols.mapi import ids as wire_ids
from protocols.rops import logon as L

from ..call import EC_NOT_FOUND, EC_NO_SUPPORT, RopError
from ..objects import LogonObj

# the store's folder role for each of the 13 folder ids of a private logon (protocols.rops.logon order)
LOGON_ROLES = {"sent_items": "sent", "deleted_items": "deleted"}
# LogonResponse ResponseFlags, 2.2.3.1.2: Reserved (always set), OwnerRight, SendAsRight
RESPONSE_FLAGS = 0x01 | 0x02 | 0x04
REPLID = 0x0001


async def special_folder_ids(mbx) -> tuple:
    out = []
    for name in L.PRIVATE_FOLDERS:
        try:
            out.append((await mbx.folder_by_role(LOGON_ROLES.get(name, name))).fid)
        except Exception:   # noqa: BLE001 - a folder the store lacks is sent as 0
            out.append(0)
    return tuple(out)


async def logon(call, req: L.LogonRequest):
    if not req.logon_flags & L.LOGON_PRIVATE:
        raise RopError(EC_NO_SUPPORT, "no public folders")
    call.put(req.output_handle_index, req.logon_id, LogonObj(req.logon_id))
    now = datetime.now(timezone.utc)
    ident = call.mbx.ident
    return L.LogonResponse(
        handle_index=req.output_handle_index, return_value=0, logon_flags=req.logon_flags & 0x07,
        folder_ids=await special_folder_ids(call.mbx), response_flags=RESPONSE_FLAGS,
        mailbox_guid=ident.mailbox_guid, replica_id=REPLID, replica_guid=ident.replica_guid,
        logon_time=L.LogonTime(now.second, now.minute, now.hour, (now.weekday() + 1) % 7, now.day, now.month,
                               now.year),
        gwart_time=0, store_state=0)


async def get_receive_folder(call, req: L.GetReceiveFolderRequest):
    call.obj(req.input_handle_index, "logon")
    inbox = await call.mbx.folder_by_role("inbox")
    return L.GetReceiveFolderResponse(handle_index=req.input_handle_index, return_value=0, folder_id=inbox.fid,
                                      explicit_message_class="")


async def long_term_id_from_id(call, req: L.LongTermIdFromIdRequest):
    call.obj(req.input_handle_index, "logon")
    replid, globcnt = wire_ids.split_id(req.object_id)
    if replid != REPLID:
        raise RopError(EC_NOT_FOUND, f"replica {replid}")
    return L.LongTermIdFromIdResponse(handle_index=req.input_handle_index, return_value=0,
                                      long_term_id=L.LongTermId(call.mbx.ident.replica_guid, globcnt, 0))


async def id_from_long_term_id(call, req: L.IdFromLongTermIdRequest):
    call.obj(req.input_handle_index, "logon")
    lt = req.long_term_id
    if lt.database_guid != call.mbx.ident.replica_guid:
        raise RopError(EC_NOT_FOUND, "another replica")
    return L.IdFromLongTermIdResponse(handle_index=req.input_handle_index, return_value=0,
                                      object_id=wire_ids.make_id(REPLID, lt.global_counter))


HANDLERS = {0xFE: logon, 0x27: get_receive_folder, 0x43: long_term_id_from_id, 0x44: id_from_long_term_id}
