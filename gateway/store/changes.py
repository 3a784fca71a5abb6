"""The change source of a mailbox: backend events turned into per-folder changes.

IMAP: the client's watch(): NOTIFY, one connection for every folder; else IDLE on
INBOX and a STATUS poll of the other folders on one more connection (the IMAP
client's poll_interval, ``[imap] watch_poll_seconds``), so a user's change source
holds at most two IMAP connections however many folders there are (an IDLE per
folder filled pymap's I/O pool and slowed every other user); else polling. The
EWS feed runs one change source per user for all their subscriptions. DAV: the
sync token is polled. Each event re-syncs that folder's id map; what got a
new change number since the last report is yielded. Notifications (MAPI) and
EWS subscriptions and incremental sync are fed from here. The gateway's own writes (in this worker or
another one on the same PostgreSQL) wake the change source through state/wakeups.py: that folder's
changes are then re-read from the state database, without a backend sync.

The folder hierarchy: every change to a folder row (the gateway's own CreateFolder,
rename, move, delete, or a hierarchy sync that found the backend changed) calls the
mailbox's ``hierarchy_listeners``; the loop then reads ``hierarchy_changes_since``,
watches the IMAP folders that are there now (a watcher is restarted when the set
changes) and, with ``hierarchy=True``, yields a HierarchyChanges with one FolderEvent
per folder created, renamed/changed, moved or deleted. Folders another IMAP client
creates are only seen by a hierarchy sync against the backend: ``hierarchy_poll``
seconds apart, or sooner through ``resync_hierarchy``.

``resync_hierarchy`` runs the full ``Mailbox.sync_hierarchy()`` only when the IMAP
folder list differs from the folder rows twice, SETTLE_SECONDS apart. The gateway's
own folder operations change a row right after their IMAP command, and a full sync
that overlaps one (its LIST before the RENAME, its row update after) would take the
renamed folder for a new one; so it runs only for changes someone else made. New
DAV collections made by other DAV clients are not looked for here.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AsyncIterator

from gateway.backends.base import BackendError

from . import folders as layout
from .errors import BackendUnavailable, StoreError
from .objects import Folder, FolderChanges
from .state import wakeups

if TYPE_CHECKING:
    from .mailbox import Mailbox

log = logging.getLogger(__name__)

DAV_POLL_SECONDS = 30.0
HIERARCHY_POLL_SECONDS = 60.0
SETTLE_SECONDS = 1.0
STOP_SECONDS = 2.0      # how long a watcher restart waits for the old reader before closing its watcher
_HIERARCHY = object()   # queue marker: the folder rows changed
_REREAD = object()      # queue marker (with a folder globcnt): the gateway wrote rows there (state/wakeups.py)


@dataclass(frozen=True)
class FolderEvent:
    kind: str                          # "created", "modified" (renamed, properties), "moved", "deleted"
    fid: int
    parent_fid: int | None             # where it is now (for "deleted": where it was)
    old_parent_fid: int | None = None  # "moved" only


@dataclass
class HierarchyChanges:
    events: list[FolderEvent] = field(default_factory=list)
    last_cn: int = 0


def _live_folders(mbx: "Mailbox") -> dict[int, Folder]:
    return {f.fid: f for f in (mbx._folder_from_row(r) for r in mbx._folder_rows())}


def classify_hierarchy(before: dict[int, Folder], after: dict[int, Folder], changed: list[int],
                       deleted: list[int]) -> list[FolderEvent]:
    """Folder rows changed since the last look -> events, against what was there then."""
    out = []
    for fid in changed:
        now = after.get(fid)
        if now is None:
            continue                  # created and deleted again in between: nothing to tell
        was = before.get(fid)
        if was is None:
            out.append(FolderEvent("created", fid, now.parent_fid))
        elif was.parent_fid != now.parent_fid:
            out.append(FolderEvent("moved", fid, now.parent_fid, was.parent_fid))
        else:
            out.append(FolderEvent("modified", fid, now.parent_fid))
    for fid in deleted:
        was = before.get(fid)
        if was is not None and fid not in after:
            out.append(FolderEvent("deleted", fid, was.parent_fid))
    return out


async def _imap_differs(mbx: "Mailbox") -> bool:
    plan = layout.plan_hierarchy(await mbx.backends.imap.list_folders(), names=mbx.imap_names)
    want = {pf.ref for pf in plan.folders if pf.kind == "imap"}
    have = {f.ref for f in _live_folders(mbx).values() if f.kind == "imap"}
    return want != have


async def resync_hierarchy(mbx: "Mailbox") -> bool:
    """Bring the folder rows in line with the IMAP server when another client changed its folders.
    A backend failure is a BackendUnavailable, as everywhere the store answers front ends."""
    try:
        if not await _imap_differs(mbx):
            return False
        await asyncio.sleep(SETTLE_SECONDS)
        if not await _imap_differs(mbx):
            return False            # a gateway operation that was under way
        await mbx.sync_hierarchy()
    except BackendError as exc:
        raise BackendUnavailable(f"folder list: {exc}") from exc
    return True


async def watch_mailbox(mbx: "Mailbox", *, dav_poll: float = DAV_POLL_SECONDS, hierarchy: bool = False,
                        hierarchy_poll: float | None = None) -> AsyncIterator[FolderChanges | HierarchyChanges]:
    # The starting point is read from the state database before anything is awaited: a change made
    # while the watcher is still being set up (the IDLE sessions, a slow server) must come after it,
    # not be taken into it unreported. (This first step runs before the caller's next request.)
    folders = list(_live_folders(mbx).values())
    known = {f.fid: f for f in folders}
    by_ref = {f.ref: f for f in folders if f.kind == "imap"}
    dav_folders = [f for f in folders if f.kind in ("caldav", "carddav")]
    last = {f.fid: mbx.changes_since(f.fid, 0).last_cn for f in folders}
    _, _, last_h = mbx.hierarchy_changes_since(0)
    queue: asyncio.Queue = asyncio.Queue()

    def on_hierarchy() -> None:
        queue.put_nowait(_HIERARCHY)

    rereads: set[int] = set()

    def on_wakeup(globcnt: int) -> None:
        """A write through this worker or another: the rows are in the state database, re-read them."""
        if globcnt == wakeups.HIERARCHY:
            on_hierarchy()
            return
        for g in ([f.globcnt for f in known.values()] if globcnt == wakeups.ALL else [globcnt]):
            if g not in rereads:
                rereads.add(g)
                queue.put_nowait((_REREAD, g))

    async def imap_events(watcher, refs: dict[str, Folder]):
        ready = getattr(watcher, "ready", None)
        if ready is not None:
            await ready()
        # whatever happened before the server was watching: one resync covers the gap
        for f in refs.values():
            queue.put_nowait(f)
        async for ev in watcher:
            if ev.folder in refs:
                queue.put_nowait(refs[ev.folder])

    async def dav_poll_loop():
        while True:
            await asyncio.sleep(dav_poll)
            for f in dav_folders:
                queue.put_nowait(f)

    async def hierarchy_poll_loop(every: float):
        while True:
            await asyncio.sleep(every)
            try:
                await resync_hierarchy(mbx)    # changes call on_hierarchy through the listener
            except (StoreError, BackendError) as exc:
                log.info("hierarchy sync of %s failed: %s", mbx.email, exc)

    watching = _ImapWatching(mbx, imap_events)
    watching._start(by_ref)
    tasks = []
    if dav_folders and mbx.backends.dav is not None:
        tasks.append(asyncio.create_task(dav_poll_loop()))
    if hierarchy_poll:
        tasks.append(asyncio.create_task(hierarchy_poll_loop(hierarchy_poll)))
    mbx.hierarchy_listeners.add(on_hierarchy)
    end_wakeups = wakeups.subscribe(mbx.db, mbx.mailbox_id, on_wakeup)
    pause = 1.0
    getter: asyncio.Task | None = None
    try:
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait([getter, watching.task, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                for t in done:
                    if t is not watching.task:
                        t.result()
                        continue
                    exc = t.exception()
                    if exc is None:
                        return          # the watcher was closed: so was the mailbox
                    if not isinstance(exc, (BackendError, asyncio.TimeoutError)):
                        raise exc
                    # e.g. an IDLE on a folder another client just renamed: watch what is there now.
                    # The pause is the new watcher's: folder changes are still read meanwhile.
                    log.info("IMAP watcher of %s failed (%s); watching again in %.0f s", mbx.email, exc, pause)
                    on_hierarchy()
                    await watching.start(by_ref, delay=pause)
                    pause = min(pause * 2, 60.0)
                continue
            item = getter.result()
            if item is _HIERARCHY:
                changed, deleted, hlast = mbx.hierarchy_changes_since(last_h)
                if not changed and not deleted:
                    continue
                last_h = hlast
                now = _live_folders(mbx)
                events = classify_hierarchy(known, now, changed, deleted)
                known = now
                dav_folders = [f for f in now.values() if f.kind in ("caldav", "carddav")]
                refs = {f.ref: f for f in now.values() if f.kind == "imap"}
                if set(refs) != set(by_ref):
                    await watching.start(refs)   # its first resync covers the switch
                by_ref = refs
                if hierarchy and events:
                    yield HierarchyChanges(events, hlast)
                continue
            if isinstance(item, tuple):     # (_REREAD, globcnt): no backend sync, the rows are written
                rereads.discard(item[1])
                folder = known.get(mbx.ident.fid(item[1]))
                if folder is None:
                    continue
            else:
                folder = item
                if folder.fid not in known:
                    continue            # deleted since it was queued
                try:
                    await mbx.sync_folder(folder.fid)
                except StoreError:
                    continue            # the folder went away meanwhile; the hierarchy change says so
            pause = 1.0
            ch = mbx.changes_since(folder.fid, last.get(folder.fid, 0))
            if ch.changed or ch.deleted:
                last[folder.fid] = ch.last_cn
                yield ch
    finally:
        mbx.hierarchy_listeners.discard(on_hierarchy)
        end_wakeups()
        if getter is not None:
            getter.cancel()
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_SECONDS)
        await watching.stop()


class _ImapWatching:
    """The IMAP watcher of the folders watched now and the task that reads it; restarted when they change."""

    def __init__(self, mbx: "Mailbox", reader):
        self.mbx = mbx
        self.reader = reader
        self.watcher = None
        self.task: asyncio.Task | None = None

    async def start(self, refs: dict[str, Folder], delay: float = 0.0):
        await self.stop()
        self._start(refs, delay)

    def _start(self, refs: dict[str, Folder], delay: float = 0.0) -> None:
        self.watcher = None
        self.task = asyncio.create_task(self._run(dict(refs), delay))

    async def _run(self, refs: dict[str, Folder], delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        self.watcher = self.mbx.backends.imap.watch(list(refs))
        await self.reader(self.watcher, refs)

    async def stop(self) -> None:
        """Cancel the reader and close the watcher. asyncio.wait, not ``await task`` under suppress():
        a cancellation of the caller (Feed.stop) goes on instead of being swallowed here (a feed
        that was told to stop went on watching and publishing), and a reader that missed its
        cancellation ends when the watcher closes instead of holding the caller up."""
        task = self.task
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=STOP_SECONDS)
        closer = getattr(self.watcher, "aclose", None)
        if closer is not None:
            await closer()
        if task is not None and not task.done():
            await asyncio.wait([task], timeout=STOP_SECONDS)
        if task is not None and task.done() and not task.cancelled():
            task.exception()        # seen: a failure the loop did not get to is no "never retrieved" warning
