"""Offline address book build time and memory for a synthetic directory (issue 13).

    python bench/oab.py [--entries 10000] [--groups 50] [--members 40] [--photos 0]

Builds the entries in-process (an in-memory directory client, no LDAP), then times
``gateway.store.oab.OfflineAddressBook`` building version 1 (the GAL read, rendered record by record,
the Full Details file, the LZX compressed Full file, oab.xml), a look at the unchanged directory (hashes
the records, writes nothing), and version 2 after one entry changed (adds the patch file). Memory: the
process's maximum resident size once the directory's entries exist and after the builds; with
``--trace`` also Python's peak (tracemalloc) in each step, in a second, much slower pass. Prints figures
only, asserts nothing about time. Files go to a temporary directory that is removed afterwards.
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.backends.base import DirectoryEntry  # noqa: E402
from gateway.store.directory import Directory  # noqa: E402
from gateway.store.oab import OfflineAddressBook  # noqa: E402
from protocols.oab import decode_details, decompress  # noqa: E402
from protocols.oab.manifest import Manifest  # noqa: E402

TITLES = ["Engineer", "Manager", "Sales Lead", "Accountant", "Designer", "Support"]
DEPTS = ["Engineering", "Sales", "Finance", "Design", "Support", "Operations"]


class SyntheticDirectory:
    """A DirectoryClient over entries made here."""

    def __init__(self, n: int, groups: int, members: int, photo: bytes | None):
        self.entries: list[DirectoryEntry] = []
        import base64
        pic = base64.b64encode(photo).decode() if photo else None
        for i in range(n):
            first, last = f"Given{i:05d}", f"Family{i * 7919 % n:05d}"
            attrs = {"givenName": [first], "sn": [last], "title": [TITLES[i % 6]], "departmentNumber": [DEPTS[i % 6]],
                     "o": ["Example Corp"], "roomNumber": [f"B{i % 40}-{i % 300}"],
                     "telephoneNumber": [f"+1 555 {i:05d}"], "mobile": [f"+1 666 {i:05d}"],
                     "mailAlternateAddress": [f"{first.lower()}.{last.lower()}@example.test"]}
            if i:
                attrs["manager"] = [f"uid=u{(i - 1) // 10:05d},ou=people,dc=example,dc=test"]
            if pic:
                attrs["jpegPhoto;binary"] = [pic]
            self.entries.append(DirectoryEntry(f"uid=u{i:05d},ou=people,dc=example,dc=test", "user", f"u{i:05d}",
                                               f"{first} {last}", f"u{i:05d}@example.test", attrs))
        for g in range(groups):
            mem = tuple(self.entries[(g * members + k) % n].dn for k in range(members))
            self.entries.append(DirectoryEntry(f"cn=group{g},ou=groups,dc=example,dc=test", "group", None,
                                               f"Group {g}", f"group{g}@example.test", {"cn": [f"group{g}"]}, mem))
        self.by_dn = {e.dn: e for e in self.entries}

    async def list_all(self, kinds=("user", "group")):
        return [e for e in self.entries if e.kind in kinds]

    async def expand_group(self, dn_or_email):
        return [self.by_dn[m] for m in self.by_dn[dn_or_email].members]

    async def get_user(self, login_or_email):
        return None

    async def search(self, text, limit=100):
        return []


def _maxrss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mib(n: float) -> str:
    return f"{n / 1048576:.1f} MiB"


async def _step(name: str, coro):
    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    t = time.perf_counter()
    out = await coro
    dt = time.perf_counter() - t
    if tracing:
        peak = tracemalloc.get_traced_memory()[1] - before
        print(f"  {name:<34} peak Python memory above the start of the step {_mib(peak)}  ({dt:.2f} s traced)")
    else:
        print(f"  {name:<34} {dt:7.2f} s")
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--groups", type=int, default=50)
    ap.add_argument("--members", type=int, default=40)
    ap.add_argument("--photos", type=int, default=0, help="bytes of photo per person (0: none)")
    ap.add_argument("--trace", action="store_true",
                    help="also a pass under tracemalloc: Python's peak memory per step (much slower)")
    args = ap.parse_args()
    print("time and resident memory:")
    await run(args, trace=False)
    if args.trace:
        print("Python memory (tracemalloc):")
        await run(args, trace=True)


async def run(args, trace: bool) -> None:
    if trace:
        tracemalloc.start()
    client = SyntheticDirectory(args.entries, args.groups, args.members,
                                bytes(range(256)) * (args.photos // 256 + 1) if args.photos else None)
    rss0 = _maxrss()
    if trace:
        print(f"  directory: {args.entries} people, {args.groups} groups of {args.members}; "
              f"the entries take {_mib(tracemalloc.get_traced_memory()[0])} of Python memory")
    else:
        print(f"  directory: {args.entries} people, {args.groups} groups of {args.members}; process maximum "
              f"resident size once they are made: {rss0:.1f} MiB")
    with tempfile.TemporaryDirectory(prefix="exgate-oab-bench-") as tmp:
        book = OfflineAddressBook(Directory(client), Path(tmp), "example.test", recheck_seconds=0)
        v1 = await _step("build sequence 1", book.refresh())
        await _step("unchanged directory (hash only)", book.refresh())
        client.entries[5].attributes["title"] = ["Changed"]
        v2 = await _step("one entry changed: sequence 2", book.refresh())
        assert v2.seq == 2 and v1.seq == 1
        if trace:
            tracemalloc.stop()
            return
        m = Manifest.decode((book.folder / "oab.xml").read_bytes()).oals[0]
        full, diff = m.file("Full"), m.file("Diff")
        print(f"  process maximum resident size after the builds: {_maxrss():.1f} MiB "
              f"({_maxrss() - rss0:+.1f} MiB over the directory's)")
        print(f"  Full Details file: {full.uncompressed_size} bytes uncompressed "
              f"({full.uncompressed_size / (args.entries + args.groups):.0f} per entry); "
              f"{full.name}: {full.size} bytes (LZX)")
        print(f"  patch from sequence 1 (one title changed): {diff.name}: {diff.size} bytes (LZX against sequence 1)")
        t = time.perf_counter()
        n = len(decode_details(decompress((book.folder / full.name).read_bytes())).records)
        print(f"  parse back (decompress + decode {n} records): {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
