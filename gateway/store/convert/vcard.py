"""vCard 2.1 / 3.0 / 4.0 <-> contact and personal distribution list properties.

Pure functions, no I/O:

- ``vcard_to_contact(data) -> MessageContent``  (IPM.Contact)
- ``contact_to_vcard(msg, version="3.0") -> bytes``  ("3.0" or "4.0")
- ``vcard_to_distlist(data, resolve_member=None) -> MessageContent``  (IPM.DistList)
- ``distlist_to_vcard(msg, version="4.0") -> bytes``
- ``is_group_vcard(data) -> bool``  (KIND:group or X-ADDRESSBOOKSERVER-KIND:group)

The mapping follows MS-OXVCARD 2.1.3 with the contact object of MS-OXOCNTC 2.2;
where producers use their own extensions (Apple X-AB*, Evolution X-EVOLUTION-*,
KDE X-KADDRESSBOOK-*) they are read as well. gateway/store/convert/docs/vcard.md has the table.

The vCard text is read by the small parser below rather than by vobject:
vobject 0.9 treats every card as 3.0 (vCard 4.0 data: URIs, PREF= and
VALUE=uri are not understood), and a hand parser keeps each unmapped line
exactly as written, which the round trip needs. Lines without a MAPI property
are kept, unfolded, in PidNameExgateVCardExtra and written back on export.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable
from urllib.parse import unquote, unquote_to_bytes

from gateway.store.model import Attachment, MessageContent
from protocols.mapi.props import contact as C
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PidNameKeywords

from protocols.mapi.entryids import decode_one_off, encode_one_off, unwrap_entryid, wrap_entryid

__all__ = [
    "vcard_to_contact", "contact_to_vcard", "vcard_to_distlist", "distlist_to_vcard",
    "is_group_vcard", "parse_vcard", "ContentLine", "VCardError",
]

PRODID = "-//exgate//vCard//EN"
PHOTO_NAME = "ContactPicture.jpg"  # MS-OXOCNTC 2.2.1.8.3
_UTC = timezone.utc
_NO_YEAR = 1604  # year-less dates (vCard 4.0 "--MMDD"; Apple's X-APPLE-OMIT-YEAR)


class VCardError(ValueError):
    """The data holds no vCard."""


# =============================================================================
# Content lines (RFC 6350 3.3, RFC 2425 5.8.1, vCard 2.1 section 2.1)
# =============================================================================

_BARE_ENCODINGS = {"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"}


@dataclass
class ContentLine:
    name: str  # upper case
    value: str  # decoded from QP/charset, still vCard-escaped
    params: list[tuple[str, str]] = field(default_factory=list)  # (NAME, value) in order
    group: str | None = None
    version: str = "3.0"
    spelled: str | None = None  # the name as the producer wrote it (X-ABLabel)

    def param(self, pname: str) -> str | None:
        for k, v in self.params:
            if k == pname:
                return v
        return None

    def param_list(self, pname: str) -> list[str]:
        out: list[str] = []
        for k, v in self.params:
            if k == pname:
                out.extend(p.strip() for p in _split_unquoted(v, ","))
        return [p for p in out if p]

    @property
    def types(self) -> set[str]:
        return {t.lower() for t in self.param_list("TYPE")}

    def pref(self) -> int | None:
        """Smaller is more preferred (4.0 PREF=1..100; 3.0 TYPE=pref counts as 1)."""
        p = self.param("PREF")
        if p and p.isdigit():
            return int(p)
        return 1 if "pref" in self.types else None

    def text(self) -> str:
        return _unescape(self.value, self.version)

    def components(self) -> list[str]:
        return [_unescape(p, self.version) for p in _split_escaped(self.value, ";")]

    def component_lists(self) -> list[list[str]]:
        return [[_unescape(x, self.version) for x in _split_escaped(p, ",")]
                for p in _split_escaped(self.value, ";")]

    def list_values(self) -> list[str]:
        return [_unescape(p, self.version) for p in _split_escaped(self.value, ",")]

    def format(self) -> str:
        """The line as vCard 3.0/4.0 text (unfolded), dropping 2.1 transfer params."""
        pname = self.spelled or self.name
        head = f"{self.group}.{pname}" if self.group else pname
        for k, v in self.params:
            if k in ("ENCODING", "CHARSET") and self.version == "2.1":
                continue
            head += f";{k}={_param_value(v, k == 'TYPE')}"
        value = self.value
        if self.version == "2.1":
            value = value.replace("\r\n", "\n").replace("\n", "\\n")
        return f"{head}:{value}"


def _split_unquoted(s: str, sep: str) -> list[str]:
    out, cur, quoted = [], [], False
    for ch in s:
        if ch == '"':
            quoted = not quoted
            continue
        if ch == sep and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _split_escaped(s: str, sep: str) -> list[str]:
    """Split at ``sep`` not preceded by a backslash escape; keep escapes."""
    out, cur, i = [], [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if ch == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _unescape(s: str, version: str = "3.0") -> str:
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if version == "2.1" and nxt not in ";,":
                out.append(ch)  # 2.1 escapes only ';' (and some producers ',')
                i += 1
                continue
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _escape(s: str) -> str:
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def _decode_caret(v: str) -> str:
    # RFC 6868: ^n newline, ^' double quote, ^^ caret
    if "^" not in v:
        return v
    return re.sub(r"\^(.)", lambda m: {"n": "\n", "N": "\n", "'": '"', "^": "^"}.get(m.group(1), m.group(0)), v)


def _param_value(v: str, list_ok: bool = False) -> str:
    """A parameter value, caret-encoded (RFC 6868) and quoted when it must be.
    ``list_ok``: commas separate values (TYPE=work,voice) and need no quotes."""
    enc = v.replace("^", "^^").replace("\n", "^n").replace('"', "^'")
    specials = ":;" if list_ok else ":;,"
    if any(c in enc for c in specials) or enc != enc.strip() or "^n" in enc:
        return f'"{enc}"'
    return enc


def _decode_bytes(raw: bytes, charset: str | None) -> str:
    if charset:
        try:
            codecs.lookup(charset)
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


_QP_RE = re.compile(rb"QUOTED-PRINTABLE", re.I)


def _logical_lines(data: bytes) -> list[bytes]:
    """Unfold (RFC 6350 3.2) and join 2.1 quoted-printable soft line breaks."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    out: list[bytes] = []
    cur: bytes | None = None
    for phys in re.split(rb"\r\n|\n|\r", data):
        if cur is not None and phys[:1] in (b" ", b"\t"):
            cur += phys[1:]
            continue
        if cur is not None and cur.endswith(b"=") and _QP_RE.search(cur.split(b":", 1)[0]):
            cur = cur[:-1] + phys  # soft line break; the '=' is not data
            continue
        if cur is not None:
            out.append(cur)
        cur = phys if phys.strip() else None
    if cur is not None:
        out.append(cur)
    return out


def _parse_line(raw: bytes, version: str) -> ContentLine | None:
    quoted = False
    colon = -1
    for i, b in enumerate(raw):
        if b == 0x22:
            quoted = not quoted
        elif b == 0x3A and not quoted:
            colon = i
            break
    if colon <= 0:
        return None
    head = raw[:colon].decode("utf-8", "replace")
    value_raw = raw[colon + 1:]
    parts = _split_unquoted_keep(head, ";")
    name = parts[0].strip()
    group = None
    if "." in name:
        group, name = name.rsplit(".", 1)
    params: list[tuple[str, str]] = []
    for p in parts[1:]:
        p = p.strip()
        if not p:
            continue
        if "=" in p:
            k, v = p.split("=", 1)
            k = k.strip().upper()
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"' and '","' not in v:
                v = v[1:-1]
            params.append((k, _decode_caret(v)))
        elif p.upper() in _BARE_ENCODINGS:
            params.append(("ENCODING", p))
        else:
            params.append(("TYPE", p))  # vCard 2.1 bare parameter
    enc = next((v.upper() for k, v in params if k == "ENCODING"), None)
    charset = next((v for k, v in params if k == "CHARSET"), None)
    if enc == "QUOTED-PRINTABLE":
        value = _decode_bytes(quopri.decodestring(value_raw), charset)
    else:
        value = _decode_bytes(value_raw, charset)
    return ContentLine(name.upper(), value, params, group, version, name)


def _split_unquoted_keep(s: str, sep: str) -> list[str]:
    out, cur, quoted = [], [], False
    for ch in s:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parse_vcard(data: bytes) -> list[ContentLine]:
    """The content lines of the first vCard in ``data`` (without BEGIN/END).

    Lines of a nested vCard (2.1 AGENT) are skipped."""
    lines = _logical_lines(data)
    version = "3.0"
    for raw in lines:
        m = re.match(rb"\s*VERSION\s*:\s*([0-9.]+)", raw, re.I)
        if m:
            version = m.group(1).decode()
            break
    out: list[ContentLine] = []
    depth = 0
    seen = False
    for raw in lines:
        upper = raw.strip().upper()
        if upper.startswith(b"BEGIN:VCARD"):
            depth += 1
            seen = True
            continue
        if upper.startswith(b"END:VCARD"):
            depth -= 1
            if depth <= 0:
                break
            continue
        if depth != 1:
            continue
        line = _parse_line(raw, version)
        if line is not None:
            out.append(line)
    if not seen:
        raise VCardError("no BEGIN:VCARD found")
    return out


def _fold(line: str) -> bytes:
    """Fold at 75 octets without splitting a UTF-8 sequence (RFC 6350 3.2)."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return data + b"\r\n"
    out = bytearray()
    limit = 75
    while data:
        cut = min(limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        out += data[:cut] + b"\r\n"
        data = data[cut:]
        if data:
            out += b" "
        limit = 74
    return bytes(out)


# =============================================================================
# Small helpers
# =============================================================================

def _crlf(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


_DATE_RE = re.compile(r"^(?:(\d{4})|--)-?(\d{2})-?(\d{2})")
_DT_RE = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})(?:T(\d{2}):?(\d{2}):?(\d{2})?(?:[.,]\d+)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$")


def _parse_date(line: ContentLine) -> datetime | None:
    text = line.text().strip()
    m = _DATE_RE.match(text)
    if not m:
        return None
    year = int(m.group(1)) if m.group(1) else _NO_YEAR
    omit = line.param("X-APPLE-OMIT-YEAR")
    if omit and omit.isdigit() and int(omit) == year:
        year = _NO_YEAR
    try:
        return datetime(year, int(m.group(2)), int(m.group(3)), tzinfo=_UTC)
    except ValueError:
        return None


def _parse_timestamp(text: str) -> datetime | None:
    m = _DT_RE.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mi, ss, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
    except ValueError:
        return None
    offset = timedelta(0)
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return (dt - offset).replace(tzinfo=_UTC)


def _day_of(value) -> date | None:
    """The calendar day of a PtypTime birthday/anniversary. Clients store local
    midnight converted to UTC, so round to the nearest day (within 12 hours)."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return (value + timedelta(hours=12)).date()


def _format_day(d: date, version: str) -> tuple[str, list[tuple[str, str]]]:
    if d.year == _NO_YEAR:
        if version == "4.0":
            return f"--{d.month:02d}{d.day:02d}", []
        return d.isoformat(), [("X-APPLE-OMIT-YEAR", str(_NO_YEAR))]
    return (d.strftime("%Y%m%d") if version == "4.0" else d.isoformat()), []


def _image_mime(data: bytes, hint: str | None) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"GIF8":
        return "image/gif"
    if data[:2] == b"BM":
        return "image/bmp"
    if hint:
        h = hint.lower()
        if "/" not in h:
            h = "image/" + ("jpeg" if h in ("jpg", "jpeg") else h)
        return h
    return "image/jpeg"


def _apple_label(text: str) -> str:
    m = re.match(r"^_\$!<(.*)>!\$_$", text.strip())
    return (m.group(1) if m else text).strip().lower()


def _uint32(v) -> int | None:
    return None if v is None else int(v) & 0xFFFFFFFF


# =============================================================================
# Tables
# =============================================================================

@dataclass(frozen=True)
class _AddrSlot:
    pobox: object
    street: object
    city: object
    state: object
    postal: object
    country: object
    code: object  # ISO country code
    block: object  # the formatted address


_WORK = _AddrSlot(C.PidLidWorkAddressPostOfficeBox, C.PidLidWorkAddressStreet, C.PidLidWorkAddressCity,
                  C.PidLidWorkAddressState, C.PidLidWorkAddressPostalCode, C.PidLidWorkAddressCountry,
                  C.PidLidWorkAddressCountryCode, C.PidLidWorkAddress)
_HOME = _AddrSlot(C.PidTagHomeAddressPostOfficeBox, P.PidTagHomeAddressStreet, P.PidTagHomeAddressCity,
                  P.PidTagHomeAddressStateOrProvince, P.PidTagHomeAddressPostalCode, P.PidTagHomeAddressCountry,
                  C.PidLidHomeAddressCountryCode, C.PidLidHomeAddress)
_OTHER = _AddrSlot(C.PidTagOtherAddressPostOfficeBox, P.PidTagOtherAddressStreet, P.PidTagOtherAddressCity,
                   P.PidTagOtherAddressStateOrProvince, P.PidTagOtherAddressPostalCode, P.PidTagOtherAddressCountry,
                   C.PidLidOtherAddressCountryCode, C.PidLidOtherAddress)
# the mailing address (PidLidPostalAddressId says which of the three it copies)
_MAILING = _AddrSlot(P.PidTagPostOfficeBox, P.PidTagStreetAddress, P.PidTagLocality, P.PidTagStateOrProvince,
                     P.PidTagPostalCode, P.PidTagCountry, C.PidLidAddressCountryCode, C.PidTagPostalAddress)
_ADDR_SLOTS = {"home": (_HOME, C.POSTAL_ADDRESS_HOME), "work": (_WORK, C.POSTAL_ADDRESS_WORK),
               "other": (_OTHER, C.POSTAL_ADDRESS_OTHER)}
_SLOT_BY_ID = {C.POSTAL_ADDRESS_HOME: _HOME, C.POSTAL_ADDRESS_WORK: _WORK, C.POSTAL_ADDRESS_OTHER: _OTHER}

_EMAIL = [
    (C.PidLidEmail1DisplayName, C.PidLidEmail1AddressType, C.PidLidEmail1EmailAddress,
     C.PidLidEmail1OriginalDisplayName, C.PidLidEmail1OriginalEntryId),
    (C.PidLidEmail2DisplayName, C.PidLidEmail2AddressType, C.PidLidEmail2EmailAddress,
     C.PidLidEmail2OriginalDisplayName, C.PidLidEmail2OriginalEntryId),
    (C.PidLidEmail3DisplayName, C.PidLidEmail3AddressType, C.PidLidEmail3EmailAddress,
     C.PidLidEmail3OriginalDisplayName, C.PidLidEmail3OriginalEntryId),
]

# X-MS-TEL;TYPE=... (MS-OXVCARD 2.1.3.9.5)
_XMS_TEL = {
    "assistant": P.PidTagAssistantTelephoneNumber,
    "callback": C.PidTagCallbackTelephoneNumber,
    "company": C.PidTagCompanyMainTelephoneNumber,
    "radio": C.PidTagRadioTelephoneNumber,
    "ttytdd": C.PidTagTelecommunicationsDeviceForDeafTelephoneNumber,
}
# producer-specific TEL types that name one of those numbers
_TEL_ALIASES = {
    "x-evolution-assistant": "assistant", "assistant": "assistant",
    "x-evolution-callback": "callback", "callback": "callback",
    "x-evolution-company": "company", "company": "company",
    "x-evolution-radio": "radio", "radio": "radio",
    "x-evolution-tty": "ttytdd", "x-evolution-ttytdd": "ttytdd", "textphone": "ttytdd", "tty": "ttytdd",
    "ttytdd": "ttytdd",
}
_OTHER_TEL_TYPES = {"msg", "voice", "video", "bbs", "modem", "other", "internet", "x-evolution-other"}

_SENSITIVITY = {"PUBLIC": C.SENSITIVITY_NORMAL, "X-PERSONAL": C.SENSITIVITY_PERSONAL,
                "PRIVATE": C.SENSITIVITY_PRIVATE, "CONFIDENTIAL": C.SENSITIVITY_CONFIDENTIAL}
_SENSITIVITY_OUT = {v: k for k, v in _SENSITIVITY.items()}

_FILE_AS_NAMES = ("X-MS-FILE-AS", "X-EVOLUTION-FILE-AS", "X-FILE-AS")
_MANAGER_NAMES = ("X-MS-MANAGER", "X-MANAGER", "X-EVOLUTION-MANAGER", "X-KADDRESSBOOK-X-MANAGERSNAME")
_ASSISTANT_NAMES = ("X-MS-ASSISTANT", "X-ASSISTANT", "X-EVOLUTION-ASSISTANT", "X-KADDRESSBOOK-X-ASSISTANTSNAME")
_SPOUSE_NAMES = ("X-MS-SPOUSE", "X-SPOUSE", "X-EVOLUTION-SPOUSE", "X-KADDRESSBOOK-X-SPOUSENAME")
_ANNIVERSARY_NAMES = ("ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY")
# lines we always write ourselves: never kept as "unmapped"
_STRUCTURAL = {"VERSION", "PRODID", "BEGIN", "END"}
# single-valued in 3.0: a second occurrence is dropped rather than kept
_SINGLETONS = {"FN", "N", "BDAY", "REV", "UID", "CLASS", "X-CLASS", "GENDER", "X-GENDER", "KIND",
               "X-ADDRESSBOOKSERVER-KIND"} | set(_ANNIVERSARY_NAMES) | set(_FILE_AS_NAMES)


# =============================================================================
# File-as (MS-OXOCNTC 2.2.1.1.11/12)
# =============================================================================

def _file_under_for(fid: int, props: dict) -> str | None:
    g = props.get(P.PidTagGivenName, "") or ""
    s = props.get(P.PidTagSurname, "") or ""
    m = props.get(P.PidTagMiddleName, "") or ""
    co = props.get(P.PidTagCompanyName, "") or ""
    gm = " ".join(x for x in (g, m) if x)
    sgm = ", ".join(x for x in (s, gm) if x)
    if fid == C.FILE_UNDER_EMPTY:
        return ""
    if fid == C.FILE_UNDER_DISPLAY_NAME:
        return props.get(P.PidTagDisplayName, "") or ""
    if fid == C.FILE_UNDER_GIVEN_NAME:
        return g
    if fid == C.FILE_UNDER_SURNAME:
        return s
    if fid == C.FILE_UNDER_COMPANY:
        return co
    if fid == C.FILE_UNDER_SURNAME_COMMA_GIVEN_MIDDLE:
        return sgm
    if fid == C.FILE_UNDER_COMPANY_SURNAME_GIVEN:
        return "\r\n".join(x for x in (co, sgm) if x)
    if fid == C.FILE_UNDER_SURNAME_GIVEN_COMPANY:
        return "\r\n".join(x for x in (sgm, co) if x)
    return None


def _default_file_under_id(props: dict) -> int:
    if props.get(P.PidTagSurname) or props.get(P.PidTagGivenName):
        return C.FILE_UNDER_SURNAME_COMMA_GIVEN_MIDDLE
    if props.get(P.PidTagDisplayName):
        return C.FILE_UNDER_DISPLAY_NAME
    return C.FILE_UNDER_COMPANY


_FILE_UNDER_ORDER = (C.FILE_UNDER_SURNAME_COMMA_GIVEN_MIDDLE, C.FILE_UNDER_DISPLAY_NAME, C.FILE_UNDER_COMPANY,
                     C.FILE_UNDER_COMPANY_SURNAME_GIVEN, C.FILE_UNDER_SURNAME_GIVEN_COMPANY,
                     C.FILE_UNDER_GIVEN_NAME, C.FILE_UNDER_SURNAME)


def _format_address_block(street: str, city: str, state: str, postal: str, country: str) -> str:
    """The formatted address (PidLidWorkAddress etc.), in Outlook's US layout."""
    lines = [street] if street else []
    tail = " ".join(x for x in (state, postal) if x)
    cityline = ", ".join(x for x in (city, tail) if x)
    if cityline:
        lines.append(cityline)
    if country:
        lines.append(country)
    return "\r\n".join(lines)


# =============================================================================
# vCard -> contact
# =============================================================================

class _Importer:
    def __init__(self, lines: list[ContentLine]):
        self.lines = lines
        self.props: dict = {}
        self.attachments: list[Attachment] = []
        self.extra: list[ContentLine] = []
        self.consumed_groups: set[str] = set()
        self.seen: set[str] = set()
        # Apple groups: item1.TEL + item1.X-ABLabel:_$!<Mobile>!$_
        self.labels: dict[str, list[str]] = {}
        self.abadr: dict[str, str] = {}
        for ln in lines:
            if ln.group and ln.name == "X-ABLABEL":
                self.labels.setdefault(ln.group.lower(), []).append(_apple_label(ln.text()))
            elif ln.group and ln.name == "X-ABADR":
                self.abadr[ln.group.lower()] = ln.text().strip().lower()

    # ---- helpers
    def types(self, ln: ContentLine) -> set[str]:
        t = set(ln.types)
        if ln.group:
            t |= set(self.labels.get(ln.group.lower(), []))
        return t

    def set_text(self, key, value: str) -> None:
        if value:
            self.props[key] = value

    def keep(self, ln: ContentLine) -> None:
        self.extra.append(ln)

    # ---- the walk
    def run(self, handlers: dict[str, Callable[[ContentLine], bool]]) -> None:
        for ln in self.lines:
            if ln.name in _STRUCTURAL:
                continue
            if ln.name in ("X-ABLABEL", "X-ABADR") and ln.group:
                continue  # decided with their group below
            if ln.name in _SINGLETONS:
                if ln.name in self.seen:
                    continue
                self.seen.add(ln.name)
            h = handlers.get(ln.name)
            done = h(ln) if h else False
            if done:
                if ln.group:
                    self.consumed_groups.add(ln.group.lower())
            else:
                self.keep(ln)
        for ln in self.lines:
            if ln.name in ("X-ABLABEL", "X-ABADR") and ln.group and ln.group.lower() not in self.consumed_groups:
                self.keep(ln)

    def extra_text(self) -> str:
        return "\n".join(ln.format() for ln in self.extra)


class _ContactImporter(_Importer):
    def __init__(self, lines: list[ContentLine]):
        super().__init__(lines)
        self.emails: list[tuple[int, int, ContentLine, str]] = []
        self.labels_by_type: dict[str, str] = {}
        self.addr_pref: int | None = None
        self.postal_override: int | None = None
        self.file_as: str | None = None
        self.display_name: str | None = None
        self.categories: list[str] = []
        self.children: list[str] = []

    def handlers(self) -> dict[str, Callable[[ContentLine], bool]]:
        h: dict[str, Callable[[ContentLine], bool]] = {
            "FN": self.fn, "N": self.n, "NICKNAME": self.nickname, "ORG": self.org,
            "TITLE": lambda ln: self.simple(ln, P.PidTagTitle),
            "ROLE": lambda ln: self.simple(ln, P.PidTagProfession),
            "EMAIL": self.email, "TEL": self.tel, "X-MS-TEL": self.xms_tel,
            "ADR": self.adr, "LABEL": self.label, "X-MS-OL-DEFAULT-POSTAL-ADDRESS": self.default_postal,
            "URL": self.url, "BDAY": self.bday, "X-ABDATE": self.abdate,
            "NOTE": self.note, "PHOTO": self.photo, "CATEGORIES": self.cats, "UID": self.uid,
            "IMPP": self.im, "X-MS-IMADDRESS": self.im, "GENDER": self.gender, "X-GENDER": self.gender,
            "REV": self.rev, "CLASS": self.klass, "X-CLASS": self.klass, "KIND": self.kind,
            "X-ABRELATEDNAMES": self.related_names, "RELATED": self.related, "X-MS-CHILD": self.child,
        }
        for n in _FILE_AS_NAMES:
            h[n] = self.fileas
        for n in _ANNIVERSARY_NAMES:
            h[n] = self.anniversary
        for names, key in ((_MANAGER_NAMES, P.PidTagManagerName), (_ASSISTANT_NAMES, P.PidTagAssistant),
                           (_SPOUSE_NAMES, P.PidTagSpouseName)):
            for n in names:
                h[n] = (lambda k: (lambda ln: self.simple(ln, k)))(key)
        return h

    # ---- names
    def simple(self, ln: ContentLine, key) -> bool:
        if key in self.props:
            return False
        v = ln.text().strip()
        if not v:
            return True
        self.props[key] = v
        return True

    def fn(self, ln: ContentLine) -> bool:
        self.display_name = ln.text().strip()
        return True

    def n(self, ln: ContentLine) -> bool:
        parts = ln.component_lists() + [[]] * 5
        keys = (P.PidTagSurname, P.PidTagGivenName, P.PidTagMiddleName, P.PidTagDisplayNamePrefix,
                P.PidTagGeneration)
        for key, vals in zip(keys, parts[:5]):
            self.set_text(key, " ".join(v.strip() for v in vals if v.strip()))
        return True

    def nickname(self, ln: ContentLine) -> bool:
        if P.PidTagNickname in self.props:
            return False
        self.set_text(P.PidTagNickname, ", ".join(v.strip() for v in ln.list_values() if v.strip()))
        return True

    def fileas(self, ln: ContentLine) -> bool:
        self.file_as = _crlf(ln.text().strip())
        return True

    def org(self, ln: ContentLine) -> bool:
        if P.PidTagCompanyName in self.props or P.PidTagDepartmentName in self.props:
            return False
        parts = [p.strip() for p in ln.components()]
        self.set_text(P.PidTagCompanyName, parts[0] if parts else "")
        self.set_text(P.PidTagDepartmentName, ", ".join(p for p in parts[1:] if p))
        return True

    # ---- electronic addresses
    def email(self, ln: ContentLine) -> bool:
        addr = ln.text().strip()
        if addr.lower().startswith("mailto:"):
            addr = unquote(addr[7:])
        if not addr:
            return True
        self.emails.append((ln.pref() or 1000, len(self.emails), ln, addr))
        return True  # decided in finish(): a fourth address goes back to the extras

    def im(self, ln: ContentLine) -> bool:
        return self.simple(ln, C.PidLidInstantMessagingAddress)

    # ---- telephones (MS-OXVCARD 2.1.3.2.x TEL, 2.1.3.9.5 X-MS-TEL)
    def tel(self, ln: ContentLine) -> bool:
        number = ln.text().strip()
        if number.lower().startswith("tel:"):
            number = number[4:]
        if not number:
            return True
        types = self.types(ln)
        has_pref = "pref" in types or ln.param("PREF") is not None
        types -= {"pref"}
        key = self._tel_slot(types, has_pref)
        if key is None:
            return False
        self.props[key] = number
        return True

    def _tel_slot(self, types: set[str], has_pref: bool):
        free = lambda *keys: next((k for k in keys if k not in self.props), None)  # noqa: E731
        if "fax" in types or "facsimile" in types:
            if "home" in types:
                return free(P.PidTagHomeFaxNumber)
            if "work" in types:
                return free(P.PidTagBusinessFaxNumber)
            return free(C.PidTagPrimaryFaxNumber)
        if types & {"cell", "mobile", "iphone"}:
            return free(P.PidTagMobileTelephoneNumber)
        if "pager" in types:
            return free(P.PidTagPagerTelephoneNumber)
        if "car" in types:
            return free(P.PidTagCarTelephoneNumber)
        if "isdn" in types:
            return free(C.PidTagIsdnNumber)
        for t in types:
            if t in _TEL_ALIASES:
                return free(_XMS_TEL[_TEL_ALIASES[t]])
        if "x-evolution-telex" in types or "telex" in types:
            return free(C.PidTagTelexNumber)
        if "work" in types:
            return free(P.PidTagBusinessTelephoneNumber, P.PidTagBusiness2TelephoneNumber)
        if "home" in types:
            return free(P.PidTagHomeTelephoneNumber, P.PidTagHome2TelephoneNumber)
        if "main" in types or (has_pref and not (types - _OTHER_TEL_TYPES)):
            return free(P.PidTagPrimaryTelephoneNumber)
        if not (types - _OTHER_TEL_TYPES):
            return free(C.PidTagOtherTelephoneNumber)
        return None  # an unknown label: keep the line as it is

    def xms_tel(self, ln: ContentLine) -> bool:
        number = ln.text().strip()
        for t in ln.types:
            key = _XMS_TEL.get(t)
            if key is not None and key not in self.props and number:
                self.props[key] = number
                return True
        return False

    # ---- physical addresses (MS-OXVCARD ADR, LABEL)
    def _addr_kind(self, types: set[str]) -> str:
        if "work" in types:
            return "work"
        if "home" in types:
            return "home"
        return "other"

    def adr(self, ln: ContentLine) -> bool:
        types = self.types(ln)
        kind = self._addr_kind(types)
        slot, pid = _ADDR_SLOTS[kind]
        if any(k in self.props for k in (slot.street, slot.city, slot.state, slot.postal, slot.country,
                                          slot.pobox)):
            return False  # a second address of the same kind stays as it is
        comps = ln.component_lists() + [[]] * 7
        street_sep = "\r\n" if ln.version == "4.0" else ", "

        def join(vals: list[str], sep: str = ", ") -> str:
            return sep.join(_crlf(v.strip()) for v in vals if v.strip())

        pobox, ext, street = join(comps[0]), join(comps[1]), join(comps[2], street_sep)
        if ext:
            street = "\r\n".join(x for x in (ext, street) if x)
        values = {slot.pobox: pobox, slot.street: street, slot.city: join(comps[3]),
                  slot.state: join(comps[4]), slot.postal: join(comps[5]), slot.country: join(comps[6])}
        if not any(values.values()):
            return True
        for k, v in values.items():
            self.set_text(k, v)
        code = ln.param("CC") or (self.abadr.get(ln.group.lower()) if ln.group else None)
        if code:
            self.props[slot.code] = code.strip().lower()
        label = ln.param("LABEL")
        if label:
            # RFC 6350 6.3.1 writes the newlines of LABEL as "\n" (RFC 6868 as ^n)
            self.labels_by_type[kind] = _crlf(label.replace("\\n", "\n").replace("\\N", "\n"))
        if (ln.pref() is not None) and self.addr_pref is None:
            self.addr_pref = pid
        return True

    def label(self, ln: ContentLine) -> bool:
        kind = self._addr_kind(self.types(ln))
        if kind in self.labels_by_type:
            return False
        self.labels_by_type[kind] = _crlf(ln.text().strip())
        return True

    def default_postal(self, ln: ContentLine) -> bool:
        v = ln.text().strip()
        if v.isdigit() and int(v) in (0, 1, 2, 3):
            self.postal_override = int(v)
            return True
        return False

    # ---- web pages (MS-OXVCARD URL)
    def url(self, ln: ContentLine) -> bool:
        types = self.types(ln)
        if "work" in types:
            key = P.PidTagBusinessHomePage
        elif "home" in types:
            key = P.PidTagPersonalHomePage
        else:
            key = C.PidLidHtml
        return self.simple(ln, key)

    # ---- dates
    def bday(self, ln: ContentLine) -> bool:
        d = _parse_date(ln)
        if d is None:
            return False
        self.props[P.PidTagBirthday] = d
        self.props[C.PidLidBirthdayLocal] = d
        return True

    def anniversary(self, ln: ContentLine) -> bool:
        if P.PidTagWeddingAnniversary in self.props:
            return False
        d = _parse_date(ln)
        if d is None:
            return False
        self.props[P.PidTagWeddingAnniversary] = d
        self.props[C.PidLidWeddingAnniversaryLocal] = d
        return True

    def abdate(self, ln: ContentLine) -> bool:
        if "anniversary" in self.types(ln):
            return self.anniversary(ln)
        return False

    def rev(self, ln: ContentLine) -> bool:
        dt = _parse_timestamp(ln.text())
        if dt is None:
            return False
        self.props[P.PidTagLastModificationTime] = dt
        return True

    # ---- the rest
    def note(self, ln: ContentLine) -> bool:
        if P.PidTagBody in self.props:
            return False
        self.set_text(P.PidTagBody, _crlf(ln.text()))
        return True

    def cats(self, ln: ContentLine) -> bool:
        for c in ln.list_values():
            c = c.strip()
            if c and c not in self.categories:
                self.categories.append(c)
        return True

    def uid(self, ln: ContentLine) -> bool:
        self.set_text(C.PidNameExgateVCardUid, ln.text().strip())
        return True

    def gender(self, ln: ContentLine) -> bool:
        v = (ln.components() or [""])[0].strip().lower()
        if v in ("m", "male"):
            self.props[P.PidTagGender] = C.GENDER_MALE
        elif v in ("f", "female"):
            self.props[P.PidTagGender] = C.GENDER_FEMALE
        else:
            return False  # O, N, U and free text have no MAPI value: keep the line
        return True

    def klass(self, ln: ContentLine) -> bool:
        v = _SENSITIVITY.get(ln.text().strip().upper())
        if v is None:
            return False
        self.props[P.PidTagSensitivity] = v
        return True

    def kind(self, ln: ContentLine) -> bool:
        return ln.text().strip().lower() == "individual"

    def related_names(self, ln: ContentLine) -> bool:
        types = self.types(ln)
        for label, key in (("spouse", P.PidTagSpouseName), ("partner", P.PidTagSpouseName),
                           ("manager", P.PidTagManagerName), ("assistant", P.PidTagAssistant)):
            if label in types:
                return self.simple(ln, key)
        if "child" in types:
            return self.child(ln)
        return False

    def related(self, ln: ContentLine) -> bool:
        # only free-text relations name a person; urn:uuid ones point at other cards
        if (ln.param("VALUE") or "").lower() != "text":
            return False
        if "spouse" in ln.types:
            return self.simple(ln, P.PidTagSpouseName)
        if "child" in ln.types:
            return self.child(ln)
        return False

    def child(self, ln: ContentLine) -> bool:
        v = ln.text().strip()
        if v:
            self.children.append(v)
        return True

    def photo(self, ln: ContentLine) -> bool:
        if self.attachments:
            return False
        value = ln.value.strip()
        enc = (ln.param("ENCODING") or "").upper()
        hint = ln.param("TYPE") or ln.param("MEDIATYPE")
        data: bytes | None = None
        try:
            if value.lower().startswith("data:"):
                meta, _, payload = value[5:].partition(",")
                hint = meta.split(";")[0] or hint
                data = (base64.b64decode(payload) if ";base64" in meta.lower()
                        else unquote_to_bytes(payload))
            elif enc in ("B", "BASE64"):
                data = base64.b64decode(re.sub(r"\s+", "", value))
        except (binascii.Error, ValueError):
            return False
        if not data:
            return False  # a URL photo: nothing to fetch here, keep the line
        mime = _image_mime(data, hint)
        self.attachments.append(Attachment(props={
            P.PidTagAttachMethod: P.ATTACH_BY_VALUE,
            P.PidTagAttachDataBinary: data,
            P.PidTagAttachExtension: ".jpg",
            P.PidTagAttachFilename: PHOTO_NAME,
            P.PidTagAttachLongFilename: PHOTO_NAME,
            P.PidTagDisplayName: PHOTO_NAME,
            P.PidTagAttachMimeTag: mime,
            P.PidTagAttachmentHidden: True,
            P.PidTagRenderingPosition: -1,
            C.PidTagAttachmentContactPhoto: True,
        }))
        self.props[C.PidLidHasPicture] = True
        return True

    # ---- after the walk
    def finish(self) -> MessageContent:
        props = self.props
        props[P.PidTagMessageClass] = "IPM.Contact"
        dn = self.display_name
        if not dn:
            dn = " ".join(props[k] for k in (P.PidTagDisplayNamePrefix, P.PidTagGivenName, P.PidTagMiddleName,
                                            P.PidTagSurname, P.PidTagGeneration) if props.get(k))
        if not dn:
            dn = props.get(P.PidTagCompanyName) or (self.emails[0][3] if self.emails else "")
        if dn:
            props[P.PidTagDisplayName] = dn
            props[P.PidTagSubject] = dn
            props[P.PidTagNormalizedSubject] = dn
        # email addresses: preferred first, at most three
        self.emails.sort(key=lambda e: (e[0], e[1]))
        abp: list[int] = []
        for i, (_p, _o, ln, addr) in enumerate(self.emails):
            if i >= 3:
                self.keep(ln)
                continue
            k_dn, k_type, k_addr, k_odn, k_eid = _EMAIL[i]
            label = f"{dn} ({addr})" if dn else addr
            props[k_dn] = label
            props[k_type] = "SMTP"
            props[k_addr] = addr
            props[k_odn] = addr  # MS-OXOCNTC 2.2.1.2.4: equal to the address for SMTP
            props[k_eid] = encode_one_off(label, addr, "SMTP")
            abp.append(i)
        if abp:
            props[C.PidLidAddressBookProviderEmailList] = abp
            props[C.PidLidAddressBookProviderArrayType] = sum(1 << i for i in abp)
        # formatted addresses and the mailing address
        for kind, (slot, pid) in _ADDR_SLOTS.items():
            block = self.labels_by_type.get(kind)
            if block is None and any(props.get(k) for k in (slot.street, slot.city, slot.state, slot.postal,
                                                           slot.country)):
                block = _format_address_block(*(props.get(k, "") for k in (slot.street, slot.city, slot.state,
                                                                           slot.postal, slot.country)))
            if block:
                props[slot.block] = block
        postal = self.postal_override if self.postal_override is not None else self.addr_pref
        if postal is None:
            present = [pid for kind, (slot, pid) in _ADDR_SLOTS.items() if props.get(slot.block)]
            postal = present[0] if len(present) == 1 else None
        if postal is not None:
            props[C.PidLidPostalAddressId] = postal
            src = _SLOT_BY_ID.get(postal)
            if src is not None:
                for f in ("pobox", "street", "city", "state", "postal", "country", "code", "block"):
                    v = props.get(getattr(src, f))
                    if v:
                        props[getattr(_MAILING, f)] = v
        # filing
        if self.file_as is not None:
            props[C.PidLidFileUnder] = self.file_as
            props[C.PidLidFileUnderId] = next(
                (fid for fid in _FILE_UNDER_ORDER if _file_under_for(fid, props) == self.file_as),
                C.FILE_UNDER_CUSTOM)
        else:
            fid = _default_file_under_id(props)
            fu = _file_under_for(fid, props) or ""
            if fu:
                props[C.PidLidFileUnder] = fu
                props[C.PidLidFileUnderId] = fid
        if self.categories:
            props[PidNameKeywords] = list(self.categories)
        if self.children:
            props[C.PidTagChildrensNames] = list(self.children)
        if self.extra:
            props[C.PidNameExgateVCardExtra] = self.extra_text()
        return MessageContent(props=props, attachments=self.attachments)


def vcard_to_contact(data: bytes) -> MessageContent:
    """A vCard (2.1, 3.0 or 4.0) -> an IPM.Contact message (MS-OXVCARD 2.1.3)."""
    imp = _ContactImporter(parse_vcard(data))
    imp.run(imp.handlers())
    return imp.finish()


def is_group_vcard(data: bytes) -> bool:
    """True for a vCard 4.0 KIND:group or an Apple X-ADDRESSBOOKSERVER-KIND:group card."""
    for ln in parse_vcard(data):
        if ln.name in ("KIND", "X-ADDRESSBOOKSERVER-KIND") and ln.text().strip().lower() == "group":
            return True
    return False


# =============================================================================
# contact -> vCard
# =============================================================================

class _Writer:
    def __init__(self, version: str):
        if version not in ("3.0", "4.0"):
            raise ValueError("vCard version must be '3.0' or '4.0'")
        self.version = version
        self.lines: list[str] = ["BEGIN:VCARD", f"VERSION:{version}", f"PRODID:{PRODID}"]
        self.group_no = 0
        self.taken_groups: set[str] = set()

    @property
    def v4(self) -> bool:
        return self.version == "4.0"

    def add(self, name: str, value: str, params: Iterable[tuple[str, str]] = (), group: str | None = None,
            raw: bool = False) -> None:
        head = f"{group}.{name}" if group else name
        for k, v in params:
            head += f";{k}={_param_value(v, k == 'TYPE')}"
        self.lines.append(f"{head}:{value if raw else _escape(value)}")

    def types(self, *t: str) -> list[tuple[str, str]]:
        t = tuple(x for x in t if x)
        if not t:
            return []
        return [("TYPE", ",".join(x.lower() if self.v4 else x.upper() for x in t))]

    def new_group(self) -> str:
        self.group_no += 1
        while f"item{self.group_no}" in self.taken_groups:
            self.group_no += 1  # a kept line of the source already uses this group
        return f"item{self.group_no}"

    def bytes(self, extra: str | None) -> bytes:
        lines = list(self.lines)
        if extra:
            lines.extend(x for x in extra.split("\n") if x.strip())
        lines.append("END:VCARD")
        return b"".join(_fold(x) for x in lines)


def _s(props: dict, key) -> str:
    v = props.get(key)
    return v if isinstance(v, str) else ""


def _email_addr(props: dict, i: int) -> str | None:
    _dn, k_type, k_addr, k_odn, k_eid = _EMAIL[i]
    addr = _s(props, k_addr)
    atype = _s(props, k_type).upper() or "SMTP"
    if addr and atype == "SMTP":
        return addr
    odn = _s(props, k_odn)
    if "@" in odn:
        return odn
    eid = props.get(k_eid)
    if isinstance(eid, bytes):
        oo = decode_one_off(eid)
        if oo and oo.address_type.upper() == "SMTP" and oo.email_address:
            return oo.email_address
    return addr if "@" in addr else None


def _write_common_tail(w: _Writer, props: dict) -> None:
    """NOTE, CATEGORIES, CLASS, REV, UID: shared by contacts and lists."""
    body = _s(props, P.PidTagBody)
    if body:
        w.add("NOTE", body)
    cats = props.get(PidNameKeywords)
    if cats:
        w.add("CATEGORIES", ",".join(_escape(c) for c in cats if c), raw=True)
    sens = props.get(P.PidTagSensitivity)
    if sens in _SENSITIVITY_OUT:
        # CLASS is gone from vCard 4.0 (RFC 6350 A.2); keep it as an extension there
        w.add("X-CLASS" if w.v4 else "CLASS", _SENSITIVITY_OUT[sens])
    rev = props.get(P.PidTagLastModificationTime)
    if isinstance(rev, datetime):
        rev = rev.astimezone(_UTC) if rev.tzinfo else rev
        w.add("REV", rev.strftime("%Y%m%dT%H%M%SZ" if w.v4 else "%Y-%m-%dT%H:%M:%SZ"), raw=True)
    uid = _s(props, C.PidNameExgateVCardUid)
    if uid:
        w.add("UID", uid, raw=True)


def contact_to_vcard(msg: MessageContent, version: str = "3.0") -> bytes:
    """An IPM.Contact message -> vCard 3.0 (RFC 2426) or 4.0 (RFC 6350) bytes."""
    w = _Writer(version)
    props = msg.props
    w.taken_groups = {m.group(1).lower() for m in re.finditer(r"(?m)^([A-Za-z0-9-]+)\.",
                                                               _s(props, C.PidNameExgateVCardExtra))}
    # names
    dn = _s(props, P.PidTagDisplayName) or _s(props, C.PidLidFileUnder).replace("\r\n", " ") \
        or _s(props, P.PidTagCompanyName)
    if not dn:
        dn = next((a for a in (_email_addr(props, i) for i in range(3)) if a), "")
    w.add("FN", dn)
    n_parts = [_s(props, k) for k in (P.PidTagSurname, P.PidTagGivenName, P.PidTagMiddleName,
                                      P.PidTagDisplayNamePrefix, P.PidTagGeneration)]
    if any(n_parts) or not w.v4:
        w.add("N", ";".join(_escape(x) for x in n_parts), raw=True)
    if _s(props, P.PidTagNickname):
        w.add("NICKNAME", props[P.PidTagNickname])
    fu = _s(props, C.PidLidFileUnder)
    fid = _uint32(props.get(C.PidLidFileUnderId))
    if fu:
        derived = _default_file_under_id(props)
        if not (fid == derived and _file_under_for(derived, props) == fu):
            w.add("X-MS-FILE-AS", fu)
    co, dept = _s(props, P.PidTagCompanyName), _s(props, P.PidTagDepartmentName)
    if co or dept:
        w.add("ORG", ";".join(_escape(x) for x in ((co, dept) if dept else (co,))), raw=True)
    if _s(props, P.PidTagTitle):
        w.add("TITLE", props[P.PidTagTitle])
    if _s(props, P.PidTagProfession):
        w.add("ROLE", props[P.PidTagProfession])
    # photo
    photo = next((a for a in msg.attachments if a.props.get(C.PidTagAttachmentContactPhoto)), None)
    if photo is not None and isinstance(photo.props.get(P.PidTagAttachDataBinary), bytes):
        data = photo.props[P.PidTagAttachDataBinary]
        mime = _image_mime(data, photo.props.get(P.PidTagAttachMimeTag))
        b64 = base64.b64encode(data).decode("ascii")
        if w.v4:
            w.add("PHOTO", f"data:{mime};base64,{b64}", raw=True)
        else:
            w.add("PHOTO", b64, [("ENCODING", "b"), ("TYPE", mime.split("/")[1].upper())], raw=True)
    # dates
    for key, name in ((P.PidTagBirthday, "BDAY"),
                      (P.PidTagWeddingAnniversary, "ANNIVERSARY" if w.v4 else "X-ANNIVERSARY")):
        local = C.PidLidBirthdayLocal if key == P.PidTagBirthday else C.PidLidWeddingAnniversaryLocal
        d = _day_of(props.get(local)) or _day_of(props.get(key))
        if d is not None:
            text, params = _format_day(d, w.version)
            w.add(name, text, params, raw=True)
    # addresses
    postal = props.get(C.PidLidPostalAddressId)
    for kind in ("work", "home", "other"):
        slot, pid = _ADDR_SLOTS[kind]
        vals = {f: _s(props, getattr(slot, f)) for f in ("pobox", "street", "city", "state", "postal", "country")}
        block = _s(props, slot.block)
        if not any(vals.values()) and not block:
            continue
        comps = [vals["pobox"], "", vals["street"], vals["city"], vals["state"], vals["postal"], vals["country"]]
        types = [kind] if kind != "other" else (["other"] if w.v4 else ["postal"])
        params: list[tuple[str, str]] = []
        if postal == pid:
            if w.v4:
                params.append(("PREF", "1"))
            else:
                types.append("pref")
        params = w.types(*types) + params
        computed = _format_address_block(vals["street"], vals["city"], vals["state"], vals["postal"],
                                         vals["country"])
        code = _s(props, slot.code)
        group = None
        if w.v4:
            if block and block != computed:
                params.append(("LABEL", block.replace("\r\n", "\n")))
            if code:
                params.append(("CC", code))  # RFC 8605
        elif code:
            group = w.new_group()
        w.add("ADR", ";".join(_escape(c) for c in comps), params, group=group, raw=True)
        if group:
            w.add("X-ABADR", code, group=group)
        if not w.v4 and block and block != computed:
            w.add("LABEL", block, w.types(*types[:1]))
    if postal == C.POSTAL_ADDRESS_NONE and C.PidLidPostalAddressId in props:
        w.add("X-MS-OL-DEFAULT-POSTAL-ADDRESS", "0", raw=True)
    # telephones: the order matters, the second work/home number follows the first
    tel_table = [
        (P.PidTagBusinessTelephoneNumber, ("work", "voice")), (P.PidTagBusiness2TelephoneNumber, ("work", "voice")),
        (P.PidTagHomeTelephoneNumber, ("home", "voice")), (P.PidTagHome2TelephoneNumber, ("home", "voice")),
        (P.PidTagMobileTelephoneNumber, ("cell", "voice")), (P.PidTagPagerTelephoneNumber, ("pager",)),
        (P.PidTagBusinessFaxNumber, ("work", "fax")), (P.PidTagHomeFaxNumber, ("home", "fax")),
        (C.PidTagPrimaryFaxNumber, ("fax",)), (P.PidTagCarTelephoneNumber, ("car", "voice")),
        (C.PidTagIsdnNumber, ("isdn",)), (C.PidTagOtherTelephoneNumber, ("voice",)),
    ]
    for key, types in tel_table:
        if _s(props, key):
            w.add("TEL", props[key], w.types(*types))
    if _s(props, P.PidTagPrimaryTelephoneNumber):
        w.add("TEL", props[P.PidTagPrimaryTelephoneNumber], [("PREF", "1")] if w.v4 else w.types("pref"))
    for t, key in _XMS_TEL.items():
        if _s(props, key):
            w.add("X-MS-TEL", props[key], [("TYPE", t.upper())])
    if _s(props, C.PidTagTelexNumber):
        w.add("TEL", props[C.PidTagTelexNumber], w.types("x-evolution-telex"))
    # email
    first = True
    for i in range(3):
        addr = _email_addr(props, i)
        if not addr:
            continue
        if w.v4:
            w.add("EMAIL", addr, [("PREF", "1")] if first else [])
        else:
            w.add("EMAIL", addr, w.types("internet", "pref" if first else ""))
        first = False
    im = _s(props, C.PidLidInstantMessagingAddress)
    if im:
        if w.v4 and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", im):
            w.add("IMPP", im, raw=True)
        else:
            w.add("X-MS-IMADDRESS", im)
    # web pages
    for key, t in ((C.PidLidHtml, ""), (P.PidTagBusinessHomePage, "work"), (P.PidTagPersonalHomePage, "home")):
        if _s(props, key):
            w.add("URL", props[key], w.types(t), raw=True)
    # people
    g = props.get(P.PidTagGender)
    if g in (C.GENDER_MALE, C.GENDER_FEMALE):
        if w.v4:
            w.add("GENDER", "M" if g == C.GENDER_MALE else "F", raw=True)
        else:
            w.add("X-GENDER", "Male" if g == C.GENDER_MALE else "Female", raw=True)
    if _s(props, P.PidTagSpouseName):
        if w.v4:
            w.add("RELATED", props[P.PidTagSpouseName], [("TYPE", "spouse"), ("VALUE", "text")])
        else:
            w.add("X-MS-SPOUSE", props[P.PidTagSpouseName], [("TYPE", "N")])
    if _s(props, P.PidTagManagerName):
        w.add("X-MS-MANAGER", props[P.PidTagManagerName], [("TYPE", "N")])
    if _s(props, P.PidTagAssistant):
        w.add("X-MS-ASSISTANT", props[P.PidTagAssistant], [("TYPE", "N")])
    for child in props.get(C.PidTagChildrensNames) or []:
        w.add("X-MS-CHILD", child, [("TYPE", "N")])
    _write_common_tail(w, props)
    return w.bytes(_s(props, C.PidNameExgateVCardExtra))


# =============================================================================
# Personal distribution lists (MS-OXOCNTC 2.2.2) <-> KIND:group
# =============================================================================

ResolveMember = Callable[[str], "tuple[str, str] | None"]


class _ListImporter(_Importer):
    def __init__(self, lines: list[ContentLine], resolve: ResolveMember | None):
        super().__init__(lines)
        self.resolve = resolve
        self.name: str | None = None
        self.members: list[tuple[str, bytes]] = []  # (ref, one-off EntryID)
        self.categories: list[str] = []

    def handlers(self) -> dict[str, Callable[[ContentLine], bool]]:
        ci = _ContactImporter([])
        ci.props = self.props  # NOTE, REV, UID, CLASS write into the same bag

        def cats(ln: ContentLine) -> bool:
            ci.cats(ln)
            self.categories = ci.categories
            return True

        return {
            "FN": self.fn, "N": lambda ln: True, "KIND": self.kind, "X-ADDRESSBOOKSERVER-KIND": self.kind,
            "MEMBER": self.member, "X-ADDRESSBOOKSERVER-MEMBER": self.member,
            "NOTE": ci.note, "REV": ci.rev, "UID": ci.uid, "CLASS": ci.klass, "X-CLASS": ci.klass,
            "CATEGORIES": cats,
        }

    def fn(self, ln: ContentLine) -> bool:
        self.name = ln.text().strip()
        return True

    def kind(self, ln: ContentLine) -> bool:
        return ln.text().strip().lower() == "group"

    def member(self, ln: ContentLine) -> bool:
        ref = ln.text().strip()
        if not ref:
            return True
        resolved = self.resolve(ref) if self.resolve else None
        if resolved:
            name, email = resolved
        elif ref.lower().startswith("mailto:"):
            email = unquote(ref[7:].split("?", 1)[0])
            name = email
        else:
            # an unresolved card reference: a one-off with no address still shows the member
            name = ref[9:] if ref.lower().startswith("urn:uuid:") else ref
            email = ""
        self.members.append((ref, encode_one_off(name or email, email, "SMTP")))
        return True

    def finish(self) -> MessageContent:
        props = self.props
        props[P.PidTagMessageClass] = "IPM.DistList"
        name = self.name or ""
        for key in (P.PidTagDisplayName, P.PidTagSubject, P.PidTagNormalizedSubject, C.PidLidDistributionListName,
                    C.PidLidFileUnder):
            props[key] = name
        props[C.PidLidFileUnderId] = C.FILE_UNDER_CUSTOM  # MS-OXOCNTC 2.2.2.1.4
        oneoffs = [eid for _ref, eid in self.members]
        props[C.PidLidDistributionListOneOffMembers] = oneoffs
        props[C.PidLidDistributionListMembers] = [wrap_entryid(eid) for eid in oneoffs]
        props[C.PidNameExgateVCardMemberRefs] = [ref for ref, _eid in self.members]
        if self.categories:
            props[PidNameKeywords] = list(self.categories)
        if self.extra:
            props[C.PidNameExgateVCardExtra] = self.extra_text()
        return MessageContent(props=props)


def vcard_to_distlist(data: bytes, resolve_member: ResolveMember | None = None) -> MessageContent:
    """A group vCard -> an IPM.DistList message (MS-OXOCNTC 2.2.2).

    ``resolve_member(ref)`` may turn a MEMBER reference (``urn:uuid:...`` or
    ``mailto:...``) into ``(display name, SMTP address)``; the store passes one
    that looks the UID up in the same address book. Each member is kept as a
    one-off EntryID (wrapped in PidLidDistributionListMembers) and its reference
    in PidNameExgateVCardMemberRefs, so the export writes the same MEMBER back.
    """
    imp = _ListImporter(parse_vcard(data), resolve_member)
    imp.run(imp.handlers())
    return imp.finish()


def distlist_to_vcard(msg: MessageContent, version: str = "4.0") -> bytes:
    """An IPM.DistList message -> a group vCard: 4.0 KIND:group + MEMBER, or
    3.0 in Apple's form (X-ADDRESSBOOKSERVER-KIND / X-ADDRESSBOOKSERVER-MEMBER)."""
    w = _Writer(version)
    props = msg.props
    name = _s(props, P.PidTagDisplayName) or _s(props, C.PidLidDistributionListName)
    w.add("FN", name)
    if w.v4:
        w.add("KIND", "group", raw=True)
    else:
        w.add("N", _escape(name) + ";;;;", raw=True)
        w.add("X-ADDRESSBOOKSERVER-KIND", "group", raw=True)
    members = list(props.get(C.PidLidDistributionListMembers) or [])
    oneoffs = list(props.get(C.PidLidDistributionListOneOffMembers) or [])
    refs = list(props.get(C.PidNameExgateVCardMemberRefs) or [])
    for i, entry in enumerate(members):
        ref = refs[i] if len(refs) == len(members) else None
        if not ref:
            oo = None
            unwrapped = unwrap_entryid(entry) if isinstance(entry, bytes) else None
            if unwrapped and unwrapped[0] == C.WRAPPED_TYPE_ONE_OFF:
                oo = decode_one_off(unwrapped[1])
            if oo is None and i < len(oneoffs):
                oo = decode_one_off(oneoffs[i])
            if oo is None or not oo.email_address:
                continue  # a store object we cannot name here
            ref = "mailto:" + oo.email_address
        w.add("MEMBER" if w.v4 else "X-ADDRESSBOOKSERVER-MEMBER", ref, raw=True)
    _write_common_tail(w, props)
    return w.bytes(_s(props, C.PidNameExgateVCardExtra))
