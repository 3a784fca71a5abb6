"""IMAP response parsing (RFC 3501 section 7 and 9, plus the extensions we use).

Pure functions on bytes: the connection hands over one complete response at a
time (literals inline, exactly as received) and gets back typed values.

Token model (``tokenize``):
  atom            -> Atom (a str subclass): numbers, flags, keywords, BODY[...]<n>
  NIL             -> None
  quoted/literal  -> bytes (servers may put 8-bit UTF-8 in either)
  parenthesised   -> list
"""
from __future__ import annotations

import email.errors
import email.header
import email.message
import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from gateway.backends.base import (
    ImapAddress,
    ImapEnvelope,
    ImapFolderInfo,
    ImapFolderStatus,
    ImapMessageSummary,
)
from gateway.backends.imap import utf7


class ParseError(ValueError):
    """The server sent something that is not IMAP syntax we understand."""


class Atom(str):
    """An unquoted IMAP atom, kept apart from strings so NIL and "NIL" differ."""

    __slots__ = ()


Token = Any  # Atom | bytes | None | list[Token]

_SP, _LP, _RP, _LB, _RB, _DQ, _BS = b" ()[]\"\\"
_LITERAL_HEAD = re.compile(rb"~?\{(\d+)\+?\}\r?\n")


# ---------------------------------------------------------------- tokens

def _read_quoted(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    pos += 1
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == _BS and pos + 1 < n:
            out.append(data[pos + 1])
            pos += 2
        elif c == _DQ:
            return bytes(out), pos + 1
        else:
            out.append(c)
            pos += 1
    raise ParseError("unterminated quoted string")


def _read_literal(data: bytes, pos: int) -> tuple[bytes, int]:
    m = _LITERAL_HEAD.match(data, pos)
    if not m:
        raise ParseError(f"bad literal header at {pos}: {data[pos:pos + 20]!r}")
    size = int(m.group(1))
    start = m.end()
    if start + size > len(data):
        raise ParseError("literal runs past the end of the response")
    return data[start:start + size], start + size


# One pattern per token, tried at the current position; the Python loop only builds the nesting.
# Atoms may carry one section spec in brackets (BODY[HEADER.FIELDS (A B)]<0>, or a response code
# [UIDNEXT 5]); quoted strings without escapes come out as one slice.
_TOKEN = re.compile(rb"""[ \r\n]*(?:
   (\()                                                    # 1 (
 | (\))                                                    # 2 )
 | "([^"\\]*)"                                            # 3 quoted, no escapes
 | (")                                                     # 4 quoted with escapes
 | (~?\{)                                                  # 5 literal {n} or ~{n} (BINARY)
 | ([^ ()\r\n"\[\]{]+(?:\[[^\]]*\][^ ()\r\n]*)?|\[[^\]]*\][^ ()\r\n]*)   # 6 atom
 | ([\[\]])                                                # 7 stray bracket
)?""", re.X)


def tokenize(data: bytes) -> list[Token]:
    """All tokens of ``data`` (a response without its tag and kind): atoms, strings, NIL as None,
    parenthesised lists as nested lists."""
    stack: list[list[Token]] = []
    out: list[Token] = []
    pos = 0
    n = len(data)
    match = _TOKEN.match
    while pos < n:
        m = match(data, pos)
        k = m.lastindex
        if k is None:           # only trailing white space was left
            break
        pos = m.end()
        if k == 6:
            a = m.group(6)
            out.append(None if len(a) == 3 and a.upper() == b"NIL" else Atom(a.decode("utf-8", "replace")))
        elif k == 3:
            out.append(m.group(3))
        elif k == 1:
            stack.append(out)
            inner: list[Token] = []
            out.append(inner)
            out = inner
        elif k == 2:
            if not stack:
                raise ParseError(f"unbalanced ')' at {pos - 1}")
            out = stack.pop()
        elif k == 4:
            s_, pos = _read_quoted(data, pos - 1)
            out.append(s_)
        elif k == 5:
            s_, pos = _read_literal(data, m.start(5))
            out.append(s_)
        else:
            raise ParseError(f"unbalanced {m.group(7).decode()!r} at {pos - 1}")
    if stack:
        raise ParseError("missing ')'")
    return out


def text(tok: Token) -> str | None:
    """Atom, string or NIL as str (strings decoded as UTF-8, the common case)."""
    if tok is None:
        return None
    if isinstance(tok, bytes):
        return tok.decode("utf-8", "replace")
    if isinstance(tok, str):
        return str(tok)
    raise ParseError(f"expected a string, got {tok!r}")


def number(tok: Token) -> int:
    try:
        return int(tok)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParseError(f"expected a number, got {tok!r}") from None


# ---------------------------------------------------------------- responses

_STATUS_KINDS = frozenset({"OK", "NO", "BAD", "BYE", "PREAUTH"})


@dataclass
class Response:
    """One server response (RFC 3501 7): untagged "*", continuation "+" or tagged."""

    tag: str
    kind: str = ""                  # OK/NO/BAD/BYE/PREAUTH, FETCH, EXISTS, LIST, ... ("" for "+")
    number: int | None = None       # "* 5 EXISTS" -> 5
    data: list[Token] = field(default_factory=list)
    code: str | None = None         # response code name, e.g. "APPENDUID" (RFC 3501 7.1)
    code_data: list[Token] = field(default_factory=list)
    text: str = ""                  # human-readable text of a status or continuation response
    raw: bytes = b""

    @property
    def is_status(self) -> bool:
        return self.kind in _STATUS_KINDS


def _split_word(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b" ", pos)
    if end < 0:
        end = len(data)
    return data[pos:end].decode("ascii", "replace"), min(end + 1, len(data))


def parse_response(raw: bytes) -> Response:
    data = raw.rstrip(b"\r\n")
    if data.startswith(b"+"):
        return Response("+", text=data[1:].strip().decode("utf-8", "replace"), raw=raw)
    tag, pos = _split_word(data, 0)
    word, pos2 = _split_word(data, pos)
    resp = Response(tag, raw=raw)
    if tag == "*" and word.isdigit():
        resp.number = int(word)
        word, pos2 = _split_word(data, pos2)
    resp.kind = word.upper()
    rest = data[pos2:] if pos2 > pos else b""
    if resp.kind in _STATUS_KINDS and resp.number is None:
        _parse_status_text(resp, rest)
    else:
        resp.data = tokenize(rest)
    return resp


def _parse_status_text(resp: Response, rest: bytes) -> None:
    if rest.startswith(b"["):
        end_name = 1
        while end_name < len(rest) and rest[end_name] not in b" ]":
            end_name += 1
        resp.code = rest[1:end_name].decode("ascii", "replace").upper()
        pos = end_name
        if pos < len(rest) and rest[pos] == _SP:
            # Response-code arguments up to the closing bracket; a code we do
            # not know may carry free text, so fall back to atoms-by-space.
            close = _find_code_end(rest, pos)
            try:
                resp.code_data = tokenize(rest[pos + 1:close])
            except ParseError:
                resp.code_data = [Atom(w) for w in rest[pos + 1:close].decode("utf-8", "replace").split()]
            pos = close
        if pos < len(rest) and rest[pos] == _RB:
            pos += 1
        rest = rest[pos:].lstrip(b" ")
    resp.text = rest.decode("utf-8", "replace")


def _find_code_end(data: bytes, pos: int) -> int:
    depth = 0
    in_quote = False
    n = len(data)
    while pos < n:
        c = data[pos]
        if in_quote:
            if c == _BS:
                pos += 1
            elif c == _DQ:
                in_quote = False
        elif c == _DQ:
            in_quote = True
        elif c == _LP:
            depth += 1
        elif c == _RP:
            depth -= 1
        elif c == _RB and depth <= 0:
            return pos
        pos += 1
    return n


# ---------------------------------------------------------------- sequence sets

def parse_sequence_set(value: str | bytes) -> list[int]:
    """"1:3,7" -> [1, 2, 3, 7] (RFC 3501 9 sequence-set, without "*")."""
    if isinstance(value, bytes):
        value = value.decode("ascii")
    out: list[int] = []
    for part in str(value).split(","):
        if not part:
            continue
        if ":" in part:
            a, b = (int(x) for x in part.split(":", 1))
            lo, hi = (a, b) if a <= b else (b, a)
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def format_sequence_set(uids: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> "1:3,7"; input order does not matter."""
    values = sorted(set(uids))
    if not values:
        raise ValueError("empty sequence set")
    parts: list[str] = []
    start = prev = values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = v
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


# ---------------------------------------------------------------- response codes

def appenduid(resp: Response) -> tuple[int, int] | None:
    """[APPENDUID uidvalidity uid] (RFC 4315 3); the first UID of a MULTIAPPEND set."""
    if resp.code != "APPENDUID" or len(resp.code_data) < 2:
        return None
    return number(resp.code_data[0]), parse_sequence_set(str(resp.code_data[1]))[0]


def copyuid(resp: Response) -> tuple[int, dict[int, int]] | None:
    """[COPYUID uidvalidity src-set dst-set] (RFC 4315 3): sets pair up in order."""
    if resp.code != "COPYUID" or len(resp.code_data) < 3:
        return None
    src = parse_sequence_set(str(resp.code_data[1]))
    dst = parse_sequence_set(str(resp.code_data[2]))
    if len(src) != len(dst):
        raise ParseError(f"COPYUID sets differ in length: {resp.raw!r}")
    return number(resp.code_data[0]), dict(zip(src, dst))


def modified(resp: Response) -> list[int]:
    """[MODIFIED set] on a conditional STORE (RFC 7162 3.1.3)."""
    if resp.code != "MODIFIED" or not resp.code_data:
        return []
    return parse_sequence_set(str(resp.code_data[0]))


def vanished(resp: Response) -> tuple[bool, list[int]]:
    """* VANISHED [(EARLIER)] uid-set (RFC 7162 3.2.10) -> (earlier, uids)."""
    earlier = False
    uids: list[int] = []
    for tok in resp.data:
        if isinstance(tok, list):
            earlier = any(isinstance(t, str) and t.upper() == "EARLIER" for t in tok)
        elif tok is not None:
            uids.extend(parse_sequence_set(text(tok) or ""))
    return earlier, uids


def _objectid(tok: Token) -> str | None:
    """OBJECTID values are "(id)"; pymap wraps them twice: "((id))"."""
    while isinstance(tok, list):
        if not tok:
            return None
        tok = tok[0]
    return text(tok)


@dataclass
class SelectState:
    """What SELECT/EXAMINE reported (RFC 3501 6.3.1, RFC 7162 3.1.2, RFC 8474 4.1)."""

    name: str
    uidvalidity: int = 0
    uidnext: int = 0
    exists: int = 0
    unseen_seq: int | None = None
    highestmodseq: int | None = None
    nomodseq: bool = False
    mailboxid: str | None = None
    readonly: bool = False
    flags: tuple[str, ...] = ()
    permanentflags: tuple[str, ...] = ()
    vanished: list[int] = field(default_factory=list)
    fetches: list[dict[str, Any]] = field(default_factory=list)


def apply_select_response(state: SelectState, resp: Response) -> None:
    """Fold one response of a SELECT/EXAMINE into ``state``."""
    if resp.tag == "*" and resp.kind == "EXISTS" and resp.number is not None:
        state.exists = resp.number
    elif resp.kind == "FLAGS" and resp.data and isinstance(resp.data[0], list):
        state.flags = tuple(str(f) for f in resp.data[0])
    elif resp.kind == "VANISHED":
        state.vanished.extend(vanished(resp)[1])
    elif resp.kind == "FETCH" and resp.data:
        state.fetches.append(fetch_items(resp.data[0]))
    if resp.code is None:
        return
    args = resp.code_data
    if resp.code == "UIDVALIDITY" and args:
        state.uidvalidity = number(args[0])
    elif resp.code == "UIDNEXT" and args:
        state.uidnext = number(args[0])
    elif resp.code == "UNSEEN" and args:
        state.unseen_seq = number(args[0])
    elif resp.code == "HIGHESTMODSEQ" and args:
        state.highestmodseq = number(args[0])
    elif resp.code == "NOMODSEQ":
        state.nomodseq = True
    elif resp.code == "MAILBOXID" and args:
        state.mailboxid = _objectid(args[0])
    elif resp.code == "READ-ONLY":
        state.readonly = True
    elif resp.code == "PERMANENTFLAGS" and args and isinstance(args[0], list):
        state.permanentflags = tuple(str(f) for f in args[0])


# ---------------------------------------------------------------- LIST / STATUS

SPECIAL_USE_FLAGS = frozenset({"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk",
                               "\\Sent", "\\Trash", "\\Important"})
_SPECIAL_USE_UPPER = {f.upper(): f for f in SPECIAL_USE_FLAGS}


def parse_list(resp: Response) -> ImapFolderInfo:
    """* LIST (flags) delimiter name [extended data] (RFC 3501 7.2.2, RFC 6154 2)."""
    if len(resp.data) < 3 or not isinstance(resp.data[0], list):
        raise ParseError(f"bad LIST response: {resp.raw!r}")
    flags = frozenset(str(f) for f in resp.data[0])
    delimiter = text(resp.data[1])
    raw_name = resp.data[2]
    if isinstance(raw_name, list):
        raise ParseError(f"bad LIST mailbox name: {resp.raw!r}")
    name = utf7.decode(raw_name if isinstance(raw_name, bytes) else str(raw_name))
    if name.upper() == "INBOX":
        name = "INBOX"  # RFC 3501 5.1: INBOX is case-insensitive
    special = next((_SPECIAL_USE_UPPER[f.upper()] for f in flags if f.upper() in _SPECIAL_USE_UPPER), None)
    return ImapFolderInfo(name=name, delimiter=delimiter, flags=flags, special_use=special)


def parse_status(resp: Response) -> tuple[str, dict[str, Any]]:
    """* STATUS name (ITEM value ...) (RFC 3501 7.2.4) -> (decoded name, {ITEM: value})."""
    if len(resp.data) < 2 or not isinstance(resp.data[-1], list):
        raise ParseError(f"bad STATUS response: {resp.raw!r}")
    raw_name = resp.data[0]
    name = utf7.decode(raw_name if isinstance(raw_name, bytes) else str(raw_name))
    if name.upper() == "INBOX":
        name = "INBOX"
    items: dict[str, Any] = {}
    pairs = resp.data[-1]
    for i in range(0, len(pairs) - 1, 2):
        key = str(pairs[i]).upper()
        val = pairs[i + 1]
        items[key] = _objectid(val) if key == "MAILBOXID" else number(val)
    return name, items


def status_from_items(items: dict[str, Any]) -> ImapFolderStatus:
    return ImapFolderStatus(
        uidvalidity=items.get("UIDVALIDITY", 0),
        uidnext=items.get("UIDNEXT", 0),
        exists=items.get("MESSAGES", 0),
        unseen=items.get("UNSEEN"),
        highestmodseq=items.get("HIGHESTMODSEQ") or None,
        mailboxid=items.get("MAILBOXID"),
    )


# ---------------------------------------------------------------- FETCH

def fetch_items(tokens: list[Token]) -> dict[str, Any]:
    """The parenthesised list of a FETCH response -> {ITEM NAME: raw token}.

    Names are upper-cased; section names keep their brackets ("BODY[]",
    "BODY[HEADER.FIELDS (SUBJECT)]", "BINARY[1]")."""
    if not isinstance(tokens, list):
        raise ParseError(f"FETCH data is not a list: {tokens!r}")
    out: dict[str, Any] = {}
    for i in range(0, len(tokens) - 1, 2):
        out[str(tokens[i]).upper()] = tokens[i + 1]
    return out


_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_INTERNALDATE = re.compile(r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\s*$")


def parse_internaldate(value: str | bytes) -> datetime:
    """"17-Jul-1996 02:44:25 -0700" (RFC 3501 9 date-time) -> aware datetime."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    m = _INTERNALDATE.match(value)
    if not m:
        raise ParseError(f"bad INTERNALDATE {value!r}")
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    offset = timedelta(hours=int(zh), minutes=int(zm))
    tz = timezone(-offset if sign == "-" else offset)
    return datetime(int(year), _MONTHS[mon.upper()], int(day), int(hh), int(mm), int(ss), tzinfo=tz)


def format_internaldate(when: datetime) -> str:
    """Aware (or UTC-assumed naive) datetime -> RFC 3501 date-time for APPEND."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    off = when.utcoffset() or timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return (f"{when.day:02d}-{months[when.month - 1]}-{when.year:04d} "
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}")


def decode_words(value: Token) -> str | None:
    """A header string from ENVELOPE: raw 8-bit taken as UTF-8, then RFC 2047
    encoded words decoded. Undecodable charsets leave the text as it was."""
    s = text(value)
    if s is None:
        return None
    if "=?" not in s:
        return s
    try:
        return str(email.header.make_header(email.header.decode_header(s)))
    except (LookupError, ValueError, UnicodeError, email.errors.HeaderParseError):
        return s


def _header_date(value: Token) -> datetime | None:
    s = text(value)
    if not s:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError):
        try:  # pymap sends the ENVELOPE date in INTERNALDATE form
            return parse_internaldate(s)
        except ParseError:
            return None
    if dt.tzinfo is None:  # "-0000": time is UTC, zone unknown (RFC 5322 3.3)
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def _addresses(value: Token) -> tuple[ImapAddress, ...]:
    """Address list (RFC 3501 7.4.2); group start/end markers are dropped."""
    if not isinstance(value, list):
        return ()
    out: list[ImapAddress] = []
    for addr in value:
        if not isinstance(addr, list) or len(addr) < 4:
            continue
        name, _adl, mailbox, host = addr[:4]
        if host is None:  # group syntax marker: (NIL NIL "group" NIL) / (NIL NIL NIL NIL)
            continue
        out.append(ImapAddress(name=decode_words(name) or None, mailbox=text(mailbox), host=text(host)))
    return tuple(out)


def parse_envelope(value: Token) -> ImapEnvelope:
    """ENVELOPE (RFC 3501 7.4.2): date subject from sender reply-to to cc bcc in-reply-to message-id."""
    if not isinstance(value, list) or len(value) < 10:
        raise ParseError(f"bad ENVELOPE: {value!r}")
    return ImapEnvelope(
        date=_header_date(value[0]),
        subject=decode_words(value[1]),
        from_=_addresses(value[2]),
        sender=_addresses(value[3]),
        reply_to=_addresses(value[4]),
        to=_addresses(value[5]),
        cc=_addresses(value[6]),
        bcc=_addresses(value[7]),
        in_reply_to=text(value[8]) or None,
        message_id=text(value[9]) or None,
    )


@dataclass(frozen=True)
class BodyPart:
    """One node of BODYSTRUCTURE (RFC 3501 7.4.2)."""

    type: str                               # lower-case, "multipart" for multiparts
    subtype: str
    params: dict[str, str] = field(default_factory=dict, compare=False)
    disposition: str | None = None          # lower-case "attachment" / "inline" (RFC 2183)
    disposition_params: dict[str, str] = field(default_factory=dict, compare=False)
    encoding: str | None = None
    size: int | None = None
    parts: tuple["BodyPart", ...] = ()      # children of a multipart, or the body of message/rfc822

    @property
    def content_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def filename(self) -> str | None:
        return self.disposition_params.get("filename") or self.params.get("name")


def _params(value: Token) -> dict[str, str]:
    if not isinstance(value, list):
        return {}
    out: dict[str, str] = {}
    for i in range(0, len(value) - 1, 2):
        key = text(value[i])
        if key is not None:
            out[key.lower()] = decode_words(value[i + 1]) or ""
    return out


def _disposition(value: Token) -> tuple[str | None, dict[str, str]]:
    if isinstance(value, list) and value:
        kind = text(value[0])
        return (kind.lower() if kind else None), _params(value[1] if len(value) > 1 else None)
    if isinstance(value, (bytes, str)):
        # pymap sends the raw header value as one string: "attachment; filename=\"r.pdf\""
        msg = email.message.Message()
        msg["Content-Disposition"] = text(value) or ""
        params = msg.get_params(header="Content-Disposition") or []
        if not params:
            return None, {}
        kind = params[0][0].lower()
        return kind, {k.lower(): str(v) for k, v in params[1:]}
    return None, {}


def parse_bodystructure(value: Token) -> BodyPart:
    if not isinstance(value, list) or not value:
        raise ParseError(f"bad BODYSTRUCTURE: {value!r}")
    if isinstance(value[0], list):  # body-type-mpart: 1*body SP media-subtype [SP body-ext-mpart]
        i = 0
        children: list[BodyPart] = []
        while i < len(value) and isinstance(value[i], list):
            children.append(parse_bodystructure(value[i]))
            i += 1
        subtype = (text(value[i]) or "mixed").lower() if i < len(value) else "mixed"
        ext = value[i + 1:]
        disp, dparams = _disposition(ext[1]) if len(ext) > 1 else (None, {})
        return BodyPart("multipart", subtype, _params(ext[0]) if ext else {}, disp, dparams,
                        parts=tuple(children))
    if len(value) < 7:
        if isinstance(value[0], bytes) and all(v is None or isinstance(v, list) for v in value[1:]):
            # a subtype and extension data without parts: a multipart whose boundary is missing (pymap
            # writes one); the conversion keeps such a body's bytes as an attachment
            return BodyPart("multipart", (text(value[0]) or "mixed").lower(), {}, None, {}, parts=())
        raise ParseError(f"short body-type-1part: {value!r}")
    mtype = (text(value[0]) or "text").lower()
    subtype = (text(value[1]) or "plain").lower()
    params = _params(value[2])
    encoding = (text(value[5]) or "").lower() or None
    try:
        size = number(value[6])
    except ParseError:
        size = None
    parts: tuple[BodyPart, ...] = ()
    if mtype == "text":
        ext_at = 8                       # body-type-text adds body-fld-lines
    elif mtype == "message" and subtype in ("rfc822", "global") and len(value) >= 10:
        ext_at = 10                      # body-type-msg adds envelope, body, lines
        if isinstance(value[8], list):
            try:
                parts = (parse_bodystructure(value[8]),)
            except ParseError:
                parts = ()
    else:
        ext_at = 7
    # body-ext-1part: md5, disposition, language, location
    disp, dparams = _disposition(value[ext_at + 1]) if len(value) > ext_at + 1 else (None, {})
    return BodyPart(mtype, subtype, params, disp, dparams, encoding, size, parts)


def has_attachments(part: BodyPart, parent_subtype: str | None = None) -> bool:
    """Whether a client would show a paper clip: an explicit attachment, an
    attached message, or a named non-text leaf that is not an inline resource
    of multipart/related (an HTML body's images)."""
    if part.type == "multipart":
        if not part.parts or (len(part.parts) == 1 and part.parts[0].type != "multipart" and not part.parts[0].size):
            return True     # no boundary: the servers show no part (pymap) or one empty part (Dovecot)
        return any(has_attachments(p, part.subtype) for p in part.parts)
    if part.disposition == "attachment":
        return True
    if part.type == "message":
        return True     # an attached message, or a report's delivery-status/disposition-notification part
    if part.disposition == "inline" or parent_subtype == "related":
        return False
    if part.type == "text" and part.filename is None:
        # the bodies; any other text (a report's rfc822-headers, a vCard) is kept as an attachment
        return part.subtype not in ("plain", "html", "enriched", "rtf", "calendar")
    return part.filename is not None or part.type in ("application", "audio", "video", "image", "model")


# Header fields fetched with every summary (BODY.PEEK[HEADER.FIELDS (...)]).
SUMMARY_HEADERS = ("IMPORTANCE", "X-PRIORITY", "PRIORITY", "SENSITIVITY")


def summary_from_fetch(items: dict[str, Any]) -> ImapMessageSummary:
    """FETCH items (UID FLAGS RFC822.SIZE INTERNALDATE and optional ENVELOPE
    BODYSTRUCTURE MODSEQ EMAILID) -> ImapMessageSummary."""
    try:
        uid = number(items["UID"])
        flags = frozenset(str(f) for f in items.get("FLAGS") or ())
        size = number(items["RFC822.SIZE"])
        internaldate = parse_internaldate(text(items["INTERNALDATE"]) or "")
    except KeyError as exc:
        raise ParseError(f"FETCH lacks {exc.args[0]}") from None
    envelope = parse_envelope(items["ENVELOPE"]) if "ENVELOPE" in items else None
    modseq = None
    if "MODSEQ" in items:  # MODSEQ (n)  (RFC 7162 3.1.4.1)
        m = items["MODSEQ"]
        modseq = number(m[0] if isinstance(m, list) else m)
    attach: bool | None = None
    ctype: str | None = None
    if "BODYSTRUCTURE" in items:
        try:
            body = parse_bodystructure(items["BODYSTRUCTURE"])
        except ParseError:
            body = None     # one message's odd structure must not stop the folder's listing
        if body is not None:
            attach = has_attachments(body)
            ctype = body.content_type
    headers = section_value(items, f"HEADER.FIELDS ({' '.join(SUMMARY_HEADERS)})")
    if headers is None:   # a server that names the section its own way
        headers = next((v for k, v in items.items() if k.startswith("BODY[HEADER.FIELDS")
                        and isinstance(v, bytes)), None)
    return ImapMessageSummary(
        uid=uid, flags=flags, size=size, internaldate=internaldate, envelope=envelope,
        modseq=modseq, emailid=_objectid(items["EMAILID"]) if "EMAILID" in items else None,
        has_attachments=attach, content_type=ctype, headers=headers,
    )


def fetch_modseq(items: dict[str, Any]) -> int | None:
    m = items.get("MODSEQ")
    if m is None:
        return None
    return number(m[0] if isinstance(m, list) else m)


def section_value(items: dict[str, Any], section: str) -> bytes | None:
    """The data of BODY[section] (also BINARY[...]), whatever origin suffix the server added."""
    want = f"BODY[{section.upper()}]"
    for key, value in items.items():
        base = key.split("<", 1)[0]
        if base == want and (value is None or isinstance(value, bytes)):
            return value or b""
    return None


# ---------------------------------------------------------------- command arguments

_QUOTED_SAFE = re.compile(rb"[\x20-\x7e]*")
_ATOM_SAFE = re.compile(rb"[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]+")


@dataclass(frozen=True)
class Literal:
    """A command argument that must go as a literal (RFC 3501 4.3)."""

    data: bytes


def astring(value: str | bytes) -> bytes | Literal:
    """An argument as atom, quoted string or literal, whichever fits."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if raw and _ATOM_SAFE.fullmatch(raw) and raw.upper() != b"NIL":
        return raw
    if _QUOTED_SAFE.fullmatch(raw) and len(raw) < 1024:
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return Literal(raw)


def mailbox_arg(name: str) -> bytes | Literal:
    """A mailbox name for a command: modified UTF-7, INBOX kept as is (RFC 3501 5.1.3)."""
    if name.upper() == "INBOX":
        return b"INBOX"
    return astring(utf7.encode(name))


def flag_list(flags: Sequence[str]) -> bytes:
    for f in flags:
        if not f or any(c in f for c in ' ()"{%]\r\n') or not f.isascii():
            raise ValueError(f"not a valid IMAP flag: {f!r}")
    return b"(" + " ".join(flags).encode("ascii") + b")"
