"""PropertyRow and PropertyRowSet (MS-OXCDATA 2.8): the rows of RopQueryRows, RopFindRow,
RopExpandRow and the row of RopGetPropertiesSpecific.

A row is not self-describing: its values follow the column tags set on the table (or
the tags the request asked for).  Flag byte 0x00 is a StandardPropertyRow (one value per
column), 0x01 a FlaggedPropertyRow (per column a flag: 0x0 value follows, 0x1 no value,
0xA a 4-byte error code follows, 2.11.5).  A column of type PtypUnspecified (0x0000)
carries its own 2-byte type before the value (TypedPropertyValue, 2.11.3, and
FlaggedPropertyValueWithType, 2.11.6).  Values use 2-byte counts (ROP buffers).

This is on the table hot path: plain struct.  A StandardPropertyRow of columns with plain types
(fixed-size numbers, booleans, times, strings, binaries) goes through a plan made once per column set
(``_plan``): runs of fixed-size columns packed and unpacked by one precompiled ``struct.Struct``, strings
and binaries inline.  Anything else (flagged rows, PtypUnspecified, multi-valued, GUIDs), and any value
the plan cannot take, goes through ``protocols.mapi.values`` one value at a time, which also gives the
errors; both give the same bytes and values (bench/emsmdb.py measures the difference).
"""
from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass

from protocols.mapi.types import PropType as T
from protocols.mapi.values import (PropValueError, datetime_to_filetime, decode_value, encode_value,
                                   filetime_to_datetime)

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


# ----------------------------------------------------------------------------- the plan of a column set

# fixed-size types: struct code (Integer64 unsigned, as decode_value keeps ids)
_CODES = {T.Integer16: "h", T.Integer32: "i", T.Floating32: "f", T.Floating64: "d", T.Currency: "q",
          T.FloatingTime: "d", T.ErrorCode: "I", T.Integer64: "Q", T.Boolean: "?", T.Time: "Q"}
_FIX, _WSTR, _STR8, _BIN = 0, 1, 2, 3
_PLANS: dict = {}
_MAX_PLANS = 256


class _Slow(Exception):
    """The plan cannot take this row: the value-by-value path decides."""


def _make_plan(columns) -> tuple | None:
    """Steps for a standard row of ``columns``: (_FIX, Struct, count, time positions, bool positions) for a
    run of fixed-size columns, (_WSTR,), (_STR8,), (_BIN,) for one column each; None when a column's type
    has no plan."""
    steps, codes, times, bools = [], "", [], []

    def close():
        nonlocal codes, times, bools
        if codes:
            steps.append((_FIX, struct.Struct("<" + codes), len(codes), tuple(times), tuple(bools)))
        codes, times, bools = "", [], []
    for tag in columns:
        ptype = tag & 0xFFFF
        code = _CODES.get(ptype)
        if code is not None:
            if ptype == T.Time:
                times.append(len(codes))
            elif ptype == T.Boolean:
                bools.append(len(codes))
            codes += code
            continue
        close()
        if ptype == T.String:
            steps.append((_WSTR,))
        elif ptype == T.String8:
            steps.append((_STR8,))
        elif ptype in (T.Binary, T.ServerId, T.Object):
            steps.append((_BIN,))
        else:
            return None
    close()
    return tuple(steps)


def _plan(columns):
    try:
        return _PLANS[columns]
    except KeyError:
        pass
    except TypeError:              # a list of tags
        columns = tuple(columns)
        if columns in _PLANS:
            return _PLANS[columns]
    if len(_PLANS) >= _MAX_PLANS:  # client-chosen column sets: keep the cache bounded
        _PLANS.clear()
    plan = _PLANS[columns] = _make_plan(columns)
    return plan


def _decode_planned(plan, buf: bytes, off: int, codepage: str) -> tuple[tuple, int]:
    """The values of a standard row from ``off`` (after its flag byte); raises _Slow where the
    value-by-value path must look (it gives the error)."""
    vals = []
    find = buf.find
    try:
        for step in plan:
            kind = step[0]
            if kind == _WSTR:
                end = find(b"\x00\x00", off)
                while end >= 0 and (end - off) & 1:     # a NUL pair across two characters
                    end = find(b"\x00\x00", end + 1)
                if end < 0:
                    raise _Slow
                vals.append(_utf16(buf[off:end], "replace", True)[0])
                off = end + 2
            elif kind == _FIX:
                s = step[1]
                got = s.unpack_from(buf, off)
                off += s.size
                if step[3]:
                    got = list(got)
                    for i in step[3]:
                        got[i] = filetime_to_datetime(got[i])
                vals.extend(got)
            elif kind == _STR8:
                end = buf.find(b"\x00", off)
                if end < 0:
                    raise _Slow
                vals.append(buf[off:end].decode(codepage, "replace"))
                off = end + 1
            else:
                (size,) = _U16.unpack_from(buf, off)
                off += 2
                if off + size > len(buf):
                    raise _Slow
                vals.append(buf[off:off + size])
                off += size
    except (struct.error, OverflowError, ValueError) as exc:
        raise _Slow from exc
    return tuple(vals), off


def _encode_planned(plan, values, codepage: str) -> bytes:
    """A standard row's bytes; raises _Slow for any value the plan cannot take as it is."""
    out = [b"\x00"]
    i = 0
    try:
        for step in plan:
            kind = step[0]
            if kind == _FIX:
                n = step[2]
                chunk = values[i:i + n]
                if step[3] or step[4]:
                    chunk = list(chunk)
                    for j in step[3]:
                        chunk[j] = datetime_to_filetime(chunk[j])
                    for j in step[4]:
                        if isinstance(chunk[j], FlaggedValue):
                            raise _Slow
                out.append(step[1].pack(*chunk))
                i += n
                continue
            v = values[i]
            i += 1
            if kind == _WSTR:
                out.append(v.encode("utf-16-le"))
                out.append(b"\x00\x00")
            elif kind == _STR8:
                out.append(v.encode(codepage, "replace"))
                out.append(b"\x00")
            else:
                if not isinstance(v, bytes):
                    raise _Slow
                out.append(_U16.pack(len(v)))
                out.append(v)
    except (struct.error, AttributeError, TypeError, UnicodeError, OverflowError, LookupError) as exc:
        raise _Slow from exc
    return b"".join(out)


_U16 = struct.Struct("<H")
_utf16 = codecs.utf_16_le_decode       # the C decoder itself (bytes.decode goes through a Python wrapper)


def decode_row(buf, off: int, columns, *, codepage: str = "cp1252") -> tuple[PropertyRow, int]:
    """One PropertyRow at ``off`` for ``columns`` (property tags); returns it and the end."""
    buf = buf if isinstance(buf, bytes) else bytes(buf)
    if off >= len(buf):
        raise RopFormatError("row truncated: no flag byte")
    flag = buf[off]
    if flag == ROW_STANDARD:
        plan = _plan(columns)
        if plan is not None:
            try:
                vals, end = _decode_planned(plan, buf, off + 1, codepage)
                return PropertyRow(flag, vals), end
            except _Slow:
                pass
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
    if row.flag == ROW_STANDARD:
        plan = _plan(columns)
        if plan is not None:
            try:
                return _encode_planned(plan, row.values, codepage)
            except _Slow:
                pass
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
    buf = buf if isinstance(buf, bytes) else bytes(buf)
    rows = []
    for _ in range(count):
        row, off = decode_row(buf, off, columns, codepage=codepage)
        rows.append(row)
    return rows, off


def encode_rows(rows, columns, *, codepage: str = "cp1252") -> bytes:
    return b"".join(encode_row(r, columns, codepage=codepage) for r in rows)


def standard_row(*values) -> PropertyRow:
    return PropertyRow(ROW_STANDARD, tuple(values))
