"""Named locks across the processes sharing one PostgreSQL state database (advisory locks).

``ProcessLocks(db).hold(name)`` is a context manager that yields True when this process got the lock
(``pg_try_advisory_lock``, never waiting) and False when another process holds it. The locks are taken
on a dedicated connection of this process: the state database's own connection is shared by every
request of the worker, and a lock must outlive no request but the one job that took it. A process that
dies loses its connection and with it its locks, so nothing is left locked by a crash.

On SQLite (one process per state file) every lock is granted.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from typing import AsyncIterator, Iterator

log = logging.getLogger(__name__)


class ProcessLocks:
    def __init__(self, db):
        self.db = db
        self._conn = None
        self._mutex = threading.Lock()

    def _connection(self):
        if self._conn is None or self._conn.closed:
            import psycopg
            self._conn = psycopg.connect(self.db._target, autocommit=True)
        return self._conn

    def _call(self, fn: str, name: str) -> bool:
        with self._mutex:
            row = self._connection().execute(f"SELECT {fn}(hashtextextended(%s, 0))", (name,)).fetchone()
            return bool(row[0])

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        if self.db.dialect != "postgres" or getattr(self.db, "_target", None) is None:
            yield True
            return
        got = self._call("pg_try_advisory_lock", name)
        try:
            yield got
        finally:
            if got:
                try:
                    self._call("pg_advisory_unlock", name)
                except Exception as exc:  # noqa: BLE001 - the connection went: so did the lock
                    log.warning("advisory lock %s: %s", name, exc)
                    self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


_SHARED: "weakref.WeakKeyDictionary[object, ProcessLocks]" = weakref.WeakKeyDictionary()
POLL_SECONDS = 0.02


@contextlib.asynccontextmanager
async def exclusive(db, name: str, timeout: float = 60.0) -> AsyncIterator[None]:
    """Hold ``name`` against the other processes on this PostgreSQL state database, waiting for it without
    blocking the event loop (a try every POLL_SECONDS). A PostgreSQL advisory lock is re-entrant within
    its session, so this excludes other processes only: coroutines of one process need a lock of their
    own. TimeoutError after ``timeout`` seconds. On SQLite a no-op."""
    if db.dialect != "postgres" or getattr(db, "_target", None) is None:
        yield
        return
    locks = _SHARED.get(db)
    if locks is None:
        locks = _SHARED[db] = ProcessLocks(db)
    end = time.monotonic() + timeout
    while not locks._call("pg_try_advisory_lock", name):
        if time.monotonic() > end:
            raise TimeoutError(f"{name}: held by another process for {timeout:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        try:
            locks._call("pg_advisory_unlock", name)
        except Exception as exc:  # noqa: BLE001 - the connection went: so did the lock
            log.warning("advisory lock %s: %s", name, exc)
            locks.close()
