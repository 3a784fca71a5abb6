"""EWS notification codec (MS-OXWSNTIF): SendNotification envelopes, push URL checks and retry times,
and the hierarchy classification of the store's change source."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from exchangelib.properties import CopiedEvent, ModifiedEvent, MovedEvent, StatusEvent
from exchangelib.services import SendNotification
from lxml import etree

from gateway.ews import push
from gateway.store.changes import FolderEvent, classify_hierarchy
from gateway.store.objects import Folder
from protocols.ews import notification as w
from protocols.ews.ns import M, T, local
from protocols.ews.responses import ResponseError

TS = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _sample() -> w.Notification:
    return w.Notification("c3ViLTE=", "RVhXTQAAAAAAAAAA", False, [
        w.NotificationEvent("CopiedEvent", "wm1", TS, item_id=w.Id("copy", "CQAAAA=="), parent_folder_id=w.Id("f2"),
                            old_item_id=w.Id("orig"), old_parent_folder_id=w.Id("f1")),
        w.NotificationEvent("MovedEvent", "wm2", TS, folder_id=w.Id("f3"), parent_folder_id=w.Id("f2"),
                            old_folder_id=w.Id("f3"), old_parent_folder_id=w.Id("f1")),
        w.NotificationEvent("ModifiedEvent", "wm3", TS, folder_id=w.Id("f2"), parent_folder_id=w.Id("root"),
                            unread_count=4),
        w.NotificationEvent("DeletedEvent", "wm4", TS, item_id=w.Id("gone"), parent_folder_id=w.Id("f1")),
    ])


def test_send_notification_envelope_layout():
    """m:SendNotification/m:ResponseMessages/m:SendNotificationResponseMessage (MS-OXWSNTIF 3.1.4.4.2)."""
    root = etree.fromstring(w.build_send_notification(_sample()))
    assert local(root) == "Envelope"
    header, body = list(root)
    assert header[0].tag == f"{{{T}}}RequestServerVersion" and header[0].get("Version")
    op = body[0]
    assert op.tag == f"{{{M}}}SendNotification"
    (msgs,) = list(op)
    assert msgs.tag == f"{{{M}}}ResponseMessages"
    (msg,) = list(msgs)
    assert msg.tag == f"{{{M}}}SendNotificationResponseMessage" and msg.get("ResponseClass") == "Success"
    assert [local(c) for c in msg] == ["ResponseCode", "Notification"]
    assert msg[0].text == "NoError"
    n = msg[1]
    assert n.tag == f"{{{M}}}Notification"
    assert [c.tag for c in n][:3] == [f"{{{T}}}SubscriptionId", f"{{{T}}}PreviousWatermark", f"{{{T}}}MoreEvents"]
    assert [local(c) for c in n][3:] == ["CopiedEvent", "MovedEvent", "ModifiedEvent", "DeletedEvent"]
    # types.xsd sequence order: Watermark, TimeStamp, ItemId|FolderId, ParentFolderId, Old*, UnreadCount
    assert [local(c) for c in n[3]] == ["Watermark", "TimeStamp", "ItemId", "ParentFolderId", "OldItemId",
                                        "OldParentFolderId"]
    assert [local(c) for c in n[4]] == ["Watermark", "TimeStamp", "FolderId", "ParentFolderId", "OldFolderId",
                                        "OldParentFolderId"]
    assert [local(c) for c in n[5]] == ["Watermark", "TimeStamp", "FolderId", "ParentFolderId", "UnreadCount"]
    assert n[3][1].text == "2024-01-02T03:04:05Z"
    assert n[3][2].get("ChangeKey") == "CQAAAA==" and n[6][2].get("ChangeKey") is None


def test_send_notification_round_trip():
    sample = _sample()
    (back,) = w.parse_send_notification(w.build_send_notification(sample))
    assert back == sample


def test_exchangelib_reads_our_send_notification():
    """A push client built on exchangelib parses what the gateway POSTs."""
    status = w.Notification("sid", "wm0", False, [w.NotificationEvent("StatusEvent", "wm0")])
    got = list(SendNotification(protocol=None).parse(w.build_send_notification(_sample())))
    assert len(got) == 1 and got[0].subscription_id == "c3ViLTE=" and got[0].more_events is False
    copied, moved, modified, deleted = got[0].events
    assert isinstance(copied, CopiedEvent) and copied.item_id.id == "copy" and copied.old_item_id.id == "orig"
    assert copied.old_parent_folder_id.id == "f1" and copied.parent_folder_id.id == "f2"
    assert isinstance(moved, MovedEvent) and moved.folder_id.id == "f3" and moved.old_folder_id.id == "f3"
    assert moved.item_id is None and moved.event_type == "folder"
    assert isinstance(modified, ModifiedEvent) and modified.unread_count == 4 and modified.folder_id.id == "f2"
    assert deleted.item_id.id == "gone"
    (st,) = list(SendNotification(protocol=None).parse(w.build_send_notification(status)))
    assert isinstance(st.events[0], StatusEvent) and st.events[0].watermark == "wm0"


def test_subscription_status_answers():
    ws = SendNotification(protocol=None)
    assert w.parse_send_notification_result(ws.ok_payload()) == "OK"
    assert w.parse_send_notification_result(ws.unsubscribe_payload()) == "Unsubscribe"
    assert w.parse_send_notification_result(w.build_send_notification_result("Unsubscribe")) == "Unsubscribe"
    with pytest.raises(ValueError):
        w.build_send_notification_result("Maybe")
    for bad in (b"", b"<html>hi</html>", b"not xml <",
                w.build_send_notification(_sample()),          # a request is no answer
                ws.ok_payload().replace(b">OK<", b">Sure<")):
        with pytest.raises(w.NotificationError):
            w.parse_send_notification_result(bad)
    with pytest.raises(w.NotificationError):
        w.parse_send_notification(ws.ok_payload())


def test_push_url_checks():
    assert push.check_push_url(" https://client.example.com/ews ", ["*"]) == "https://client.example.com/ews"
    assert push.check_push_url("http://127.0.0.1:8080/cb", ["*"]) == "http://127.0.0.1:8080/cb"
    for bad in ("ftp://client.example.com/", "file:///etc/passwd", "https://", "client.example.com/cb", "",
                None, "http://host:notaport/"):
        with pytest.raises(ResponseError) as err:
            push.check_push_url(bad, ["*"])
        assert err.value.code == "ErrorInvalidPushSubscriptionUrl"
    allowed = ["push.example.com", "*.clients.example.org"]
    assert push.check_push_url("https://PUSH.example.com/x", allowed)
    assert push.check_push_url("https://a.b.clients.example.org/x", allowed)
    for refused in ("https://127.0.0.1/x", "https://clients.example.org/x", "https://evil-push.example.com/x"):
        with pytest.raises(ResponseError):
            push.check_push_url(refused, allowed)
    with pytest.raises(ResponseError):
        push.check_push_url("https://push.example.com/", [])


def test_push_retry_times_follow_exchange():
    """30 s, then doubling, while within StatusFrequency minutes (the EWS StatusFrequency reference table)."""
    assert push.retry_times(1) == [30.0, 60.0]
    assert push.retry_times(30) == [30.0, 60.0, 120.0, 240.0, 480.0, 960.0]
    assert push.retry_times(1, first=0.5, minute=2.0) == [0.5, 1.0, 2.0]


def _f(fid: int, parent: int | None, name: str = "x") -> Folder:
    return Folder(fid, fid, parent, None, "imap", name, name, "IPF.Note", 1)


def test_classify_hierarchy():
    before = {1: _f(1, None), 2: _f(2, 1), 3: _f(3, 2, "old"), 4: _f(4, 2), 5: _f(5, 1)}
    after = {1: _f(1, None), 2: _f(2, 1), 3: _f(3, 2, "new"), 4: _f(4, 5), 6: _f(6, 2)}
    got = classify_hierarchy(before, after, changed=[3, 4, 6, 7], deleted=[5, 8])
    assert got == [FolderEvent("modified", 3, 2), FolderEvent("moved", 4, 5, 2), FolderEvent("created", 6, 2),
                   FolderEvent("deleted", 5, 1)]


async def test_expired_subscriptions_stop_their_feed_without_a_request(monkeypatch):
    """A pull subscription nobody asks about any more ends when it expires, and its feed (the IMAP
    watcher) stops with it, without waiting for some later request to sweep."""
    import asyncio

    from gateway.ews import notifications as n

    class StubFeed:
        alive, stopped = True, False

        def stop(self):
            self.stopped = True

    monkeypatch.setattr(n, "SWEEP_SECONDS", 0.05)
    reg = n.Registry()
    feed = reg.feeds["alice@example.test"] = StubFeed()
    reg.subs["s1"] = n.Subscription("s1", "alice@example.test", "pull", None, frozenset({"NewMailEvent"}), 0.01)
    reg._ensure_janitor()
    for _ in range(40):
        if feed.stopped:
            break
        await asyncio.sleep(0.05)
    assert feed.stopped and not reg.subs and not reg.feeds
    await reg.close()
