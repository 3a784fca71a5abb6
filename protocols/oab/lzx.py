"""The framing of compressed OAB files (MS-OXOAB): LZX_HDR/LZX_BLK of a compressed Full Details file
and PATCH_HDR/PATCH_BLK (2.10.1, 2.10.2) of a version 4 differential patch file. The LZX inside is
``lzxcodec`` (our own compressor and decompressor).

Compressed file: LZX_HDR = ulVersionHi 3, ulVersionLo 1, ulBlockMax, ulTargetSize; then LZX_BLK
records of ulFlags (0: the data is stored as is, 1: LZX compressed), ulCompSize, ulUncompSize, ulCRC
(``oab_crc`` of the uncompressed block) and ulCompSize bytes. Each block holds at most ulBlockMax
uncompressed bytes (32 KiB here, as Exchange writes) and a compressed block is one LZX DELTA stream
of its own (window 2^17). We compress each block and store it instead when that is not smaller.

Patch file (2.10): PATCH_HDR = ulVersionHi 3, ulVersionLo 2, ulBlockMax, ulSourceSize, ulTargetSize,
ulSourceCRC, ulTargetCRC (of the whole uncompressed source and target Full Details files); then
PATCH_BLK records of ulPatchSize, ulTargetSize, ulSourceSize, ulCRC (of the target block) and
ulPatchSize bytes of an LZX DELTA stream that makes the target block with the next ulSourceSize
source bytes (read in order through the source file) as its dictionary, just before the output.
A PATCH_BLK has no "stored" flag: when compressing against the source does not help, our writer
emits a real LZX DELTA bitstream of *uncompressed* LZX blocks (``lzx_stored_stream``) with
ulSourceSize 0. libmspack's OAB decompressor (a different implementation, used by a test as an
oracle) reads our Full files and applies our patches.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from . import lzxcodec as C
from .details import OabError, oab_crc

BLOCK_MAX = 0x8000
LZX_VERSION = (3, 1)
PATCH_VERSION = (3, 2)
_LZX_UNCOMPRESSED = 3


class LzxUnsupported(OabError):
    """LZX data this reader does not handle (kept for callers; lzxcodec reads every block type)."""


# ------------------------------------------------------------------ compressed Full Details files
@dataclass(frozen=True)
class LzxHeader:
    block_max: int
    target_size: int
    version: tuple[int, int] = LZX_VERSION

    def encode(self) -> bytes:
        return struct.pack("<IIII", *self.version, self.block_max, self.target_size)


@dataclass(frozen=True)
class LzxBlock:
    flags: int
    uncompressed_size: int
    crc: int
    data: bytes

    def encode(self) -> bytes:
        return struct.pack("<IIII", self.flags, len(self.data), self.uncompressed_size, self.crc) + self.data


@dataclass
class LzxFile:
    header: LzxHeader
    blocks: list[LzxBlock] = field(default_factory=list)

    def encode(self) -> bytes:
        return self.header.encode() + b"".join(b.encode() for b in self.blocks)


def lzx_header(target_size: int, block_max: int = BLOCK_MAX) -> bytes:
    return LzxHeader(block_max, target_size).encode()


def stored_block(chunk: bytes) -> bytes:
    """One LZX_BLK holding ``chunk`` uncompressed (ulFlags 0)."""
    return LzxBlock(0, len(chunk), oab_crc(chunk), bytes(chunk)).encode()


def lzx_block(chunk: bytes) -> bytes:
    """One LZX_BLK: ``chunk`` (at most 32 KiB) LZX compressed (ulFlags 1, one LZX DELTA stream of its
    own), or stored when compressing does not make it smaller."""
    packed = C.compress_frame(chunk)
    if len(packed) >= len(chunk):
        return stored_block(chunk)
    return LzxBlock(1, len(chunk), oab_crc(chunk), packed).encode()


def compress(data: bytes, block_max: int = BLOCK_MAX, *, lzx: bool = True) -> bytes:
    """A compressed Full Details file: LZX blocks (``lzx``) or stored blocks, at most ``block_max`` bytes each."""
    if lzx and block_max > C.FRAME:
        raise ValueError("LZX blocks hold at most 32 KiB here")
    one = lzx_block if lzx else stored_block
    out = [lzx_header(len(data), block_max)]
    out += [one(data[i:i + block_max]) for i in range(0, len(data), block_max)]
    return b"".join(out)


def read_lzx_header(b: bytes) -> LzxHeader:
    if len(b) < 16:
        raise OabError("LZX_HDR: fewer than 16 bytes")
    hi, lo, bmax, size = struct.unpack_from("<IIII", b, 0)
    if (hi, lo) != LZX_VERSION:
        raise OabError(f"LZX_HDR: version {hi}.{lo}, expected 3.1 (a patch file is 3.2)")
    return LzxHeader(bmax, size, (hi, lo))


def read_lzx(b: bytes) -> LzxFile:
    """The framing only: header and blocks as they are (compressed blocks kept as bytes)."""
    f = LzxFile(read_lzx_header(b))
    pos = 16
    while pos < len(b):
        if pos + 16 > len(b):
            raise OabError(f"LZX_BLK header cut short at offset {pos}")
        flags, csize, usize, crc = struct.unpack_from("<IIII", b, pos)
        if pos + 16 + csize > len(b):
            raise OabError(f"LZX_BLK at offset {pos} says {csize} bytes; {len(b) - pos - 16} are left")
        if usize > f.header.block_max:
            raise OabError(f"LZX_BLK at offset {pos}: {usize} bytes is above ulBlockMax {f.header.block_max}")
        f.blocks.append(LzxBlock(flags, usize, crc, bytes(b[pos + 16:pos + 16 + csize])))
        pos += 16 + csize
    return f


def decompress(b: bytes) -> bytes:
    f = read_lzx(b)
    out = bytearray()
    for i, blk in enumerate(f.blocks):
        if blk.flags == 1:
            try:
                data = C.decompress_stream(blk.data, blk.uncompressed_size,
                                           C.window_bits_for(blk.uncompressed_size))
            except OabError as exc:
                raise OabError(f"LZX_BLK {i}: {exc}") from None
        elif blk.flags != 0:
            raise OabError(f"LZX_BLK {i}: unknown ulFlags {blk.flags}")
        elif len(blk.data) != blk.uncompressed_size:
            raise OabError(f"LZX_BLK {i}: stored, but ulCompSize {len(blk.data)} != ulUncompSize "
                           f"{blk.uncompressed_size}")
        else:
            data = blk.data
        if oab_crc(data) != blk.crc:
            raise OabError(f"LZX_BLK {i}: CRC 0x{oab_crc(data):08X} is not ulCRC 0x{blk.crc:08X}")
        out += data
    if len(out) != f.header.target_size:
        raise OabError(f"LZX_HDR says {f.header.target_size} bytes; the blocks hold {len(out)}")
    return bytes(out)


# ------------------------------------------------------------------ the LZX bitstream (uncompressed blocks)
class _BitWriter:
    def __init__(self):
        self.words = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, value: int, count: int) -> None:
        for i in range(count - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 16:
                self.words += struct.pack("<H", self.acc)
                self.acc = self.n = 0

    def align(self) -> None:
        """To the next 16-bit boundary; 16 zero bits when already there (the reader skips 1-16 bits)."""
        self.bits(0, 16 - self.n)


def lzx_stored_stream(data: bytes) -> bytes:
    """An LZX DELTA bitstream of uncompressed blocks (type 3) that decodes to ``data``: one 32 KiB frame
    at a time, each frame led by its 16-bit chunk size (LZX DELTA's addition to LZX: the bytes of the
    frame's compressed data after the size), the first frame's E8 bit (0) after it."""
    out = bytearray()
    for i in range(0, max(len(data), 1), BLOCK_MAX):
        chunk = data[i:i + BLOCK_MAX]
        w = _BitWriter()
        if i == 0:
            w.bits(0, 1)                              # no E8 call translation
        w.bits(_LZX_UNCOMPRESSED, 3)
        w.bits(len(chunk), 24)
        w.align()
        frame = bytes(w.words) + struct.pack("<III", 1, 1, 1) + chunk + (b"\x00" if len(chunk) % 2 else b"")
        out += struct.pack("<H", len(frame) & 0xFFFF) + frame
    return bytes(out)


# ------------------------------------------------------------------ differential patch files (2.10)
@dataclass(frozen=True)
class PatchHeader:
    block_max: int
    source_size: int
    target_size: int
    source_crc: int
    target_crc: int
    version: tuple[int, int] = PATCH_VERSION

    def encode(self) -> bytes:
        return struct.pack("<IIIIIII", *self.version, self.block_max, self.source_size, self.target_size,
                           self.source_crc, self.target_crc)


@dataclass(frozen=True)
class PatchBlock:
    target_size: int
    source_size: int
    crc: int
    data: bytes

    def encode(self) -> bytes:
        return struct.pack("<IIII", len(self.data), self.target_size, self.source_size, self.crc) + self.data


@dataclass
class PatchFile:
    header: PatchHeader
    blocks: list[PatchBlock] = field(default_factory=list)

    def encode(self) -> bytes:
        return self.header.encode() + b"".join(b.encode() for b in self.blocks)


def read_patch_header(b: bytes) -> PatchHeader:
    if len(b) < 28:
        raise OabError("PATCH_HDR: fewer than 28 bytes")
    hi, lo, bmax, ss, ts, scrc, tcrc = struct.unpack_from("<IIIIIII", b, 0)
    if (hi, lo) != PATCH_VERSION:
        raise OabError(f"PATCH_HDR: version {hi}.{lo}, expected 3.2 (2.10.1)")
    return PatchHeader(bmax, ss, ts, scrc, tcrc, (hi, lo))


def read_patch(b: bytes) -> PatchFile:
    f = PatchFile(read_patch_header(b))
    pos = 28
    while pos < len(b):
        if pos + 16 > len(b):
            raise OabError(f"PATCH_BLK header cut short at offset {pos}")
        psize, tsize, ssize, crc = struct.unpack_from("<IIII", b, pos)
        if pos + 16 + psize > len(b):
            raise OabError(f"PATCH_BLK at offset {pos} says {psize} bytes; {len(b) - pos - 16} are left")
        f.blocks.append(PatchBlock(tsize, ssize, crc, bytes(b[pos + 16:pos + 16 + psize])))
        pos += 16 + psize
    return f


def make_patch(source: bytes | None, target: bytes, *, source_size: int | None = None,
               source_crc: int | None = None, block_max: int = BLOCK_MAX, lzx: bool = True) -> bytes:
    """A patch file from ``source`` to ``target``. With ``lzx`` each target block is LZX compressed
    with the next 32 KiB of the source as its dictionary (the source is consumed in order, one
    chunk per block, as PATCH_BLK's ulSourceSize says); without, or with only ``source_size`` and
    ``source_crc`` known, blocks are uncompressed LZX blocks that use no source bytes."""
    ss = len(source) if source is not None else source_size
    sc = oab_crc(source) if source is not None else source_crc
    if ss is None or sc is None:
        raise ValueError("make_patch needs the source, or its size and CRC")
    parts = [patch_header(ss, sc, len(target), oab_crc(target), block_max)]
    for n, i in enumerate(range(0, len(target), block_max)):
        ref = source[n * block_max:(n + 1) * block_max] if (lzx and source is not None) else None
        parts.append(patch_block(target[i:i + block_max], ref))
    return b"".join(parts)


def patch_header(source_size: int, source_crc: int, target_size: int, target_crc: int,
                 block_max: int = BLOCK_MAX) -> bytes:
    """PATCH_HDR alone, for writers that stream the blocks (``patch_block``)."""
    return PatchHeader(block_max, source_size, target_size, source_crc, target_crc).encode()


def patch_block(chunk: bytes, reference: bytes | None = None) -> bytes:
    """One PATCH_BLK making ``chunk`` (at most 32 KiB): LZX compressed against ``reference`` (the next
    source bytes, at most 32 KiB; ulSourceSize says how many it uses), or, without a reference or when
    that is not smaller, an uncompressed LZX block using no source bytes."""
    if reference is not None:
        packed = C.compress_frame(chunk, reference)
        stored = lzx_stored_stream(chunk)
        if len(packed) < len(stored):
            return PatchBlock(len(chunk), len(reference), oab_crc(chunk), packed).encode()
    return PatchBlock(len(chunk), 0, oab_crc(chunk), lzx_stored_stream(chunk)).encode()


def apply_patch(source: bytes, patch: bytes) -> bytes:
    """The target file; OabError when the source is not the one the patch was made from."""
    f = read_patch(patch)
    h = f.header
    if len(source) != h.source_size or oab_crc(source) != h.source_crc:
        raise OabError(f"the patch is for a {h.source_size}-byte source with CRC 0x{h.source_crc:08X}; this one "
                       f"has {len(source)} bytes, CRC 0x{oab_crc(source):08X}")
    out = bytearray()
    spos = 0
    for i, blk in enumerate(f.blocks):
        ref = source[spos:spos + blk.source_size]       # the source is read in order, block by block
        spos += blk.source_size
        window = ((blk.source_size + C.FRAME - 1) & ~(C.FRAME - 1)) + blk.target_size
        try:
            data = C.decompress_stream(blk.data, blk.target_size, C.window_bits_for(window), ref)
        except OabError as exc:
            raise OabError(f"PATCH_BLK {i}: {exc}") from None
        if oab_crc(data) != blk.crc:
            raise OabError(f"PATCH_BLK {i}: CRC of the target block does not match ulCRC")
        out += data
    if len(out) != h.target_size or oab_crc(bytes(out)) != h.target_crc:
        raise OabError("the patched file does not have PATCH_HDR's target size and CRC")
    return bytes(out)
