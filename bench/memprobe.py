"""Run the gateway CLI with a thread that writes memory figures of its own process now and then.

    python bench/memprobe.py demo --port 8443 --data-dir /tmp/x      (the arguments of `exgate`)

Environment (all optional):
  MEMPROBE_LOG=path         where the lines go (JSON, one a sample; default stderr)
  MEMPROBE_EVERY=30         seconds between samples
  MEMPROBE_TRIM_AT=0        seconds after start at which to call glibc malloc_trim(0) once and log the
                            resident memory before and after (a large drop means free lists and
                            fragmentation, not live data); 0 = never (bench/soak.py --probe: near its end)
  MEMPROBE_TRIM_EVERY=0     call malloc_trim(0) after every sample (to see whether the trimmed RSS is flat)

Each sample: RSS (anon/file, and the main arena's [heap] mapping), threads, open fds, asyncio tasks,
glibc mallinfo2 in KiB (arena = bytes the arenas got from the system, uordblks = in use, fordblks =
free inside them, hblkhd = mmapped blocks), Python's allocated blocks and gc counts. malloc_info(3) XML
is written next to the log at the first sample and just before the trim. It is a diagnostic for
bench/soak.py (--probe); nothing here is part of the gateway.
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


try:
    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallinfo2.restype = _Mallinfo2
    _libc.malloc_trim.argtypes = [ctypes.c_size_t]
except (OSError, AttributeError):
    _libc = None


def _status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
            out[key] = int(rest.split()[0])
    return out


def _mallinfo() -> dict[str, int]:
    if _libc is None:
        return {}
    m = _libc.mallinfo2()
    return {k: getattr(m, k) // 1024 for k in ("arena", "hblkhd", "uordblks", "fordblks")}


def _heap_rss() -> int:
    """Resident KiB of the main arena's heap (the [heap] mapping, grown by brk: the main thread's
    mallocs, hence the event loop's); the other anonymous memory is thread arenas, mmapped blocks,
    Python's own arenas and thread stacks."""
    rss, in_heap = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
            in_heap = line.rstrip().endswith("[heap]")
        elif in_heap and line.startswith("Rss:"):
            rss += int(line.split()[1])
    return rss


def _malloc_info(path: str) -> None:
    """glibc's malloc_info(3) XML (per arena: sizes, free chunks by size) into ``path``."""
    if _libc is None:
        return
    _libc.fopen.restype = ctypes.c_void_p
    _libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    _libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    _libc.fclose.argtypes = [ctypes.c_void_p]
    fp = _libc.fopen(path.encode(), b"w")
    if fp:
        _libc.malloc_info(0, fp)
        _libc.fclose(fp)


def _sample(t0: float) -> dict:
    # No gc.get_objects() here: from another thread it can hand out a tuple that a worker thread is
    # still filling (tuple(generator)), whose _PyTuple_Resize then fails with SystemError "bad
    # argument to internal function" (seen in pymap's response writer on the first version of this).
    return {
        "t": round(time.monotonic() - t0),
        **_status(),
        "heap": _heap_rss(),
        "fds": len(os.listdir("/proc/self/fd")),
        "tasks": len(asyncio.tasks._all_tasks),
        "malloc": _mallinfo(),
        "py_blocks": sys.getallocatedblocks(),
        "gc_count": gc.get_count(),
    }


def _probe() -> None:
    every = float(os.environ.get("MEMPROBE_EVERY", "30"))
    trim_at = float(os.environ.get("MEMPROBE_TRIM_AT", "0"))
    trim_every = os.environ.get("MEMPROBE_TRIM_EVERY", "0") == "1"
    path = os.environ.get("MEMPROBE_LOG")
    out = open(path, "a", buffering=1) if path else sys.stderr
    t0 = time.monotonic()
    trimmed = False
    first = True
    while True:
        time.sleep(every)
        try:
            rec = _sample(t0)
            if path and first:
                _malloc_info(path + f".malloc-{rec['t']}.xml")
                first = False
            if (trim_every or (trim_at and not trimmed and rec["t"] >= trim_at)) and _libc is not None:
                if path and not trimmed:
                    _malloc_info(path + f".malloc-{rec['t']}.xml")
                before = _status()["VmRSS"]
                _libc.malloc_trim(0)
                rec["trim"] = {"before": before, "after": _status()["VmRSS"], "heap_after": _heap_rss()}
                trimmed = True
            print(json.dumps(rec), file=out)
        except Exception as exc:   # a diagnostic must not take the gateway down
            print(json.dumps({"probe_error": repr(exc)}), file=out)


if __name__ == "__main__":
    threading.Thread(target=_probe, name="memprobe", daemon=True).start()
    from gateway.cli import main
    sys.exit(main(sys.argv[1:]))
