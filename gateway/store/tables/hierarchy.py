"""Hierarchy tables: the folders under a folder (its children, or all descendants with their depth),
restricted and sorted like a contents table (EWS FindFolder, the ROP hierarchy table). A mailbox has
tens or hundreds of folders, so the rows are the folder rows the store holds, checked in Python."""
from __future__ import annotations

from dataclasses import dataclass

from protocols.mapi import restrictions as R
from protocols.mapi.props import core as P

from ..objects import Folder
from .view import getter, sort_in_python


@dataclass
class HierarchyView:
    folders: list[Folder]        # in the store's order (parents before their children when deep)

    @classmethod
    def of(cls, folders: list[Folder], restriction=None, sorts=()) -> "HierarchyView":
        keep = R.RowFilter(restriction)
        rows = [f for f in folders if keep(getter(f.props))]
        if sorts:
            rows = sort_in_python(rows, tuple(sorts))
        return cls(rows)

    def count(self) -> int:
        return len(self.folders)

    def rows(self, offset: int, limit: int | None) -> list[Folder]:
        offset = max(0, offset)
        return self.folders[offset:] if limit is None else self.folders[offset:offset + max(0, limit)]


async def descendants(mbx, fid: int, deep: bool, depth: int = 0) -> list[Folder]:
    """The folders under ``fid``: children only, or every descendant right after its parent; each with
    PidTagDepth (0 for a child of ``fid``)."""
    out = []
    for child in await mbx.child_folders(fid):
        child.props[P.PidTagDepth] = depth
        out.append(child)
        if deep:
            out.extend(await descendants(mbx, child.fid, deep, depth + 1))
    return out
