"""Compressed RTF (MS-OXRTFCP) and RTF de-encapsulation (MS-OXRTFEX)."""
from __future__ import annotations

import random
import struct

import pytest

from gateway.store.convert import rtf

# MS-OXRTFCP 3.1.1.1 "Compressed RTF Data" (Example 1: Simple Compressed RTF).
# The current spec prints its worked examples in section 3 ("Algorithm Examples").
SPEC_EXAMPLE_1 = bytes.fromhex(
    "2d 00 00 00 2b 00 00 00 4c 5a 46 75 f1 c5 c7 a7"
    "03 00 0a 00 72 63 70 67 31 32 35 42 32 0a f3 20"
    "68 65 6c 09 00 20 62 77 05 b0 6c 64 7d 0a 80 0f"
    "a0"
)
# MS-OXRTFCP 3.1.1.6 / 3.2.1: the RTF those bytes hold (and the input of the compression example).
SPEC_EXAMPLE_1_RTF = b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"

# MS-OXRTFCP 3.1.2.1 (Example 2: Reading a Token from the Dictionary that Crosses WritePosition).
SPEC_EXAMPLE_2 = bytes.fromhex(
    "1a 00 00 00 1c 00 00 00 4c 5a 46 75 e2 d4 4b 51"
    "41 00 04 20 57 58 59 5a 0d 6e 7d 01 0e b0"
)
# MS-OXRTFCP 3.1.2.4 / 3.2.2.
SPEC_EXAMPLE_2_RTF = b"{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}"


def test_initial_dictionary_is_207_bytes_as_in_2_1_2_1():
    d = rtf.INITIAL_DICTIONARY
    assert len(d) == 207
    # spot checks used by the spec's worked examples (3.1.1.4, 3.1.1.5)
    assert d[0:12] == b"{\\rtf1\\ansi\\"
    assert d[175:180] == b"\\pard"
    assert d[168:170] == b"\r\n"


@pytest.mark.parametrize("data, expected", [
    (SPEC_EXAMPLE_1, SPEC_EXAMPLE_1_RTF),
    (SPEC_EXAMPLE_2, SPEC_EXAMPLE_2_RTF),
], ids=["3.1.1-simple", "3.1.2-crosses-write-position"])
def test_decompress_spec_examples(data, expected):
    assert rtf.decompress(data, check_crc=True) == expected


def test_header_fields_of_example_1_as_in_3_1_1_2():
    compsize, rawsize, comptype, crc = struct.unpack_from("<IIII", SPEC_EXAMPLE_1)
    assert (compsize, rawsize, comptype, crc) == (0x2D, 0x2B, 0x75465A4C, 0xA7C7C5F1)
    assert rtf.crc32(SPEC_EXAMPLE_1[16:]) == 0xA7C7C5F1


@pytest.mark.parametrize("raw, expected", [
    (SPEC_EXAMPLE_1_RTF, SPEC_EXAMPLE_1),
    (SPEC_EXAMPLE_2_RTF, SPEC_EXAMPLE_2),
], ids=["3.2.1-simple", "3.2.2-crosses-write-position"])
def test_compress_reproduces_spec_bytes(raw, expected):
    assert rtf.compress(raw) == expected


def _samples():
    rnd = random.Random(7)
    words = [b"\\par ", b"hello", b" ", b"{\\b bold}", b"\\'e9", b"WXYZ", b"\r\n", b"\\pard\\plain"]
    yield b""
    yield b"{"
    yield b"{\\rtf1 x}"
    yield b"a" * 5000  # long self-overlapping references
    yield bytes(rnd.randrange(256) for _ in range(3000))  # incompressible, also NULs
    yield b"{\\rtf1\\ansi " + b"".join(rnd.choice(words) for _ in range(3000)) + b"}"  # wraps the 4 KiB ring


@pytest.mark.parametrize("raw", list(_samples()), ids=lambda r: f"{len(r)}B")
def test_compress_decompress_round_trip(raw):
    packed = rtf.compress(raw)
    assert struct.unpack_from("<I", packed, 0)[0] == len(packed) - 4  # COMPSIZE
    assert struct.unpack_from("<I", packed, 4)[0] == len(raw)  # RAWSIZE
    assert rtf.decompress(packed, check_crc=True) == raw


def test_uncompressed_mela_form():
    packed = rtf.compress(SPEC_EXAMPLE_2_RTF, compressed=False)
    assert packed[8:12] == b"MELA" and packed[12:16] == b"\x00\x00\x00\x00"
    assert rtf.decompress(packed) == SPEC_EXAMPLE_2_RTF


def test_bad_inputs():
    with pytest.raises(rtf.RtfError):
        rtf.decompress(b"short")
    with pytest.raises(rtf.RtfError):
        rtf.decompress(b"\x10\x00\x00\x00\x00\x00\x00\x00XXXX\x00\x00\x00\x00")
    corrupted = bytearray(SPEC_EXAMPLE_1)
    corrupted[20] ^= 0xFF
    with pytest.raises(rtf.RtfError):
        rtf.decompress(bytes(corrupted), check_crc=True)
    # truncation keeps what can be read and never raises
    for cut in range(16, len(SPEC_EXAMPLE_1)):
        out = rtf.decompress(SPEC_EXAMPLE_1[:cut])
        assert SPEC_EXAMPLE_1_RTF.startswith(out)


# --- MS-OXRTFEX: HTML encapsulated in RTF, as Outlook writes it -------------------

ENCAPSULATED = (
    b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl {\\f0\\fswiss\\fcharset0 Arial;}}\r\n"
    b"{\\colortbl\\red0\\green0\\blue255;}\r\n"
    b"{\\*\\htmltag19 <html>}\r\n{\\*\\htmltag34 <head>}{\\*\\htmltag2 \\par }"
    b"{\\*\\htmltag241 <style>p \\{ margin:0 \\}</style>}{\\*\\htmltag41 </head>}\r\n"
    b"{\\*\\htmltag50 <body>}\\htmlrtf {\\htmlrtf0 \r\n"
    b"{\\*\\htmltag64 <p>}\\htmlrtf {\\htmlrtf0 Gr\\'fc\\'dfe \\u8364?5 {\\*\\htmltag84 &amp;}\\htmlrtf &\\htmlrtf0 mehr"
    b"\\htmlrtf }\\htmlrtf0 {\\*\\htmltag72 </p>}\\htmlrtf \\par \\htmlrtf0 \r\n"
    b"{\\*\\mhtmltag84 <img src=\"cid:image001.png@01D9\">}{\\*\\htmltag84 <img src=\"image001.png\">}\r\n"
    b"\\htmlrtf }\\htmlrtf0 {\\*\\htmltag58 </body>}\r\n{\\*\\htmltag27 </html>}}\r\n"
)


def test_rtf_to_html_de_encapsulates():
    html = rtf.rtf_to_html(ENCAPSULATED)
    assert html == (
        "<html><head>\r\n<style>p { margin:0 }</style></head><body><p>Grüße €5 &amp;mehr</p>"
        "<img src=\"image001.png\"></body></html>"
    )


def test_rtf_to_html_is_none_for_plain_rtf():
    assert rtf.rtf_to_html(SPEC_EXAMPLE_1_RTF) is None


def test_rtf_to_text_plain_wordpad_rtf():
    doc = (
        b"{\\rtf1\\ansi\\ansicpg1252\\deff0\\nouicompat{\\fonttbl{\\f0\\fnil\\fcharset0 Calibri;}}\r\n"
        b"{\\*\\generator Riched20 10.0.19041}\\viewkind4\\uc1 \r\n"
        b"\\pard\\sa200\\sl276\\slmult1\\f0\\fs22\\lang7 Gr\\'fc\\'dfe aus K\\'f6ln\\par\r\n"
        b"Preis: 5\\u8364?\\tab Ende \\{x\\}\\par\r\n}\r\n"
    )
    assert rtf.rtf_to_text(doc) == "Grüße aus Köln\r\nPreis: 5€\tEnde {x}\r\n"


def test_rtf_readers_never_raise_on_garbage():
    rnd = random.Random(3)
    for _ in range(200):
        junk = bytes(rnd.choice(b"{}\\'abcu0123456789 *\r\n-") for _ in range(rnd.randrange(80)))
        rtf.rtf_to_text(junk)
        rtf.rtf_to_html(b"{\\rtf1\\fromhtml1 " + junk)


# --- the fast compressor against the plain ring search it replaced (issue 11) -----------------------

def _reference_compress(raw: bytes) -> bytes:
    """MS-OXRTFCP 2.1.3.2 as the spec states it: a real 4 KiB ring, every position with the first
    byte tried byte by byte (a reference may read the bytes it writes), longest match, lowest offset
    on ties. Slow; the reference the indexed compressor must equal byte for byte."""
    size = 4096
    ring = bytearray(rtf.INITIAL_DICTIONARY) + bytearray(size - len(rtf.INITIAL_DICTIONARY))
    wpos = filled = len(rtf.INITIAL_DICTIONARY)
    out, run, control, nbits, i, n = bytearray(), bytearray(), 0, 0, 0, len(raw)
    while i < n:
        best_len, best_off, limit = 0, 0, min(17, n - i)
        if limit >= 2:
            for off in range(filled if filled < size else size):
                if off == wpos or ring[off] != raw[i]:
                    continue
                length = 0
                while length < limit:
                    p = (off + length) % size
                    dist = (p - wpos) % size
                    if (raw[i + dist] if dist < length else ring[p]) != raw[i + length]:
                        break
                    length += 1
                if length > best_len:
                    best_len, best_off = length, off
        take = best_len if best_len >= 2 else 1
        if best_len >= 2:
            control |= 1 << nbits
            run += struct.pack(">H", (best_off << 4) | (best_len - 2))
        else:
            run.append(raw[i])
        for b in raw[i:i + take]:
            ring[wpos] = b
            wpos = (wpos + 1) % size
            filled = min(size, filled + 1)
        i += take
        nbits += 1
        if nbits == 8:
            out.append(control)
            out += run
            run, control, nbits = bytearray(), 0, 0
    control |= 1 << nbits
    run += struct.pack(">H", wpos << 4)
    out.append(control)
    out += run
    contents = bytes(out)
    return struct.pack("<IIII", len(contents) + 12, n, rtf.COMPRESSED, rtf.crc32(contents)) + contents


def _reference_samples():
    rnd = random.Random(11)
    yield SPEC_EXAMPLE_1_RTF
    yield SPEC_EXAMPLE_2_RTF
    yield b"ab" * 2500 + b"a" * 30                       # overlapping references across the ring's wrap
    for alphabet in (b"ab", b"abc ", b"\\{}par \r\n", bytes(range(256))):
        yield bytes(rnd.choice(alphabet) for _ in range(4600))


@pytest.mark.parametrize("raw", list(_reference_samples()), ids=lambda r: f"{len(r)}B")
def test_compress_equals_the_plain_ring_search(raw):
    assert rtf.compress(raw) == _reference_compress(raw)


def test_compress_async_runs_big_bodies_in_a_thread(monkeypatch):
    import asyncio
    import threading
    seen = []
    real = rtf.compress

    def spy(data, **kw):
        seen.append(threading.get_ident())
        return real(data, **kw)

    monkeypatch.setattr(rtf, "compress", spy)
    small, big = b"{\\rtf1 x}", b"{\\rtf1 " + b"word \\par " * 2000 + b"}"

    async def both():
        return await rtf.compress_async(small), await rtf.compress_async(big), threading.get_ident()

    a, b, loop_thread = asyncio.run(both())
    assert rtf.decompress(a) == small and rtf.decompress(b, check_crc=True) == big
    assert seen[0] == loop_thread and seen[1] != loop_thread


def test_a_big_rtf_body_is_read_without_compressing_it():
    """MIME -> properties runs on the event loop: past INLINE_COMPRESS_LIMIT the body keeps the
    uncompressed form (MELA, MS-OXRTFCP 2.1.3.1.1), which every reader takes."""
    from gateway.store.convert.mail_in import mime_to_message
    from protocols.mapi.props import core as P
    head = b"From: a@example.test\r\nSubject: rtf\r\nContent-Type: text/rtf\r\n\r\n"
    small = b"{\\rtf1\\ansi\\pard small body\\par}"
    big = b"{\\rtf1\\ansi " + b"\\pard a long line of the body\\par " * 400 + b"}"
    assert len(big) > rtf.INLINE_COMPRESS_LIMIT
    got_small = mime_to_message(head + small).props[P.PidTagRtfCompressed]
    got_big = mime_to_message(head + big).props[P.PidTagRtfCompressed]
    assert got_small[8:12] == b"LZFu" and rtf.decompress(got_small) == small
    assert got_big[8:12] == b"MELA" and rtf.decompress(got_big) == big
