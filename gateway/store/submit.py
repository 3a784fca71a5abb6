"""Sending: a message in Outbox or Drafts goes out over SMTP, then to Sent Items.

Order matters so that nothing is lost: send first; only when the server took
it, save the copy in Sent Items; only when the copy is saved, remove the
original. A permanent refusal (5xx) leaves the message where it was, with the
server's reason kept on it, and raises SubmitFailed. A server that cannot be
reached or answers 4xx does not fail the send: as Exchange does, the message
waits in the Outbox and is tried again later (outbox.py).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import make_msgid
from typing import TYPE_CHECKING

from gateway.backends.base import BackendError
from protocols.mapi.props import core as P

from . import conversions as conv
from .errors import BackendUnavailable, StoreError, SubmitFailed
from .folderlock import folder_lock

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .mailbox import Mailbox
    from .objects import Item

# Where the reason for a failed send is kept (shown by EWS/MAPI as the item's error text).
PidTagSubmitError = P.PidTagComment


def recipient_addresses(content) -> list[str]:
    out = []
    for r in content.recipients:
        addr = r.props.get(P.PidTagSmtpAddress)
        if not addr and str(r.props.get(P.PidTagAddressType, "SMTP")).upper() == "SMTP":
            addr = r.props.get(P.PidTagEmailAddress)
        if addr and addr not in out:
            out.append(addr)
    return out


def mark_failed(mbx: "Mailbox", globcnt: int, reason: str) -> None:
    """Keep why a send failed on the message (its error text in EWS/MAPI)."""
    mbx.set_overlay("m", globcnt, {PidTagSubmitError: f"Sending failed: {reason}"})
    mbx.touch_message(globcnt)


class SendFailure(Exception):
    """One SMTP try failed; ``temporary`` says whether a later try may succeed (RFC 5321 4.2.1)."""

    def __init__(self, reason: str, temporary: bool):
        super().__init__(reason)
        self.temporary = temporary


def _failure(exc: Exception) -> SendFailure:
    # the client gets a short, true reason; the server's words and addresses go to the log
    if isinstance(exc, OSError) or (isinstance(exc, BackendError) and exc.kind == "unavailable"):
        return SendFailure("the mail server could not be reached; try again later", True)
    replies = getattr(exc, "replies", None) or ()
    said = f" ({replies[-1]})" if replies else ""
    temporary = bool(replies) and all(400 <= r.code < 500 for r in replies)
    return SendFailure(f"the mail server refused the message{said}", temporary)


async def _prepare(mbx: "Mailbox", mid: int, submitted: datetime | None = None):
    """The message with its sender and submit time set, its recipients and the bytes to send."""
    item = await mbx.get_item(mid)
    content = item.content
    g = item.globcnt
    if mbx.backends.smtp is None:
        raise SendFailure("no SMTP server is configured for sending", False)
    rcpts = recipient_addresses(content)
    if not rcpts:
        raise SendFailure("the message has no recipients with an SMTP address", False)
    props = content.props
    for key in conv.DERIVED:
        if key != P.PidTagMessageFlags:
            props.pop(key, None)
    props.setdefault(P.PidTagSentRepresentingName, mbx.display_name)
    props.setdefault(P.PidTagSentRepresentingSmtpAddress, mbx.email)
    props.setdefault(P.PidTagSentRepresentingEmailAddress, mbx.email)
    props.setdefault(P.PidTagSentRepresentingAddressType, "SMTP")
    props[P.PidTagSenderName] = mbx.display_name
    props[P.PidTagSenderSmtpAddress] = mbx.email
    props[P.PidTagSenderEmailAddress] = mbx.email
    props[P.PidTagSenderAddressType] = "SMTP"
    now = submitted or datetime.now(timezone.utc).replace(microsecond=0)
    props[P.PidTagClientSubmitTime] = now
    props[P.PidTagMessageDeliveryTime] = now
    if not props.get(P.PidTagInternetMessageId):
        props[P.PidTagInternetMessageId] = make_msgid(domain=mbx.email.rsplit("@", 1)[-1])
    props[P.PidTagMessageFlags] = (props.get(P.PidTagMessageFlags, 0) | P.MSGFLAG_READ) & ~P.MSGFLAG_UNSENT
    return item, g, rcpts, conv.content_to_mime_for_sending(content), now


async def send_once(mbx: "Mailbox", mid: int, *, save_in: int | None = None,
                    submitted: datetime | None = None) -> "Item | None":
    """One try: send over SMTP, then file the message as a sent one (Sent Items, or the folder ``save_in``,
    or deleted with PidTagDeleteAfterSubmit). Raises SendFailure when the server did not take it."""
    item, g, rcpts, wire, now = await _prepare(mbx, mid, submitted)
    content = item.content
    try:
        await mbx.backends.smtp.send(wire, mbx.email, rcpts)
    except (BackendError, OSError) as exc:
        log.warning("submission for %s failed: %s", mbx.email, exc)
        raise _failure(exc) from exc
    props = content.props
    mbx.set_overlay("m", g, {}, remove=[PidTagSubmitError])    # an earlier failure's text no longer holds
    if props.get(P.PidTagDeleteAfterSubmit):
        await mbx.delete_items([mid])
        return None
    sent = await mbx.folder_by_role("sent")
    saved = conv.content_to_mime(content)
    # the copy in Sent Items keeps the MID: both folders stay locked until its row is written, or the
    # change source's sync of Sent Items could give it a MID of its own (folderlock.py)
    async with folder_lock(mbx, sent.globcnt, mbx.message_row(g)["fid"]):
        try:
            uidvalidity, uid = await mbx.backends.imap.append(sent.ref, saved, ["\\Seen"], now)
        except BackendError as exc:
            # sent, but no copy: keep the original, marked as sent, so the user still sees it
            mbx.set_overlay("m", g, {PidTagSubmitError: f"Sent, but the copy in Sent Items failed: {exc}"})
            mbx.touch_message(g)
            raise BackendUnavailable(f"message sent, but saving it in Sent Items failed: {exc}") from exc
        row = mbx.message_row(g)
        src = await mbx.get_folder(mbx.ident.fid(row["fid"]))
        if row["kind"] == "imap":
            await mbx.backends.imap.expunge(src.ref, [row["uid"]])
        with mbx.db.transaction():
            mbx.tombstone_message(g)
            mbx.insert_message(sent.globcnt, "imap", uidvalidity=uidvalidity, uid=uid, flags="\\Seen", globcnt=g)
    if save_in is not None and save_in != sent.fid:
        await mbx.move_items([mid], save_in)
    return await mbx.get_item(mid)


async def submit_message(mbx: "Mailbox", mid: int, *, save_in: int | None = None) -> "Item | None":
    """Send a message. Returns the sent copy (in Sent Items, or in ``save_in``), None when it was deleted
    after submit (PidTagDeleteAfterSubmit), or, when the server could not take it now, the message as it
    waits in the Outbox (its ``fid`` is the Outbox's): queued for the outbox worker, which is a success
    for the client as in Exchange. A permanent refusal raises SubmitFailed and leaves it where it was."""
    try:
        return await send_once(mbx, mid, save_in=save_in)
    except SendFailure as exc:
        reason, temporary = str(exc), exc.temporary
        cause = exc
    g = mbx.ident.globcnt_of(mid)
    if temporary:
        from .outbox import enqueue
        try:
            return await enqueue(mbx, mid, save_in=save_in, reason=reason)
        except (BackendError, StoreError) as exc:
            log.warning("queueing the message of %s in the Outbox failed: %s", mbx.email, exc)
    mark_failed(mbx, g, reason)
    raise SubmitFailed(reason) from cause
