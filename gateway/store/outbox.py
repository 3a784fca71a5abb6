"""The Outbox queue: sends the SMTP server could not take yet, tried again with backoff.

``submit_message`` (submit.py) sends at once. When the server cannot be reached or answers with a
temporary refusal (4xx, RFC 5321 4.2.1), the message moves to the user's Outbox (keeping its MID) and a
row goes into the state database's ``outbox_queue``; the client is told the send succeeded, as Exchange
does when its transport queues a message. A permanent refusal (5xx) stays an immediate SubmitFailed.

``OutboxWorker`` tries due messages again after ``RetryPolicy.schedule`` seconds (the last delay
repeats). Once the server takes one it is filed exactly as a direct send is: Sent Items (or the folder
the client asked for), or deleted when PidTagDeleteAfterSubmit is set. When ``RetryPolicy.window``
seconds have passed since the first try, or the server refuses it for good, the message goes back to
Drafts with the reason on it and a non-delivery report (RFC 3464 multipart/report, from the postmaster,
the original attached) is put in the Inbox. Nothing is lost across a restart: the queue is in the state
database and the message stays in IMAP. A message the user takes out of the Outbox (or deletes) leaves
the queue. A crash between the server's acceptance and the row's removal sends it again (at least once).
Every worker process and gateway on one PostgreSQL state runs an OutboxWorker: a due row is claimed by
one of them (a compare-and-set on next_try) and held under an advisory lock (state/pglock.py) for its
whole try, so a try that outlasts the lease is not started again elsewhere.

Reaching a user's mailbox without them: the worker gets an *opener*. ``mailbox_opener`` first uses the
mailbox the gateway already has open for that user (its MailboxCache); otherwise it opens one itself,
which is only possible when the gateway can reach every user's backends without their password:
``[imap] auth = "master"`` (the demo and NTLM deployments), DAV through the proxy login (or no DAV) and
``[smtp] auth = "none"``. With pass-through logins (``[imap] auth = "user"``, or ``[smtp] auth =
"user"``) a queued message is only tried while its owner's mailbox is open in the gateway, i.e. while
they use it; the retry window still runs, and the report is made the next time the mailbox is open.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Awaitable, Callable

from gateway.backends.base import BackendError
from protocols.mapi.props import core as P

from .errors import BackendUnavailable, NotFound, StoreError
from .retry import DEFAULT_SCHEDULE, DEFAULT_WINDOW, RetryPolicy  # noqa: F401 - part of this module's API
from .state.pglock import ProcessLocks
from .state.queue import Queued, SubmitQueue

if TYPE_CHECKING:
    from gateway.config import Config

    from .mailbox import Mailbox
    from .objects import Item
    from .state.db import StateDB

log = logging.getLogger(__name__)


async def enqueue(mbx: "Mailbox", mid: int, *, save_in: int | None, reason: str) -> "Item":
    """Put a message the SMTP server could not take now in the Outbox and in the queue."""
    outbox = await mbx.folder_by_role("outbox")
    g = mbx.ident.globcnt_of(mid)
    if mbx.message_row(g)["fid"] != outbox.globcnt:
        await mbx.move_items([mid], outbox.fid)      # keeps the MID
    policy: RetryPolicy = getattr(mbx, "submit_retry", None) or RetryPolicy()
    now = time.time()
    SubmitQueue(mbx.db).add(mbx.mailbox_id, g, login=getattr(mbx, "login", None) or mbx.email,
                            save_fid=None if save_in is None else mbx.ident.globcnt_of(save_in),
                            queued_at=now, next_try=now + policy.delay(1), reason=reason)
    log.info("%s: message queued in the Outbox (%s); next try in %.0f s", mbx.email, reason, policy.delay(1))
    return await mbx.get_item(mid)


def queued_messages(mbx: "Mailbox") -> list[Queued]:
    return SubmitQueue(mbx.db).for_mailbox(mbx.mailbox_id)


# ---------------------------------------------------------------- the non-delivery report

def _enhanced_status(reason: str, expired: bool) -> str:
    import re
    if expired:
        return "4.4.7"           # RFC 3463: delivery time expired
    m = re.search(r"\(([245])\d\d[ -]([245]\.\d{1,3}\.\d{1,3})", reason)
    if m:
        return m.group(2)
    m = re.search(r"\(([45])\d\d", reason)
    return f"{m.group(1)}.0.0" if m else "5.0.0"


def non_delivery_report(original: bytes, *, sender: str, recipients: list[str], subject: str, reason: str,
                        expired: bool, arrival: datetime, when: datetime | None = None,
                        reporting_mta: str = "exgate") -> bytes:
    """An RFC 3464 report (multipart/report; report-type=delivery-status) of a message that was not sent:
    a human-readable part, the delivery status per recipient, and the original message."""
    when = when or datetime.now(timezone.utc)
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "localhost"
    boundary = f"exgate-ndr-{uuid.uuid4().hex}"
    status = _enhanced_status(reason, expired)
    why = (f"The mail server could not take it for {_span(when - arrival)}, so it was not sent: {reason}."
           if expired else f"The mail server refused it: {reason}.")
    human = (f"Your message did not reach some or all of its recipients.\r\n\r\n"
             f"      Subject: {subject}\r\n      Sent: {format_datetime(arrival)}\r\n\r\n"
             f"It could not be delivered to:\r\n\r\n" + "".join(f"      {r}\r\n" for r in recipients) +
             f"\r\n{why}\r\nThe message is back in your Drafts folder; you can send it again.\r\n")
    per_message = (f"Reporting-MTA: dns; {reporting_mta}\r\nArrival-Date: {format_datetime(arrival)}\r\n")
    per_rcpt = "".join(f"\r\nFinal-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: {status}\r\n"
                       f"Diagnostic-Code: smtp; {reason}\r\nLast-Attempt-Date: {format_datetime(when)}\r\n"
                       for r in recipients)
    cte = "7bit" if original.isascii() else "8bit"
    clean_subject = " ".join(subject.split())
    head = (f"From: Mail Delivery System <postmaster@{domain}>\r\nTo: <{sender}>\r\n"
            f"Subject: {_encode_subject('Undeliverable: ' + clean_subject)}\r\n"
            f"Date: {format_datetime(when)}\r\nMessage-ID: {make_msgid(domain=domain)}\r\n"
            f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n")
    parts = [
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{human}\r\n".encode(),
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{per_message}{per_rcpt}\r\n".encode(),
        f"--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: {cte}\r\n"
        f"Content-Disposition: attachment\r\n\r\n".encode() + original.rstrip(b"\r\n") + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return head.encode() + b"".join(parts)


def _encode_subject(text: str) -> str:
    from email.header import Header
    return text if text.isascii() else Header(text, "utf-8").encode()


def _span(delta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 2 else f"{max(delta.total_seconds() / 60, 1):.0f} minutes"


async def return_to_sender(mbx: "Mailbox", mid: int, reason: str, *, expired: bool, queued_at: float) -> None:
    """Give up on a queued message: a non-delivery report in the Inbox, the message back in Drafts with
    the reason on it."""
    from . import conversions as conv
    from .submit import mark_failed, recipient_addresses

    item = await mbx.get_item(mid)
    content = item.content
    original = conv.content_to_mime_for_sending(content)
    arrival = datetime.fromtimestamp(queued_at, timezone.utc).replace(microsecond=0)
    report = non_delivery_report(original, sender=mbx.email, recipients=recipient_addresses(content),
                                 subject=str(content.props.get(P.PidTagSubject, "") or ""), reason=reason,
                                 expired=expired, arrival=arrival)
    inbox = await mbx.folder_by_role("inbox")
    await mbx.backends.imap.append(inbox.ref, report, [], datetime.now(timezone.utc))
    await mbx.sync_folder(inbox.fid)
    drafts = await mbx.folder_by_role("drafts")
    if item.fid != drafts.fid:
        await mbx.move_items([mid], drafts.fid)
    mark_failed(mbx, item.globcnt, f"{reason} (a non-delivery report is in the Inbox)" if expired else reason)


# ---------------------------------------------------------------- the worker

# (Queued) -> (an open Mailbox of its owner, whether the caller closes it afterwards), or None: not now
MailboxOpener = Callable[[Queued], Awaitable["tuple[Mailbox, bool] | None"]]


def can_open_any(cfg: "Config") -> bool:
    """Whether the gateway reaches every user's backends without their password (see the module text)."""
    return (cfg.imap.auth == "master" and (not cfg.dav.url or cfg.dav.auth == "proxy")
            and cfg.smtp.auth != "user")


def mailbox_opener(db: "StateDB", cfg: "Config",
                   find_open: Callable[[str], "Mailbox | None"] | None = None) -> MailboxOpener:
    """The mailbox already open in the gateway (``find_open(owner)``), else one opened through the
    master/proxy logins when the configuration allows it (``can_open_any``), else None."""
    any_user = can_open_any(cfg)

    async def opener(q: Queued):
        mbx = find_open(q.owner) if find_open is not None else None
        if mbx is not None:
            return mbx, False
        if not any_user:
            return None
        from .factory import Credentials, open_mailbox
        mbx = await open_mailbox(db, cfg, Credentials(q.login, q.owner, q.display_name or q.owner, None))
        mbx.login = q.login
        mbx.submit_retry = RetryPolicy.from_config(cfg)
        return mbx, True
    return opener


@dataclass
class OutboxWorker:
    """Tries queued messages again; ``run_once`` is one pass over the due ones, ``start`` loops."""

    db: "StateDB"
    opener: MailboxOpener
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    poll: float = 30.0          # longest sleep between passes
    lease: float = 300.0        # a claimed row is not tried by another worker for this long

    def __post_init__(self):
        self.queue = SubmitQueue(self.db)
        self.locks = ProcessLocks(self.db)
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    async def run_once(self, now: float | None = None) -> list[tuple[Queued, str]]:
        """One pass: returns (entry, outcome) for each due entry, outcome one of "sent", "retry",
        "returned" (report made, back in Drafts), "gone" (deleted or taken out of the Outbox),
        "waiting" (its mailbox cannot be opened now)."""
        now = time.time() if now is None else now
        out = []
        for q in self.queue.due(now):
            # Every worker and gateway on the state database runs a worker: the claim (a compare-and-set
            # on next_try) gives a row to one of them, and the advisory lock held for the whole try keeps
            # it there even when the try outlasts the lease (a slow SMTP server, a hung IMAP copy to Sent
            # Items after the server took the message): a queued message is never sent twice at once.
            with self.locks.hold(f"exgate-outbox:{q.mailbox_id}:{q.mid}") as mine:
                if not mine or not self.queue.claim(q, now + self.lease):
                    continue
                await self._one(q, now, out)
        return out

    async def _one(self, q: Queued, now: float, out: list) -> None:
        try:
            opened = await self.opener(q)
        except (StoreError, BackendError, OSError) as exc:
            log.warning("outbox: cannot open the mailbox of %s: %s", q.owner, exc)
            opened = None
        if opened is None:
            self.queue.reschedule(q, now + self.policy.delay(max(q.attempts, 1)), q.last_error)
            out.append((q, "waiting"))
            return
        mbx, close = opened
        try:
            out.append((q, await self._try(mbx, q, now)))
        except (StoreError, BackendError, OSError) as exc:
            log.warning("outbox: a queued message of %s could not be tried: %s", q.owner, exc)
            self.queue.reschedule(q, now + self.policy.delay(max(q.attempts, 1)), q.last_error)
            out.append((q, "waiting"))
        finally:
            if close:
                await mbx.close()

    async def _try(self, mbx: "Mailbox", q: Queued, now: float) -> str:
        from .submit import SendFailure, send_once
        try:
            row = mbx.message_row(q.mid)
        except NotFound:
            self.queue.remove(q.mailbox_id, q.mid)
            return "gone"
        outbox = await mbx.folder_by_role("outbox")
        if row["fid"] != outbox.globcnt:          # the user took it out of the Outbox: not to be sent
            self.queue.remove(q.mailbox_id, q.mid)
            return "gone"
        mid = mbx.ident.mid(q.mid)
        submitted = datetime.fromtimestamp(q.queued_at, timezone.utc).replace(microsecond=0)
        save_in = None if q.save_fid is None else mbx.ident.fid(q.save_fid)
        try:
            await send_once(mbx, mid, save_in=save_in, submitted=submitted)
        except SendFailure as exc:
            if exc.temporary and now - q.queued_at < self.policy.window:
                nxt = min(now + self.policy.delay(q.attempts + 1), q.queued_at + self.policy.window)
                self.queue.reschedule(q, nxt, str(exc))
                return "retry"
            await return_to_sender(mbx, mid, str(exc), expired=exc.temporary, queued_at=q.queued_at)
            self.queue.remove(q.mailbox_id, q.mid)
            log.info("outbox: gave up on a message of %s after %d tries: %s", q.owner, q.attempts + 1, exc)
            return "returned"
        except BackendUnavailable as exc:         # sent; only the copy in Sent Items failed
            log.warning("outbox: a queued message of %s was sent: %s", q.owner, exc)
        self.queue.remove(q.mailbox_id, q.mid)
        log.info("outbox: a queued message of %s was sent after %d tries", q.owner, q.attempts + 1)
        return "sent"

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="exgate-outbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self.locks.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox: a pass over the queue failed")
            nxt = self.queue.next_due()
            wait = self.poll if nxt is None else min(self.poll, max(nxt - time.time(), 0.2))
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
