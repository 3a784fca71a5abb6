"""Copying properties between objects (MS-OXCROPS 2.2.8.11-12, 2.2.9.8): RopCopyProperties, RopCopyTo,
RopCopyToStream.

Their responses have a special failure: ecDstNullObject (0x503) carries the DestHandleIndex (4 bytes)
instead of nothing; any other failure is RopId, index, ReturnValue.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import BOOL, TAGS16, U8, U64, Reader, RopRequest, RopResponse, put_u8, put_u32, put_u64, wire
from .property import PROBLEMS16

EC_DST_NULL_OBJECT = 0x00000503
COPY_MOVE, COPY_NO_OVERWRITE = 0x01, 0x02          # CopyFlags


@dataclass
class CopyPropertiesRequest(RopRequest):
    ROP_ID = 0x67
    logon_id: int = wire(U8)
    source_handle_index: int = wire(U8)
    dest_handle_index: int = wire(U8)
    want_asynchronous: int = wire(BOOL)
    copy_flags: int = wire(U8)
    property_tags: tuple = wire(TAGS16, ())


@dataclass
class CopyToRequest(RopRequest):
    ROP_ID = 0x39
    logon_id: int = wire(U8)
    source_handle_index: int = wire(U8)
    dest_handle_index: int = wire(U8)
    want_asynchronous: int = wire(BOOL)
    want_sub_objects: int = wire(BOOL)
    copy_flags: int = wire(U8)
    excluded_tags: tuple = wire(TAGS16, ())


class _CopyResponse(RopResponse):
    """handle_index is the SourceHandleIndex; PropertyProblemCount + PropertyProblems on success,
    DestHandleIndex (4) with ecDstNullObject."""

    property_problems: tuple = ()
    dest_handle_index: int | None = None

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv == EC_DST_NULL_OBJECT:
            return cls(idx, rv, dest_handle_index=r.u32())
        if rv:
            return cls(idx, rv)
        return cls(idx, rv, PROBLEMS16.read(r))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        if self.return_value == EC_DST_NULL_OBJECT:
            put_u32(out, self.dest_handle_index or 0)
        elif not self.return_value:
            PROBLEMS16.write(out, self.property_problems)


@dataclass
class CopyPropertiesResponse(_CopyResponse):
    ROP_ID = 0x67
    property_problems: tuple = ()
    dest_handle_index: int | None = None


@dataclass
class CopyToResponse(_CopyResponse):
    ROP_ID = 0x39
    property_problems: tuple = ()
    dest_handle_index: int | None = None


@dataclass
class CopyToStreamRequest(RopRequest):
    ROP_ID = 0x3A
    logon_id: int = wire(U8)
    source_handle_index: int = wire(U8)
    dest_handle_index: int = wire(U8)
    byte_count: int = wire(U64)


@dataclass
class CopyToStreamResponse(RopResponse):
    """ReadByteCount (8), WrittenByteCount (8); with ecDstNullObject DestHandleIndex (4) comes first."""

    ROP_ID = 0x3A
    read_byte_count: int = 0
    written_byte_count: int = 0
    dest_handle_index: int | None = None

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv == EC_DST_NULL_OBJECT:
            return cls(idx, rv, dest_handle_index=r.u32(), read_byte_count=r.u64(), written_byte_count=r.u64())
        if rv:
            return cls(idx, rv)
        return cls(idx, rv, r.u64(), r.u64())

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        if self.return_value == EC_DST_NULL_OBJECT:
            put_u32(out, self.dest_handle_index or 0)
        elif self.return_value:
            return
        put_u64(out, self.read_byte_count)
        put_u64(out, self.written_byte_count)


REQUESTS = {c.ROP_ID: c for c in (CopyPropertiesRequest, CopyToRequest, CopyToStreamRequest)}
RESPONSES = {c.ROP_ID: c for c in (CopyPropertiesResponse, CopyToResponse, CopyToStreamResponse)}
NAMES = {0x67: "RopCopyProperties", 0x39: "RopCopyTo", 0x3A: "RopCopyToStream"}
