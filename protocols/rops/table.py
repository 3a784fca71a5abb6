"""Table ROPs (MS-OXCROPS 2.2.5, MS-OXCTABL): RopSetColumns, RopSortTable, RopRestrict,
RopQueryRows, RopAbort, RopGetStatus, RopQueryPosition, RopSeekRow, RopSeekRowBookmark,
RopSeekRowFractional, RopCreateBookmark, RopFreeBookmark, RopQueryColumnsAll, RopFindRow,
RopResetTable, RopExpandRow, RopCollapseRow, RopGetCollapseState, RopSetCollapseState, RopGetRulesTable
(MS-OXCROPS 2.2.11.2, a table opened on a folder).

Rows (RopQueryRows, RopFindRow) stay raw bytes on the ROP (``row_data``); ``rows.py``
decodes them against the columns.  A response decoder finds the end of the rows from the
columns in its ``RopContext``; without columns the rows take the rest of the RopsList.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.mapi.restrictions import SortOrderSet

from ._wire import (
    BLOB16, BOOL, RESTRICTION, SORT_ORDER_SET, TAGS16, U8, U16, U32, U64, Kind, Reader,
    RopContext, RopRequest, RopResponse, put_u8, put_u16, put_u32, wire,
)
from .errors import RopFormatError
from .rows import decode_rows

# TableStatus, 2.2.5.1.2 / MS-OXCTABL 2.2.2.1.3
TBLSTAT_COMPLETE = 0x00
# Origin / BookmarkType, MS-OXCTABL 2.2.2.1.4
BOOKMARK_BEGINNING = 0x00
BOOKMARK_CURRENT = 0x01
BOOKMARK_END = 0x02


class _I32(Kind):
    def read(self, r):
        return struct.unpack("<i", r.take(4))[0]

    def write(self, out, v):
        try:
            out += struct.pack("<i", v)
        except struct.error as exc:
            raise RopFormatError(f"{v!r} is not a signed 32-bit value") from exc


I32 = _I32()


@dataclass
class _TableRequest(RopRequest):
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class _StatusResponse(RopResponse):
    table_status: int = wire(U8)


@dataclass
class SetColumnsRequest(RopRequest):
    ROP_ID = 0x12
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    set_columns_flags: int = wire(U8)
    property_tags: tuple = wire(TAGS16, ())


@dataclass
class SetColumnsResponse(_StatusResponse):
    ROP_ID = 0x12


@dataclass
class SortTableRequest(RopRequest):
    """2.2.5.2.1: SortTableFlags, then a SortOrderSet (MS-OXCDATA 2.13.2)."""

    ROP_ID = 0x13
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    sort_table_flags: int = wire(U8)
    sort_order_set: SortOrderSet = wire(SORT_ORDER_SET, SortOrderSet())


@dataclass
class SortTableResponse(_StatusResponse):
    ROP_ID = 0x13


@dataclass
class RestrictRequest(RopRequest):
    ROP_ID = 0x14
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    restrict_flags: int = wire(U8)
    restriction: object = wire(RESTRICTION, None)


@dataclass
class RestrictResponse(_StatusResponse):
    ROP_ID = 0x14


@dataclass
class QueryRowsRequest(RopRequest):
    ROP_ID = 0x15
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    query_rows_flags: int = wire(U8)
    forward_read: int = wire(BOOL)
    row_count: int = wire(U16)


def _rows_end(r: Reader, count: int, ctx: RopContext | None) -> bytes:
    if count and ctx is not None and ctx.columns is not None:
        _, end = decode_rows(r.buf[:r.end], count, ctx.columns, off=r.off)
        return r.take(end - r.off)
    if count:
        return r.rest()
    return b""


class _RowData:
    """Responses that carry RowCount PropertyRows as raw RowData, read against the table's columns."""

    def rows(self, columns, **kw):
        return decode_rows(self.row_data, self.row_count, columns, **kw)[0]


@dataclass
class QueryRowsResponse(_RowData, RopResponse):
    """2.2.5.4.2: Origin, RowCount (2), RowData (RowCount PropertyRows)."""

    ROP_ID = 0x15
    origin: int = 0
    row_count: int = 0
    row_data: bytes = b""

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        origin, count = r.u8(), r.u16()
        return cls(idx, rv, origin, count, _rows_end(r, count, ctx))

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u8(out, self.origin)
        put_u16(out, self.row_count)
        out += self.row_data


@dataclass
class AbortRequest(_TableRequest):
    ROP_ID = 0x38


@dataclass
class AbortResponse(_StatusResponse):
    ROP_ID = 0x38


@dataclass
class GetStatusRequest(_TableRequest):
    ROP_ID = 0x16


@dataclass
class GetStatusResponse(_StatusResponse):
    ROP_ID = 0x16


@dataclass
class QueryPositionRequest(_TableRequest):
    ROP_ID = 0x17


@dataclass
class QueryPositionResponse(RopResponse):
    ROP_ID = 0x17
    numerator: int = wire(U32)
    denominator: int = wire(U32)


@dataclass
class SeekRowRequest(RopRequest):
    ROP_ID = 0x18
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    origin: int = wire(U8)
    row_count: int = wire(I32)
    want_row_moved_count: int = wire(BOOL)


@dataclass
class SeekRowResponse(RopResponse):
    ROP_ID = 0x18
    has_sought_less: int = wire(BOOL)
    rows_sought: int = wire(I32)


@dataclass
class SeekRowBookmarkRequest(RopRequest):
    ROP_ID = 0x19
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    bookmark: bytes = wire(BLOB16, b"")
    row_count: int = wire(I32)
    want_row_moved_count: int = wire(BOOL)


@dataclass
class SeekRowBookmarkResponse(RopResponse):
    ROP_ID = 0x19
    row_no_longer_visible: int = wire(BOOL)
    has_sought_less: int = wire(BOOL)
    rows_sought: int = wire(I32)


@dataclass
class SeekRowFractionalRequest(RopRequest):
    ROP_ID = 0x1A
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    numerator: int = wire(U32)
    denominator: int = wire(U32)


@dataclass
class SeekRowFractionalResponse(RopResponse):
    ROP_ID = 0x1A


@dataclass
class CreateBookmarkRequest(_TableRequest):
    ROP_ID = 0x1B


@dataclass
class CreateBookmarkResponse(RopResponse):
    ROP_ID = 0x1B
    bookmark: bytes = wire(BLOB16, b"")


@dataclass
class FreeBookmarkRequest(RopRequest):
    ROP_ID = 0x89
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    bookmark: bytes = wire(BLOB16, b"")


@dataclass
class FreeBookmarkResponse(RopResponse):
    ROP_ID = 0x89


@dataclass
class QueryColumnsAllRequest(_TableRequest):
    ROP_ID = 0x37


@dataclass
class QueryColumnsAllResponse(RopResponse):
    ROP_ID = 0x37
    property_tags: tuple = wire(TAGS16, ())


@dataclass
class ResetTableRequest(_TableRequest):
    ROP_ID = 0x81


@dataclass
class ResetTableResponse(RopResponse):
    ROP_ID = 0x81


@dataclass
class FindRowRequest(RopRequest):
    """2.2.5.13.1: FindRowFlags, the restriction, Origin, BookmarkSize + Bookmark."""

    ROP_ID = 0x4F
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    find_row_flags: int = wire(U8)
    restriction: object = wire(RESTRICTION, None)
    origin: int = wire(U8)
    bookmark: bytes = wire(BLOB16, b"")


@dataclass
class FindRowResponse(RopResponse):
    """2.2.5.13.2: RowNoLongerVisible, HasRowData, then one PropertyRow when HasRowData."""

    ROP_ID = 0x4F
    row_no_longer_visible: int = 0
    has_row_data: int = 0
    row_data: bytes = b""

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        gone, has = r.u8(), r.u8()
        return cls(idx, rv, gone, has, _rows_end(r, 1 if has else 0, ctx))

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u8(out, self.row_no_longer_visible)
        put_u8(out, self.has_row_data)
        out += self.row_data


@dataclass
class ExpandRowRequest(RopRequest):
    ROP_ID = 0x59
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    max_row_count: int = wire(U16)
    category_id: int = wire(U64)


@dataclass
class ExpandRowResponse(_RowData, RopResponse):
    """2.2.5.16.2: ExpandedRowCount (4), RowCount (2), RowData (raw PropertyRows)."""

    ROP_ID = 0x59
    expanded_row_count: int = 0
    row_count: int = 0
    row_data: bytes = b""

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        expanded, count = r.u32(), r.u16()
        return cls(idx, rv, expanded, count, _rows_end(r, count, ctx))

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u32(out, self.expanded_row_count)
        put_u16(out, self.row_count)
        out += self.row_data


@dataclass
class CollapseRowRequest(RopRequest):
    ROP_ID = 0x5A
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    category_id: int = wire(U64)


@dataclass
class CollapseRowResponse(RopResponse):
    ROP_ID = 0x5A
    collapsed_row_count: int = wire(U32)


@dataclass
class GetCollapseStateRequest(RopRequest):
    ROP_ID = 0x6B
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    row_id: int = wire(U64)
    row_instance_number: int = wire(U32)


@dataclass
class GetCollapseStateResponse(RopResponse):
    ROP_ID = 0x6B
    collapse_state: bytes = wire(BLOB16, b"")


@dataclass
class SetCollapseStateRequest(RopRequest):
    ROP_ID = 0x6C
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    collapse_state: bytes = wire(BLOB16, b"")


@dataclass
class SetCollapseStateResponse(RopResponse):
    ROP_ID = 0x6C
    bookmark: bytes = wire(BLOB16, b"")


@dataclass
class GetRulesTableRequest(RopRequest):
    ROP_ID = 0x3F
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    table_flags: int = wire(U8)


@dataclass
class GetRulesTableResponse(RopResponse):
    ROP_ID = 0x3F


_ALL = [v for k, v in dict(globals()).items()
        if isinstance(v, type) and v.__module__ == __name__ and not k.startswith("_")]
REQUESTS = {c.ROP_ID: c for c in _ALL if issubclass(c, RopRequest)}
RESPONSES = {c.ROP_ID: c for c in _ALL if issubclass(c, RopResponse)}
NAMES = {0x12: "RopSetColumns", 0x13: "RopSortTable", 0x14: "RopRestrict", 0x15: "RopQueryRows",
         0x38: "RopAbort", 0x16: "RopGetStatus", 0x17: "RopQueryPosition", 0x18: "RopSeekRow",
         0x19: "RopSeekRowBookmark", 0x1A: "RopSeekRowFractional", 0x1B: "RopCreateBookmark",
         0x89: "RopFreeBookmark", 0x37: "RopQueryColumnsAll", 0x81: "RopResetTable",
         0x4F: "RopFindRow", 0x5A: "RopCollapseRow", 0x6B: "RopGetCollapseState",
         0x6C: "RopSetCollapseState", 0x3F: "RopGetRulesTable", 0x59: "RopExpandRow"}
