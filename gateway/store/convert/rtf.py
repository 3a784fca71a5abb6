"""Compressed RTF (MS-OXRTFCP) and RTF de-encapsulation (MS-OXRTFEX).

- ``decompress(data) -> bytes`` / ``compress(rtf, *, compressed=True) -> bytes``:
  the PidTagRtfCompressed stream format. Header (MS-OXRTFCP 2.1.3.1.1):
  COMPSIZE, RAWSIZE, COMPTYPE ("LZFu" compressed / "MELA" stored), CRC; then
  runs of one CONTROL byte and up to eight tokens, a token being a literal
  byte or a big-endian 16-bit dictionary reference (12-bit offset, 4-bit
  length - 2) into a 4096-byte ring pre-filled with 207 bytes of common RTF
  (2.1.2.1). The end is a reference to the current write position (2.1.3.1.4).
- ``rtf_to_html(rtf) -> str | None``: the HTML inside an RTF produced by
  \\fromhtml1 encapsulation (MS-OXRTFEX 2.1.3), or None if it is not HTML.
- ``rtf_to_text(rtf) -> str``: the plain text of ordinary RTF (also used for
  \\fromtext encapsulation); a best-effort reader, not a renderer.
"""
from __future__ import annotations

import bisect
import re
import struct

__all__ = [
    "RtfError", "compress", "decompress", "crc32", "is_html_encapsulated",
    "rtf_to_html", "rtf_to_text", "INITIAL_DICTIONARY",
]

COMPRESSED = 0x75465A4C  # "LZFu"
UNCOMPRESSED = 0x414C454D  # "MELA"

# MS-OXRTFCP 2.1.2.1: the dictionary starts with these 207 bytes.
INITIAL_DICTIONARY = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman "
    b"\\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New "
    b"RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par "
    b"\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
assert len(INITIAL_DICTIONARY) == 207

_DICT_SIZE = 4096
_MAX_MATCH = 17  # 4-bit length field + 2


class RtfError(ValueError):
    """A PidTagRtfCompressed value that cannot be read."""


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else (c >> 1)
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32(data: bytes) -> int:
    """MS-OXRTFCP 2.1.3.2: the usual CRC-32 table, but starting at 0 and without a final XOR."""
    crc = 0
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def decompress(data: bytes, *, check_crc: bool = False) -> bytes:
    """PidTagRtfCompressed -> raw RTF bytes (MS-OXRTFCP 2.1.3.1, 3.1)."""
    if len(data) < 16:
        raise RtfError("compressed RTF shorter than its 16-byte header")
    compsize, rawsize, comptype, crc = struct.unpack_from("<IIII", data, 0)
    if comptype == UNCOMPRESSED:
        return bytes(data[16:16 + rawsize])
    if comptype != COMPRESSED:
        raise RtfError(f"unknown COMPTYPE 0x{comptype:08X}")
    end = min(len(data), compsize + 4)  # COMPSIZE counts the 12 header bytes after itself
    if check_crc and crc32(data[16:end]) != crc:
        raise RtfError("CRC mismatch")
    ring = bytearray(INITIAL_DICTIONARY) + bytearray(_DICT_SIZE - len(INITIAL_DICTIONARY))
    wpos = len(INITIAL_DICTIONARY)
    out = bytearray()
    pos = 16
    while pos < end:
        control = data[pos]
        pos += 1
        for bit in range(8):
            if pos >= end:
                break
            if control & (1 << bit):
                if pos + 1 >= end:
                    return bytes(out)  # truncated reference: keep what we have
                ref = (data[pos] << 8) | data[pos + 1]
                pos += 2
                offset, length = ref >> 4, (ref & 0x0F) + 2
                if offset == wpos:
                    return bytes(out)  # end marker (2.1.3.1.4)
                for i in range(length):
                    # byte by byte: a reference may read what it is writing (3.1.2)
                    b = ring[(offset + i) % _DICT_SIZE]
                    out.append(b)
                    ring[wpos] = b
                    wpos = (wpos + 1) % _DICT_SIZE
            else:
                b = data[pos]
                pos += 1
                out.append(b)
                ring[wpos] = b
                wpos = (wpos + 1) % _DICT_SIZE
    return bytes(out)


def _header(comptype: int, contents: bytes, rawsize: int, crc: int) -> bytes:
    return struct.pack("<IIII", len(contents) + 12, rawsize, comptype, crc) + contents


def compress(rtf: bytes, *, compressed: bool = True) -> bytes:
    """Raw RTF -> PidTagRtfCompressed (MS-OXRTFCP 2.1.3.2).

    Greedy longest match over the ring, first occurrence (lowest ring offset) wins
    on ties, which reproduces the spec's worked examples byte for byte (3.2.1, 3.2.2).

    The ring is never kept: it always holds the last 4096 bytes of the stream
    "initial dictionary + input" (the byte at the write position excluded), so a
    ring offset is a stream index modulo 4096, and what a reference reads, even the
    bytes it writes itself (3.1.2), is the stream. The stream positions are indexed
    once by the two bytes starting there; a step looks only at the positions of its
    own two bytes inside the window, in ring order, and tests each with one slice
    comparison of the length it must beat. A 155 KB HTML-in-RTF body compresses in
    tens of milliseconds (the byte-by-byte ring search took seconds: issue 11).
    """
    rtf = bytes(rtf)
    if not compressed:
        return _header(UNCOMPRESSED, rtf, len(rtf), 0)
    size = _DICT_SIZE
    base = len(INITIAL_DICTIONARY)
    stream = bytes(INITIAL_DICTIONARY) + rtf
    positions: dict[bytes, list[int]] = {}
    for t in range(len(stream) - 1):
        key = stream[t:t + 2]
        lst = positions.get(key)
        if lst is None:
            positions[key] = [t]
        else:
            lst.append(t)
    bisect_left = bisect.bisect_left

    out = bytearray()
    run = bytearray()
    control = 0
    nbits = 0
    n = len(rtf)
    i = 0
    while i < n:
        best_len, best_t = 0, 0
        s = base + i                            # the stream index being written (ring offset s % size)
        limit = min(_MAX_MATCH, n - i)
        if limit >= 2:
            lst = positions.get(stream[s:s + 2], ())
            lo = max(0, s - size + 1)           # s - size sits at the write position: the end marker
            t0 = s - s % size                   # the stream index at ring offset 0
            a = bisect_left(lst, lo)
            m = bisect_left(lst, max(lo, t0), a)
            e = bisect_left(lst, s, m)
            # ring order: offsets 0 .. wpos-1 (stream t0 .. s-1), then wpos+1 .. 4095 (stream lo .. t0-1)
            for rng in ((m, e), (a, m)):
                for k in range(*rng):
                    t = lst[k]
                    need = best_len + 1         # a later candidate must be longer than the best so far
                    if need > 2 and stream[t:t + need] != stream[s:s + need]:
                        continue
                    length = max(need, 2)
                    while length < limit and stream[t + length] == stream[s + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_t = length, t
                        if length == limit:
                            break
                if best_len == limit:
                    break
        if best_len >= 2:
            control |= 1 << nbits
            run += struct.pack(">H", ((best_t % size) << 4) | (best_len - 2))
            i += best_len
        else:
            run.append(rtf[i])
            i += 1
        nbits += 1
        if nbits == 8:
            out.append(control)
            out += run
            run = bytearray()
            control = nbits = 0
    # end marker: a reference to the write position (2.1.3.1.4)
    control |= 1 << nbits
    run += struct.pack(">H", ((base + n) % size) << 4)
    out.append(control)
    out += run
    contents = bytes(out)
    return _header(COMPRESSED, contents, n, crc32(contents))


# bodies up to this size are compressed in place; bigger ones in a worker thread (compress_async)
INLINE_COMPRESS_LIMIT = 8 * 1024


async def compress_async(rtf: bytes) -> bytes:
    """``compress`` for callers on the event loop: a big body is compressed in a worker thread, so a
    small request on another connection is not held up behind it (issue 11: a 155 KB body took 1.37 s)."""
    if len(rtf) <= INLINE_COMPRESS_LIMIT:
        return compress(rtf)
    import asyncio
    return await asyncio.to_thread(compress, rtf)


# --- RTF reading -------------------------------------------------------------

_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word with optional parameter and delimiter space
    rb"|\\'([0-9a-fA-F]{2})"  # hex escape
    rb"|\\(.)"  # control symbol
    rb"|([{}])"
    rb"|(\r\n|\n|\r)"  # raw line breaks are not text in RTF
    rb"|([^\\{}\r\n]+)",
    re.S,
)

# destinations whose text is not part of the document (MSFT-RTF)
_SKIP_DEST = {
    b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"object", b"header",
    b"footer", b"headerl", b"headerr", b"footerl", b"footerr", b"listtable",
    b"listoverridetable", b"revtbl", b"rsidtbl", b"generator", b"xmlnstbl", b"themedata",
    b"colorschememapping", b"latentstyles", b"datastore", b"fldinst", b"pntext", b"pntxta",
    b"pntxtb", b"filetbl", b"mmathPr", b"wgrffmtfilter", b"userprops", b"docvar",
}

def _codec(cp: int) -> str:
    try:
        name = "cp%d" % cp if cp not in (65001, 20127, 28591) else {65001: "utf-8", 20127: "ascii", 28591: "latin-1"}[cp]
        "".encode(name)
        return name
    except (LookupError, KeyError):
        return "cp1252"


def is_html_encapsulated(rtf: bytes) -> bool:
    return b"\\fromhtml" in rtf[:1024]


def _walk(rtf: bytes, html_mode: bool) -> str:
    """One reader for both modes. In html_mode, text comes from \\*\\htmltag
    groups and from unsuppressed document text (MS-OXRTFEX 2.1.3.1); text
    inside \\htmlrtf ... \\htmlrtf0 is RTF-only and dropped."""
    out: list[str] = []
    pending = bytearray()  # bytes from \'hh waiting for decoding
    codec = "cp1252"
    # per-group state: (skip, htmltag, uc, font codec)
    stack: list[list] = []
    skip = False
    in_htmltag = False
    htmlrtf = False
    uc = 1
    ucskip = 0
    cur_codec = None
    group_start = False  # just after "{"; for \* and destinations
    star = False

    def flush():
        if pending:
            out.append(bytes(pending).decode(cur_codec or codec, "replace"))
            pending.clear()

    def emit(text: str) -> None:
        flush()
        out.append(text)

    def visible() -> bool:
        if skip:
            return False
        if html_mode:
            return in_htmltag or not htmlrtf
        return True

    for m in _TOKEN.finditer(rtf):
        word, param, hexb, sym, brace, nl, text = m.groups()
        if brace == b"{":
            stack.append([skip, in_htmltag, uc, cur_codec, htmlrtf])
            group_start = True
            star = False
            continue
        if brace == b"}":
            flush()
            if stack:
                skip, in_htmltag, uc, cur_codec, htmlrtf = stack.pop()
            group_start = False
            continue
        if nl:
            continue
        if ucskip and (text or hexb):
            # skip the fallback characters after \uN
            if text:
                n = min(ucskip, len(text))
                ucskip -= n
                text = text[n:]
                if not text:
                    continue
            else:
                ucskip -= 1
                continue
        if sym is not None:
            if sym == b"*":
                star = True
                continue
            if sym in b"{}\\":
                if visible():
                    emit(sym.decode())
            elif sym == b"~" and visible():
                emit("\u00a0")
            elif sym in (b"\n", b"\r") and visible():
                emit("\r\n" if not html_mode or not in_htmltag else "\r\n")
            elif sym == b"-" or sym == b"_":
                pass
            group_start = False
            continue
        if hexb is not None:
            if visible():
                pending.append(int(hexb, 16))
            group_start = False
            continue
        if word is not None:
            w = word
            p = int(param) if param is not None else None
            if group_start:
                group_start = False
                if html_mode and w in (b"htmltag", b"mhtmltag"):
                    if w == b"mhtmltag":
                        skip = True  # rewritten tags for MHTML; the plain htmltag is used
                    else:
                        in_htmltag = True
                        skip = False
                    star = False
                    continue
                if w in _SKIP_DEST or star:
                    flush()
                    skip = True
                    star = False
                    continue
            if w == b"ansicpg" and p is not None:
                codec = _codec(p)
            elif w == b"htmlrtf":
                if html_mode:
                    flush()
                    htmlrtf = p != 0
            elif w == b"uc" and p is not None:
                uc = p
            elif w == b"u" and p is not None:
                if visible():
                    emit(chr(p & 0xFFFF))  # signed 16-bit; UTF-16 pairs are joined below
                ucskip = uc
            elif not visible():
                pass
            elif w in (b"par", b"line"):
                if not html_mode or in_htmltag or not htmlrtf:
                    emit("\r\n")
            elif w == b"tab":
                emit("\t")
            elif w == b"emdash":
                emit("\u2014")
            elif w == b"endash":
                emit("\u2013")
            elif w == b"lquote":
                emit("\u2018")
            elif w == b"rquote":
                emit("\u2019")
            elif w == b"ldblquote":
                emit("\u201c")
            elif w == b"rdblquote":
                emit("\u201d")
            elif w == b"bullet":
                emit("\u2022")
            continue
        if text:
            group_start = False
            if visible():
                pending.extend(text)
    flush()
    text = "".join(out)
    # \uN pairs for characters beyond the BMP arrive as two surrogates
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def rtf_to_html(rtf: bytes) -> str | None:
    """HTML de-encapsulated from \\fromhtml1 RTF (MS-OXRTFEX 2.1.3), else None."""
    if not is_html_encapsulated(rtf):
        return None
    return _walk(rtf, html_mode=True)


def rtf_to_text(rtf: bytes) -> str:
    """Plain text of an RTF document (fallback reader)."""
    text = _walk(rtf, html_mode=False)
    # trailing whitespace of the last paragraph is noise
    return text.strip("\r\n") + ("\r\n" if text.endswith("\r\n") else "")
