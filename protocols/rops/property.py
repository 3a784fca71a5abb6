"""Property ROPs (MS-OXCROPS 2.2.8): RopGetPropertiesSpecific, RopGetPropertyIdsFromNames,
RopGetNamesFromPropertyIds, RopSetProperties, RopSetPropertiesNoReplicate,
RopDeleteProperties, RopDeletePropertiesNoReplicate, RopGetPropertiesList,
RopGetPropertiesAll, RopQueryNamedProperties."""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from protocols.mapi.values import PropValueError, decode_tagged, encode_tagged

from ._wire import (
    GUID, TAGS16, U8, U16, U16S16, Kind, Reader, RopRequest, RopResponse, put_u8, put_u16, put_u32, wire,
)
from .errors import RopFormatError
from .rows import decode_row

KIND_LID = 0x00
KIND_NAME = 0x01
KIND_NONE = 0xFF
EC_WARN_WITH_ERRORS = 0x00040380      # some names/ids had no mapping; the rest are answered


@dataclass(frozen=True)
class PropertyName:
    """MS-OXCDATA 2.6.1: Kind, GUID, then LID (4) for Kind 0 or NameSize (1) + a
    NUL-terminated UTF-16 Name for Kind 1 (NameSize counts the bytes with the NUL)."""

    kind: int
    guid: uuid.UUID
    lid: int | None = None
    name: str | None = None


class _PropertyNameKind(Kind):
    def read(self, r):
        kind = r.u8()
        guid = GUID.read(r)
        if kind == KIND_LID:
            return PropertyName(kind, guid, lid=r.u32())
        if kind == KIND_NAME:
            raw = r.take(r.u8())
            if len(raw) < 2 or len(raw) % 2 or raw[-2:] != b"\x00\x00":
                raise RopFormatError("PropertyName Name is not NUL-terminated UTF-16")
            return PropertyName(kind, guid, name=raw[:-2].decode("utf-16-le", "surrogatepass"))
        return PropertyName(kind, guid)

    def write(self, out, v):
        put_u8(out, v.kind)
        GUID.write(out, v.guid)
        if v.kind == KIND_LID:
            put_u32(out, v.lid)
        elif v.kind == KIND_NAME:
            raw = v.name.encode("utf-16-le", "surrogatepass") + b"\x00\x00"
            put_u8(out, len(raw))
            out += raw


PROPERTY_NAME = _PropertyNameKind()


class _Names16(Kind):
    def read(self, r):
        return tuple(PROPERTY_NAME.read(r) for _ in range(r.u16()))

    def write(self, out, v):
        put_u16(out, len(v))
        for n in v:
            PROPERTY_NAME.write(out, n)


NAMES16 = _Names16()
PROPIDS16 = U16S16


@dataclass(frozen=True)
class PropertyProblem:
    """MS-OXCDATA 2.7: Index (2), PropertyTag (4), ErrorCode (4)."""

    index: int
    tag: int
    error_code: int


class _Problems16(Kind):
    def read(self, r):
        n = r.u16()
        return tuple(PropertyProblem(*struct.unpack("<HII", r.take(10))) for _ in range(n))

    def write(self, out, v):
        put_u16(out, len(v))
        for p in v:
            try:
                out += struct.pack("<HII", p.index, p.tag, p.error_code)
            except struct.error as exc:
                raise RopFormatError(f"bad PropertyProblem: {exc}") from exc


PROBLEMS16 = _Problems16()


class _TaggedValues(Kind):
    """PropertyValueSize (2, counting the count field and the values), PropertyValueCount (2),
    TaggedPropertyValues (MS-OXCDATA 2.11.4) -- RopSetProperties, 2.2.8.6.1.  Kept as a
    tuple of (tag, value) pairs so order and duplicates round-trip."""

    def read(self, r):
        size = r.u16()
        r.need(size)
        end = r.off + size
        sub = Reader(r.buf, r.off, end)
        n = sub.u16()
        vals = []
        for _ in range(n):
            try:
                tag, v, sub.off = decode_tagged(r.buf[:end], sub.off, wide=False)
            except (PropValueError, struct.error, ValueError) as exc:
                raise RopFormatError(f"bad TaggedPropertyValue: {exc}") from exc
            vals.append((tag, v))
        if sub.off != end:
            raise RopFormatError(f"PropertyValueSize {size} but the values take {sub.off - r.off}")
        r.off = end
        return tuple(vals)

    def write(self, out, v):
        body = bytearray()
        put_u16(body, len(v))
        for tag, value in v:
            try:
                body += encode_tagged(tag, value, wide=False)
            except PropValueError as exc:
                raise RopFormatError(str(exc)) from exc
        put_u16(out, len(body))
        out += body


TAGGED_VALUES = _TaggedValues()


@dataclass
class GetPropertiesSpecificRequest(RopRequest):
    ROP_ID = 0x07
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    property_size_limit: int = wire(U16)
    want_unicode: int = wire(U16)
    property_tags: tuple = wire(TAGS16, ())


@dataclass
class GetPropertiesSpecificResponse(RopResponse):
    """2.2.8.3.2: one PropertyRow for the requested tags, kept raw (``row_data``); its end is
    found from the request in the RopContext, else it takes the rest of the RopsList."""

    ROP_ID = 0x07
    row_data: bytes = b""

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        req = getattr(ctx, "request", None)
        if isinstance(req, GetPropertiesSpecificRequest):
            _, end = decode_row(r.buf[:r.end], r.off, req.property_tags)
            return cls(idx, rv, r.take(end - r.off))
        return cls(idx, rv, r.rest())

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        if not self.return_value:
            out += self.row_data

    def row(self, tags, **kw):
        return decode_row(self.row_data, 0, tags, **kw)[0]


@dataclass
class GetPropertyIdsFromNamesRequest(RopRequest):
    ROP_ID = 0x56
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    flags: int = wire(U8)
    property_names: tuple = wire(NAMES16, ())


@dataclass
class GetPropertyIdsFromNamesResponse(RopResponse):
    ROP_ID = 0x56
    WARNINGS = (EC_WARN_WITH_ERRORS,)
    property_ids: tuple = wire(PROPIDS16, ())


@dataclass
class GetNamesFromPropertyIdsRequest(RopRequest):
    ROP_ID = 0x55
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    property_ids: tuple = wire(PROPIDS16, ())


@dataclass
class GetNamesFromPropertyIdsResponse(RopResponse):
    ROP_ID = 0x55
    WARNINGS = (EC_WARN_WITH_ERRORS,)
    property_names: tuple = wire(NAMES16, ())


@dataclass
class SetPropertiesRequest(RopRequest):
    ROP_ID = 0x0A
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    property_values: tuple = wire(TAGGED_VALUES, ())


@dataclass
class SetPropertiesResponse(RopResponse):
    ROP_ID = 0x0A
    property_problems: tuple = wire(PROBLEMS16, ())


@dataclass
class SetPropertiesNoReplicateRequest(SetPropertiesRequest):
    ROP_ID = 0x79


@dataclass
class SetPropertiesNoReplicateResponse(SetPropertiesResponse):
    ROP_ID = 0x79


@dataclass
class DeletePropertiesRequest(RopRequest):
    ROP_ID = 0x0B
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    property_tags: tuple = wire(TAGS16, ())


@dataclass
class DeletePropertiesResponse(SetPropertiesResponse):
    ROP_ID = 0x0B


@dataclass
class DeletePropertiesNoReplicateRequest(DeletePropertiesRequest):
    ROP_ID = 0x7A


@dataclass
class DeletePropertiesNoReplicateResponse(SetPropertiesResponse):
    ROP_ID = 0x7A


@dataclass
class GetPropertiesListRequest(RopRequest):
    ROP_ID = 0x09
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class GetPropertiesListResponse(RopResponse):
    ROP_ID = 0x09
    property_tags: tuple = wire(TAGS16, ())


class _TaggedList(Kind):
    """PropertyValueCount (2) then that many TaggedPropertyValues, no size (RopGetPropertiesAll)."""

    def read(self, r):
        vals = []
        for _ in range(r.u16()):
            try:
                tag, v, r.off = decode_tagged(r.buf[:r.end], r.off, wide=False)
            except (PropValueError, struct.error, ValueError) as exc:
                raise RopFormatError(f"bad TaggedPropertyValue: {exc}") from exc
            vals.append((tag, v))
        return tuple(vals)

    def write(self, out, v):
        put_u16(out, len(v))
        for tag, value in v:
            try:
                out += encode_tagged(tag, value, wide=False)
            except PropValueError as exc:
                raise RopFormatError(str(exc)) from exc


TAGGED_LIST = _TaggedList()


ROW_ADD, ROW_MODIFY, ROW_REMOVE = 0x01, 0x02, 0x04      # a ValueRows row's flags


class ValueRows(Kind):
    """Count (2), then rows of a flags byte, PropertyValueCount (2) and TaggedPropertyValues: the one layout
    of MS-OXCPERM's PermissionData and MS-OXORULE's RuleData; ``row_type(flags, values)`` makes a row."""

    def __init__(self, row_type):
        self.row_type = row_type

    def read(self, r):
        return tuple(self.row_type(r.u8(), TAGGED_LIST.read(r)) for _ in range(r.u16()))

    def write(self, out, v):
        put_u16(out, len(v))
        for row in v:
            put_u8(out, row.flags)
            TAGGED_LIST.write(out, row.property_values)


@dataclass
class GetPropertiesAllRequest(RopRequest):
    ROP_ID = 0x08
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    property_size_limit: int = wire(U16)
    want_unicode: int = wire(U16)


@dataclass
class GetPropertiesAllResponse(RopResponse):
    ROP_ID = 0x08
    property_values: tuple = wire(TAGGED_LIST, ())


@dataclass
class QueryNamedPropertiesRequest(RopRequest):
    """2.2.8.10.1: PropertyGuid is there only when HasGuid is nonzero (None otherwise)."""

    ROP_ID = 0x5F
    logon_id: int = 0
    input_handle_index: int = 0
    query_flags: int = 0
    property_guid: uuid.UUID | None = None

    @classmethod
    def decode(cls, r: Reader):
        lid, idx, flags, has = r.u8(), r.u8(), r.u8(), r.u8()
        return cls(lid, idx, flags, GUID.read(r) if has else None)

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        for v in (self.logon_id, self.input_handle_index, self.query_flags, self.property_guid is not None):
            put_u8(out, v)
        if self.property_guid is not None:
            GUID.write(out, self.property_guid)


@dataclass
class QueryNamedPropertiesResponse(RopResponse):
    """2.2.8.10.2: IdCount (2), PropertyIds (IdCount x 2), then IdCount PropertyNames."""

    ROP_ID = 0x5F
    property_ids: tuple = ()
    property_names: tuple = ()

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        ids = PROPIDS16.read(r)
        return cls(idx, rv, ids, tuple(PROPERTY_NAME.read(r) for _ in ids))

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        if len(self.property_ids) != len(self.property_names):
            raise RopFormatError("QueryNamedProperties: as many names as ids")
        PROPIDS16.write(out, self.property_ids)
        for n in self.property_names:
            PROPERTY_NAME.write(out, n)


_ALL = [v for k, v in dict(globals()).items()
        if isinstance(v, type) and v.__module__ == __name__ and not k.startswith("_")]
REQUESTS = {c.ROP_ID: c for c in _ALL if issubclass(c, RopRequest)}
RESPONSES = {c.ROP_ID: c for c in _ALL if issubclass(c, RopResponse)}
NAMES = {0x07: "RopGetPropertiesSpecific", 0x56: "RopGetPropertyIdsFromNames",
         0x55: "RopGetNamesFromPropertyIds", 0x0A: "RopSetProperties",
         0x79: "RopSetPropertiesNoReplicate", 0x0B: "RopDeleteProperties",
         0x7A: "RopDeletePropertiesNoReplicate", 0x09: "RopGetPropertiesList",
         0x08: "RopGetPropertiesAll", 0x5F: "RopQueryNamedProperties"}
