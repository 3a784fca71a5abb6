"""Per-mailbox LRUs of row data (the decoded rows of tables/rows.py, the columns tables/fill.py read from
messages), kept on the mailbox object and keyed (globcnt, change number, ...)."""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..mailbox import Mailbox


def mailbox_lru(mbx: "Mailbox", attr: str) -> OrderedDict:
    """A per-mailbox LRU of row data kept on the mailbox under ``attr``, keyed (globcnt, change number, ...)."""
    cache = getattr(mbx, attr, None)
    if cache is None:
        cache = OrderedDict()
        setattr(mbx, attr, cache)
    return cache


def drop_row(mbx: "Mailbox", attr: str, globcnt: int) -> None:
    """Every entry of that LRU for one row (its overlay changed without a new change number)."""
    cache = getattr(mbx, attr, None)
    if cache:
        for key in [k for k in cache if k[0] == globcnt]:
            del cache[key]
