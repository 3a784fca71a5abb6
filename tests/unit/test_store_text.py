"""One subject split and one HTML -> text for every path (issue 11, "a sealed store").

FindItem rows come from ``gateway.store.summary.summary_props`` (IMAP ENVELOPE), GetItem from
``gateway.store.conversions.mime_to_content`` (the whole message); both must give the same
PidTagSubjectPrefix / PidTagNormalizedSubject (MS-OXCMAIL 2.2.3.2.6.1: 1-3 characters other than
colon, blank and digits, a colon and any number of blanks, so none is required).
"""
from __future__ import annotations

from datetime import datetime, timezone
from email.header import Header

import pytest

from gateway.backends.base import ImapEnvelope, ImapMessageSummary
from gateway.store import conversions
from gateway.store.convert import mail_in
from gateway.store.convert.text import body_text, complete_body, html_to_text, split_subject
from gateway.store.summary import summary_props
from protocols.ews.items import ItemView, write_item
from protocols.ews.ns import t
from protocols.ews.shapes import Shape
from protocols.mapi.props import core as P

SUBJECTS = [
    # subject, PidTagSubjectPrefix, PidTagNormalizedSubject
    ("Re:hello", "Re:", "hello"),
    ("RE: hello", "RE: ", "hello"),
    ("Fwd: x", "Fwd: ", "x"),
    ("AW: y", "AW: ", "y"),
    ("Re: Re: z", "Re: ", "Re: z"),
    ("1: not a prefix", "", "1: not a prefix"),
    ("abcd: no", "", "abcd: no"),
    ("Re:   spaces", "Re:   ", "spaces"),
    ("R2: digit", "", "R2: digit"),
    ("Ré: accent", "Ré: ", "accent"),
    (": empty prefix", "", ": empty prefix"),
    ("no prefix", "", "no prefix"),
    ("", "", ""),
]


def _summary(subject: str) -> dict:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    env = ImapEnvelope(date=when, subject=subject)
    return summary_props(ImapMessageSummary(uid=1, flags=frozenset(), size=100, internaldate=when, envelope=env))


def _content(subject: str) -> dict:
    header = subject if subject.isascii() else Header(subject, "utf-8").encode()
    raw = (f"From: a@example.org\r\nTo: b@example.org\r\nSubject: {header}\r\n"
           "Date: Fri, 02 Jan 2026 03:04:05 +0000\r\nMessage-ID: <1@example.org>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n").encode("utf-8")
    return conversions.mime_to_content(raw).props


@pytest.mark.parametrize("subject, prefix, normalized", SUBJECTS)
def test_finditem_and_getitem_split_the_same(subject, prefix, normalized):
    assert split_subject(subject) == (prefix, normalized)
    assert prefix + normalized == subject                 # MS-OXCMSG 2.2.1.46
    row, whole = _summary(subject), _content(subject)
    for props in (row, whole):
        assert props[P.PidTagSubject] == subject
        assert props[P.PidTagSubjectPrefix] == prefix
        assert props[P.PidTagNormalizedSubject] == normalized


def test_one_implementation_each():
    from gateway.store import summary
    assert summary.split_subject is split_subject
    assert mail_in.split_subject is split_subject
    assert mail_in.html_to_text is html_to_text
    import protocols.ews.items as codec
    assert not hasattr(codec, "html_to_text")


def test_html_to_text():
    markup = "<html><head><title>t</title><style>p{}</style></head><body><p>One &amp; two</p>" \
             "<div>three<br>four</div><script>x()</script></body></html>"
    assert html_to_text(markup) == "One & two\r\n\r\nthree\r\nfour\r\n"
    assert html_to_text("") == ""


def test_body_text_and_complete_body():
    props = {P.PidTagHtml: "<p>caf\xe9</p>".encode("cp1252"), P.PidTagInternetCodepage: 1252}
    assert body_text(props) == "caf\xe9\r\n"
    assert P.PidTagBody not in props
    complete_body(props)
    assert props[P.PidTagBody] == "caf\xe9\r\n"
    kept = {P.PidTagHtml: b"<p>x</p>", P.PidTagBody: "own"}
    assert complete_body(kept)[P.PidTagBody] == "own"
    assert body_text({}) is None


def test_ews_writer_uses_the_stores_text():
    """The EWS codec writes the body text the store derived; it has no HTML rule of its own."""
    from lxml import etree
    props = complete_body({P.PidTagHtml: b"<p>a</p><p>b</p>", P.PidTagInternetCodepage: 65001,
                           P.PidTagSubject: "s", P.PidTagMessageClass: "IPM.Note"})
    root = etree.Element("root")
    write_item(root, ItemView("id", "ck", props, full=True), Shape(base="AllProperties", body_type="Text"))
    body = root.find(".//" + t("Body"))
    assert body is not None and body.get("BodyType") == "Text"
    assert body.text.replace("\r\n", "\n") == "a\n\nb\n"
