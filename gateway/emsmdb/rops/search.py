"""Search folders (MS-OXCROPS 2.2.4.4-5, MS-OXCFOLD 3.2.5.4-5): RopSetSearchCriteria and
RopGetSearchCriteria on the store's search folders (RopCreateFolder with FolderType 2 makes one).

The store computes a search folder's contents when its table is read, so a search is always complete:
GetSearchCriteria answers SEARCH_COMPLETE (and SEARCH_RECURSIVE when asked), and no SearchComplete
notification is ever owed. A restriction or scope left out of SetSearchCriteria keeps the one set before.
"""
from __future__ import annotations

from gateway.store.errors import InvalidOperation, StoreError
from gateway.store.searchfolders import (RECURSIVE_SEARCH, RESTART_SEARCH, SHALLOW_SEARCH, STOP_SEARCH,
                                         SearchCriteria)
from gateway.store.tables.view import keys_only_in_items
from protocols.mapi.props.named import NamedProp
from protocols.mapi.restrictions import map_keys
from protocols.rops import folder as F

from ..call import EC_TOO_COMPLEX, RopError
from .table import _named

EC_NOT_SEARCH_FOLDER = 0x00000461
EC_NOT_INITIALIZED = 0x80040605


async def _criteria(call, folder) -> SearchCriteria | None:
    try:
        return await call.mbx.search_criteria(folder.fid)
    except InvalidOperation as exc:
        raise RopError(EC_NOT_SEARCH_FOLDER, str(exc)) from exc


async def set_search_criteria(call, req: F.SetSearchCriteriaRequest):
    folder = call.obj(req.input_handle_index, "folder")
    before = await _criteria(call, folder)
    restriction = _named(call.mbx, req.restriction) if req.restriction is not None else \
        (before.restriction if before else None)
    scope = tuple(req.folder_ids) or (before.scope if before else ())
    if not scope:
        raise RopError(EC_NOT_INITIALIZED, "a first SetSearchCriteria names the folders to search")
    flags = req.search_flags
    recursive = bool(flags & RECURSIVE_SEARCH) or (bool(before and before.recursive) and not flags & SHALLOW_SEARCH)
    stopped = bool(flags & STOP_SEARCH) or (bool(before and before.stopped) and not flags & RESTART_SEARCH)
    kinds = set()
    for fid in scope:
        try:
            kinds.add((await call.mbx.get_folder(fid)).kind)
        except StoreError:
            pass                                # refused below, as before
    if restriction is not None and keys_only_in_items(restriction, (), kinds):
        # checked on the rows' summaries, where such a property is always missing: silently empty
        raise RopError(EC_TOO_COMPLEX, "the restriction names a property only the messages hold (the body ...)")
    try:
        await call.mbx.set_search_criteria(folder.fid, SearchCriteria(restriction, scope, recursive, stopped))
    except InvalidOperation as exc:
        raise RopError(EC_NOT_SEARCH_FOLDER if "not a search" in str(exc) else 0x80070057, str(exc)) from exc
    return F.SetSearchCriteriaResponse(handle_index=req.input_handle_index, return_value=0)


async def get_search_criteria(call, req: F.GetSearchCriteriaRequest):
    folder = call.obj(req.input_handle_index, "folder")
    criteria = await _criteria(call, folder)
    if criteria is None:
        raise RopError(EC_NOT_INITIALIZED, "the search folder has no criteria yet")
    restriction = None
    if req.include_restriction and criteria.restriction is not None:
        names = call.mbx.names
        restriction = map_keys(criteria.restriction, lambda k: names.tag_for(k) if isinstance(k, NamedProp) else k)
    return F.GetSearchCriteriaResponse(handle_index=req.input_handle_index, return_value=0, restriction=restriction,
                                       logon_id=req.logon_id,
                                       folder_ids=tuple(criteria.scope) if req.include_folders else (),
                                       search_flags=criteria.state_flags)


HANDLERS = {0x30: set_search_criteria, 0x31: get_search_criteria}
