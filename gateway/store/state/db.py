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

from .schema import schema_statements

# 1: the first schema; 2: outbox_queue (sends waiting for the SMTP server, gateway/store/outbox.py).
# New tables are created by migrate() on an older database (CREATE ... IF NOT EXISTS); the version says
# which schema the file was last brought up to.
SCHEMA_VERSION = 2


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
        self._conn.close()

    def migrate(self) -> None:
        with self.transaction():
            for stmt in schema_statements(self.dialect):
                self._raw_execute(stmt, ())
            row = self.one("SELECT value FROM meta WHERE key = ?", ("schema_version",))
            if row is None:
                self.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ("schema_version", str(SCHEMA_VERSION)))
            elif int(row[0]) < SCHEMA_VERSION:
                self.execute("UPDATE meta SET value = ? WHERE key = ?", (str(SCHEMA_VERSION), "schema_version"))

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

    @staticmethod
    def blob(value: bytes | None):
        return value if value is None else bytes(value)
