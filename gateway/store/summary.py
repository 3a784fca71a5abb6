"""Summary properties of a mail item from what IMAP gives without the body.

Contents tables (Outlook's message list, EWS FindItem) need only these, so the
store answers them from one UID FETCH (FLAGS RFC822.SIZE INTERNALDATE ENVELOPE
BODYSTRUCTURE) instead of downloading messages.
"""
from __future__ import annotations

from gateway.backends.base import ImapAddress, ImapMessageSummary
from protocols.mapi.props import core as P

from .convert.text import split_subject  # the one rule (MS-OXCMAIL 2.2.3.2.6.1), also used by GetItem

__all__ = ["split_subject", "flag_props", "summary_props"]


def flag_props(flags) -> dict:
    """IMAP flags and keywords -> MAPI properties (read, follow-up, last verb, categories)."""
    from .convert.mail import apply_flags
    return apply_flags({}, flags)


def _names(addrs: tuple[ImapAddress, ...]) -> str:
    return "; ".join(a.name or a.email for a in addrs)


def summary_props(s: ImapMessageSummary) -> dict:
    props = flag_props(s.flags)
    props[P.PidTagMessageClass] = "IPM.Note"
    props[P.PidTagMessageSize] = s.size
    props[P.PidTagMessageDeliveryTime] = s.internaldate
    props[P.PidTagImportance] = 1
    props[P.PidTagSensitivity] = 0
    if s.headers:
        # Importance/X-Priority/Sensitivity as MS-OXCMAIL reads them from the whole message (GetItem)
        from .convert.mail_in import importance_and_sensitivity
        props[P.PidTagImportance], props[P.PidTagSensitivity] = importance_and_sensitivity(s.headers)
    if s.has_attachments:
        props[P.PidTagMessageFlags] |= P.MSGFLAG_HASATTACH
    props[P.PidTagHasAttachments] = bool(s.has_attachments)
    if s.content_type and s.content_type.lower() in ("multipart/signed", "application/pkcs7-mime"):
        props[P.PidTagMessageClass] = "IPM.Note.SMIME"
    env = s.envelope
    if env is None:
        return props
    subject = env.subject or ""
    prefix, normalized = split_subject(subject)
    props[P.PidTagSubject] = subject
    props[P.PidTagSubjectPrefix] = prefix
    props[P.PidTagNormalizedSubject] = normalized
    props[P.PidTagConversationTopic] = normalized
    if env.date:
        props[P.PidTagClientSubmitTime] = env.date
    if env.message_id:
        props[P.PidTagInternetMessageId] = env.message_id
    if env.in_reply_to:
        props[P.PidTagInReplyToId] = env.in_reply_to
    sender = (env.sender or env.from_ or (None,))[0]
    author = (env.from_ or env.sender or (None,))[0]
    if sender is not None:
        props[P.PidTagSenderName] = sender.name or sender.email
        props[P.PidTagSenderEmailAddress] = sender.email
        props[P.PidTagSenderSmtpAddress] = sender.email
        props[P.PidTagSenderAddressType] = "SMTP"
    if author is not None:
        props[P.PidTagSentRepresentingName] = author.name or author.email
        props[P.PidTagSentRepresentingEmailAddress] = author.email
        props[P.PidTagSentRepresentingSmtpAddress] = author.email
        props[P.PidTagSentRepresentingAddressType] = "SMTP"
    props[P.PidTagDisplayTo] = _names(env.to)
    props[P.PidTagDisplayCc] = _names(env.cc)
    props[P.PidTagDisplayBcc] = _names(env.bcc)
    return props
