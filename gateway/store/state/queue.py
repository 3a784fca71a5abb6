"""The submission queue's table (outbox_queue): messages in a user's Outbox waiting for the SMTP server.

One row per queued message, keyed by (mailbox, MID GLOBCNT); the message itself stays in IMAP. A row is
taken by a worker with ``claim`` (an UPDATE that only one of several gateways sharing a PostgreSQL state
can win), so a message is tried by one gateway at a time.
"""
from __future__ import annotations

from dataclasses import dataclass

from .db import StateDB


@dataclass(frozen=True)
class Queued:
    mailbox_id: int
    mid: int                  # GLOBCNT of the message (it keeps its MID in the Outbox)
    owner: str                # the mailbox's owner key: its primary SMTP address
    display_name: str | None
    login: str                # the directory login the mailbox is opened as
    save_fid: int | None      # GLOBCNT of the folder the sent copy goes to; None: Sent Items
    queued_at: float          # epoch seconds of the first try
    next_try: float
    attempts: int
    last_error: str | None


_COLS = ("q.mailbox_id, q.mid, m.owner, m.display_name, q.login, q.save_fid, q.queued_at, q.next_try, "
         "q.attempts, q.last_error")


class SubmitQueue:
    def __init__(self, db: StateDB):
        self.db = db

    def add(self, mailbox_id: int, mid: int, *, login: str, save_fid: int | None, queued_at: float,
            next_try: float, reason: str) -> None:
        """Queue a message (again: a second submit of the same message keeps its first try's time)."""
        with self.db.transaction():
            old = self.db.one("SELECT queued_at FROM outbox_queue WHERE mailbox_id = ? AND mid = ?",
                              (mailbox_id, mid))
            if old is not None:
                self.db.execute("UPDATE outbox_queue SET login = ?, save_fid = ?, next_try = ?, last_error = ? "
                                "WHERE mailbox_id = ? AND mid = ?",
                                (login, save_fid, next_try, reason, mailbox_id, mid))
            else:
                self.db.execute("INSERT INTO outbox_queue (mailbox_id, mid, login, save_fid, queued_at, next_try, "
                                "attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                                (mailbox_id, mid, login, save_fid, queued_at, next_try, reason))

    def _rows(self, where: str, params: tuple) -> list[Queued]:
        rows = self.db.all(f"SELECT {_COLS} FROM outbox_queue q JOIN mailboxes m ON m.id = q.mailbox_id "
                           f"{where} ORDER BY q.next_try, q.mailbox_id, q.mid", params)
        return [Queued(int(r[0]), int(r[1]), r[2], r[3], r[4], None if r[5] is None else int(r[5]), float(r[6]),
                       float(r[7]), int(r[8]), r[9]) for r in rows]

    def all(self) -> list[Queued]:
        return self._rows("", ())

    def for_mailbox(self, mailbox_id: int) -> list[Queued]:
        return self._rows("WHERE q.mailbox_id = ?", (mailbox_id,))

    def get(self, mailbox_id: int, mid: int) -> Queued | None:
        rows = self._rows("WHERE q.mailbox_id = ? AND q.mid = ?", (mailbox_id, mid))
        return rows[0] if rows else None

    def due(self, now: float, limit: int = 50) -> list[Queued]:
        return self._rows("WHERE q.next_try <= ?", (now,))[:limit]

    def next_due(self) -> float | None:
        row = self.db.one("SELECT MIN(next_try) FROM outbox_queue", ())
        return None if row is None or row[0] is None else float(row[0])

    def claim(self, q: Queued, until: float) -> bool:
        """Take a due row for a try (its next_try moves to ``until``); False when another worker took it."""
        return self.db.execute("UPDATE outbox_queue SET next_try = ? WHERE mailbox_id = ? AND mid = ? "
                               "AND next_try = ?", (until, q.mailbox_id, q.mid, q.next_try)) == 1

    def reschedule(self, q: Queued, next_try: float, reason: str | None) -> None:
        self.db.execute("UPDATE outbox_queue SET next_try = ?, attempts = attempts + 1, last_error = ? "
                        "WHERE mailbox_id = ? AND mid = ?", (next_try, reason, q.mailbox_id, q.mid))

    def remove(self, mailbox_id: int, mid: int) -> None:
        self.db.execute("DELETE FROM outbox_queue WHERE mailbox_id = ? AND mid = ?", (mailbox_id, mid))
