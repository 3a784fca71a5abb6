"""Categorized contents tables (MS-OXCTABL 3.2.5.3 RopSortTable with CCategories; RopExpandRow,
RopCollapseRow): the first N sort keys group the rows, each group shows as a header row, and a header
may be expanded (its members follow it) or collapsed.

The grouping reads only what it needs from the index: each row's MID, its category keys and its read
flag, in view order (one column query, no summaries decoded). The rows of a window are then made
from that outline: header rows from the outline and one member's values, leaf rows decoded as in any
view. Categories on a property the index does not keep use the view's rows instead.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from protocols.mapi import restrictions as R
from protocols.mapi.props import core as P

from ..objects import Item
from .columns import column_of
from .rows import read_rows
from .view import ContentsView, getter


@dataclass
class _Header:
    depth: int
    path: tuple                     # category keys from the top down to this header
    members: list[int]              # leaf MIDs (globcnt) under it, in view order
    unread: int
    key: bytes = b""                # PidTagInstanceKey
    expanded: bool = True


@dataclass
class CategorizedView:
    view: ContentsView
    categories: int                                  # the first sorts that group (1..)
    expanded: int                                    # of those, how many levels start expanded
    _collapsed: set = field(default_factory=set)     # header paths the client collapsed
    position: int = 0                                # the cursor, as a ROP table keeps one
    _opened: set = field(default_factory=set)        # header paths the client expanded below `expanded`
    _outline: list | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.categories = max(1, min(self.categories, len(self.view.sorts)))
        self.expanded = max(0, min(self.expanded, self.categories))

    # ---- what each row is grouped by
    def _keyed_rows(self) -> list[tuple[int, tuple, bool]]:
        """(MID, category keys, read) of every row, in view order."""
        cats = self.view.sorts[:self.categories]
        cols = [column_of(R.lookup_key(s.tag)) for s in cats]
        if self.view.in_database and all(cols):
            where, params = self.view._base()
            names = ", ".join(c[0] for c in cols)
            return [(r[0], tuple(r[1:-1]), bool((r[-1] or 0) & P.MSGFLAG_READ)) for r in self.view.mbx.db.all(
                f"SELECT mid, {names}, i_flags FROM messages WHERE {where} ORDER BY {self.view._order}", params)]
        out = []
        for item in self.view.rows(0, None):
            get = getter(item.props)
            keys = tuple(_key(get(R.lookup_key(s.tag))) for s in cats)
            out.append((item.globcnt, keys, bool((item.props.get(P.PidTagMessageFlags) or 0) & P.MSGFLAG_READ)))
        return out

    def _build(self) -> list:
        """The outline: headers (with their members) at each level, in view order."""
        if self._outline is not None:
            return self._outline
        outline: list[_Header] = []
        open_at: list[_Header | None] = [None] * self.categories
        for mid, keys, read in self._keyed_rows():
            for depth in range(self.categories):
                path = keys[:depth + 1]
                head = open_at[depth]
                if head is None or head.path != path:
                    head = _Header(depth, path, [], 0)
                    head.key = _instance_key(path)
                    head.expanded = path in self._opened or (depth < self.expanded and path not in self._collapsed)
                    outline.append(head)
                    open_at[depth] = head
                    for deeper in range(depth + 1, self.categories):
                        open_at[deeper] = None
                head.members.append(mid)
                head.unread += not read
        self._outline = outline
        return outline

    def _visible(self) -> list[tuple[str, object]]:
        """("header", _Header) and ("leaf", mid) in display order, collapsed parts left out."""
        out: list[tuple[str, object]] = []
        hidden_below: int | None = None
        deepest = self.categories - 1
        for head in self._build():
            if hidden_below is not None and head.depth > hidden_below:
                continue
            hidden_below = None
            out.append(("header", head))
            if not head.expanded:
                hidden_below = head.depth
                continue
            if head.depth == deepest:
                out.extend(("leaf", m) for m in head.members)
        return out

    # ---- the table
    def count(self) -> int:
        return len(self._visible())

    def rows(self, offset: int, limit: int | None) -> list[Item]:
        visible = self._visible()
        window = visible[max(0, offset):] if limit is None else visible[max(0, offset):max(0, offset) + limit]
        leaves = {i.globcnt: i for i in read_rows(self.view.mbx, [m for kind, m in window if kind == "leaf"])}
        firsts = {h.members[0] for kind, h in window if kind == "header"}
        samples = {i.globcnt: i for i in read_rows(self.view.mbx, list(firsts))}
        out: list[Item] = []
        for kind, thing in window:
            if kind == "leaf":
                item = leaves.get(thing)
                if item is None:
                    continue
                item.props.update({P.PidTagRowType: P.TBL_LEAF_ROW, P.PidTagDepth: self.categories,
                                   P.PidTagInstanceKey: thing.to_bytes(8, "little")})
                out.append(item)
            else:
                out.append(self._header_item(thing, samples.get(thing.members[0])))
        return out

    async def complete(self, items: list[Item], keys) -> int:
        """The leaf rows' columns their summaries lack (header rows keep their category values)."""
        return await self.view.complete(items, keys)

    def _header_item(self, head: _Header, sample: Item | None) -> Item:
        props = {P.PidTagRowType: P.TBL_EXPANDED_CATEGORY if head.expanded else P.TBL_COLLAPSED_CATEGORY,
                 P.PidTagDepth: head.depth, P.PidTagInstanceKey: head.key,
                 P.PidTagContentCount: len(head.members), P.PidTagContentUnreadCount: head.unread}
        if sample is not None:
            # the header shows its category columns as its first member has them
            for s in self.view.sorts[:head.depth + 1]:
                value = getter(sample.props)(R.lookup_key(s.tag))
                if value is not None:
                    props[R.lookup_key(s.tag)] = value
        return Item(0, 0, self.view.folder.fid, "category", False, props)

    def index_of(self, key: bytes) -> int | None:
        """Where a header row is among the visible rows (from the outline; no row decoded)."""
        for n, (kind, thing) in enumerate(self._visible()):
            if kind == "header" and thing.key == key:
                return n
        return None

    def _find(self, key: bytes) -> _Header | None:
        return next((h for h in self._build() if h.key == key), None)

    def expand(self, key: bytes) -> int | None:
        """RopExpandRow: how many rows the header's expansion added to the view (None: no such header)."""
        head = self._find(key)
        if head is None:
            return None
        if head.expanded:
            return 0
        before = self.count()
        head.expanded = True
        self._collapsed.discard(head.path)
        self._opened.add(head.path)
        return self.count() - before

    def collapse(self, key: bytes) -> int | None:
        """RopCollapseRow: how many rows left the view (None: no such header)."""
        head = self._find(key)
        if head is None:
            return None
        if not head.expanded:
            return 0
        before = self.count()
        head.expanded = False
        self._collapsed.add(head.path)
        self._opened.discard(head.path)
        return before - self.count()

    def state(self) -> bytes:
        """RopGetCollapseState: the collapsed headers, to be given back to set_state later."""
        return b"".join(_instance_key(p) for p in sorted(self._collapsed, key=repr))

    def set_state(self, state: bytes) -> None:
        """RopSetCollapseState: collapse again the headers a state names (others as the view starts)."""
        keys = {state[i:i + 8] for i in range(0, len(state) - 7, 8)}
        self._outline, self._collapsed, self._opened = None, set(), set()
        self._collapsed = {h.path for h in self._build() if h.key in keys}
        self._outline = None


def _key(value):
    """A category key: text without case (as the index keeps it), the first value of a multi-valued one."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value.casefold() if isinstance(value, str) else value


def _instance_key(path: tuple) -> bytes:
    """A header's PidTagInstanceKey: 8 bytes from its category path, the same in every view over it."""
    return hashlib.blake2b(repr(path).encode(), digest_size=8).digest()
