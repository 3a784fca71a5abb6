"""RPC_HEADER_EXT and the extended buffer (MS-OXCRPC 2.2.2.1, 3.1.4.1.1, 3.1.4.2.1).

An extended buffer is a chain of pieces, each an 8-byte RPC_HEADER_EXT (Version,
Flags, Size, SizeActual, all 2-byte little-endian) and Size bytes of payload, until a
header with the Last flag.  The payload is compressed (LZ77, ``lz77.py``) when the
Compressed flag is set and XOR-obfuscated with 0xA5 (3.1.4.1.1.3) when XorMagic is set;
a sender compresses first, then obfuscates, so a reader reverts the XOR first
(3.1.4.1.1.1.1).  The rgbIn/rgbOut of EcDoRpcExt2 and the RopBuffer of a MAPI/HTTP
Execute (MS-OXCMAPIHTTP 2.2.4.2) are such buffers; each piece's payload is one ROP
buffer (MS-OXCROPS 2.2.1).  One payload is at most 32 KB (3.1.4.1.1).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from . import lz77
from .errors import RopFormatError

FLAG_COMPRESSED = 0x0001
FLAG_XOR_MAGIC = 0x0002
FLAG_LAST = 0x0004
XOR_MAGIC = 0xA5
MAX_PAYLOAD = 32 * 1024
HEADER_SIZE = 8

_HDR = struct.Struct("<HHHH")
_XOR_TABLE = bytes(b ^ XOR_MAGIC for b in range(256))


def xor_magic(data) -> bytes:
    """The obfuscation of 3.1.4.1.1.3, its own inverse: every byte XOR 0xA5."""
    return bytes(data).translate(_XOR_TABLE)


@dataclass(frozen=True)
class RpcHeaderExt:
    version: int = 0
    flags: int = FLAG_LAST
    size: int = 0
    size_actual: int = 0

    @property
    def compressed(self) -> bool:
        return bool(self.flags & FLAG_COMPRESSED)

    @property
    def xor_magic(self) -> bool:
        return bool(self.flags & FLAG_XOR_MAGIC)

    @property
    def last(self) -> bool:
        return bool(self.flags & FLAG_LAST)

    @classmethod
    def decode(cls, buf, off: int = 0) -> RpcHeaderExt:
        if off < 0 or off + HEADER_SIZE > len(buf):
            raise RopFormatError(f"RPC_HEADER_EXT truncated at offset {off}")
        return cls(*_HDR.unpack_from(buf, off))

    def encode(self) -> bytes:
        try:
            return _HDR.pack(self.version, self.flags, self.size, self.size_actual)
        except struct.error as exc:
            raise RopFormatError(f"RPC_HEADER_EXT field out of range: {exc}") from exc


@dataclass(frozen=True)
class ExtPiece:
    """One piece of an extended buffer: its header as read and the payload in clear."""

    header: RpcHeaderExt
    payload: bytes


def decode_piece(buf, off: int = 0) -> tuple[ExtPiece, int]:
    """Read one header and its payload at ``off``; returns the piece (payload reverted and
    decompressed) and the offset after it."""
    hdr = RpcHeaderExt.decode(buf, off)
    if hdr.version != 0:
        raise RopFormatError(f"RPC_HEADER_EXT version {hdr.version}, expected 0 (2.2.2.1)")
    if hdr.flags & ~(FLAG_COMPRESSED | FLAG_XOR_MAGIC | FLAG_LAST):
        raise RopFormatError(f"RPC_HEADER_EXT unknown flags 0x{hdr.flags:04X}")
    start = off + HEADER_SIZE
    if start + hdr.size > len(buf):
        raise RopFormatError(f"RPC_HEADER_EXT Size {hdr.size} runs past the buffer "
                             f"({len(buf) - start} bytes left)")
    data = bytes(buf[start:start + hdr.size])
    if hdr.xor_magic:
        data = xor_magic(data)
    if hdr.compressed:
        data = lz77.decompress(data, hdr.size_actual)
    elif hdr.size_actual != hdr.size:
        raise RopFormatError(f"uncompressed piece: SizeActual {hdr.size_actual} != Size {hdr.size}")
    return ExtPiece(hdr, data), start + hdr.size


def decode_ext_buffer(buf, off: int = 0, end: int | None = None) -> list[ExtPiece]:
    """All pieces from ``off`` up to the one with the Last flag.  Bytes after it up to
    ``end`` are an error (a chain ends at Last, 2.2.2.1)."""
    end = len(buf) if end is None else end
    view = buf[:end]
    pieces = []
    while True:
        piece, off = decode_piece(view, off)
        pieces.append(piece)
        if piece.header.last:
            break
        if off >= end:
            raise RopFormatError("extended buffer ends without a piece flagged Last")
    if off != end:
        raise RopFormatError(f"{end - off} bytes after the piece flagged Last")
    return pieces


def encode_piece(payload, *, compress: bool = False, xor: bool = False, last: bool = True) -> bytes:
    """Header + payload.  With ``compress`` the payload is sent compressed only when that
    makes it smaller (Size MUST be less than SizeActual when Compressed is set, 2.2.2.1)."""
    data = bytes(payload)
    if len(data) > 0xFFFF:
        raise RopFormatError(f"payload of {len(data)} bytes does not fit SizeActual")
    flags = FLAG_LAST if last else 0
    body = data
    if compress:
        packed = lz77.compress(data)
        if len(packed) < len(data):
            body = packed
            flags |= FLAG_COMPRESSED
    if xor:
        body = xor_magic(body)
        flags |= FLAG_XOR_MAGIC
    return RpcHeaderExt(0, flags, len(body), len(data)).encode() + body


def encode_ext_buffer(payloads, *, compress: bool = False, xor: bool = False) -> bytes:
    """A chain of pieces, one per payload, the last one flagged Last."""
    payloads = list(payloads)
    if not payloads:
        raise RopFormatError("an extended buffer has at least one piece")
    return b"".join(encode_piece(p, compress=compress, xor=xor, last=i == len(payloads) - 1)
                    for i, p in enumerate(payloads))


def reencode_piece(piece: ExtPiece) -> bytes:
    """The piece with the flags it came with (compressed output is this module's own, so
    a compressed piece is byte-exact only where the sender's compressor agrees)."""
    hdr = piece.header
    body = piece.payload
    if hdr.compressed:
        body = lz77.compress(body)
    if hdr.xor_magic:
        body = xor_magic(body)
    return RpcHeaderExt(hdr.version, hdr.flags, len(body), len(piece.payload)).encode() + body
