"""Moving around a table (MS-OXCROPS 2.2.5, MS-OXCTABL 3.2.5): RopCreateBookmark, RopFreeBookmark,
RopSeekRowBookmark, RopSeekRowFractional, RopFindRow, RopAbort.

A contents table's bookmark is its view's (the row's id, so it follows the row when rows before it come or
go); other tables (hierarchy, attachments) bookmark a position. Bookmarks are kept per table object and
freed with it; an unknown bookmark is ecInvalidBookmark.
"""
from __future__ import annotations

import struct

from protocols.mapi.restrictions import RowFilter, map_keys
from protocols.rops import table as T

from ..call import EC_NOT_FOUND, RopError
from ..props import MISSING, lookup, property_row
from .table import (DEFAULT_CONTENTS_COLUMNS, DEFAULT_HIERARCHY_COLUMNS, _position, _set_position, ensure_view,
                    fill_columns, row_props)

EC_INVALID_BOOKMARK = 0x80040405
EC_UNABLE_TO_ABORT = 0x80040114
FIND_BACKWARD = 0x01
MAX_BOOKMARKS = 256
_CHUNK = 256


def _table(call, req):
    return call.obj(req.input_handle_index, "table")


def _own_bookmarks(view) -> bool:
    return hasattr(view, "seek_bookmark") and hasattr(view, "bookmark")


async def create_bookmark(call, req: T.CreateBookmarkRequest):
    table = _table(call, req)
    await ensure_view(call, table)
    if len(table.bookmarks) >= MAX_BOOKMARKS:
        raise RopError(0x8007000E, "too many bookmarks on this table")
    pos = _position(table)
    mark = table.view.bookmark() if _own_bookmarks(table.view) else b""
    mark = mark or b"P" + struct.pack("<I", pos)          # past the end, or a table without row ids
    table.bookmarks[mark] = pos
    return T.CreateBookmarkResponse(handle_index=req.input_handle_index, return_value=0, bookmark=mark)


async def free_bookmark(call, req: T.FreeBookmarkRequest):
    table = _table(call, req)
    if table.bookmarks.pop(bytes(req.bookmark), None) is None:
        raise RopError(EC_INVALID_BOOKMARK, "no such bookmark")
    return T.FreeBookmarkResponse(handle_index=req.input_handle_index, return_value=0)


def _goto(table, mark: bytes) -> bool:
    """The cursor to a bookmark; False when its row left the table (the cursor is then where it was)."""
    if mark not in table.bookmarks:
        raise RopError(EC_INVALID_BOOKMARK, "no such bookmark")
    if mark[:1] != b"P" and _own_bookmarks(table.view):
        _, visible = table.view.seek_bookmark(mark, 0)
        if visible:
            return True
    _set_position(table, min(table.bookmarks[mark], table.view.count()))
    return mark[:1] == b"P"


async def seek_row_bookmark(call, req: T.SeekRowBookmarkRequest):
    table = _table(call, req)
    await ensure_view(call, table)
    visible = _goto(table, bytes(req.bookmark))
    base, total = _position(table), table.view.count()
    target = min(max(base + req.row_count, 0), total)
    _set_position(table, target)
    moved = target - base
    return T.SeekRowBookmarkResponse(handle_index=req.input_handle_index, return_value=0,
                                     row_no_longer_visible=int(not visible), has_sought_less=int(moved != req.row_count),
                                     rows_sought=moved if req.want_row_moved_count else 0)


async def seek_row_fractional(call, req: T.SeekRowFractionalRequest):
    table = _table(call, req)
    await ensure_view(call, table)
    total = table.view.count()
    pos = 0 if not req.denominator else min(total, total * req.numerator // req.denominator)
    _set_position(table, pos)
    return T.SeekRowFractionalResponse(handle_index=req.input_handle_index, return_value=0)


def _getter(props: dict):
    def get(key):
        v = lookup(props, key) if isinstance(key, int) else MISSING
        return None if v is MISSING else v
    return get


async def find_row(call, req: T.FindRowRequest):
    """The first row from the origin (forward, or backward with FindRowFlags 0x01) that matches; the cursor
    goes to it and the row is answered with the table's columns. None matching: ecNotFound."""
    table = _table(call, req)
    await ensure_view(call, table)
    view = table.view
    total = view.count()
    gone = False
    if req.origin == T.BOOKMARK_BEGINNING:
        start = 0
    elif req.origin == T.BOOKMARK_END:
        start = total
    elif req.origin == T.BOOKMARK_CURRENT:
        start = _position(table)
    else:                                           # a custom bookmark
        gone = not _goto(table, bytes(req.bookmark))
        start = _position(table)
    keep = RowFilter(req.restriction)          # evaluated on rows under the client's tags
    tags: list[int] = []
    map_keys(req.restriction, lambda k: tags.append(k) or k)   # the restriction's properties
    tags = [t for t in dict.fromkeys(tags) if isinstance(t, int)]
    backward = bool(req.find_row_flags & FIND_BACKWARD)
    found = None
    if backward:
        end = min(start, total - 1) if req.origin != T.BOOKMARK_END else total - 1
        while end >= 0 and found is None:
            first = max(0, end - _CHUNK + 1)
            objs = view.rows(first, end - first + 1)
            for n in range(len(objs) - 1, -1, -1):
                await fill_columns(call, table, objs[n:n + 1], tags)  # a property the summary lacks: read
                if keep(_getter(row_props(table, objs[n], call.mbx))):
                    found = (first + n, objs[n])
                    break
            end = first - 1
    else:
        at = start
        while at < total and found is None:
            objs = view.rows(at, _CHUNK)
            if not objs:
                break
            for n, obj in enumerate(objs):
                await fill_columns(call, table, [obj], tags)    # only the rows looked at until one matches
                if keep(_getter(row_props(table, obj, call.mbx))):
                    found = (at + n, obj)
                    break
            at += len(objs)
    if found is None:
        raise RopError(EC_NOT_FOUND, "no row matches")
    pos, obj = found
    _set_position(table, pos)
    columns = table.columns or (DEFAULT_HIERARCHY_COLUMNS if table.hierarchy else DEFAULT_CONTENTS_COLUMNS)
    await fill_columns(call, table, [obj], columns)
    data = property_row(row_props(table, obj, call.mbx), columns, codepage=call.codepage)
    return T.FindRowResponse(handle_index=req.input_handle_index, return_value=0,
                             row_no_longer_visible=int(gone), has_row_data=1, row_data=data)


async def abort(call, req: T.AbortRequest):
    """Every table ROP here runs to its end before it answers: there is never anything to abort."""
    _table(call, req)
    raise RopError(EC_UNABLE_TO_ABORT, "no asynchronous operation is running")


HANDLERS = {0x1B: create_bookmark, 0x89: free_bookmark, 0x19: seek_row_bookmark, 0x1A: seek_row_fractional,
            0x4F: find_row, 0x38: abort}
