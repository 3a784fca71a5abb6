"""Message object -> MIME (MS-OXCMAIL 2.1, "Message object to MIME").

A small writer of its own instead of email.generator so the output is
predictable: CRLF everywhere, RFC 2047 encoded words (UTF-8, B encoding) for
non-ASCII header text, RFC 2231 for non-ASCII parameters, base64 for
attachment bytes (exact round trips), quoted-printable for non-ASCII text.
Boundaries are derived from the content, so the function is pure.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import timezone
from email import quoprimime
from email.utils import format_datetime
from urllib.parse import quote

from protocols.mapi.props import core as P
from protocols.mapi.props import mail as M
from protocols.mapi.props.named import PidNameKeywords

from ..model import Attachment, MessageContent, Recipient
from . import rtf as rtfmod
from protocols.mapi.entryids import decode_flat_entry_list, decode_one_off
from .mail_in import calendar_method, charset_for_codepage

__all__ = ["message_to_mime", "encode_words", "format_address"]


# --- header encoding ----------------------------------------------------------

_ASCII_SAFE = re.compile(r"^[\x20-\x7e\t]*$")


def encode_words(text: str, *, used: int = 0) -> str:
    """RFC 2047 B-encoded words for text that is not plain ASCII (else the text).

    Words carry at most ~45 characters so each stays under 75 octets; the
    writer folds between them and a reader joins them without spaces."""
    if _ASCII_SAFE.match(text) and "=?" not in text:
        return text
    words, chunk, size = [], "", 0
    for ch in text:
        n = len(ch.encode("utf-8", "surrogatepass"))
        if size + n > 42:
            words.append(chunk)
            chunk, size = "", 0
        chunk += ch
        size += n
    if chunk:
        words.append(chunk)
    return " ".join(
        "=?utf-8?B?" + base64.b64encode(w.encode("utf-8", "surrogatepass")).decode("ascii") + "?=" for w in words
    )


_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$")


def format_address(name: str | None, addr: str) -> str:
    """RFC 5322 mailbox with an encoded or quoted display name."""
    name = (name or "").strip()
    if not name or name == addr:
        return addr
    if not _ASCII_SAFE.match(name) or "=?" in name:
        return f"{encode_words(name)} <{addr}>"
    if _ATEXT.match(name) and "  " not in name:
        return f"{name} <{addr}>"
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{addr}>'


def _fold(name: str, value: str) -> bytes:
    """Fold at spaces so lines stay near 78 octets (RFC 5322 2.2.3)."""
    line = f"{name}: "
    out = []
    for i, word in enumerate(value.split(" ")):
        if i == 0:
            line += word
        elif len(line) + 1 + len(word) > 78 and line.strip():
            out.append(line)
            line = " " + word
        else:
            line += " " + word
    out.append(line)
    return ("\r\n".join(out) + "\r\n").encode("utf-8", "surrogateescape")


def _param(key: str, value: str) -> str:
    """A MIME parameter; RFC 2231 (with continuations) when not ASCII."""
    if _ASCII_SAFE.match(value):
        return f'{key}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    enc = quote(value.encode("utf-8", "surrogatepass"), safe="!#$&+-.^_`|~")
    if len(enc) <= 60:
        return f"{key}*=utf-8''{enc}"
    pieces, i = [], 0
    while enc:
        cut = 60
        # do not cut through a %XX escape
        while cut < len(enc) and "%" in enc[cut - 2:cut]:
            cut -= 1
        head, enc = enc[:cut], enc[cut:]
        pieces.append(f"{key}*{i}*=" + ("utf-8''" if i == 0 else "") + head)
        i += 1
    return "; ".join(pieces)


# --- the part tree ----------------------------------------------------------------

@dataclass
class _Part:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    children: list["_Part"] | None = None
    subtype: str = "mixed"
    params: list[str] = field(default_factory=list)
    raw_entity: bytes | None = None  # an entity written as is (S/MIME clear-signed)


def _b64(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return b"\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + (b"\r\n" if enc else b"")


_NOT_7BIT = re.compile(rb"[^\t\r\n\x20-\x7e]")


def _is_7bit_safe(data: bytes) -> bool:
    if _NOT_7BIT.search(data):
        return False
    lines = data.split(b"\r\n")
    return all(b"\r" not in ln and b"\n" not in ln and len(ln) <= 998 for ln in lines)


def _text_part(ctype: str, data: bytes, charset: str, extra: list[str] | None = None) -> _Part:
    params = [f"charset={charset}"] + (extra or [])
    if _is_7bit_safe(data):
        cte, body = "7bit", data
    elif b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b""):
        cte = "quoted-printable"
        body = quoprimime.body_encode(data.decode("latin-1"), maxlinelen=76, eol="\r\n").encode("latin-1")
    else:
        cte, body = "base64", _b64(data)
    return _Part(headers=[("Content-Type", "; ".join([ctype] + params)), ("Content-Transfer-Encoding", cte)], body=body)


def _boundary(seed: bytes, depth: int) -> str:
    return "----=_exgate_%d_%s" % (depth, hashlib.sha1(seed).hexdigest()[:24])


def _render(part: _Part, depth: int = 0) -> bytes:
    if part.raw_entity is not None:
        return part.raw_entity
    out = bytearray()
    if part.children is not None:
        rendered = [_render(c, depth + 1) for c in part.children]
        seed = b"".join(rendered)
        salt = 0
        boundary = _boundary(seed, depth)
        while ("--" + boundary).encode() in seed:
            salt += 1
            boundary = _boundary(seed + str(salt).encode(), depth)
        ctype = "; ".join([f"multipart/{part.subtype}"] + part.params + [f'boundary="{boundary}"'])
        for name, value in part.headers:
            out += _fold(name, value)
        out += _fold("Content-Type", ctype)
        out += b"\r\n"
        for r in rendered:
            # the CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1)
            out += b"--" + boundary.encode() + b"\r\n" + r + b"\r\n"
        out += b"--" + boundary.encode() + b"--\r\n"
        return bytes(out)
    for name, value in part.headers:
        out += _fold(name, value)
    out += b"\r\n" + part.body
    return bytes(out)


# --- attachments -----------------------------------------------------------------

_RAW_MESSAGE_TYPES = {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers",
                      "message/global-delivery-status", "message/global-disposition-notification"}


def _att_name(att: Attachment) -> str | None:
    p = att.props
    return p.get(P.PidTagAttachLongFilename) or p.get(P.PidTagAttachFilename) or None


def _attachment_part(att: Attachment, *, inline: bool = False) -> _Part:
    p = att.props
    name = _att_name(att)
    if att.embedded is not None or p.get(P.PidTagAttachMethod) == P.ATTACH_EMBEDDED_MSG:
        body = message_to_mime(att.embedded, include_bcc=True) if att.embedded is not None else b""
        headers = [("Content-Type", "message/rfc822")]
        disp = "attachment" + ("; " + _param("filename", name) if name else "")
        headers.append(("Content-Disposition", disp))
        headers.append(("Content-Transfer-Encoding", "7bit" if _is_7bit_safe(body) else "8bit"))
        return _Part(headers=headers, body=body)
    data = p.get(P.PidTagAttachDataBinary) or b""
    if isinstance(data, str):
        data = data.encode("utf-8")
    ctype = (p.get(P.PidTagAttachMimeTag) or "application/octet-stream").strip().lower()
    if not re.match(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$", ctype):
        ctype = "application/octet-stream"
    if ctype.startswith("multipart/") or (ctype.startswith("message/") and ctype not in _RAW_MESSAGE_TYPES):
        ctype = "application/octet-stream"  # cannot be sent base64-encoded as what it claims
    if ctype in _RAW_MESSAGE_TYPES and _is_7bit_safe(data):
        # report parts are header blocks in 7bit (RFC 3464 2.1, RFC 8098 3.1)
        headers = [("Content-Type", ctype + ("; " + _param("name", name) if name else ""))]
        if name:
            headers.append(("Content-Disposition", "inline; " + _param("filename", name)))
        headers.append(("Content-Transfer-Encoding", "7bit"))
        return _Part(headers=headers, body=data)
    ctparams = [ctype]
    if name:
        ctparams.append(_param("name", name))
    headers = [("Content-Type", "; ".join(ctparams))]
    disp = "inline" if inline else "attachment"
    if name:
        disp += "; " + _param("filename", name)
    headers.append(("Content-Disposition", disp))
    headers.append(("Content-Transfer-Encoding", "base64"))
    cid = p.get(P.PidTagAttachContentId)
    if cid:
        headers.append(("Content-ID", f"<{cid}>"))
    loc = p.get(P.PidTagAttachContentLocation)
    if loc:
        headers.append(("Content-Location", loc))
    return _Part(headers=headers, body=_b64(data))


# --- bodies ------------------------------------------------------------------------

def _is_inline(att: Attachment) -> bool:
    p = att.props
    return bool(p.get(P.PidTagAttachmentHidden) or (p.get(P.PidTagAttachFlags) or 0) & M.ATT_MHTML_REF) and \
        bool(p.get(P.PidTagAttachContentId) or p.get(P.PidTagAttachContentLocation))


def _is_calendar(att: Attachment) -> bool:
    p = att.props
    return bool(p.get(P.PidTagAttachmentHidden)) and (p.get(P.PidTagAttachMimeTag) or "").lower() == "text/calendar" \
        and att.embedded is None


def _codec_for(charset: str) -> str:
    return {"ks_c_5601-1987": "cp949"}.get(charset, charset)


def _body_parts(msg: MessageContent, inline_atts: list[Attachment], calendars: list[Attachment],
                has_attachments: bool) -> _Part | None:
    props = msg.props
    cp = props.get(P.PidTagInternetCodepage)
    charset = charset_for_codepage(cp)
    text = props.get(P.PidTagBody)
    html = props.get(P.PidTagHtml)
    if isinstance(html, str):
        html, charset_html = html.encode("utf-8"), "utf-8"
    else:
        charset_html = charset
    rtf_raw = None
    rtf_part = None
    native_rtf = props.get(P.PidTagNativeBody) == M.NATIVE_BODY_RTF
    # PidTagNativeBody is the server's to compute (MS-OXCMSG 2.2.1.58.4): Outlook saving over
    # MAPI sends only PidTagRtfCompressed, or marks its other bodies stale with RtfInSync FALSE.
    rtf_newer = props.get(P.PidTagRtfInSync) is False
    if props.get(P.PidTagRtfCompressed) and (native_rtf or rtf_newer or (text is None and html is None)):
        try:
            rtf_raw = rtfmod.decompress(props[P.PidTagRtfCompressed])
        except rtfmod.RtfError:
            rtf_raw = None
        if rtf_raw is not None and rtf_newer:
            text = html = None
        if rtf_raw is not None and native_rtf:
            rtf_part = rtf_raw
        if rtf_raw is not None and text is None and html is None:
            h = rtfmod.rtf_to_html(rtf_raw)
            if h is not None:
                html, charset_html = h.encode("utf-8"), "utf-8"
            else:
                text = rtfmod.rtf_to_text(rtf_raw)
    alts: list[tuple[int, _Part]] = []
    if text is not None:
        text = re.sub(r"\r\n|\r|\n", "\r\n", text)
        tcs = charset
        try:
            data = text.encode(_codec_for(tcs))
            if data.decode(_codec_for(tcs)) != text:
                raise UnicodeError
        except (UnicodeError, LookupError):
            tcs, data = "utf-8", text.encode("utf-8", "surrogatepass")
        alts.append((M.NATIVE_BODY_PLAIN, _text_part("text/plain", data, tcs)))
    if html is not None:
        hp = _text_part("text/html", html, charset_html)
        if inline_atts:
            hp = _Part(children=[hp] + [_attachment_part(a, inline=True) for a in inline_atts], subtype="related",
                       params=['type="text/html"'])
        alts.append((M.NATIVE_BODY_HTML, hp))
    if rtf_part is not None:
        alts.append((M.NATIVE_BODY_RTF, _text_part("text/rtf", rtf_part, "us-ascii")))
    # the native body goes last: the preferred alternative (RFC 2046 5.1.4)
    native = props.get(P.PidTagNativeBody)
    alts.sort(key=lambda a: a[0] == native)
    alts = [a for _, a in alts]
    for cal in calendars:
        data = cal.props.get(P.PidTagAttachDataBinary) or b""
        method = calendar_method(data)
        alts.append(_text_part("text/calendar", data, "utf-8", [f"method={method}"] if method else None))
    if not alts:
        if has_attachments:
            return None
        alts.append(_text_part("text/plain", b"", "utf-8"))
    if len(alts) == 1:
        return alts[0]
    return _Part(children=alts, subtype="alternative")


# --- headers -----------------------------------------------------------------------

def _recipient_address(r: Recipient) -> tuple[str, str] | None:
    p = r.props
    addr = p.get(P.PidTagSmtpAddress)
    if not addr and (p.get(P.PidTagAddressType) or "").upper() == "SMTP":
        addr = p.get(P.PidTagEmailAddress)
    name = p.get(P.PidTagDisplayName) or p.get(P.PidTagRecipientDisplayName) or ""
    if not addr:
        oo = decode_one_off(p.get(P.PidTagEntryId) or p.get(P.PidTagRecipientEntryId) or b"")
        if oo and oo.address_type.upper() == "SMTP":
            addr, name = oo.email_address, name or oo.display_name
    return (name, addr) if addr else None


def _mailbox(props: dict, prefix: str) -> tuple[str, str] | None:
    g = lambda s: props.get(getattr(P, f"PidTag{prefix}{s}"))  # noqa: E731
    addr = g("SmtpAddress")
    if not addr and (g("AddressType") or "").upper() == "SMTP":
        addr = g("EmailAddress")
    name = g("Name") or ""
    if not addr:
        oo = decode_one_off(g("EntryId") or b"")
        if oo and oo.address_type.upper() == "SMTP":
            addr, name = oo.email_address, name or oo.display_name
    return (name, addr) if addr else None


_IMPORTANCE_OUT = {M.IMPORTANCE_HIGH: ("high", "1 (Highest)"), M.IMPORTANCE_LOW: ("low", "5 (Lowest)")}
_SENSITIVITY_OUT = {M.SENSITIVITY_PERSONAL: "Personal", M.SENSITIVITY_PRIVATE: "Private",
                    M.SENSITIVITY_CONFIDENTIAL: "Company-Confidential"}


def _top_headers(msg: MessageContent, include_bcc: bool, include_trace: bool) -> list[tuple[str, str]]:
    props = msg.props
    h: list[tuple[str, str]] = []
    delivered = props.get(P.PidTagMessageDeliveryTime)
    if include_trace and delivered is not None:
        h.append(("Received", "by exgate (store); " + format_datetime(delivered.astimezone(timezone.utc))))
    sent = props.get(P.PidTagClientSubmitTime)
    if sent is not None:
        h.append(("Date", format_datetime(sent.astimezone(timezone.utc))))
    rep = _mailbox(props, "SentRepresenting")
    snd = _mailbox(props, "Sender")
    if rep or snd:
        h.append(("From", format_address(*(rep or snd))))
    if rep and snd and snd[1].lower() != rep[1].lower():
        h.append(("Sender", format_address(*snd)))
    entries = props.get(P.PidTagReplyRecipientEntries)
    if entries:
        boxes = [oo for oo in (decode_one_off(e) for e in decode_flat_entry_list(entries)) if oo and oo.email_address]
        if boxes:
            h.append(("Reply-To", ", ".join(format_address(b.display_name, b.email_address) for b in boxes)))
    order = sorted(msg.recipients, key=lambda r: (r.props.get(P.PidTagRecipientOrder, r.props.get(P.PidTagRowid, 0)) or 0))
    for rtype, header in ((P.MAPI_TO, "To"), (P.MAPI_CC, "Cc"), (P.MAPI_BCC, "Bcc")):
        if rtype == P.MAPI_BCC and not include_bcc:
            continue
        boxes = [_recipient_address(r) for r in order if r.props.get(P.PidTagRecipientType, P.MAPI_TO) == rtype]
        boxes = [b for b in boxes if b]
        if boxes:
            h.append((header, ", ".join(format_address(*b) for b in boxes)))
    prefix = props.get(P.PidTagSubjectPrefix)
    normalized = props.get(P.PidTagNormalizedSubject)
    subject = (prefix or "") + normalized if normalized is not None else props.get(P.PidTagSubject)
    if subject is not None:
        h.append(("Subject", encode_words(subject.replace("\r", "").replace("\n", " "))))
    for tag, header in ((P.PidTagInternetMessageId, "Message-ID"), (P.PidTagInReplyToId, "In-Reply-To"),
                        (P.PidTagInternetReferences, "References")):
        v = props.get(tag)
        if v:
            h.append((header, " ".join(v.split())))
    topic = props.get(P.PidTagConversationTopic)
    if topic is not None and topic != (normalized if normalized is not None else subject):
        h.append(("Thread-Topic", encode_words(topic)))
    index = props.get(P.PidTagConversationIndex)
    if index:
        h.append(("Thread-Index", base64.b64encode(index).decode("ascii")))
    imp = props.get(P.PidTagImportance)
    if imp in _IMPORTANCE_OUT:
        h.append(("Importance", _IMPORTANCE_OUT[imp][0]))
        h.append(("X-Priority", _IMPORTANCE_OUT[imp][1]))
    sens = props.get(P.PidTagSensitivity)
    if sens in _SENSITIVITY_OUT:
        h.append(("Sensitivity", _SENSITIVITY_OUT[sens]))
    if props.get(P.PidTagReadReceiptRequested):
        addr = props.get(M.PidTagReadReceiptSmtpAddress)
        box = (props.get(M.PidTagReadReceiptName) or "", addr) if addr else rep or snd
        if box:
            h.append(("Disposition-Notification-To", format_address(*box)))
    kws = props.get(PidNameKeywords)
    if kws:
        h.append(("Keywords", encode_words(", ".join(kws))))
    for tag, header in ((P.PidTagListUnsubscribe, "List-Unsubscribe"), (M.PidNameContentClass, "Content-Class")):
        v = props.get(tag)
        if v:
            h.append((header, v))
    if (props.get(P.PidTagMessageFlags) or 0) & P.MSGFLAG_UNSENT:
        h.append(("X-Unsent", "1"))
    h.append(("MIME-Version", "1.0"))
    return h


def message_to_mime(msg: MessageContent, *, include_bcc: bool = False, include_trace: bool = False,
                    calendar: bytes | None = None) -> bytes:
    """Write an RFC 5322 message (CRLF) for a Message object.

    ``calendar`` is an iTIP body (e.g. from ical.meeting_message_to_itip) to
    send as the text/calendar alternative when the message holds none itself.

    ``include_bcc`` writes a Bcc header (drafts, Sent Items copies);
    ``include_trace`` writes PidTagMessageDeliveryTime as a Received header so
    it survives a round trip (for storing on IMAP, not for sending)."""
    props = msg.props
    headers = _top_headers(msg, include_bcc, include_trace)
    mclass = (props.get(P.PidTagMessageClass) or "IPM.Note")
    atts = list(msg.attachments)

    if mclass.upper().startswith("IPM.NOTE.SMIME.MULTIPARTSIGNED"):
        signed = next((a for a in atts if (a.props.get(P.PidTagAttachMimeTag) or "").lower() == "multipart/signed"), None)
        data = signed.props.get(P.PidTagAttachDataBinary) if signed else None
        if data:
            head = b"".join(_fold(n, v) for n, v in headers)
            return head + data
    if mclass.upper().startswith("IPM.NOTE.SMIME") and atts:
        p7 = atts[0]
        data = p7.props.get(P.PidTagAttachDataBinary) or b""
        ctype = props.get(M.PidNameContentType) or 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'
        part = _Part(headers=headers + [("Content-Type", " ".join(ctype.split())),
                                        ("Content-Transfer-Encoding", "base64"),
                                        ("Content-Disposition", 'attachment; filename="smime.p7m"')],
                     body=_b64(data))
        return _render(part)

    html_present = props.get(P.PidTagHtml) is not None
    inline = [a for a in atts if html_present and _is_inline(a) and a.embedded is None]
    calendars = [a for a in atts if _is_calendar(a)]
    if calendar is not None and not calendars:
        calendars = [Attachment(props={P.PidTagAttachMimeTag: "text/calendar", P.PidTagAttachmentHidden: True,
                                       P.PidTagAttachDataBinary: calendar})]
    rest = [a for a in atts if a not in inline and a not in calendars]
    body = _body_parts(msg, inline, calendars, bool(rest))
    heads = [body] if body is not None else []

    if mclass.upper().startswith("REPORT."):
        suffix = mclass.rsplit(".", 1)[-1].upper()
        rtype = "disposition-notification" if suffix in ("IPNRN", "IPNNRN") else "delivery-status"
        top = _Part(children=heads + [_attachment_part(a) for a in rest], subtype="report",
                    params=[f"report-type={rtype}"])
    elif rest:
        top = _Part(children=heads + [_attachment_part(a) for a in rest], subtype="mixed")
    else:
        top = body
    top.headers = headers + top.headers
    return _render(top)
