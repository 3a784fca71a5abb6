"""Property bags to PropertyRows (MS-OXCDATA 2.8; MS-OXCTABL 2.2.2.1 for tables).

A column the object does not have is an error cell (ecNotFound) of a FlaggedPropertyRow, as is a value
that cannot be sent as the column's type; a row where every column has its value is a
StandardPropertyRow. A column of type PtypUnspecified gets the property of that id with the type the
store holds. Strings and binaries in table rows are cut as Exchange cuts them (255 characters, 510 bytes).
Outside tables (RopGetPropertiesSpecific/All on an object) a value bigger than the size limit is the error
cell ecMAPI_E_NOT_ENOUGH_MEMORY (MS-OXCPRPT 3.2.5.1/3.2.5.2), and the client reads it with RopOpenStream.
"""
from __future__ import annotations

import struct

from protocols.mapi.types import PropType
from protocols.mapi.values import PropValueError, encode_value
from protocols.rops.rows import (
    ROW_FLAGGED, ROW_STANDARD, VALUE_ERROR, FlaggedValue, PropertyRow, TypedValue,
)

EC_NOT_FOUND = 0x8004010F
EC_NOT_ENOUGH_MEMORY = 0x8007000E
PT_ERROR = 0x000A
_STR = (PropType.String8, PropType.String)
TABLE_STRING_CHARS = 255
TABLE_BINARY_BYTES = 510
_MISSING = object()
MISSING = _MISSING                # what ``lookup`` returns for a property the bag lacks


def lookup(props: dict, tag: int):
    """The value for a column tag: the tag itself, or the same string property in the other string type."""
    ptype = tag & 0xFFFF
    v = props.get(tag, _MISSING)
    if v is _MISSING and (ptype & 0xFFF) in _STR:
        other = PropType.String if (ptype & 0xFFF) == PropType.String8 else PropType.String8
        v = props.get((tag & 0xFFFF0000) | (ptype & 0x3000) | other, _MISSING)
    return v


def _by_id(props: dict, pid: int):
    for key, v in props.items():
        if isinstance(key, int) and key >> 16 == pid:
            return key & 0xFFFF, v
    return None, _MISSING


def _cut(ptype: int, v, table: bool):
    if not table:
        return v
    if ptype in _STR and isinstance(v, str) and len(v) > TABLE_STRING_CHARS:
        return v[:TABLE_STRING_CHARS]
    if ptype == PropType.Binary and isinstance(v, (bytes, bytearray)) and len(v) > TABLE_BINARY_BYTES:
        return bytes(v[:TABLE_BINARY_BYTES])
    return v


def _fits(ptype: int, v, codepage: str) -> bool:
    try:
        encode_value(ptype, v, codepage=codepage)
        return True
    except (PropValueError, OverflowError, ValueError, TypeError):
        return False


def too_big(ptype: int, v, codepage: str, limit: int | None) -> bool:
    """Whether the value's bytes on the wire pass ``limit`` (None: no limit)."""
    if limit is None:
        return False
    try:
        return len(encode_value(ptype, v, codepage=codepage)) > limit
    except (PropValueError, OverflowError, ValueError, TypeError):
        return False


_NOT_FOUND = struct.pack("<I", EC_NOT_FOUND)
_NO_MEMORY = struct.pack("<I", EC_NOT_ENOUGH_MEMORY)
_ERROR_TYPE = struct.pack("<H", PT_ERROR)


def _encoded(ptype: int, v, codepage: str) -> bytes | None:
    try:
        return encode_value(ptype, v, codepage=codepage)
    except (PropValueError, OverflowError, ValueError, TypeError):
        return None


def property_row(props: dict, columns, *, codepage: str = "cp1252", table: bool = True,
                 size_limit: int | None = None) -> bytes:
    """One PropertyRow of ``props`` for ``columns``, encoded: the same bytes as ``encode_row(row_values(...))``
    with each value encoded once (the table hot path: checking that a value fits is encoding it)."""
    cells = []              # (type prefix, FlaggedPropertyValue flag, value bytes) per column
    flagged = False
    for tag in columns:
        ptype = tag & 0xFFFF
        if ptype == 0:
            real, v = _by_id(props, tag >> 16)
            data = None if v is _MISSING or v is None else _encoded(real, _cut(real, v, table), codepage)
            if data is None:
                cells.append((_ERROR_TYPE, VALUE_ERROR, _NOT_FOUND))
                flagged = True
            elif size_limit is not None and len(data) > size_limit:
                cells.append((_ERROR_TYPE, VALUE_ERROR, _NO_MEMORY))
                flagged = True
            else:
                cells.append((struct.pack("<H", real), 0, data))
            continue
        v = lookup(props, tag)
        if v is _MISSING or v is None or (isinstance(v, bool) and ptype != PropType.Boolean
                                           and ptype & 0xFFF not in (PropType.Integer16, PropType.Integer32)):
            data = None
        else:
            data = _encoded(ptype, _cut(ptype, v, table), codepage)
        if data is None:
            cells.append((b"", VALUE_ERROR, _NOT_FOUND))
            flagged = True
        elif size_limit is not None and len(data) > size_limit:
            cells.append((b"", VALUE_ERROR, _NO_MEMORY))
            flagged = True
        else:
            cells.append((b"", 0, data))
    if not flagged:
        return b"\x00" + b"".join(prefix + data for prefix, _, data in cells)
    out = bytearray(b"\x01")
    for prefix, flag, data in cells:
        out += prefix
        out.append(flag)
        out += data
    return bytes(out)


def row_values(props: dict, columns, *, codepage: str = "cp1252", table: bool = True,
               size_limit: int | None = None) -> PropertyRow:
    """One PropertyRow of ``props`` for ``columns``; values past ``size_limit`` bytes are error cells
    ecMAPI_E_NOT_ENOUGH_MEMORY."""
    vals = []
    flagged = False
    for tag in columns:
        ptype = tag & 0xFFFF
        if ptype == 0:
            real, v = _by_id(props, tag >> 16)
            if v is _MISSING or v is None or not _fits(real, v := _cut(real, v, table), codepage):
                vals.append(TypedValue(PT_ERROR, FlaggedValue(VALUE_ERROR, EC_NOT_FOUND)))
                flagged = True
            elif too_big(real, v, codepage, size_limit):
                vals.append(TypedValue(PT_ERROR, FlaggedValue(VALUE_ERROR, EC_NOT_ENOUGH_MEMORY)))
                flagged = True
            else:
                vals.append(TypedValue(real, v))
            continue
        v = lookup(props, tag)
        if v is _MISSING or v is None:
            vals.append(FlaggedValue(VALUE_ERROR, EC_NOT_FOUND))
            flagged = True
            continue
        if isinstance(v, bool) and ptype != PropType.Boolean and ptype & 0xFFF not in (PropType.Integer16,
                                                                                     PropType.Integer32):
            vals.append(FlaggedValue(VALUE_ERROR, EC_NOT_FOUND))
            flagged = True
            continue
        v = _cut(ptype, v, table)
        if not _fits(ptype, v, codepage):
            vals.append(FlaggedValue(VALUE_ERROR, EC_NOT_FOUND))
            flagged = True
            continue
        if too_big(ptype, v, codepage, size_limit):
            vals.append(FlaggedValue(VALUE_ERROR, EC_NOT_ENOUGH_MEMORY))
            flagged = True
            continue
        vals.append(v)
    return PropertyRow(ROW_FLAGGED if flagged else ROW_STANDARD, tuple(vals))
