"""The Outbox queue's pure parts: which SMTP failures are queued, the retry schedule, the
non-delivery report, and the queue table in a state database migrated from schema 1."""
from __future__ import annotations

import email
import email.policy
import sqlite3
import time
from datetime import datetime, timedelta, timezone

from gateway.backends.base import BackendError
from gateway.backends.smtp import SmtpRefused, SmtpReply
from gateway.store.mailbox import provision
from gateway.store.outbox import RetryPolicy, non_delivery_report
from gateway.store.state.db import SCHEMA_VERSION, StateDB
from gateway.store.state.queue import SubmitQueue
from gateway.store.submit import _failure


def test_what_is_temporary():
    down = _failure(BackendError("SMTP 127.0.0.1:1: connection refused", "unavailable"))
    assert down.temporary and str(down) == "the mail server could not be reached; try again later"
    assert _failure(ConnectionResetError()).temporary
    later = _failure(SmtpRefused("RCPT TO", [SmtpReply(451, "4.3.0 try later", "bob@example.test")]))
    assert later.temporary and "(451 4.3.0 try later (bob@example.test))" in str(later)
    never = _failure(SmtpRefused("RCPT TO", [SmtpReply(554, "5.7.1 Relay access denied", "x@y.example")]))
    assert not never.temporary and str(never).startswith("the mail server refused the message (554")
    mixed = _failure(SmtpRefused("RCPT TO", [SmtpReply(451, "later", "a@b"), SmtpReply(550, "no", "c@d")]))
    assert not mixed.temporary                     # one recipient refused for good: the client must fix it
    assert not _failure(BackendError("SMTP AUTH as alice refused: 535", "auth")).temporary


def test_retry_schedule_repeats_its_last_delay():
    p = RetryPolicy((60.0, 120.0, 300.0), 86400.0)
    assert [p.delay(n) for n in (1, 2, 3, 4, 10)] == [60.0, 120.0, 300.0, 300.0, 300.0]


def test_non_delivery_report_is_rfc3464():
    original = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: Lunch \xc3\xa9\r\n"
                b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n")
    arrival = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
    raw = non_delivery_report(original, sender="alice@example.test", recipients=["bob@example.test"],
                              subject="Lunch é", reason="the mail server could not be reached; try again later",
                              expired=True, arrival=arrival, when=arrival + timedelta(hours=24))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(msg["Subject"]) == "Undeliverable: Lunch é"
    assert msg["From"].addresses[0].addr_spec == "postmaster@example.test"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content_type() == "multipart/report" and msg.get_param("report-type") == "delivery-status"
    text, status, attached = msg.get_payload()
    assert "bob@example.test" in text.get_content() and "24 hours" in text.get_content()
    per_message, per_rcpt = status.get_payload()
    assert per_message["Reporting-MTA"] == "dns; exgate"
    assert (per_rcpt["Action"], per_rcpt["Status"]) == ("failed", "4.4.7")
    assert per_rcpt["Final-Recipient"] == "rfc822; bob@example.test"
    assert attached.get_content_type() == "message/rfc822"
    assert attached.get_payload()[0]["Subject"] == "Lunch é"
    refused = non_delivery_report(original, sender="alice@example.test", recipients=["bob@example.test"],
                                  subject="x", reason="the mail server refused the message (550 5.1.1 no such user)",
                                  expired=False, arrival=arrival)
    assert b"Status: 5.1.1" in refused


def test_queue_table_added_to_a_schema_1_database(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = StateDB.open(path)
    ident = provision(db, "alice@example.test")
    db.execute("DROP TABLE outbox_queue")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.close()
    db = StateDB.open(path)                                # migrates
    try:
        assert db.one("SELECT value FROM meta WHERE key = 'schema_version'") == (str(SCHEMA_VERSION),)
        now = time.time()
        q = SubmitQueue(db)
        q.add(ident.mailbox_id, 77, login="alice", save_fid=None, queued_at=now, next_try=now + 60, reason="down")
        (entry,) = q.due(now + 60)
        assert (entry.owner, entry.mid, entry.attempts) == ("alice@example.test", 77, 1)
        assert q.claim(entry, now + 400) and not q.claim(entry, now + 400)
        assert q.due(now + 60) == []
    finally:
        db.close()
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM outbox_queue").fetchone() == (1,)
