"""Property value encoding (MS-OXCDATA 2.11.1, 2.11.2).

Python shapes: integers -> int, PtypBoolean -> bool, floats -> float,
PtypTime -> aware UTC datetime, PtypGuid -> uuid.UUID, PtypString -> str,
PtypString8 -> str (code page given by the caller, cp1252 by default),
PtypBinary -> bytes, PtypServerId -> bytes, multi-valued -> list.

COUNT widths differ by context (MS-OXCDATA 2.11.1.1): a binary's length is 16-bit
in ROP buffers and 32-bit in FastTransfer streams and NSPI (``wide``); the number
of values of a multi-valued property is 32-bit everywhere (Outlook 2003's
EcDoRpc rows have ``03000000`` then 16-bit lengths for a PtypMultipleBinary, as
gromox reads them too).
"""
from __future__ import annotations

import codecs
import struct
import uuid
from datetime import datetime, timedelta, timezone

from .types import MV_FLAG, PropType as T

FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


class PropValueError(ValueError):
    """A value does not fit its property type, or a buffer is short."""


def filetime_to_datetime(ft: int) -> datetime:
    # 100 ns ticks since 1601-01-01 UTC; keep microseconds, drop the rest.
    return FILETIME_EPOCH + timedelta(microseconds=ft // 10)


def datetime_to_filetime(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


_FIXED = {
    T.Integer16: "<h",
    T.Integer32: "<i",
    T.Floating32: "<f",
    T.Floating64: "<d",
    T.Currency: "<q",
    T.FloatingTime: "<d",
    T.ErrorCode: "<I",
    T.Integer64: "<q",
}


# the same, precompiled (property bags and table rows decode many values: this is their hot path)
_FIXED_S = {int(k): struct.Struct(v) for k, v in _FIXED.items()}
_WRAP = {int(T.Integer64): 1 << 63, int(T.Integer32): 1 << 31, int(T.Integer16): 1 << 15}
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_utf16 = codecs.utf_16_le_decode       # the C decoder itself (bytes.decode goes through a Python wrapper)


def encode_value(ptype: int, value, *, wide: bool = False, codepage: str = "cp1252") -> bytes:
    """Encode one value of ``ptype`` (without tag)."""
    try:
        s = _FIXED_S.get(ptype)
        if s is not None:
            half = _WRAP.get(ptype)
            if half is not None and value >= half:         # ids are unsigned on the wire
                value -= half << 1
            return s.pack(value)
        if ptype == T.Boolean:
            return b"\x01" if value else b"\x00"
        if ptype == T.Time:
            return struct.pack("<Q", datetime_to_filetime(value))
        if ptype == T.Guid:
            return value.bytes_le
        if ptype == T.String:
            return value.encode("utf-16-le") + b"\x00\x00"
        if ptype == T.String8:
            return value.encode(codepage, "replace") + b"\x00"
        if ptype in (T.Binary, T.ServerId, T.Object):
            data = bytes(value)
            return struct.pack("<I" if wide else "<H", len(data)) + data
        if ptype & MV_FLAG:
            base = ptype & ~MV_FLAG
            parts = [struct.pack("<I", len(value))]
            for v in value:
                if base in (T.String, T.String8, T.Binary):
                    # MV strings and binaries are length-prefixed/terminated per element.
                    parts.append(encode_value(base, v, wide=wide, codepage=codepage))
                else:
                    parts.append(encode_value(base, v, wide=wide, codepage=codepage))
            return b"".join(parts)
        if ptype in (T.Null, T.Unspecified):
            return b""
        if ptype in (0x00FD, 0x00FE):     # PtypRestriction, PtypRuleAction (MS-OXCDATA 2.11.1)
            from . import ruleaction
            return ruleaction.encode_value(ptype, value, wide=wide)
    except (struct.error, AttributeError, TypeError, UnicodeError) as exc:
        raise PropValueError(f"cannot encode {value!r} as type 0x{ptype:04X}: {exc}") from None
    raise PropValueError(f"unsupported property type 0x{ptype:04X}")


def _need(buf, off: int, n: int) -> None:
    if off + n > len(buf):
        raise PropValueError(f"buffer too short: need {n} bytes at {off}, have {len(buf) - off}")


def decode_value(ptype: int, buf, off: int = 0, *, wide: bool = False, codepage: str = "cp1252"):
    """Decode one value of ``ptype`` at ``off``; returns (value, new offset)."""
    s = _FIXED_S.get(ptype)
    if s is not None:
        n = s.size
        if off + n > len(buf):
            _need(buf, off, n)
        (v,) = s.unpack_from(buf, off)
        if ptype == T.Integer64 and v < 0:
            v += 1 << 64  # keep 64-bit ids unsigned in Python
        return v, off + n
    if ptype == T.Boolean:
        _need(buf, off, 1)
        return buf[off] != 0, off + 1
    if ptype == T.Time:
        _need(buf, off, 8)
        (ft,) = _U64.unpack_from(buf, off)
        return filetime_to_datetime(ft), off + 8
    if ptype == T.Guid:
        _need(buf, off, 16)
        return uuid.UUID(bytes_le=bytes(buf[off:off + 16])), off + 16
    if ptype == T.String:
        data = buf if isinstance(buf, bytes) else bytes(buf)
        end = data.find(b"\x00\x00", off)
        while end >= 0 and (end - off) % 2:   # a NUL pair across two characters is not the terminator
            end = data.find(b"\x00\x00", end + 1)
        if end < 0:
            raise PropValueError(f"buffer too short: unterminated PtypString at {off}")
        return _utf16(data[off:end], "replace", True)[0], end + 2
    if ptype == T.String8:
        end = bytes(buf).find(b"\x00", off) if not isinstance(buf, bytes) else buf.find(b"\x00", off)
        if end < 0:
            raise PropValueError("unterminated PtypString8")
        return bytes(buf[off:end]).decode(codepage, "replace"), end + 1
    if ptype in (T.Binary, T.ServerId, T.Object):
        fmt = "<I" if wide else "<H"
        n = struct.calcsize(fmt)
        _need(buf, off, n)
        (size,) = struct.unpack_from(fmt, buf, off)
        off += n
        _need(buf, off, size)
        return bytes(buf[off:off + size]), off + size
    if ptype & MV_FLAG:
        base = ptype & ~MV_FLAG
        _need(buf, off, 4)
        (count,) = struct.unpack_from("<I", buf, off)
        off += 4
        if count > len(buf):  # every element takes at least one byte
            raise PropValueError(f"multi-value count {count} exceeds buffer")
        out = []
        for _ in range(count):
            v, off = decode_value(base, buf, off, wide=wide, codepage=codepage)
            out.append(v)
        return out, off
    if ptype in (T.Null, T.Unspecified):
        return None, off
    if ptype in (0x00FD, 0x00FE):         # PtypRestriction, PtypRuleAction (MS-OXCDATA 2.11.1)
        from . import ruleaction
        try:
            return ruleaction.decode_value(ptype, buf, off, wide=wide)
        except ValueError as exc:
            raise PropValueError(f"bad value of type 0x{ptype:04X}: {exc}") from None
    raise PropValueError(f"unsupported property type 0x{ptype:04X}")


def encode_tagged(tag: int, value, **kw) -> bytes:
    """TaggedPropertyValue (MS-OXCDATA 2.11.4): tag then value."""
    return struct.pack("<I", tag) + encode_value(tag & 0xFFFF, value, **kw)


def decode_tagged(buf, off: int = 0, **kw):
    _need(buf, off, 4)
    (tag,) = struct.unpack_from("<I", buf, off)
    value, off = decode_value(tag & 0xFFFF, buf, off + 4, **kw)
    return tag, value, off


def encode_bag(props: dict[int, object]) -> bytes:
    """A whole property bag as a count and tagged values, wide counts (state-db storage form)."""
    out = [struct.pack("<I", len(props))]
    for tag, value in props.items():
        out.append(encode_tagged(tag, value, wide=True))
    return b"".join(out)


def decode_bag(buf) -> dict[int, object]:
    _need(buf, 0, 4)
    (count,) = _U32.unpack_from(buf, 0)
    off = 4
    props: dict[int, object] = {}
    size = len(buf)
    tag_at = _U32.unpack_from
    for _ in range(count):            # decode_tagged, inline: every row of a table index comes through here
        if off + 4 > size:
            _need(buf, off, 4)
        (tag,) = tag_at(buf, off)
        props[tag], off = decode_value(tag & 0xFFFF, buf, off + 4, wide=True)
    return props
