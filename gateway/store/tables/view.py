"""A contents table: the rows of one folder, restricted, sorted, read a window at a time.

The folder is brought up to date once when the view opens (its changes only, for a folder indexed
before); after that, counting and reading windows are queries on the state database. When the
restriction and the sort compile onto indexed columns (tables/sql.py), a window costs the window: an
index range read with LIMIT/OFFSET and the overlays of those rows. Otherwise the database narrows
what it can and the remaining candidates are checked and sorted in Python, from their summaries
(never from the backend).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from protocols.mapi import restrictions as R
from protocols.mapi.props import core as P
from protocols.mapi.props.named import NamedProp
from protocols.mapi.types import PropType, change_type

from ..objects import Folder, Item
from ..state.schema import VISIBLE as SHOWN
from .rows import ROW_SELECT, items_for
from .sql import compile_restriction, compile_sort

if TYPE_CHECKING:
    from ..mailbox import Mailbox

_STRINGS = (PropType.String8, PropType.String)


def getter(props: dict):
    """``get(key)`` over an item's properties for evaluate(): a string property asked for with the other
    string type (PT_STRING8 / PT_UNICODE) is the same property."""
    def get(key):
        value = props.get(key)
        if value is None and isinstance(key, int) and (key & 0xFFF) in _STRINGS:
            other = PropType.String if (key & 0xFFF) == PropType.String8 else PropType.String8
            value = props.get(change_type(key, other | (key & 0x3000)))
        return value
    return get


def sort_in_python(items: list, sorts) -> list:
    """The same order compile_sort gives, for keys the index does not hold (items, or folders: anything
    with ``props`` and ``globcnt``)."""
    def cmp(a, b) -> int:
        ga, gb = getter(a.props), getter(b.props)
        for s in sorts:
            va, vb = ga(R.lookup_key(s.tag)), gb(R.lookup_key(s.tag))
            if isinstance(va, (list, tuple)):
                va = va[0] if va else None
            if isinstance(vb, (list, tuple)):
                vb = vb[0] if vb else None
            if va is None or vb is None:
                c = (va is not None) - (vb is not None)          # missing first
            else:
                c = R.compare_values(va, vb) or 0
            if c:
                return -c if s.order == R.ORDER_DESCENDING else c
        last_desc = bool(sorts) and sorts[-1].order == R.ORDER_DESCENDING
        return (a.globcnt > b.globcnt) - (a.globcnt < b.globcnt) if not last_desc else \
            (a.globcnt < b.globcnt) - (a.globcnt > b.globcnt)
    return sorted(items, key=functools.cmp_to_key(cmp))


def _is_mvi(key) -> bool:
    if isinstance(key, NamedProp):
        return bool(key.type & R.MVI_FLAG)
    return isinstance(key, int) and bool(key & R.MVI_FLAG)


def _mv_key(key):
    """The multi-valued property an MVI column names (MS-OXCDATA 2.11.1.1: MultivalueInstance bit)."""
    if isinstance(key, NamedProp):
        return NamedProp(key.guid, lid=key.lid, name=key.name, type=(key.type & ~R.MVI_FLAG) | R.MV_FLAG)
    return R.lookup_key(key)


def expand_instances(items: list[Item], mvi_key) -> list[Item]:
    """One row per value of a multi-valued property (a sort on an MVI column, e.g. categories): each
    row holds that one value, and PidTagInstanceNum numbers the rows of one item; an item without
    values stays one row with the column empty."""
    mv = _mv_key(mvi_key)
    out = []
    for item in items:
        values = item.props.get(mv) or []
        if not values:
            out.append(Item(item.mid, item.globcnt, item.fid, item.kind, item.associated,
                            {**item.props, P.PidTagInstanceNum: 0}))
            continue
        for n, value in enumerate(values):
            props = {**item.props, mv: [value], mvi_key: value, P.PidTagInstanceNum: n}
            out.append(Item(item.mid, item.globcnt, item.fid, item.kind, item.associated, props))
    return out


def keys_only_in_items(restriction, sorts, kinds) -> list:
    """The properties of a restriction and sort keys that rows of these folder kinds ("imap", "dav", ...;
    the gateway's own items are always counted) hold only in their items, never in their summaries."""
    from .fill import only_in_items
    keys: list = []
    R.map_keys(restriction, lambda k: keys.append(k) or k)
    keys += [_mv_key(s.tag) if _is_mvi(s.tag) else R.lookup_key(s.tag) for s in sorts]
    kinds = set(kinds) | {"local"}
    return [k for k in dict.fromkeys(keys) if any(only_in_items(kind, k) for kind in kinds)]


@dataclass
class ContentsView:
    mbx: "Mailbox"
    folder: Folder
    restriction: object = None                      # protocols.mapi.restrictions tree, or None
    sorts: tuple = ()                               # SortOrder, ...
    associated: bool = False
    _cache: list[Item] | None = field(default=None, repr=False)   # the Python-filtered rows, when needed
    scope: tuple = ()                               # a search folder's: the GLOBCNTs of the folders it reads

    def __post_init__(self) -> None:
        self._where = compile_restriction(self.restriction)
        self._order = compile_sort(tuple(self.sorts))

    @property
    def in_database(self) -> bool:
        """Restriction and sort both run in SQL: a window costs the window."""
        return self._where.exact and self._order is not None

    def _base(self) -> tuple[str, tuple]:
        folders = self.scope or (self.folder.globcnt,)
        sql = (f"mailbox_id = ? AND fid IN ({', '.join('?' * len(folders))}) AND associated = ? "
               f"AND ({SHOWN})")
        params: tuple = (self.mbx.mailbox_id, *folders, 1 if self.associated else 0)
        if self._where.sql is not None:
            sql += f" AND {self._where.sql}"
            params += self._where.params
        return sql, params

    def _python_rows(self) -> list[Item]:
        if self._cache is None:
            where, params = self._base()
            order = f" ORDER BY {self._order}" if self._order else ""
            rows = self.mbx.db.all(f"SELECT {ROW_SELECT} FROM messages WHERE {where}{order}", params)
            items = items_for(self.mbx, rows)
            mvi = next((s.tag for s in self.sorts if _is_mvi(s.tag)), None)
            if mvi is not None:
                items = expand_instances(items, mvi)
            if not self._where.exact:
                keep = R.RowFilter(self.restriction)
                items = [i for i in items if keep(getter(i.props))]
            if self._order is None:
                items = sort_in_python(items, tuple(self.sorts))
            self._cache = items
        return self._cache

    def count(self) -> int:
        """Rows in the view (PidTagContentCount of a restricted table, EWS TotalItemsInView)."""
        if not self.in_database:
            return len(self._python_rows())
        where, params = self._base()
        return int(self.mbx.db.one(f"SELECT COUNT(*) FROM messages WHERE {where}", params)[0])

    def rows(self, offset: int, limit: int | None) -> list[Item]:
        """The rows from ``offset`` (0-based), at most ``limit`` of them (None: to the end)."""
        offset = max(0, offset)
        if not self.in_database:
            rows = self._python_rows()
            return rows[offset:] if limit is None else rows[offset:offset + max(0, limit)]
        where, params = self._base()
        sql = f"SELECT {ROW_SELECT} FROM messages WHERE {where} ORDER BY {self._order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += (max(0, limit), offset)
        elif offset:
            sql += " LIMIT -1 OFFSET ?" if self.mbx.db.dialect == "sqlite" else " OFFSET ?"
            params += (offset,)
        return items_for(self.mbx, self.mbx.db.all(sql, params))

    def ordered_ids(self) -> list[int]:
        """The MIDs (GLOBCNT) of the view's rows in order, from the index (no row decoded)."""
        if not self.in_database:
            return [i.globcnt for i in self._python_rows()]
        where, params = self._base()
        return [r[0] for r in self.mbx.db.all(f"SELECT mid FROM messages WHERE {where} ORDER BY {self._order}",
                                              params)]

    def position_of(self, globcnt: int) -> int | None:
        """Where a row is in the view (a bookmark's position), or None if the view does not hold it.
        Reads the MIDs in view order from the index, not the rows."""
        try:
            return self.ordered_ids().index(globcnt)
        except ValueError:
            return None

    # ---- a cursor, as a ROP table keeps one (MS-OXCTABL: BOOKMARK_BEGINNING, _CURRENT, _END)
    position: int = 0

    def seek(self, origin: str, offset: int) -> int:
        """Move the cursor ``offset`` rows from "beginning", "current" or "end"; it stops at either end.
        Returns how many rows it actually moved (RopSeekRow's RowsSought)."""
        total = self.count()
        base = {"beginning": 0, "current": self.position, "end": total}[origin]
        target = min(max(base + offset, 0), total)
        moved = target - base
        self.position = target
        return moved

    def seek_fraction(self, numerator: int, denominator: int) -> None:
        """RopSeekRowApproximate: to numerator/denominator of the way through the view."""
        total = self.count()
        self.position = 0 if denominator <= 0 else min(total, total * max(0, numerator) // denominator)

    def bookmark(self) -> bytes:
        """The row at the cursor, as a bookmark (its MID's GLOBCNT, 8 bytes); b"" past the end."""
        rows = self.rows(self.position, 1)
        return rows[0].globcnt.to_bytes(8, "little") if rows else b""

    def seek_bookmark(self, bookmark: bytes, offset: int = 0) -> tuple[int, bool]:
        """Cursor to the bookmarked row plus ``offset``; (rows moved from the bookmark, row still there).
        A bookmark whose row left the view lands on the row after where it was: here, the same position."""
        found = self.position_of(int.from_bytes(bookmark[:8], "little")) if len(bookmark) >= 8 else None
        if found is None:
            return 0, False
        self.position = found
        return self.seek("current", offset), True

    def query(self, count: int) -> list[Item]:
        """RopQueryRows: up to ``count`` rows from the cursor, forward (backward for a negative count);
        the cursor moves past them."""
        if count >= 0:
            got = self.rows(self.position, count)
            self.position += len(got)
            return got
        start = max(0, self.position + count)
        got = self.rows(start, self.position - start)
        self.position = start
        return list(reversed(got))

    def keys_only_in_items(self) -> list:
        """The restriction's and sort's properties that this view's rows hold only in their items (a body,
        the transport headers ...: tables/fill.py). The view checks rows on their summaries, where such a
        property is always missing: a table on them would be silently wrong, so the caller refuses it."""
        folders = self.scope or (self.folder.globcnt,)
        kinds = {r[0] for r in self.mbx.db.all(
            f"SELECT kind FROM folders WHERE mailbox_id = ? AND fid IN ({', '.join('?' * len(folders))})",
            (self.mbx.mailbox_id, *folders))}
        return keys_only_in_items(self.restriction, self.sorts, kinds)

    async def complete(self, items: list[Item], keys) -> int:
        """Read from the items the ``keys`` (property keys) their rows' summaries lack, for these rows only
        (tables/fill.py); -> how many items were read."""
        from .fill import complete
        return await complete(self.mbx, items, keys, getter)

    def find_row(self, restriction, start: int = 0, *, backward: bool = False) -> int | None:
        """The position of the first row from ``start`` that matches ``restriction`` (RopFindRow)."""
        keep = R.RowFilter(restriction)
        if backward:
            rows = self.rows(0, start + 1)
            for n in range(min(start, len(rows) - 1), -1, -1):
                if keep(getter(rows[n].props)):
                    return n
            return None
        for n, item in enumerate(self.rows(start, None), start):
            if keep(getter(item.props)):
                return n
        return None
