"""Text rules every front end and every converter share: the subject split and HTML -> plain text.

One implementation of each. FindItem rows (``gateway.store.summary``), whole items read from MIME
(``mail_in``), EWS writes (UpdateItem, replies) and later the ROP layer all call these, so a
message shows the same PidTagSubjectPrefix/PidTagNormalizedSubject and the same text body whichever
way it is read.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from protocols.mapi.props import core as P

__all__ = ["split_subject", "html_to_text", "body_text", "complete_body"]


# --- subjects ---------------------------------------------------------------------------------
#
# MS-OXCMAIL 2.2.3.2.6.1 (Normalizing the Subject): "If the Subject header value consists of one,
# two, or three characters (exclusive of colon (U+003A), blank (U+0020), or digits (U+0030 through
# U+0039)), followed by a colon (U+003A) and any number of blanks (U+0020)", the prefix is those
# characters with the colon, and PidTagNormalizedSubject is "the remainder of the Subject header
# value beginning immediately after the aforementioned blanks". So no blank is required after the
# colon: "Re:hello" has the prefix "Re:" and the normalized subject "hello".
#
# Two choices beyond the sentence:
# - The spec says to set the prefix to the characters "appended with a colon and a space". We keep
#   the prefix as it is written in the subject (colon and the blanks that follow it), so that
#   PidTagSubject stays exactly PidTagSubjectPrefix + PidTagNormalizedSubject (MS-OXCMSG 2.2.1.46,
#   R1239) and a message written back (mail_out joins the two) keeps its subject byte for byte.
# - Other whitespace (tab, line breaks) is not a prefix character either.

_PREFIX = re.compile(r"[^:\s0-9]{1,3}: *")


def split_subject(subject: str) -> tuple[str, str]:
    """-> (PidTagSubjectPrefix, PidTagNormalizedSubject); prefix + normalized == subject."""
    m = _PREFIX.match(subject)
    if not m:
        return "", subject
    return subject[:m.end()], subject[m.end():]


# --- HTML -> text (PidTagBody when only HTML is known) -------------------------------------------

class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr", "pre"}
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCK and tag != "br":
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: block elements end lines, scripts/styles/head are dropped,
    runs of white space fold to one blank, at most one empty line in a row; CRLF line ends and a
    final CRLF when there is any text (PidTagBody as MS-OXCMAIL bodies carry it)."""
    p = _TextExtractor()
    try:
        p.feed(html)
        p.close()
    except Exception:
        pass
    lines = [ln.strip() for ln in "".join(p.out).replace("\xa0", " ").split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    text = re.sub(r"\r\n|\r|\n", "\r\n", text)
    return text + ("\r\n" if text else "")


_CODEPAGES = {65001: "utf-8", 1252: "cp1252", 28591: "latin-1", 20127: "ascii"}


def _html_str(props: dict) -> str | None:
    raw = props.get(P.PidTagHtml)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, (bytes, bytearray)):
        cp = props.get(P.PidTagInternetCodepage) or 65001
        return bytes(raw).decode(_CODEPAGES.get(cp, "utf-8"), "replace")
    return None


def body_text(props: dict) -> str | None:
    """PidTagBody of a property bag, derived from PidTagHtml when only HTML is there; None when neither."""
    plain = props.get(P.PidTagBody)
    if isinstance(plain, str):
        return plain
    markup = _html_str(props)
    return None if markup is None else html_to_text(markup)


def complete_body(props: dict) -> dict:
    """Set PidTagBody from PidTagHtml when a bag has HTML and no text body (in place; returned)."""
    if P.PidTagBody not in props:
        text = body_text(props)
        if text is not None:
            props[P.PidTagBody] = text
    return props
