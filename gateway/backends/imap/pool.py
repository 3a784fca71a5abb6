"""A few IMAP connections for one user, with a selected-folder cache.

``acquire(folder)`` prefers an idle connection that already has ``folder``
selected, so a run of operations on one folder does not re-SELECT. Connections
that died (BYE, reset, timeout) are dropped when they come back and replaced
on demand by the factory, which logs in again.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Awaitable, Callable

from gateway.backends.base import BackendError
from gateway.backends.imap.connection import ImapConnection

ConnectionFactory = Callable[[], Awaitable[ImapConnection]]


class ConnectionPool:
    def __init__(self, factory: ConnectionFactory, size: int = 3):
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self._factory = factory
        self.size = size
        self._idle: list[ImapConnection] = []
        self._count = 0           # connections that exist (idle or lent out)
        self._cond = asyncio.Condition()
        self._closed = False

    def add(self, conn: ImapConnection) -> None:
        """Adopt an already logged-in connection (the one ``connect`` opened)."""
        self._count += 1
        self._idle.append(conn)

    @contextlib.asynccontextmanager
    async def acquire(self, folder: str | None = None) -> AsyncIterator[ImapConnection]:
        conn = await self._get(folder)
        try:
            yield conn
        finally:
            await self._put(conn)

    async def _get(self, folder: str | None) -> ImapConnection:
        async with self._cond:
            while True:
                if self._closed:
                    raise BackendError("IMAP client is closed", "unavailable")
                for dead in [c for c in self._idle if c.closed]:
                    self._idle.remove(dead)
                    self._count -= 1
                if self._idle:
                    pick = next((c for c in self._idle
                                 if folder is not None and c.selected is not None and c.selected.name == folder),
                                None)
                    if pick is None and folder is None:
                        # Leave connections with a selection for folder work.
                        pick = next((c for c in self._idle if c.selected is None), None)
                    if pick is None:
                        pick = self._idle[0]
                    self._idle.remove(pick)
                    return pick
                if self._count < self.size:
                    self._count += 1
                    break
                await self._cond.wait()
        try:
            return await self._factory()
        except BaseException:
            async with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    async def _put(self, conn: ImapConnection) -> None:
        async with self._cond:
            if conn.closed or self._closed:
                self._count -= 1
                if not conn.closed:
                    asyncio.get_running_loop().create_task(conn.close())
            else:
                self._idle.append(conn)
            self._cond.notify()

    def forget_folder(self, folder: str) -> None:
        """A folder was renamed or deleted: idle connections that have it (or a child) selected are
        dropped. The server still has the old selection: Dovecot says BYE at the next command, pymap
        stops answering, and either would take the next command with it."""
        for conn in self._idle:
            sel = conn.selected
            if sel is not None and sel.name.startswith(folder):
                conn.abort()   # removed from the pool at the next acquire

    async def close(self) -> None:
        async with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        await asyncio.gather(*(c.close() for c in idle), return_exceptions=True)
