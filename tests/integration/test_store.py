"""The store against real backends: Dovecot + Radicale + Postfix (+ slapd), and the embedded demo stack.

What the store does must be visible to plain IMAP/CalDAV clients, what plain
clients do must show up in the store, and ids must survive a restart.
"""
from __future__ import annotations

import asyncio
import base64
import imaplib
import re
import uuid
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from gateway.store import Mailbox, MessageContent, NotFound, Recipient, StateDB, SubmitFailed
from gateway.store.factory import Credentials, open_mailbox
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PidNameKeywords

from .conftest import USERS

pytestmark = pytest.mark.integration

ROLES = {"root", "ipm_subtree", "inbox", "sent", "deleted", "drafts", "junk", "outbox", "calendar", "tasks",
         "contacts", "notes", "journal", "common_views", "finder", "views", "shortcuts", "schedule",
         "deferred_action", "spooler_queue"}


def creds(login: str) -> Credentials:
    u = USERS[login]
    return Credentials(u.login, u.email, u.display_name, u.password)


async def open_for(cfg, login="alice", db=None) -> Mailbox:
    db = db or StateDB.open(cfg.state.dsn)
    return await open_mailbox(db, cfg, creds(login))


def plain_imap(cfg, login="alice") -> imaplib.IMAP4:
    conn = imaplib.IMAP4(cfg.imap.host, cfg.imap.port, timeout=15)
    conn.login(login, USERS[login].password)
    return conn


def imap_subjects(cfg, folder: str, login="alice") -> list[str]:
    conn = plain_imap(cfg, login)
    try:
        typ, _ = conn.select(f'"{folder}"', readonly=True)
        assert typ == "OK", folder
        typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = []
        for part in data:
            if isinstance(part, tuple):
                m = re.search(rb"Subject: ([^\r\n]*)", part[1])
                if m:
                    subjects.append(m.group(1).decode().strip())
        return subjects
    finally:
        conn.logout()


def imap_append(cfg, folder: str, subject: str, login="alice") -> None:
    u = USERS[login]
    msg = (f"From: Someone Else <else@example.org>\r\nTo: {u.display_name} <{u.email}>\r\nSubject: {subject}\r\n"
           f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <{uuid.uuid4()}@example.org>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello from another client\r\n")
    conn = plain_imap(cfg, login)
    try:
        typ, _ = conn.append(f'"{folder}"', None, None, msg.encode())
        assert typ == "OK"
    finally:
        conn.logout()


def note(subject: str, to: str = "bob@example.test", body: str = "Body text") -> MessageContent:
    return MessageContent(
        {P.PidTagMessageClass: "IPM.Note", P.PidTagSubject: subject, P.PidTagBody: body},
        [Recipient({P.PidTagRecipientType: P.MAPI_TO, P.PidTagDisplayName: to.split("@")[0].title(),
                    P.PidTagEmailAddress: to, P.PidTagSmtpAddress: to, P.PidTagAddressType: "SMTP"})])


async def test_folders_in_exchange_shape(backend):
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        folders = await mbx.folders()
        by_role = {f.role: f for f in folders if f.role}
        assert ROLES <= set(by_role), ROLES - set(by_role)
        ipm = by_role["ipm_subtree"]
        for role in ("inbox", "sent", "deleted", "drafts", "junk", "outbox", "calendar", "tasks", "contacts",
                     "notes", "journal"):
            assert by_role[role].parent_fid == ipm.fid, role
        assert by_role["ipm_subtree"].parent_fid == by_role["root"].fid
        assert by_role["inbox"].display_name == "Inbox"
        assert by_role["sent"].display_name == "Sent Items"
        assert by_role["calendar"].container_class == "IPF.Appointment"
        assert by_role["contacts"].container_class == "IPF.Contact"
        assert by_role["tasks"].container_class == "IPF.Task"
        assert by_role["notes"].container_class == "IPF.StickyNote"
        assert by_role["inbox"].props[P.PidTagEntryId] == mbx.ident.folder_entryid(by_role["inbox"].globcnt)
        assert mbx.resolve_entryid(by_role["inbox"].props[P.PidTagEntryId]) == ("folder", by_role["inbox"].fid)
        assert by_role["common_views"].props[P.PidTagAttributeHidden] is True
        # counts come from the backends (IMAP STATUS) without listing the folder first
        status_total = await mbx.backends.imap.status("INBOX")
        assert by_role["inbox"].props[P.PidTagContentCount] == status_total.exists
        inbox = by_role["inbox"]
        before = inbox.props[P.PidTagContentCount]
        await mbx.create_item(inbox.fid, note(f"count {uuid.uuid4()}"))
        assert (await mbx.get_folder(inbox.fid, counts=True)).props[P.PidTagContentCount] == before + 1
    finally:
        await mbx.close()


async def test_other_clients_append_shows_up_and_store_writes_are_visible(backend):
    kind, cfg = backend
    subject = f"external {uuid.uuid4()}"
    await asyncio.to_thread(imap_append, cfg, "INBOX", subject)
    mbx = await open_for(cfg)
    try:
        inbox = await mbx.folder_by_role("inbox")
        items = await mbx.list_items(inbox.fid)
        mine = [i for i in items if i.props.get(P.PidTagSubject) == subject]
        assert len(mine) == 1
        assert mine[0].props[P.PidTagSenderSmtpAddress] == "else@example.org"
        assert mine[0].props[P.PidTagMessageFlags] & P.MSGFLAG_READ == 0
        full = await mbx.get_item(mine[0].mid)
        assert "hello from another client" in full.props[P.PidTagBody]

        created_subject = f"from the store {uuid.uuid4()}"
        created = await mbx.create_item(inbox.fid, note(created_subject))
        assert created.props[P.PidTagSubject] == created_subject
        subjects = await asyncio.to_thread(imap_subjects, cfg, "INBOX")
        assert created_subject in subjects

        # read state goes to IMAP \Seen, and a change gets a new change key
        before = created.props[P.PidTagChangeKey]
        await mbx.set_read([created.mid], True)
        again = await mbx.get_item(created.mid)
        assert again.props[P.PidTagMessageFlags] & P.MSGFLAG_READ
        assert again.props[P.PidTagChangeKey] != before
    finally:
        await mbx.close()


async def test_ids_survive_a_restart(backend, tmp_path):
    kind, cfg = backend
    subject = f"stable {uuid.uuid4()}"
    await asyncio.to_thread(imap_append, cfg, "INBOX", subject)
    db = StateDB.open(cfg.state.dsn)
    mbx = await open_for(cfg, db=db)
    folders1 = {f.role or f.ref: (f.fid, f.props[P.PidTagSourceKey]) for f in await mbx.folders()}
    inbox = await mbx.folder_by_role("inbox")
    item1 = [i for i in await mbx.list_items(inbox.fid) if i.props.get(P.PidTagSubject) == subject][0]
    cal = await mbx.folder_by_role("calendar")
    cal_items1 = {i.props.get(P.PidTagSubject): i.mid for i in await mbx.list_items(cal.fid)}
    await mbx.close()
    db.close()

    db = StateDB.open(cfg.state.dsn)  # a new gateway process on the same state database
    mbx = await open_for(cfg, db=db)
    try:
        folders2 = {f.role or f.ref: (f.fid, f.props[P.PidTagSourceKey]) for f in await mbx.folders()}
        assert folders2 == folders1
        inbox = await mbx.folder_by_role("inbox")
        item2 = [i for i in await mbx.list_items(inbox.fid) if i.props.get(P.PidTagSubject) == subject][0]
        assert item2.mid == item1.mid
        assert item2.props[P.PidTagEntryId] == item1.props[P.PidTagEntryId]
        assert item2.props[P.PidTagChangeKey] == item1.props[P.PidTagChangeKey]
        cal_items2 = {i.props.get(P.PidTagSubject): i.mid for i in await mbx.list_items(cal.fid)}
        assert cal_items2 == cal_items1
    finally:
        await mbx.close()
        db.close()


async def test_move_keeps_identity_and_delete_removes(backend):
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        ipm = await mbx.folder_by_role("ipm_subtree")
        name = f"Projects-{uuid.uuid4().hex[:6]}"
        projects = await mbx.create_folder(ipm.fid, name)
        assert projects.kind == "imap" and projects.parent_fid == ipm.fid
        inbox = await mbx.folder_by_role("inbox")
        subject = f"to move {uuid.uuid4()}"
        item = await mbx.create_item(inbox.fid, note(subject))
        since = mbx.changes_since(inbox.fid, 0).last_cn
        moved = await mbx.move_items([item.mid], projects.fid)
        assert moved == {item.mid: item.mid}
        assert subject in await asyncio.to_thread(imap_subjects, cfg, projects.ref)
        assert subject not in await asyncio.to_thread(imap_subjects, cfg, "INBOX")
        assert item.mid in mbx.changes_since(inbox.fid, since).deleted
        assert mbx.moved_from(item.mid) == inbox.fid
        again = await mbx.get_item(item.mid)
        assert again.fid == projects.fid and again.props[P.PidTagSubject] == subject
        # a rename shows over IMAP under the new name
        renamed = await mbx.rename_folder(projects.fid, name + "-renamed")
        assert renamed.ref.endswith(name + "-renamed")
        assert subject in await asyncio.to_thread(imap_subjects, cfg, renamed.ref)
        await mbx.delete_items([item.mid])
        assert subject not in await asyncio.to_thread(imap_subjects, cfg, renamed.ref)
        with pytest.raises(NotFound):
            await mbx.get_item(item.mid)
        await mbx.delete_folder(renamed.fid)
        assert renamed.fid not in {f.fid for f in await mbx.folders()}
    finally:
        await mbx.close()


def dav_get(cfg, href: str, login="alice") -> tuple[int, str]:
    import urllib.request
    u = USERS[login]
    url = cfg.dav.url.rstrip("/") + href if href.startswith("/") else href
    req = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(f"{u.login}:{u.password}".encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


async def test_event_create_move_delete_visible_over_caldav(backend):
    kind, cfg = backend
    from protocols.mapi.props import by_name
    mbx = await open_for(cfg)
    try:
        cal = await mbx.folder_by_role("calendar")
        start = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
        subject = f"Planning {uuid.uuid4().hex[:6]}"
        content = MessageContent({
            P.PidTagMessageClass: "IPM.Appointment", P.PidTagSubject: subject,
            by_name("PidLidAppointmentStartWhole"): start,
            by_name("PidLidAppointmentEndWhole"): start + timedelta(hours=1),
            by_name("PidLidLocation"): "Room 1",
        })
        ev = await mbx.create_item(cal.fid, content)
        assert ev.kind == "dav"
        row = mbx.message_row(ev.globcnt)
        status, text = await asyncio.to_thread(dav_get, cfg, row["href"])
        assert status == 200 and subject in text and "Room 1" in text
        listed = {i.props.get(P.PidTagSubject) for i in await mbx.list_items(cal.fid)}
        assert subject in listed
        # to Deleted Items: the gateway keeps it (an IMAP folder cannot hold an appointment), same MID
        deleted = await mbx.folder_by_role("deleted")
        moved = await mbx.move_items([ev.mid], deleted.fid)
        assert moved[ev.mid] == ev.mid
        status, _ = await asyncio.to_thread(dav_get, cfg, row["href"])
        assert status == 404
        kept = await mbx.get_item(ev.mid)
        assert kept.fid == deleted.fid and kept.props[P.PidTagSubject] == subject
        await mbx.delete_items([ev.mid])
        with pytest.raises(NotFound):
            await mbx.get_item(ev.mid)
    finally:
        await mbx.close()


async def test_seeded_items_read_with_properties(embedded, tmp_path):
    """The demo's seed data (embedded stack) reads back with its properties."""
    from .conftest import embedded_config
    cfg = embedded_config(embedded, str(tmp_path / "state.sqlite3"))
    mbx = await open_for(cfg, "bob")
    try:
        inbox = await mbx.folder_by_role("inbox")
        items = await mbx.list_items(inbox.fid)
        assert len(items) >= 6
        with_att = [i for i in items if i.props.get(P.PidTagHasAttachments)]
        assert with_att, "the seed has messages with attachments"
        full = await mbx.get_item(with_att[0].mid)
        assert full.content.attachments
        cal = await mbx.folder_by_role("calendar")
        events = await mbx.list_items(cal.fid)
        from protocols.mapi.props import by_name
        recurring = [e for e in events if e.props.get(by_name("PidLidRecurring"))]
        assert recurring, "the seed has a recurring meeting"
        contacts = await mbx.list_items((await mbx.folder_by_role("contacts")).fid)
        assert len(contacts) >= 4
        tasks = await mbx.list_items((await mbx.folder_by_role("tasks")).fid)
        assert len(tasks) >= 3
    finally:
        await mbx.close()


async def test_gateway_kept_items_and_associated_messages(backend):
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        notes = await mbx.folder_by_role("notes")
        n = await mbx.create_item(notes.fid, MessageContent({P.PidTagMessageClass: "IPM.StickyNote",
                                                              P.PidTagSubject: "remember", P.PidTagBody: "milk"}))
        assert (await mbx.get_item(n.mid)).props[P.PidTagBody] == "milk"
        inbox = await mbx.folder_by_role("inbox")
        view = await mbx.create_item(inbox.fid, MessageContent({P.PidTagMessageClass: "IPM.Microsoft.FolderDesign",
                                                                 P.PidTagSubject: "view"}), associated=True)
        fai = await mbx.list_items(inbox.fid, associated=True)
        assert [i.mid for i in fai] == [view.mid]
        assert view.mid not in {i.mid for i in await mbx.list_items(inbox.fid)}
        # categories: on IMAP keywords when the server keeps them, else in the state database
        m = await mbx.create_item(inbox.fid, note(f"cats {uuid.uuid4()}"))
        await mbx.update_item(m.mid, {PidNameKeywords: ["Blue", "Red Category"]})
        # (IMAP keywords are a set: the order of categories is not kept)
        assert sorted((await mbx.get_item(m.mid)).props[PidNameKeywords]) == ["Blue", "Red Category"]
        await mbx.delete_items([m.mid])
    finally:
        await mbx.close()


async def test_send_reaches_recipient_unreachable_queues_and_refusal_keeps_the_message(backend):
    kind, cfg = backend
    alice = await open_for(cfg, "alice")
    try:
        drafts = await alice.folder_by_role("drafts")
        subject = f"lunch {uuid.uuid4().hex[:8]}"
        draft = await alice.create_item(drafts.fid, note(subject, "bob@example.test"))
        sent = await alice.submit(draft.mid)
        assert sent is not None and sent.fid == (await alice.folder_by_role("sent")).fid
        assert subject in await asyncio.to_thread(imap_subjects, cfg, (await alice.folder_by_role("sent")).ref)
        assert subject not in await asyncio.to_thread(imap_subjects, cfg, drafts.ref)
        for _ in range(50):
            if subject in await asyncio.to_thread(imap_subjects, cfg, "INBOX", "bob"):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the message did not reach bob's INBOX")

        # a server that cannot be reached does not fail the send: the message waits in the Outbox,
        # queued for another try (gateway/store/outbox.py; tests/integration/test_outbox.py follows it on)
        from gateway.backends.smtp import SmtpSubmission
        from gateway.store.outbox import queued_messages
        from tests.servers.common import free_port
        good_smtp = alice.backends.smtp
        alice.backends.smtp = SmtpSubmission("127.0.0.1", free_port(), timeout=5)  # nothing listens there
        try:
            bad = await alice.create_item(drafts.fid, note(f"unsent {uuid.uuid4().hex[:8]}", "bob@example.test"))
            waiting = await alice.submit(bad.mid)
        finally:
            alice.backends.smtp = good_smtp
        outbox = await alice.folder_by_role("outbox")
        assert waiting is not None and waiting.mid == bad.mid and waiting.fid == outbox.fid
        (queued,) = queued_messages(alice)
        # short and true: not "refused", no host, port or errno
        assert queued.last_error == "the mail server could not be reached; try again later"
        assert bad.props[P.PidTagSubject] in await asyncio.to_thread(imap_subjects, cfg, outbox.ref)
        assert bad.props[P.PidTagSubject] not in await asyncio.to_thread(imap_subjects, cfg, drafts.ref)
        await alice.delete_items([bad.mid])
        if kind == "dovecot":  # Postfix refuses relaying to an outside domain
            refused = await alice.create_item(drafts.fid, note(f"relay {uuid.uuid4().hex[:8]}", "x@elsewhere.example"))
            with pytest.raises(SubmitFailed) as info:
                await alice.submit(refused.mid)
            assert str(info.value).startswith("the mail server refused the message (5")   # Postfix's own words
            assert "127.0.0.1" not in str(info.value)
            kept = await alice.get_item(refused.mid)
            assert kept.fid == drafts.fid
            assert "fail" in kept.props.get(P.PidTagComment, "").lower()
            assert refused.globcnt not in {q.mid for q in queued_messages(alice)}
    finally:
        await alice.close()


async def test_change_source_sees_another_clients_append(backend):
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        inbox = await mbx.folder_by_role("inbox")
        await mbx.list_items(inbox.fid)
        subject = f"pushed {uuid.uuid4()}"

        async def first_change():
            async for ch in mbx.watch():
                if ch.fid == inbox.fid and ch.changed:
                    return ch

        waiter = asyncio.create_task(first_change())
        await asyncio.sleep(0.5)
        await asyncio.to_thread(imap_append, cfg, "INBOX", subject)
        ch = await asyncio.wait_for(waiter, 20)
        subjects = {(await mbx.get_item(m)).props.get(P.PidTagSubject) for m in ch.changed}
        assert subject in subjects
    finally:
        await mbx.close()


async def test_state_on_postgresql(dovecot, radicale, postfix, slapd, postgres_dsn):
    from .conftest import real_config
    cfg = real_config(dovecot, radicale, postfix, slapd, postgres_dsn)
    db = StateDB.open(postgres_dsn)
    assert db.dialect == "postgres"
    mbx = await open_for(cfg, "carol", db=db)
    inbox = await mbx.folder_by_role("inbox")
    item = await mbx.create_item(inbox.fid, note(f"pg {uuid.uuid4()}"))
    await mbx.close()
    db.close()
    db = StateDB.open(postgres_dsn)
    mbx = await open_for(cfg, "carol", db=db)
    try:
        assert (await mbx.folder_by_role("inbox")).fid == inbox.fid
        again = await mbx.get_item(item.mid)
        assert again.props[P.PidTagSubject] == item.props[P.PidTagSubject]
        await mbx.delete_items([item.mid])
    finally:
        await mbx.close()
        db.close()


async def test_replace_content_keeps_the_mid_and_get_mime(backend):
    """A whole item replaced (new recipient and attachment): the backend holds the new version, same MID."""
    from gateway.store import Attachment
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        inbox = await mbx.folder_by_role("inbox")
        subject = f"replace {uuid.uuid4().hex[:8]}"
        item = await mbx.create_item(inbox.fid, note(subject))
        content = (await mbx.get_item(item.mid)).content
        content.recipients.append(Recipient({P.PidTagRecipientType: P.MAPI_CC, P.PidTagDisplayName: "Carol",
                                             P.PidTagSmtpAddress: "carol@example.test",
                                             P.PidTagEmailAddress: "carol@example.test",
                                             P.PidTagAddressType: "SMTP"}))
        content.attachments.append(Attachment({P.PidTagAttachMethod: P.ATTACH_BY_VALUE,
                                               P.PidTagAttachLongFilename: "notes.txt",
                                               P.PidTagAttachMimeTag: "text/plain",
                                               P.PidTagAttachDataBinary: b"attached text"}))
        stale = item.props[P.PidTagChangeKey]
        await mbx.set_read([item.mid])
        from gateway.store import Conflict
        with pytest.raises(Conflict):
            await mbx.replace_content(item.mid, content, change_key=stale)
        new = await mbx.replace_content(item.mid, content)
        assert new.mid == item.mid
        assert [a.props[P.PidTagAttachLongFilename] for a in new.content.attachments] == ["notes.txt"]
        assert {r.props.get(P.PidTagSmtpAddress) for r in new.content.recipients} >= {"carol@example.test"}
        assert new.props[P.PidTagMessageFlags] & P.MSGFLAG_READ  # flags survive the replacement
        mime = await mbx.get_mime(item.mid)
        assert subject.encode() in mime and b"notes.txt" in mime and b"\r\n" in mime
        assert (await asyncio.to_thread(imap_subjects, cfg, "INBOX")).count(subject) == 1
        await mbx.delete_items([item.mid])
    finally:
        await mbx.close()


async def test_new_contact_gets_a_vcard_uid(backend):
    from protocols.mapi.props.contact import PidNameExgateVCardUid
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        contacts = await mbx.folder_by_role("contacts")
        c = await mbx.create_item(contacts.fid, MessageContent({
            P.PidTagMessageClass: "IPM.Contact", P.PidTagDisplayName: "Una Uid", P.PidTagGivenName: "Una",
            P.PidTagSurname: "Uid"}))
        href = mbx.message_row(c.globcnt)["href"]
        status, text = await asyncio.to_thread(dav_get, cfg, href)
        assert status == 200 and "UID:" in text and "Una" in text
        assert c.props[PidNameExgateVCardUid] in href
        await mbx.delete_items([c.mid])
    finally:
        await mbx.close()


def dav_put(cfg, href: str, body: str, login="alice") -> int:
    import urllib.request
    u = USERS[login]
    url = cfg.dav.url.rstrip("/") + href if href.startswith("/") else href
    req = urllib.request.Request(url, data=body.encode(), method="PUT", headers={
        "Authorization": "Basic " + base64.b64encode(f"{u.login}:{u.password}".encode()).decode(),
        "Content-Type": "text/calendar; charset=utf-8"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


async def test_kept_properties_give_way_to_another_clients_edit(backend):
    """What iCalendar can't hold is kept by the gateway, for as long as the server's copy is the one
    the gateway wrote: once another CalDAV client changes the event, the server's version wins."""
    kind, cfg = backend
    from protocols.mapi.props import by_name
    from protocols.mapi.props.named import PS_PUBLIC_STRINGS, name
    from protocols.mapi.types import PropType as T
    extra = name(PS_PUBLIC_STRINGS, "ExgateTestOnlyInMapi", T.String)
    mbx = await open_for(cfg)
    try:
        cal = await mbx.folder_by_role("calendar")
        start = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
        subject = f"Kept {uuid.uuid4().hex[:6]}"
        ev = await mbx.create_item(cal.fid, MessageContent({
            P.PidTagMessageClass: "IPM.Appointment", P.PidTagSubject: subject,
            by_name("PidLidAppointmentStartWhole"): start,
            by_name("PidLidAppointmentEndWhole"): start + timedelta(hours=1), extra: "mapi only"}))
        assert (await mbx.get_item(ev.mid)).props.get(extra) == "mapi only"
        # our own edit keeps it
        await mbx.update_item(ev.mid, {P.PidTagSubject: subject + " (moved)"})
        got = await mbx.get_item(ev.mid)
        assert got.props.get(extra) == "mapi only" and got.props[P.PidTagSubject] == subject + " (moved)"
        assert got.props[P.PidTagNormalizedSubject] == subject + " (moved)"
        assert "ExgateTestOnlyInMapi" not in (await asyncio.to_thread(dav_get, cfg, mbx.message_row(ev.globcnt)["href"]))[1]
        # another client rewrites the event: the server's copy is the truth now
        href = mbx.message_row(ev.globcnt)["href"]
        status, ics = await asyncio.to_thread(dav_get, cfg, href)
        assert status == 200
        ics = re.sub(r"SUMMARY:[^\r\n]*", f"SUMMARY:{subject} (edited elsewhere)", ics)
        assert await asyncio.to_thread(dav_put, cfg, href, ics) in (200, 201, 204)
        got = await mbx.get_item(ev.mid)
        assert got.props[P.PidTagSubject] == got.props[P.PidTagNormalizedSubject] == f"{subject} (edited elsewhere)"
        assert extra not in got.props
        listed = {i.props.get(P.PidTagSubject): i for i in await mbx.list_items(cal.fid)}
        assert extra not in listed[f"{subject} (edited elsewhere)"].props
        await mbx.delete_items([ev.mid])
    finally:
        await mbx.close()
