"""Session Contexts of the mailbox endpoint (MS-OXCMAPIHTTP 3.1.5.1, 3.2.5.1): one per Connect.

The table, the cookies and their bounds are the MAPI/HTTP transport's (``gateway.http.mapihttp``,
shared with /mapi/nspi/): at most ``MAX_PER_USER`` sessions per user (a new Connect ends the least
recently used one), ended after ``IDLE_SECONDS`` unused. An EMSMDB session adds the server objects its
ROPs opened (``objects``, at most ``objects.MAX_OBJECTS``).
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from gateway.http.mapihttp import IDLE_SECONDS, MAX_PER_USER, MAX_SESSIONS, MapiSession
from gateway.http.mapihttp import SessionTable as _Table

from .objects import HandleTable

__all__ = ["IDLE_SECONDS", "MAX_PER_USER", "MAX_SESSIONS", "Session", "SessionTable"]


MAX_PENDING = 256          # notifications a session holds for its next Execute (older ones go first)


@dataclass(eq=False)
class Session(MapiSession):
    objects: HandleTable = field(default_factory=HandleTable)
    # RopNotify responses waiting for the next Execute, and the NotificationWait wake-up (``notify``)
    pending: deque = field(default_factory=lambda: deque(maxlen=MAX_PENDING))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    table: object = None       # the SessionTable it is in (its notification feeds)

    def close(self) -> None:
        super().close()
        self.objects.clear()
        self.pending.clear()
        self.wake.set()            # a NotificationWait on it answers now


class SessionTable(_Table):
    def __init__(self, **kw):
        super().__init__(session_class=Session, **kw)
        from .notify import Feeds
        self.feeds = Feeds(self)

    def create(self, *a, **kw) -> Session:
        s = super().create(*a, **kw)
        s.table = self
        return s

    def clear(self) -> None:
        super().clear()
        self.feeds.stop()

    def of_user(self, email: str) -> list[Session]:
        email = email.lower()
        return [s for s in self._by_context.values() if s.email == email]
