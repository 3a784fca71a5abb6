"""Session Contexts of the mailbox endpoint (MS-OXCMAPIHTTP 3.1.5.1, 3.2.5.1): one per Connect.

The table, the cookies and their bounds are the MAPI/HTTP transport's (``gateway.http.mapihttp``,
shared with /mapi/nspi/): at most ``MAX_PER_USER`` sessions per user (a new Connect ends the least
recently used one), ended after ``IDLE_SECONDS`` unused. An EMSMDB session adds the server objects its
ROPs opened (``objects``, at most ``objects.MAX_OBJECTS``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gateway.http.mapihttp import IDLE_SECONDS, MAX_PER_USER, MAX_SESSIONS, MapiSession
from gateway.http.mapihttp import SessionTable as _Table

from .objects import HandleTable

__all__ = ["IDLE_SECONDS", "MAX_PER_USER", "MAX_SESSIONS", "Session", "SessionTable"]


@dataclass(eq=False)
class Session(MapiSession):
    objects: HandleTable = field(default_factory=HandleTable)

    def close(self) -> None:
        super().close()
        self.objects.clear()


class SessionTable(_Table):
    def __init__(self, **kw):
        super().__init__(session_class=Session, **kw)
