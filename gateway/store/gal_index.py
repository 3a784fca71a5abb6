"""Lookups over one GAL snapshot without scanning it: where a display name sorts (NSPI SeekEntries) and
ambiguous name resolution (NSPI ResolveNames), answered from dicts and a sorted word list built once per
snapshot (``Directory.gal_index``) and shared by every session that reads that snapshot.

The answers are the ones a scan of the snapshot with ``Directory.addresses`` / ``Directory.alias`` /
``Directory.matches_name`` gives, in GAL order; tests/unit/test_gal_index.py compares the two.
"""
from __future__ import annotations

import sys
from bisect import bisect_left
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from .directory import Person


def _fold(text: str) -> str:
    """``text.casefold()``, the same object when folding changes nothing (most addresses and logins), else one
    shared copy (given names, surnames and departments repeat across a GAL): the index holds few new strings."""
    folded = text.casefold()
    return text if folded == text else sys.intern(folded)


def _add(index: dict, key: str, row: int) -> None:
    """A row under a key: the int alone while it is the only one (most keys), a list after."""
    got = index.get(key)
    if got is None:
        index[key] = row
    elif isinstance(got, int):
        index[key] = [got, row]
    else:
        got.append(row)


class GalIndex:
    def __init__(self, entries: Sequence["Person"], addresses: Callable[["Person"], list[str]],
                 alias: Callable[["Person"], str]) -> None:
        """``addresses`` and ``alias``: Directory.addresses and Directory.alias (passed in: directory.py
        imports this module)."""
        self.entries = entries
        self.position: dict[int, int] = {}            # id(entry) -> its row in the GAL
        # the GAL is sorted by casefolded display name first (Directory.gal), so these keys are sorted too
        self.name_keys: list[str] = []
        self.by_address: dict[str, int | list[int]] = {}    # casefolded SMTP address -> row(s)
        self.by_name: dict[str, int | list[int]] = {}       # casefolded display name or alias -> row(s)
        words: list[tuple[str, int]] = []             # (casefolded word, row): Directory.matches_name's words
        for i, e in enumerate(entries):
            self.position[id(e)] = i
            name = e.display_name or ""
            self.name_keys.append(_fold(name))
            mail = addresses(e)
            nick = alias(e)
            for a in {_fold(a) for a in mail}:
                _add(self.by_address, a, i)
            for n in {_fold(name), _fold(nick)}:
                _add(self.by_name, n, i)
            mine = [name] + name.split() + [nick, e.uid or ""] + mail
            mine += [v for k, vs in e.attributes.items() if k.lower() in ("givenname", "sn", "cn") for v in vs]
            words += ((w, i) for w in {_fold(w) for w in mine if w})
        words.sort()
        self.words = [w for w, _ in words]
        self.word_rows = [i for _, i in words]

    def seek(self, name: str) -> int:
        """The first row whose display name (without case) sorts at or after ``name``; len(entries) if none."""
        return bisect_left(self.name_keys, name.casefold())

    def _rows(self, rows) -> list["Person"]:
        if isinstance(rows, int):
            return [self.entries[rows]]
        return [self.entries[i] for i in sorted(set(rows))]

    def with_address(self, address: str) -> list["Person"]:
        """Entries with that SMTP address (without case)."""
        return self._rows(self.by_address.get(address.casefold(), ()))

    def named(self, name: str) -> list["Person"]:
        """Entries whose display name or alias is ``name`` (without case)."""
        return self._rows(self.by_name.get(name.casefold(), ()))

    def prefixed(self, text: str) -> list["Person"]:
        """``Directory.matches_name`` over the GAL: entries one of whose name words begins with ``text``."""
        t = text.strip().casefold()
        if not t:
            return []
        if t.startswith("smtp:"):
            return self.with_address(t[5:])
        start = bisect_left(self.words, t)
        end = start
        while end < len(self.words) and self.words[end].startswith(t):
            end += 1
        return self._rows(self.word_rows[start:end])
