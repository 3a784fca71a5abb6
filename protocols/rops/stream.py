"""Stream ROPs (MS-OXCROPS 2.2.9): RopOpenStream, RopReadStream, RopWriteStream,
RopWriteAndCommitStream, RopCommitStream, RopGetStreamSize, RopSetStreamSize,
RopSeekStream, RopCloneStream."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import BLOB16, U8, U16, U32, U64, Reader, RopRequest, RopResponse, put_u8, put_u16, put_u32, wire

BABE = 0xBABE  # ByteCount sentinel: MaximumByteCount follows (2.2.9.2.1)


@dataclass
class OpenStreamRequest(RopRequest):
    ROP_ID = 0x2B
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    property_tag: int = wire(U32)
    open_mode_flags: int = wire(U8)


@dataclass
class OpenStreamResponse(RopResponse):
    ROP_ID = 0x2B
    stream_size: int = wire(U32)


@dataclass
class ReadStreamRequest(RopRequest):
    ROP_ID = 0x2C
    logon_id: int = 0
    input_handle_index: int = 0
    byte_count: int = 0
    maximum_byte_count: int | None = None

    @classmethod
    def decode(cls, r: Reader):
        lid, idx, count = r.u8(), r.u8(), r.u16()
        return cls(lid, idx, count, r.u32() if count == BABE else None)

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.logon_id)
        put_u8(out, self.input_handle_index)
        put_u16(out, self.byte_count)
        if self.byte_count == BABE:
            put_u32(out, self.maximum_byte_count or 0)


@dataclass
class ReadStreamResponse(RopResponse):
    """DataSize and Data are there whatever the ReturnValue (2.2.9.2.2)."""

    ROP_ID = 0x2C
    data: bytes = wire(BLOB16, b"", always=True)


@dataclass
class WriteStreamRequest(RopRequest):
    ROP_ID = 0x2D
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    data: bytes = wire(BLOB16, b"")


@dataclass
class WriteStreamResponse(RopResponse):
    ROP_ID = 0x2D
    written_size: int = wire(U16, always=True)


@dataclass
class WriteAndCommitStreamRequest(WriteStreamRequest):
    ROP_ID = 0x90


@dataclass
class WriteAndCommitStreamResponse(WriteStreamResponse):
    ROP_ID = 0x90


@dataclass
class CommitStreamRequest(RopRequest):
    ROP_ID = 0x5D
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class CommitStreamResponse(RopResponse):
    ROP_ID = 0x5D


@dataclass
class GetStreamSizeRequest(CommitStreamRequest):
    ROP_ID = 0x5E


@dataclass
class GetStreamSizeResponse(RopResponse):
    ROP_ID = 0x5E
    stream_size: int = wire(U32)


@dataclass
class SetStreamSizeRequest(RopRequest):
    ROP_ID = 0x2F
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    stream_size: int = wire(U64)


@dataclass
class SetStreamSizeResponse(RopResponse):
    ROP_ID = 0x2F


@dataclass
class SeekStreamRequest(RopRequest):
    ROP_ID = 0x2E
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    origin: int = wire(U8)
    offset: int = wire(U64)


@dataclass
class SeekStreamResponse(RopResponse):
    ROP_ID = 0x2E
    new_position: int = wire(U64)


@dataclass
class CloneStreamRequest(RopRequest):
    ROP_ID = 0x3B
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)


@dataclass
class CloneStreamResponse(RopResponse):
    ROP_ID = 0x3B


_ALL = [v for k, v in dict(globals()).items()
        if isinstance(v, type) and v.__module__ == __name__ and not k.startswith("_")]
REQUESTS = {c.ROP_ID: c for c in _ALL if issubclass(c, RopRequest)}
RESPONSES = {c.ROP_ID: c for c in _ALL if issubclass(c, RopResponse)}
NAMES = {0x2B: "RopOpenStream", 0x2C: "RopReadStream", 0x2D: "RopWriteStream",
         0x90: "RopWriteAndCommitStream", 0x5D: "RopCommitStream", 0x5E: "RopGetStreamSize",
         0x2F: "RopSetStreamSize", 0x2E: "RopSeekStream", 0x3B: "RopCloneStream"}
