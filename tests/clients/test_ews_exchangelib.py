"""exchangelib (a real EWS client) against the running gateway: the embedded demo stack and the real servers.

exchangelib is synchronous; it runs in a worker thread (asyncio.to_thread) while the gateway serves
in the test's event loop.
"""
from __future__ import annotations

import asyncio
import imaplib
import time
import uuid

import pytest
from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials, Folder, Mailbox, Message
from exchangelib.errors import ErrorInvalidIdMalformed, ErrorItemNotFound
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter

BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter


def account(gw, login="alice", password=None) -> Account:
    email = f"{login}@example.test"
    cred = Credentials(email, password or f"{login}pw")
    cfg = Configuration(service_endpoint=gw.base_url + "/EWS/Exchange.asmx", credentials=cred, auth_type=BASIC)
    return Account(email, config=cfg, autodiscover=False, access_type=DELEGATE)


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def _folders_and_paging(gw):
    a = account(gw)
    assert a.root.name
    names = {f.name for f in a.root.walk()}
    assert {"Inbox", "Sent Items", "Drafts", "Deleted Items"} <= names
    assert a.inbox.name == "Inbox"
    # seed a few messages so both stacks have enough to page over
    tag = uuid.uuid4().hex[:8]
    for i in range(5):
        Message(account=a, folder=a.inbox, subject=f"page {tag} {i}", body=f"body {i}",
                to_recipients=[Mailbox(email_address="bob@example.test")]).save()
    a.inbox.refresh()
    total = a.inbox.total_count
    assert total >= 5
    everything = list(a.inbox.all().only("subject").order_by("-datetime_received"))
    assert len(everything) == total
    qs = a.inbox.all().only("subject")
    qs.page_size = 2
    paged = list(qs)
    assert len(paged) == total
    mine = list(a.inbox.filter(subject__contains=tag))
    assert len(mine) == 5
    return total


async def test_folders_and_inbox_paging(gw):
    assert await asyncio.to_thread(_folders_and_paging, gw) >= 5


def _message_lifecycle(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    m = Message(account=a, folder=a.drafts, subject=f"draft {tag}", body="first body",
                to_recipients=[Mailbox(email_address="bob@example.test")])
    m.save()
    got = a.drafts.get(id=m.id)
    assert got.subject == f"draft {tag}" and "first body" in got.body
    assert [r.email_address for r in got.to_recipients] == ["bob@example.test"]
    got.subject = f"draft {tag} edited"
    got.is_read = False
    got.categories = ["Blue", "Project X"]
    got.save(update_fields=["subject", "is_read", "categories"])
    again = a.drafts.get(id=m.id)
    assert again.subject == f"draft {tag} edited"
    assert again.is_read is False
    assert set(again.categories or []) == {"Blue", "Project X"}
    # a stale change key is refused
    from exchangelib.errors import ErrorIrresolvableConflict
    stale = Message(account=a, folder=a.drafts, id=m.id, changekey=m.changekey, subject="stale write")
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(update_fields=["subject"], conflict_resolution="NeverOverwrite")
    # move to a new folder, then delete
    f = Folder(parent=a.inbox, name=f"sub {tag}")
    f.save()
    again.move(f)
    moved = list(f.all())
    assert [x.subject for x in moved] == [f"draft {tag} edited"]
    moved[0].delete()
    assert list(f.all()) == []
    f.delete()
    with pytest.raises(ErrorItemNotFound):
        a.inbox.get(id=m.id)


async def test_message_lifecycle(gw):
    await asyncio.to_thread(_message_lifecycle, gw)


def _send_and_receive(gw, imap_host, imap_port):
    a = account(gw)
    tag = uuid.uuid4().hex
    Message(account=a, folder=a.sent, subject=f"hello bob {tag}", body="sent through EWS",
            to_recipients=[Mailbox(email_address="bob@example.test")]).send_and_save()
    sent = list(a.sent.filter(subject=f"hello bob {tag}"))
    assert len(sent) == 1
    deadline = time.time() + 30
    while time.time() < deadline:
        with imaplib.IMAP4(imap_host, imap_port) as im:
            im.login("bob", "bobpw")
            im.select("INBOX")
            typ, data = im.search(None, "SUBJECT", f'"{tag}"')
            if data and data[0].split():
                return True
        time.sleep(0.5)
    return False


async def test_send_with_sent_items_copy(gw):
    cfg = gw.state.config.imap
    assert await asyncio.to_thread(_send_and_receive, gw, cfg.host, cfg.port)


def _sync(gw):
    a = account(gw)
    # items: full sync, then one new message shows up as the only change
    first = list(a.inbox.sync_items(only_fields=["subject"], sync_state=None, max_changes_returned=3))
    state = a.inbox.item_sync_state
    assert state and any(kind == "create" for kind, _ in first)
    again = list(a.inbox.sync_items(only_fields=["subject"]))
    assert again == []
    tag = uuid.uuid4().hex[:8]
    m = Message(account=a, folder=a.inbox, subject=f"sync {tag}", body="x")
    m.save()
    changes = list(a.inbox.sync_items(only_fields=["subject"]))
    assert [(k, getattr(i, "subject", None)) for k, i in changes] == [("create", f"sync {tag}")]
    m.delete()
    changes = list(a.inbox.sync_items(only_fields=["subject"]))
    assert [k for k, _ in changes] == ["delete"]
    # hierarchy: a new folder appears as a create
    list(a.root.sync_hierarchy())
    f = Folder(parent=a.inbox, name=f"hier {tag}")
    f.save()
    changes = list(a.root.sync_hierarchy())
    assert ("create", f"hier {tag}") in [(k, getattr(x, "name", None)) for k, x in changes]
    f.delete()
    changes = list(a.root.sync_hierarchy())
    assert "delete" in [k for k, _ in changes]


async def test_sync_items_and_hierarchy(gw):
    await asyncio.to_thread(_sync, gw)


def _resolve(gw):
    a = account(gw)
    res = a.protocol.resolve_names(["bo"], return_full_contact_data=False)
    names = [getattr(r, "name", None) for r in res]
    return names


async def test_resolve_names(gw):
    names = await asyncio.to_thread(_resolve, gw)
    assert "Bob Baker" in names


def _errors(gw):
    a = account(gw)
    with pytest.raises(ErrorInvalidIdMalformed):
        a.inbox.get(id="bm90IGFuIGlk", changekey="x")
    # after an error the session keeps working
    return a.inbox.total_count


async def test_bad_id_is_an_error_response(gw):
    assert await asyncio.to_thread(_errors, gw) >= 0


def _sorted_restricted_pages(gw, imap_host, imap_port):
    """What a user sees in a message list: another mail program's messages, newest first, page by page,
    and the ones matching a search, in the order asked for (sorted and restricted in the store's index)."""
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    subjects = [f"list {tag} {i} {'Report' if i % 2 else 'note'}" for i in range(6)]
    with imaplib.IMAP4(imap_host, imap_port) as im:
        im.login("alice", "alicepw")
        for i, subject in enumerate(subjects):
            msg = (f"From: Else <else@example.org>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
                   f"Date: Mon, 0{i + 1} Jun 2026 09:00:00 +0000\r\n\r\nhello\r\n").encode()
            when = imaplib.Time2Internaldate(1780304400 + i * 86400)     # 1 Jun 2026 + i days
            assert im.append("INBOX", "(\\Seen)" if i == 0 else None, when, msg)[0] == "OK"
    mine = a.inbox.filter(subject__contains=tag).only("subject", "datetime_received")
    newest = list(mine.order_by("-datetime_received"))
    assert [m.subject for m in newest] == subjects[::-1]
    paged = mine.order_by("-datetime_received")
    paged.page_size = 2
    assert [m.subject for m in paged] == subjects[::-1]
    by_subject = [m.subject for m in mine.order_by("subject")]
    assert by_subject == sorted(subjects, key=str.lower)
    reports = [m.subject for m in a.inbox.filter(subject__icontains=f"{tag} 3 REPORT").only("subject")]
    assert reports == [subjects[3]]
    unread = [m.subject for m in mine.filter(is_read=False).order_by("datetime_received")]
    assert unread == subjects[1:]
    return True


async def test_sorted_and_restricted_pages(gw):
    cfg = gw.state.config.imap
    assert await asyncio.to_thread(_sorted_restricted_pages, gw, cfg.host, cfg.port)
