"""The LZ77 + DIRECT2 compression of RPC_HEADER_EXT payloads (MS-OXCRPC 3.1.4.1.1.2;
3.1.7.2 in older editions).  It is MS-XCA's "plain LZ77" in the form Exchange uses.

Stream layout, as the spec states it:

- 32-bit little-endian bitmasks, read from the most significant bit; a 0 bit is one
  literal byte, a 1 bit is a match (3.1.4.1.1.2.2.1).  A new bitmask follows where the
  previous one runs out.
- A match is a 16-bit word: the high 13 bits are the distance minus one (the spec's
  "first complement" of the negative offset, 3.1.4.1.1.2.2.3), the low 3 bits the length
  minus 3.  Length bits 0b111 continue the length (3.1.4.1.1.2.2.4): a nibble from a
  byte shared by two consecutive long matches (low nibble first, the high nibble kept
  for the next one), then if the nibble is 0xF one more byte, then if that byte is 0xFF
  a 16-bit word holding the whole length minus 3 (not added to the rest).  Exchange's
  flavor stops there: MS-XCA's further 32-bit length after a zero word is not part of it.
- The end: a 1 bit after the last element with no input left (3.1.4.1.1.2.2.1, "the
  final end bit is necessary, even if an additional bitmask has to be allocated").
  The encoder here sets every unused bit after it to 1 as well (as MS-XCA does); the
  decoder only needs the first.

The window is 8,192 bytes (13 offset bits); matches are at least 3 bytes
(3.1.4.1.1.2.1.4).  A payload is at most 32 KB (3.1.4.1.1), so the pure-Python
compressor's hash chains stay small.
"""
from __future__ import annotations

import struct

from .errors import RopFormatError

MIN_MATCH = 3
WINDOW = 1 << 13
MAX_MATCH = 0xFFFF + MIN_MATCH
_MAX_CHAIN = 64  # candidates tried per position


def decompress(data, expected_size: int | None = None) -> bytes:
    """Expand ``data``; with ``expected_size`` (a header's SizeActual) the result must
    have exactly that length.  Malformed input raises RopFormatError."""
    src = bytes(data)
    n = len(src)
    out = bytearray()
    ip = 0
    flags = 0
    nflags = 0
    shared = -1  # position of the half-used length byte, or -1
    while True:
        if nflags == 0:
            if ip + 4 > n:
                raise RopFormatError(f"LZ77: bitmask truncated at {ip}")
            (flags,) = struct.unpack_from("<I", src, ip)
            ip += 4
            nflags = 32
        nflags -= 1
        if not (flags >> nflags) & 1:
            if ip >= n:
                raise RopFormatError("LZ77: literal past the end of the input")
            out.append(src[ip])
            ip += 1
            continue
        if ip == n:
            break  # the end bit
        if ip + 2 > n:
            raise RopFormatError(f"LZ77: match truncated at {ip}")
        (word,) = struct.unpack_from("<H", src, ip)
        ip += 2
        dist = (word >> 3) + 1
        length = word & 7
        if length == 7:
            if shared < 0:
                if ip >= n:
                    raise RopFormatError("LZ77: length nibble missing")
                nib = src[ip] & 0x0F
                shared = ip
                ip += 1
            else:
                nib = src[shared] >> 4
                shared = -1
            length += nib
            if nib == 15:
                if ip >= n:
                    raise RopFormatError("LZ77: length byte missing")
                extra = src[ip]
                ip += 1
                length += extra
                if extra == 255:
                    if ip + 2 > n:
                        raise RopFormatError("LZ77: length word missing")
                    (length,) = struct.unpack_from("<H", src, ip)
                    ip += 2
        length += MIN_MATCH
        start = len(out) - dist
        if start < 0:
            raise RopFormatError(f"LZ77: match reaches {-start} bytes before the start")
        if dist >= length:
            out += out[start:start + length]
        else:  # overlapping copy repeats the last ``dist`` bytes
            chunk = out[start:]
            reps, tail = divmod(length, dist)
            out += chunk * reps + chunk[:tail]
        if expected_size is not None and len(out) > expected_size:
            raise RopFormatError(f"LZ77: output exceeds the stated {expected_size} bytes")
    if expected_size is not None and len(out) != expected_size:
        raise RopFormatError(f"LZ77: {len(out)} bytes decompressed, header states {expected_size}")
    return bytes(out)


def _length_bytes(extra: int, state: list, out: bytearray) -> None:
    """Write the continuation of a match length whose 3 bits were 0b111; ``extra`` is
    length - 3 - 7.  ``state[0]`` is the position of a half-used shared byte or -1."""
    nib = min(extra, 15)
    if state[0] < 0:
        state[0] = len(out)
        out.append(nib)
    else:
        out[state[0]] |= nib << 4
        state[0] = -1
    if nib < 15:
        return
    extra -= 15
    if extra < 255:
        out.append(extra)
        return
    out.append(255)
    out += struct.pack("<H", extra + 15 + 7)  # the whole length minus 3


def compress(data) -> bytes:
    """Compress with greedy longest matches found through hash chains of 3-byte prefixes."""
    src = bytes(data)
    n = len(src)
    out = bytearray()
    flag_pos = 0
    flags = 0
    nbits = 0
    out += b"\x00\x00\x00\x00"
    shared = [-1]
    head: dict[bytes, int] = {}
    prev = [-1] * n

    def insert(pos: int) -> None:
        if pos + MIN_MATCH <= n:
            key = src[pos:pos + MIN_MATCH]
            prev[pos] = head.get(key, -1)
            head[key] = pos

    def push_bit(bit: int) -> None:
        nonlocal flags, nbits, flag_pos
        if nbits == 32:
            struct.pack_into("<I", out, flag_pos, flags)
            flag_pos = len(out)
            out.extend(b"\x00\x00\x00\x00")
            flags = 0
            nbits = 0
        flags = (flags << 1) | bit
        nbits += 1

    i = 0
    while i < n:
        best_len = 0
        best_dist = 0
        if i + MIN_MATCH <= n:
            cand = head.get(src[i:i + MIN_MATCH], -1)
            tries = 0
            limit = min(MAX_MATCH, n - i)
            while cand >= 0 and i - cand <= WINDOW and tries < _MAX_CHAIN:
                length = MIN_MATCH
                while length < limit and src[cand + length] == src[i + length]:
                    length += 1
                if length > best_len:
                    best_len, best_dist = length, i - cand
                    if length == limit:
                        break
                cand = prev[cand]
                tries += 1
        if best_len >= MIN_MATCH:
            push_bit(1)  # the bitmask word is reserved before the match bytes follow it
            code = best_len - MIN_MATCH
            out += struct.pack("<H", ((best_dist - 1) << 3) | min(code, 7))
            if code >= 7:
                _length_bytes(code - 7, shared, out)
            for p in range(i, i + best_len):
                insert(p)
            i += best_len
        else:
            push_bit(0)
            out.append(src[i])
            insert(i)
            i += 1
    push_bit(1)  # the end bit (may open a new bitmask)
    flags = (flags << (32 - nbits)) | ((1 << (32 - nbits)) - 1)
    struct.pack_into("<I", out, flag_pos, flags)
    return bytes(out)
