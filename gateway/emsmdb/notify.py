"""Notifications for MAPI over HTTP (MS-OXCNOTIF): the store's events turned into RopNotify responses.

One feed per user, shared by that user's EMSMDB sessions, runs while one of them holds a subscription
(RopRegisterNotification): it reads the store's change source (``changes.watch_mailbox``: IMAP
NOTIFY/IDLE, DAV polling, the gateway's own writes) classified by the store
(``events.EventClassifier``: new mail, created, modified, moved, copied, deleted) and, per session:

- each subscription whose event types and scope (the whole mailbox, or a folder) match gets a RopNotify
  with the event's NotificationData (MS-OXCNOTIF 2.2.1.4.1.2);
- each open table showing the folder that changed (contents) or any folder (hierarchy) gets one
  TableModified/TableChanged per batch, so the client reads the rows again.

What a session gets waits in its ``pending`` queue (bounded; the oldest go first) and wakes its
NotificationWait (``Session.wake``); the next Execute carries it (``drain``), with RopPending when not
all of it fit. The feed ends when none of the user's sessions holds a subscription any more.
"""
from __future__ import annotations

import asyncio
import logging

from gateway.store import events
from gateway.store.changes import HierarchyChanges, watch_mailbox
from gateway.store.errors import StoreError
from protocols.mapi.props import core as P
from protocols.rops import notify as N
from protocols.rops.common import PendingResponse

from .objects import NotifyObj, TableObj

log = logging.getLogger(__name__)

HIERARCHY_POLL_SECONDS = 60.0
SWEEP_SECONDS = 30.0

_TYPE = {events.NEW_MAIL: N.NEW_MAIL, events.CREATED: N.OBJECT_CREATED, events.DELETED: N.OBJECT_DELETED,
         events.MODIFIED: N.OBJECT_MODIFIED, events.MOVED: N.OBJECT_MOVED, events.COPIED: N.OBJECT_COPIED}


def notification_data(ev: events.MailboxEvent, ntype: int, mbx=None) -> N.NotificationData:
    """The NotificationData of one store event, as a subscription of type ``ntype`` sees it."""
    if ev.is_folder:
        kw: dict = {"folder_id": ev.fid}
        flags = ntype
        if ntype in (N.OBJECT_CREATED, N.OBJECT_DELETED, N.OBJECT_MOVED, N.OBJECT_COPIED):
            kw["parent_folder_id"] = ev.parent_fid
        if ntype in (N.OBJECT_MOVED, N.OBJECT_COPIED):
            kw.update(old_folder_id=ev.fid, old_parent_folder_id=ev.old_parent_fid or 0)
        if ntype in (N.OBJECT_CREATED, N.OBJECT_MODIFIED):
            kw["tag_count"] = 0
        if ntype == N.OBJECT_MODIFIED and ev.unread_count is not None:
            flags |= N.FLAG_UNREAD
            kw["unread_message_count"] = ev.unread_count
        return N.NotificationData(flags, **kw)
    kw = {"folder_id": ev.parent_fid, "message_id": ev.mid}
    if ntype in (N.OBJECT_MOVED, N.OBJECT_COPIED):
        kw.update(old_folder_id=ev.old_parent_fid or 0, old_message_id=ev.old_mid or ev.mid)
    if ntype in (N.OBJECT_CREATED, N.OBJECT_MODIFIED):
        kw["tag_count"] = 0
    if ntype == N.NEW_MAIL:
        flags, cls = 0, "IPM.Note"
        if mbx is not None:
            try:
                row = mbx.table_rows([ev.mid])
                if row:
                    flags = int(row[0].props.get(P.PidTagMessageFlags) or 0)
                    cls = str(row[0].props.get(P.PidTagMessageClass) or cls)
            except Exception:   # noqa: BLE001 - the message went meanwhile: the defaults do
                pass
        kw.update(message_flags=flags, unicode=1, message_class=cls)
    return N.NotificationData(ntype | N.FLAG_MESSAGE, **kw)


def _wants(sub: NotifyObj, ev: events.MailboxEvent, ntype: int) -> bool:
    if not sub.types & ntype:
        return False
    if sub.whole_store:
        return True
    if ev.is_folder:
        return sub.fid in (ev.fid, ev.parent_fid, ev.old_parent_fid)
    if sub.mid:                                 # one message
        return ev.mid == sub.mid or ev.old_mid == sub.mid
    return sub.fid in (ev.parent_fid, ev.old_parent_fid)


def _kinds(ev: events.MailboxEvent) -> list[int]:
    """A new mail is also an object created (Exchange sends both to a subscription that asked for both)."""
    first = _TYPE[ev.kind]
    return [N.NEW_MAIL, N.OBJECT_CREATED] if first == N.NEW_MAIL else [first]


def fan_out(session, batch: list[events.MailboxEvent], mbx=None) -> int:
    """Queue this batch's notifications on one session; -> how many."""
    added = 0
    tables_done: set[int] = set()
    for handle, obj in session.objects.items():
        if isinstance(obj, NotifyObj):
            for ev in batch:
                for ntype in _kinds(ev):
                    if _wants(obj, ev, ntype):
                        session.pending.append(N.NotifyResponse(handle, obj.logon_id,
                                                                notification_data(ev, ntype, mbx)))
                        added += 1
        elif isinstance(obj, TableObj) and obj.notify and obj.message is None and handle not in tables_done:
            if any(_touches(obj, ev) for ev in batch):
                tables_done.add(handle)
                session.pending.append(N.NotifyResponse(handle, obj.logon_id,
                                                        N.NotificationData(N.TABLE_MODIFIED,
                                                                           table_event_type=N.TABLE_CHANGED)))
                added += 1
    if added:
        session.wake.set()
    return added


def _touches(table: TableObj, ev: events.MailboxEvent) -> bool:
    if table.hierarchy:
        return ev.is_folder or ev.kind in (events.NEW_MAIL, events.CREATED, events.DELETED, events.MOVED,
                                           events.COPIED, events.MODIFIED)   # counts in its rows change
    return not ev.is_folder and table.fid in (ev.parent_fid, ev.old_parent_fid)


def drain(session, room: int) -> tuple[bytes, bool]:
    """The pending RopNotify responses that fit ``room`` bytes (they leave the queue), and whether some
    are left (then the caller adds RopPending)."""
    out = bytearray()
    while session.pending:
        data = bytearray()
        session.pending[0].encode(data)
        if len(out) + len(data) + 3 > room:      # keep room for RopPending
            break
        out += data
        session.pending.popleft()
    left = bool(session.pending)
    if left:
        PendingResponse(0).encode(out)
    else:
        session.wake.clear()
    return bytes(out), left


def subscribed(session) -> bool:
    return any(isinstance(o, NotifyObj) for _, o in session.objects.items())


class Feed:
    def __init__(self, feeds: "Feeds", owner: str, mbx):
        self.feeds, self.owner, self.mbx = feeds, owner, mbx
        self.classifier: events.EventClassifier | None = None
        self.task = asyncio.create_task(self._run())

    async def _settle(self) -> None:
        """A folder listed for the first time reports all it holds, which is not news: the folders never
        listed are listed before the classifier takes its picture of where every item is (once per
        mailbox: the index stays)."""
        for fid in sorted(self.mbx.unindexed_folders()):
            try:
                await self.mbx.sync_folder(fid)
            except StoreError as exc:
                log.info("MAPI notifications of %s: folder %x not listed: %s", self.owner, fid, exc)
        self.classifier = events.EventClassifier(self.mbx)

    @property
    def alive(self) -> bool:
        return not self.task.done()

    async def _run(self) -> None:
        try:
            await self._settle()
            async for ch in watch_mailbox(self.mbx, hierarchy=True, hierarchy_poll=HIERARCHY_POLL_SECONDS):
                try:
                    if isinstance(ch, HierarchyChanges):
                        batch = self.classifier.hierarchy(ch)
                    else:
                        batch = await self.classifier.folder_changes(ch)
                    if batch:
                        for s in self.feeds.sessions.of_user(self.owner):
                            fan_out(s, batch, self.mbx)
                except Exception:  # noqa: BLE001 - one bad batch must not end the feed
                    log.exception("MAPI notifications of %s: a batch failed", self.owner)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the mailbox was closed or a backend went away
            log.info("MAPI notification feed of %s ended: %s", self.owner, exc)

    def stop(self) -> None:
        self.task.cancel()


class Feeds:
    """The running feeds of one SessionTable, by user."""

    def __init__(self, sessions):
        self.sessions = sessions
        self._feeds: dict[str, Feed] = {}
        self._sweeper: asyncio.Task | None = None

    def __contains__(self, owner: str) -> bool:
        return owner.lower() in self._feeds

    def ensure(self, owner: str, mbx) -> None:
        owner = owner.lower()
        feed = self._feeds.get(owner)
        if feed is None or not feed.alive or feed.mbx is not mbx:
            if feed is not None:
                feed.stop()
            self._feeds[owner] = Feed(self, owner, mbx)
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_loop())

    def sweep(self) -> None:
        """Stop the feeds no session subscribes to any more."""
        for owner in list(self._feeds):
            if not any(subscribed(s) for s in self.sessions.of_user(owner)):
                self._feeds.pop(owner).stop()

    async def _sweep_loop(self) -> None:
        while self._feeds:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    def stop(self) -> None:
        for feed in self._feeds.values():
            feed.stop()
        self._feeds.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
