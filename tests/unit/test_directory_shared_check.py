"""Directory.gal under concurrent callers: those that wait while another call checks the directory share a
check that began after they came in (one check for a crowd, not one each), and a call never takes a check that
began before it came in (a change made before the call could be missed)."""
from __future__ import annotations

import asyncio

from gateway.backends.base import DirectoryEntry
from gateway.store import directory as D


class SlowClient:
    def __init__(self):
        self.people = [DirectoryEntry(f"uid=u{i},dc=x", "user", f"u{i}", f"Person {i}", f"u{i}@x") for i in range(3)]
        self.probes = self.reads = 0
        self.generation = 1
        self.gate: asyncio.Event | None = None

    async def list_all(self, kinds):
        self.reads += 1
        return list(self.people)

    async def change_marker(self, kinds):
        self.probes += 1
        seen = self.generation                 # what the directory said when asked
        if self.gate is not None:
            await self.gate.wait()             # the answer on its way back
        return seen


async def test_a_crowd_shares_a_check():
    c = SlowClient()
    await D.Directory(c).gal()
    c.probes = 0
    c.gate = asyncio.Event()
    first = asyncio.create_task(D.Directory(c).gal())        # checks, held at the gate
    await asyncio.sleep(0.01)
    crowd = [asyncio.create_task(D.Directory(c).gal()) for _ in range(20)]   # came in during that check
    await asyncio.sleep(0.01)
    c.gate.set()
    await asyncio.gather(first, *crowd)
    # the first check began before the crowd came: one more check (begun after them all) serves the crowd
    assert c.probes == 2 and c.reads == 1


async def test_a_change_made_during_a_check_is_seen_by_a_later_caller():
    c = SlowClient()
    await D.Directory(c).gal()
    c.gate = asyncio.Event()
    first = asyncio.create_task(D.Directory(c).gal())
    await asyncio.sleep(0.01)
    c.people.append(DirectoryEntry("uid=new,dc=x", "user", "new", "Aaron New", "new@x"))   # after it began
    later = asyncio.create_task(D.Directory(c).gal())
    await asyncio.sleep(0.01)
    c.generation += 1
    c.gate.set()
    assert (await first)[0].uid != "new"     # its check was answered before the change
    assert (await later)[0].uid == "new"
