"""NSPI request and response bodies of MAPI over HTTP (/mapi/nspi).

MS-OXCMAPIHTTP 2.2.5 (one section per request type: x.1 request body, x.2
success response body, x.3 failure response body) with the shared structures
of 2.2.1 and the STAT structure of MS-OXNSPI 2.3.7. Every integer is
little-endian; every AuxiliaryBufferSize is a u32 followed by that many bytes,
kept opaque here.

Each body is a frozen dataclass with ``decode(bytes)`` (a classmethod) and
``encode()``. ``NspiDecodeError`` is the only exception a decoder raises.

Layout conventions, worth stating because they are not obvious:

- ``HasXxx`` bytes (a BOOLEAN, non-zero means present) guard optional fields;
  an absent field is ``None``. Clients send 0xFF (ruler) or 0x01; the byte a
  body used is kept in ``true_byte`` so ``encode(decode(b)) == b``. A body
  whose non-zero Has bytes differ from one another is refused (it could not
  be re-encoded exactly).
- A response whose StatusCode is non-zero is ``FailureResponse`` (StatusCode
  then the auxiliary buffer, 2.2.5.x.3) whatever the request type.
- Property values in rows follow AddressBookPropertyValue (2.2.1.1): a
  ``HasValue`` byte precedes PtypString, PtypString8, PtypBinary and every
  multi-valued type; counts and binary lengths are 32-bit (MS-OXCDATA
  2.11.1.1 "NSPI"). Rows (AddressBookPropertyRow, 2.2.1.7) carry no tags, so
  they are read against the Columns sent beside them; Flags 0x01 means every
  value is an AddressBookFlaggedPropertyValue (2.2.1.5: flag 0x0 value,
  0x1 absent, 0xA a PtypErrorCode instead); a PtypUnspecified column carries
  its own PropertyType (2.2.1.4 / 2.2.1.6).
- PtypString8 text is decoded as cp1252 with ``surrogateescape`` so every
  byte string comes back exactly; PtypString with ``surrogatepass``.
- GetMatches' Filter is a MS-OXCDATA 2.12 restriction with 32-bit counts
  (``protocols.mapi.restrictions``, ``count_width=4``).
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field, make_dataclass
from typing import Any, Optional

from protocols.mapi import values as _values
from protocols.mapi.restrictions import decode_restriction, encode_restriction
from protocols.mapi.types import MV_FLAG, PropType as T


class NspiDecodeError(ValueError):
    """Bytes that are not a well-formed NSPI request or response body."""


_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")

_HAS_VALUE_TYPES = (T.String, T.String8, T.Binary)
CODEPAGE = "cp1252"


# ---------------------------------------------------------------- reader


class _Reader:
    __slots__ = ("data", "pos", "what", "true_byte")

    def __init__(self, data, what: str) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise NspiDecodeError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.pos = 0
        self.what = what
        self.true_byte: int | None = None

    def fail(self, message: str) -> NspiDecodeError:
        return NspiDecodeError(f"{self.what}: {message} at offset {self.pos}")

    def take(self, n: int, field_name: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"{field_name} needs {n} bytes, {len(self.data) - self.pos} remain")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, f: str) -> int:
        return self.take(1, f)[0]

    def u16(self, f: str) -> int:
        return _U16.unpack(self.take(2, f))[0]

    def u32(self, f: str) -> int:
        return _U32.unpack(self.take(4, f))[0]

    def i32(self, f: str) -> int:
        return _I32.unpack(self.take(4, f))[0]

    def has(self, f: str) -> bool:
        b = self.u8("Has" + f)
        if b == 0:
            return False
        if self.true_byte is None:
            self.true_byte = b
        elif self.true_byte != b:
            raise self.fail(f"Has{f} is 0x{b:02X} but an earlier Boolean was 0x{self.true_byte:02X}")
        return True

    def count(self, f: str, min_size: int) -> int:
        n = self.u32(f)
        if n * max(min_size, 1) > len(self.data) - self.pos:
            raise self.fail(f"{f} {n} exceeds the bytes left")
        return n

    def ascii_z(self, f: str) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise self.fail(f"{f} has no terminating null")
        try:
            text = self.data[self.pos:end].decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"{f} is not ASCII") from None
        self.pos = end + 1
        return text

    def unicode_z(self, f: str) -> str:
        pos = self.pos
        while True:
            if pos + 2 > len(self.data):
                raise self.fail(f"{f} has no terminating null")
            if self.data[pos] == 0 and self.data[pos + 1] == 0:
                break
            pos += 2
        text = self.data[self.pos:pos].decode("utf-16-le", "surrogatepass")
        self.pos = pos + 2
        return text

    def string8_z(self, f: str) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise self.fail(f"{f} has no terminating null")
        text = self.data[self.pos:end].decode(CODEPAGE, "surrogateescape")
        self.pos = end + 1
        return text

    def end(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} trailing bytes")


def _unicode_z(text: str) -> bytes:
    if "\0" in text:
        raise ValueError("a null-terminated string cannot hold a null")
    return text.encode("utf-16-le", "surrogatepass") + b"\0\0"


def _ascii_z(text: str) -> bytes:
    if "\0" in text:
        raise ValueError("a null-terminated string cannot hold a null")
    return text.encode("ascii") + b"\0"


def _string8_z(text: str) -> bytes:
    if "\0" in text:
        raise ValueError("a null-terminated string cannot hold a null")
    return text.encode(CODEPAGE, "surrogateescape") + b"\0"


# ---------------------------------------------------------------- STAT


@dataclass(frozen=True, slots=True)
class Stat:
    """STAT, MS-OXNSPI 2.3.7: nine 32-bit fields, 36 bytes; Delta is signed."""

    sort_type: int = 0
    container_id: int = 0
    current_rec: int = 0
    delta: int = 0
    num_pos: int = 0
    total_recs: int = 0
    code_page: int = 1252
    template_locale: int = 0x0409
    sort_locale: int = 0x0409

    SIZE = 36
    _S = struct.Struct("<IIIiIIIII")

    @classmethod
    def decode(cls, data) -> "Stat":
        if len(data) != 36:
            raise NspiDecodeError(f"STAT: need 36 bytes, have {len(data)}")
        return cls(*cls._S.unpack(bytes(data)))

    def encode(self) -> bytes:
        return self._S.pack(self.sort_type, self.container_id, self.current_rec, self.delta,
                            self.num_pos, self.total_recs, self.code_page,
                            self.template_locale, self.sort_locale)


# ---------------------------------------------------------------- property values


@dataclass(frozen=True, slots=True)
class PropValue:
    """One value in an AddressBookPropertyRow or AddressBookPropertyValueList.

    ``ptype`` is the value's PropertyType (the column's, or the one written
    in the value for PtypUnspecified columns and tagged values). ``flag`` is
    the AddressBookFlaggedPropertyValue Flag (None in an unflagged row);
    ``has_value`` the HasValue byte for the types that carry one (None
    otherwise; 0 means no value follows and ``value`` is None). With flag
    0xA the value is the PtypErrorCode.
    """

    ptype: int
    value: Any = None
    flag: Optional[int] = None
    has_value: Optional[int] = None


def _needs_has_value(ptype: int) -> bool:
    return ptype in _HAS_VALUE_TYPES or bool(ptype & MV_FLAG)


def _read_plain(r: _Reader, ptype: int):
    """MS-OXCDATA 2.11.2.1 PropertyValue with NSPI (32-bit) counts."""
    if ptype == T.String:
        return r.unicode_z("PtypString")
    if ptype == T.String8:
        return r.string8_z("PtypString8")
    if ptype & MV_FLAG:
        base = ptype & ~MV_FLAG
        if base in (T.String, T.String8):
            n = r.count("MultiValueCount", 1)
            return [_read_plain(r, base) for _ in range(n)]
    try:
        value, end = _values.decode_value(ptype, r.data, r.pos, wide=True)
    except (_values.PropValueError, ValueError, OverflowError) as exc:
        raise r.fail(f"property value of type 0x{ptype:04X}: {exc}") from None
    r.pos = end
    return value


def _write_plain(ptype: int, value) -> bytes:
    if ptype == T.String:
        return _unicode_z(value)
    if ptype == T.String8:
        return _string8_z(value)
    if ptype & MV_FLAG and (ptype & ~MV_FLAG) in (T.String, T.String8):
        return _U32.pack(len(value)) + b"".join(_write_plain(ptype & ~MV_FLAG, v) for v in value)
    return _values.encode_value(ptype, value, wide=True)


def _read_ab_value(r: _Reader, ptype: int, flag: Optional[int]) -> PropValue:
    """AddressBookPropertyValue, 2.2.1.1."""
    has_value = None
    if _needs_has_value(ptype):
        has_value = r.u8("HasValue")
        if has_value == 0:
            return PropValue(ptype, None, flag, 0)
    return PropValue(ptype, _read_plain(r, ptype), flag, has_value)


def _write_ab_value(v: PropValue) -> bytes:
    if _needs_has_value(v.ptype):
        hv = 0xFF if v.has_value is None else v.has_value
        if hv == 0:
            return b"\0"
        return bytes([hv]) + _write_plain(v.ptype, v.value)
    return _write_plain(v.ptype, v.value)


def _read_flagged(r: _Reader, ptype: int) -> PropValue:
    """AddressBookFlaggedPropertyValue, 2.2.1.5."""
    flag = r.u8("Flag")
    if flag == 0x0:
        return _read_ab_value(r, ptype, 0)
    if flag == 0x1:
        return PropValue(ptype, None, 1)
    if flag == 0xA:
        return PropValue(ptype, r.u32("ErrorCode"), 0xA)
    raise r.fail(f"Flag 0x{flag:02X} is not 0x0, 0x1 or 0xA")


def _write_flagged(v: PropValue) -> bytes:
    flag = 0 if v.flag is None else v.flag
    if flag == 0:
        return b"\0" + _write_ab_value(v)
    if flag == 1:
        return b"\x01"
    if flag == 0xA:
        return b"\x0a" + _U32.pack(v.value)
    raise ValueError(f"Flag 0x{flag:02X} is not 0x0, 0x1 or 0xA")


@dataclass(frozen=True, slots=True)
class PropertyRow:
    """AddressBookPropertyRow, 2.2.1.7: Flags 0x0 plain values, 0x1 flagged values."""

    flags: int
    values: tuple[PropValue, ...]


def _read_row(r: _Reader, columns: tuple[int, ...]) -> PropertyRow:
    flags = r.u8("Flags")
    if flags not in (0, 1):
        raise r.fail(f"row Flags 0x{flags:02X} is not 0x0 or 0x1")
    out = []
    for tag in columns:
        ptype = tag & 0xFFFF
        if ptype == T.Unspecified:   # 2.2.1.4 / 2.2.1.6: the value names its type
            ptype = r.u16("PropertyType")
            if ptype == T.Unspecified:
                raise r.fail("a typed value cannot be PtypUnspecified")
        out.append(_read_flagged(r, ptype) if flags else _read_ab_value(r, ptype, None))
    return PropertyRow(flags, tuple(out))


def _write_row(row: PropertyRow, columns: tuple[int, ...]) -> bytes:
    if len(row.values) != len(columns):
        raise ValueError(f"row has {len(row.values)} values for {len(columns)} columns")
    parts = [bytes([row.flags])]
    for tag, v in zip(columns, row.values):
        if tag & 0xFFFF == T.Unspecified:
            parts.append(_U16.pack(v.ptype))
        parts.append(_write_flagged(v) if row.flags else _write_ab_value(v))
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class TaggedValue:
    """AddressBookTaggedPropertyValue, 2.2.1.2: PropertyType, PropertyId, value."""

    tag: int
    value: PropValue


def _read_tagged(r: _Reader) -> TaggedValue:
    ptype = r.u16("PropertyType")
    pid = r.u16("PropertyId")
    return TaggedValue(pid << 16 | ptype, _read_ab_value(r, ptype, None))


def _write_tagged(t: TaggedValue) -> bytes:
    if t.tag & 0xFFFF != t.value.ptype:
        raise ValueError("tag type and value type differ")
    return _U16.pack(t.tag & 0xFFFF) + _U16.pack(t.tag >> 16) + _write_ab_value(t.value)


def _read_pvlist(r: _Reader) -> tuple[TaggedValue, ...]:
    """AddressBookPropertyValueList, 2.2.1.3."""
    n = r.count("PropertyValueCount", 4)
    return tuple(_read_tagged(r) for _ in range(n))


def _write_pvlist(values) -> bytes:
    return _U32.pack(len(values)) + b"".join(_write_tagged(t) for t in values)


@dataclass(frozen=True, slots=True)
class RowSet:
    """Columns (LargePropertyTagArray, 2.2.1.8) + RowCount + RowData."""

    columns: tuple[int, ...]
    rows: tuple[PropertyRow, ...]


@dataclass(frozen=True, slots=True)
class PropertyName:
    """GetMatches PropertyName: a GUID and a PropertyId (MS-OXCMAPIHTTP 2.2.5.5.1)."""

    guid: uuid.UUID
    property_id: int


# ---------------------------------------------------------------- field kinds


def _tags(r: _Reader) -> tuple[int, ...]:
    n = r.count("PropertyTagCount", 4)
    return tuple(r.u32("PropertyTag") for _ in range(n))


def _enc_tags(tags) -> bytes:
    return _U32.pack(len(tags)) + b"".join(_U32.pack(t) for t in tags)


def _mids(r: _Reader) -> tuple[int, ...]:
    n = r.count("MinimalIdCount", 4)
    return tuple(r.u32("MinimalId") for _ in range(n))


def _rowset(r: _Reader) -> RowSet:
    cols = _tags(r)
    n = r.count("RowCount", 1)
    return RowSet(cols, tuple(_read_row(r, cols) for _ in range(n)))


def _enc_rowset(rs: RowSet) -> bytes:
    return (_enc_tags(rs.columns) + _U32.pack(len(rs.rows))
            + b"".join(_write_row(row, rs.columns) for row in rs.rows))


def _restriction(r: _Reader):
    try:
        res, end = decode_restriction(r.data, r.pos, count_width=4)
    except (ValueError, OverflowError, IndexError, struct.error) as exc:
        raise r.fail(f"Filter: {exc}") from None
    r.pos = end
    return res


def _entryids(r: _Reader) -> tuple[bytes, ...]:
    n = r.count("EntryIdCount", 4)
    return tuple(r.take(r.u32("EntryIdSize"), "EntryId") for _ in range(n))


# kind -> (python type, reader, writer, optional?)
_KINDS: dict[str, tuple[Any, Any, Any, bool]] = {
    "u32": (int, lambda r: r.u32("u32"), _U32.pack, False),
    "i32": (int, lambda r: r.i32("i32"), _I32.pack, False),
    "byte": (int, lambda r: r.u8("byte"), lambda v: bytes([v]), False),
    "guid": (uuid.UUID, lambda r: uuid.UUID(bytes_le=r.take(16, "GUID")), lambda v: v.bytes_le, False),
    "unicode": (str, lambda r: r.unicode_z("string"), _unicode_z, False),
    "mids": (tuple, _mids, lambda v: _enc_tags(v), False),
    "aux": (bytes, lambda r: r.take(r.u32("AuxiliaryBufferSize"), "AuxiliaryBuffer"),
            lambda v: _U32.pack(len(v)) + bytes(v), False),
    "stat?": (Optional[Stat], lambda r: Stat.decode(r.take(36, "State")), Stat.encode, True),
    "u32?": (Optional[int], lambda r: r.u32("u32"), _U32.pack, True),
    "i32?": (Optional[int], lambda r: r.i32("i32"), _I32.pack, True),
    "mids?": (Optional[tuple], _mids, _enc_tags, True),
    "tags?": (Optional[tuple], _tags, _enc_tags, True),
    "ascii?": (Optional[str], lambda r: r.ascii_z("string"), _ascii_z, True),
    "ascii_names?": (Optional[tuple], lambda r: tuple(r.ascii_z("Name") for _ in range(r.count("NameCount", 1))),
                     lambda v: _U32.pack(len(v)) + b"".join(_ascii_z(s) for s in v), True),
    "unicode_names?": (Optional[tuple], lambda r: tuple(r.unicode_z("Name") for _ in range(r.count("NameCount", 2))),
                       lambda v: _U32.pack(len(v)) + b"".join(_unicode_z(s) for s in v), True),
    "rows?": (Optional[RowSet], _rowset, _enc_rowset, True),
    "pvlist?": (Optional[tuple], _read_pvlist, _write_pvlist, True),
    "pvlists?": (Optional[tuple], lambda r: tuple(_read_pvlist(r) for _ in range(r.count("RowsCount", 4))),
                 lambda v: _U32.pack(len(v)) + b"".join(_write_pvlist(x) for x in v), True),
    "restriction?": (Optional[Any], _restriction, lambda v: encode_restriction(v, count_width=4), True),
    "propname?": (Optional[PropertyName],
                  lambda r: PropertyName(uuid.UUID(bytes_le=r.take(16, "PropertyName GUID")), r.u32("PropertyId")),
                  lambda v: v.guid.bytes_le + _U32.pack(v.property_id), True),
    "tagged?": (Optional[TaggedValue], _read_tagged, _write_tagged, True),
    "entryids?": (Optional[tuple], _entryids,
                  lambda v: _U32.pack(len(v)) + b"".join(_U32.pack(len(e)) + bytes(e) for e in v), True),
}


# ---------------------------------------------------------------- failure


@dataclass(frozen=True, slots=True)
class FailureResponse:
    """Any request type's failure body (2.2.5.x.3): non-zero StatusCode, AuxiliaryBuffer."""

    request_type: str
    status_code: int
    auxiliary_buffer: bytes = b""

    def encode(self) -> bytes:
        if self.status_code == 0:
            raise ValueError("a failure body needs a non-zero StatusCode")
        return _U32.pack(self.status_code) + _U32.pack(len(self.auxiliary_buffer)) + self.auxiliary_buffer


# ---------------------------------------------------------------- bodies


def _decode_fields(cls, r: _Reader) -> dict:
    out = {}
    for name, kind in cls.LAYOUT:
        _, read, _, optional = _KINDS[kind]
        if optional:
            out[name] = read(r) if r.has(name) else None
        else:
            out[name] = read(r)
    return out


def _encode_fields(self) -> bytes:
    parts = []
    tb = bytes([self.true_byte])
    for name, kind in self.LAYOUT:
        _, _, write, optional = _KINDS[kind]
        v = getattr(self, name)
        if optional:
            if v is None:
                parts.append(b"\0")
                continue
            parts.append(tb)
        parts.append(write(v))
    return b"".join(parts)


def _make(name: str, request_type: str, response: bool, section: str, layout):
    fields_ = []
    if response:
        fields_.append(("error_code", int, field(default=0)))
    for fname, kind in layout:
        typ = _KINDS[kind][0]
        if kind == "aux":
            default = b""
        elif _KINDS[kind][3]:
            default = None
        elif kind in ("mids",):
            default = ()
        elif kind == "guid":
            default = field(default_factory=lambda: uuid.UUID(int=0))
            fields_.append((fname, typ, default))
            continue
        elif kind == "unicode":
            default = ""
        else:
            default = 0
        fields_.append((fname, typ, field(default=default)))
    fields_.append(("true_byte", int, field(default=0xFF)))

    full_layout = (("error_code", "u32"),) + tuple(layout) if response else tuple(layout)

    def decode(cls, data):
        what = f"{request_type} {'response' if response else 'request'}"
        r = _Reader(data, what)
        if response:
            status = r.u32("StatusCode")
            if status != 0:
                aux = r.take(r.u32("AuxiliaryBufferSize"), "AuxiliaryBuffer")
                r.end()
                return FailureResponse(request_type, status, aux)
        try:
            values = _decode_fields(cls, r)
        except NspiDecodeError:
            raise
        except (ValueError, OverflowError, struct.error) as exc:   # e.g. uuid / STAT guards
            raise r.fail(str(exc)) from None
        r.end()
        return cls(**values, true_byte=r.true_byte or 0xFF)

    def encode(self) -> bytes:
        body = _encode_fields(self)
        return (b"\0\0\0\0" + body) if response else body

    cls = make_dataclass(
        name, fields_, frozen=True, slots=True,
        namespace={"LAYOUT": full_layout, "REQUEST_TYPE": request_type, "SECTION": section,
                   "decode": classmethod(decode), "encode": encode,
                   "__doc__": f"MS-OXCMAPIHTTP {section}: {request_type} "
                              f"{'success response' if response else 'request'} body."},
    )
    cls.__module__ = __name__
    return cls


# Layouts, field by field, as MS-OXCMAPIHTTP 2.2.5 lists them (after
# StatusCode and ErrorCode in a success response). "x?" is a HasX byte and x.
_LAYOUTS = {
    "Bind": ("2.2.5.1",
             [("flags", "u32"), ("state", "stat?"), ("auxiliary_buffer", "aux")],
             [("server_guid", "guid"), ("auxiliary_buffer", "aux")]),
    "Unbind": ("2.2.5.2",
               [("reserved", "u32"), ("auxiliary_buffer", "aux")],
               [("auxiliary_buffer", "aux")]),
    "CompareMIds": ("2.2.5.3",
                    [("reserved", "u32"), ("state", "stat?"), ("minimal_id1", "u32"),
                     ("minimal_id2", "u32"), ("auxiliary_buffer", "aux")],
                    [("result", "i32"), ("auxiliary_buffer", "aux")]),
    "DNToMId": ("2.2.5.4",
                [("reserved", "u32"), ("names", "ascii_names?"), ("auxiliary_buffer", "aux")],
                [("minimal_ids", "mids?"), ("auxiliary_buffer", "aux")]),
    "GetMatches": ("2.2.5.5",
                   [("reserved", "u32"), ("state", "stat?"), ("minimal_ids", "mids?"),
                    ("interface_option_flags", "u32"), ("filter", "restriction?"),
                    ("property_name", "propname?"), ("row_count", "u32"), ("columns", "tags?"),
                    ("auxiliary_buffer", "aux")],
                   [("state", "stat?"), ("minimal_ids", "mids?"), ("rows", "rows?"),
                    ("auxiliary_buffer", "aux")]),
    "GetPropList": ("2.2.5.6",
                    [("flags", "u32"), ("minimal_id", "u32"), ("code_page", "u32"),
                     ("auxiliary_buffer", "aux")],
                    [("property_tags", "tags?"), ("auxiliary_buffer", "aux")]),
    "GetProps": ("2.2.5.7",
                 [("flags", "u32"), ("state", "stat?"), ("property_tags", "tags?"),
                  ("auxiliary_buffer", "aux")],
                 [("code_page", "u32"), ("property_values", "pvlist?"), ("auxiliary_buffer", "aux")]),
    "GetSpecialTable": ("2.2.5.8",
                        [("flags", "u32"), ("state", "stat?"), ("version", "u32?"),
                         ("auxiliary_buffer", "aux")],
                        [("code_page", "u32"), ("version", "u32?"), ("rows", "pvlists?"),
                         ("auxiliary_buffer", "aux")]),
    "GetTemplateInfo": ("2.2.5.9",
                        [("flags", "u32"), ("display_type", "u32"), ("template_dn", "ascii?"),
                         ("code_page", "u32"), ("locale_id", "u32"), ("auxiliary_buffer", "aux")],
                        [("code_page", "u32"), ("row", "pvlist?"), ("auxiliary_buffer", "aux")]),
    "ModLinkAtt": ("2.2.5.10",
                   [("flags", "u32"), ("property_tag", "u32"), ("minimal_id", "u32"),
                    ("entry_ids", "entryids?"), ("auxiliary_buffer", "aux")],
                   [("auxiliary_buffer", "aux")]),
    "ModProps": ("2.2.5.11",
                 [("reserved", "u32"), ("state", "stat?"), ("property_tags", "tags?"),
                  ("property_values", "pvlist?"), ("auxiliary_buffer", "aux")],
                 [("auxiliary_buffer", "aux")]),
    "QueryColumns": ("2.2.5.12",
                     [("reserved", "u32"), ("map_flags", "u32"), ("auxiliary_buffer", "aux")],
                     [("columns", "tags?"), ("auxiliary_buffer", "aux")]),
    # QueryRows' ExplicitTableCount has no Has byte before it (2.2.5.13.1)
    "QueryRows": ("2.2.5.13",
                  [("flags", "u32"), ("state", "stat?"), ("explicit_table", "mids"),
                   ("row_count", "u32"), ("columns", "tags?"), ("auxiliary_buffer", "aux")],
                  [("state", "stat?"), ("rows", "rows?"), ("auxiliary_buffer", "aux")]),
    "ResolveNames": ("2.2.5.14",
                     [("reserved", "u32"), ("state", "stat?"), ("property_tags", "tags?"),
                      ("names", "unicode_names?"), ("auxiliary_buffer", "aux")],
                     [("code_page", "u32"), ("minimal_ids", "mids?"), ("rows", "rows?"),
                      ("auxiliary_buffer", "aux")]),
    "ResortRestriction": ("2.2.5.15",
                          [("reserved", "u32"), ("state", "stat?"), ("minimal_ids", "mids?"),
                           ("auxiliary_buffer", "aux")],
                          [("state", "stat?"), ("minimal_ids", "mids?"), ("auxiliary_buffer", "aux")]),
    "SeekEntries": ("2.2.5.16",
                    [("reserved", "u32"), ("state", "stat?"), ("target", "tagged?"),
                     ("explicit_table", "mids?"), ("columns", "tags?"), ("auxiliary_buffer", "aux")],
                    [("state", "stat?"), ("rows", "rows?"), ("auxiliary_buffer", "aux")]),
    "UpdateStat": ("2.2.5.17",
                   [("reserved", "u32"), ("state", "stat?"), ("delta_requested", "byte"),
                    ("auxiliary_buffer", "aux")],
                   [("state", "stat?"), ("delta", "i32?"), ("auxiliary_buffer", "aux")]),
    "GetMailboxUrl": ("2.2.5.18",
                      [("flags", "u32"), ("server_dn", "unicode"), ("auxiliary_buffer", "aux")],
                      [("server_url", "unicode"), ("auxiliary_buffer", "aux")]),
    "GetAddressBookUrl": ("2.2.5.19",
                          [("flags", "u32"), ("user_dn", "unicode"), ("auxiliary_buffer", "aux")],
                          [("server_url", "unicode"), ("auxiliary_buffer", "aux")]),
}

REQUESTS: dict[str, type] = {}
RESPONSES: dict[str, type] = {}
for _rt, (_sec, _req, _rsp) in _LAYOUTS.items():
    REQUESTS[_rt] = _make(f"{_rt}Request", _rt, False, _sec + ".1", _req)
    RESPONSES[_rt] = _make(f"{_rt}Response", _rt, True, _sec + ".2", _rsp)
    globals()[f"{_rt}Request"] = REQUESTS[_rt]
    globals()[f"{_rt}Response"] = RESPONSES[_rt]

# X-RequestType values are case-insensitive in practice (ruler sends "BIND")
_BY_LOWER = {k.lower(): k for k in _LAYOUTS}
# the X-RequestType spellings of 2.2.3.3.1 that differ from the call names
_BY_LOWER.update({"comparemids": "CompareMIds", "compareminids": "CompareMIds",
                  "dntomid": "DNToMId", "dntominid": "DNToMId"})


def request_type_name(request_type: str) -> str:
    try:
        return _BY_LOWER[request_type.lower()]
    except (KeyError, AttributeError):
        raise NspiDecodeError(f"unknown NSPI request type {request_type!r}") from None


def decode_request(request_type: str, data: bytes):
    return REQUESTS[request_type_name(request_type)].decode(data)


def decode_response(request_type: str, data: bytes):
    return RESPONSES[request_type_name(request_type)].decode(data)
