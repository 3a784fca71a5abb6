"""glibc malloc: large blocks stay out of the heap (`exgate serve` and `exgate demo` call this first).

asyncio allocates a 256 KiB buffer for every read from a socket: ``SSLProtocol`` (the HTTPS front
end, under aiohttp) calls ``SSLObject.read(256 KiB)`` until it would block, and the plain socket
transport (the in-process pymap server, the gateway's IMAP client) ``socket.recv(256 KiB)``; each
buffer is then shrunk to the bytes read, or freed when there were none. glibc serves blocks of
128 KiB and more with mmap, but the threshold moves: the first such block freed whole (a read that
found nothing) raises it above 256 KiB, and from then on every read buffer is cut from the main
thread's heap, where the shrunk buffers and the small objects allocated among them leave holes that
the heap never gives back. Under a 50-client soak of `exgate demo` (bench/soak.py --probe) the
gateway grew 10 MiB in 10 minutes, all of it free space inside malloc (2.8 -> 10.3 MiB free, the
bytes in use steady at 31 MiB, Python's objects steady too), and malloc_trim(0) gave 8 MiB back.

Setting M_MMAP_THRESHOLD turns that adjustment off (mallopt(3)): blocks of 128 KiB (glibc's default)
and more are mapped and unmapped each time, as before the first free; M_TRIM_THRESHOLD is set back
to its default too (the rise doubles it), so free room at the heap's top is returned. In the same
soak the heap then stayed at 18 MiB with 1 MiB free (the rest, 50 connections' 256 KiB TLS buffers,
mapped), at the same request rate. Nothing changes where the C library is not glibc, or when the
operator set MALLOC_MMAP_THRESHOLD_ (glibc's own variable).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1            # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024      # glibc's initial value; below the 256 KiB asyncio read buffers
TRIM_THRESHOLD = 128 * 1024      # glibc's initial value (the dynamic rise doubles it with the other)


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; True when it was set."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version          # glibc only: musl and others have no such tuning
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, threshold) != 1 or mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD, %d) refused", threshold)
        return False
    return True
