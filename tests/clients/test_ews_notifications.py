"""EWS notifications with exchangelib on both stacks: pull and streaming subscriptions see mail delivered over SMTP.

The message goes to the backend's own SMTP server (aiosmtpd of the demo stack, Postfix of the real set), not
through the gateway, so the event can only come from the store's change source (IMAP NOTIFY/IDLE).
"""
from __future__ import annotations

import asyncio
import smtplib
import threading
import time
import uuid
from email.message import EmailMessage

import pytest
from exchangelib.errors import ErrorSubscriptionNotFound
from exchangelib.properties import CreatedEvent, DeletedEvent, ModifiedEvent, MovedEvent, NewMailEvent

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
    from exchangelib import Folder, Message
    tag = uuid.uuid4().hex[:8]
    f = Folder(parent=a.inbox, name=f"notify {tag}")
    f.save()
    from exchangelib.folders import FolderCollection
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
    _, p = await call(demo_gateway, '<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId '
                                    'Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType>'
                                    '</t:EventTypes><t:StatusFrequency>1</t:StatusFrequency><t:URL>https://x/</t:URL>'
                                    '</m:PushSubscriptionRequest></m:Subscribe>')
    assert codes(p) == ["ErrorInvalidOperation"]
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
