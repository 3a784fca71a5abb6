"""The state database: SQLite file by default, PostgreSQL when a DSN is given.

Everything the backends cannot hold lives here: the id maps (FID/MID <->
IMAP mailbox+UIDVALIDITY+UID or DAV href), change numbers, the named-property
map, properties and whole items that only exist in the gateway (FAI messages,
Notes, Journal, system folders).

Calls are synchronous DB-API: on SQLite (local file) and on a loopback
PostgreSQL each statement costs well under a millisecond, so the store calls
them inline from the event loop. The dialect differences are confined here.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from .schema import INDEX_COLUMNS, INDEX_INDEXES, UNIQUE_INDEXES, schema_statements

# 1: the first schema; 2: outbox_queue (sends waiting for the SMTP server, gateway/store/outbox.py);
# 3: one live row per backend identity (UNIQUE_INDEXES; duplicates of an older file are tombstoned first);
# 4: the contents-table index (INDEX_COLUMNS, folders.indexed_at); a file without one of the columns gets it
#    on open (whatever its version) and its folders are indexed afresh.
# New tables are created by migrate() on an older database (CREATE ... IF NOT EXISTS); the version says
# which schema the file was last brought up to.
SCHEMA_VERSION = 4

# Duplicate rows of one backend identity: every row but the lowest MID of its group.
_DUPLICATES = (
    "SELECT m.mailbox_id, m.fid, m.mid, m.associated FROM messages m WHERE (m.uid IS NOT NULL AND EXISTS ("
    "SELECT 1 FROM messages o WHERE o.mailbox_id = m.mailbox_id AND o.fid = m.fid AND o.uidvalidity = m.uidvalidity "
    "AND o.uid = m.uid AND o.mid < m.mid)) OR (m.href IS NOT NULL AND EXISTS (SELECT 1 FROM messages o "
    "WHERE o.mailbox_id = m.mailbox_id AND o.href = m.href AND o.mid < m.mid)) ORDER BY m.mailbox_id, m.mid"
)


def is_unique_violation(exc: BaseException) -> bool:
    """A UNIQUE (or primary key) constraint refused the statement, on either dialect."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE constraint failed" in str(exc)
    return getattr(exc, "sqlstate", None) == "23505"  # psycopg: unique_violation


class StateDB:
    """A thin dialect layer: ``?`` placeholders everywhere, translated for psycopg."""

    def __init__(self, conn, dialect: str):
        self._conn = conn
        self.dialect = dialect
        self._lock = threading.RLock()
        self._in_tx = 0

    # -- opening -------------------------------------------------------
    @classmethod
    def open(cls, target: str | Path) -> "StateDB":
        """``postgresql://...`` / ``postgres://...`` -> PostgreSQL; anything else is a SQLite path."""
        target = str(target)
        if target.startswith(("postgresql://", "postgres://")) or target.startswith("host="):
            import psycopg  # optional dependency: exgate[postgres]

            conn = psycopg.connect(target, autocommit=True)
            db = cls(conn, "postgres")
            db._target = target
        else:
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            db = cls(conn, "sqlite")
        db.migrate()
        return db

    def close(self) -> None:
        if getattr(self, "_side", None) is not None:
            self._side.close()
        self._conn.close()

    def migrate(self) -> None:
        with self.transaction():
            for stmt in schema_statements(self.dialect):
                self._raw_execute(stmt, ())
            row = self.one("SELECT value FROM meta WHERE key = ?", ("schema_version",))
            if row is not None and int(row[0]) < 3:
                self.remove_duplicate_messages()
            for stmt in UNIQUE_INDEXES:
                self._raw_execute(stmt, ())
            if row is not None:
                # an index column this file does not have yet: added, and every folder indexed afresh
                # (IMAP summaries fetched again; DAV and the gateway's own rows recomputed from theirs)
                have = self._columns("messages")
                missing = [(name, typ) for name, typ in INDEX_COLUMNS if name not in have]
                for name, typ in missing:
                    self._raw_execute(f"ALTER TABLE messages ADD COLUMN {name} {typ}", ())
                if "indexed_at" not in self._columns("folders"):
                    self._raw_execute("ALTER TABLE folders ADD COLUMN indexed_at DOUBLE PRECISION", ())
                if missing:
                    self._raw_execute("UPDATE folders SET indexed_at = NULL", ())
            for stmt in INDEX_INDEXES:
                self._raw_execute(stmt, ())
            if row is None:
                self.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ("schema_version", str(SCHEMA_VERSION)))
            elif int(row[0]) < SCHEMA_VERSION:
                self.execute("UPDATE meta SET value = ? WHERE key = ?", (str(SCHEMA_VERSION), "schema_version"))

    def _columns(self, table: str) -> set[str]:
        if self.dialect == "postgres":
            return {r[0] for r in self.all("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                           "AND table_schema = current_schema()", (table,))}
        return {r[1] for r in self.all(f"PRAGMA table_info({table})")}

    def remove_duplicate_messages(self) -> int:
        """Version 3: concurrent syncs of older versions gave one IMAP UID or DAV href several rows. The
        lowest MID stays; the others are tombstoned under a new change number, so an incremental sync
        (ICS, SyncFolderItems) reports them deleted. Returns how many rows went."""
        gone = 0
        with self.transaction():
            for mailbox_id, fid, mid, associated in self.all(_DUPLICATES):
                self.execute("DELETE FROM messages WHERE mailbox_id = ? AND mid = ?", (mailbox_id, mid))
                self.execute("DELETE FROM props WHERE mailbox_id = ? AND obj_kind = 'm' AND obj_id = ?",
                             (mailbox_id, mid))
                self.execute("DELETE FROM local_content WHERE mailbox_id = ? AND mid = ?", (mailbox_id, mid))
                self.execute("UPDATE folders SET counted_at = NULL WHERE mailbox_id = ? AND fid = ?",
                             (mailbox_id, fid))
                if not associated:
                    # a change number from the mailbox's counter, as ids.Counter hands them out
                    end = self.one("UPDATE mailboxes SET next_globcnt = next_globcnt + 1 WHERE id = ? "
                                   "RETURNING next_globcnt", (mailbox_id,))[0]
                    self.execute("DELETE FROM tombstones WHERE mailbox_id = ? AND fid = ? AND mid = ?",
                                 (mailbox_id, fid, mid))
                    self.execute("INSERT INTO tombstones (mailbox_id, fid, mid, cn) VALUES (?, ?, ?, ?)",
                                 (mailbox_id, fid, mid, int(end) - 1))
                gone += 1
        return gone

    # -- statements ----------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def _raw_execute(self, sql: str, params: Sequence[Any]):
        cur = self._conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            cur = self._raw_execute(sql, params)
            return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._lock:
            cur = self._conn.cursor()
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            cur = self._raw_execute(sql, params)
            return [tuple(r) for r in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        with self._lock:
            cur = self._raw_execute(sql, params)
            row = cur.fetchone()
            return tuple(row) if row is not None else None

    def one_committed(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        """A statement that commits at once even inside a transaction (the id counter's reservations).
        On PostgreSQL it runs on a second connection: inside a long transaction (a folder sync) the
        counter's row lock would be held to its end, and two gateways syncing one folder would wait for
        each other (one on the row lock, the other on a message row it inserted); a rollback would also
        hand out the reserved ids a second time. SQLite has one writer anyway: the statement runs inline."""
        target = getattr(self, "_target", None)
        if self.dialect != "postgres" or not self._in_tx or target is None:
            return self.one(sql, params)
        with self._lock:
            if getattr(self, "_side", None) is None:
                import psycopg

                self._side = psycopg.connect(target, autocommit=True)
            cur = self._side.cursor()
            cur.execute(self._sql(sql), tuple(params))
            row = cur.fetchone()
            if row is None:  # a row this transaction wrote and has not committed yet (a new mailbox)
                return self.one(sql, params)
            return tuple(row)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nested calls join the outer transaction."""
        with self._lock:
            if self._in_tx:
                self._in_tx += 1
                try:
                    yield
                finally:
                    self._in_tx -= 1
                return
            self._raw_execute("BEGIN", ())
            self._in_tx = 1
            try:
                yield
            except BaseException:
                self._in_tx = 0
                self._raw_execute("ROLLBACK", ())
                raise
            else:
                self._in_tx = 0
                self._raw_execute("COMMIT", ())

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A statement group that can fail alone: inside a transaction a SAVEPOINT (PostgreSQL aborts the
        whole transaction on an error otherwise), outside one a transaction of its own."""
        with self._lock:
            if not self._in_tx:
                with self.transaction():
                    yield
                return
            self._sp = getattr(self, "_sp", 0) + 1
            name = f"sp{self._sp}"
            self._raw_execute(f"SAVEPOINT {name}", ())
            try:
                yield
            except BaseException:
                self._raw_execute(f"ROLLBACK TO SAVEPOINT {name}", ())
                self._raw_execute(f"RELEASE SAVEPOINT {name}", ())
                raise
            else:
                self._raw_execute(f"RELEASE SAVEPOINT {name}", ())

    @staticmethod
    def blob(value: bytes | None):
        return value if value is None else bytes(value)
