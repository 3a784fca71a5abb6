"""The gateway closes mailboxes nobody used for a while (their IMAP connections with them), except the
ones a front end's background work still holds; before, every user who ever signed in kept one open."""
from __future__ import annotations

import asyncio

from gateway.http import sessions
from gateway.http.sessions import AuthenticatedUser, MailboxCache


class FakeMailbox:
    def __init__(self, email: str):
        self.email = email
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_idle_mailboxes_close_unless_held(monkeypatch):
    async def fake_open(db, config, creds):
        return FakeMailbox(creds.email)
    monkeypatch.setattr(sessions, "open_mailbox", fake_open)

    async def run():
        cache = MailboxCache(None, None)
        users = [AuthenticatedUser(u, f"{u}@example.test", u.title(), "pw") for u in ("alice", "bob", "carol")]
        opened = [await cache.get(u) for u in users]
        cache.in_use.append(lambda email: email == "bob@example.test")     # bob has a subscription
        assert await cache.close_idle(max_idle=3600) == 0                   # all used just now
        assert await cache.close_idle(max_idle=-1) == 2
        assert [m.closed for m in opened] == [True, False, True]
        assert cache.peek("alice@example.test") is None and cache.peek("bob@example.test") is opened[1]
        assert set(cache._locks) == {"bob@example.test"}                     # no lock left per gone user
        again = await cache.get(users[0])                                    # a new request opens it again
        assert again is not opened[0] and not again.closed
    asyncio.run(run())
