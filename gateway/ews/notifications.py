"""EWS notifications (MS-OXWSNTIF): Subscribe (pull, push, streaming), GetEvents, GetStreamingEvents, Unsubscribe.

Subscriptions live in memory, per gateway and per user. One *feed* per user consumes the store's
change source (``changes.watch_mailbox``: IMAP NOTIFY/IDLE, DAV polling, folder-row changes); the
store classifies what it reports (``gateway.store.events.EventClassifier``: created, new mail,
modified, moved, copied, deleted, for items and folders, the same facts MAPI notifications need) and
the feed fans the events out to that user's subscriptions as EWS event elements. EWS adds the copy
hints: a new item that EWS CopyItem made through this gateway is a CopiedEvent (the copy path leaves
a hint, ``copy_items``, that the classifier asks for). The gateway's own folder operations are seen
at once (the store calls its hierarchy listeners); folders another IMAP client creates are found by
a hierarchy sync every HIERARCHY_POLL_SECONDS, and at most every HIERARCHY_WAKE_SECONDS when a
client calls GetEvents.
A subscription to some folders gets events whose parent (or old parent) is one of them, and the
folder events of those folders themselves.

Watermarks are opaque to clients: base64 of a magic and the subscription's event sequence number.
A Subscribe watermark (resume after a lost subscription) is accepted and not used: the events of a
subscription that is gone are not kept. GetEvents returns the events after the watermark it is given
and forgets those up to it (MS-OXWSNTIF 3.1.4.2); with nothing new it returns a StatusEvent carrying
the current watermark.

GetStreamingEvents answers with a chunked HTTP response of whole SOAP envelopes (MS-OXWSNTIF
3.1.4.3): at once one with ConnectionStatus OK, then one per batch of notifications, a keep-alive
envelope every ``KEEPALIVE_SECONDS``, and at ConnectionTimeout (minutes) a final one with
ConnectionStatus Closed. The handler writes that response itself; endpoint.py's ordinary answer
built afterwards is not sent (aiohttp ignores a second response once one has been prepared).

Push subscriptions (MS-OXWSNTIF 3.1.4.4): one task per subscription POSTs SendNotification to the
client's URL (push.py: URL checks, the allow-list, retries): a StatusEvent at once, the events as
they come, a StatusEvent after StatusFrequency minutes without any. The client's Unsubscribe answer,
the Unsubscribe operation, or a delivery that failed through every retry ends it.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import struct
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web

from gateway.store import errors as se
from gateway.store import events
from gateway.store.changes import HierarchyChanges, resync_hierarchy, watch_mailbox
from protocols.ews import ids as ewsids
from protocols.ews import notification as wire
from protocols.ews.envelope import ServerVersion, build_response
from protocols.ews.folders import read_folder_refs
from protocols.ews.ns import child, children, m, sub, text
from protocols.ews.responses import ResponseError, message, response_root

from . import push
from .context import EwsContext, for_each

log = logging.getLogger("exgate.ews.notifications")

EVENT_TYPES = frozenset({"CopiedEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent",
                         "NewMailEvent", "FreeBusyChangedEvent"})
KEEPALIVE_SECONDS = 15.0
MAX_PENDING = 1000                 # events kept per subscription; the oldest go first
MAX_EVENTS_PER_CALL = 50
STREAMING_IDLE_SECONDS = 30 * 60   # a streaming subscription with no connection lives this long
HIERARCHY_POLL_SECONDS = 60.0      # a feed asks the backends for new folders this often
HIERARCHY_WAKE_SECONDS = 5.0       # ... and on GetEvents, at most this often
COPY_SETTLE_SECONDS = 10.0         # the feed waits this long at most for a running CopyItem's hint
SWEEP_SECONDS = 60.0               # expired subscriptions end, and their feeds stop, at least this often
MAX_COPY_HINTS = 1000
_WM_MAGIC = b"EXWM"


def encode_watermark(seq: int) -> str:
    return base64.b64encode(_WM_MAGIC + struct.pack("<Q", seq)).decode("ascii")


def decode_watermark(value: str) -> int:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (ValueError, TypeError):
        raise ResponseError("ErrorInvalidWatermark", "The watermark is invalid.")
    if len(raw) != 12 or raw[:4] != _WM_MAGIC:
        raise ResponseError("ErrorInvalidWatermark", "The watermark is invalid.")
    return struct.unpack("<Q", raw[4:])[0]


@dataclass
class Event:
    seq: int
    kind: str                   # element name: CreatedEvent, NewMailEvent, ...
    timestamp: datetime
    mid: int | None             # an item event's item (the copy, for CopiedEvent) ...
    parent_fid: int
    old_parent_fid: int | None = None
    fid: int | None = None      # ... or a folder event's folder
    old_mid: int | None = None  # CopiedEvent: the original
    unread_count: int | None = None


@dataclass
class PushState:
    target: push.PushTarget
    user: object                # AuthenticatedUser: the mailbox is reopened as them when it was closed
    state: object               # GatewayState
    acked: int = 0              # the last event sequence number the client answered OK to
    task: asyncio.Task | None = None


@dataclass
class Subscription:
    id: str
    owner: str
    mode: str                               # "pull", "push" or "streaming"
    folders: frozenset[int] | None          # FIDs; None: every folder
    event_types: frozenset[str]
    timeout: float                          # seconds without a GetEvents (pull) / a connection (streaming)
    touched: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    last_seq: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stream_token: object | None = None      # the streaming connection currently attached
    push: PushState | None = None

    def expired(self, now: float | None = None) -> bool:
        if self.stream_token is not None or self.mode == "push":
            return False                    # a push subscription ends by its client's answer
        return (now or time.monotonic()) - self.touched > self.timeout

    def wants(self, ev: Event) -> bool:
        if ev.kind not in self.event_types:
            return False
        return (self.folders is None or ev.parent_fid in self.folders or ev.old_parent_fid in self.folders
                or ev.fid in self.folders)

    def add(self, kind: str, ts: datetime, mid: int | None, parent: int, old_parent: int | None = None, *,
            fid: int | None = None, old_mid: int | None = None, unread: int | None = None) -> None:
        ev = Event(self.last_seq + 1, kind, ts, mid, parent, old_parent, fid, old_mid, unread)
        if not self.wants(ev):
            return
        self.last_seq += 1
        self.events.append(ev)
        del self.events[:-MAX_PENDING]
        self.wake.set()


# store event kinds (gateway.store.events) -> EWS event elements (MS-OXWSNTIF 2.2.4)
EWS_KIND = {events.CREATED: "CreatedEvent", events.NEW_MAIL: "NewMailEvent", events.MODIFIED: "ModifiedEvent",
            events.MOVED: "MovedEvent", events.COPIED: "CopiedEvent", events.DELETED: "DeletedEvent"}


class Feed:
    """One user's change source, classified by the store (``gateway.store.events``) into events that
    are fanned out to their EWS subscriptions."""

    def __init__(self, registry: "Registry", owner: str, mbx):
        self.registry = registry
        self.owner = owner
        self.mbx = mbx
        self.classifier = events.EventClassifier(mbx)
        self.task = asyncio.create_task(self._run())

    @property
    def alive(self) -> bool:
        return not self.task.done()

    async def _run(self) -> None:
        try:
            async for ch in watch_mailbox(self.mbx, hierarchy=True, hierarchy_poll=HIERARCHY_POLL_SECONDS):
                try:
                    if isinstance(ch, HierarchyChanges):
                        self._publish(self.classifier.hierarchy(ch))
                    else:
                        await self.registry.copies_settled(self.owner)
                        self._publish(await self.classifier.folder_changes(
                            ch, copy_of=lambda mid: self.registry.take_copy(self.owner, mid)))
                except Exception:  # noqa: BLE001 - one bad batch must not end the feed
                    log.exception("classifying changes of %s failed", self.owner)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the mailbox was closed or a backend went away
            log.info("change feed of %s ended: %s", self.owner, exc)

    def _publish(self, out: list[events.MailboxEvent]) -> None:
        now = datetime.now(timezone.utc)
        for sub_ in self.registry.of_owner(self.owner):
            for ev in out:
                sub_.add(EWS_KIND[ev.kind], now, ev.mid, ev.parent_fid, ev.old_parent_fid, fid=ev.fid,
                         old_mid=ev.old_mid, unread=ev.unread_count)

    def stop(self) -> None:
        self.task.cancel()


class Registry:
    def __init__(self):
        self.subs: dict[str, Subscription] = {}
        self.feeds: dict[str, Feed] = {}
        self.copies: dict[str, dict[int, tuple[int, int]]] = {}  # owner -> copy MID -> (original MID, its FID)
        self._copying: dict[str, int] = {}
        self._copies_done: dict[str, asyncio.Event] = {}
        self._hierarchy_asked: dict[str, float] = {}
        self._background: set[asyncio.Task] = set()
        self._janitor: asyncio.Task | None = None

    def of_owner(self, owner: str) -> list[Subscription]:
        return [s for s in self.subs.values() if s.owner == owner]

    def ensure_feed(self, owner: str, mbx) -> Feed:
        feed = self.feeds.get(owner)
        if feed is None or not feed.alive or feed.mbx is not mbx:
            if feed is not None:
                feed.stop()
            feed = self.feeds[owner] = Feed(self, owner, mbx)
        self._ensure_janitor()
        return feed

    def _ensure_janitor(self) -> None:
        """Subscriptions whose client went away without Unsubscribe expire; until now only the next
        Subscribe/GetEvents/Unsubscribe noticed, so their feed kept its IMAP watcher (with pymap, an IDLE
        session and a STATUS poller) for as long as nobody asked."""
        if self._janitor is None or self._janitor.done():
            self._janitor = asyncio.create_task(self._sweep_loop())

    async def _sweep_loop(self) -> None:
        while self.feeds:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    def sweep(self) -> None:
        now = time.monotonic()
        for sid in [sid for sid, s in self.subs.items() if s.expired(now)]:
            self.remove(sid)
        for owner in [o for o in self.feeds if not self.of_owner(o)]:
            self.feeds.pop(owner).stop()
            self.copies.pop(owner, None)

    def remove(self, sid: str) -> Subscription | None:
        s = self.subs.pop(sid, None)
        if s is not None:
            s.stream_token = None       # a streaming connection on it ends at its next wake-up
            s.wake.set()                # so does a push task
        return s

    def get(self, ctx: EwsContext, sid: str | None) -> Subscription:
        self.sweep()
        s = self.subs.get((sid or "").strip())
        if s is None or s.owner != _owner(ctx):
            raise ResponseError("ErrorSubscriptionNotFound", "The subscription was not found or has expired.")
        return s

    # ---- copies made through the gateway (CopiedEvent)
    @contextlib.asynccontextmanager
    async def copying(self, owner: str):
        """While a copy runs, the owner's feed holds back new items until the copy's hint is in."""
        self._copying[owner] = self._copying.get(owner, 0) + 1
        done = self._copies_done.setdefault(owner, asyncio.Event())
        done.clear()
        try:
            yield
        finally:
            self._copying[owner] -= 1
            if not self._copying[owner]:
                del self._copying[owner]
                done.set()

    async def copies_settled(self, owner: str) -> None:
        if owner in self._copying:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._copies_done[owner].wait(), COPY_SETTLE_SECONDS)

    def note_copy(self, owner: str, old_mid: int, old_fid: int, new_mid: int) -> None:
        if owner not in self.feeds:
            return                      # nobody listens: no hint to keep
        hints = self.copies.setdefault(owner, {})
        hints[new_mid] = (old_mid, old_fid)
        while len(hints) > MAX_COPY_HINTS:
            hints.pop(next(iter(hints)))

    def take_copy(self, owner: str, new_mid: int) -> tuple[int, int] | None:
        return self.copies.get(owner, {}).pop(new_mid, None)

    # ---- folders another client made: ask the backends, not too often
    def wake_hierarchy(self, owner: str, mbx) -> None:
        now = time.monotonic()
        if now - self._hierarchy_asked.get(owner, 0.0) < HIERARCHY_WAKE_SECONDS:
            return
        self._hierarchy_asked[owner] = now

        async def sync():
            try:
                await resync_hierarchy(mbx)
            except se.StoreError as exc:
                log.info("hierarchy sync of %s failed: %s", owner, exc)
        self.spawn(sync())

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def close(self) -> None:
        """Stop every feed and push task (the gateway is shutting down)."""
        for sid in list(self.subs):
            self.remove(sid)
        tasks = [s for s in self._background]
        if self._janitor is not None:
            tasks.append(self._janitor)
        for feed in self.feeds.values():
            feed.stop()
            tasks.append(feed.task)
        self.feeds.clear()
        for t_ in tasks:
            t_.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_REGISTRIES: dict[int, tuple[weakref.ref, Registry]] = {}


def registry_for(state) -> Registry:
    found = _REGISTRIES.get(id(state))
    if found is None or found[0]() is not state:
        found = (weakref.ref(state), Registry())
        _REGISTRIES[id(state)] = found
    return found[1]


async def shutdown(app: web.Application) -> None:
    """An aiohttp on_cleanup hook: end the feeds and push tasks of this app's gateway."""
    from gateway.http.keys import GATEWAY
    found = _REGISTRIES.get(id(app[GATEWAY]))
    if found is not None and found[0]() is app[GATEWAY]:
        await found[1].close()


def _owner(ctx: EwsContext) -> str:
    return ctx.user.email.lower()


# ------------------------------------------------------------------ writing events (MS-OXWSNTIF 2.2.4)

def _folder_id(mbx, fid: int) -> wire.Id:
    return wire.Id(ewsids.EwsId("folder", mbx.ident.mailbox_guid, fid).encode())


def _item_id(mbx, mid: int, with_change_key: bool) -> wire.Id:
    ck = None
    if with_change_key:
        try:
            ck = ewsids.encode_change_key(mbx.change_key_of(mid), "item")
        except se.StoreError:
            ck = None
    return wire.Id(ewsids.EwsId("item", mbx.ident.mailbox_guid, mid).encode(), ck)


def event_record(mbx, ev: Event) -> wire.NotificationEvent:
    rec = wire.NotificationEvent(ev.kind, encode_watermark(ev.seq), ev.timestamp,
                                 parent_folder_id=_folder_id(mbx, ev.parent_fid))
    if ev.old_parent_fid is not None:
        rec.old_parent_folder_id = _folder_id(mbx, ev.old_parent_fid)
    if ev.fid is not None:
        rec.folder_id = _folder_id(mbx, ev.fid)
        if ev.old_parent_fid is not None:
            rec.old_folder_id = rec.folder_id           # a folder keeps its id on a move
        rec.unread_count = ev.unread_count
    else:
        rec.item_id = _item_id(mbx, ev.mid, ev.kind != "DeletedEvent")
        if ev.old_parent_fid is not None:
            rec.old_item_id = _item_id(mbx, ev.old_mid if ev.old_mid is not None else ev.mid, False)
    return rec


def notification_record(mbx, s: Subscription, events: list[Event], previous: int,
                        more: bool = False) -> wire.Notification:
    n = wire.Notification(s.id)
    if s.mode != "streaming":
        n.previous_watermark, n.more_events = encode_watermark(previous), more
        if not events:
            n.events.append(wire.NotificationEvent("StatusEvent", encode_watermark(s.last_seq)))
    n.events += [event_record(mbx, ev) for ev in events]
    return n


def write_notification(parent, mbx, s: Subscription, events: list[Event], previous: int, more: bool = False):
    return wire.write_notification(parent, notification_record(mbx, s, events, previous, more))


# ------------------------------------------------------------------ Subscribe / Unsubscribe

async def _folders_of(ctx: EwsContext, req) -> frozenset[int] | None:
    if (req.get("SubscribeToAllFolders") or "").lower() in ("true", "1"):
        return None
    refs = read_folder_refs(child(req, "FolderIds"))
    if not refs:
        raise ResponseError("ErrorInvalidSubscriptionRequest", "FolderIds or SubscribeToAllFolders is required.")
    return frozenset([(await ctx.folder(r)).fid for r in refs])


def _minutes(req, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(text(req, name) or default)
    except ValueError:
        raise ResponseError("ErrorInvalidSubscriptionRequest", f"{name} must be a number of minutes.")
    if not low <= value <= high:
        raise ResponseError("ErrorInvalidSubscriptionRequest", f"{name} must be {low} to {high} minutes.")
    return value


async def subscribe(ctx: EwsContext):
    body = ctx.req.body
    req = next((c for c in children(body) if c.tag.endswith("SubscriptionRequest")), None)

    async def one(_, el):
        if req is None:
            raise ResponseError("ErrorInvalidSubscriptionRequest", "The request names no subscription kind.")
        kind = req.tag.rsplit("}", 1)[-1]
        mode = {"PullSubscriptionRequest": "pull", "PushSubscriptionRequest": "push",
                "StreamingSubscriptionRequest": "streaming"}.get(kind)
        if mode is None:
            raise ResponseError("ErrorInvalidSubscriptionRequest", f"Unknown subscription kind {kind}.")
        types = frozenset((c.text or "").strip() for c in children(child(req, "EventTypes")))
        bad = types - EVENT_TYPES
        if not types or bad:
            raise ResponseError("ErrorInvalidSubscriptionRequest", f"Unknown event types: {', '.join(sorted(bad))}"
                                if bad else "EventTypes is required.")
        push_state = None
        if mode == "push":
            ews_cfg = ctx.state.config.ews
            url = push.check_push_url(text(req, "URL"), list(ews_cfg.push_allowed_hosts),
                                      list(ews_cfg.push_allowed_ports))
            registry_for(ctx.state).sweep()
            held = sum(1 for x in registry_for(ctx.state).of_owner(_owner(ctx)) if x.mode == "push")
            if held >= ews_cfg.push_max_per_user:
                raise ResponseError("ErrorTooManyObjectsOpened", f"At most {ews_cfg.push_max_per_user} push "
                                                                 "subscriptions per user; unsubscribe one first.")
            target = push.PushTarget(url, _minutes(req, "StatusFrequency", 30, 1, 1440), ews_cfg.push_verify_tls)
            push_state = PushState(target, ctx.user, ctx.state)
        folders = await _folders_of(ctx, req)
        if mode == "pull":
            timeout = _minutes(req, "Timeout", 30, 1, 1440) * 60.0
        else:
            timeout = STREAMING_IDLE_SECONDS
        reg = registry_for(ctx.state)
        reg.sweep()
        s = Subscription(base64.b64encode(uuid.uuid4().bytes).decode("ascii"), _owner(ctx), mode, folders, types,
                         timeout, push=push_state)
        reg.subs[s.id] = s
        reg.ensure_feed(s.owner, ctx.mbx)
        if push_state is not None:
            push_state.task = reg.spawn(_push_loop(reg, s))
        sub(el, m("SubscriptionId"), s.id)
        if mode != "streaming":
            sub(el, m("Watermark"), encode_watermark(0))
    return await for_each(ctx, [None], one)


async def unsubscribe(ctx: EwsContext):
    async def one(body, el):
        reg = registry_for(ctx.state)
        s = reg.get(ctx, text(body, "SubscriptionId"))
        reg.remove(s.id)
        reg.sweep()
    return await for_each(ctx, [ctx.req.body], one)


# ------------------------------------------------------------------ push (MS-OXWSNTIF 3.1.4.4)

async def _push_mailbox(reg: Registry, s: Subscription):
    """The owner's mailbox with a live feed (reopened when the cache closed it for idleness)."""
    feed = reg.feeds.get(s.owner)
    if feed is not None and feed.alive:
        return feed.mbx
    mbx = await s.push.state.mailboxes.get(s.push.user)
    return reg.ensure_feed(s.owner, mbx).mbx


async def _push_loop(reg: Registry, s: Subscription) -> None:
    p = s.push
    sender = push.PushSender(p.target)
    mbx = reg.feeds[s.owner].mbx    # ids need only its identity and state DB, even once it is closed
    first = True
    try:
        while s.id in reg.subs:
            if not first and not s.events:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(s.wake.wait(), p.target.status_frequency * push.MINUTE)
            first = False
            s.wake.clear()
            if s.id not in reg.subs:
                break
            try:
                mbx = await _push_mailbox(reg, s)
            except (se.StoreError, OSError) as exc:
                # no new events until it opens again; the StatusEvents still say the subscription lives
                log.info("push subscription %s: mailbox of %s unavailable: %s", s.id, s.owner, exc)
            batch = s.events[:MAX_EVENTS_PER_CALL]
            n = notification_record(mbx, s, batch, p.acked, more=len(s.events) > len(batch))
            answer = await sender.deliver(wire.build_send_notification(n))
            if answer != "OK":
                log.info("push subscription %s of %s ends: %s", s.id, s.owner,
                         "the client unsubscribed" if answer else "every delivery attempt failed")
                reg.remove(s.id)
                break
            if batch:
                p.acked = batch[-1].seq
                s.events = [e for e in s.events if e.seq > p.acked]
            if s.events:
                s.wake.set()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - log it; the subscription cannot go on
        log.exception("push subscription %s failed", s.id)
        reg.remove(s.id)
    finally:
        await sender.close()
        reg.sweep()


# ------------------------------------------------------------------ GetEvents (pull)

async def get_events(ctx: EwsContext):
    body = ctx.req.body

    async def one(_, el):
        reg = registry_for(ctx.state)
        s = reg.get(ctx, text(body, "SubscriptionId"))
        if s.mode != "pull":
            raise ResponseError("ErrorInvalidSubscription", "This is not a pull subscription.")
        wm = decode_watermark(text(body, "Watermark") or "")
        if wm > s.last_seq:
            raise ResponseError("ErrorInvalidWatermark", "The watermark is newer than the subscription's events.")
        if s.events and wm < s.events[0].seq - 1:
            raise ResponseError("ErrorReadEventsFailed", "Events after this watermark are no longer available.")
        s.touched = time.monotonic()
        reg.ensure_feed(s.owner, ctx.mbx)
        reg.wake_hierarchy(s.owner, ctx.mbx)
        s.events = [e for e in s.events if e.seq > wm]      # what the client has seen is acknowledged
        batch = s.events[:MAX_EVENTS_PER_CALL]
        write_notification(el, ctx.mbx, s, batch, wm, more=len(s.events) > len(batch))
    return await for_each(ctx, [None], one)


# ------------------------------------------------------------------ CopyItem's hint

async def copy_items(ctx: EwsContext, mids: list[int], dest_fid: int) -> dict[int, int]:
    """``Mailbox.move_items(copy=True)``, leaving a hint so the feed reports each copy as a CopiedEvent."""
    reg = registry_for(ctx.state)
    owner = _owner(ctx)
    sources = {mid: ctx.mbx.item_folder(mid) for mid in mids}
    async with reg.copying(owner):
        copied = await ctx.mbx.move_items(mids, dest_fid, copy=True)
        for old, new in copied.items():
            if new != old and old in sources:
                reg.note_copy(owner, old, sources[old], new)
    return copied


# ------------------------------------------------------------------ GetStreamingEvents

def _stream_envelope(ctx: EwsContext, notifications: list[tuple[Subscription, list[Event]]], status: str) -> bytes:
    root, messages = response_root("GetStreamingEvents")
    el = message(messages, "GetStreamingEvents")
    if notifications:
        container = sub(el, m("Notifications"))
        for s, events in notifications:
            write_notification(container, ctx.mbx, s, events, 0)
    sub(el, m("ConnectionStatus"), status)
    return build_response(root, ServerVersion())


def _gone(request: web.Request) -> bool:
    """The client closed the connection (asyncio only warns on writes to a closed socket)."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def get_streaming_events(ctx: EwsContext):
    body = ctx.req.body
    reg = registry_for(ctx.state)
    reg.sweep()
    sids = [(c.text or "").strip() for c in children(child(body, "SubscriptionIds"))]
    try:
        minutes = int(text(body, "ConnectionTimeout") or "30")
    except ValueError:
        minutes = 0
    bad = [sid for sid in sids if sid not in reg.subs or reg.subs[sid].owner != _owner(ctx)
           or reg.subs[sid].mode != "streaming"]
    if not sids or bad or not 1 <= minutes <= 30:
        root, messages = response_root(ctx.operation)
        if not 1 <= minutes <= 30:
            el = message(messages, ctx.operation, "ErrorInvalidArgument", "ConnectionTimeout must be 1 to 30 minutes.")
        else:
            el = message(messages, ctx.operation, "ErrorSubscriptionNotFound",
                         "The subscription was not found or has expired.")
            if bad:
                ids = sub(el, m("ErrorSubscriptionIds"))
                for sid in bad:
                    sub(ids, m("SubscriptionId"), sid)
        sub(el, m("ConnectionStatus"), "Closed")
        return root
    subs = [reg.subs[sid] for sid in sids]
    token = object()
    wake = asyncio.Event()
    for s in subs:
        s.stream_token = token
        s.wake = wake       # one event for every subscription on this connection
        if s.events:
            wake.set()
    reg.ensure_feed(_owner(ctx), ctx.mbx)
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/xml; charset=utf-8"})
    resp.enable_chunked_encoding()
    deadline = time.monotonic() + minutes * 60
    try:
        await resp.prepare(ctx.request)
        await resp.write(_stream_envelope(ctx, [], "OK"))
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or any(s.stream_token is not token for s in subs) or _gone(ctx.request):
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), min(KEEPALIVE_SECONDS, left))
            wake.clear()
            batch = []
            for s in subs:
                if s.events and s.stream_token is token:
                    batch.append((s, s.events[:MAX_EVENTS_PER_CALL]))
                    del s.events[:MAX_EVENTS_PER_CALL]
                    if s.events:
                        wake.set()
            if _gone(ctx.request):
                break
            await resp.write(_stream_envelope(ctx, batch, "OK"))
            if not reg.feeds.get(_owner(ctx)) or not reg.feeds[_owner(ctx)].alive:
                reg.ensure_feed(_owner(ctx), await ctx.state.mailboxes.get(ctx.user))
        await resp.write(_stream_envelope(ctx, [], "Closed"))
        await resp.write_eof()
    except ConnectionError:
        pass                        # the client went away
    finally:
        now = time.monotonic()
        for s in subs:
            if s.stream_token is token:
                s.stream_token = None
            s.touched = now
    return resp  # already streamed: the endpoint hands it back to aiohttp as it is
