"""EWS notifications (MS-OXWSNTIF): Subscribe (pull, streaming), GetEvents, GetStreamingEvents, Unsubscribe.

Subscriptions live in memory, per gateway and per user. One *feed* per user consumes the store's
change source (``Mailbox.watch()``: IMAP NOTIFY/IDLE, DAV polling) and turns each FolderChanges into
item events, fanned out to that user's subscriptions:

- an item id the feed has not seen before -> CreatedEvent (and NewMailEvent in a mail folder a
  message is delivered to, i.e. not Sent/Drafts/Outbox/Deleted, unless it is a draft);
- a known item changed in the same folder -> ModifiedEvent;
- the store keeps an item's id on a move, so an id that turns up in another folder, or whose
  tombstone in one folder comes with a live row in another, -> MovedEvent;
- a tombstone with no live row anywhere -> DeletedEvent.
Folder events (a folder created or renamed) and CopiedEvent are not produced: the change source
reports item changes only. Push subscriptions (the server calling the client back) are refused.

Watermarks are opaque to clients: base64 of a magic and the subscription's event sequence number.
GetEvents returns the events after the watermark it is given and forgets those up to it (MS-OXWSNTIF
3.1.4.2); with nothing new it returns a StatusEvent carrying the current watermark.

GetStreamingEvents answers with a chunked HTTP response of whole SOAP envelopes (MS-OXWSNTIF
3.1.4.3): at once one with ConnectionStatus OK, then one per batch of notifications, a keep-alive
envelope every ``KEEPALIVE_SECONDS``, and at ConnectionTimeout (minutes) a final one with
ConnectionStatus Closed. The handler writes that response itself; endpoint.py's ordinary answer
built afterwards is not sent (aiohttp ignores a second response once one has been prepared).
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
from protocols.ews import ids as ewsids
from protocols.ews.envelope import ServerVersion, build_response
from protocols.ews.folders import read_folder_refs
from protocols.ews.ns import child, children, m, sub, t, text
from protocols.ews.responses import ResponseError, message, response_root
from protocols.ews.values import format_datetime

from .context import EwsContext, for_each

log = logging.getLogger("exgate.ews.notifications")

EVENT_TYPES = frozenset({"CopiedEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent",
                         "NewMailEvent", "FreeBusyChangedEvent"})
NOT_NEW_MAIL_ROLES = frozenset({"sent", "drafts", "outbox", "deleted"})
KEEPALIVE_SECONDS = 15.0
MAX_PENDING = 1000                 # events kept per subscription; the oldest go first
MAX_EVENTS_PER_CALL = 50
STREAMING_IDLE_SECONDS = 30 * 60   # a streaming subscription with no connection lives this long
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
    mid: int
    parent_fid: int
    old_parent_fid: int | None = None


@dataclass
class Subscription:
    id: str
    owner: str
    mode: str                               # "pull" or "streaming"
    folders: frozenset[int] | None          # FIDs; None: every folder
    event_types: frozenset[str]
    timeout: float                          # seconds without a GetEvents (pull) / a connection (streaming)
    touched: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    last_seq: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stream_token: object | None = None      # the streaming connection currently attached

    def expired(self, now: float | None = None) -> bool:
        if self.stream_token is not None:
            return False
        return (now or time.monotonic()) - self.touched > self.timeout

    def wants(self, ev: Event) -> bool:
        if ev.kind not in self.event_types:
            return False
        return self.folders is None or ev.parent_fid in self.folders or ev.old_parent_fid in self.folders

    def add(self, kind: str, ts: datetime, mid: int, parent: int, old_parent: int | None = None) -> None:
        ev = Event(self.last_seq + 1, kind, ts, mid, parent, old_parent)
        if not self.wants(ev):
            return
        self.last_seq += 1
        self.events.append(ev)
        del self.events[:-MAX_PENDING]
        self.wake.set()


class Feed:
    """One user's change source, classified into EWS item events for their subscriptions."""

    def __init__(self, registry: "Registry", owner: str, mbx):
        self.registry = registry
        self.owner = owner
        self.mbx = mbx
        # where each item is now (MID -> FID), to tell created, modified and moved apart
        ident = mbx.ident
        self.location: dict[int, int] = {
            ident.mid(mid): ident.fid(fid) for mid, fid in mbx.db.all(
                "SELECT mid, fid FROM messages WHERE mailbox_id = ? AND associated = 0", (mbx.mailbox_id,))}
        self.moved: set[int] = set()
        self.task = asyncio.create_task(self._run())

    @property
    def alive(self) -> bool:
        return not self.task.done()

    async def _run(self) -> None:
        try:
            async for ch in self.mbx.watch():
                try:
                    await self._classify(ch)
                except Exception:  # noqa: BLE001 - one bad batch must not end the feed
                    log.exception("classifying changes of folder %#x failed", ch.fid)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the mailbox was closed or a backend went away
            log.info("change feed of %s ended: %s", self.owner, exc)

    async def _folder_role(self, fid: int) -> tuple[str | None, str]:
        try:
            f = await self.mbx.get_folder(fid)
            return f.role, f.kind
        except se.StoreError:
            return None, ""

    def _row(self, mid: int) -> dict | None:
        try:
            return self.mbx.message_row(self.mbx.ident.globcnt_of(mid))
        except se.StoreError:
            return None

    async def _classify(self, ch) -> None:
        now = datetime.now(timezone.utc)
        out: list[tuple] = []
        role, kind = await self._folder_role(ch.fid)
        for _cn, mid, deleted in ch.ordered:
            prev = self.location.get(mid)
            if deleted:
                if prev is not None and prev != ch.fid:
                    continue                      # already reported as moved out of here
                row = self._row(mid)
                if row is not None and self.mbx.ident.fid(row["fid"]) != ch.fid:
                    dest = self.mbx.ident.fid(row["fid"])
                    out.append(("MovedEvent", mid, dest, ch.fid))
                    self.location[mid] = dest
                    self.moved.add(mid)
                else:
                    out.append(("DeletedEvent", mid, ch.fid, None))
                    self.location.pop(mid, None)
                continue
            if prev is None and self.mbx.moved_from(mid) is not None:
                # moved before this feed saw it where it was: still a move (the source's tombstone
                # batch, if it comes later, is skipped above)
                self.location[mid] = ch.fid
                out.append(("MovedEvent", mid, ch.fid, self.mbx.moved_from(mid)))
                continue
            if prev is None:
                self.location[mid] = ch.fid
                out.append(("CreatedEvent", mid, ch.fid, None))
                row = self._row(mid)
                draft = row is not None and "\\draft" in (row.get("flags") or "").lower()
                if kind == "imap" and role not in NOT_NEW_MAIL_ROLES and not draft:
                    out.append(("NewMailEvent", mid, ch.fid, None))
            elif prev != ch.fid:
                self.location[mid] = ch.fid
                out.append(("MovedEvent", mid, ch.fid, prev))
            elif mid in self.moved:
                self.moved.discard(mid)           # the arrival of an item already reported as moved
            else:
                out.append(("ModifiedEvent", mid, ch.fid, None))
        for sub_ in self.registry.of_owner(self.owner):
            for ev_kind, mid, parent, old in out:
                sub_.add(ev_kind, now, mid, parent, old)

    def stop(self) -> None:
        self.task.cancel()


class Registry:
    def __init__(self):
        self.subs: dict[str, Subscription] = {}
        self.feeds: dict[str, Feed] = {}

    def of_owner(self, owner: str) -> list[Subscription]:
        return [s for s in self.subs.values() if s.owner == owner]

    def ensure_feed(self, owner: str, mbx) -> Feed:
        feed = self.feeds.get(owner)
        if feed is None or not feed.alive or feed.mbx is not mbx:
            if feed is not None:
                feed.stop()
            feed = self.feeds[owner] = Feed(self, owner, mbx)
        return feed

    def sweep(self) -> None:
        now = time.monotonic()
        for sid in [sid for sid, s in self.subs.items() if s.expired(now)]:
            self.subs.pop(sid, None)
        for owner in [o for o in self.feeds if not self.of_owner(o)]:
            self.feeds.pop(owner).stop()

    def get(self, ctx: EwsContext, sid: str | None) -> Subscription:
        self.sweep()
        s = self.subs.get((sid or "").strip())
        if s is None or s.owner != _owner(ctx):
            raise ResponseError("ErrorSubscriptionNotFound", "The subscription was not found or has expired.")
        return s


_REGISTRIES: dict[int, tuple[weakref.ref, Registry]] = {}


def registry_for(state) -> Registry:
    found = _REGISTRIES.get(id(state))
    if found is None or found[0]() is not state:
        found = (weakref.ref(state), Registry())
        _REGISTRIES[id(state)] = found
    return found[1]


def _owner(ctx: EwsContext) -> str:
    return ctx.user.email.lower()


# ------------------------------------------------------------------ writing events (MS-OXWSNTIF 2.2.4)

def write_notification(parent, ctx: EwsContext, s: Subscription, events: list[Event], previous: int,
                       more: bool = False):
    n = sub(parent, m("Notification"))
    sub(n, t("SubscriptionId"), s.id)
    if s.mode == "pull":
        sub(n, t("PreviousWatermark"), encode_watermark(previous))
        sub(n, t("MoreEvents"), more)
    if not events and s.mode == "pull":
        st = sub(n, t("StatusEvent"))
        sub(st, t("Watermark"), encode_watermark(s.last_seq))
    for ev in events:
        el = sub(n, t(ev.kind))
        sub(el, t("Watermark"), encode_watermark(ev.seq))
        sub(el, t("TimeStamp"), format_datetime(ev.timestamp))
        ck = None
        if ev.kind != "DeletedEvent":
            try:
                row = ctx.mbx.message_row(ctx.mbx.ident.globcnt_of(ev.mid))
                ck = ewsids.encode_change_key(ctx.mbx.ident.change_key(row["cn"]), "item")
            except se.StoreError:
                ck = None
        sub(el, t("ItemId"), Id=ctx.item_id(ev.mid), ChangeKey=ck)
        sub(el, t("ParentFolderId"), Id=ctx.folder_id(ev.parent_fid))
        if ev.old_parent_fid is not None:
            sub(el, t("OldItemId"), Id=ctx.item_id(ev.mid))
            sub(el, t("OldParentFolderId"), Id=ctx.folder_id(ev.old_parent_fid))
    return n


# ------------------------------------------------------------------ Subscribe / Unsubscribe

async def _folders_of(ctx: EwsContext, req) -> frozenset[int] | None:
    if (req.get("SubscribeToAllFolders") or "").lower() in ("true", "1"):
        return None
    refs = read_folder_refs(child(req, "FolderIds"))
    if not refs:
        raise ResponseError("ErrorInvalidSubscriptionRequest", "FolderIds or SubscribeToAllFolders is required.")
    return frozenset([(await ctx.folder(r)).fid for r in refs])


async def subscribe(ctx: EwsContext):
    body = ctx.req.body
    req = next((c for c in children(body) if c.tag.endswith("SubscriptionRequest")), None)

    async def one(_, el):
        if req is None:
            raise ResponseError("ErrorInvalidSubscriptionRequest", "The request names no subscription kind.")
        kind = req.tag.rsplit("}", 1)[-1]
        if kind == "PushSubscriptionRequest":
            raise ResponseError("ErrorInvalidOperation", "Push subscriptions are not supported by this server; "
                                                         "use pull or streaming subscriptions.")
        types = frozenset((c.text or "").strip() for c in children(child(req, "EventTypes")))
        bad = types - EVENT_TYPES
        if not types or bad:
            raise ResponseError("ErrorInvalidSubscriptionRequest", f"Unknown event types: {', '.join(sorted(bad))}"
                                if bad else "EventTypes is required.")
        folders = await _folders_of(ctx, req)
        mode = "streaming" if kind == "StreamingSubscriptionRequest" else "pull"
        if mode == "pull":
            try:
                minutes = int(text(req, "Timeout") or "30")
            except ValueError:
                raise ResponseError("ErrorInvalidSubscriptionRequest", "Timeout must be a number of minutes.")
            if not 1 <= minutes <= 1440:
                raise ResponseError("ErrorInvalidSubscriptionRequest", "Timeout must be 1 to 1440 minutes.")
            timeout = minutes * 60.0
        else:
            timeout = STREAMING_IDLE_SECONDS
        reg = registry_for(ctx.state)
        reg.sweep()
        s = Subscription(base64.b64encode(uuid.uuid4().bytes).decode("ascii"), _owner(ctx), mode, folders, types,
                         timeout)
        reg.subs[s.id] = s
        reg.ensure_feed(s.owner, ctx.mbx)
        sub(el, m("SubscriptionId"), s.id)
        if mode == "pull":
            sub(el, m("Watermark"), encode_watermark(0))
    return await for_each(ctx, [None], one)


async def unsubscribe(ctx: EwsContext):
    async def one(body, el):
        reg = registry_for(ctx.state)
        s = reg.get(ctx, text(body, "SubscriptionId"))
        reg.subs.pop(s.id, None)
        s.stream_token = None       # a streaming connection on it ends at its next wake-up
        s.wake.set()
        reg.sweep()
    return await for_each(ctx, [ctx.req.body], one)


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
        s.events = [e for e in s.events if e.seq > wm]      # what the client has seen is acknowledged
        batch = s.events[:MAX_EVENTS_PER_CALL]
        write_notification(el, ctx, s, batch, wm, more=len(s.events) > len(batch))
    return await for_each(ctx, [None], one)


# ------------------------------------------------------------------ GetStreamingEvents

def _stream_envelope(ctx: EwsContext, notifications: list[tuple[Subscription, list[Event]]], status: str) -> bytes:
    root, messages = response_root("GetStreamingEvents")
    el = message(messages, "GetStreamingEvents")
    if notifications:
        container = sub(el, m("Notifications"))
        for s, events in notifications:
            write_notification(container, ctx, s, events, 0)
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
