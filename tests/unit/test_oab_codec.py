"""protocols/oab: every structure on bytes spelled out here (no real Exchange OAB file is in the
reference material), and encode(decode(b)) == b for each."""
from __future__ import annotations

import hashlib
import os
import struct

import pytest

from protocols.oab import details as D
from protocols.oab import lzx as L
from protocols.oab import lzxcodec as C
from protocols.oab.manifest import FileEntry, Manifest, OalEntry


def _crc_bitwise(data: bytes) -> int:
    """MS-OXOAB's CRC spelled out bit by bit: reflected polynomial 0xEDB88320, start 0xFFFFFFFF, no final XOR."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc


@pytest.mark.parametrize("data", [b"", b"a", b"123456789", bytes(range(256)) * 3])
def test_crc_is_the_uninverted_crc32(data):
    assert D.oab_crc(data) == _crc_bitwise(data)
    half = len(data) // 2
    assert D.oab_crc(data[half:], D.oab_crc(data[:half])) == D.oab_crc(data)


@pytest.mark.parametrize("value,encoded", [(0, "00"), (0x7F, "7f"), (0x80, "8180"), (0xFF, "81ff"),
                                           (0x1234, "823412"), (0x123456, "83563412"),
                                           (0xFFFFFFFF, "84ffffffff"), (-1, "84ffffffff")])
def test_integer_encoding(value, encoded):
    # MS-OXOAB 2.9.6.1
    assert D.enc_int(value).hex() == encoded
    assert D._Reader(bytes.fromhex(encoded), 0, len(encoded) // 2).int_() == value & 0xFFFFFFFF


PROPS = [D.PropRec(0x3003001E, D.FLAG_PRIMARY), D.PropRec(0x3001001F, D.FLAG_ANR), D.PropRec(0x0FFE0003),
         D.PropRec(0x3A4D000B), D.PropRec(0x8C9E0102), D.PropRec(0x800F101F), D.PropRec(0x8009101E),
         D.PropRec(0x80261003), D.PropRec(0x80271102)]


def test_record_bytes_spelled_out():
    # 9 properties -> 2 bytes of presence bits; present: 0, 1, 2, 5 -> 1110 0100 0000 0000
    rec = {0x3003001E: "/o=x/cn=a", 0x3001001F: "Zoë", 0x0FFE0003: 6, 0x800F101F: ["SMTP:a@x", "X500:/o=x"]}
    want = (bytes.fromhex("e400") + b"/o=x/cn=a\x00" + "Zoë".encode() + b"\x00" + b"\x06"
            + b"\x02SMTP:a@x\x00X500:/o=x\x00")
    b = D.encode_record(PROPS, rec)
    assert b == struct.pack("<I", 4 + len(want)) + want
    back, end = D.decode_record(PROPS, b)
    assert back == rec and end == len(b)
    assert D.encode_record(PROPS, back) == b


def test_record_with_every_type_round_trips():
    rec = {0x3003001E: "/o=x/cn=b", 0x3001001F: "B", 0x0FFE0003: 0x10000, 0x3A4D000B: True,
           0x8C9E0102: bytes(300), 0x800F101F: ["SMTP:b@x"], 0x8009101E: ["/o=x/cn=a", "/o=x/cn=c"],
           0x80261003: [1, 200, 70000], 0x80271102: [b"\x01\x02", b"\xff" * 200]}
    b = D.encode_record(PROPS, rec)
    assert b[4:6] == b"\xff\x80"
    back, _ = D.decode_record(PROPS, b)
    assert back == rec and D.encode_record(PROPS, back) == b


def test_empty_values_are_absent_and_bad_records_are_refused():
    assert D.encode_record(PROPS, {0x3003001E: "/o=x", 0x3001001F: "", 0x800F101F: []})[4:6] == b"\x80\x00"
    good = D.encode_record(PROPS, {0x3003001E: "/o=x"})
    bad_bits = good[:5] + b"\x01" + good[6:]           # an unused presence bit set (2.9.5: MUST be 0)
    with pytest.raises(D.OabError, match="unused presence bits"):
        D.decode_record(PROPS, bad_bits)
    with pytest.raises(D.OabError, match="says"):
        D.decode_record(PROPS, good[:-1])
    with pytest.raises(D.OabError, match="without its 0x00"):
        D.decode_record(PROPS, struct.pack("<I", len(good) - 1) + good[4:-1])


def _file(records):
    hdr = [D.PropRec(0x6800001F), D.PropRec(0x68010003)]
    return D.OabFile(D.OabHeader(), hdr, PROPS, {0x6800001F: "\\GAL", 0x68010003: 7}, records)


def test_full_details_file_layout_and_round_trip():
    recs = [{0x3003001E: f"/o=x/cn={i}", 0x3001001F: f"User {i}", 0x0FFE0003: 6} for i in range(3)]
    b = D.encode_details(_file(recs))
    version, serial, total = struct.unpack_from("<III", b, 0)
    assert (version, total) == (0x20, 3) and serial == D.oab_crc(b[12:])
    # OAB_META_DATA: cbSize, rgHdrAtts (2 rows), rgOabAtts (9 rows)
    assert struct.unpack_from("<I", b, 12)[0] == 4 + 4 + 16 + 4 + 72
    assert struct.unpack_from("<III", b, 16) == (2, 0x6800001F, 0)
    assert struct.unpack_from("<IIII", b, 36) == (9, 0x3003001E, D.FLAG_PRIMARY, 0x3001001F)
    f = D.decode_details(b)
    assert f.records == recs and f.hdr_record == {0x6800001F: "\\GAL", 0x68010003: 7}
    assert D.encode_details(f) == b


def test_streaming_writer_gives_the_same_bytes_and_checks():
    recs = [{0x3003001E: f"/o=x/cn={i}", 0x3001001F: f"U{i}"} for i in range(5)]
    f = _file(recs)
    w = D.DetailsWriter(f.hdr_props, f.obj_props, f.hdr_record)
    body = bytearray(w.start()) + b"".join(w.add(r) for r in recs)
    body[:12] = w.finish()
    assert bytes(body) == D.encode_details(f)
    with pytest.raises(D.OabError, match="primary key"):
        w.add({0x3001001F: "no DN"})
    with pytest.raises(D.OabError, match="ulSerial"):
        D.decode_details(bytes(body[:4]) + b"\0\0\0\0" + bytes(body[8:]))
    wrong_count = bytes(body[:8]) + struct.pack("<I", 9) + bytes(body[12:])
    with pytest.raises(D.OabError, match="says 9 records"):
        D.decode_details(wrong_count, check_serial=False)
    with pytest.raises(D.OabError, match="0x00000020"):
        D.decode_details(b"\x07\0\0\0" + bytes(body[4:]))


def test_lzx_framing_bytes_and_round_trip():
    data = bytes(range(256)) * 300                     # 76800 bytes: blocks of 32768, 32768, 11264
    b = L.compress(data, lzx=False)
    assert struct.unpack_from("<IIII", b, 0) == (3, 1, 0x8000, len(data))
    assert struct.unpack_from("<IIII", b, 16) == (0, 0x8000, 0x8000, D.oab_crc(data[:0x8000]))
    f = L.read_lzx(b)
    assert [blk.uncompressed_size for blk in f.blocks] == [32768, 32768, 11264]
    assert f.encode() == b and L.decompress(b) == data
    assert L.decompress(L.compress(b"")) == b"" and L.decompress(L.compress(data)) == data


def test_lzx_blocks_are_compressed_and_read_back():
    data = (b"Alice Archer alice@example.test /o=exgate/cn=Recipients/cn=alice " * 1000)[:50000]
    b = L.compress(data)
    f = L.read_lzx(b)
    assert [blk.flags for blk in f.blocks] == [1, 1] and len(b) < len(data) // 10
    assert f.encode() == b and L.decompress(b) == data
    noise = os.urandom(40000)                           # not smaller compressed: stored
    assert [blk.flags for blk in L.read_lzx(L.compress(noise)).blocks] == [0, 0]
    assert L.decompress(L.compress(noise)) == noise
    garbage = L.LzxFile(L.LzxHeader(0x8000, 5), [L.LzxBlock(1, 5, 0, b"\x00\x30\x17")]).encode()
    assert L.read_lzx(garbage).encode() == garbage      # the framing still round-trips
    with pytest.raises(D.OabError, match="LZX_BLK 0"):
        L.decompress(garbage)
    broken = bytearray(L.compress(b"hello", lzx=False))
    broken[-1] ^= 1
    with pytest.raises(D.OabError, match="CRC"):
        L.decompress(bytes(broken))


def test_lzx_uncompressed_block_bitstream_spelled_out():
    # the frame's chunk size (20), then E8 bit 0, block type 3 (011), size 3 in 24 bits, 4 pad bits -> words
    # 0x3000 0x0030 (little-endian), then R0 R1 R2 = 1, the bytes and a pad byte (odd size)
    s = L.lzx_stored_stream(b"abc")
    assert s == bytes.fromhex("1400" "00303000") + struct.pack("<III", 1, 1, 1) + b"abc\x00"
    assert C.decompress_stream(s, 3) == b"abc"
    big = bytes(range(256)) * 200
    assert C.decompress_stream(L.lzx_stored_stream(big), len(big)) == big
    bad_type = bytes.fromhex("1e000040") + bytes(30)    # block type 4 after the E8 bit: no such type
    with pytest.raises(C.LzxError, match="block type 4"):
        C.decompress_stream(bad_type, 10)


def test_lzx_verbatim_bitstream_spelled_out():
    # "aaaa": literal a, then a match of 3 at offset 1 (R0, slot 0). Main tree: a and symbol 256 (slot 0,
    # length header 1), 1 bit each; pretree per part; no length tree.
    s = C.compress_frame(b"aaaa")
    assert C.decompress_stream(s, 4) == b"aaaa"
    words = s[2:]
    first = int.from_bytes(words[0:2], "little")
    assert struct.unpack_from("<H", s, 0)[0] == len(words)
    assert first >> 12 == 0b0001                          # E8 bit 0, block type 1 (verbatim)
    assert C.decompress_stream(C.compress_frame(b"abcabcabcabc", b"xyzabc"), 12, 17, b"xyzabc") == b"abcabcabcabc"


def test_lzx_e8_translation_is_undone():
    # a stream whose header asks for E8 translation (file size 1000): a CALL's absolute target 100 at
    # offset 5 is given back as the relative 100 - 5 = 95; the last 10 bytes of a frame are left alone
    body = bytes(5) + b"\xe8" + struct.pack("<i", 100) + bytes(20) + b"\xe8" + struct.pack("<i", 100)
    w = C._Writer()
    w.bits(1, 1), w.bits(0, 16), w.bits(1000, 16)       # E8 on, translation size 1000
    w.bits(3, 3), w.bits(len(body), 24)
    w.flush()
    frame = bytes(w.out) + struct.pack("<III", 1, 1, 1) + body + (b"\x00" if len(body) % 2 else b"")
    out = C.decompress_stream(struct.pack("<H", len(frame)) + frame, len(body))
    assert out[6:10] == struct.pack("<i", 95) and out[-4:] == struct.pack("<i", 100)


def test_lzx_delta_extended_match_lengths():
    # 32 KiB of zeros: one literal and one match far longer than 257, in LZX DELTA's extended length code
    assert C._extended(0) == [(0, 1), (0, 8)] and C._extended(0x100) == [(2, 2), (0, 10)]
    assert C._extended(0x500) == [(6, 3), (0, 12)] and C._extended(0x1500) == [(7, 3), (0x1500, 15)]
    packed = C.compress_frame(bytes(32768))
    assert len(packed) < 60 and C.decompress_stream(packed, 32768) == bytes(32768)
    for n in (257, 258, 257 + 0x100, 257 + 0x500, 257 + 0x1500, 4000):
        data = b"x" + bytes(n) + b"y"
        assert C.decompress_stream(C.compress_frame(data), len(data)) == data


@pytest.mark.parametrize("size", [1, 100, 32768])
def test_lzx_round_trips_text_noise_and_zeros(size):
    for data in ((b"OAB record " * 4000)[:size], os.urandom(size), bytes(size)):
        assert C.decompress_stream(C.compress_frame(data), size) == data
        ref = os.urandom(500) + data[:size // 2]
        assert C.decompress_stream(C.compress_frame(data, ref), size, 17, ref) == data


def test_patch_file_bytes_and_round_trip():
    source, target = b"old file" * 1000, b"new file" * 5000
    p = L.make_patch(source, target)
    assert struct.unpack_from("<IIIIIII", p, 0) == (3, 2, 0x8000, len(source), len(target), D.oab_crc(source),
                                                    D.oab_crc(target))
    f = L.read_patch(p)
    assert f.encode() == p and [b.target_size for b in f.blocks] == [32768, 7232]
    assert [b.source_size for b in f.blocks] == [8000, 0] and len(p) < 1000     # compressed against the source
    assert L.apply_patch(source, p) == target
    stored = L.make_patch(None, target, source_size=len(source), source_crc=D.oab_crc(source))
    assert [b.source_size for b in L.read_patch(stored).blocks] == [0, 0] and L.apply_patch(source, stored) == target
    with pytest.raises(D.OabError, match="source"):
        L.apply_patch(source + b"x", p)
    streamed = L.patch_header(len(source), D.oab_crc(source), len(target), D.oab_crc(target)) + b"".join(
        L.patch_block(target[i:i + 0x8000], source[i:i + 0x8000]) for i in range(0, len(target), 0x8000))
    assert streamed == p


def test_manifest_round_trip_and_foreign_layout():
    m = Manifest([OalEntry("6c7b8b5e-0000-4000-8000-000000000001", "/o=x/cn=oab", "\\Global Address List", [
        FileEntry("Full", "g-data-3.lzx", 3, 100, 200, hashlib.sha1(b"f").hexdigest()),
        FileEntry("Diff", "g-binpatch-3.lzx", 3, 50, 200, hashlib.sha1(b"d").hexdigest()),
        FileEntry("Template", "tmpl.lzx", 3, 10, 20, "00" * 20, ver=4, langid="0409", type="windows")])])
    b = m.encode()
    assert Manifest.decode(b) == m and Manifest.decode(b).encode() == b
    foreign = b"""<?xml version="1.0"?><OAB><OAL dn="/o=E/cn=oab" name="\\GAL" id="abc">
      <Full SHA="aa" uncompressedsize="9" size="8" ver="32" seq="12">abc-data-12.lzx</Full></OAL></OAB>"""
    got = Manifest.decode(foreign).oals[0]
    assert (got.id, got.file("Full").seq, got.file("Full").name, got.file("Diff")) == ("abc", 12, "abc-data-12.lzx", None)
    with pytest.raises(D.OabError):
        Manifest.decode(b"<OAB><OAL>")
