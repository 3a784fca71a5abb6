"""gateway.allocator: after pin_mmap_threshold() a large block is mapped even once glibc's dynamic
threshold has been raised by a large block freed whole (what asyncio's 256 KiB read buffers do)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os

import pytest

from gateway import allocator

try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _libc.gnu_get_libc_version
    _libc.mallinfo2
except (OSError, AttributeError):     # pragma: no cover - not glibc 2.33+
    _libc = None


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


def _mapped_for(size: int) -> int:
    """Bytes glibc mapped (mmap) for one block of ``size`` bytes, while it is allocated."""
    before = _libc.mallinfo2().hblkhd
    p = _libc.malloc(size)
    assert p
    try:
        return _libc.mallinfo2().hblkhd - before
    finally:
        _libc.free(p)


@pytest.mark.skipif((_libc is None or "MALLOC_MMAP_THRESHOLD_" in os.environ) and os.environ.get("CI") != "true",
                    reason="glibc only, with its dynamic threshold (never skipped under CI: the Linux runner has it)")
def test_large_blocks_are_mapped_after_the_pin():
    """In a process of its own: malloc's thresholds are process-wide, and after a whole test session in
    this one (threads, in-process servers, an `exgate demo` that pinned them already) the heap's state
    is not the one the steps below start from."""
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-c", "import tests.unit.test_allocator as t; t._steps()"],
                         capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert run.returncode == 0, run.stderr[-2000:]


def _steps() -> None:
    _libc.mallinfo2.restype = _Mallinfo2
    _libc.malloc.restype = ctypes.c_void_p
    _libc.malloc.argtypes = [ctypes.c_size_t]
    _libc.free.argtypes = [ctypes.c_void_p]
    _libc.malloc_trim.argtypes = [ctypes.c_size_t]
    size = 256 * 1024 + 64
    _mapped_for(4 * 1024 * 1024)            # mapped, then freed whole: the threshold rises to 4 MiB
    assert _mapped_for(size) == 0           # so a read buffer now comes from the heap
    assert allocator.pin_mmap_threshold()
    _libc.malloc_trim(0)                    # the room that block left at the heap's top goes back
    _mapped_for(4 * 1024 * 1024)            # freed whole again: the threshold stays
    assert _mapped_for(size) >= size        # so the buffer is mapped, and unmapped when freed


def test_the_operator_setting_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert allocator.pin_mmap_threshold() is False
