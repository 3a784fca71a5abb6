"""Who is asking, and their open mailbox.

The auth layer (gateway/http/auth*) puts an ``AuthenticatedUser`` on each
request as ``request[USER]``; front ends call ``await mailbox_for(request)``
to get that user's Mailbox. Mailboxes are opened once per user and shared by
that user's requests; a front end never opens another user's mailbox (access
to others goes through ``open_other`` and the backends' ACLs).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from gateway.config import Config
from gateway.store.factory import Credentials, open_mailbox
from gateway.store.mailbox import Mailbox
from gateway.store.state.db import StateDB

USER = web.RequestKey("exgate_user", object)
log = logging.getLogger(__name__)
IDLE_CLOSE_SECONDS = 15 * 60


@dataclass(frozen=True)
class AuthenticatedUser:
    login: str                    # directory uid
    email: str                    # primary SMTP address: the mailbox's owner key
    display_name: str
    password: str | None = None   # known after Basic; None after NTLM/Kerberos (backends via master/proxy)
    method: str = "basic"         # "basic", "ntlm", "negotiate"

    def credentials(self) -> Credentials:
        return Credentials(self.login, self.email, self.display_name, self.password)


class MailboxCache:
    """One open Mailbox per user, closed after it has been idle for a while."""

    def __init__(self, db: StateDB, config: Config):
        self.db = db
        self.config = config
        self._open: dict[str, tuple[Mailbox, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # front ends say which users' mailboxes their background work still holds (an EWS
        # subscription's feed): those stay open however long since the last request
        self.in_use: list = []          # callables: email (lower case) -> bool

    async def get(self, user: AuthenticatedUser) -> Mailbox:
        key = user.email.lower()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._open.get(key)
            if found is not None:
                self._open[key] = (found[0], time.monotonic())
                return found[0]
            mbx = await open_mailbox(self.db, self.config, user.credentials())
            self._open[key] = (mbx, time.monotonic())
            return mbx

    def peek(self, email: str) -> Mailbox | None:
        """The user's mailbox if it is open now (for the store's background work, e.g. the Outbox queue)."""
        found = self._open.get(email.lower())
        if found is None:
            return None
        self._open[email.lower()] = (found[0], time.monotonic())
        return found[0]

    async def drop(self, email: str) -> None:
        found = self._open.pop(email.lower(), None)
        if found is not None:
            await found[0].close()

    async def close_idle(self, max_idle: float = IDLE_CLOSE_SECONDS) -> int:
        """Close the mailboxes no request used for ``max_idle`` seconds and no front end holds (their IMAP
        connections go, and a user's lock with them); a later request opens them again. -> how many."""
        now = time.monotonic()
        closed = 0
        for key, (mbx, used) in list(self._open.items()):
            if now - used > max_idle and not any(held(key) for held in self.in_use):
                lock = self._locks.get(key)
                if lock is not None and lock.locked():
                    continue                   # being opened or fetched right now
                await self.drop(key)
                self._locks.pop(key, None)
                closed += 1
        return closed

    async def close_idle_forever(self, every: float = 60.0) -> None:
        """The gateway's background loop: without it every user who ever signed in keeps an open
        mailbox (and its IMAP connections) for the life of the process."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.close_idle()
            except Exception:   # noqa: BLE001 - one mailbox failing to close must not end the loop
                log.exception("closing idle mailboxes failed")

    async def close(self) -> None:
        for key in list(self._open):
            await self.drop(key)


def current_user(request: web.Request) -> AuthenticatedUser:
    user = request.get(USER)
    if user is None:  # the auth middleware lets nothing through unauthenticated but public paths
        raise web.HTTPUnauthorized(reason="authentication required")
    return user


async def mailbox_for(request: web.Request) -> Mailbox:
    from .keys import GATEWAY
    state = request.app[GATEWAY]
    return await state.mailboxes.get(current_user(request))
