"""Wake-ups of change sources after the gateway writes: in this process, and in every other worker
or gateway on the same PostgreSQL state database (LISTEN/NOTIFY).

The IMAP server tells every worker of its own changes (each change source has its own IDLE/NOTIFY
session or STATUS poll); what only the state database sees is the gateway's own writes: items it keeps
itself (notes, FAI/associated messages, system folders), folder rows, and the rows of an IMAP or DAV write
(a worker that did not make it would only hear of those at its next poll). So every row the store writes
marks its folder (``changed``, called from ``Mailbox.stale_counts`` and when the folder rows change);
DEBOUNCE seconds later, once no transaction is open on the connection (the rows are committed), the
marked folders are sent:

- to the change sources of this process that watch that mailbox (``subscribe``), and
- on PostgreSQL as ``NOTIFY exgate_changes, '<mailbox_id>:<folder globcnt>'`` (globcnt 0: the folder
  hierarchy), which a listener task per process and database (one dedicated connection, psycopg's
  async API, ``LISTEN exgate_changes``) hands to the change sources of that process. Notifications
  this process sent itself are skipped (already handed over).

A change source woken this way re-reads the folder's changes from the state database (the rows are
there; no backend round trip). A listener whose connection broke reconnects and wakes every change
source for every folder (``ALL``): what was sent meanwhile is lost. SQLite has no NOTIFY: wake-ups stay
in the process (``exgate serve --workers`` needs PostgreSQL for that reason).
"""
from __future__ import annotations

import asyncio
import logging
import os
import weakref
from typing import Callable

log = logging.getLogger(__name__)

CHANNEL = "exgate_changes"
HIERARCHY = 0            # globcnt 0: the folder rows of the mailbox changed
ALL = -1                 # every folder: notifications may have been missed
DEBOUNCE = 0.05          # seconds: writes of one operation go out as one wake-up per folder
RECONNECT_MAX = 30.0

Callback = Callable[[int], None]

# mailbox_id -> {token: (loop, callback)}
_subs: dict[int, dict[int, tuple[asyncio.AbstractEventLoop, Callback]]] = {}
_next_token = 0
# db -> pending {(mailbox_id, globcnt)}; flush handle per db
_pending: "weakref.WeakKeyDictionary[object, set[tuple[int, int]]]" = weakref.WeakKeyDictionary()
_scheduled: "weakref.WeakKeyDictionary[object, asyncio.Handle]" = weakref.WeakKeyDictionary()
# (dsn, loop) -> listener task; backend pids of our own connections that send NOTIFY
_listeners: dict[tuple[str, int], "Listener"] = {}
_own_pids: set[int] = set()
# EXGATE_CROSS_WORKER_WAKEUPS=0 turns NOTIFY off (tests show what breaks without it; IMAP changes still
# reach every worker through the server's own push)
enabled = os.environ.get("EXGATE_CROSS_WORKER_WAKEUPS", "1") != "0"


def changed(db, mailbox_id: int, globcnt: int) -> None:
    """A row of this folder (or, with HIERARCHY, a folder row) was written on ``db``."""
    pend = _pending.get(db)
    if pend is None:
        pend = _pending[db] = set()
    pend.add((mailbox_id, globcnt))
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush(db)           # no loop (a script, a sync test): at once, after the statement
        return
    handle = _scheduled.get(db)
    if handle is not None and not handle.cancelled() and not handle._loop.is_closed():
        return
    _scheduled[db] = loop.call_later(DEBOUNCE, _flush_later, db)


def _flush_later(db) -> None:
    _scheduled.pop(db, None)
    if getattr(db, "_in_tx", 0):     # the rows are not committed yet: a little later
        _scheduled[db] = asyncio.get_running_loop().call_later(DEBOUNCE, _flush_later, db)
        return
    flush(db)


def flush(db) -> None:
    pend = _pending.pop(db, None)
    if not pend:
        return
    for mailbox_id, globcnt in sorted(pend):
        _dispatch(mailbox_id, globcnt)
    if db.dialect != "postgres" or not enabled:
        return
    try:
        conn = db._conn
        _own_pids.add(conn.info.backend_pid)
        db.execute("SELECT pg_notify(?, x) FROM unnest(?::text[]) AS x",
                   (CHANNEL, [f"{m}:{g}" for m, g in sorted(pend)]))
    except Exception as exc:  # noqa: BLE001 - a wake-up is never worth failing the write that caused it
        log.warning("could not notify other workers of a change: %s", exc)


def _dispatch(mailbox_id: int, globcnt: int) -> None:
    for loop, cb in list(_subs.get(mailbox_id, {}).values()):
        if loop.is_closed():
            continue
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            cb(globcnt)
        else:
            loop.call_soon_threadsafe(cb, globcnt)


def subscribe(db, mailbox_id: int, callback: Callback) -> Callable[[], None]:
    """Call ``callback(globcnt)`` (in the running loop) when a folder of this mailbox was written by
    this process or, on PostgreSQL, by any other; returns the function that ends it."""
    global _next_token
    loop = asyncio.get_running_loop()
    _next_token += 1
    token = _next_token
    _subs.setdefault(mailbox_id, {})[token] = (loop, callback)
    target = getattr(db, "_target", None)
    if db.dialect == "postgres" and target and enabled:
        key = (target, id(loop))
        lst = _listeners.get(key)
        if lst is None or lst.loop is not loop or lst.task.done():
            _listeners[key] = Listener(target, loop)

    def unsubscribe() -> None:
        subs = _subs.get(mailbox_id)
        if subs is not None:
            subs.pop(token, None)
            if not subs:
                _subs.pop(mailbox_id, None)
    return unsubscribe


class Listener:
    """``LISTEN exgate_changes`` on a dedicated connection, for the life of the event loop."""

    def __init__(self, dsn: str, loop: asyncio.AbstractEventLoop):
        self.dsn = dsn
        self.loop = loop
        self.ready = asyncio.Event()
        self.task = loop.create_task(self._run(), name="exgate-wakeups")

    async def _run(self) -> None:
        import psycopg
        pause = 0.5
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    if not first:
                        for mailbox_id in list(_subs):
                            _dispatch(mailbox_id, ALL)
                    first, pause = False, 0.5
                    async for n in conn.notifies():
                        if n.pid in _own_pids:
                            continue
                        try:
                            m, g = n.payload.split(":", 1)
                            _dispatch(int(m), int(g))
                        except ValueError:
                            continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database went away: listen again
                self.ready.clear()
                log.warning("change wake-ups from other workers stopped (%s); listening again in %.1f s",
                            exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_MAX)
                first = False


async def listening(db, timeout: float = 10.0) -> None:
    """Wait until this loop's listener for ``db`` has its LISTEN in place (tests, start-up)."""
    target = getattr(db, "_target", None)
    lst = _listeners.get((target, id(asyncio.get_running_loop()))) if target else None
    if lst is not None:
        await asyncio.wait_for(lst.ready.wait(), timeout)
