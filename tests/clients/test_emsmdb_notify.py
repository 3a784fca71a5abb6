"""MAPI over HTTP notifications, on both gateways: RopRegisterNotification on the store, an Inbox contents
table open, a NotificationWait pending; mail delivered over SMTP wakes it (EventPending), and the next
Execute carries RopNotify: NewMail and ObjectCreated naming the Inbox and the new message (which opens,
with the subject sent), and TableModified/TableChanged on the table's handle. A NotificationWait with
nothing to report answers EventPending 0 when its wait ends; a wrong-kind registration fails alone."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from gateway.emsmdb import endpoint
from protocols import mapihttp as M
from protocols.mapi.props import core as P
from protocols.rops import folder as F, message as MSG, notify as N, property as PR, table as T
from protocols.rops.common import RegisterNotificationRequest

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_ews_notifications import deliver

ALL_EVENTS = N.NEW_MAIL | N.OBJECT_CREATED | N.OBJECT_DELETED | N.OBJECT_MODIFIED | N.OBJECT_MOVED | N.OBJECT_COPIED


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


async def notification_wait(c: MapiClient) -> tuple[bool, float]:
    t0 = time.monotonic()
    status, headers, data = await c.post("NotificationWait", M.NotificationWaitRequest().encode())
    assert status == 200 and headers["X-ResponseCode"] == "0", (status, headers)
    resp = M.NotificationWaitResponse.decode(M.decode_stream(data).body)
    return resp.event_pending, time.monotonic() - t0


async def test_new_mail_wakes_notification_wait_and_execute_carries_ropnotify(gw, monkeypatch):
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    inbox = lr.folder("inbox")
    got = await c.execute([
        RegisterNotificationRequest(LOGON_ID, 0, 1, ALL_EVENTS, None, 1),
        F.OpenFolderRequest(LOGON_ID, 0, 2, inbox, 0),
        F.GetContentsTableRequest(LOGON_ID, 2, 3, 0),
        T.SetColumnsRequest(LOGON_ID, 3, 0, (P.PidTagMid, P.PidTagSubject)),
        RegisterNotificationRequest(LOGON_ID, 3, 4, N.NEW_MAIL, None, 1),        # a table cannot subscribe
    ], [logon_h, NO, NO, NO, NO])
    reg, opened, table, cols, wrong = got.rops
    assert reg.return_value == 0 and opened.return_value == 0 and table.return_value == 0
    assert wrong.return_value != 0
    sub_h, folder_h, table_h = got.handles[1], got.handles[2], got.handles[3]

    subject = f"notify {uuid.uuid4().hex[:10]}"
    monkeypatch.setattr(endpoint, "NOTIFICATION_WAIT_SECONDS", 5.0)
    try:
        waiting = asyncio.create_task(notification_wait(c))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(deliver, gw, "alice@example.test", subject)
        notes: list = []
        mid = None
        deadline = time.monotonic() + 60
        # other tests' writes to this mailbox may be reported too: wait, drain, until our mail is named
        while time.monotonic() < deadline and (mid := await _named(c, inbox, folder_h, notes, subject)) is None:
            pending, _ = await waiting
            if pending:
                got = await c.execute([T.GetStatusRequest(LOGON_ID, 0)], [table_h])
                notes += got.notes
            waiting = asyncio.create_task(notification_wait(c))
    finally:
        waiting.cancel()
    assert mid is not None, notes
    nm = next(n for n in _of(notes, N.NEW_MAIL) if n.data.message_id == mid)
    assert nm.notification_handle == sub_h and nm.logon_id == LOGON_ID
    assert nm.data.flags & N.FLAG_MESSAGE and nm.data.folder_id == inbox
    assert nm.data.message_class.startswith("IPM.Note")
    assert any(n.data.message_id == mid for n in _of(notes, N.OBJECT_CREATED))
    changed = _of(notes, N.TABLE_MODIFIED)
    assert any(n.notification_handle == table_h and n.data.table_event_type == N.TABLE_CHANGED for n in changed)


def _of(notes, ntype) -> list:
    return [n for n in notes if isinstance(n, N.NotifyResponse) and n.data.type == ntype]


async def _named(c, inbox, folder_h, notes, subject) -> int | None:
    """The MID a NewMail among ``notes`` names when it is the message with ``subject`` (opened to see)."""
    for n in notes:
        if isinstance(n, N.NotifyResponse) and n.data.type == N.NEW_MAIL and n.data.folder_id == inbox:
            got = await c.execute([MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, inbox, 0, n.data.message_id),
                                   PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, (P.PidTagSubject,))],
                                  [folder_h, NO])
            if got.rops[0].return_value == 0 and got.rops[1].row((P.PidTagSubject,)).values == (subject,):
                return n.data.message_id
    return None


async def test_notification_wait_with_nothing_to_say_ends_with_no_event(demo_gateway, monkeypatch):
    monkeypatch.setattr(endpoint, "NOTIFICATION_WAIT_SECONDS", 1.0)
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([RegisterNotificationRequest(LOGON_ID, 0, 1, N.OBJECT_DELETED, None, 0,
                                                       lr.folder("deleted_items"), 0)], [logon_h, NO])
    assert got.rops[0].return_value == 0
    pending, waited = await notification_wait(c)
    assert pending is False and 0.9 <= waited < 10
