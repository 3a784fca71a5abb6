"""EWS notifications with exchangelib on both stacks: pull, push and streaming subscriptions see mail delivered
over SMTP; folder events (EWS and plain IMAP), CopiedEvent; push retries, Unsubscribe answers, allowed hosts.

The message goes to the backend's own SMTP server (aiosmtpd of the demo stack, Postfix of the real set), not
through the gateway, so the event can only come from the store's change source (IMAP NOTIFY/IDLE).
"""
from __future__ import annotations

import asyncio
import contextlib
import re
import imaplib
import smtplib
import threading
import time
import uuid
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from exchangelib import Folder, Message
from exchangelib.errors import ErrorSubscriptionNotFound
from exchangelib.folders import FolderCollection
from exchangelib.properties import (CopiedEvent, CreatedEvent, DeletedEvent, ModifiedEvent, MovedEvent, NewMailEvent,
                                    StatusEvent)
from exchangelib.services import SendNotification

from gateway.ews import push
from gateway.ews.notifications import registry_for
from protocols.ews.ns import child, text

from .test_ews_exchangelib import account, gw  # noqa: F401  (fixture)
from .test_ews_soap import call, codes, messages


def deliver(gw, to: str, subject: str) -> None:
    cfg = gw.state.config.smtp
    msg = EmailMessage()
    msg["From"] = "carol@example.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("delivered over SMTP")
    with smtplib.SMTP(cfg.host, cfg.port, timeout=10) as s:
        s.send_message(msg)


def _subject_of(a, item_id) -> str | None:
    got = list(a.fetch(ids=[(item_id.id, item_id.changekey)], only_fields=["subject"]))
    return getattr(got[0], "subject", None) if got else None


def _pull(gw):
    a = account(gw, "bob")
    tag = uuid.uuid4().hex[:10]
    sid, watermark = a.inbox.subscribe_to_pull(event_types=["NewMailEvent", "CreatedEvent", "ModifiedEvent",
                                                            "DeletedEvent", "MovedEvent"], timeout=5)
    # nothing happened yet: a StatusEvent only, with a watermark to continue from
    first = list(a.inbox.get_events(sid, watermark))
    assert not [e for n in first for e in n.events if not type(e).__name__ == "StatusEvent"]
    watermark = first[-1].events[-1].watermark if first and first[-1].events else watermark
    time.sleep(1.0)   # the change source is watching now
    deliver(gw, "bob@example.test", f"pull {tag}")
    seen = []
    deadline = time.time() + 30
    new_mail = None
    while time.time() < deadline and new_mail is None:
        for n in a.inbox.get_events(sid, watermark):
            for e in n.events:
                watermark = e.watermark or watermark
                seen.append(e)
                if isinstance(e, NewMailEvent) and _subject_of(a, e.item_id) == f"pull {tag}":
                    new_mail = e
        time.sleep(0.5)
    assert new_mail is not None, [type(e).__name__ for e in seen]
    assert any(isinstance(e, CreatedEvent) and e.item_id.id == new_mail.item_id.id for e in seen)
    assert new_mail.parent_folder_id.id == a.inbox.id
    # marking it read is a modification; deleting it a deletion (one at a time: changes the
    # change source sees together collapse, a flag change followed by an expunge is just a deletion)
    item = a.inbox.get(id=new_mail.item_id.id)
    kinds = set()

    def wait_for(kind):
        nonlocal watermark
        deadline = time.time() + 30
        while time.time() < deadline and kind not in kinds:
            for n in a.inbox.get_events(sid, watermark):
                for e in n.events:
                    watermark = e.watermark or watermark
                    if getattr(e, "item_id", None) is not None and e.item_id.id == new_mail.item_id.id:
                        kinds.add(type(e))
            time.sleep(0.5)
        assert kind in kinds, kinds

    item.is_read = True
    item.save(update_fields=["is_read"])
    wait_for(ModifiedEvent)
    item.delete()
    wait_for(DeletedEvent)
    a.inbox.unsubscribe(sid)
    with pytest.raises(ErrorSubscriptionNotFound):
        list(a.inbox.get_events(sid, watermark))
    return True


async def test_pull_subscription_sees_smtp_delivery(gw):
    assert await asyncio.to_thread(_pull, gw)


def _streaming(gw):
    a = account(gw, "bob")
    tag = uuid.uuid4().hex[:10]
    sent_at = []

    def later():
        time.sleep(2.0)
        sent_at.append(time.time())
        deliver(gw, "bob@example.test", f"stream {tag}")

    with a.inbox.streaming_subscription() as sid:
        threading.Thread(target=later, daemon=True).start()
        for _ in range(3):
            # one notification, then exchangelib closes the stream and frees its connection for fetch()
            got = list(a.inbox.get_streaming_events(sid, connection_timeout=1, max_notifications_returned=1))
            arrived = time.time()
            new_mail = [e for n in got for e in n.events if isinstance(e, NewMailEvent)]
            if any(_subject_of(a, e.item_id) == f"stream {tag}" for e in new_mail):
                return arrived - sent_at[0]
    return None


async def test_streaming_subscription_sees_new_mail_within_seconds(gw):
    delay = await asyncio.to_thread(_streaming, gw)
    assert delay is not None, "no NewMailEvent on the stream"
    assert delay < 10, delay


def _moved(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    f = Folder(parent=a.inbox, name=f"notify {tag}")
    f.save()
    both = FolderCollection(account=a, folders=[a.inbox, f])
    sid, wm = both.subscribe_to_pull(event_types=["MovedEvent", "CreatedEvent"], timeout=5, watermark=None)
    try:
        time.sleep(1.0)
        m = Message(account=a, folder=a.inbox, subject=f"move me {tag}", body="x")
        m.save()
        m.move(f)
        found = None
        deadline = time.time() + 30
        while time.time() < deadline and found is None:
            for n in a.inbox.get_events(sid, wm):
                for e in n.events:
                    wm = e.watermark or wm
                    if isinstance(e, MovedEvent) and e.parent_folder_id.id == f.id:
                        found = e
            time.sleep(0.5)
        assert found is not None
        assert found.old_parent_folder_id.id == a.inbox.id
    finally:
        a.inbox.unsubscribe(sid)
        f.delete()
    return True


async def test_subscription_on_two_folders_sees_a_move(demo_gateway):
    assert await asyncio.to_thread(_moved, demo_gateway)


async def test_subscription_errors(demo_gateway):
    _, p = await call(demo_gateway, '<m:GetEvents><m:SubscriptionId>bm8tc3VjaA==</m:SubscriptionId>'
                                    '<m:Watermark>AAAA</m:Watermark></m:GetEvents>')
    assert codes(p) == ["ErrorSubscriptionNotFound"]
    # push: only http(s) URLs with a host
    for url in ("ftp://x/", "https://", "mailto:a@b"):
        _, p = await call(demo_gateway, _push_request(url))
        assert codes(p) == ["ErrorInvalidPushSubscriptionUrl"], url
    _, p = await call(demo_gateway, '<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId '
                                    'Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType>'
                                    '</t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest>'
                                    '</m:Subscribe>')
    assert codes(p) == ["NoError"]
    sid = text(messages(p)[0], "SubscriptionId")
    _, p = await call(demo_gateway, f'<m:GetEvents><m:SubscriptionId>{sid}</m:SubscriptionId>'
                                    '<m:Watermark>bm90IGEgd2F0ZXJtYXJr</m:Watermark></m:GetEvents>')
    assert codes(p) == ["ErrorInvalidWatermark"]
    # someone else cannot read or cancel alice's subscription
    _, p = await call(demo_gateway, f'<m:Unsubscribe><m:SubscriptionId>{sid}</m:SubscriptionId></m:Unsubscribe>',
                      user=("bob@example.test", "bobpw"))
    assert codes(p) == ["ErrorSubscriptionNotFound"]
    _, p = await call(demo_gateway, f'<m:Unsubscribe><m:SubscriptionId>{sid}</m:SubscriptionId></m:Unsubscribe>')
    assert codes(p) == ["NoError"]
    # every folder at once
    _, p = await call(demo_gateway, '<m:Subscribe><m:StreamingSubscriptionRequest SubscribeToAllFolders="true">'
                                    '<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>'
                                    '</m:StreamingSubscriptionRequest></m:Subscribe>')
    assert codes(p) == ["NoError"] and child(messages(p)[0], "Watermark") is None
    sid = text(messages(p)[0], "SubscriptionId")
    _, p = await call(demo_gateway, f'<m:Unsubscribe><m:SubscriptionId>{sid}</m:SubscriptionId></m:Unsubscribe>')
    assert codes(p) == ["NoError"]
    # streaming on an unknown subscription: an ordinary answer, connection closed
    _, p = await call(demo_gateway, '<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>bm8=</t:SubscriptionId>'
                                    '</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout>'
                                    '</m:GetStreamingEvents>')
    assert codes(p) == ["ErrorSubscriptionNotFound"]
    assert text(messages(p)[0], "ConnectionStatus") == "Closed"
    assert child(messages(p)[0], "ErrorSubscriptionIds") is not None


# ------------------------------------------------------------------ push subscriptions


def _push_request(url: str, frequency: int = 1) -> str:
    return ('<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
            '</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>'
            f'<t:StatusFrequency>{frequency}</t:StatusFrequency><t:URL>{url}</t:URL>'
            '</m:PushSubscriptionRequest></m:Subscribe>')


class PushReceiver:
    """A push client's callback: a small aiohttp server on 127.0.0.1:0 that parses each SendNotification
    with exchangelib and answers OK, Unsubscribe or an HTTP error, as ``answer`` says."""

    def __init__(self, answer: str = "OK"):
        self.answer = answer
        self.posts: list[tuple[float, list]] = []     # (arrival, exchangelib Notifications)
        self.arrived = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts.append((time.time(), list(SendNotification(protocol=None).parse(body))))
        self.arrived.set()
        ws = SendNotification(protocol=None)
        if self.answer == "OK":
            return web.Response(body=ws.ok_payload(), content_type="text/xml")
        if self.answer == "Unsubscribe":
            return web.Response(body=ws.unsubscribe_payload(), content_type="text/xml")
        return web.Response(status=500, text="broken client")

    async def __aenter__(self) -> "PushReceiver":
        app = web.Application()
        app.router.add_post("/push", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/push"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()

    def events(self) -> list:
        return [e for _, ns in self.posts for n in ns for e in n.events]

    async def wait_for(self, predicate, timeout: float = 30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events():
                if predicate(e):
                    return e
            self.arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.5)
        return None


async def test_push_subscription_delivers_new_mail_then_unsubscribes(gw, monkeypatch):
    monkeypatch.setattr(push, "MINUTE", 2.0)      # StatusFrequency 1 -> a StatusEvent every 2 s
    a = account(gw, "bob")
    tag = uuid.uuid4().hex[:10]
    async with PushReceiver() as rx:
        monkeypatch.setattr(gw.state.config.ews, "push_allowed_ports", [urlsplit(rx.url).port])
        # (a.inbox is looked up over EWS: in the thread too, never in the loop the gateway runs in)
        sid, watermark = await asyncio.to_thread(
            lambda: a.inbox.subscribe_to_push(callback_url=rx.url, event_types=["NewMailEvent", "CreatedEvent"],
                                              status_frequency=1))
        assert sid and watermark
        # at once: a StatusEvent, so the client knows the callback works
        assert await rx.wait_for(lambda e: isinstance(e, StatusEvent), 10) is not None
        first = rx.posts[0][1][0]
        assert first.subscription_id == sid and first.previous_watermark
        # mail delivered over SMTP: a NewMailEvent for it, in the inbox
        await asyncio.to_thread(deliver, gw, "bob@example.test", f"push {tag}")
        new_mail = None
        deadline = time.time() + 30
        while new_mail is None and time.time() < deadline:
            e = await rx.wait_for(lambda e: isinstance(e, NewMailEvent), 5)
            if e is not None and await asyncio.to_thread(_subject_of, a, e.item_id) == f"push {tag}":
                new_mail = e
            elif e is not None:
                rx.posts.clear()        # an earlier delivery's event: look further
        assert new_mail is not None, [type(e).__name__ for e in rx.events()]
        assert new_mail.parent_folder_id.id == (await asyncio.to_thread(lambda: a.inbox.id))
        # with nothing happening: another StatusEvent after StatusFrequency
        n = len(rx.posts)
        got = await rx.wait_for(lambda e: isinstance(e, StatusEvent) and len(rx.posts) > n, 10)
        assert got is not None
        # the client answers Unsubscribe: the gateway ends the subscription and sends nothing more
        rx.answer = "Unsubscribe"
        n = len(rx.posts)
        await asyncio.to_thread(deliver, gw, "bob@example.test", f"push stop {tag}")
        deadline = time.time() + 30
        while sid in registry_for(gw.state).subs and time.time() < deadline:
            await asyncio.sleep(0.2)
        assert sid not in registry_for(gw.state).subs
        stopped_at = len(rx.posts)
        assert stopped_at > n
        await asyncio.to_thread(deliver, gw, "bob@example.test", f"push after {tag}")
        await asyncio.sleep(5)          # past two StatusFrequency periods
        assert len(rx.posts) == stopped_at
    with pytest.raises(ErrorSubscriptionNotFound):
        await asyncio.to_thread(lambda: a.inbox.unsubscribe(sid))


async def test_push_subscription_dropped_after_failed_retries(demo_gateway, monkeypatch):
    monkeypatch.setattr(push, "MINUTE", 1.0)
    monkeypatch.setattr(push, "RETRY_SECONDS", 0.2)   # retries at 0.2, 0.4 and 0.8 s within the "minute"
    async with PushReceiver(answer="error") as rx:
        monkeypatch.setattr(demo_gateway.state.config.ews, "push_allowed_ports", [urlsplit(rx.url).port])
        _, p = await call(demo_gateway, _push_request(rx.url))
        assert codes(p) == ["NoError"]
        sid = text(messages(p)[0], "SubscriptionId")
        deadline = time.time() + 15
        while sid in registry_for(demo_gateway.state).subs and time.time() < deadline:
            await asyncio.sleep(0.1)
        assert sid not in registry_for(demo_gateway.state).subs
        assert len(rx.posts) == 4        # the first try and three retries, all the same StatusEvent
        await asyncio.sleep(1.5)
        assert len(rx.posts) == 4


async def test_push_allowed_hosts(demo_gateway, monkeypatch):
    monkeypatch.setattr(demo_gateway.state.config.ews, "push_allowed_hosts", ["push.example.test"])
    _, p = await call(demo_gateway, _push_request("http://127.0.0.1:9/push"))
    assert codes(p) == ["ErrorInvalidPushSubscriptionUrl"]
    _, p = await call(demo_gateway, _push_request("https://push.example.test/cb", 1440))
    assert codes(p) == ["NoError"]
    sid = text(messages(p)[0], "SubscriptionId")
    _, p = await call(demo_gateway, f'<m:Unsubscribe><m:SubscriptionId>{sid}</m:SubscriptionId></m:Unsubscribe>')
    assert codes(p) == ["NoError"]
    assert sid not in registry_for(demo_gateway.state).subs


async def test_push_url_ports_credentials_and_per_user_limit(demo_gateway, monkeypatch):
    ews = demo_gateway.state.config.ews
    monkeypatch.setattr(ews, "push_allowed_hosts", ["push.example.test"])
    for url in ("https://user:secret@push.example.test/cb",      # would hand the credentials to the host
                "http://push.example.test:25/cb",                # SMTP port: not an HTTP callback
                "https://push.example.test:6379/cb"):
        _, p = await call(demo_gateway, _push_request(url, 1440))
        assert codes(p) == ["ErrorInvalidPushSubscriptionUrl"], url
    monkeypatch.setattr(ews, "push_max_per_user", 2)
    sids = []
    try:
        for _ in range(2):
            _, p = await call(demo_gateway, _push_request("https://push.example.test/cb", 1440))
            assert codes(p) == ["NoError"]
            sids.append(text(messages(p)[0], "SubscriptionId"))
        _, p = await call(demo_gateway, _push_request("https://push.example.test:8443/cb", 1440))
        assert codes(p) == ["ErrorTooManyObjectsOpened"]
    finally:
        for sid in sids:
            await call(demo_gateway, f'<m:Unsubscribe><m:SubscriptionId>{sid}</m:SubscriptionId></m:Unsubscribe>')
    _, p = await call(demo_gateway, _push_request("https://push.example.test:8443/cb", 1440))
    assert codes(p) == ["NoError"]
    await call(demo_gateway, f'<m:Unsubscribe><m:SubscriptionId>{text(messages(p)[0], "SubscriptionId")}'
                             '</m:SubscriptionId></m:Unsubscribe>')


# ------------------------------------------------------------------ folder events and CopiedEvent


def _poll(a, sid, wm, predicate, timeout=30.0):
    """GetEvents until an event matches; returns (event or None, watermark, every event seen)."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        for n in a.inbox.get_events(sid, wm):
            for e in n.events:
                wm = e.watermark or wm
                seen.append(e)
                if predicate(e):
                    return e, wm, seen
        time.sleep(0.5)
    return None, wm, seen


# A pymap session that has a folder selected when another session renames or deletes it dies without an
# answer (FileNotFoundError in pymap); the gateway's pooled IMAP connection then waits for its 60 s command
# timeout. The feed's sync can meet such a connection, so folder events get that long here.
FOLDER_EVENT_SECONDS = 75.0


def _other_imap_client(cfg, verb: str, name: str) -> None:
    """CREATE or DELETE a folder as another IMAP client would. Dovecot under load has answered a plain
    CREATE with NO once (the test's own request, not the gateway's): such a NO is tried again, and the
    server's words end up in the assertion."""
    said = []
    for _ in range(5):
        with imaplib.IMAP4(cfg.host, cfg.port) as im:
            im.login("alice", "alicepw")
            typ, data = getattr(im, verb)(name)
        if typ == "OK" or (verb == "create" and b"ALREADYEXISTS" in b"".join(data)):
            return
        said.append(b"".join(data).decode(errors="replace"))
        time.sleep(1.0)
    raise AssertionError(f"{verb.upper()} {name}: {said}")


def _folder_events(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    root = a.msg_folder_root
    sid, wm = FolderCollection(account=a, folders=[a.inbox, root]).subscribe_to_pull(
        event_types=["CreatedEvent", "ModifiedEvent", "MovedEvent", "DeletedEvent"], timeout=5)
    try:
        # through EWS: created, renamed, moved, deleted
        f = Folder(parent=a.inbox, name=f"notify ews {tag}")
        f.save()
        e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, CreatedEvent) and e.folder_id is not None
                            and e.folder_id.id == f.id, FOLDER_EVENT_SECONDS)
        assert e is not None, [type(x).__name__ for x in seen]
        assert e.parent_folder_id.id == a.inbox.id and e.item_id is None
        f.name = f"notify renamed {tag}"
        f.save(update_fields=["name"])
        e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, ModifiedEvent) and e.folder_id is not None
                            and e.folder_id.id == f.id, FOLDER_EVENT_SECONDS)
        assert e is not None, [type(x).__name__ for x in seen]
        f.move(root)
        e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, MovedEvent) and e.folder_id is not None
                            and e.folder_id.id == f.id, FOLDER_EVENT_SECONDS)
        assert e is not None, [type(x).__name__ for x in seen]
        assert e.parent_folder_id.id == root.id and e.old_parent_folder_id.id == a.inbox.id
        fid = f.id
        f.delete()              # (exchangelib forgets f.id here)
        e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, DeletedEvent) and e.folder_id is not None
                            and e.folder_id.id == fid, FOLDER_EVENT_SECONDS)
        assert e is not None, [type(x).__name__ for x in seen]
        assert e.parent_folder_id.id == root.id
        # by another IMAP client, straight on the backend: found by the hierarchy sync
        known = {x.id for x in root.walk()}
        name = f"notify-imap-{tag}"
        cfg = gw.state.config.imap
        _other_imap_client(cfg, "create", name)
        e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, CreatedEvent) and e.folder_id is not None
                            and e.folder_id.id not in known, FOLDER_EVENT_SECONDS)
        assert e is not None, [type(x).__name__ for x in seen]
        assert e.parent_folder_id.id == root.id
        created = e.folder_id.id
        a.root.clear_cache()
        assert [x.id for x in a.root.walk() if x.name == name] == [created]
        _other_imap_client(cfg, "delete", name)
        e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, DeletedEvent) and e.folder_id is not None
                            and e.folder_id.id == created, FOLDER_EVENT_SECONDS)
        assert e is not None, [type(x).__name__ for x in seen]
    finally:
        a.inbox.unsubscribe(sid)
    return True


async def test_folder_events_in_pull_subscription(gw):
    assert await asyncio.to_thread(_folder_events, gw)


def _copied(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    f = Folder(parent=a.inbox, name=f"notify copy {tag}")
    f.save()
    sid, wm = FolderCollection(account=a, folders=[a.inbox, f]).subscribe_to_pull(
        event_types=["CopiedEvent", "CreatedEvent", "ModifiedEvent"], timeout=5)
    try:
        time.sleep(1.0)
        m = Message(account=a, folder=a.inbox, subject=f"copy me {tag}", body="x")
        m.save()
        copy_id = m.copy(f)[0]     # (id, changekey)
        e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, CopiedEvent))
        assert e is not None, [type(x).__name__ for x in seen]
        assert e.item_id.id == copy_id != m.id
        assert e.old_item_id.id == m.id
        assert e.parent_folder_id.id == f.id and e.old_parent_folder_id.id == a.inbox.id
        # the folder's own ModifiedEvent with its unread count (the copy is unread)
        e2, wm, seen2 = _poll(a, sid, wm, lambda e: isinstance(e, ModifiedEvent) and e.folder_id is not None
                              and e.folder_id.id == f.id, timeout=5)
        seen += seen2
        assert e2 is not None or any(isinstance(x, ModifiedEvent) and x.folder_id is not None
                                     and x.folder_id.id == f.id for x in seen)
        # the original's creation is reported (its folder's notice may come after the copy's) ...
        if not any(isinstance(x, CreatedEvent) and x.item_id is not None and x.item_id.id == m.id for x in seen):
            e3, wm, seen3 = _poll(a, sid, wm, lambda e: isinstance(e, CreatedEvent) and e.item_id is not None
                                  and e.item_id.id == m.id)
            seen += seen3
            assert e3 is not None, [type(x).__name__ for x in seen]
        # ... the copy's is not: it is the CopiedEvent
        _, wm, seen4 = _poll(a, sid, wm, lambda e: False, timeout=2)
        created = [x.item_id.id for x in seen + seen4 if isinstance(x, CreatedEvent) and x.item_id is not None]
        assert copy_id not in created and m.id in created
        assert a.inbox.get(id=m.id).subject == f"copy me {tag}"
    finally:
        a.inbox.unsubscribe(sid)
        f.delete()
    return True


async def test_copy_item_is_a_copied_event(gw):
    assert await asyncio.to_thread(_copied, gw)


# One user's subscriptions share one feed, and its IMAP watcher holds at most two connections without
# NOTIFY (IDLE on INBOX, STATUS polling of the rest), one with NOTIFY: it used to IDLE on every folder,
# and on the demo's pymap a dozen IDLE sessions made every other user's commands wait.
BOUND_FOLDERS = 10
POLL_MARGIN = 15.0      # over the 5 s poll: a sync, GetEvents every 0.5 s, a busy 2-core machine


def _bound_setup(gw, tag):
    a = account(gw, "carol")
    made = []
    for i in range(BOUND_FOLDERS):
        f = Folder(parent=a.inbox, name=f"bound {tag} {i}")
        f.save()
        made.append(f)
    sub1, _ = a.inbox.subscribe_to_pull(event_types=["NewMailEvent", "CreatedEvent"], timeout=5)
    sub2, wm2 = FolderCollection(account=a, folders=[a.inbox, *made]).subscribe_to_pull(
        event_types=["CreatedEvent", "ModifiedEvent"], timeout=5)
    return a, made, sub1, sub2, wm2


def _bound_append_and_wait(gw, a, made, sid, wm, tag):
    """Another IMAP client appends to one of the folders (only polled without NOTIFY): seen in time."""
    cfg = gw.state.config.imap
    target = made[BOUND_FOLDERS // 2]
    with imaplib.IMAP4(cfg.host, cfg.port) as im:
        im.login("carol", "carolpw")
        names = [re.sub(r'^.*\) (NIL|"[^"]*") ', "", line.decode()).strip('"') for line in im.list()[1] if line]
        name = [n for n in names if n.endswith(target.name)]
        assert len(name) == 1, names
        t0 = time.time()
        typ, _ = im.append(f'"{name[0]}"', None, None,
                           f"Subject: bound {tag}\r\nFrom: a@example.test\r\n\r\nx\r\n".encode())
        assert typ == "OK"
    e, wm, seen = _poll(a, sid, wm, lambda e: isinstance(e, CreatedEvent) and e.item_id is not None
                        and e.parent_folder_id.id == target.id, 5.0 + POLL_MARGIN)
    assert e is not None, [type(x).__name__ for x in seen]
    return time.time() - t0


async def test_a_users_subscriptions_share_one_watcher_with_bounded_connections(gw):
    tag = uuid.uuid4().hex[:6]
    a, made, sub1, sub2, wm2 = await asyncio.to_thread(_bound_setup, gw, tag)
    try:
        reg = registry_for(gw.state)
        feed = reg.feeds["carol@example.test"]
        imap = feed.mbx.backends.imap
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(w._ready.is_set() for w in imap._watchers):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        watchers = list(imap._watchers)
        conns = sum(1 for w in watchers for c in w._conns if not c.closed)
        notify = "NOTIFY" in imap.capabilities
        print(f"\n{'NOTIFY' if notify else 'IDLE+STATUS'}: 2 subscriptions, {BOUND_FOLDERS} extra folders: "
              f"{len([s for s in reg.subs.values() if s.owner == 'carol@example.test'])} subscriptions, "
              f"{len(watchers)} watcher(s), {conns} IMAP connection(s)")
        assert len(watchers) == 1
        assert conns == 1 if notify else conns <= 2
        took = await asyncio.to_thread(_bound_append_and_wait, gw, a, made, sub2, wm2, tag)
        print(f"append by another IMAP client to a non-INBOX folder: CreatedEvent after {took:.1f} s")
        assert sum(1 for w in list(imap._watchers) for c in w._conns if not c.closed) == conns
    finally:
        def cleanup():
            for sid in (sub1, sub2):
                with contextlib.suppress(Exception):
                    a.inbox.unsubscribe(sid)
            for f in made:
                with contextlib.suppress(Exception):
                    f.delete()
        await asyncio.to_thread(cleanup)
