"""PropertyRow and PropertyRowSet (MS-OXCDATA 2.8): the rows of RopQueryRows, RopFindRow,
RopExpandRow and the row of RopGetPropertiesSpecific.

A row is not self-describing: its values follow the column tags set on the table (or
the tags the request asked for).  Flag byte 0x00 is a StandardPropertyRow (one value per
column), 0x01 a FlaggedPropertyRow (per column a flag: 0x0 value follows, 0x1 no value,
0xA a 4-byte error code follows, 2.11.5).  A column of type PtypUnspecified (0x0000)
carries its own 2-byte type before the value (TypedPropertyValue, 2.11.3, and
FlaggedPropertyValueWithType, 2.11.6).  Values use 2-byte counts (ROP buffers).

This is on the table hot path: plain struct through ``protocols.mapi.values``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.mapi.values import PropValueError, decode_value, encode_value

from .errors import RopFormatError

ROW_STANDARD = 0x00
ROW_FLAGGED = 0x01
VALUE_PRESENT = 0x0
VALUE_MISSING = 0x1
VALUE_ERROR = 0xA
PT_UNSPECIFIED = 0x0000


@dataclass(frozen=True)
class FlaggedValue:
    """A cell of a flagged row that is not a plain value: ``flag`` VALUE_MISSING (value
    None) or VALUE_ERROR (value the error code)."""

    flag: int
    value: object = None


@dataclass(frozen=True)
class TypedValue:
    """A cell of a PtypUnspecified column: the value with the type it came with."""

    ptype: int
    value: object


@dataclass(frozen=True)
class PropertyRow:
    flag: int
    values: tuple


def _dec(ptype: int, buf: bytes, off: int, codepage: str):
    try:
        return decode_value(ptype, buf, off, wide=False, codepage=codepage)
    except (PropValueError, struct.error, ValueError) as exc:
        raise RopFormatError(f"bad property value of type 0x{ptype:04X} at {off}: {exc}") from exc


def _enc(ptype: int, value, codepage: str) -> bytes:
    try:
        return encode_value(ptype, value, wide=False, codepage=codepage)
    except PropValueError as exc:
        raise RopFormatError(str(exc)) from exc


def decode_row(buf, off: int, columns, *, codepage: str = "cp1252") -> tuple[PropertyRow, int]:
    """One PropertyRow at ``off`` for ``columns`` (property tags); returns it and the end."""
    buf = buf if isinstance(buf, bytes) else bytes(buf)
    if off >= len(buf):
        raise RopFormatError("row truncated: no flag byte")
    flag = buf[off]
    off += 1
    if flag not in (ROW_STANDARD, ROW_FLAGGED):
        raise RopFormatError(f"PropertyRow flag 0x{flag:02X} is neither standard nor flagged")
    vals = []
    for tag in columns:
        ptype = tag & 0xFFFF
        typed = ptype == PT_UNSPECIFIED
        if typed:
            if off + 2 > len(buf):
                raise RopFormatError("row truncated: PropertyType missing")
            (ptype,) = struct.unpack_from("<H", buf, off)
            off += 2
        if flag == ROW_FLAGGED:
            if off >= len(buf):
                raise RopFormatError("row truncated: value flag missing")
            vflag = buf[off]
            off += 1
            if vflag == VALUE_MISSING:
                vals.append(FlaggedValue(VALUE_MISSING) if not typed
                            else TypedValue(ptype, FlaggedValue(VALUE_MISSING)))
                continue
            if vflag == VALUE_ERROR:
                code, off = _dec(0x000A, buf, off, codepage)
                cell = FlaggedValue(VALUE_ERROR, code)
                vals.append(TypedValue(ptype, cell) if typed else cell)
                continue
            if vflag != VALUE_PRESENT:
                raise RopFormatError(f"flagged value flag 0x{vflag:02X}")
        v, off = _dec(ptype, buf, off, codepage)
        vals.append(TypedValue(ptype, v) if typed else v)
    return PropertyRow(flag, tuple(vals)), off


def encode_row(row: PropertyRow, columns, *, codepage: str = "cp1252") -> bytes:
    if len(row.values) != len(columns):
        raise RopFormatError(f"row has {len(row.values)} values for {len(columns)} columns")
    out = bytearray((row.flag,))
    for tag, v in zip(columns, row.values):
        ptype = tag & 0xFFFF
        if ptype == PT_UNSPECIFIED:
            if not isinstance(v, TypedValue):
                raise RopFormatError("a PtypUnspecified column needs a TypedValue")
            ptype = v.ptype
            out += struct.pack("<H", ptype)
            v = v.value
        if row.flag == ROW_FLAGGED:
            if isinstance(v, FlaggedValue):
                out.append(v.flag)
                if v.flag == VALUE_ERROR:
                    out += _enc(0x000A, v.value, codepage)
                continue
            out.append(VALUE_PRESENT)
        elif isinstance(v, FlaggedValue):
            raise RopFormatError("a standard row cannot hold a missing or error cell")
        out += _enc(ptype, v, codepage)
    return bytes(out)


def decode_rows(buf, count: int, columns, *, off: int = 0, codepage: str = "cp1252"):
    """``count`` rows from ``off``; returns (rows, end)."""
    rows = []
    for _ in range(count):
        row, off = decode_row(buf, off, columns, codepage=codepage)
        rows.append(row)
    return rows, off


def encode_rows(rows, columns, *, codepage: str = "cp1252") -> bytes:
    return b"".join(encode_row(r, columns, codepage=codepage) for r in rows)


def standard_row(*values) -> PropertyRow:
    return PropertyRow(ROW_STANDARD, tuple(values))
