"""Read-only questions on the id map's message and folder rows that the change feed and the
calendar need: where each item is, per-folder counts, a folder's container class.

GLOBCNTs in, GLOBCNTs out; Mailbox turns them into FIDs/MIDs."""
from __future__ import annotations

from .db import StateDB
from .schema import UNREAD, VISIBLE


def item_locations(db: StateDB, mailbox_id: int) -> list[tuple[int, int]]:
    """(MID GLOBCNT, FID GLOBCNT) of every normal (not associated) item."""
    return [(mid, fid) for mid, fid in db.all(
        "SELECT mid, fid FROM messages WHERE mailbox_id = ? AND associated = 0", (mailbox_id,))]


def item_counts(db: StateDB, mailbox_id: int, fid: int | None = None) -> list[tuple[int, int, int]]:
    """(FID GLOBCNT, items, unread mail) per folder as the id map holds them; one folder with ``fid``.
    One folder's counts (asked after every change batch) read two partial indexes: the folder's visible
    rows and its unread mail (schema INDEX_INDEXES), not the rows themselves."""
    if fid is not None:
        total = db.one(f"SELECT COUNT(*) FROM messages WHERE mailbox_id = ? AND fid = ? AND associated = 0 "
                       f"AND ({VISIBLE})", (mailbox_id, fid))[0] or 0
        table = "messages INDEXED BY messages_unread" if db.dialect == "sqlite" else "messages"  # no statistics
        unread = db.one(f"SELECT COUNT(*) FROM {table} WHERE mailbox_id = ? AND fid = ? AND {UNREAD}",
                        (mailbox_id, fid))[0] or 0
        return [(fid, total, unread)] if total else []
    rows = db.all(
        "SELECT fid, COUNT(*), SUM(CASE WHEN kind = 'imap' AND (flags IS NULL OR LOWER(flags) NOT LIKE ?) "
        "THEN 1 ELSE 0 END) FROM messages WHERE mailbox_id = ? AND associated = 0 GROUP BY fid",
        ("%seen%", mailbox_id))
    return [(g, total or 0, unread or 0) for g, total, unread in rows]


def container_class(db: StateDB, mailbox_id: int, fid: int) -> tuple[bool, str | None]:
    """(the folder row exists, its container class)."""
    row = db.one("SELECT container_class FROM folders WHERE mailbox_id = ? AND fid = ?", (mailbox_id, fid))
    return (row is not None, row[0] if row else None)
