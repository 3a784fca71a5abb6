"""Changing what a folder holds (MS-OXCROPS 2.2.4, MS-OXCFOLD 3.2.5): RopDeleteMessages,
RopHardDeleteMessages, RopMoveCopyMessages, RopEmptyFolder, RopHardDeleteMessagesAndSubfolders,
RopMoveFolder, RopCopyFolder.

Deleting is final on the backends (IMAP EXPUNGE, DAV DELETE): Outlook's "Delete" is a RopMoveCopyMessages
to Deleted Items, and RopDeleteMessages is what it sends to empty that folder or for Shift+Delete.
Messages named that are not in the folder make the answer PartialCompletion; the others are done.
"""
from __future__ import annotations

from gateway.store.errors import StoreError
from protocols.rops import folder as F

from ..call import EC_NOT_FOUND, RopError
from .message import _in_folder


def _split(mbx, mids, fid: int) -> tuple[list[int], bool]:
    here = [m for m in mids if _in_folder(mbx, m, fid)]
    return here, len(here) != len(mids)


async def delete_messages(call, req: F.DeleteMessagesRequest):
    folder = call.obj(req.input_handle_index, "folder")
    here, partial = _split(call.mbx, list(req.message_ids), folder.fid)
    if here:
        await call.mbx.delete_items(here)
    cls = F.DeleteMessagesResponse if req.ROP_ID == 0x1E else F.HardDeleteMessagesResponse
    return cls(handle_index=req.input_handle_index, return_value=0, partial_completion=int(partial))


async def move_copy_messages(call, req: F.MoveCopyMessagesRequest):
    source = call.obj(req.source_handle_index, "folder")
    dest = call.obj(req.dest_handle_index, "folder")
    here, partial = _split(call.mbx, list(req.message_ids), source.fid)
    if here:
        await call.mbx.move_items(here, dest.fid, copy=bool(req.want_copy))
    return F.MoveCopyMessagesResponse(handle_index=req.source_handle_index, return_value=0,
                                      partial_completion=int(partial))


async def empty_folder(call, req: F.EmptyFolderRequest):
    """Every message (associated ones too when asked) and every subfolder goes; a subfolder that cannot
    (a special folder) stays and makes the answer PartialCompletion."""
    folder = call.obj(req.input_handle_index, "folder")
    mbx = call.mbx
    mids = [i.mid for i in (await mbx.contents_view(folder.fid)).rows(0, None)]
    if req.want_delete_associated:
        mids += [i.mid for i in (await mbx.contents_view(folder.fid, associated=True)).rows(0, None)]
    if mids:
        await mbx.delete_items(mids)
    partial = False
    for child in await mbx.child_folders(folder.fid):
        try:
            await mbx.delete_folder(child.fid)
        except StoreError:
            partial = True
    cls = F.EmptyFolderResponse if req.ROP_ID == 0x58 else F.HardDeleteMessagesAndSubfoldersResponse
    return cls(handle_index=req.input_handle_index, return_value=0, partial_completion=int(partial))


async def move_folder(call, req: F.MoveFolderRequest):
    source = call.obj(req.source_handle_index, "folder")
    dest = call.obj(req.dest_handle_index, "folder")
    folder = await call.mbx.get_folder(req.folder_id)
    if folder.parent_fid != source.fid:
        raise RopError(EC_NOT_FOUND, "the folder is not under the source folder")
    await call.mbx.move_folder(folder.fid, dest.fid, req.new_folder_name or None)   # special: ecAccessDenied
    return F.MoveFolderResponse(handle_index=req.source_handle_index, return_value=0, partial_completion=0)


async def copy_folder(call, req: F.CopyFolderRequest):
    """A copy of a folder under the source folder into the destination (its subfolders with WantRecursive)."""
    source = call.obj(req.source_handle_index, "folder")
    dest = call.obj(req.dest_handle_index, "folder")
    folder = await call.mbx.get_folder(req.folder_id)
    if folder.parent_fid != source.fid:
        raise RopError(EC_NOT_FOUND, "the folder is not under the source folder")
    await call.mbx.copy_folder(folder.fid, dest.fid, req.new_folder_name or None, recursive=bool(req.want_recursive))
    return F.CopyFolderResponse(handle_index=req.source_handle_index, return_value=0, partial_completion=0)


HANDLERS = {0x36: copy_folder, 0x1E: delete_messages, 0x91: delete_messages, 0x33: move_copy_messages, 0x58: empty_folder,
            0x92: empty_folder, 0x35: move_folder}
