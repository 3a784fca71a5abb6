"""Mail conversion: MIME <-> Message object (MS-OXCMAIL) and IMAP flags <-> properties.

Pure functions, no I/O. The work is split across ``mail_in`` (MIME -> props),
``mail_out`` (props -> MIME), ``addresses`` (one-off EntryIDs, FlatEntryList,
address parsing) and ``rtf`` (MS-OXRTFCP). The full mapping table is in
gateway/store/convert/docs/mail.md; the short form:

| MIME                                   | Message object                                                    |
|----------------------------------------|-------------------------------------------------------------------|
| Subject                                | PidTagSubject, PidTagSubjectPrefix, PidTagNormalizedSubject        |
| Thread-Topic / Thread-Index            | PidTagConversationTopic (else normalized subject) / ConversationIndex |
| From                                   | PidTagSentRepresenting{Name,EmailAddress,AddressType,SmtpAddress,EntryId,SearchKey} |
| Sender (else From)                     | PidTagSender{Name,EmailAddress,AddressType,SmtpAddress,EntryId,SearchKey} |
| Reply-To                               | PidTagReplyRecipientNames, PidTagReplyRecipientEntries (FlatEntryList of one-offs) |
| To / Cc / Bcc                          | recipient rows + PidTagDisplayTo / DisplayCc / DisplayBcc          |
| Date                                   | PidTagClientSubmitTime                                            |
| newest Received (or caller's INTERNALDATE) | PidTagMessageDeliveryTime                                     |
| Message-ID / In-Reply-To / References  | PidTagInternetMessageId / PidTagInReplyToId / PidTagInternetReferences |
| Importance, X-Priority, Priority       | PidTagImportance                                                  |
| Sensitivity                            | PidTagSensitivity                                                 |
| Disposition-Notification-To            | PidTagReadReceiptRequested, PidTagReadReceiptSmtpAddress/Name     |
| Keywords                               | PidNameKeywords (categories)                                      |
| List-Unsubscribe / Content-Class       | PidTagListUnsubscribe / PidNameContentClass                       |
| X-Unsent: 1                            | MSGFLAG_UNSENT in PidTagMessageFlags                              |
| header block                           | PidTagTransportMessageHeaders                                     |
| text/plain                             | PidTagBody                                                        |
| text/html                              | PidTagHtml (bytes) + PidTagInternetCodepage                       |
| text/rtf                               | PidTagRtfCompressed (MS-OXRTFCP)                                  |
| best body                              | PidTagNativeBody                                                  |
| multipart/related part with Content-ID | attachment, PidTagAttachContentId, AttachmentHidden, AttachFlags=attRenderedInBody |
| other leaf part                        | attachment by value (AttachLongFilename, AttachFilename, AttachExtension, AttachMimeTag, AttachContentId, AttachContentLocation, AttachSize, AttachDataBinary) |
| message/rfc822                         | ATTACH_EMBEDDED_MSG, ``Attachment.embedded``                      |
| text/calendar METHOD                   | PidTagMessageClass IPM.Schedule.Meeting.*; raw bytes kept as a hidden text/calendar attachment |
| multipart/report                       | REPORT.IPM.Note.IPNRN / IPNNRN / DR / NDR / DelayedDR             |
| multipart/signed, application/pkcs7-mime | IPM.Note.SMIME.MultipartSigned / IPM.Note.SMIME (+ smime.p7m attachment) |
| any attachment that is not hidden      | PidTagHasAttachments, MSGFLAG_HASATTACH                           |
| size of the MIME                       | PidTagMessageSize                                                 |

IMAP flags (``flags_to_props`` / ``props_to_flags``):

| IMAP              | properties                                                              |
|-------------------|-------------------------------------------------------------------------|
| \\Seen             | MSGFLAG_READ in PidTagMessageFlags                                      |
| \\Draft            | MSGFLAG_UNSENT in PidTagMessageFlags                                    |
| \\Flagged          | PidTagFlagStatus=2, PidTagFollowupIcon=6, PidTagToDoItemFlags=1         |
| \\Answered         | PidTagLastVerbExecuted=102, PidTagIconIndex=0x105                       |
| $Forwarded        | PidTagLastVerbExecuted=104, PidTagIconIndex=0x106                       |
| other keywords    | PidNameKeywords (categories), keyword <-> category name reversible     |
"""
from __future__ import annotations

import base64
import re
from typing import Iterable

from protocols.mapi.props import core as P
from protocols.mapi.props import mail as M
from protocols.mapi.props.named import PidNameKeywords

from .mail_in import mime_to_message
from .mail_out import message_to_mime

__all__ = [
    "mime_to_message", "message_to_mime", "calendar_part", "flags_to_props", "props_to_flags", "apply_flags",
    "keyword_to_category", "category_to_keyword", "MANAGED_MESSAGE_FLAGS", "IGNORED_KEYWORDS",
]

def calendar_part(msg) -> bytes | None:
    """The raw iCalendar of a meeting message: the hidden text/calendar
    attachment mime_to_message keeps (hand it to ical.itip_to_meeting_message)."""
    for att in msg.attachments:
        p = att.props
        if p.get(P.PidTagAttachmentHidden) and (p.get(P.PidTagAttachMimeTag) or "").lower() == "text/calendar":
            return p.get(P.PidTagAttachDataBinary)
    return None


# PidTagMessageFlags bits that IMAP flags own; the others (HASATTACH ...) come from content.
MANAGED_MESSAGE_FLAGS = P.MSGFLAG_READ | P.MSGFLAG_UNSENT

# keywords with a meaning of their own that must not become categories
IGNORED_KEYWORDS = {"\\recent", "\\deleted", "$mdnsent", "$junk", "$notjunk", "junk", "nonjunk",
                    "$phishing", "$submitpending", "$submitted"}

# RFC 3501 atom: no ( ) { SP CTL % * " \ ] and (for flag-keyword) nothing outside ASCII
_ATOM_OK = re.compile(r"^[!#$'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+$")


def category_to_keyword(category: str) -> str:
    """A category name as an IMAP keyword atom, reversibly.

    Atoms cannot hold spaces, non-ASCII and a few specials; those runs are
    written like IMAP modified UTF-7 (RFC 3501 5.1.3): "&" base64(UTF-16BE)
    "-", with "&" itself as "&-"."""
    out, run = [], ""

    def flush():
        nonlocal run
        if run:
            b = base64.b64encode(run.encode("utf-16-be")).decode("ascii").rstrip("=").replace("/", ",")
            out.append("&" + b + "-")
            run = ""

    for ch in category:
        if ch == "&":
            flush()
            out.append("&-")
        elif _ATOM_OK.match(ch):
            flush()
            out.append(ch)
        else:
            run += ch
    flush()
    return "".join(out) or "&-"


def keyword_to_category(keyword: str) -> str:
    if "&" not in keyword:
        return keyword

    def dec(m: re.Match) -> str:
        body = m.group(1)
        if not body:
            return "&"
        b = body.replace(",", "/")
        try:
            return base64.b64decode(b + "=" * (-len(b) % 4)).decode("utf-16-be")
        except Exception:
            return m.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", dec, keyword)


def flags_to_props(flags: Iterable[str]) -> dict:
    """IMAP system flags and keywords -> properties.

    A value of None means "remove this property". PidTagMessageFlags carries
    only MANAGED_MESSAGE_FLAGS bits; merge it with ``apply_flags``."""
    lower = {f.lower(): f for f in flags}
    mflags = 0
    if "\\seen" in lower:
        mflags |= P.MSGFLAG_READ
    if "\\draft" in lower:
        mflags |= P.MSGFLAG_UNSENT
    flagged = "\\flagged" in lower
    props: dict = {
        P.PidTagMessageFlags: mflags,
        P.PidTagFlagStatus: P.FOLLOWUP_FLAGGED if flagged else None,
        P.PidTagFollowupIcon: M.FOLLOWUP_ICON_RED if flagged else None,
        P.PidTagToDoItemFlags: M.TODO_TIME_FLAGGED if flagged else None,
    }
    # MAPI keeps one last verb; when both are set \Answered wins (documented loss)
    if "\\answered" in lower:
        props[P.PidTagLastVerbExecuted] = P.NOTEIVERB_REPLYTOSENDER
        props[P.PidTagIconIndex] = M.ICON_MAIL_REPLIED
    elif "$forwarded" in lower:
        props[P.PidTagLastVerbExecuted] = P.NOTEIVERB_FORWARD
        props[P.PidTagIconIndex] = M.ICON_MAIL_FORWARDED
    else:
        props[P.PidTagLastVerbExecuted] = None
        props[P.PidTagIconIndex] = M.ICON_MAIL_READ if mflags & P.MSGFLAG_READ else M.ICON_MAIL_UNREAD
    cats = []
    for low, orig in lower.items():
        if low.startswith("\\") or low in IGNORED_KEYWORDS or low == "$forwarded":
            continue
        cat = keyword_to_category(orig)
        if cat not in cats:
            cats.append(cat)
    props[PidNameKeywords] = cats or None
    return props


def apply_flags(props: dict, flags: Iterable[str]) -> dict:
    """Merge ``flags_to_props(flags)`` into a property bag (in place, returned)."""
    new = flags_to_props(flags)
    bits = new.pop(P.PidTagMessageFlags)
    props[P.PidTagMessageFlags] = (props.get(P.PidTagMessageFlags, 0) & ~MANAGED_MESSAGE_FLAGS) | bits
    for key, value in new.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return props


def props_to_flags(props: dict) -> set[str]:
    """Properties -> IMAP flags and keywords (inverse of flags_to_props)."""
    out: set[str] = set()
    mflags = props.get(P.PidTagMessageFlags) or 0
    if mflags & P.MSGFLAG_READ:
        out.add("\\Seen")
    if mflags & P.MSGFLAG_UNSENT:
        out.add("\\Draft")
    if props.get(P.PidTagFlagStatus) == P.FOLLOWUP_FLAGGED:
        out.add("\\Flagged")
    verb = props.get(P.PidTagLastVerbExecuted)
    if verb in (P.NOTEIVERB_REPLYTOSENDER, P.NOTEIVERB_REPLYTOALL):
        out.add("\\Answered")
    elif verb == P.NOTEIVERB_FORWARD:
        out.add("$Forwarded")
    for cat in props.get(PidNameKeywords) or []:
        if cat:
            out.add(category_to_keyword(cat))
    return out
