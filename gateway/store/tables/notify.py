"""Table notifications (MS-OXCNOTIF 2.2.1.4 TableRowAdded/Modified/Deleted): what a mailbox event
means for one open table. The events come from the store's classifier (gateway/store/events.py), so
EWS and MAPI hear of the same changes; this says which row of which view they touch, and after which
row an added or modified row now sits (the client inserts it there)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import events as ev

ROW_ADDED, ROW_MODIFIED, ROW_DELETED = "row_added", "row_modified", "row_deleted"


@dataclass(frozen=True)
class TableEvent:
    kind: str                   # ROW_ADDED, ROW_MODIFIED, ROW_DELETED
    globcnt: int                # the row's item
    after: int | None = None    # the item of the row before it in the view now (None: it is first)


def table_events(view, events) -> list[TableEvent]:
    """The table events of a ContentsView for a batch of MailboxEvents (its restriction and order as
    they are now: a change that takes a row out of the restriction is a deletion, into it an addition)."""
    ident = view.mbx.ident
    fid = view.folder.fid
    out: list[TableEvent] = []
    order: list[int] | None = None
    for e in events:
        if e.is_folder or e.mid is None or e.kind == ev.NEW_MAIL:
            continue                    # NEW_MAIL comes with the item's CREATED: one row, one event
        g = ident.globcnt_of(e.mid)
        here_now = e.parent_fid == fid and e.kind != ev.DELETED
        was_here = e.parent_fid == fid or e.old_parent_fid == fid
        if not here_now:
            if was_here:
                out.append(TableEvent(ROW_DELETED, g))
            continue
        if order is None:
            order = view.ordered_ids()
        try:
            n = order.index(g)
        except ValueError:
            if e.kind in (ev.MODIFIED, ev.MOVED) and was_here:
                out.append(TableEvent(ROW_DELETED, g))   # no longer matches the restriction
            continue
        after = order[n - 1] if n else None
        added = e.kind in (ev.CREATED, ev.COPIED) or (e.kind == ev.MOVED and e.old_parent_fid != fid)
        out.append(TableEvent(ROW_ADDED if added else ROW_MODIFIED, g, after))
    return out
