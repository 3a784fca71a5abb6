"""Session Contexts of the mailbox endpoint (MS-OXCMAPIHTTP 3.1.5.1, 3.2.5.1): one per Connect.

A session lives in this process (sessions are sticky to one gateway process); it holds the signed-in
user, the sequence cookie it issued last, and the server objects its ROPs opened (``objects``). What a
user may hold is bounded: at most ``MAX_PER_USER`` sessions (a new Connect ends the least recently
used one) and ``objects.MAX_OBJECTS`` objects each; a session nobody used for ``IDLE_SECONDS`` ends.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from .objects import HandleTable

IDLE_SECONDS = 30 * 60          # X-ExpirationInfo: how long an idle Session Context lives
MAX_PER_USER = 16
MAX_SESSIONS = 10_000


def _codepage(cp: int) -> str:
    name = f"cp{cp}"
    try:
        "".encode(name)
    except LookupError:
        return "cp1252"
    return name


@dataclass(eq=False)
class Session:
    context: str                    # the MapiContext cookie
    email: str                      # the signed-in user's address (lower case): the owner
    login: str
    display_name: str
    code_page: str = "cp1252"
    sequence: str | None = None     # the MapiSequence cookie expected next
    created: float = field(default_factory=time.monotonic)
    used: float = field(default_factory=time.monotonic)
    objects: HandleTable = field(default_factory=HandleTable)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    def next_sequence(self) -> str:
        self.sequence = secrets.token_hex(16)
        return self.sequence

    def touch(self) -> None:
        self.used = time.monotonic()


class SessionTable:
    def __init__(self, *, idle: float = IDLE_SECONDS, per_user: int = MAX_PER_USER, total: int = MAX_SESSIONS):
        self.idle = idle
        self.per_user = per_user
        self.total = total
        self._by_context: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._by_context)

    def create(self, email: str, login: str, display_name: str, code_page: int = 1252) -> Session:
        self.expire()
        mine = sorted((s for s in self._by_context.values() if s.email == email.lower()), key=lambda s: s.used)
        while len(mine) >= self.per_user:
            self.end(mine.pop(0))
        if len(self._by_context) >= self.total:
            self.end(min(self._by_context.values(), key=lambda s: s.used))
        s = Session(secrets.token_hex(16), email.lower(), login, display_name, _codepage(code_page))
        self._by_context[s.context] = s
        return s

    def get(self, context: str | None, email: str) -> Session | None:
        """The live session of that cookie if it is the user's own; None otherwise (Context Not Found)."""
        self.expire()
        s = self._by_context.get(context or "")
        if s is None or s.email != email.lower():
            return None
        return s

    def end(self, s: Session) -> None:
        s.closed = True
        s.objects.clear()
        self._by_context.pop(s.context, None)

    def expire(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        old = [s for s in self._by_context.values() if now - s.used > self.idle and not s.lock.locked()]
        for s in old:
            self.end(s)
        return len(old)

    def clear(self) -> None:
        for s in list(self._by_context.values()):
            self.end(s)
