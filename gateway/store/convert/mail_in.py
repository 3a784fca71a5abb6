"""MIME -> Message object (MS-OXCMAIL 2.2, "MIME to Message object").

Tolerant by design: the parser is the standard library's compat32 feed parser
(it records defects instead of raising), every header is decoded with a
fallback, and anything that cannot be understood as a body is kept as an
attachment. ``mime_to_message`` never raises on bad input.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import re
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import collapse_rfc2231_value, parsedate_to_datetime

from protocols.mapi.props import core as P
from protocols.mapi.props import mail as M
from protocols.mapi.props.named import PidNameKeywords

from ..model import Attachment, MessageContent, Recipient
from . import rtf as rtfmod
from protocols.mapi.entryids import encode_flat_entry_list, encode_one_off, search_key

from .addresses import decode_words, fix_raw_header, parse_address_list
from .text import html_to_text, split_subject  # one rule each (MS-OXCMAIL 2.2.3.2.6.1); re-exported

__all__ = [
    "mime_to_message", "split_subject", "codepage_for_charset", "charset_for_codepage",
    "html_to_text", "calendar_method", "meeting_class",
]

# --- charsets <-> Windows code pages (PidTagInternetCodepage) --------------------

_CODEPAGES: list[tuple[int, str]] = [
    (65001, "utf-8"), (20127, "us-ascii"), (28591, "iso-8859-1"), (28592, "iso-8859-2"),
    (28593, "iso-8859-3"), (28594, "iso-8859-4"), (28595, "iso-8859-5"), (28596, "iso-8859-6"),
    (28597, "iso-8859-7"), (28598, "iso-8859-8"), (28599, "iso-8859-9"), (28603, "iso-8859-13"),
    (28605, "iso-8859-15"), (1250, "windows-1250"), (1251, "windows-1251"), (1252, "windows-1252"),
    (1253, "windows-1253"), (1254, "windows-1254"), (1255, "windows-1255"), (1256, "windows-1256"),
    (1257, "windows-1257"), (1258, "windows-1258"), (874, "windows-874"), (932, "shift_jis"),
    (936, "gb2312"), (949, "ks_c_5601-1987"), (950, "big5"), (20866, "koi8-r"), (21866, "koi8-u"),
    (50220, "iso-2022-jp"), (50225, "iso-2022-kr"), (51932, "euc-jp"), (51949, "euc-kr"),
    (54936, "gb18030"), (65000, "utf-7"), (1200, "utf-16"),
]
_CP_TO_CHARSET = dict(_CODEPAGES)
_CODEC_TO_CP: dict[str, int] = {}
for _cp, _cs in _CODEPAGES:
    try:
        _CODEC_TO_CP.setdefault(codecs.lookup(_cs).name, _cp)
    except LookupError:
        pass


def _codec_name(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip('"')).name
    except (LookupError, ValueError):
        return None


def codepage_for_charset(charset: str | None) -> int | None:
    name = _codec_name(charset)
    return _CODEC_TO_CP.get(name) if name else None


def charset_for_codepage(cp: int | None) -> str:
    return _CP_TO_CHARSET.get(cp or 65001, "utf-8")


def _decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """bytes -> (text, codec actually used, None when we had to guess)."""
    name = _codec_name(charset) or ("ascii" if charset is None else None)
    if name:
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            pass
    for guess in ("utf-8", "cp1252"):
        try:
            return data.decode(guess), (guess if charset is None else None)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), None


def _crlf(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", "\r\n", text)


# --- meetings (detect only; the fields are ical.py's job) ------------------------

def calendar_method(ics: bytes) -> str | None:
    m = re.search(rb"^METHOD:([A-Za-z-]+)", ics, re.M)
    return m.group(1).decode().upper() if m else None


def meeting_class(ics: bytes) -> str | None:
    """PidTagMessageClass for an iTIP text/calendar body (MS-OXCICAL 2.1.3.1.1.1)."""
    method = calendar_method(ics)
    if method == "REQUEST":
        return "IPM.Schedule.Meeting.Request"
    if method == "CANCEL":
        return "IPM.Schedule.Meeting.Canceled"
    if method == "REPLY":
        unfolded = re.sub(rb"\r?\n[ \t]", b"", ics)
        m = re.search(rb"^ATTENDEE[^\r\n]*?PARTSTAT=([A-Za-z-]+)", unfolded, re.M | re.I)
        stat = m.group(1).upper() if m else b""
        return {
            b"ACCEPTED": "IPM.Schedule.Meeting.Resp.Pos",
            b"DECLINED": "IPM.Schedule.Meeting.Resp.Neg",
        }.get(stat, "IPM.Schedule.Meeting.Resp.Tent")
    return None


# --- helpers over email.message.Message --------------------------------------------

def _header(msg: Message, name: str) -> str | None:
    try:
        v = msg.get(name)
    except Exception:
        return None
    return None if v is None else decode_words(v).strip()


def _headers_all(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in (msg.get_all(name) or [])]
    except Exception:
        return []


def _param(part: Message, name: str, header: str = "content-type") -> str | None:
    try:
        v = part.get_param(name, header=header)
    except Exception:
        return None
    if v is None:
        return None
    try:
        v = collapse_rfc2231_value(v)  # RFC 2231 charset'lang'value
    except Exception:
        v = str(v)
    if isinstance(v, tuple):
        v = v[2]
    return decode_words(v)  # many MUAs put RFC 2047 words in name= (not standard, common)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str | None:
    v = part.get("content-disposition")
    if not v:
        return None
    return str(v).split(";", 1)[0].strip().lower() or None


def _filename(part: Message) -> str | None:
    return _param(part, "filename", "content-disposition") or _param(part, "name")


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape")
    if isinstance(raw, list):  # message/* sub-parts
        return b"".join(_as_bytes(p) for p in raw)
    return b""


def _as_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=compat32.clone(linesep="\r\n", max_line_length=0))
    except Exception:
        try:
            return msg.as_string().encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _strip_angle(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    if v.startswith("<") and v.endswith(">"):
        v = v[1:-1]
    return v or None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value.strip())
    except Exception:
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _short_name(long_name: str) -> str:
    """An 8.3 PidTagAttachFilename derived from the long name."""
    base, dot, ext = long_name.rpartition(".")
    if not dot:
        base, ext = long_name, ""
    clean = lambda s: re.sub(r"[^A-Za-z0-9_\-~!#$%&'()@^`{}]", "", s)  # noqa: E731
    b, e = clean(base)[:8] or "ATTACH", clean(ext)[:3]
    return (b + ("." + e if e else "")).upper()


# --- the walk ------------------------------------------------------------------

class _Ctx:
    def __init__(self) -> None:
        self.text: str | None = None
        self.text_codec: str | None = None
        self.html: bytes | None = None
        self.html_cp: int | None = None
        self.rtf: bytes | None = None
        self.calendar: bytes | None = None
        self.attachments: list[Attachment] = []
        self.native: int | None = None  # format of the preferred body part

    def chose(self, native: int, in_alt: bool) -> None:
        # in multipart/alternative the last part is the preferred one (RFC 2046 5.1.4);
        # body parts side by side elsewhere: the richer one (HTML > RTF > plain)
        rank = {M.NATIVE_BODY_PLAIN: 0, M.NATIVE_BODY_RTF: 1, M.NATIVE_BODY_HTML: 2}
        if in_alt or self.native is None or rank[native] > rank[self.native]:
            self.native = native


def _add_by_value(ctx: _Ctx, part: Message, data: bytes, *, ctype: str | None = None) -> Attachment:
    ctype = ctype or _content_type(part)
    props: dict = {
        P.PidTagAttachMethod: P.ATTACH_BY_VALUE,
        P.PidTagAttachDataBinary: data,
        P.PidTagAttachSize: len(data),
        P.PidTagAttachMimeTag: ctype,
        P.PidTagRenderingPosition: -1,
    }
    name = _filename(part)
    if name:
        name = name.replace("\\", "_").replace("/", "_").strip() or None
    if name:
        props[P.PidTagAttachLongFilename] = name
        props[P.PidTagDisplayName] = name
        props[P.PidTagAttachFilename] = _short_name(name)
        ext = name.rpartition(".")[2] if "." in name else ""
        if ext:
            props[P.PidTagAttachExtension] = "." + ext
    cid = _strip_angle(_header(part, "content-id"))
    if cid:
        props[P.PidTagAttachContentId] = cid
    loc = _header(part, "content-location")
    if loc:
        props[P.PidTagAttachContentLocation] = loc
    att = Attachment(props=props)
    ctx.attachments.append(att)
    return att


def _add_embedded(ctx: _Ctx, part: Message) -> None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        raw = _as_bytes(payload[0])
    else:
        raw = _payload_bytes(part)
    inner = mime_to_message(raw)
    props = {
        P.PidTagAttachMethod: P.ATTACH_EMBEDDED_MSG,
        P.PidTagAttachMimeTag: "message/rfc822",
        P.PidTagAttachSize: len(raw),
        P.PidTagRenderingPosition: -1,
        P.PidTagDisplayName: inner.props.get(P.PidTagSubject, "") or "Untitled",
    }
    name = _filename(part)
    if name:
        props[P.PidTagAttachLongFilename] = name
        props[P.PidTagAttachFilename] = _short_name(name)
        if "." in name:
            props[P.PidTagAttachExtension] = "." + name.rpartition(".")[2]
        # the name the sender gave wins over the inner subject (what clients show as the attachment's name)
        stem = name[:-4] if name.lower().endswith(".eml") else name
        props[P.PidTagDisplayName] = stem or props[P.PidTagDisplayName]
    ctx.attachments.append(Attachment(props=props, embedded=inner))


def _html_charset(part: Message, data: bytes) -> str | None:
    cs = part.get_content_charset()
    if cs:
        return cs
    m = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_\-:.]+)", data[:4096], re.I)
    return m.group(1).decode("ascii") if m else None


def _leaf(ctx: _Ctx, part: Message, *, in_alt: bool) -> None:
    ctype = _content_type(part)
    disp = _disposition(part)
    if ctype == "message/rfc822" or (ctype == "message/global"):
        _add_embedded(ctx, part)
        return
    data = _payload_bytes(part)
    if ctype.startswith("message/"):
        # header-block bodies (delivery-status, disposition-notification) come back
        # regenerated; end them with exactly one CRLF so a rewrite is stable
        data = data.rstrip(b"\r\n") + b"\r\n"
    if ctype.startswith("multipart/"):
        # a multipart we could not split (no boundary, ...): keep its bytes
        _add_by_value(ctx, part, data, ctype="application/octet-stream")
        return
    inline_body = disp != "attachment" and (in_alt or not _filename(part))
    if ctype == "text/plain" and inline_body and ctx.text is None:
        text, codec = _decode_text(data, part.get_content_charset())
        ctx.text, ctx.text_codec = _crlf(text), codec
        ctx.chose(M.NATIVE_BODY_PLAIN, in_alt)
        return
    if ctype == "text/html" and inline_body and ctx.html is None:
        cs = _html_charset(part, data)
        cp = codepage_for_charset(cs)
        if cp is None or _decode_text(data, cs)[1] is None:
            # unknown or lying charset: store what we could read, as UTF-8
            text, _ = _decode_text(data, cs)
            data, cp = text.encode("utf-8"), 65001
        ctx.html, ctx.html_cp = data, cp
        ctx.chose(M.NATIVE_BODY_HTML, in_alt)
        return
    if ctype in ("text/rtf", "application/rtf") and inline_body and ctx.rtf is None:
        ctx.rtf = data
        ctx.chose(M.NATIVE_BODY_RTF, in_alt)
        return
    if ctype == "text/calendar" and (in_alt or disp is None) and ctx.calendar is None:
        ctx.calendar = data
        att = _add_by_value(ctx, part, data)
        att.props[P.PidTagAttachmentHidden] = True
        return
    _add_by_value(ctx, part, data)


def _walk(ctx: _Ctx, part: Message, *, in_alt: bool = False) -> None:
    # message/* parts hold parsed sub-messages but are leaves for us
    if not part.is_multipart() or _content_type(part).startswith("message/"):
        _leaf(ctx, part, in_alt=in_alt)
        return
    children = [c for c in part.get_payload() if isinstance(c, Message)]
    sub = part.get_content_subtype().lower()
    if sub == "alternative":
        for c in children:
            _walk(ctx, c, in_alt=True)
    elif sub == "related":
        start = _strip_angle(part.get_param("start")) if part.get_param("start") else None
        root = None
        if start:
            root = next((c for c in children if _strip_angle(c.get("content-id")) == start), None)
        root = root or (children[0] if children else None)
        for c in children:
            if c is root:
                _walk(ctx, c, in_alt=in_alt)
            elif c.is_multipart():
                _walk(ctx, c)
            else:
                _add_by_value(ctx, c, _payload_bytes(c))
    else:  # mixed, digest, parallel, unknown: in order
        for c in children:
            _walk(ctx, c)


def _report_class(msg: Message) -> str:
    rtype = (msg.get_param("report-type") or "").lower()
    body = b""
    for part in msg.walk():
        if _content_type(part) in ("message/delivery-status", "message/disposition-notification"):
            body += _payload_bytes(part)
    if rtype == "disposition-notification":
        m = re.search(rb"^Disposition:[^\r\n]*", body, re.M | re.I)
        if m and re.search(rb"deleted|denied|failed", m.group(0), re.I):
            return "REPORT.IPM.Note.IPNNRN"
        return "REPORT.IPM.Note.IPNRN"
    if rtype == "delivery-status":
        actions = re.findall(rb"^Action:\s*([A-Za-z]+)", body, re.M | re.I)
        if any(a.lower() == b"failed" for a in actions):
            return "REPORT.IPM.Note.NDR"
        if actions and all(a.lower() == b"delayed" for a in actions):
            return "REPORT.IPM.Note.DelayedDR"
        return "REPORT.IPM.Note.DR"
    return "IPM.Note"


def _header_block(raw: bytes) -> bytes:
    m = re.search(rb"\r?\n\r?\n", raw)
    return raw[: m.start()] if m else raw


def _content_type_line(block: bytes) -> bytes:
    unfolded = re.sub(rb"\r?\n([ \t])", rb"\1", block)
    m = re.search(rb"^content-type:[ \t]*([^\r\n]*)", unfolded, re.M | re.I)
    return m.group(1) if m else b"text/plain"


def _address_props(prefix: str, name: str, addr: str) -> dict:
    """PidTagSender*/PidTagSentRepresenting* for one mailbox (MS-OXCMAIL 2.2.3.2.1/2.2.3.2.2)."""
    g = lambda suffix: getattr(P, f"PidTag{prefix}{suffix}")  # noqa: E731
    return {
        g("Name"): name or addr,
        g("EmailAddress"): addr,
        g("AddressType"): "SMTP",
        g("SmtpAddress"): addr,
        g("EntryId"): encode_one_off(name or addr, addr),
        g("SearchKey"): search_key("SMTP", addr),
    }


def _recipient(rtype: int, name: str, addr: str, row: int) -> Recipient:
    display = name or addr
    return Recipient(props={
        P.PidTagRecipientType: rtype,
        P.PidTagDisplayName: display,
        P.PidTagRecipientDisplayName: display,
        P.PidTagTransmittableDisplayName: display,
        P.PidTagEmailAddress: addr,
        P.PidTagAddressType: "SMTP",
        P.PidTagSmtpAddress: addr,
        P.PidTagEntryId: encode_one_off(display, addr),
        P.PidTagRecipientEntryId: encode_one_off(display, addr),
        P.PidTagSearchKey: search_key("SMTP", addr),
        P.PidTagRecipientFlags: M.RECIP_SENDABLE,
        P.PidTagDisplayType: M.DT_MAILUSER,
        P.PidTagObjectType: P.MAPI_MAILUSER,
        P.PidTagRowid: row,
        P.PidTagRecipientOrder: row,
        P.PidTagSendRichInfo: False,
    })


_IMPORTANCE = {"high": M.IMPORTANCE_HIGH, "normal": M.IMPORTANCE_NORMAL, "low": M.IMPORTANCE_LOW}
_SENSITIVITY = {
    "personal": M.SENSITIVITY_PERSONAL, "private": M.SENSITIVITY_PRIVATE,
    "company-confidential": M.SENSITIVITY_CONFIDENTIAL, "normal": M.SENSITIVITY_NORMAL,
}


def importance_and_sensitivity(header_block: bytes) -> tuple[int, int]:
    """(PidTagImportance, PidTagSensitivity) from a message's header fields alone (a table row's)."""
    from email.parser import BytesHeaderParser
    msg = BytesHeaderParser(policy=compat32).parsebytes(header_block)
    return _importance(msg), _SENSITIVITY.get((_header(msg, "sensitivity") or "").lower(), M.SENSITIVITY_NORMAL)


def _importance(msg: Message) -> int:
    v = (_header(msg, "importance") or "").lower()
    if v in _IMPORTANCE:
        return _IMPORTANCE[v]
    v = _header(msg, "x-priority") or ""
    m = re.match(r"\s*(\d)", v)
    if m:
        n = int(m.group(1))
        return M.IMPORTANCE_HIGH if n <= 2 else M.IMPORTANCE_LOW if n >= 4 else M.IMPORTANCE_NORMAL
    v = (_header(msg, "priority") or "").lower()
    return {"urgent": M.IMPORTANCE_HIGH, "non-urgent": M.IMPORTANCE_LOW}.get(v, M.IMPORTANCE_NORMAL)


def mime_to_message(raw: bytes, *, delivery_time: datetime | None = None) -> MessageContent:
    """Parse an RFC 5322 message into properties, recipients and attachments.

    ``delivery_time`` overrides PidTagMessageDeliveryTime (e.g. IMAP INTERNALDATE);
    without it the newest Received header's date is used, if any."""
    raw = bytes(raw or b"")
    try:
        msg = message_from_bytes(raw, policy=compat32)
    except Exception:  # the feed parser should not raise; if it does, keep the bytes
        msg = Message()
        msg.set_payload(raw.decode("latin-1"))
    out = MessageContent()
    props = out.props
    block = _header_block(raw)
    props[P.PidTagTransportMessageHeaders] = _crlf(fix_raw_header(block.decode("ascii", "surrogateescape"))) + "\r\n"
    props[P.PidTagMessageSize] = len(raw)

    # subject (MS-OXCMAIL 2.2.3.2.6.1) and conversation (2.2.3.2.7)
    subject = _header(msg, "subject")
    if subject is not None:
        subject = subject.replace("\r", "").replace("\n", "")
        prefix, normalized = split_subject(subject)
        props[P.PidTagSubject] = subject
        props[P.PidTagSubjectPrefix] = prefix
        props[P.PidTagNormalizedSubject] = normalized
        props[P.PidTagConversationTopic] = normalized
    topic = _header(msg, "thread-topic")
    if topic:
        props[P.PidTagConversationTopic] = topic
    tindex = _header(msg, "thread-index")
    if tindex:
        try:
            props[P.PidTagConversationIndex] = base64.b64decode(tindex + "=" * (-len(tindex) % 4))
        except (binascii.Error, ValueError):
            pass

    # originator (2.2.3.2.1 From, 2.2.3.2.2 Sender)
    froms = parse_address_list(_headers_all(msg, "from"))
    senders = parse_address_list(_headers_all(msg, "sender"))
    if froms:
        props.update(_address_props("SentRepresenting", *froms[0]))
    if senders or froms:
        props.update(_address_props("Sender", *(senders or froms)[0]))

    # Reply-To (2.2.3.2.4)
    reply_to = parse_address_list(_headers_all(msg, "reply-to"))
    if reply_to:
        props[P.PidTagReplyRecipientNames] = "; ".join(n or a for n, a in reply_to)
        props[P.PidTagReplyRecipientEntries] = encode_flat_entry_list(
            [encode_one_off(n or a, a) for n, a in reply_to])

    # recipients (2.2.3.2.3)
    row = 0
    for header, rtype in (("to", P.MAPI_TO), ("cc", P.MAPI_CC), ("bcc", P.MAPI_BCC)):
        names = []
        for name, addr in parse_address_list(_headers_all(msg, header)):
            out.recipients.append(_recipient(rtype, name, addr, row))
            names.append(name or addr)
            row += 1
        tag = {P.MAPI_TO: P.PidTagDisplayTo, P.MAPI_CC: P.PidTagDisplayCc, P.MAPI_BCC: P.PidTagDisplayBcc}[rtype]
        props[tag] = "; ".join(names)

    # dates (2.2.3.2.5 Date, Received)
    sent = _date(_header(msg, "date"))
    if sent:
        props[P.PidTagClientSubmitTime] = sent
    if delivery_time is not None:
        props[P.PidTagMessageDeliveryTime] = delivery_time.astimezone(timezone.utc) if delivery_time.tzinfo else delivery_time.replace(tzinfo=timezone.utc)
    else:
        received = _headers_all(msg, "received")
        if received:
            got = _date(fix_raw_header(received[0]).rpartition(";")[2])
            if got:
                props[P.PidTagMessageDeliveryTime] = got

    # threading ids (2.2.3.2.9-2.2.3.2.11)
    for header, tag in (("message-id", P.PidTagInternetMessageId), ("in-reply-to", P.PidTagInReplyToId)):
        v = _header(msg, header)
        if v:
            props[tag] = " ".join(v.split())
    refs = _header(msg, "references")
    if refs:
        props[P.PidTagInternetReferences] = " ".join(refs.split())

    # importance, sensitivity, receipts (2.2.3.2.12-2.2.3.2.14)
    props[P.PidTagImportance] = _importance(msg)
    props[P.PidTagSensitivity] = _SENSITIVITY.get((_header(msg, "sensitivity") or "").lower(), M.SENSITIVITY_NORMAL)
    dnt = parse_address_list(_headers_all(msg, "disposition-notification-to"))
    if dnt:
        props[P.PidTagReadReceiptRequested] = True
        props[M.PidTagReadReceiptSmtpAddress] = dnt[0][1]
        props[M.PidTagReadReceiptName] = dnt[0][0] or dnt[0][1]
    kw = _header(msg, "keywords")
    if kw:
        words = [w.strip() for w in kw.split(",") if w.strip()]
        if words:
            props[PidNameKeywords] = words
    for header, tag in (("list-unsubscribe", P.PidTagListUnsubscribe), ("content-class", M.PidNameContentClass)):
        v = _header(msg, header)
        if v:
            props[tag] = v

    # body and attachments (2.2.3.3 - 2.2.3.6)
    ctx = _Ctx()
    top = _content_type(msg)
    body_root = msg
    message_class = "IPM.Note"
    flags = 0
    signed_entity = None
    if top == "multipart/signed":
        message_class = "IPM.Note.SMIME.MultipartSigned"
        body_root = next((c for c in (msg.get_payload() or []) if isinstance(c, Message)), None) if msg.is_multipart() else None
        raw_body = raw[len(block):].lstrip(b"\r\n") if len(block) < len(raw) else b""
        signed_entity = b"Content-Type: " + _content_type_line(block) + b"\r\n\r\n" + raw_body
    elif top in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        message_class = "IPM.Note.SMIME"
        props[M.PidNameContentType] = fix_raw_header(str(msg.get("content-type", top)))
        _add_by_value(ctx, msg, _payload_bytes(msg), ctype=top)
        ctx.attachments[-1].props.setdefault(P.PidTagAttachLongFilename, "smime.p7m")
        body_root = None
    elif top == "multipart/report":
        message_class = _report_class(msg)
    if body_root is not None:
        _walk(ctx, body_root)
    if signed_entity is not None:
        # MS-OXOSMIME 2.1.1: the whole multipart/signed entity is one attachment
        ctx.attachments = [Attachment(props={
            P.PidTagAttachMethod: P.ATTACH_BY_VALUE,
            P.PidTagAttachMimeTag: "multipart/signed",
            P.PidTagAttachLongFilename: "smime.p7m",
            P.PidTagAttachFilename: "SMIME.P7M",
            P.PidTagAttachExtension: ".p7m",
            P.PidTagDisplayName: "smime.p7m",
            P.PidTagAttachDataBinary: signed_entity,
            P.PidTagAttachSize: len(signed_entity),
            P.PidTagRenderingPosition: -1,
        })]

    if ctx.calendar is not None and message_class == "IPM.Note":
        message_class = meeting_class(ctx.calendar) or message_class

    html_text = None
    if ctx.html is None and ctx.rtf is not None:
        html_text = rtfmod.rtf_to_html(ctx.rtf)
        if html_text is not None:
            ctx.html, ctx.html_cp = html_text.encode("utf-8"), 65001
    if ctx.text is not None:
        props[P.PidTagBody] = ctx.text
    elif ctx.html is not None:
        props[P.PidTagBody] = html_to_text(ctx.html.decode(_codec_name(charset_for_codepage(ctx.html_cp)) or "utf-8", "replace"))
    elif ctx.rtf is not None:
        props[P.PidTagBody] = _crlf(rtfmod.rtf_to_text(ctx.rtf))
    if ctx.html is not None:
        props[P.PidTagHtml] = ctx.html
    if ctx.rtf is not None:
        # MS-OXRTFCP 2.1.3.1.1: a reader takes the compressed (LZFu) or the uncompressed (MELA) form.
        # This runs on the event loop (a GetItem's conversion), so a big body keeps the uncompressed
        # form, a copy; compressing it is left to whoever sends it and can do so off the loop
        # (rtf.compress_async).
        props[P.PidTagRtfCompressed] = rtfmod.compress(ctx.rtf, compressed=len(ctx.rtf)
                                                       <= rtfmod.INLINE_COMPRESS_LIMIT)
        props[P.PidTagRtfInSync] = False
    props[P.PidTagNativeBody] = ctx.native if ctx.native is not None else M.NATIVE_BODY_UNDEFINED
    if ctx.html_cp is not None:
        cp = ctx.html_cp
    elif ctx.text_codec is not None:
        cp = _CODEC_TO_CP.get(ctx.text_codec, 65001)
    else:
        cp = 65001
    props[P.PidTagInternetCodepage] = cp

    # inline images: referenced by cid: or Content-Location from the HTML (2.2.3.6)
    if ctx.html is not None:
        html_str = ctx.html.decode("latin-1")
        for att in ctx.attachments:
            cid = att.props.get(P.PidTagAttachContentId)
            loc = att.props.get(P.PidTagAttachContentLocation)
            if (cid and ("cid:" + cid) in html_str) or (loc and loc in html_str):
                att.props[P.PidTagAttachmentHidden] = True
                att.props[P.PidTagAttachFlags] = M.ATT_MHTML_REF
    for n, att in enumerate(ctx.attachments):
        att.props[P.PidTagAttachNumber] = n
    out.attachments = ctx.attachments

    visible = [a for a in out.attachments if not a.props.get(P.PidTagAttachmentHidden)]
    props[P.PidTagHasAttachments] = bool(visible)
    if visible:
        flags |= P.MSGFLAG_HASATTACH
    if (_header(msg, "x-unsent") or "").strip() == "1":
        flags |= P.MSGFLAG_UNSENT
    props[P.PidTagMessageFlags] = flags
    props[P.PidTagMessageClass] = message_class
    return out
