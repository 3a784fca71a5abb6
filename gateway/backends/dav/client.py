"""One user's CalDAV + CardDAV client on aiohttp (implements base.DavClient).

RFC 4791 (CalDAV), RFC 6352 (CardDAV), RFC 6764 (well-known discovery),
RFC 5397 (current-user-principal), RFC 6578 (sync-collection), RFC 5689
(extended MKCOL). Every href handed out is a canonical absolute path (see
davxml.canonical_path); hrefs passed in may be paths or full URLs, encoded or not.
"""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import aiohttp

from ..base import BackendError, DavCollection, DavResource, DavSyncResult
from . import davxml as x
from .davxml import CALDAV, CARDDAV, CS, DAV, ICAL, qn

XML_CT = "application/xml; charset=utf-8"   # Cyrus answers 415 without it


def _kind_for_status(status: int) -> str:
    if status == 401:
        return "auth"
    if status == 403:
        return "denied"
    if status in (404, 410):
        return "notfound"
    if status in (409, 412):
        return "conflict"
    if status in (502, 503, 504):
        return "unavailable"
    return "failed"


def _quote_etag(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith('"') or etag.startswith("W/"):
        return etag
    return f'"{etag}"'


class DavHttpError(BackendError):
    """A non-success HTTP answer; keeps the status and body for callers that care."""

    def __init__(self, method: str, url: str, status: int, body: bytes):
        text = body[:500].decode("utf-8", "replace").strip()
        super().__init__(f"{method} {url}: HTTP {status} {text}", _kind_for_status(status))
        self.status = status
        self.body = body


class DavClient:
    """CalDAV/CardDAV access as one user, with Basic auth (or extra headers only).

    ``headers`` are added to every request, e.g. a proxy-user header when the
    gateway authenticates to the DAV server as a trusted front end.
    """

    def __init__(self, base_url: str, username: str | None, password: str | None, *,
                 session: aiohttp.ClientSession | None = None,
                 headers: Mapping[str, str] | None = None,
                 timeout: float = 30.0) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        self.base_url = base_url
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._headers = dict(headers or {})
        if username is not None:
            # RFC 7617 Basic, UTF-8 user-pass; built by hand (aiohttp 3.14 deprecates BasicAuth).
            cred = base64.b64encode(f"{username}:{password or ''}".encode("utf-8")).decode("ascii")
            self._headers.setdefault("Authorization", f"Basic {cred}")
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._kinds: dict[str, str] = {}          # collection path -> "calendar" | "addressbook"
        self.principal: str | None = None
        self.calendar_home: str | None = None     # known after discover()
        self.addressbook_home: str | None = None

    # ------------------------------------------------------------ plumbing

    def url(self, href: str) -> str:
        """Full URL for a path, a relative reference or a URL on the same server."""
        path = x.canonical_path(href, self.base_url)
        return self._origin + path

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._own_session = True
        return self._session

    async def _request(self, method: str, href: str, *, body: bytes | None = None,
                       headers: Mapping[str, str] | None = None,
                       ok: Sequence[int] = (200, 201, 204, 207),
                       follow: bool = True) -> tuple[int, Mapping[str, str], bytes, str]:
        """Send one request; returns (status, headers, body, final url). Raises on non-ok."""
        url = href if href.startswith(("http://", "https://")) else self.url(href)
        hdrs = dict(self._headers)
        if body is not None:
            hdrs["Content-Type"] = XML_CT
        hdrs.update(headers or {})
        # Redirects are followed by hand so the method and body survive (RFC 6764
        # well-known answers 301/302/307 to a PROPFIND) and auth stays on one origin.
        for _ in range(6):
            try:
                async with self._sess().request(method, url, data=body, headers=hdrs,
                                                allow_redirects=False, timeout=self._timeout) as resp:
                    data = await resp.read()
                    status = resp.status
                    rhdrs = resp.headers
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                raise BackendError(f"{method} {url}: {exc!r}", "unavailable") from exc
            if follow and status in (301, 302, 303, 307, 308) and "Location" in rhdrs:
                new = urljoin(url, rhdrs["Location"])
                if not new.startswith(self._origin + "/"):
                    raise BackendError(f"{method} {url}: redirect off the server to {new}", "failed")
                url = new
                continue
            if status not in ok:
                raise DavHttpError(method, url, status, data)
            return status, rhdrs, data, url
        raise BackendError(f"{method} {href}: too many redirects", "failed")

    async def _propfind(self, href: str, props: Sequence[tuple[str, str]], depth: str) -> x.Multistatus:
        _, _, data, url = await self._request("PROPFIND", href, body=x.propfind_body(props),
                                              headers={"Depth": depth}, ok=(207,))
        return x.parse_multistatus(data, url)

    async def _report(self, href: str, body: bytes, depth: str = "1") -> x.Multistatus:
        _, _, data, url = await self._request("REPORT", href, body=body, headers={"Depth": depth},
                                              ok=(207,))
        return x.parse_multistatus(data, url)

    @staticmethod
    def _self_entry(ms: x.Multistatus, path: str) -> x.DavResponseEntry | None:
        for r in ms.responses:
            if x.same_path(r.href, path):
                return r
        return None

    # ------------------------------------------------------------ discovery

    async def _principal(self) -> str:
        """RFC 6764 6: try the well-known URIs, then the base URL itself."""
        if self.principal:
            return self.principal
        prop = [(DAV, "current-user-principal")]
        candidates = [self.url("/.well-known/caldav"), self.url("/.well-known/carddav"), self.base_url]
        last: BackendError | None = None
        for start in candidates:
            try:
                ms = await self._propfind(start, prop, "0")
            except BackendError as exc:
                if exc.kind == "auth":
                    raise
                last = exc
                continue
            for r in ms.responses:
                hrefs = r.href_list(qn(DAV, "current-user-principal"))
                if hrefs:
                    self.principal = x.canonical_path(hrefs[0], start)
                    return self.principal
        raise BackendError(f"no current-user-principal found under {self.base_url}"
                           + (f" ({last})" if last else ""), "notfound")

    async def discover(self) -> tuple[list[DavCollection], list[DavCollection]]:
        principal = await self._principal()
        ms = await self._propfind(principal, [(CALDAV, "calendar-home-set"),
                                              (CARDDAV, "addressbook-home-set")], "0")
        entry = self._self_entry(ms, principal) or (ms.responses[0] if ms.responses else None)
        homes: list[str] = []
        if entry is not None:
            for tag, attr in ((qn(CALDAV, "calendar-home-set"), "calendar_home"),
                              (qn(CARDDAV, "addressbook-home-set"), "addressbook_home")):
                for h in entry.href_list(tag):
                    p = x.canonical_path(h, self.url(principal))
                    if getattr(self, attr) is None:
                        setattr(self, attr, p)  # where new collections are made (MKCALENDAR/MKCOL)
                    if p not in homes:
                        homes.append(p)
        calendars: list[DavCollection] = []
        books: list[DavCollection] = []
        seen: set[str] = set()
        for home in homes:
            listing = await self._propfind(home, x.COLLECTION_PROPS, "1")
            for r in listing.responses:
                kind = x.collection_kind(r)
                if kind is None or r.href in seen or not r.ok:
                    continue
                seen.add(r.href)
                col = self._collection(r, kind)
                self._kinds[col.href] = kind
                (calendars if kind == "calendar" else books).append(col)
        return calendars, books

    @staticmethod
    def _collection(r: x.DavResponseEntry, kind: str) -> DavCollection:
        href = r.href if r.href.endswith("/") else r.href + "/"
        comps = x.components_of(r) if kind == "calendar" else frozenset()
        color = r.text(qn(ICAL, "calendar-color"))
        return DavCollection(
            href=href,
            display_name=r.text(qn(DAV, "displayname")) or None,
            kind=kind,
            # RFC 4791 5.2.3: absent means every component type is allowed.
            components=comps,
            ctag=r.text(qn(CS, "getctag")) or None,
            sync_token=r.text(qn(DAV, "sync-token")) or None,
            color=color.strip() if color else None,
        )

    async def collection_kind(self, collection: str) -> str:
        path = self._collection_path(collection)
        if path in self._kinds:
            return self._kinds[path]
        ms = await self._propfind(path, [(DAV, "resourcetype")], "0")
        entry = self._self_entry(ms, path) or (ms.responses[0] if ms.responses else None)
        kind = x.collection_kind(entry) if entry is not None else None
        if kind is None:
            raise BackendError(f"{path} is neither a calendar nor an address book", "failed")
        self._kinds[path] = kind
        return kind

    def _collection_path(self, collection: str) -> str:
        path = x.canonical_path(collection, self.base_url)
        return path if path.endswith("/") else path + "/"

    # ------------------------------------------------------------ reading

    async def list_resources(self, collection: str) -> list[DavResource]:
        path = self._collection_path(collection)
        ms = await self._propfind(path, [(DAV, "getetag"), (DAV, "resourcetype")], "1")
        out = []
        for r in ms.responses:
            if x.same_path(r.href, path) or not r.ok or qn(DAV, "collection") in r.resource_types:
                continue
            out.append(DavResource(r.href, r.etag))
        return out

    @staticmethod
    def _resources(ms: x.Multistatus, data_tag: str) -> list[DavResource]:
        out = []
        for r in ms.responses:
            if not r.ok:
                continue
            text = r.text(data_tag)
            out.append(DavResource(r.href, r.etag, x.content_bytes(text) if text is not None else None))
        return out

    async def calendar_query(self, collection: str, start: datetime | None, end: datetime | None,
                             component: str = "VEVENT", expand: bool = False) -> list[DavResource]:
        body = x.calendar_query_body(component.upper(), start, end, expand)
        ms = await self._report(self._collection_path(collection), body)
        return self._resources(ms, qn(CALDAV, "calendar-data"))

    async def multiget(self, collection: str, hrefs: Sequence[str]) -> list[DavResource]:
        if not hrefs:
            return []
        path = self._collection_path(collection)
        kind = await self.collection_kind(path)
        canon = [x.canonical_path(h, self.url(path)) for h in hrefs]
        ms = await self._report(path, x.multiget_body(kind, canon))
        tag = qn(CALDAV, "calendar-data") if kind == "calendar" else qn(CARDDAV, "address-data")
        return self._resources(ms, tag)

    async def get(self, href: str) -> DavResource:
        _, hdrs, data, url = await self._request("GET", href, ok=(200,))
        return DavResource(x.canonical_path(url), hdrs.get("ETag"), data)

    # ------------------------------------------------------------ writing

    async def put(self, href: str, data: bytes, content_type: str, *, etag: str | None = None,
                  create_only: bool = False) -> str | None:
        hdrs = {"Content-Type": content_type}
        if etag is not None:
            hdrs["If-Match"] = _quote_etag(etag)
        if create_only:
            hdrs["If-None-Match"] = "*"
        # 412 Precondition Failed becomes kind "conflict" (RFC 7232 4.2).
        _, rhdrs, _, _ = await self._request("PUT", href, body=data, headers=hdrs, ok=(200, 201, 204))
        return rhdrs.get("ETag")

    async def delete(self, href: str, *, etag: str | None = None) -> None:
        hdrs = {"If-Match": _quote_etag(etag)} if etag is not None else {}
        await self._request("DELETE", href, headers=hdrs, ok=(200, 204))

    async def make_calendar(self, href: str, display_name: str,
                            components: Sequence[str] = ("VEVENT",)) -> None:
        path = self._collection_path(href)
        await self._mk("MKCALENDAR", path, x.mkcalendar_body(display_name, components))
        self._kinds[path] = "calendar"

    async def make_addressbook(self, href: str, display_name: str) -> None:
        path = self._collection_path(href)
        await self._mk("MKCOL", path, x.mkcol_addressbook_body(display_name))
        self._kinds[path] = "addressbook"

    async def _mk(self, method: str, path: str, body: bytes) -> None:
        try:
            await self._request(method, path, body=body, ok=(201,))
        except DavHttpError as exc:
            # RFC 4918 9.3.1 / RFC 4791 5.3.1: 405 when something already lives there.
            if exc.status == 405:
                raise BackendError(str(exc), "conflict") from exc
            raise

    # ------------------------------------------------------------ sync and free/busy

    async def sync_collection(self, collection: str, token: str | None) -> DavSyncResult:
        path = self._collection_path(collection)
        changed: dict[str, DavResource] = {}
        deleted: dict[str, None] = {}
        current = token
        # RFC 6578 3.6: a 507 on the request-URI means "truncated, ask again with
        # the new token"; bounded so a misbehaving server cannot loop us forever.
        for _ in range(100):
            try:
                _, _, data, url = await self._request(
                    "REPORT", path, body=x.sync_collection_body(current), headers={"Depth": "0"},
                    ok=(207,))
            except DavHttpError as exc:
                # RFC 6578 3.2: an unknown token is 403 with DAV:valid-sync-token;
                # some servers answer 409 or 400 instead.
                if current and (qn(DAV, "valid-sync-token") in x.error_conditions(exc.body)
                                or exc.status in (400, 403, 409, 412)):
                    raise BackendError(f"sync token no longer valid for {path}: {exc}", "conflict") from exc
                raise
            ms = x.parse_multistatus(data, url)
            truncated = False
            for r in ms.responses:
                if x.same_path(r.href, path):
                    truncated = r.status == 507
                    continue
                if r.status == 404:
                    changed.pop(r.href, None)
                    deleted[r.href] = None
                elif r.ok and qn(DAV, "collection") not in r.resource_types:
                    deleted.pop(r.href, None)
                    changed[r.href] = DavResource(r.href, r.etag)
            if ms.sync_token is None:
                raise BackendError(f"sync-collection on {path}: no sync-token in the answer", "failed")
            current = ms.sync_token
            if not truncated:
                break
        return DavSyncResult(current or "", tuple(changed.values()), tuple(deleted))

    async def free_busy(self, collection: str, start: datetime, end: datetime) -> bytes:
        _, _, data, _ = await self._request("REPORT", self._collection_path(collection),
                                            body=x.free_busy_body(start, end),
                                            headers={"Depth": "1"}, ok=(200,))
        return data

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> "DavClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
