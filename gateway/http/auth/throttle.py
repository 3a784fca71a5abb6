"""Failed sign-ins slow down further attempts, per user and per client address.

Each failed attempt doubles the wait imposed before the next check of the
same user or from the same address (base * 2**(failures-1), at most
``max_delay``); a success clears the user's count and the address's count.
Counts are forgotten ``window`` seconds after the last failure. The wait is
an asyncio sleep, so a slowed client holds no worker.

Parallel guesses: a check runs inside ``attempt()``, which lets one check of a
user run at a time and at most ``per_address`` checks from one address. So 60
wrong passwords sent at once are checked one after the other, each waiting
the delay the failures before it earned, instead of all waiting the same
short delay and then all being checked. Callers key the user by the
directory entry it resolves to, so ``carol`` and ``carol@example.test`` are
one account here.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable


@dataclass
class ThrottleSettings:
    base_delay: float = 0.25     # seconds after the first failure
    max_delay: float = 8.0       # bound of the exponential growth
    window: float = 15 * 60.0    # failures older than this are forgotten
    max_entries: int = 100_000   # memory bound; the oldest entries go first
    per_address: int = 4         # credential checks from one address at once (offices share one)


@dataclass
class _Failures:
    count: int
    last: float


@dataclass
class Throttle:
    settings: ThrottleSettings = field(default_factory=ThrottleSettings)
    clock: Callable[[], float] = time.monotonic
    _by_user: dict[str, _Failures] = field(default_factory=dict)
    _by_addr: dict[str, _Failures] = field(default_factory=dict)
    _gates: dict[tuple[str, str], tuple[asyncio.Semaphore, int]] = field(default_factory=dict)

    def _count(self, table: dict[str, _Failures], key: str) -> int:
        f = table.get(key)
        if f is None:
            return 0
        if self.clock() - f.last > self.settings.window:
            del table[key]
            return 0
        return f.count

    def delay(self, user: str | None, addr: str | None) -> float:
        """Seconds to wait before checking credentials of ``user`` sent from ``addr``."""
        n = max(self._count(self._by_user, _ukey(user)) if user else 0,
                self._count(self._by_addr, addr) if addr else 0)
        if n <= 0:
            return 0.0
        return min(self.settings.max_delay, self.settings.base_delay * (2 ** min(n - 1, 30)))

    async def wait(self, user: str | None, addr: str | None) -> float:
        d = self.delay(user, addr)
        if d > 0:
            await asyncio.sleep(d)
        return d

    @asynccontextmanager
    async def attempt(self, user: str | None, addr: str | None) -> AsyncIterator[float]:
        """One credential check: waits its turn (one per user, ``per_address`` per address), then the
        delay earned so far; yields that delay. Record the outcome with failure()/success() inside."""
        async with AsyncExitStack() as stack:
            if user:
                await stack.enter_async_context(self._gate("user", _ukey(user), 1))
            if addr:
                await stack.enter_async_context(self._gate("addr", addr, self.settings.per_address))
            yield await self.wait(user, addr)

    @asynccontextmanager
    async def _gate(self, kind: str, key: str, limit: int) -> AsyncIterator[None]:
        # a semaphore per key while someone holds or waits for it; dropped with its last user
        sem, users = self._gates.get((kind, key)) or (asyncio.Semaphore(limit), 0)
        self._gates[(kind, key)] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._gates[(kind, key)]
            if users <= 1:
                del self._gates[(kind, key)]
            else:
                self._gates[(kind, key)] = (sem, users - 1)

    def in_flight(self) -> int:
        """Keys with a check running or waiting (for tests: nothing is left behind)."""
        return len(self._gates)

    def failure(self, user: str | None, addr: str | None) -> None:
        now = self.clock()
        for table, key in ((self._by_user, _ukey(user) if user else None), (self._by_addr, addr)):
            if not key:
                continue
            n = self._count(table, key)
            table.pop(key, None)          # re-insert: dict order is then oldest-failure-first
            table[key] = _Failures(n + 1, now)
            while len(table) > self.settings.max_entries:
                del table[next(iter(table))]

    def success(self, user: str | None, addr: str | None) -> None:
        if user:
            self._by_user.pop(_ukey(user), None)
        if addr:
            self._by_addr.pop(addr, None)

    def failures(self, user: str | None = None, addr: str | None = None) -> int:
        return max(self._count(self._by_user, _ukey(user)) if user else 0,
                   self._count(self._by_addr, addr) if addr else 0)


def _ukey(user: str | None) -> str:
    # DOMAIN\alice, ALICE and alice are one account for throttling
    u = (user or "").strip().lower()
    return u.split("\\", 1)[1] if "\\" in u else u
