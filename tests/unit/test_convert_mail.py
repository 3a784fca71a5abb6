"""MIME <-> Message object (MS-OXCMAIL), IMAP flags <-> properties, one-off EntryIDs."""
from __future__ import annotations

import email
import email.policy
import random
import re
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway.store.convert import rtf
from protocols.mapi.entryids import (
    ONE_OFF_PROVIDER_UID, decode_flat_entry_list, decode_one_off, encode_flat_entry_list,
    encode_one_off,
)
from gateway.store.convert.mail import (
    apply_flags, calendar_part, category_to_keyword, flags_to_props, keyword_to_category, message_to_mime,
    mime_to_message, props_to_flags,
)
from gateway.store.convert.mail_in import split_subject
from gateway.store.model import Attachment, MessageContent, Recipient
from protocols.mapi.props import core as P
from protocols.mapi.props import mail as M
from protocols.mapi.props import name_of
from protocols.mapi.props.named import PidNameKeywords

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "mime"
FIXTURES = sorted(p.name for p in CORPUS.glob("*.eml"))

# properties that describe one particular MIME rendering, not the message
PER_RENDERING = {P.PidTagTransportMessageHeaders, P.PidTagMessageSize}


def load(name: str) -> MessageContent:
    return mime_to_message((CORPUS / name).read_bytes())


def _key(k) -> str:
    return name_of(k) if isinstance(k, int) else f"{k.name or hex(k.lid)}"


def diff(a, b, path="msg") -> list[str]:
    """Every difference between two messages, recursing into attachments and embedded messages."""
    out = []
    for k in set(a.props) | set(b.props):
        if k in PER_RENDERING:
            continue
        if k == P.PidTagAttachSize and a.props.get(P.PidTagAttachMethod) == P.ATTACH_EMBEDDED_MSG:
            continue  # the size of the embedded rendering
        if a.props.get(k) != b.props.get(k):
            out.append(f"{path}.{_key(k)}: {a.props.get(k)!r:.120} != {b.props.get(k)!r:.120}")
    if isinstance(a, MessageContent):
        if len(a.recipients) != len(b.recipients):
            out.append(f"{path}: {len(a.recipients)} recipients != {len(b.recipients)}")
        for i, (x, y) in enumerate(zip(a.recipients, b.recipients)):
            out += diff(x, y, f"{path}.rcpt{i}")
        if len(a.attachments) != len(b.attachments):
            out.append(f"{path}: {len(a.attachments)} attachments != {len(b.attachments)}")
        for i, (x, y) in enumerate(zip(a.attachments, b.attachments)):
            out += diff(x, y, f"{path}.att{i}")
            if (x.embedded is None) != (y.embedded is None):
                out.append(f"{path}.att{i}: embedded on one side only")
            elif x.embedded is not None:
                out += diff(x.embedded, y.embedded, f"{path}.att{i}.embedded")
    return out


def assert_clean_mime(raw: bytes) -> None:
    """What message_to_mime promises: CRLF only, short lines, ASCII headers, no parser defects."""
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # RFC 2047 words, not raw UTF-8
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    for part in parsed.walk():
        assert not part.defects, (part.get_content_type(), part.defects)


# --- the corpus, parsed ---------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURES)
def test_corpus_parses_and_writes_back_clean(name):
    msg = load(name)
    assert msg.props[P.PidTagMessageClass]
    assert msg.props[P.PidTagMessageSize] == (CORPUS / name).stat().st_size
    assert msg.props[P.PidTagTransportMessageHeaders].endswith("\r\n")
    assert_clean_mime(message_to_mime(msg, include_bcc=True, include_trace=True))


@pytest.mark.parametrize("name", FIXTURES)
def test_round_trip_mime_props_mime_props(name):
    first = load(name)
    again = mime_to_message(message_to_mime(first, include_bcc=True, include_trace=True))
    assert diff(first, again) == []


def test_outlook_reply_headers():
    m = load("outlook_reply_alternative.eml")
    p = m.props
    assert p[P.PidTagSubject] == "RE: Quartalszahlen März"
    assert p[P.PidTagSubjectPrefix] == "RE: "
    assert p[P.PidTagNormalizedSubject] == "Quartalszahlen März"
    assert p[P.PidTagConversationTopic] == "Quartalszahlen März"
    assert p[P.PidTagConversationIndex][:4] == bytes.fromhex("01d950d2")
    assert p[P.PidTagSentRepresentingName] == "Müller, Alice"
    assert p[P.PidTagSentRepresentingSmtpAddress] == "alice@corp.example.com"
    assert p[P.PidTagSenderSmtpAddress] == "alice@corp.example.com"  # no Sender header: From
    assert p[P.PidTagSenderAddressType] == "SMTP"
    assert decode_one_off(p[P.PidTagSenderEntryId]).display_name == "Müller, Alice"
    assert p[P.PidTagSenderSearchKey] == b"SMTP:ALICE@CORP.EXAMPLE.COM\x00"
    assert p[P.PidTagReplyRecipientNames] == "Alice Team"
    [eid] = decode_flat_entry_list(p[P.PidTagReplyRecipientEntries])
    assert decode_one_off(eid).email_address == "team@corp.example.com"
    assert p[P.PidTagDisplayTo] == "Bob Smith; carol@example.net"
    assert p[P.PidTagDisplayCc] == "Jörg Schäfer"
    assert p[P.PidTagDisplayBcc] == ""
    assert p[P.PidTagClientSubmitTime] == datetime(2023, 3, 7, 9, 15, 29, tzinfo=timezone.utc)
    assert p[P.PidTagMessageDeliveryTime] == datetime(2023, 3, 7, 9, 15, 32, tzinfo=timezone.utc)
    assert p[P.PidTagInternetMessageId] == "<AM0PR07MB4417B0E1C2D3@AM0PR07MB4417.eurprd07.prod.outlook.com>"
    assert p[P.PidTagInReplyToId] == "<CAJ8p+T0r2X@mail.gmail.com>"
    assert p[P.PidTagInternetReferences] == "<CAH1b2c3d4@mail.gmail.com> <CAJ8p+T0r2X@mail.gmail.com>"
    assert p[P.PidTagImportance] == M.IMPORTANCE_HIGH
    assert p[P.PidTagSensitivity] == M.SENSITIVITY_PRIVATE
    assert p[P.PidTagReadReceiptRequested] is True
    assert p[P.PidTagInternetCodepage] == 1252
    assert p[P.PidTagNativeBody] == M.NATIVE_BODY_HTML
    assert "20€" in p[P.PidTagBody] and "\r\n" in p[P.PidTagBody]
    assert p[P.PidTagHtml].decode("cp1252").count("März") == 1
    assert p[P.PidTagHasAttachments] is False
    assert p[P.PidTagMessageFlags] == 0
    assert p[P.PidTagTransportMessageHeaders].startswith("Received: from EXCH01")

    to, to2, cc = m.recipients
    assert to.props[P.PidTagRecipientType] == P.MAPI_TO and cc.props[P.PidTagRecipientType] == P.MAPI_CC
    assert [r.props[P.PidTagRowid] for r in m.recipients] == [0, 1, 2]
    assert to.props[P.PidTagDisplayName] == "Bob Smith"
    assert to.props[P.PidTagEmailAddress] == to.props[P.PidTagSmtpAddress] == "bob@example.org"
    assert to.props[P.PidTagAddressType] == "SMTP"
    assert to.props[P.PidTagEntryId] == encode_one_off("Bob Smith", "bob@example.org")
    assert to.props[P.PidTagRecipientFlags] == M.RECIP_SENDABLE
    assert to.props[P.PidTagDisplayType] == M.DT_MAILUSER
    assert cc.props[P.PidTagDisplayName] == "Jörg Schäfer"


def test_thunderbird_inline_image_and_split_q_words():
    m = load("thunderbird_related_inline.eml")
    assert m.props[P.PidTagSubject] == "Fotos vom Ausflug – schöne Grüße aus dem Schwarzwald"
    assert m.recipients[0].props[P.PidTagDisplayName] == "Alice Müller"
    [img] = m.attachments
    a = img.props
    assert a[P.PidTagAttachContentId] == "part1.Ab3dE5fG.h7Ij9kLm@example.org"
    assert a[P.PidTagAttachmentHidden] is True
    assert a[P.PidTagAttachFlags] == M.ATT_MHTML_REF
    assert a[P.PidTagAttachMimeTag] == "image/png"
    assert a[P.PidTagAttachDataBinary].startswith(b"\x89PNG")
    assert m.props[P.PidTagHasAttachments] is False  # only an inline image
    out = message_to_mime(m)
    parsed = email.message_from_bytes(out, policy=email.policy.default)
    types = [p.get_content_type() for p in parsed.walk()]
    assert types == ["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]


def test_apple_mail_rfc2231_filename_and_bcc():
    m = load("applemail_mixed_attachments.eml")
    pdf, jpg = m.attachments
    assert pdf.props[P.PidTagAttachLongFilename] == "Überweisung März.pdf"
    assert pdf.props[P.PidTagAttachExtension] == ".pdf"
    assert pdf.props[P.PidTagAttachFilename] == "BERWEISU.PDF"
    assert pdf.props[P.PidTagAttachSize] == len(pdf.props[P.PidTagAttachDataBinary]) == 325
    assert pdf.props[P.PidTagAttachMethod] == P.ATTACH_BY_VALUE
    # a Content-ID the HTML does not use: an ordinary, visible attachment
    assert jpg.props[P.PidTagAttachContentId] == "F00DCAFE-1234-5678-9ABC-DEF012345678@example.net"
    assert not jpg.props.get(P.PidTagAttachmentHidden)
    assert m.props[P.PidTagHasAttachments] is True
    assert m.props[P.PidTagMessageFlags] & P.MSGFLAG_HASATTACH
    assert m.props[P.PidTagDisplayBcc] == "audit@example.net"
    assert m.props[P.PidTagInternetCodepage] == 20127  # us-ascii HTML
    assert m.props[P.PidTagSentRepresentingName] == "Carol Díaz"

    out = message_to_mime(m)
    assert b"\r\nBcc:" not in out and b"audit@example.net" not in out  # Bcc only on request
    assert b"filename*=utf-8''%C3%9Cberweisung%20M%C3%A4rz.pdf" in out
    assert b"audit@example.net" in message_to_mime(m, include_bcc=True)


def test_meeting_request_keeps_icalendar():
    m = load("gmail_meeting_request.eml")
    assert m.props[P.PidTagMessageClass] == "IPM.Schedule.Meeting.Request"
    cal, ics = m.attachments
    assert cal.props[P.PidTagAttachMimeTag] == "text/calendar"
    assert cal.props[P.PidTagAttachmentHidden] is True
    assert b"METHOD:REQUEST" in cal.props[P.PidTagAttachDataBinary]
    assert ics.props[P.PidTagAttachLongFilename] == "invite.ics"
    assert m.props[P.PidTagSenderSmtpAddress] == "calendar-notification@google.com"
    assert m.props[P.PidTagSentRepresentingSmtpAddress] == "dave@example.com"
    out = message_to_mime(m)
    assert re.search(rb"Content-Type: text/calendar; charset=utf-8; method=REQUEST", out)
    assert b"\r\nSender: Google Calendar <calendar-notification@google.com>\r\n" in out


def test_calendar_handoff_both_ways():
    m = load("meeting_cancel.eml")
    ics = calendar_part(m)
    assert ics.startswith(b"BEGIN:VCALENDAR") and b"METHOD:CANCEL" in ics
    assert calendar_part(load("outlook_reply_alternative.eml")) is None
    # a meeting message built from properties gets its iTIP body from the caller
    bare = MessageContent(props={P.PidTagMessageClass: "IPM.Schedule.Meeting.Canceled", P.PidTagSubject: "Canceled: x",
                                 P.PidTagBody: "cancelled\r\n"})
    again = mime_to_message(message_to_mime(bare, calendar=ics))
    assert again.props[P.PidTagMessageClass] == "IPM.Schedule.Meeting.Canceled"
    assert calendar_part(again) == ics


@pytest.mark.parametrize("name, cls", [
    ("outlook_meeting_reply_accepted.eml", "IPM.Schedule.Meeting.Resp.Pos"),
    ("meeting_cancel.eml", "IPM.Schedule.Meeting.Canceled"),
    ("read_receipt_mdn.eml", "REPORT.IPM.Note.IPNRN"),
    ("postfix_ndr.eml", "REPORT.IPM.Note.NDR"),
    ("smime_signed.eml", "IPM.Note.SMIME.MultipartSigned"),
    ("thunderbird_related_inline.eml", "IPM.Note"),
])
def test_message_class(name, cls):
    assert load(name).props[P.PidTagMessageClass] == cls


def test_meeting_responses_by_partstat():
    def cls(partstat):
        ics = (b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nATTENDEE;PARTSTAT=" + partstat
               + b":mailto:a@b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        raw = b"Subject: x\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n" + ics
        return mime_to_message(raw).props[P.PidTagMessageClass]
    assert cls(b"DECLINED") == "IPM.Schedule.Meeting.Resp.Neg"
    assert cls(b"TENTATIVE") == "IPM.Schedule.Meeting.Resp.Tent"


def test_forwarded_message_is_embedded():
    m = load("forward_as_attachment.eml")
    assert m.props[P.PidTagSubjectPrefix] == "Fwd: "
    [att] = m.attachments
    assert att.props[P.PidTagAttachMethod] == P.ATTACH_EMBEDDED_MSG
    assert att.props[P.PidTagAttachLongFilename] == "Quartalszahlen.eml"
    inner = att.embedded
    assert inner.props[P.PidTagSubject] == "Quartalszahlen März"
    assert inner.props[P.PidTagBody] == "Die Zahlen für März.\r\n"
    [csv] = inner.attachments
    assert csv.props[P.PidTagAttachDataBinary] == b"month;revenue\r\nJan;100\r\nFeb;120\r\nMar;130\r\n"
    out = message_to_mime(m)
    parsed = email.message_from_bytes(out, policy=email.policy.default)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "message/rfc822"]


def test_reports_keep_their_parts():
    mdn = load("read_receipt_mdn.eml")
    status, headers = mdn.attachments
    assert status.props[P.PidTagAttachMimeTag] == "message/disposition-notification"
    assert b"Disposition: manual-action/MDN-sent-manually; displayed" in status.props[P.PidTagAttachDataBinary]
    out = message_to_mime(mdn)
    assert b"Content-Type: multipart/report; report-type=disposition-notification;" in out
    ndr = load("postfix_ndr.eml")
    assert b"Action: failed" in ndr.attachments[0].props[P.PidTagAttachDataBinary]
    assert ndr.props[P.PidTagSentRepresentingName] == "Mail Delivery System"


def test_smime_signed_entity_is_kept_byte_exact():
    raw = (CORPUS / "smime_signed.eml").read_bytes()
    m = mime_to_message(raw)
    [p7m] = m.attachments
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert p7m.props[P.PidTagAttachDataBinary].endswith(body)
    assert m.props[P.PidTagBody] == "This text is signed.\r\n"
    out = message_to_mime(m)
    assert out.endswith(body)  # the signed bytes go out untouched


@pytest.mark.parametrize("name, subject, body, cp", [
    ("iso2022jp.eml", "会議のお知らせ", "田中さん\r\n\r\n来週の会議についてお知らせします。\r\n", 50220),
    ("koi8r.eml", "Отчёт за март", "Добрый день!\r\nОтчёт во вложении.\r\n", 20866),
    ("latin1_split_words.eml", "Réunion de l'équipe : préparation du budget", None, 28591),
    ("html_only_meta_charset.eml", "Angebote der Woche", "Angebote\r\n\r\nKäse & Brot € 2,99\r\n", 1252),
])
def test_charsets(name, subject, body, cp):
    m = load(name)
    assert m.props[P.PidTagSubject] == subject
    if body is not None:
        assert m.props[P.PidTagBody] == body
    assert m.props[P.PidTagInternetCodepage] == cp


def test_iso2022jp_sender_and_latin1_attachment_name():
    assert load("iso2022jp.eml").props[P.PidTagSentRepresentingName] == "田中 太郎"
    assert load("koi8r.eml").props[P.PidTagSenderName] == "Иван Петров"
    lat = load("latin1_split_words.eml")
    assert lat.props[P.PidTagSentRepresentingName] == "François Lefèvre"
    assert lat.attachments[0].props[P.PidTagAttachLongFilename] == "ordre_du_jour_réunion.txt"
    assert lat.props[P.PidTagImportance] == M.IMPORTANCE_LOW  # X-Priority: 5


def test_html_only_priority_keywords_list_unsubscribe():
    m = load("html_only_meta_charset.eml")
    assert m.props[P.PidTagImportance] == M.IMPORTANCE_HIGH  # Priority: urgent
    assert m.props[PidNameKeywords] == ["Werbung", "Newsletter"]
    assert m.props[P.PidTagListUnsubscribe] == "<mailto:unsub@shop.example?subject=unsubscribe>"
    assert m.props[P.PidTagHtml].decode("cp1252").count("Käse") == 1


def test_rtf_body():
    m = load("rtf_body.eml")
    assert m.props[P.PidTagNativeBody] == M.NATIVE_BODY_RTF
    raw_rtf = rtf.decompress(m.props[P.PidTagRtfCompressed], check_crc=True)
    assert raw_rtf.startswith(b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1")
    assert m.props[P.PidTagHtml] == "<html><body><p>Hello été & friends</p></body></html>".encode()
    assert m.props[P.PidTagBody] == "Hello été & friends\r\n"


# --- broken input --------------------------------------------------------------------

def test_broken_missing_end_boundary():
    m = load("broken_missing_end_boundary.eml")
    assert m.props[P.PidTagBody].startswith("The body is here.")
    assert m.attachments[0].props[P.PidTagAttachDataBinary] == bytes(range(10))


def test_broken_bad_charsets():
    m = load("broken_bad_charset.eml")
    assert m.props[P.PidTagSubject] == "café and more"
    assert m.props[P.PidTagBody] == "Café crème brûlée"
    assert "Café" in m.props[P.PidTagHtml].decode("utf-8")
    assert m.props[P.PidTagInternetCodepage] == 65001
    assert m.attachments[0].props[P.PidTagAttachLongFilename] == "bad.pdf"


def test_broken_lf_only():
    m = load("broken_lf_only.eml")
    assert m.props[P.PidTagBody] == "line one\r\nline two"
    assert m.props[P.PidTagHtml] == b"<p>line one<br>line two</p>"
    headers = m.props[P.PidTagTransportMessageHeaders]
    assert headers.count("\r\n") == 7 and headers.count("\n") == 7  # seven header lines, now CRLF


def test_broken_multipart_without_boundary_becomes_attachment():
    m = load("broken_no_boundary.eml")
    [att] = m.attachments
    assert b"hidden text" in att.props[P.PidTagAttachDataBinary]
    assert att.props[P.PidTagAttachMimeTag] == "application/octet-stream"


def test_never_raises_on_truncated_or_garbled_input():
    rnd = random.Random(11)
    for name in FIXTURES:
        raw = (CORPUS / name).read_bytes()
        for cut in sorted({rnd.randrange(len(raw)) for _ in range(12)} | {0, 1}):
            m = mime_to_message(raw[:cut])
            message_to_mime(m, include_bcc=True)
        garbled = bytearray(raw)
        for _ in range(30):
            garbled[rnd.randrange(len(garbled))] = rnd.randrange(256)
        message_to_mime(mime_to_message(bytes(garbled)))
    for junk in (b"", b"\x00\xff" * 50, b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
                 b"Subject: =?utf-8?B?####?=\r\nFrom: <<<>>>\r\nDate: not a date\r\n\r\n"):
        message_to_mime(mime_to_message(junk))


def test_delivery_time_override():
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    m = mime_to_message((CORPUS / "outlook_reply_alternative.eml").read_bytes(), delivery_time=when)
    assert m.props[P.PidTagMessageDeliveryTime] == when


# --- props -> MIME -> props ------------------------------------------------------------

def _rich_message() -> MessageContent:
    def rcpt(rtype, name, addr, row):
        return Recipient(props={
            P.PidTagRecipientType: rtype, P.PidTagDisplayName: name, P.PidTagEmailAddress: addr,
            P.PidTagAddressType: "SMTP", P.PidTagSmtpAddress: addr, P.PidTagRowid: row, P.PidTagRecipientOrder: row,
        })
    inner = MessageContent(props={
        P.PidTagSubject: "Inner", P.PidTagNormalizedSubject: "Inner", P.PidTagSubjectPrefix: "",
        P.PidTagBody: "inner body\r\n", P.PidTagSentRepresentingName: "Zoë", P.PidTagSentRepresentingSmtpAddress: "zoe@example.com",
        P.PidTagClientSubmitTime: datetime(2022, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
    })
    return MessageContent(
        props={
            P.PidTagMessageClass: "IPM.Note",
            P.PidTagSubjectPrefix: "AW: ",
            P.PidTagNormalizedSubject: "Budget 2024 – “final” ✓",
            P.PidTagConversationTopic: "Budget 2024",
            P.PidTagConversationIndex: bytes(range(22)),
            P.PidTagSentRepresentingName: "Doe, John (Finance)",
            P.PidTagSentRepresentingSmtpAddress: "john@example.com",
            P.PidTagSenderName: "Assistant Ann",
            P.PidTagSenderSmtpAddress: "ann@example.com",
            P.PidTagReplyRecipientEntries: encode_flat_entry_list([
                encode_one_off("Finance Team", "finance@example.com"), encode_one_off("Øyvind", "oyvind@example.no")]),
            P.PidTagClientSubmitTime: datetime(2024, 2, 29, 12, 0, 1, tzinfo=timezone.utc),
            P.PidTagMessageDeliveryTime: datetime(2024, 2, 29, 12, 0, 9, tzinfo=timezone.utc),
            P.PidTagInternetMessageId: "<rich-1@example.com>",
            P.PidTagInReplyToId: "<parent@example.com>",
            P.PidTagInternetReferences: "<root@example.com> <parent@example.com>",
            P.PidTagImportance: M.IMPORTANCE_LOW,
            P.PidTagSensitivity: M.SENSITIVITY_CONFIDENTIAL,
            P.PidTagReadReceiptRequested: True,
            P.PidTagBody: "Hallo zusammen,\r\nanbei das Budget. Ünïcödé ✓\r\n" + "x" * 1200 + "\r\n",
            P.PidTagHtml: "<p>Hallo zusammen,</p><p>anbei das <b>Budget</b> ✓</p><img src=\"cid:logo@x\">".encode("utf-8"),
            P.PidTagInternetCodepage: 65001,
            P.PidTagNativeBody: M.NATIVE_BODY_HTML,
            PidNameKeywords: ["Finanzen", "Wichtig & dringend"],
        },
        recipients=[
            rcpt(P.MAPI_TO, "Smith, Bob", "bob@example.org", 0),
            rcpt(P.MAPI_TO, "José Müller", "jose@example.es", 1),
            rcpt(P.MAPI_CC, "carol@example.net", "carol@example.net", 2),
            rcpt(P.MAPI_BCC, "Audit", "audit@example.com", 3),
        ],
        attachments=[
            Attachment(props={
                P.PidTagAttachMethod: P.ATTACH_BY_VALUE, P.PidTagAttachLongFilename: "Budget Übersicht 2024 – sehr langer Dateiname für RFC 2231.xlsx",
                P.PidTagAttachMimeTag: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                P.PidTagAttachDataBinary: bytes(range(256)) * 20,
            }),
            Attachment(props={
                P.PidTagAttachMethod: P.ATTACH_BY_VALUE, P.PidTagAttachLongFilename: "logo.png",
                P.PidTagAttachMimeTag: "image/png", P.PidTagAttachContentId: "logo@x",
                P.PidTagAttachmentHidden: True, P.PidTagAttachFlags: M.ATT_MHTML_REF,
                P.PidTagAttachDataBinary: b"\x89PNG\r\n\x1a\n" + bytes(64),
            }),
            Attachment(props={P.PidTagAttachMethod: P.ATTACH_EMBEDDED_MSG, P.PidTagDisplayName: "Inner"}, embedded=inner),
        ],
    )


# properties the writer must carry and the reader must give back as they were
MAPPED = [
    P.PidTagMessageClass, P.PidTagSubjectPrefix, P.PidTagNormalizedSubject, P.PidTagConversationTopic,
    P.PidTagConversationIndex, P.PidTagSentRepresentingName, P.PidTagSentRepresentingSmtpAddress,
    P.PidTagSenderName, P.PidTagSenderSmtpAddress, P.PidTagReplyRecipientEntries, P.PidTagClientSubmitTime,
    P.PidTagMessageDeliveryTime, P.PidTagInternetMessageId, P.PidTagInReplyToId, P.PidTagInternetReferences,
    P.PidTagImportance, P.PidTagSensitivity, P.PidTagReadReceiptRequested, P.PidTagBody, P.PidTagHtml,
    P.PidTagInternetCodepage, P.PidTagNativeBody, PidNameKeywords,
]


def test_round_trip_props_mime_props():
    src = _rich_message()
    raw = message_to_mime(src, include_bcc=True, include_trace=True)
    assert_clean_mime(raw)
    got = mime_to_message(raw)
    for key in MAPPED:
        assert got.props.get(key) == src.props[key], _key(key)
    assert got.props[P.PidTagSubject] == "AW: Budget 2024 – “final” ✓"
    assert got.props[P.PidTagReplyRecipientNames] == "Finance Team; Øyvind"
    assert got.props[P.PidTagDisplayTo] == "Smith, Bob; José Müller"
    assert got.props[P.PidTagDisplayBcc] == "Audit"
    assert got.props[P.PidTagHasAttachments] is True
    for want, have in zip(src.recipients, got.recipients):
        for key, value in want.props.items():
            assert have.props[key] == value, _key(key)
        assert have.props[P.PidTagEntryId] == encode_one_off(want.props[P.PidTagDisplayName], want.props[P.PidTagSmtpAddress])
    xlsx, logo, emb = got.attachments
    # the writer orders inline parts with the HTML; compare by name
    by_name = {a.props.get(P.PidTagAttachLongFilename): a for a in got.attachments}
    for want in src.attachments[:2]:
        have = by_name[want.props[P.PidTagAttachLongFilename]]
        for key, value in want.props.items():
            assert have.props[key] == value, _key(key)
    inner = next(a for a in got.attachments if a.embedded is not None).embedded
    for key, value in src.attachments[2].embedded.props.items():
        assert inner.props[key] == value, _key(key)
    # and once more through MIME: nothing moves any more
    assert diff(got, mime_to_message(message_to_mime(got, include_bcc=True, include_trace=True))) == []


def test_writer_headers():
    raw = message_to_mime(_rich_message())
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = "\r\n" + re.sub(r"\r\n[ \t]", " ", head) + "\r\n"
    assert "\r\nFrom: \"Doe, John (Finance)\" <john@example.com>\r\n" in unfolded
    assert "\r\nSender: Assistant Ann <ann@example.com>\r\n" in unfolded
    assert "\r\nTo: \"Smith, Bob\" <bob@example.org>, =?utf-8?B?" in unfolded
    assert "\r\nCc: carol@example.net\r\n" in unfolded
    assert "Bcc:" not in unfolded
    assert "\r\nSubject: =?utf-8?B?" in unfolded
    assert "\r\nDate: Thu, 29 Feb 2024 12:00:01 +0000\r\n" in unfolded
    assert "\r\nImportance: low\r\nX-Priority: 5 (Lowest)\r\n" in unfolded
    assert "\r\nSensitivity: Company-Confidential\r\n" in unfolded
    assert "\r\nDisposition-Notification-To: \"Doe, John (Finance)\" <john@example.com>\r\n" in unfolded
    assert "\r\nThread-Topic: Budget 2024\r\n" in unfolded
    assert "\r\nMIME-Version: 1.0\r\n" in unfolded
    assert "Received:" not in unfolded  # trace only on request
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "AW: Budget 2024 – “final” ✓"
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "message/rfc822", "text/plain",
    ]
    xlsx = [p for p in parsed.walk() if p.get_filename() and p.get_filename().endswith(".xlsx")][0]
    assert xlsx.get_filename() == "Budget Übersicht 2024 – sehr langer Dateiname für RFC 2231.xlsx"
    assert b"filename*0*=utf-8''" in raw


def test_subject_only_and_empty_message():
    raw = message_to_mime(MessageContent(props={P.PidTagSubject: "Hi"}))
    assert raw == (b"Subject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Transfer-Encoding: 7bit\r\n\r\n")
    m = mime_to_message(raw)
    assert m.props[P.PidTagSubject] == "Hi" and m.props[P.PidTagBody] == ""


# --- subject prefixes (MS-OXCMAIL 2.2.3.2.6.1) ---------------------------------------

@pytest.mark.parametrize("subject, prefix, rest", [
    ("RE: hello", "RE: ", "hello"),
    ("Fwd: hello", "Fwd: ", "hello"),
    ("AW:hello", "AW:", "hello"),
    ("Re: Re: twice", "Re: ", "Re: twice"),
    ("SV: svar", "SV: ", "svar"),
    ("Ticket: 4 letters", "", "Ticket: 4 letters"),
    ("10: digits", "", "10: digits"),
    ("R2: digit inside", "", "R2: digit inside"),
    ("[ext] RE: bracket", "", "[ext] RE: bracket"),
    ("no prefix", "", "no prefix"),
    ("", "", ""),
])
def test_split_subject(subject, prefix, rest):
    assert split_subject(subject) == (prefix, rest)


# --- one-off EntryID, FlatEntryList (MS-OXCDATA 2.2.5.1, 2.3.3) ---------------------------

def test_one_off_entry_id_layout():
    eid = encode_one_off("Bob", "bob@x.org")
    assert eid[:4] == b"\x00\x00\x00\x00"
    assert eid[4:20] == ONE_OFF_PROVIDER_UID == bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
    assert eid[20:22] == b"\x00\x00"  # Version
    assert eid[22:24] == b"\x01\x90"  # M (MIME), U (Unicode), L (no lookup)
    assert eid[24:] == "Bob\0SMTP\0bob@x.org\0".encode("utf-16-le")
    oo = decode_one_off(eid)
    assert (oo.display_name, oo.address_type, oo.email_address) == ("Bob", "SMTP", "bob@x.org")
    ansi = b"\x00" * 4 + ONE_OFF_PROVIDER_UID + b"\x00\x00\x01\x00" + b"Bob\0SMTP\0bob@x.org\0"
    assert decode_one_off(ansi) == oo
    assert decode_one_off(b"\x00" * 40) is None


def test_flat_entry_list_layout():
    a, b = b"\x01\x02\x03", b"\x04" * 8
    fel = encode_flat_entry_list([a, b])
    count, size = struct.unpack_from("<II", fel)
    assert count == 2 and size == len(fel) - 8
    assert fel[8:12] == b"\x03\x00\x00\x00" and fel[12:16] == a + b"\x00"  # padded to 4 bytes
    assert decode_flat_entry_list(fel) == [a, b]
    assert decode_flat_entry_list(fel[:13]) == [a[:1]]  # short buffer: no exception


# --- IMAP flags ----------------------------------------------------------------------------

def test_flags_to_props():
    p = flags_to_props(["\\Seen", "\\Flagged", "\\Answered", "Projekt", "$Label1", "\\Recent", "$MDNSent"])
    assert p[P.PidTagMessageFlags] == P.MSGFLAG_READ
    assert p[P.PidTagFlagStatus] == P.FOLLOWUP_FLAGGED
    assert p[P.PidTagFollowupIcon] == 6
    assert p[P.PidTagToDoItemFlags] == 1
    assert p[P.PidTagLastVerbExecuted] == P.NOTEIVERB_REPLYTOSENDER
    assert p[PidNameKeywords] == ["Projekt", "$Label1"]
    p = flags_to_props(["$Forwarded", "\\Draft"])
    assert p[P.PidTagLastVerbExecuted] == P.NOTEIVERB_FORWARD
    assert p[P.PidTagMessageFlags] == P.MSGFLAG_UNSENT
    assert p[P.PidTagFlagStatus] is None and p[PidNameKeywords] is None


def test_apply_flags_keeps_content_bits_and_clears():
    props = {P.PidTagMessageFlags: P.MSGFLAG_HASATTACH | P.MSGFLAG_READ, P.PidTagFlagStatus: 2,
             PidNameKeywords: ["Old"]}
    apply_flags(props, ["\\Answered"])
    assert props[P.PidTagMessageFlags] == P.MSGFLAG_HASATTACH
    assert P.PidTagFlagStatus not in props and PidNameKeywords not in props
    assert props[P.PidTagLastVerbExecuted] == 102


@pytest.mark.parametrize("flags", [
    set(),
    {"\\Seen"},
    {"\\Seen", "\\Flagged", "\\Answered", "\\Draft"},
    {"$Forwarded", "Projekt"},
    {"&-", "Wichtig&ACA-dringend", "&AOQ-rger"},
])
def test_flags_round_trip(flags):
    assert props_to_flags(flags_to_props(flags)) == flags


@pytest.mark.parametrize("category", ["Rot", "Wichtig & dringend", "Ärger", "a(b)c", "%*\"\\]", "日本語", "&"])
def test_category_keyword_round_trip(category):
    kw = category_to_keyword(category)
    assert re.fullmatch(r"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+", kw), kw  # an IMAP atom
    assert keyword_to_category(kw) == category


# --- RTF written by Outlook must become HTML or text, not be lost (issue 3) ---

def _rtf_only(rtf_bytes: bytes, extra: dict | None = None) -> "MessageContent":
    from gateway.store.convert import rtf as rtfmod
    from gateway.store.model import MessageContent
    return MessageContent({P.PidTagMessageClass: "IPM.Note", P.PidTagSubject: "rtf",
                           P.PidTagRtfCompressed: rtfmod.compress(rtf_bytes), **(extra or {})})


def test_rtf_only_html_encapsulated_goes_out_as_html():
    rtf = (rb"{\rtf1\ansi\ansicpg1252\fromhtml1 {\*\htmltag1 <html><body>}Hello {\*\htmltag1 <b>}bold"
           rb"{\*\htmltag1 </b>} world{\*\htmltag1 </body></html>}}")
    out = message_to_mime(_rtf_only(rtf))
    back = mime_to_message(out)
    assert b"text/html" in out and b"text/rtf" not in out
    assert b"<b>bold</b>" in back.props[P.PidTagHtml]


def test_rtf_only_plain_goes_out_as_text():
    rtf = rb"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard Plain RTF body from Outlook\par}"
    back = mime_to_message(message_to_mime(_rtf_only(rtf)))
    assert "Plain RTF body from Outlook" in back.props[P.PidTagBody]


def test_stale_text_body_yields_to_newer_rtf():
    rtf = rb"{\rtf1\ansi\pard The edited text\par}"
    msg = _rtf_only(rtf, {P.PidTagBody: "the old text", P.PidTagRtfInSync: False})
    back = mime_to_message(message_to_mime(msg))
    assert "The edited text" in back.props[P.PidTagBody] and "old" not in back.props[P.PidTagBody]


def test_embedded_message_keeps_the_name_it_was_given():
    from gateway.store.model import Attachment, MessageContent
    inner = MessageContent({P.PidTagMessageClass: "IPM.Note", P.PidTagSubject: "Inner subject", P.PidTagBody: "x"})
    msg = MessageContent({P.PidTagMessageClass: "IPM.Note", P.PidTagSubject: "outer", P.PidTagBody: "y"}, [],
                         [Attachment({P.PidTagAttachMethod: P.ATTACH_EMBEDDED_MSG,
                                      P.PidTagAttachLongFilename: "Forwarded mail.eml",
                                      P.PidTagDisplayName: "Forwarded mail"}, inner)])
    back = mime_to_message(message_to_mime(msg)).attachments[0]
    assert back.props[P.PidTagDisplayName] == "Forwarded mail"
    assert back.props[P.PidTagAttachLongFilename] == "Forwarded mail.eml"
    assert back.embedded.props[P.PidTagSubject] == "Inner subject"
