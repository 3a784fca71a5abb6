"""Sending: a message in Outbox or Drafts goes out over SMTP, then to Sent Items.

Order matters so that nothing is lost: send first; only when the server took
it, save the copy in Sent Items; only when the copy is saved, remove the
original. A refused send leaves the message where it was, with the server's
reason kept on it, and raises SubmitFailed.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import make_msgid
from typing import TYPE_CHECKING

from gateway.backends.base import BackendError
from protocols.mapi.props import core as P

from . import conversions as conv
from .errors import BackendUnavailable, SubmitFailed
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


async def submit_message(mbx: "Mailbox", mid: int) -> "Item | None":
    item = await mbx.get_item(mid)
    content = item.content
    g = item.globcnt

    def refuse(reason: str, cause: Exception | None = None) -> SubmitFailed:
        mbx.set_overlay("m", g, {PidTagSubmitError: f"Sending failed: {reason}"})
        mbx.touch_message(g)
        return SubmitFailed(reason)

    if mbx.backends.smtp is None:
        raise refuse("no SMTP server is configured for sending")
    rcpts = recipient_addresses(content)
    if not rcpts:
        raise refuse("the message has no recipients with an SMTP address")
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
    now = datetime.now(timezone.utc).replace(microsecond=0)
    props[P.PidTagClientSubmitTime] = now
    props[P.PidTagMessageDeliveryTime] = now
    if not props.get(P.PidTagInternetMessageId):
        props[P.PidTagInternetMessageId] = make_msgid(domain=mbx.email.rsplit("@", 1)[-1])
    props[P.PidTagMessageFlags] = (props.get(P.PidTagMessageFlags, 0) | P.MSGFLAG_READ) & ~P.MSGFLAG_UNSENT
    wire = conv.content_to_mime_for_sending(content)
    try:
        await mbx.backends.smtp.send(wire, mbx.email, rcpts)
    except BackendError as exc:
        # the client gets a short, true reason; the server's words and addresses go to the log
        log.warning("submission for %s failed: %s", mbx.email, exc)
        if exc.kind == "unavailable":
            raise refuse("the mail server could not be reached; try again later") from exc
        replies = getattr(exc, "replies", None)
        said = f" ({replies[-1]})" if replies else ""
        raise refuse(f"the mail server refused the message{said}") from exc
    except OSError as exc:
        log.warning("submission for %s failed: %s", mbx.email, exc)
        raise refuse("the mail server could not be reached; try again later") from exc
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
    return await mbx.get_item(mid)
