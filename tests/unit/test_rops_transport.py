"""RPC_HEADER_EXT, XOR obfuscation, the extended-buffer chain and LZ77/DIRECT2 (MS-OXCRPC
2.2.2.1, 3.1.4.1.1): spec examples, real Outlook 2007 buffers, round trips, seeded fuzz."""
import random
import struct
from pathlib import Path

import pytest

from protocols.rops import lz77
from protocols.rops.errors import RopFormatError
from protocols.rops.rpc_ext import (
    FLAG_COMPRESSED, FLAG_LAST, FLAG_XOR_MAGIC, RpcHeaderExt, decode_ext_buffer, encode_ext_buffer,
    encode_piece, reencode_piece, xor_magic,
)

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "openchange-lzxpress"
# EcDoRpcExt2 request parameter blocks: cbIn (4 bytes) at 0x18, rgbIn from 0x1C (an
# RPC_HEADER_EXT chain), then pcbOut and the auxiliary buffer (its own header chain).
OUTLOOK = {
    "001_Outlook_2007_in_ModifyRecipients_comp.dat": (325, 459),
    "002_Outlook_2007_in_Tables_operations_comp.dat": (330, 380),
}


def outlook_rgb_in(name):
    raw = (CAPTURES / name).read_bytes()
    (cb_in,) = struct.unpack_from("<I", raw, 0x18)
    return raw, 0x1C, 0x1C + cb_in


# ---- header and XOR ----

def test_header_fields_and_flags():
    h = RpcHeaderExt.decode(bytes.fromhex("0000050045 01cb01".replace(" ", "")))
    assert (h.version, h.flags, h.size, h.size_actual) == (0, 5, 0x145, 0x1CB)
    assert h.compressed and h.last and not h.xor_magic
    assert h.encode() == bytes.fromhex("000005004501cb01")
    assert (FLAG_COMPRESSED, FLAG_XOR_MAGIC, FLAG_LAST) == (1, 2, 4)


def test_xor_magic_is_its_own_inverse():
    data = bytes(range(256))
    assert xor_magic(data)[0] == 0xA5 and xor_magic(data)[0xA5] == 0
    assert xor_magic(xor_magic(data)) == data


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("xor", [False, True])
def test_chain_round_trip(compress, xor):
    payloads = [b"abc" * 100, b"\x00" * 50, bytes(range(200))]
    buf = encode_ext_buffer(payloads, compress=compress, xor=xor)
    pieces = decode_ext_buffer(buf)
    assert [p.payload for p in pieces] == payloads
    assert [p.header.last for p in pieces] == [False, False, True]
    assert pieces[0].header.compressed == compress  # repetitive: compression pays
    assert pieces[2].header.compressed is False     # incompressible: sent as is (Size < SizeActual rule)
    assert all(p.header.xor_magic == xor for p in pieces)
    assert b"".join(reencode_piece(p) for p in pieces) == buf


def test_chain_errors():
    good = encode_piece(b"hello", last=True)
    with pytest.raises(RopFormatError):
        decode_ext_buffer(encode_piece(b"hello", last=False))  # no Last
    with pytest.raises(RopFormatError):
        decode_ext_buffer(good + b"x")  # bytes after Last
    with pytest.raises(RopFormatError):
        decode_ext_buffer(b"\x01\x00" + good[2:])  # version 1
    with pytest.raises(RopFormatError):
        decode_ext_buffer(good[:4] + b"\x05\x00\x06\x00" + good[8:])  # uncompressed, sizes differ
    with pytest.raises(RopFormatError):
        decode_ext_buffer(good[:-1])


# ---- LZ77 / DIRECT2 ----

def _stream(mask_bits: str, *chunks: bytes) -> bytes:
    bits = mask_bits.ljust(32, "1")
    return struct.pack("<I", int(bits, 2)) + b"".join(chunks)


def test_spec_bitmask_example():
    # 3.1.4.1.1.2.2.1: "ABCABCDEF" is (0,0)A(0,0)B(0,0)C(3,3)D(0,0)E(0,0)F then the end bit
    data = _stream("00010001", b"ABC", struct.pack("<H", (3 - 1) << 3), b"DEF")
    assert lz77.decompress(data) == b"ABCABCDEF"


def test_spec_offset_example():
    # 3.1.4.1.1.2.2.3: metadata 0x0018 is offset -4, length 3
    data = _stream("00001", b"WXYZ", struct.pack("<H", 0x0018))
    assert lz77.decompress(data) == b"WXYZWXY"


@pytest.mark.parametrize("length,tail", [
    (24, b"\x0e"),                                   # 0b111 + nibble 0b1110
    (25, b"\x0f\x00"),                               # + nibble 0b1111 + byte 0
    (26, b"\x0f\x01"),
    (279, b"\x0f\xfe"),
    (280, b"\x0f\xff" + struct.pack("<H", 0x0115)),  # whole length - 3 in the last 2 bytes
    (281, b"\x0f\xff" + struct.pack("<H", 0x0116)),
])
def test_spec_match_lengths(length, tail):
    # 3.1.4.1.1.2.2.4: a run of one byte copied at distance 1
    data = _stream("01", b"A", struct.pack("<H", 7), tail)
    assert lz77.decompress(data) == b"A" * (1 + length)
    assert lz77.compress(b"A" * (1 + length)) == data


def test_shared_nibble_serves_two_long_matches():
    # the first long match takes the low nibble, the second the high nibble of the same byte
    data = _stream("0101", b"A", struct.pack("<H", 7), b"\x21", b"B", struct.pack("<H", 7))
    assert lz77.decompress(data) == b"A" + b"A" * 11 + b"B" + b"B" * 12


CORPUS = [
    b"", b"a", b"ab", b"abc", b"abcabcabc", b"\x00" * 100000 + b"x", bytes(range(256)) * 40,
    b"The quick brown fox jumps over the lazy dog. " * 200,
]


@pytest.mark.parametrize("data", CORPUS, ids=range(len(CORPUS)))
def test_round_trip_corpus(data):
    packed = lz77.compress(data)
    assert lz77.decompress(packed, len(data)) == data


def test_round_trip_seeded_random():
    rnd = random.Random(20261205)
    for _ in range(150):
        n = rnd.choice([1, 7, 31, 32, 33, 64, 500, 3000, 20000])
        alphabet = bytes(rnd.sample(range(256), rnd.choice([1, 2, 4, 16, 256])))
        data = bytes(rnd.choice(alphabet) for _ in range(n))
        assert lz77.decompress(lz77.compress(data)) == data


@pytest.mark.parametrize("name", sorted(OUTLOOK))
def test_outlook_2007_buffers_decompress_to_stated_size(name):
    raw, start, end = outlook_rgb_in(name)
    size, size_actual = OUTLOOK[name]
    (piece,) = decode_ext_buffer(raw, start, end)
    assert piece.header.flags == FLAG_COMPRESSED | FLAG_LAST
    assert (piece.header.size, piece.header.size_actual) == (size, size_actual)
    assert len(piece.payload) == size_actual
    # the payload is a ROP buffer: RopSize, then handles to the end
    (rop_size,) = struct.unpack_from("<H", piece.payload, 0)
    assert rop_size <= size_actual and (size_actual - rop_size) % 4 == 0
    # our own compression of it comes back the same (Outlook's compressor chose other matches)
    again = decode_ext_buffer(reencode_piece(piece))[0]
    assert again.payload == piece.payload and again.header.compressed


@pytest.mark.parametrize("name", sorted(OUTLOOK))
def test_outlook_2007_aux_buffer_is_xor_obfuscated(name):
    raw, _, end = outlook_rgb_in(name)
    # after rgbIn: padding to 4, a 4-byte count, pcbOut (4), cbAuxIn (4), then rgbAuxIn
    aux_start = ((end + 3) & ~3) + 12
    (cb_aux,) = struct.unpack_from("<I", raw, aux_start - 4)
    assert cb_aux == 48
    (aux,) = decode_ext_buffer(raw, aux_start, aux_start + cb_aux)
    assert aux.header.flags == FLAG_XOR_MAGIC | FLAG_LAST and aux.header.size == 40
    # reverted: AUX_HEADER (MS-OXCRPC 2.2.2.2) Size 8, Version 1, Type 1 (AUX_TYPE_PERF_REQUESTID)
    assert struct.unpack_from("<HBB", aux.payload, 0) == (8, 1, 1)
    assert reencode_piece(aux) == raw[aux_start:aux_start + 48]


def test_decompress_stated_size_mismatch():
    packed = lz77.compress(b"hello hello hello")
    with pytest.raises(RopFormatError):
        lz77.decompress(packed, 5)
    with pytest.raises(RopFormatError):
        lz77.decompress(packed, 100)


def test_decompress_seeded_fuzz_raises_only_the_declared_error():
    rnd = random.Random(12)
    raw, start, end = outlook_rgb_in(sorted(OUTLOOK)[1])
    packed = raw[start + 8:end]
    for i in range(len(packed)):
        try:
            lz77.decompress(packed[:i], 380)
        except RopFormatError:
            pass
        else:
            raise AssertionError(f"truncated to {i} bytes decoded to the stated size")
    for _ in range(2000):
        junk = bytearray(packed)
        for _ in range(rnd.randint(1, 6)):
            junk[rnd.randrange(len(junk))] = rnd.randrange(256)
        try:
            lz77.decompress(bytes(junk), rnd.choice([None, 380]))
        except RopFormatError:
            pass
    for _ in range(500):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 64)))
        for blob in (junk, b"\xff\xff\xff\xff" + junk):
            try:
                lz77.decompress(blob)
            except RopFormatError:
                pass
            try:
                decode_ext_buffer(blob)
            except RopFormatError:
                pass
