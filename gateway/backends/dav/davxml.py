"""WebDAV / CalDAV / CardDAV request bodies and multistatus parsing (pure, no I/O).

RFC 4918 (WebDAV), RFC 4791 (CalDAV), RFC 6352 (CardDAV), RFC 6578
(sync-collection), RFC 5689 (extended MKCOL). Hrefs are normalised to one
canonical form (absolute path, percent-encoded the same way every time) so the
store can use them as stable keys whatever encoding a server chose.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence
from urllib.parse import quote, unquote, urljoin, urlsplit

from lxml import etree

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
CS = "http://calendarserver.org/ns/"      # getctag
ICAL = "http://apple.com/ns/ical/"        # calendar-color

NSMAP = {"D": DAV, "C": CALDAV, "CR": CARDDAV, "CS": CS, "I": ICAL}


def qn(ns: str, local: str) -> str:
    """Clark notation, as lxml uses for tags."""
    return f"{{{ns}}}{local}"


# RFC 3986 pchar minus "%" (which we always re-encode); "/" only between segments.
_SAFE = ":@!$&'()*+,;=-._~"


def canonical_path(href: str, base_url: str = "") -> str:
    """Absolute, consistently percent-encoded path of an href (RFC 4918 8.3).

    Servers may answer with full URLs, absolute paths or (rarely) relative
    references, encoded or not; all resolve against the request URL.
    """
    path = urlsplit(urljoin(base_url, href.strip())).path or "/"
    # Per segment, so an encoded "/" inside a name stays encoded.
    return "/".join(quote(unquote(seg), safe=_SAFE) for seg in path.split("/"))


def same_path(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


# ---------------------------------------------------------------- parsing

@dataclass
class DavResponseEntry:
    """One DAV:response of a multistatus (RFC 4918 14.24)."""

    href: str                                   # canonical path
    status: int | None = None                   # response-level status (e.g. 404 in sync reports)
    props: dict[str, etree._Element] = field(default_factory=dict)   # found (2xx propstat)
    missing: dict[str, int] = field(default_factory=dict)            # prop -> status code

    def text(self, tag: str) -> str | None:
        el = self.props.get(tag)
        if el is None:
            return None
        return el.text if el.text is not None else ""

    def href_list(self, tag: str) -> list[str]:
        el = self.props.get(tag)
        if el is None:
            return []
        return [h.text.strip() for h in el.iter(qn(DAV, "href")) if h.text]

    @property
    def resource_types(self) -> frozenset[str]:
        el = self.props.get(qn(DAV, "resourcetype"))
        if el is None:
            return frozenset()
        return frozenset(child.tag for child in el if isinstance(child.tag, str))

    @property
    def etag(self) -> str | None:
        return self.text(qn(DAV, "getetag"))

    @property
    def ok(self) -> bool:
        return self.status is None or 200 <= self.status < 300


@dataclass
class Multistatus:
    responses: list[DavResponseEntry]
    sync_token: str | None = None               # RFC 6578 6.2, top-level DAV:sync-token


def parse_status(line: str | None) -> int | None:
    """"HTTP/1.1 404 Not Found" -> 404."""
    if not line:
        return None
    parts = line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def parse_xml(body: bytes) -> etree._Element:
    return etree.fromstring(body, parser=_PARSER)


def parse_multistatus(body: bytes, request_url: str = "") -> Multistatus:
    root = parse_xml(body)
    if root.tag != qn(DAV, "multistatus"):
        raise ValueError(f"expected DAV:multistatus, got {root.tag}")
    responses: list[DavResponseEntry] = []
    for resp in root.findall(qn(DAV, "response")):
        # RFC 4918 14.24: one href with propstats, or one or more hrefs with a status.
        hrefs = [h.text.strip() for h in resp.findall(qn(DAV, "href")) if h.text]
        status = parse_status(resp.findtext(qn(DAV, "status")))
        props: dict[str, etree._Element] = {}
        missing: dict[str, int] = {}
        for ps in resp.findall(qn(DAV, "propstat")):
            code = parse_status(ps.findtext(qn(DAV, "status"))) or 200
            prop = ps.find(qn(DAV, "prop"))
            if prop is None:
                continue
            for child in prop:
                if not isinstance(child.tag, str):
                    continue
                if 200 <= code < 300:
                    props[child.tag] = child
                else:
                    missing[child.tag] = code
        for h in hrefs:
            responses.append(DavResponseEntry(canonical_path(h, request_url), status, props, missing))
    token_el = root.find(qn(DAV, "sync-token"))
    token = token_el.text.strip() if token_el is not None and token_el.text else None
    return Multistatus(responses, token)


def content_bytes(text: str) -> bytes:
    """calendar-data / address-data text back to wire bytes.

    XML parsing turns the CRLF that iCalendar and vCard require (RFC 5545 3.1,
    RFC 6350 3.2) into LF (XML 1.0 2.11), so put CRLF back: the same bytes a GET returns.
    """
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def error_conditions(body: bytes) -> set[str]:
    """Precondition names in a DAV:error body (RFC 4918 16), e.g. {"{DAV:}valid-sync-token"}."""
    try:
        root = parse_xml(body)
    except (etree.XMLSyntaxError, ValueError):
        return set()
    if root.tag != qn(DAV, "error"):
        return set()
    return {child.tag for child in root if isinstance(child.tag, str)}


# ---------------------------------------------------------------- request bodies

def _doc(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _el(parent: etree._Element | None, ns: str, local: str, text: str | None = None,
        **attrs: str) -> etree._Element:
    tag = qn(ns, local)
    el = etree.Element(tag, nsmap=NSMAP) if parent is None else etree.SubElement(parent, tag)
    for k, v in attrs.items():
        el.set(k, v)
    if text is not None:
        el.text = text
    return el


def propfind_body(props: Iterable[tuple[str, str]]) -> bytes:
    root = _el(None, DAV, "propfind")
    prop = _el(root, DAV, "prop")
    for ns, local in props:
        _el(prop, ns, local)
    return _doc(root)


def ical_utc(dt: datetime) -> str:
    """RFC 5545 3.3.5 UTC form; naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def calendar_query_body(component: str, start: datetime | None, end: datetime | None,
                        expand: bool = False) -> bytes:
    """RFC 4791 7.8 calendar-query; expand (9.6.5) needs both ends of the range."""
    root = _el(None, CALDAV, "calendar-query")
    prop = _el(root, DAV, "prop")
    _el(prop, DAV, "getetag")
    data = _el(prop, CALDAV, "calendar-data")
    if expand:
        if start is None or end is None:
            raise ValueError("expand needs both start and end (RFC 4791 9.6.5)")
        _el(data, CALDAV, "expand", start=ical_utc(start), end=ical_utc(end))
    filt = _el(root, CALDAV, "filter")
    vcal = _el(filt, CALDAV, "comp-filter", name="VCALENDAR")
    comp = _el(vcal, CALDAV, "comp-filter", name=component)
    if start is not None or end is not None:
        attrs = {}
        if start is not None:
            attrs["start"] = ical_utc(start)
        if end is not None:
            attrs["end"] = ical_utc(end)
        _el(comp, CALDAV, "time-range", **attrs)
    return _doc(root)


def multiget_body(kind: str, hrefs: Sequence[str]) -> bytes:
    """RFC 4791 7.9 calendar-multiget / RFC 6352 8.7 addressbook-multiget."""
    if kind == "calendar":
        root = _el(None, CALDAV, "calendar-multiget")
        data = (CALDAV, "calendar-data")
    elif kind == "addressbook":
        root = _el(None, CARDDAV, "addressbook-multiget")
        data = (CARDDAV, "address-data")
    else:
        raise ValueError(f"multiget on a {kind!r} collection")
    prop = _el(root, DAV, "prop")
    _el(prop, DAV, "getetag")
    _el(prop, *data)
    for h in hrefs:
        _el(root, DAV, "href", h)
    return _doc(root)


def sync_collection_body(token: str | None, data: tuple[str, str] | None = None) -> bytes:
    """RFC 6578 3.2; an empty sync-token asks for the initial full listing."""
    root = _el(None, DAV, "sync-collection")
    _el(root, DAV, "sync-token", token or "")
    _el(root, DAV, "sync-level", "1")
    prop = _el(root, DAV, "prop")
    _el(prop, DAV, "getetag")
    if data is not None:
        _el(prop, *data)
    return _doc(root)


def mkcalendar_body(display_name: str, components: Sequence[str]) -> bytes:
    """RFC 4791 5.3.1.2."""
    root = _el(None, CALDAV, "mkcalendar")
    prop = _el(_el(root, DAV, "set"), DAV, "prop")
    _el(prop, DAV, "displayname", display_name)
    comps = _el(prop, CALDAV, "supported-calendar-component-set")
    for c in components:
        _el(comps, CALDAV, "comp", name=c.upper())
    return _doc(root)


def mkcol_addressbook_body(display_name: str) -> bytes:
    """RFC 5689 extended MKCOL with the CardDAV resourcetype (RFC 6352 6.3.1)."""
    root = _el(None, DAV, "mkcol")
    prop = _el(_el(root, DAV, "set"), DAV, "prop")
    rt = _el(prop, DAV, "resourcetype")
    _el(rt, DAV, "collection")
    _el(rt, CARDDAV, "addressbook")
    _el(prop, DAV, "displayname", display_name)
    return _doc(root)


def free_busy_body(start: datetime, end: datetime) -> bytes:
    """RFC 4791 7.10 free-busy-query."""
    root = _el(None, CALDAV, "free-busy-query")
    _el(root, CALDAV, "time-range", start=ical_utc(start), end=ical_utc(end))
    return _doc(root)


# Properties asked for when listing collections in a home set.
COLLECTION_PROPS: tuple[tuple[str, str], ...] = (
    (DAV, "resourcetype"),
    (DAV, "displayname"),
    (CALDAV, "supported-calendar-component-set"),
    (CS, "getctag"),
    (DAV, "sync-token"),
    (ICAL, "calendar-color"),
)


def collection_kind(entry: DavResponseEntry) -> str | None:
    types = entry.resource_types
    if qn(CALDAV, "calendar") in types:
        return "calendar"
    if qn(CARDDAV, "addressbook") in types:
        return "addressbook"
    return None


def components_of(entry: DavResponseEntry) -> frozenset[str]:
    el = entry.props.get(qn(CALDAV, "supported-calendar-component-set"))
    if el is None:
        return frozenset()
    return frozenset(c.get("name", "").upper() for c in el.findall(qn(CALDAV, "comp")) if c.get("name"))
