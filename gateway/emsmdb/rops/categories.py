"""Categorized tables (MS-OXCROPS 2.2.5.16-19, MS-OXCTABL 3.2.5.3, 3.2.5.16-19): RopExpandRow,
RopCollapseRow, RopGetCollapseState, RopSetCollapseState, on the store's CategorizedView (a contents
table RopSortTable grouped with CCategories > 0).

A header row's CategoryId is its PidTagInstID: the first 8 bytes of its PidTagInstanceKey, which the
store derives from the category path, so it is the same in every view of the folder.
"""
from __future__ import annotations

from protocols.rops import table as T

from ..call import EC_INVALID_PARAM, EC_NOT_FOUND, RopError
from ..props import property_row
from .table import DEFAULT_CONTENTS_COLUMNS, _position, _set_position, ensure_view, fill_columns, row_props


async def _categorized(call, req):
    table = call.obj(req.input_handle_index, "table")
    await ensure_view(call, table)
    if not hasattr(table.view, "expand"):
        raise RopError(EC_INVALID_PARAM, "the table is not categorized")
    return table


def _key(category_id: int) -> bytes:
    return category_id.to_bytes(8, "little")


async def expand_row(call, req: T.ExpandRowRequest):
    table = await _categorized(call, req)
    view = table.view
    added = view.expand(_key(req.category_id))
    if added is None:
        raise RopError(EC_NOT_FOUND, "no such category")
    rows = b""
    count = 0
    at = view.index_of(_key(req.category_id))
    if added and req.max_row_count and at is not None:
        columns = table.columns or DEFAULT_CONTENTS_COLUMNS
        room = call.space - 16
        out = []
        objs = view.rows(at + 1, min(added, req.max_row_count))
        await fill_columns(call, table, objs, columns)
        for obj in objs:
            data = property_row(row_props(table, obj, call.mbx), columns, codepage=call.codepage)
            if sum(map(len, out)) + len(data) > room:
                break
            out.append(data)
        rows, count = b"".join(out), len(out)
    if at is not None and _position(table) > at:
        _set_position(table, _position(table) + added)      # rows before the cursor came in
    return T.ExpandRowResponse(handle_index=req.input_handle_index, return_value=0, expanded_row_count=added,
                               row_count=count, row_data=rows)


async def collapse_row(call, req: T.CollapseRowRequest):
    table = await _categorized(call, req)
    at = table.view.index_of(_key(req.category_id))
    gone = table.view.collapse(_key(req.category_id))
    if gone is None:
        raise RopError(EC_NOT_FOUND, "no such category")
    pos = _position(table)
    if at is not None and pos > at:
        _set_position(table, max(at + 1, pos - gone))        # a cursor inside the group goes to its header
    return T.CollapseRowResponse(handle_index=req.input_handle_index, return_value=0, collapsed_row_count=gone)


async def get_collapse_state(call, req: T.GetCollapseStateRequest):
    table = await _categorized(call, req)
    return T.GetCollapseStateResponse(handle_index=req.input_handle_index, return_value=0,
                                      collapse_state=table.view.state())


async def set_collapse_state(call, req: T.SetCollapseStateRequest):
    """The collapse state back; the answer is a bookmark of the table's first row (the cursor goes there)."""
    table = await _categorized(call, req)
    table.view.set_state(bytes(req.collapse_state))
    _set_position(table, 0)
    mark = b"P" + (0).to_bytes(4, "little")
    table.bookmarks[mark] = 0
    return T.SetCollapseStateResponse(handle_index=req.input_handle_index, return_value=0, bookmark=mark)


HANDLERS = {0x59: expand_row, 0x5A: collapse_row, 0x6B: get_collapse_state, 0x6C: set_collapse_state}
