"""Table ROPs (MS-OXCROPS 2.2.5, MS-OXCTABL) on the store's views: RopSetColumns, RopSortTable,
RopRestrict, RopQueryRows, RopQueryPosition, RopSeekRow, RopGetStatus, RopQueryColumnsAll, RopResetTable.

A contents table is a ``Mailbox.contents_view`` (its cursor is the view's), a hierarchy table a
``Mailbox.hierarchy_view`` with the cursor on the table object. SortTable and Restrict build a new view
and put the cursor at the beginning (MS-OXCTABL 3.2.5.2, 3.2.5.3).
"""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.mapi.restrictions import map_keys
from protocols.rops import table as T

from .. import editing
from ..call import EC_INVALID_PARAM, EC_TOO_COMPLEX, RopError
from ..listview import ListRow, ListView
from ..props import property_row

# QueryRowsFlags, 2.2.5.4.1
NO_ADVANCE = 0x01
TBLSTAT_COMPLETE = 0x00
ROW_TYPE_LEAF = 1
DEFAULT_CONTENTS_COLUMNS = (P.PidTagFolderId, P.PidTagMid, P.PidTagInstID, P.PidTagInstanceNum, P.PidTagSubject)
DEFAULT_HIERARCHY_COLUMNS = (P.PidTagFolderId, P.PidTagDisplayName)
ALL_CONTENTS_COLUMNS = (P.PidTagFolderId, P.PidTagMid, P.PidTagInstID, P.PidTagInstanceNum, P.PidTagRowType,
                        P.PidTagSubject, P.PidTagMessageClass, P.PidTagMessageDeliveryTime, P.PidTagMessageFlags,
                        P.PidTagMessageSize, P.PidTagLastModificationTime)
ALL_HIERARCHY_COLUMNS = (P.PidTagFolderId, P.PidTagParentFolderId, P.PidTagDisplayName, P.PidTagContainerClass,
                         P.PidTagContentCount, P.PidTagContentUnreadCount, P.PidTagSubfolders, P.PidTagDepth)


async def ensure_view(call, table) -> None:
    if table.view is not None:
        return
    mbx = call.mbx
    if table.fixed_rows is not None:
        table.view = ListView(list(table.fixed_rows))
    elif table.message is not None:
        table.view = attachment_view(mbx, table.message)
    elif table.hierarchy:
        table.view = await mbx.hierarchy_view(table.fid, deep=table.deep, restriction=_named(mbx, table.restriction),
                                              sorts=_named_sorts(mbx, table.sorts))
        table.position = 0
    elif table.categories and not table.associated:
        table.view = await mbx.categorized_view(table.fid, _named(mbx, table.restriction),
                                                _named_sorts(mbx, table.sorts), categories=table.categories,
                                                expanded=table.expanded, sync=not table.synced)
    else:
        table.view = await mbx.contents_view(table.fid, _named(mbx, table.restriction), _named_sorts(mbx, table.sorts),
                                             associated=table.associated, sync=not table.synced)
        table.synced = True


def _named(mbx, restriction):
    """The client's tags of named properties (the mailbox's 0x8000+ ids) as the names the store keeps."""
    return map_keys(restriction, lambda k: editing.key_of(mbx, k) if isinstance(k, int) else k)


def _named_sorts(mbx, sorts) -> tuple:
    return tuple(_named(mbx, s) for s in sorts)


def attachment_view(mbx, msg) -> ListView:
    """The attachment table of a message object, unsaved attachments included (MS-OXCMSG 3.2.5.10)."""
    rows = []
    for n, att in enumerate(editing.attachments_of(msg)):
        props = editing.tagged(mbx, att.props)
        props[P.PidTagAttachNumber] = editing.attachment_number(att, n)
        rows.append(ListRow(props))
    return ListView(rows)


def _position(table) -> int:
    return table.position if table.hierarchy else table.view.position


def _set_position(table, pos: int) -> None:
    if table.hierarchy:
        table.position = pos
    else:
        table.view.position = pos


def row_props(table, obj, mbx=None) -> dict:
    """The properties of one row: the store's (named ones under the mailbox's tags), plus the ids and row
    type every table row has."""
    props = editing.tagged(mbx, obj.props) if mbx is not None else dict(obj.props)
    if table.fixed_rows is not None:
        return props
    if table.message is not None:
        num = props.get(P.PidTagAttachNumber, 0)
        props.setdefault(P.PidTagInstID, num)
        props.setdefault(P.PidTagInstanceNum, 0)
        props.setdefault(P.PidTagRowType, ROW_TYPE_LEAF)
        return props
    if table.hierarchy:
        props.setdefault(P.PidTagFolderId, obj.fid)
        props.setdefault(P.PidTagInstID, obj.fid)
    elif obj.kind == "category":
        # a header row: its PidTagInstID is the CategoryId RopExpandRow/RopCollapseRow name it by
        props.setdefault(P.PidTagInstID, int.from_bytes(props.get(P.PidTagInstanceKey, b"")[:8], "little"))
        props.setdefault(P.PidTagFolderId, obj.fid)
    else:
        props.setdefault(P.PidTagMid, obj.mid)
        props.setdefault(P.PidTagFolderId, obj.fid)
        props.setdefault(P.PidTagInstID, obj.mid)
    props.setdefault(P.PidTagInstanceNum, 0)
    props.setdefault(P.PidTagRowType, ROW_TYPE_LEAF)
    return props


def _table(call, req):
    return call.obj(req.input_handle_index, "table")


MVI = 0x2000             # MultivalueInstance bit (MS-OXCDATA 2.11.1.1): a categorized view's own rows


async def fill_columns(call, table, objs, tags) -> None:
    """A contents table's columns that the rows' summaries lack (body, entry ids, headers ...), read by the
    store from these rows' messages only (the page's cost, never the folder's)."""
    complete = getattr(table.view, "complete", None)
    if complete is None or not objs or table.hierarchy or table.message is not None or table.fixed_rows is not None:
        return
    keys = [editing.key_of(call.mbx, t) for t in tags if not t & MVI]
    await complete(objs, [k for k in keys if not isinstance(k, int) or k >> 16 < 0x8000])


async def set_columns(call, req: T.SetColumnsRequest):
    table = _table(call, req)
    if not req.property_tags:
        raise RopError(EC_INVALID_PARAM, "no columns")
    table.columns = tuple(req.property_tags)
    return T.SetColumnsResponse(handle_index=req.input_handle_index, return_value=0, table_status=TBLSTAT_COMPLETE)


def _refuse_item_only(call, table, before: tuple) -> None:
    """A sort or restriction on a property the rows hold only in their messages (the body, the transport
    headers ...) would need every message of the folder read; checked on the summaries it would be silently
    wrong. The table stays as it was and the ROP answers ecTooComplex (MAPI_E_TOO_COMPLEX)."""
    view = getattr(table.view, "view", table.view)           # a categorized view's contents view
    check = getattr(view, "keys_only_in_items", None)
    if check is None or table.hierarchy:
        return
    keys = check()
    if keys:
        table.restriction, table.sorts, table.categories, table.expanded, table.view = before
        raise RopError(EC_TOO_COMPLEX, "sorting or restricting on " + ", ".join(
            f"0x{k:08X}" if isinstance(k, int) else str(k) for k in keys) + " needs every message read")


def _state(table) -> tuple:
    return table.restriction, table.sorts, table.categories, table.expanded, table.view


async def sort_table(call, req: T.SortTableRequest):
    table = _table(call, req)
    before = _state(table)
    table.sorts = tuple(req.sort_order_set.sorts)
    table.categories = req.sort_order_set.categorized if not table.hierarchy else 0
    table.expanded = req.sort_order_set.expanded
    table.view = None
    table.bookmarks.clear()                 # bookmarks do not survive a new order (MS-OXCTABL 3.2.5.3)
    await ensure_view(call, table)
    _refuse_item_only(call, table, before)
    return T.SortTableResponse(handle_index=req.input_handle_index, return_value=0, table_status=TBLSTAT_COMPLETE)


async def restrict(call, req: T.RestrictRequest):
    table = _table(call, req)
    before = _state(table)
    table.restriction = req.restriction
    table.view = None
    table.bookmarks.clear()
    await ensure_view(call, table)
    _refuse_item_only(call, table, before)
    return T.RestrictResponse(handle_index=req.input_handle_index, return_value=0, table_status=TBLSTAT_COMPLETE)


def _origin(table) -> int:
    pos, total = _position(table), table.view.count()
    if pos <= 0:
        return T.BOOKMARK_BEGINNING
    if pos >= total:
        return T.BOOKMARK_END
    return T.BOOKMARK_CURRENT


FIRST_WINDOW = 32        # rows read from the store first; later windows are sized by the room left
FILL_BATCH = 16          # rows whose missing columns are read together (tables/fill.py reads 4 at a time)


def _window(table, start: int, count: int, forward: bool) -> list:
    if forward:
        return table.view.rows(start, count)
    first = max(0, start - count)
    return list(reversed(table.view.rows(first, start - first)))


async def query_rows(call, req: T.QueryRowsRequest):
    """Rows from the cursor, forward or backward, as many as asked and as fit the response. The store is
    read a window at a time, sized by the room left, so a read costs the rows sent (not the rest of the
    folder: a client asks for 0x7FFF rows and gets what fits)."""
    table = _table(call, req)
    await ensure_view(call, table)
    columns = table.columns or (DEFAULT_HIERARCHY_COLUMNS if table.hierarchy else DEFAULT_CONTENTS_COLUMNS)
    start = _position(table)
    want = req.row_count
    room = call.space - 10            # RopId, index, ReturnValue, Origin, RowCount
    rows, used, at, full = [], 0, start, False
    window = min(want, FIRST_WINDOW)
    while len(rows) < want and not full and window > 0:
        objs = _window(table, at, window, req.forward_read)
        for n, obj in enumerate(objs):
            if n % FILL_BATCH == 0:   # columns read from the messages: a few rows ahead, not past the room
                await fill_columns(call, table, objs[n:n + FILL_BATCH], columns)
            data = property_row(row_props(table, obj, call.mbx), columns, codepage=call.codepage)
            if used + len(data) > room:
                full = True
                break
            rows.append(data)
            used += len(data)
        if len(objs) < window:
            break                     # the end (or the start) of the table
        at = start + len(rows) if req.forward_read else start - len(rows)
        avg = max(1, used // max(1, len(rows)))
        window = min(want - len(rows), max(1, (room - used) // avg + 1))
    if not req.query_rows_flags & NO_ADVANCE:
        _set_position(table, start + len(rows) if req.forward_read else start - len(rows))
    return T.QueryRowsResponse(handle_index=req.input_handle_index, return_value=0, origin=_origin(table),
                               row_count=len(rows), row_data=b"".join(rows))


async def query_position(call, req: T.QueryPositionRequest):
    table = _table(call, req)
    await ensure_view(call, table)
    return T.QueryPositionResponse(handle_index=req.input_handle_index, return_value=0,
                                   numerator=_position(table), denominator=table.view.count())


async def seek_row(call, req: T.SeekRowRequest):
    table = _table(call, req)
    await ensure_view(call, table)
    total = table.view.count()
    base = {T.BOOKMARK_BEGINNING: 0, T.BOOKMARK_CURRENT: _position(table), T.BOOKMARK_END: total}.get(req.origin)
    if base is None:
        raise RopError(EC_INVALID_PARAM, f"origin {req.origin}")
    target = min(max(base + req.row_count, 0), total)
    _set_position(table, target)
    moved = target - base
    return T.SeekRowResponse(handle_index=req.input_handle_index, return_value=0,
                             has_sought_less=int(moved != req.row_count), rows_sought=moved)


async def get_status(call, req: T.GetStatusRequest):
    _table(call, req)
    return T.GetStatusResponse(handle_index=req.input_handle_index, return_value=0, table_status=TBLSTAT_COMPLETE)


async def query_columns_all(call, req: T.QueryColumnsAllRequest):
    table = _table(call, req)
    return T.QueryColumnsAllResponse(handle_index=req.input_handle_index, return_value=0,
                                     property_tags=ALL_HIERARCHY_COLUMNS if table.hierarchy else ALL_CONTENTS_COLUMNS)


async def reset_table(call, req: T.ResetTableRequest):
    table = _table(call, req)
    table.columns, table.restriction, table.sorts, table.view = None, None, (), None
    table.categories = table.expanded = 0
    table.bookmarks.clear()
    await ensure_view(call, table)
    return T.ResetTableResponse(handle_index=req.input_handle_index, return_value=0)


HANDLERS = {0x12: set_columns, 0x13: sort_table, 0x14: restrict, 0x15: query_rows, 0x17: query_position,
            0x18: seek_row, 0x16: get_status, 0x37: query_columns_all, 0x81: reset_table}
