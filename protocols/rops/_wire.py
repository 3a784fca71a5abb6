"""The little-endian reader, the field kinds and the two base classes every ROP codec uses.

A ROP is a dataclass whose wire fields carry their kind in the field metadata
(``field_u8()``, ``field_u64()``, ...), in wire order; ``RopRequest.decode``/``encode``
and ``RopResponse.decode``/``encode`` walk that layout.  ROPs whose layout depends on
a value (string encodings chosen by a flag, logon responses chosen by LogonFlags) write
their own ``decode``/``encode``.  Plain ``struct`` underneath: see the package docstring.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from protocols.mapi.restrictions import (
    RestrictionError, decode_restriction, decode_sort_order_set, encode_restriction,
    encode_sort_order_set,
)
from protocols.mapi.reader import Reader as _MapiReader
from protocols.mapi.values import PropValueError

from .errors import RopFormatError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class Reader(_MapiReader):
    """Reads a bytes-like object from ``off`` up to ``end``; every short read is a RopFormatError."""

    __slots__ = ()
    error = RopFormatError


def put_u8(out: bytearray, v: int) -> None:
    try:
        out.append(v)
    except (ValueError, TypeError) as exc:
        raise RopFormatError(f"{v!r} does not fit one byte") from exc


def _pack(s: struct.Struct, out: bytearray, v) -> None:
    try:
        out += s.pack(v)
    except struct.error as exc:
        raise RopFormatError(f"{v!r} does not fit {s.size} bytes") from exc


def put_u16(out: bytearray, v: int) -> None:
    _pack(_U16, out, v)


def put_u32(out: bytearray, v: int) -> None:
    _pack(_U32, out, v)


def put_u64(out: bytearray, v: int) -> None:
    _pack(_U64, out, v)


def put_asciiz(out: bytearray, s: str) -> None:
    try:
        out += s.encode("latin-1") + b"\x00"
    except (UnicodeError, AttributeError) as exc:
        raise RopFormatError(f"{s!r} is not an 8-bit string") from exc


def put_utf16z(out: bytearray, s: str) -> None:
    try:
        out += s.encode("utf-16-le", "surrogatepass") + b"\x00\x00"
    except (UnicodeError, AttributeError) as exc:
        raise RopFormatError(f"{s!r} is not a string") from exc


# ---- field kinds ----

class Kind:
    """How one field sits on the wire."""

    def read(self, r: Reader):
        raise NotImplementedError

    def write(self, out: bytearray, v) -> None:
        raise NotImplementedError


class _U8Kind(Kind):
    def read(self, r):
        return r.u8()

    def write(self, out, v):
        put_u8(out, v)


class _BoolKind(Kind):
    """A one-byte boolean; any nonzero byte is kept as its value so it round-trips."""

    def read(self, r):
        return r.u8()

    def write(self, out, v):
        put_u8(out, int(v))


class _U16Kind(Kind):
    def read(self, r):
        return r.u16()

    def write(self, out, v):
        put_u16(out, v)


class _U32Kind(Kind):
    def read(self, r):
        return r.u32()

    def write(self, out, v):
        put_u32(out, v)


class _U64Kind(Kind):
    def read(self, r):
        return r.u64()

    def write(self, out, v):
        put_u64(out, v)


class _FixedKind(Kind):
    def __init__(self, n: int):
        self.n = n

    def read(self, r):
        return r.take(self.n)

    def write(self, out, v):
        if len(v) != self.n:
            raise RopFormatError(f"field is {self.n} bytes, got {len(v)}")
        out += v


class _GuidKind(Kind):
    def read(self, r):
        return uuid.UUID(bytes_le=r.take(16))

    def write(self, out, v):
        out += v.bytes_le


class _Blob16Kind(Kind):
    """A 2-byte size then that many bytes."""

    def read(self, r):
        return r.take(r.u16())

    def write(self, out, v):
        put_u16(out, len(v))
        out += v


class _Array16Kind(Kind):
    """A 2-byte count then that many fixed-size unsigned integers (tags, ids)."""

    def __init__(self, item: struct.Struct):
        self.item = item

    def read(self, r):
        n = r.u16()
        r.need(n * self.item.size)
        vals = struct.unpack_from(f"<{n}{self.item.format[-1]}", r.buf, r.off)
        r.off += n * self.item.size
        return tuple(vals)

    def write(self, out, v):
        put_u16(out, len(v))
        try:
            out += struct.pack(f"<{len(v)}{self.item.format[-1]}", *v)
        except struct.error as exc:
            raise RopFormatError(f"array value does not fit: {exc}") from exc


class _RestrictionKind(Kind):
    """RestrictionDataSize (2) then RestrictionData (MS-OXCDATA 2.12, 2-byte counts);
    size 0 means no restriction (None)."""

    def read(self, r):
        size = r.u16()
        if size == 0:
            return None
        r.need(size)
        try:
            res, end = decode_restriction(r.buf[:r.off + size], r.off, count_width=2)
        except (RestrictionError, PropValueError) as exc:
            raise RopFormatError(f"bad restriction: {exc}") from exc
        if end != r.off + size:
            raise RopFormatError(f"restriction is {end - r.off} bytes, RestrictionDataSize says {size}")
        r.off = end
        return res

    def write(self, out, v):
        if v is None:
            put_u16(out, 0)
            return
        try:
            data = encode_restriction(v, count_width=2)
        except (RestrictionError, PropValueError) as exc:
            raise RopFormatError(f"cannot encode restriction: {exc}") from exc
        put_u16(out, len(data))
        out += data


class _SortOrderSetKind(Kind):
    """SortOrderSet, MS-OXCDATA 2.13.2 (its counts are inside)."""

    def read(self, r):
        try:
            s, end = decode_sort_order_set(r.buf[:r.end], r.off)
        except (RestrictionError, struct.error) as exc:
            raise RopFormatError(f"bad sort order set: {exc}") from exc
        r.off = end
        return s

    def write(self, out, v):
        try:
            out += encode_sort_order_set(v)
        except RestrictionError as exc:
            raise RopFormatError(f"cannot encode sort order set: {exc}") from exc


U8 = _U8Kind()
BOOL = _BoolKind()
U16 = _U16Kind()
U32 = _U32Kind()
U64 = _U64Kind()
GUID = _GuidKind()
BLOB16 = _Blob16Kind()
TAGS16 = _Array16Kind(_U32)
IDS16 = _Array16Kind(_U64)
U16S16 = _Array16Kind(_U16)        # property ids
U32S16 = _Array16Kind(_U32)        # attachment ids
RESTRICTION = _RestrictionKind()
SORT_ORDER_SET = _SortOrderSetKind()


def fixed(n: int) -> Kind:
    return _FixedKind(n)


def wire(kind: Kind, default: Any = 0, *, always: bool = False):
    """A dataclass field laid out as ``kind``.  ``always``: a response field present
    whatever the ReturnValue (most response fields are only there on success)."""
    return field(default=default, metadata={"wire": kind, "always": always})


def _layout(cls) -> tuple:
    lay = cls.__dict__.get("_LAYOUT_CACHE")
    if lay is None:
        lay = tuple((f.name, f.metadata["wire"], f.metadata["always"])
                    for f in fields(cls) if "wire" in f.metadata)
        cls._LAYOUT_CACHE = lay
    return lay


@dataclass(frozen=True)
class RopContext:
    """What a response decoder may need from outside its own bytes: the request it answers
    (RopGetPropertiesSpecific's row needs the requested tags) and the columns set on the
    table (RopQueryRows, RopFindRow)."""

    request: Any = None
    columns: tuple | None = None


@dataclass
class RopRequest:
    """A ROP request: RopId (the class's ROP_ID), then the fields in order."""

    ROP_ID: ClassVar[int] = -1

    @classmethod
    def decode(cls, r: Reader):
        return cls(**{name: kind.read(r) for name, kind, _ in _layout(cls)})

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        for name, kind, _ in _layout(type(self)):
            kind.write(out, getattr(self, name))


@dataclass
class RopResponse:
    """A ROP response: RopId, the handle index it answers for (the request's InputHandleIndex
    or OutputHandleIndex, per ROP), ReturnValue, then the success fields when ReturnValue
    is 0 -- the generic failure response of MS-OXCROPS (RopId, index, ReturnValue) otherwise."""

    ROP_ID: ClassVar[int] = -1
    # ReturnValues that are warnings: the success fields still follow (ecWarnWithErrors of the
    # named-property ROPs, MS-OXCROPS 2.2.8.1.2 and 2.2.8.2.2)
    WARNINGS: ClassVar[tuple] = ()

    handle_index: int = wire(U8)
    return_value: int = wire(U32)

    @property
    def ok(self) -> bool:
        return self.return_value == 0

    def write_head(self, out: bytearray) -> bool:
        """RopId, the handle index and ReturnValue; whether the success fields follow (a warning's too)."""
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        return self.return_value == 0 or self.return_value in self.WARNINGS

    @classmethod
    def decode(cls, r: Reader, ctx: RopContext | None = None):
        lay = _layout(cls)
        vals = {}
        ok = True
        for name, kind, always in lay:
            if ok or always:
                vals[name] = kind.read(r)
            if name == "return_value":
                ok = vals[name] == 0 or vals[name] in cls.WARNINGS
        return cls(**vals)

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        ok = True
        for name, kind, always in _layout(type(self)):
            if ok or always:
                kind.write(out, getattr(self, name))
            if name == "return_value":
                ok = self.return_value == 0 or self.return_value in self.WARNINGS


def default_of(cls, name: str):
    for f in fields(cls):
        if f.name == name:
            return None if f.default is MISSING else f.default
    raise KeyError(name)
