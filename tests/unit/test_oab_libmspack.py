"""Our OAB files read by another implementation: libmspack's OAB decompressor (``msoab_decompressor``, a C
library that evolution-ews brings along; .ci/install.sh installs it), called through ctypes. It decodes the
compressed Full Details file (LZX_HDR/LZX_BLK with stored blocks, the OAB CRC) and applies our patch
files (PATCH_HDR/PATCH_BLK with LZX DELTA uncompressed blocks). Used as an oracle only: nothing of it is
shipped."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
from pathlib import Path

import pytest

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.filedir import FileDirectory
from gateway.store.directory import Directory
from gateway.store.oab import OfflineAddressBook
from protocols.oab import lzx as L
from protocols.oab import decompress
from protocols.oab.manifest import Manifest

_FN2 = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)
_FN3 = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p)


class _Decompressor(ctypes.Structure):      # struct msoab_decompressor (mspack.h)
    _fields_ = [("decompress", _FN2), ("decompress_incremental", _FN3), ("set_param", ctypes.c_void_p)]


def _lib():
    name = ctypes.util.find_library("mspack") or "libmspack.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        if os.environ.get("CI"):
            raise
        pytest.skip("libmspack is not installed (.ci/install.sh installs libmspack0)")
    lib.mspack_create_oab_decompressor.restype = ctypes.POINTER(_Decompressor)
    lib.mspack_create_oab_decompressor.argtypes = [ctypes.c_void_p]
    lib.mspack_destroy_oab_decompressor.argtypes = [ctypes.POINTER(_Decompressor)]
    return lib


class Mspack:
    def __init__(self):
        self.lib = _lib()
        self.d = self.lib.mspack_create_oab_decompressor(None)
        assert self.d

    def full(self, path: Path, out: Path) -> bytes:
        rc = self.d.contents.decompress(ctypes.cast(self.d, ctypes.c_void_p), str(path).encode(), str(out).encode())
        assert rc == 0, f"libmspack: decompress returned {rc}"
        return out.read_bytes()

    def patch(self, path: Path, base: Path, out: Path) -> bytes:
        rc = self.d.contents.decompress_incremental(ctypes.cast(self.d, ctypes.c_void_p), str(path).encode(),
                                                    str(base).encode(), str(out).encode())
        assert rc == 0, f"libmspack: decompress_incremental returned {rc}"
        return out.read_bytes()

    def close(self):
        self.lib.mspack_destroy_oab_decompressor(self.d)


@pytest.fixture
def mspack():
    m = Mspack()
    yield m
    m.close()


def _text(size: int) -> bytes:
    rnd = random.Random(size)
    words = [bytes(rnd.choice(b"abcdefghijklmnop") for _ in range(rnd.randint(2, 9))) for _ in range(400)]
    return b" ".join(rnd.choice(words) for _ in range(size // 5 + 1))[:size]


@pytest.mark.parametrize("kind", ["noise", "text", "zeros"])
@pytest.mark.parametrize("size", [0, 1, 3, 32767, 32768, 32769, 100001])
def test_libmspack_reads_our_files(mspack, tmp_path, size, kind):
    data = {"noise": os.urandom, "text": _text, "zeros": bytes}[kind](size)
    for lzx in (True, False):                              # LZX compressed and stored blocks
        (tmp_path / "full.lzx").write_bytes(L.compress(data, lzx=lzx))
        assert mspack.full(tmp_path / "full.lzx", tmp_path / "full.out") == data
    # patches: the source with a piece inserted and one removed, and an unrelated source
    edited = data[:size // 3] + b"a new record" + data[size // 3:size // 2] + data[size // 2 + 40:]
    for source, target in ((data, edited), (edited, data), (os.urandom(size // 2 + 5), data)):
        (tmp_path / "source").write_bytes(source)
        (tmp_path / "patch.lzx").write_bytes(L.make_patch(source, target))
        assert mspack.patch(tmp_path / "patch.lzx", tmp_path / "source", tmp_path / "patch.out") == target
        assert L.apply_patch(source, (tmp_path / "patch.lzx").read_bytes()) == target


async def test_libmspack_reads_the_gateways_oab(mspack, tmp_path):
    ldif = tmp_path / "directory.ldif"
    ldif.write_text(Path(DIRECTORY_LDIF).read_text(encoding="utf-8"), encoding="utf-8")
    client = FileDirectory(ldif)
    book = OfflineAddressBook(Directory(client), tmp_path / "oab", "example.test", recheck_seconds=0)
    await book.refresh()
    m1 = Manifest.decode((book.folder / "oab.xml").read_bytes()).oals[0]
    raw1 = mspack.full(book.folder / m1.file("Full").name, tmp_path / "v1.oab")
    assert raw1 == decompress((book.folder / m1.file("Full").name).read_bytes())
    ldif.write_text(ldif.read_text(encoding="utf-8").replace("Sales Lead", "Head of Sales"), encoding="utf-8")
    client.reload()
    await book.refresh()
    m2 = Manifest.decode((book.folder / "oab.xml").read_bytes()).oals[0]
    raw2 = mspack.patch(book.folder / m2.file("Diff").name, tmp_path / "v1.oab", tmp_path / "v2.oab")
    assert raw2 == decompress((book.folder / m2.file("Full").name).read_bytes()) and b"Head of Sales" in raw2


@pytest.mark.parametrize("kind", ["noise", "text"])
def test_libmspack_reads_aligned_offset_blocks(mspack, tmp_path, kind):
    """The aligned-offset block type our decoder reads (Exchange may write it), checked the same way: our
    compressor makes one on request, libmspack and our decoder must give the same bytes."""
    import struct
    from protocols.oab import lzxcodec as C
    from protocols.oab.details import oab_crc
    data = {"noise": os.urandom, "text": _text}[kind](32768)
    packed = C.compress_frame(data, aligned=True)
    assert int.from_bytes(packed[2:4], "little") >> 12 == 0b0010           # E8 bit 0, block type 2
    assert C.decompress_stream(packed, len(data)) == data
    f = L.lzx_header(len(data)) + struct.pack("<IIII", 1, len(packed), len(data), oab_crc(data)) + packed
    (tmp_path / "full.lzx").write_bytes(f)
    assert mspack.full(tmp_path / "full.lzx", tmp_path / "full.out") == data
    ref = data[:1000] + os.urandom(3000)
    target = data[500:20000]
    packed = C.compress_frame(target, ref, aligned=True)
    assert C.decompress_stream(packed, len(target), 17, ref) == target
