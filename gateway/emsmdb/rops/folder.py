"""Folder ROPs (MS-OXCROPS 2.2.4): RopOpenFolder, RopGetHierarchyTable, RopGetContentsTable, RopCreateFolder
(generic and search folders), RopDeleteFolder."""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.rops import folder as F

from ..call import EC_INVALID_PARAM, EC_NO_SUPPORT, EC_NOT_FOUND, RopError
from ..objects import FolderObj, TableObj
from .table import ensure_view

# TableFlags, MS-OXCROPS 2.2.4.13.1 / 2.2.4.14.1
TABLE_ASSOCIATED = 0x02
TABLE_DEPTH = 0x04
TABLE_NO_NOTIFICATIONS = 0x10


async def open_folder(call, req: F.OpenFolderRequest):
    parent = call.obj(req.input_handle_index, "logon", "folder")
    folder = await call.mbx.get_folder(req.folder_id)         # NotFound -> ecNotFound
    call.put(req.output_handle_index, parent.logon_id, FolderObj(parent.logon_id, folder.fid))
    return F.OpenFolderResponse(handle_index=req.output_handle_index, return_value=0, has_rules=0, is_ghosted=0)


async def get_hierarchy_table(call, req: F.GetHierarchyTableRequest):
    folder = call.obj(req.input_handle_index, "folder")
    table = TableObj(folder.logon_id, folder.fid, hierarchy=True, deep=bool(req.table_flags & TABLE_DEPTH),
                     notify=not req.table_flags & TABLE_NO_NOTIFICATIONS)
    await ensure_view(call, table)
    call.put(req.output_handle_index, folder.logon_id, table)
    return F.GetHierarchyTableResponse(handle_index=req.output_handle_index, return_value=0,
                                       row_count=table.view.count())


async def get_contents_table(call, req: F.GetContentsTableRequest):
    folder = call.obj(req.input_handle_index, "folder")
    table = TableObj(folder.logon_id, folder.fid, associated=bool(req.table_flags & TABLE_ASSOCIATED),
                     notify=not req.table_flags & TABLE_NO_NOTIFICATIONS)
    await ensure_view(call, table)
    call.put(req.output_handle_index, folder.logon_id, table)
    return F.GetContentsTableResponse(handle_index=req.output_handle_index, return_value=0,
                                      row_count=table.view.count())


FOLDER_GENERIC, FOLDER_SEARCH = 1, 2       # RopCreateFolder FolderType
DEL_MESSAGES, DEL_FOLDERS = 0x01, 0x04    # RopDeleteFolder DeleteFolderFlags (MS-OXCFOLD 2.2.1.3.1)


async def create_folder(call, req: F.CreateFolderRequest):
    """A generic folder under the open folder, with the parent's container class (Outlook sets its own
    with SetProperties after); OpenExisting answers the folder of that name if there is one."""
    parent = call.obj(req.input_handle_index, "folder")
    if req.folder_type not in (FOLDER_GENERIC, FOLDER_SEARCH):
        raise RopError(EC_NO_SUPPORT, f"FolderType {req.folder_type}")
    name = (req.display_name or "").strip()
    if not name:
        raise RopError(EC_INVALID_PARAM, "a folder needs a name")
    existing = next((c for c in await call.mbx.child_folders(parent.fid) if c.display_name.lower() == name.lower()),
                    None)
    if existing is not None and req.open_existing:
        folder, is_existing = existing, 1
    else:
        parent_folder = await call.mbx.get_folder(parent.fid)
        cls = parent_folder.container_class or "IPF.Note"
        if req.folder_type == FOLDER_SEARCH:             # Outlook's Reminders, To-Do, Unread Mail ...
            folder = await call.mbx.create_search_folder(parent.fid, name, cls)
        else:
            folder = await call.mbx.create_folder(parent.fid, name, cls)
        is_existing = 0                     # a name already there and no OpenExisting: ecDuplicateName
    call.put(req.output_handle_index, parent.logon_id, FolderObj(parent.logon_id, folder.fid))
    return F.CreateFolderResponse(handle_index=req.output_handle_index, return_value=0, folder_id=folder.fid,
                                  is_existing_folder=is_existing)


async def delete_folder(call, req: F.DeleteFolderRequest):
    """Delete a folder under the open one (with its messages and subfolders when the flags say so; else
    a folder that still holds them stays and the answer is PartialCompletion)."""
    parent = call.obj(req.input_handle_index, "folder")
    folder = await call.mbx.get_folder(req.folder_id, counts=True)
    if folder.parent_fid != parent.fid:
        raise RopError(EC_NOT_FOUND, "the folder is not under the open folder")
    has_items = bool(folder.props.get(P.PidTagContentCount) or folder.props.get(P.PidTagAssociatedContentCount))
    has_children = bool(folder.props.get(P.PidTagFolderChildCount))
    if (has_items and not req.delete_folder_flags & DEL_MESSAGES) or \
            (has_children and not req.delete_folder_flags & DEL_FOLDERS):
        return F.DeleteFolderResponse(handle_index=req.input_handle_index, return_value=0, partial_completion=1)
    await call.mbx.delete_folder(folder.fid)          # a special folder: ecAccessDenied
    return F.DeleteFolderResponse(handle_index=req.input_handle_index, return_value=0, partial_completion=0)


HANDLERS = {0x02: open_folder, 0x04: get_hierarchy_table, 0x05: get_contents_table, 0x1C: create_folder,
            0x1D: delete_folder}
