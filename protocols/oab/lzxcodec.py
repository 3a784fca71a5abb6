"""LZX as OAB files use it (LZX DELTA, MS-PATCH's variant of LZX), written from the format's rules:
a compressor that makes verbatim blocks (literals, matches, the three repeated offsets), and a
decompressor for verbatim, aligned-offset and uncompressed blocks.

The bitstream: 16-bit little-endian words, bits taken from the top. Each 32 KiB output frame starts
with a 16-bit chunk size (LZX DELTA); the first frame then has the E8-translation bit (and, when set,
a 32-bit translation size). A block is a 3-bit type (1 verbatim, 2 aligned offset, 3 uncompressed)
and a 24-bit uncompressed size, then:

- verbatim/aligned: (aligned only: 8 x 3-bit lengths of the aligned-offset tree) the main tree's
  code lengths for symbols 0-255 and then 256-(256 + 8 x position slots), each part sent through a
  20-symbol pretree (20 x 4-bit lengths, then symbols: 0-16 = (previous length - symbol) mod 17,
  17 = 4 + 4 bits zeros, 18 = 20 + 5 bits zeros, 19 = 4 + 1 bits times the same next value), then the
  249-symbol length tree's lengths the same way. Canonical Huffman codes (shorter first, then by
  symbol), at most 16 bits. A main symbol below 256 is a literal; otherwise 256 + slot x 8 + length
  header: length = header + 2, and header 7 adds a length-tree symbol. Slots 0-2 reuse R0/R1/R2;
  slot s >= 3 gives offset = base[s] - 2 + footer (extra[s] raw bits; in aligned blocks the low 3
  come from the aligned tree when extra >= 3). In LZX DELTA a length of 257 is followed by a prefix
  code for a longer one.
- uncompressed: padding to 16 bits (1-16 bits), R0/R1/R2 as 3 little-endian 32-bit values, the
  bytes, one pad byte when the size is odd.

Reference data (a patch's source block) sits just before the output: an offset may reach back into
it. Our compressor writes one verbatim (or, asked, aligned-offset) block per frame, with extended
lengths for long matches.
"""
from __future__ import annotations

import heapq
import struct

from .details import OabError

FRAME = 0x8000
MIN_MATCH, MAX_MATCH = 2, 257
NUM_CHARS = 256
NUM_SECONDARY = 249
PRETREE_SYMS = 20
SLOTS = {15: 30, 16: 32, 17: 34, 18: 36, 19: 38, 20: 42, 21: 50, 22: 66, 23: 98, 24: 162, 25: 290}

EXTRA = []
_j = 0
for _i in range(0, 290, 2):
    EXTRA += [_j, _j]
    if _i != 0 and _j < 17:
        _j += 1
EXTRA = EXTRA[:290]
BASE = []
_b = 0
for _i in range(290):
    BASE.append(_b)
    _b += 1 << EXTRA[_i]


class LzxError(OabError):
    pass


def window_bits_for(size: int) -> int:
    """The window libmspack (and, we read, Outlook) opens for ``size`` bytes of window: 2^17 or more."""
    bits = 17
    while bits < 25 and (1 << bits) < size:
        bits += 1
    return bits


# ------------------------------------------------------------------ Huffman helpers
def huffman_lengths(freqs: list[int], limit: int) -> list[int]:
    """Code lengths (<= limit) for the frequencies; symbols with 0 get 0. At least two symbols are given
    a code when any is used, so the code is complete."""
    f = list(freqs)
    used = [i for i, x in enumerate(f) if x]
    if not used:
        return [0] * len(f)
    if len(used) == 1:
        f[0 if used[0] != 0 else 1] = 1
    while True:
        heap = [(x, i, (i,)) for i, x in enumerate(f) if x]
        heapq.heapify(heap)
        lengths = [0] * len(f)
        n = len(heap)
        while len(heap) > 1:
            a, b = heapq.heappop(heap), heapq.heappop(heap)
            for s in a[2] + b[2]:
                lengths[s] += 1
            heapq.heappush(heap, (a[0] + b[0], n, a[2] + b[2]))
            n += 1
        if max(lengths) <= limit:
            return lengths
        f = [(x >> 1) | 1 if x else 0 for x in f]


def canonical_codes(lengths: list[int]) -> list[int]:
    codes = [0] * len(lengths)
    code = 0
    for ln in range(1, 17):
        for s, l in enumerate(lengths):
            if l == ln:
                codes[s] = code
                code += 1
        code <<= 1
    return codes


class _Decoder:
    """Canonical Huffman decoding: a table of the first TB bits, then bit by bit."""
    TB = 10

    def __init__(self, lengths: list[int], what: str):
        self.what = what
        self.empty = not any(lengths)
        kraft = sum(1 << (16 - l) for l in lengths if l)
        if not self.empty and kraft != 1 << 16:
            raise LzxError(f"LZX: the {what} tree's code lengths do not make a complete code")
        codes = canonical_codes(lengths)
        self.table: list[tuple[int, int] | None] = [None] * (1 << self.TB)
        self.long: dict[tuple[int, int], int] = {}
        for s, l in enumerate(lengths):
            if not l:
                continue
            if l <= self.TB:
                start = codes[s] << (self.TB - l)
                for k in range(start, start + (1 << (self.TB - l))):
                    self.table[k] = (s, l)
            else:
                self.long[(l, codes[s])] = s


class _Bits:
    def __init__(self, b: bytes, pos: int = 0):
        self.b, self.pos, self.acc, self.n = b, pos, 0, 0

    def _fill(self, need: int) -> None:
        while self.n < need:
            if self.pos + 2 <= len(self.b):
                w = self.b[self.pos] | (self.b[self.pos + 1] << 8)
            elif self.pos < len(self.b) + 4:       # a little past the end reads zeros, as decoders allow
                w = 0
            else:
                raise LzxError("LZX: the compressed data ends early")
            self.pos += 2
            self.acc = (self.acc << 16) | w
            self.n += 16

    def peek(self, n: int) -> int:
        self._fill(n)
        return (self.acc >> (self.n - n)) & ((1 << n) - 1)

    def bits(self, n: int) -> int:
        if n == 0:
            return 0
        v = self.peek(n)
        self.n -= n
        self.acc &= (1 << self.n) - 1
        return v

    def sym(self, d: _Decoder) -> int:
        if d.empty:
            raise LzxError(f"LZX: a {d.what} symbol is needed but its tree is empty")
        hit = d.table[self.peek(d.TB)]
        if hit is not None:
            self.bits(hit[1])
            return hit[0]
        code = self.bits(d.TB)
        for ln in range(d.TB + 1, 17):
            code = (code << 1) | self.bits(1)
            s = d.long.get((ln, code))
            if s is not None:
                return s
        raise LzxError(f"LZX: no {d.what} code matches the bits")

    def align_uncompressed(self) -> None:
        """Skip to the next 16-bit boundary, 16 bits when already there (1-16 bits)."""
        if self.n % 16 == 0:
            self.bits(16)
        else:
            self.bits(self.n % 16)
        self.pos -= (self.n // 16) * 2
        self.acc = 0
        self.n = 0


def _read_lengths(r: _Bits, prev: list[int], first: int, last: int) -> None:
    pre = _Decoder([r.bits(4) for _ in range(PRETREE_SYMS)], "pretree")
    x = first
    while x < last:
        z = r.sym(pre)
        if z == 17:
            run = r.bits(4) + 4
            prev[x:x + run] = [0] * min(run, last - x)
            x += run
        elif z == 18:
            run = r.bits(5) + 20
            prev[x:x + run] = [0] * min(run, last - x)
            x += run
        elif z == 19:
            run = r.bits(1) + 4
            z = r.sym(pre)
            v = (prev[x] - z + 17) % 17
            prev[x:x + run] = [v] * min(run, last - x)
            x += run
        else:
            prev[x] = (prev[x] - z + 17) % 17
            x += 1
    if x > last:
        raise LzxError("LZX: a run of code lengths goes past the tree's end")


def decompress_stream(data: bytes, out_size: int, window_bits: int = 17, reference: bytes = b"",
                      delta: bool = True) -> bytes:
    """Decode ``data`` (one LZX DELTA stream) to ``out_size`` bytes; ``reference`` is the dictionary
    before the output (a patch block's source bytes)."""
    slots = SLOTS.get(window_bits)
    if slots is None:
        raise LzxError(f"LZX: window of 2^{window_bits} bytes")
    nmain = NUM_CHARS + slots * 8
    r = _Bits(data)
    buf = bytearray(reference)
    start = len(buf)
    main_len, len_len = [0] * nmain, [0] * NUM_SECONDARY
    R0 = R1 = R2 = 1
    intel_size = 0
    header_read = False
    block_type, remaining, block_len = 0, 0, 0
    main = length = aligned = None
    while len(buf) - start < out_size:
        frame_end = min(start + out_size, start + ((len(buf) - start) // FRAME + 1) * FRAME)
        if delta:
            r.bits(16)                                     # chunk size
        if not header_read:
            if r.bits(1):
                intel_size = (r.bits(16) << 16) | r.bits(16)
            header_read = True
        while len(buf) < frame_end:
            if remaining == 0:
                if block_type == 3 and block_len & 1:
                    r.pos += 1
                block_type = r.bits(3)
                remaining = block_len = (r.bits(16) << 8) | r.bits(8)
                if block_type == 2:
                    aligned = _Decoder([r.bits(3) for _ in range(8)], "aligned offset")
                if block_type in (1, 2):
                    _read_lengths(r, main_len, 0, NUM_CHARS)
                    _read_lengths(r, main_len, NUM_CHARS, nmain)
                    main = _Decoder(main_len, "main")
                    _read_lengths(r, len_len, 0, NUM_SECONDARY)
                    length = _Decoder(len_len, "length")
                elif block_type == 3:
                    r.align_uncompressed()
                    if r.pos + 12 > len(data):
                        raise LzxError("LZX: uncompressed block header cut short")
                    R0, R1, R2 = struct.unpack_from("<III", data, r.pos)
                    r.pos += 12
                else:
                    raise LzxError(f"LZX: block type {block_type} does not exist")
            run = min(remaining, frame_end - len(buf))
            if block_type == 3:
                if r.pos + run > len(data):
                    raise LzxError("LZX: uncompressed block cut short")
                buf += data[r.pos:r.pos + run]
                r.pos += run
                remaining -= run
                continue
            target = len(buf) + run
            while len(buf) < target:
                s = r.sym(main)
                if s < NUM_CHARS:
                    buf.append(s)
                    continue
                s -= NUM_CHARS
                mlen = s & 7
                if mlen == 7:
                    mlen += r.sym(length)
                mlen += MIN_MATCH
                slot = s >> 3
                if slot == 0:
                    off = R0
                elif slot == 1:
                    off, R1 = R1, R0
                    R0 = off
                elif slot == 2:
                    off, R2 = R2, R0
                    R0 = off
                else:
                    extra = EXTRA[slot] if slot < 36 else 17
                    off = BASE[slot] - 2
                    if block_type == 2 and extra >= 3:
                        off += (r.bits(extra - 3) << 3) + r.sym(aligned)
                    else:
                        off += r.bits(extra)
                    R2, R1, R0 = R1, R0, off
                if mlen == MAX_MATCH and delta:
                    if r.peek(1) == 0:
                        r.bits(1)
                        mlen += r.bits(8)
                    elif r.peek(2) == 2:
                        r.bits(2)
                        mlen += r.bits(10) + 0x100
                    elif r.peek(3) == 6:
                        r.bits(3)
                        mlen += r.bits(12) + 0x500
                    else:
                        r.bits(3)
                        mlen += r.bits(15)
                src = len(buf) - off
                if src < 0 or off == 0:
                    raise LzxError("LZX: a match reaches before the start of the data")
                if off >= mlen:
                    buf += buf[src:src + mlen]
                else:
                    for k in range(mlen):
                        buf.append(buf[src + k])
            remaining -= run + (len(buf) - target)
            if remaining < 0:
                raise LzxError("LZX: a match runs past the end of its block")
        # end of frame: realign to 16 bits
        if r.n % 16:
            r.bits(r.n % 16)
    out = bytes(buf[start:start + out_size])
    if len(buf) - start != out_size:
        raise LzxError("LZX: more output than asked for")
    if intel_size:
        out = _undo_e8(out, intel_size)
    return out


def _undo_e8(b: bytes, filesize: int) -> bytes:
    out = bytearray(b)
    for fstart in range(0, len(out), FRAME):
        fend = min(len(out), fstart + FRAME)
        if fend - fstart <= 10 or fstart // FRAME >= 32768:
            continue
        i = fstart
        while i < fend - 10:
            if out[i] != 0xE8:
                i += 1
                continue
            abs_off = struct.unpack_from("<i", out, i + 1)[0]
            if -i <= abs_off < filesize:
                rel = abs_off - i if abs_off >= 0 else abs_off + filesize
                struct.pack_into("<I", out, i + 1, rel & 0xFFFFFFFF)
            i += 5
    return bytes(out)


# ------------------------------------------------------------------ the compressor
class _Writer:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, v: int, n: int) -> None:
        self.acc = (self.acc << n) | (v & ((1 << n) - 1))
        self.n += n
        while self.n >= 16:
            self.n -= 16
            w = (self.acc >> self.n) & 0xFFFF
            self.out += bytes((w & 0xFF, w >> 8))
        self.acc &= (1 << self.n) - 1

    def flush(self) -> None:
        if self.n:
            self.bits(0, 16 - self.n)


def _common(buf, a: int, b: int, limit: int) -> int:
    """Length of the common prefix of buf[a:] and buf[b:], at most ``limit``."""
    if buf[a:a + limit] == buf[b:b + limit]:
        return limit
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if buf[a:a + mid] == buf[b:b + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _tokens(buf: bytes, start: int, max_off: int):
    """Greedy LZ77 over buf[start:], matches may reach into buf[:start]: literals as ints, matches
    as (length, offset)."""
    table: dict[bytes, int] = {}
    for i in range(max(0, start - max_off), start - 3):
        table[buf[i:i + 4]] = i
    out = []
    i, end = start, len(buf)
    last = 1
    max_len = MAX_MATCH + 32767                 # LZX DELTA's longest extended length
    while i < end:
        best_len, best_off = 0, 0
        limit = min(max_len, end - i)
        if limit >= 3:
            if i - last >= 0:
                n = _common(buf, i - last, i, limit)
                if n >= 3:
                    best_len, best_off = n, last
            key = buf[i:i + 4]
            cand = table.get(key)
            if cand is not None and i - cand <= max_off and best_len < limit:
                n = _common(buf, cand, i, limit)
                if n > best_len + 1:
                    best_len, best_off = n, i - cand
        if best_len >= 3:
            out.append((best_len, best_off))
            for k in range(i, min(i + best_len, end - 3)):
                table[buf[k:k + 4]] = k
            last = best_off
            i += best_len
        else:
            if i + 4 <= end:
                table[buf[i:i + 4]] = i
            out.append(buf[i])
            i += 1
    return out


def _extended(extra: int) -> list[tuple[int, int]]:
    """LZX DELTA's code for a match of 257 + ``extra`` bytes: after the length 257, '0' + 8 bits,
    '10' + 10 bits (+ 0x100), '110' + 12 bits (+ 0x500) or '111' + 15 bits."""
    if extra < 0x100:
        return [(0, 1), (extra, 8)]
    if extra < 0x500:
        return [(0b10, 2), (extra - 0x100, 10)]
    if extra < 0x1500:
        return [(0b110, 3), (extra - 0x500, 12)]
    return [(0b111, 3), (extra, 15)]


def _write_lengths(w: _Writer, lengths: list[int]) -> None:
    """One part of a tree's lengths through a pretree (previous lengths all 0: a fresh stream)."""
    syms = []
    i = 0
    while i < len(lengths):
        if lengths[i] == 0:
            run = 1
            while i + run < len(lengths) and lengths[i + run] == 0 and run < 51:
                run += 1
            if run >= 20:
                syms.append((18, run - 20, 5))
                i += run
                continue
            if run >= 4:
                syms.append((17, run - 4, 4))
                i += run
                continue
        syms.append(((17 - lengths[i]) % 17, 0, 0))
        i += 1
    freqs = [0] * PRETREE_SYMS
    for s, _, _ in syms:
        freqs[s] += 1
    plen = huffman_lengths(freqs, 15)
    pcode = canonical_codes(plen)
    for ln in plen:
        w.bits(ln, 4)
    for s, extra, nbits in syms:
        w.bits(pcode[s], plen[s])
        if nbits:
            w.bits(extra, nbits)


def compress_frame(target: bytes, reference: bytes = b"", *, first: bool = True, aligned: bool = False) -> bytes:
    """One LZX DELTA frame (<= 32 KiB of output) as a verbatim block (an aligned-offset block with
    ``aligned``), matches allowed into ``reference``; with its chunk size word. ``first``: the
    stream's first frame (E8 bit)."""
    if len(target) > FRAME:
        raise ValueError("one frame holds at most 32 KiB")
    wbits = window_bits_for(((len(reference) + FRAME - 1) & ~(FRAME - 1)) + len(target))
    slots = SLOTS[wbits]
    max_off = min(BASE[slots - 1] - 2, (1 << wbits) - len(target))
    buf = bytes(reference) + bytes(target)
    toks = _tokens(buf, len(reference), max_off)
    nmain = NUM_CHARS + slots * 8
    mfreq, lfreq = [0] * nmain, [0] * NUM_SECONDARY
    enc = []
    R0, R1, R2 = 1, 1, 1
    for t in toks:
        if isinstance(t, int):
            mfreq[t] += 1
            enc.append((t, None, 0, 0, None))
            continue
        mlen, off = t
        if off == R0:
            slot, footer, extra = 0, 0, 0
        elif off == R1:
            slot, footer, extra = 1, 0, 0
            R1, R0 = R0, off
        elif off == R2:
            slot, footer, extra = 2, 0, 0
            R2, R0 = R0, off
        else:
            f = off + 2
            slot = 3
            while slot + 1 < slots and BASE[slot + 1] <= f:
                slot += 1
            extra = EXTRA[slot]
            footer = f - BASE[slot]
            R2, R1, R0 = R1, R0, off
        header = min(mlen - MIN_MATCH, 7)
        sym = NUM_CHARS + (slot << 3) + header
        mfreq[sym] += 1
        lsym = min(mlen, MAX_MATCH) - MIN_MATCH - 7 if header == 7 else None
        if lsym is not None:
            lfreq[lsym] += 1
        enc.append((sym, lsym, footer, extra, _extended(mlen - MAX_MATCH) if mlen >= MAX_MATCH else None))
    mlen_ = huffman_lengths(mfreq, 16)
    llen = huffman_lengths(lfreq, 16)
    mcode, lcode = canonical_codes(mlen_), canonical_codes(llen)
    if aligned:
        afreq = [0] * 8
        for _, _, footer, extra, _ in enc:
            if extra >= 3:
                afreq[footer & 7] += 1
        alen = huffman_lengths(afreq, 7) if any(afreq) else [3] * 8
        acode = canonical_codes(alen)
    w = _Writer()
    if first:
        w.bits(0, 1)                                # no E8 translation
    w.bits(2 if aligned else 1, 3)                  # aligned offset / verbatim block
    w.bits(len(target), 24)
    if aligned:
        for ln in alen:
            w.bits(ln, 3)
    _write_lengths(w, mlen_[:NUM_CHARS])
    _write_lengths(w, mlen_[NUM_CHARS:])
    _write_lengths(w, llen)
    for sym, lsym, footer, extra, longer in enc:
        w.bits(mcode[sym], mlen_[sym])
        if lsym is not None:
            w.bits(lcode[lsym], llen[lsym])
        if aligned and extra >= 3:
            w.bits(footer >> 3, extra - 3)
            w.bits(acode[footer & 7], alen[footer & 7])
        elif extra:
            w.bits(footer, extra)
        if longer is not None:
            for value, nbits in longer:
                w.bits(value, nbits)
    w.flush()
    return struct.pack("<H", len(w.out) & 0xFFFF) + bytes(w.out)
