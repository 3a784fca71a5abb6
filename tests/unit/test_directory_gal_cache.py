"""The store's GAL snapshot (gateway/store/directory.py Directory.gal): read again only when the directory's
change marker moves, or, for callers that allow it (NSPI's later QueryRows pages), kept up to max_age without
asking; one snapshot per directory client whichever facade asks."""
from __future__ import annotations

from gateway.backends.base import DirectoryEntry
from gateway.store import directory as D


class Client:
    def __init__(self, marker=True):
        self.people = [DirectoryEntry(f"uid=u{i},dc=x", "user", f"u{i}", f"Person {i}", f"u{i}@x") for i in range(3)]
        self.reads = self.probes = 0
        self.generation = 1
        if not marker:
            self.change_marker = None

    async def list_all(self, kinds):
        self.reads += 1
        return list(self.people)

    async def change_marker(self, kinds):
        self.probes += 1
        return self.generation


async def test_snapshot_kept_while_the_marker_stays():
    c = Client()
    first = await D.Directory(c).gal()
    again = await D.Directory(c).gal()              # a new facade per request, as the gateway makes them
    assert again is first and c.reads == 1 and c.probes == 2
    c.people.append(DirectoryEntry("uid=new,dc=x", "user", "new", "Aaron New", "new@x"))
    c.generation += 1
    changed = await D.Directory(c).gal()
    assert c.reads == 2 and changed[0].uid == "new"
    # max_age: no question to the directory while the snapshot was checked that recently
    probes = c.probes
    assert await D.Directory(c).gal(max_age=60) is changed and c.probes == probes
    assert D.gal_cache(c).reads == 2


async def test_without_a_marker_every_plain_call_reads():
    c = Client(marker=False)                        # change_marker None: a client that cannot tell
    a = await D.Directory(c).gal()
    b = await D.Directory(c).gal()
    assert c.reads == 2 and a == b and a is not b
    assert await D.Directory(c).gal(max_age=60) is b and c.reads == 2
