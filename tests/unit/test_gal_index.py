"""gateway/store/gal_index.py: the lookups NSPI SeekEntries and ResolveNames make over a GAL snapshot give what
a scan of the snapshot with the Directory's matching rules gives, and the index is built once per snapshot."""
from __future__ import annotations

import random

from gateway.backends.base import DirectoryEntry
from gateway.store import directory as D
from gateway.store.gal_index import GalIndex

GIVEN = ("Ada", "Ben", "Ærin", "Straße", "Zoë", "ada", "Eve Marie", "Ö")
SURNAMES = ("Adler", "Berg", "Groß", "ÖZTÜRK", "van der Berg", "Lund")


def people(n: int = 300, seed: int = 7) -> list[DirectoryEntry]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        given, sn = rnd.choice(GIVEN), rnd.choice(SURNAMES)
        uid = f"u{i:03d}" if i % 17 else None                     # some entries have no uid (groups, contacts)
        kind = "group" if i % 29 == 0 else "user"
        attrs = {"givenName": [given], "sn": [sn], "cn": [f"{given} {sn}"]}
        if i % 5 == 0:
            attrs["mailAlternateAddress"] = [f"alt{i}@Example.TEST", f"{given.lower()}@example.test"]
        name = f"{given} {sn}" if i % 3 else f"{given} {sn} {i}"     # many display names are shared
        mail = f"{(uid or 'g' + str(i))}@example.test" if i % 11 else None
        out.append(DirectoryEntry(f"uid={uid or i},dc=x", kind, uid, name if i % 41 else None, mail, attrs))
    return sorted(out, key=lambda e: ((e.display_name or "").casefold(), D.Directory.legacy_dn(e).lower()))


def scan_resolve(entries, text):
    """book.resolve's steps before the index: a whole address, then an exact name or alias, then prefixes."""
    low = text.casefold()
    addr = low[5:] if low.startswith("smtp:") else low
    exact = [e for e in entries if any(a.casefold() == addr for a in D.Directory.addresses(e))]
    if exact or "@" in addr:
        return exact
    exact = [e for e in entries if low in ((e.display_name or "").casefold(), D.Directory.alias(e).casefold())]
    return exact or [e for e in entries if D.Directory.matches_name(e, text)]


def index_resolve(ix, text):
    low = text.casefold()
    addr = low[5:] if low.startswith("smtp:") else low
    exact = ix.with_address(addr)
    if exact or "@" in addr:
        return exact
    return ix.named(low) or ix.prefixed(text)


def test_lookups_equal_a_scan():
    entries = people()
    ix = GalIndex(entries, D.Directory.addresses, D.Directory.alias)
    words = {w for e in entries for w in ((e.display_name or "").split() + [e.uid or "", e.email or ""]) if w}
    probes = sorted(words) + [w[:k] for w in sorted(words) for k in (1, 2, 4)]
    probes += ["SMTP:alt10@example.test", "smtp:ada@example.test", "ALT5@EXAMPLE.TEST", "nobody", "van der",
               "STRASSE", "straße", "groß", "Ö", "zoë adler", "u", "alt", "smtp:u001", "ærin"]
    for text in probes:
        assert index_resolve(ix, text) == scan_resolve(entries, text), text
    for text in probes + ["", "zzz", "a", "ZOË", "\uffff"]:
        scan = next((i for i, e in enumerate(entries) if (e.display_name or "").casefold() >= text.casefold()),
                    len(entries))
        assert ix.seek(text) == scan, text
    assert [ix.position[id(e)] for e in entries] == list(range(len(entries)))


class Client:
    def __init__(self):
        self.people = people(50)
        self.generation = 1

    async def list_all(self, kinds):
        return list(self.people)

    async def change_marker(self, kinds):
        return self.generation


async def test_one_index_per_snapshot():
    c = Client()
    gal = await D.Directory(c).gal()
    ix = D.Directory(c).gal_index(gal)
    assert D.Directory(c).gal_index(gal) is ix                   # shared by every facade (and session)
    c.generation += 1
    new = await D.Directory(c).gal()
    assert new is not gal and D.Directory(c).gal_index(new) is not ix
    assert D.Directory(c).gal_index(gal) is not D.Directory(c).gal_index(gal)   # an old list: not kept
