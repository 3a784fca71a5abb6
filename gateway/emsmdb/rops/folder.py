"""Folder ROPs (MS-OXCROPS 2.2.4): RopOpenFolder, RopGetHierarchyTable, RopGetContentsTable."""
from __future__ import annotations

from protocols.rops import folder as F

from ..objects import FolderObj, TableObj
from .table import ensure_view

# TableFlags, MS-OXCROPS 2.2.4.13.1 / 2.2.4.14.1
TABLE_ASSOCIATED = 0x02
TABLE_DEPTH = 0x04


async def open_folder(call, req: F.OpenFolderRequest):
    parent = call.obj(req.input_handle_index, "logon", "folder")
    folder = await call.mbx.get_folder(req.folder_id)         # NotFound -> ecNotFound
    call.put(req.output_handle_index, parent.logon_id, FolderObj(parent.logon_id, folder.fid))
    return F.OpenFolderResponse(handle_index=req.output_handle_index, return_value=0, has_rules=0, is_ghosted=0)


async def get_hierarchy_table(call, req: F.GetHierarchyTableRequest):
    folder = call.obj(req.input_handle_index, "folder")
    table = TableObj(folder.logon_id, folder.fid, hierarchy=True, deep=bool(req.table_flags & TABLE_DEPTH))
    await ensure_view(call, table)
    call.put(req.output_handle_index, folder.logon_id, table)
    return F.GetHierarchyTableResponse(handle_index=req.output_handle_index, return_value=0,
                                       row_count=table.view.count())


async def get_contents_table(call, req: F.GetContentsTableRequest):
    folder = call.obj(req.input_handle_index, "folder")
    table = TableObj(folder.logon_id, folder.fid, associated=bool(req.table_flags & TABLE_ASSOCIATED))
    await ensure_view(call, table)
    call.put(req.output_handle_index, folder.logon_id, table)
    return F.GetContentsTableResponse(handle_index=req.output_handle_index, return_value=0,
                                      row_count=table.view.count())


HANDLERS = {0x02: open_folder, 0x04: get_hierarchy_table, 0x05: get_contents_table}
