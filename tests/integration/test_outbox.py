"""The Outbox queue (gateway/store/outbox.py): a send the SMTP server cannot take waits in the Outbox,
is retried, lands in Sent Items once accepted, and comes back with a non-delivery report after the
retry window. On the real servers (Dovecot + Postfix) and the embedded demo stack."""
from __future__ import annotations

import asyncio
import email
import imaplib
import socket
import time
import uuid
from dataclasses import replace

import pytest

from gateway.backends.smtp import SmtpSubmission
from gateway.store import NotFound, StateDB
from gateway.store.factory import open_mailbox
from gateway.store.outbox import OutboxWorker, RetryPolicy, mailbox_opener, queued_messages
from gateway.store.state.queue import SubmitQueue
from protocols.mapi.props import core as P

from .conftest import USERS, embedded_config
from .test_store import creds, imap_subjects, note

pytestmark = pytest.mark.integration


def closed_port() -> int:
    """A port in 25000-25999 where nothing listens."""
    for port in range(25000 + uuid.uuid4().int % 900, 26000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 25000-25999")


def smtp_down(cfg):
    return replace(cfg, smtp=replace(cfg.smtp, port=closed_port()))


async def wait_for_subject(cfg, folder: str, subject: str, login: str, seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.2)):
        if subject in await asyncio.to_thread(imap_subjects, cfg, folder, login):
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"{subject!r} did not reach {login}'s {folder}")


def raw_with_subject(cfg, folder: str, subject: str, login="alice") -> bytes:
    conn = imaplib.IMAP4(cfg.imap.host, cfg.imap.port, timeout=15)
    conn.login(login, USERS[login].password)
    try:
        conn.select(f'"{folder}"', readonly=True)
        typ, data = conn.uid("SEARCH", "SUBJECT", f'"{subject}"')
        uids = data[0].split()
        assert typ == "OK" and uids, (folder, subject)
        typ, data = conn.uid("FETCH", uids[-1], "(BODY.PEEK[])")
        return next(part[1] for part in data if isinstance(part, tuple))
    finally:
        conn.logout()


async def test_queued_while_smtp_is_down_then_sent_or_returned(backend):
    kind, cfg = backend
    down = smtp_down(cfg)
    db = StateDB.open(cfg.state.dsn)
    alice = await open_mailbox(db, down, creds("alice"))     # its SMTP points where nothing listens
    try:
        drafts, outbox, sent, inbox = [await alice.folder_by_role(r) for r in ("drafts", "outbox", "sent", "inbox")]
        subject = f"queued {uuid.uuid4().hex[:8]}"
        draft = await alice.create_item(drafts.fid, note(subject, "bob@example.test"))
        got = await alice.submit(draft.mid)
        # queued, as Exchange does: no error, the message (same MID) waits in the Outbox
        assert got is not None and got.mid == draft.mid and got.fid == outbox.fid
        assert [q.mid for q in queued_messages(alice)] == [draft.globcnt]
        assert subject in await asyncio.to_thread(imap_subjects, cfg, outbox.ref)
        assert subject not in await asyncio.to_thread(imap_subjects, cfg, drafts.ref)

        # the server is back: the worker's next pass after the first delay sends it
        alice.backends.smtp = SmtpSubmission(cfg.smtp.host, cfg.smtp.port, timeout=10)
        worker = OutboxWorker(db, mailbox_opener(db, cfg, {alice.email: alice}.get), RetryPolicy())
        assert await worker.run_once() == []                  # not due yet
        done = await worker.run_once(now=time.time() + 61)
        assert [outcome for _, outcome in done] == ["sent"]
        assert queued_messages(alice) == []
        assert (await alice.get_item(draft.mid)).fid == sent.fid
        assert subject in await asyncio.to_thread(imap_subjects, cfg, sent.ref)
        assert subject not in await asyncio.to_thread(imap_subjects, cfg, outbox.ref)
        await wait_for_subject(cfg, "INBOX", subject, "bob")

        # a second one, with the server down past the retry window: back in Drafts, a report in the Inbox
        alice.backends.smtp = SmtpSubmission("127.0.0.1", closed_port(), timeout=5)
        subject2 = f"never sent {uuid.uuid4().hex[:8]}"
        second = await alice.create_item(drafts.fid, note(subject2, "bob@example.test"))
        assert (await alice.submit(second.mid)).fid == outbox.fid
        # a pass before the window's end only reschedules it
        done = await worker.run_once(now=time.time() + 61)
        assert [outcome for _, outcome in done] == ["retry"]
        assert queued_messages(alice)[0].attempts == 2
        if kind == "embedded":
            # master login ([imap] auth = "master"): a worker opens the mailbox itself; its SMTP is down too
            worker = OutboxWorker(db, mailbox_opener(db, smtp_down(cfg)))
        done = await worker.run_once(now=time.time() + 24 * 3600 + 1)
        assert [outcome for _, outcome in done] == ["returned"]
        assert queued_messages(alice) == []
        back = await alice.get_item(second.mid)
        assert back.fid == drafts.fid
        assert "could not be reached" in back.props.get(P.PidTagComment, "")
        ndr_subject = f"Undeliverable: {subject2}"
        assert ndr_subject in [i.props.get(P.PidTagSubject) for i in await alice.list_items(inbox.fid)]
        raw = await asyncio.to_thread(raw_with_subject, cfg, "INBOX", ndr_subject)
        ndr = email.message_from_bytes(raw)
        assert ndr.get_content_type() == "multipart/report"
        assert ndr.get_param("report-type") == "delivery-status"
        assert ndr["From"].startswith("Mail Delivery System <postmaster@")
        parts = [p.get_content_type() for p in ndr.get_payload()]
        assert parts == ["text/plain", "message/delivery-status", "message/rfc822"]
        status = ndr.get_payload()[1].get_payload()
        assert any(b.get("Action") == "failed" and b.get("Final-Recipient") == "rfc822; bob@example.test"
                   for b in status)
        assert ndr.get_payload()[2].get_payload()[0]["Subject"] == subject2
        for item in await alice.list_items(inbox.fid):
            if item.props.get(P.PidTagSubject) == ndr_subject:
                await alice.delete_items([item.mid])
        await alice.delete_items([second.mid])
    finally:
        await alice.close()
        db.close()


async def test_permanent_refusal_is_not_queued(dovecot, radicale, postfix, slapd, tmp_path):
    """Postfix refuses relaying to an outside domain (5xx): an immediate error, nothing queued."""
    from gateway.store import SubmitFailed
    from .conftest import real_config
    cfg = real_config(dovecot, radicale, postfix, slapd, str(tmp_path / "state.sqlite3"))
    db = StateDB.open(cfg.state.dsn)
    alice = await open_mailbox(db, cfg, creds("alice"))
    try:
        drafts = await alice.folder_by_role("drafts")
        refused = await alice.create_item(drafts.fid, note(f"relay {uuid.uuid4().hex[:8]}", "x@elsewhere.example"))
        with pytest.raises(SubmitFailed):
            await alice.submit(refused.mid)
        assert (await alice.get_item(refused.mid)).fid == drafts.fid
        assert queued_messages(alice) == []
        await alice.delete_items([refused.mid])
    finally:
        await alice.close()
        db.close()


async def test_temporary_refusal_is_queued(embedded, tmp_path):
    """A 4xx answer (here to RCPT) is a temporary refusal (RFC 5321 4.2.1): queued, not an error."""
    from aiosmtpd.controller import Controller

    class Later:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "451 4.3.0 try again later"

    port = closed_port()
    ctl = Controller(Later(), hostname="127.0.0.1", port=port)
    ctl.start()
    cfg = embedded_config(embedded, str(tmp_path / "state.sqlite3"))
    db = StateDB.open(cfg.state.dsn)
    alice = await open_mailbox(db, replace(cfg, smtp=replace(cfg.smtp, port=port)), creds("alice"))
    try:
        drafts, outbox = await alice.folder_by_role("drafts"), await alice.folder_by_role("outbox")
        m = await alice.create_item(drafts.fid, note(f"later {uuid.uuid4().hex[:8]}"))
        assert (await alice.submit(m.mid)).fid == outbox.fid
        (q,) = queued_messages(alice)
        assert "451" in q.last_error
        await alice.delete_items([m.mid])
        # a message deleted from the Outbox leaves the queue
        worker = OutboxWorker(db, mailbox_opener(db, cfg, {alice.email: alice}.get))
        assert [o for _, o in await worker.run_once(now=time.time() + 61)] == ["gone"]
        assert queued_messages(alice) == []
    finally:
        await alice.close()
        db.close()
        ctl.stop()


async def test_queue_survives_a_restart(embedded, tmp_path):
    """The queue is in the state database and the message in IMAP: a new process (new database
    connection, mailbox opened by the worker through the master login) sends it."""
    cfg = embedded_config(embedded, str(tmp_path / "state.sqlite3"))
    db = StateDB.open(cfg.state.dsn)
    alice = await open_mailbox(db, smtp_down(cfg), creds("alice"))
    subject = f"after restart {uuid.uuid4().hex[:8]}"
    try:
        drafts = await alice.folder_by_role("drafts")
        m = await alice.create_item(drafts.fid, note(subject))
        queued = await alice.submit(m.mid)
        assert queued.fid == (await alice.folder_by_role("outbox")).fid
        # EWS SendOnly: no copy is kept once it is sent
        no_copy = await alice.create_item(drafts.fid, note(f"no copy {uuid.uuid4().hex[:8]}"))
        await alice.update_item(no_copy.mid, {P.PidTagDeleteAfterSubmit: True})
        assert (await alice.submit(no_copy.mid)).fid == queued.fid
    finally:
        await alice.close()
        db.close()

    db = StateDB.open(cfg.state.dsn)                         # "restart"
    try:
        q, _ = SubmitQueue(db).all()
        assert (q.owner, q.login, q.mid) == ("alice@example.test", "alice", queued.globcnt)
        worker = OutboxWorker(db, mailbox_opener(db, cfg))     # nobody signed in: the master login opens it
        done = await worker.run_once(now=time.time() + 61)
        assert [o for _, o in done] == ["sent", "sent"]
        assert SubmitQueue(db).all() == []
        alice = await open_mailbox(db, cfg, creds("alice"))
        try:
            item = await alice.get_item(queued.mid)
            assert item.fid == (await alice.folder_by_role("sent")).fid
            assert item.props[P.PidTagSubject] == subject
            with pytest.raises(NotFound):
                await alice.get_item(no_copy.mid)
            assert no_copy.props[P.PidTagSubject] not in await asyncio.to_thread(
                imap_subjects, cfg, (await alice.folder_by_role("sent")).ref)
        finally:
            await alice.close()
    finally:
        db.close()
    await wait_for_subject(cfg, "INBOX", subject, "bob")


async def test_queue_table_on_postgresql(postgres_dsn):
    """The queue's SQL on PostgreSQL: add, claim (once), reschedule, survive a reconnect, remove."""
    from gateway.store.mailbox import provision
    db = StateDB.open(postgres_dsn)
    owner = f"queue-{uuid.uuid4().hex[:8]}@example.test"
    try:
        ident = provision(db, owner, "Queue Test")
        q = SubmitQueue(db)
        now = time.time()
        q.add(ident.mailbox_id, 0x123456, login="queue", save_fid=None, queued_at=now, next_try=now + 60,
              reason="the mail server could not be reached; try again later")
        assert q.due(now) == [] or all(e.owner != owner for e in q.due(now))
        (entry,) = [e for e in q.due(now + 61) if e.owner == owner]
        assert q.claim(entry, now + 400) and not q.claim(entry, now + 400)
        q.reschedule(entry, now + 120, "again")
    finally:
        db.close()
    db = StateDB.open(postgres_dsn)
    try:
        q = SubmitQueue(db)
        (entry,) = q.for_mailbox(ident.mailbox_id)
        assert (entry.attempts, entry.last_error, entry.next_try) == (2, "again", pytest.approx(now + 120))
        q.remove(ident.mailbox_id, entry.mid)
        assert q.for_mailbox(ident.mailbox_id) == []
        db.execute("DELETE FROM mailboxes WHERE id = ?", (ident.mailbox_id,))
    finally:
        db.close()
