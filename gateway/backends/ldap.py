"""The directory (GAL) over LDAP with ldap3 (implements base.DirectoryClient).

ldap3's calls block, so each runs in a worker thread on a SAFE_SYNC connection
(ldap3's thread-safe strategy). Searches use one service connection (bound as
``bind_dn`` or anonymous); authentication binds a fresh connection as the
user's DN (RFC 4513 5.1.3), never with an empty password (5.1.2: that would be
an unauthenticated bind that "succeeds").

The objectClass -> kind rules and the entry mapping live here and are shared
with the file-backed directory (filedir.py).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .base import BackendError, DirectoryEntry

# RFC 4517/4519 objectClass names; LDAP servers return the stored classes only,
# not superclasses, so every subclass we expect is listed.
USER_CLASSES = frozenset({"person", "organizationalperson", "inetorgperson", "user", "posixaccount"})
GROUP_CLASSES = frozenset({"groupofnames", "groupofuniquenames"})
DEFAULT_KIND_MAP: Mapping[str, str] = {
    **{c: "user" for c in USER_CLASSES},
    **{c: "group" for c in GROUP_CLASSES},
}

DEFAULT_USER_FILTER = "(objectClass=person)"
DEFAULT_GROUP_FILTER = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"

HIDDEN_ATTRIBUTES = frozenset({"userpassword"})   # never leaves the directory layer

# OID of the simple paged results control (RFC 2696).
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"


@dataclass(frozen=True)
class AttributeMap:
    """Which LDAP attributes carry the fields of a DirectoryEntry."""

    uid: str = "uid"
    mail: str = "mail"
    display_name: tuple[str, ...] = ("displayName", "cn")
    members: tuple[str, ...] = ("member", "uniqueMember")
    # Prefix-searched for ResolveNames (MS-OXWSRSLNM / NSPI ResolveNames).
    search: tuple[str, ...] = ("cn", "displayName", "givenName", "sn", "mail", "uid")
    kinds: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KIND_MAP))


def first(attrs: Mapping[str, list[str]], name: str) -> str | None:
    """First value of an attribute, name matched case-insensitively (RFC 4512 2.5)."""
    lname = name.lower()
    for k, v in attrs.items():
        if k.lower() == lname and v:
            return v[0]
    return None


def values(attrs: Mapping[str, list[str]], name: str) -> list[str]:
    lname = name.lower()
    return [x for k, v in attrs.items() if k.lower() == lname for x in v]


def kind_of(attrs: Mapping[str, list[str]], amap: AttributeMap) -> str | None:
    kinds = {amap.kinds.get(oc.lower()) for oc in values(attrs, "objectClass")} - {None}
    for k in ("group", "room", "equipment", "user"):   # most specific first
        if k in kinds:
            return k
    return None


def to_entry(dn: str, attrs: Mapping[str, list[str]], amap: AttributeMap) -> DirectoryEntry | None:
    """An LDAP entry as a DirectoryEntry; None for entries that are not people or groups."""
    kind = kind_of(attrs, amap)
    if kind is None:
        return None
    uid = first(attrs, amap.uid)
    name = next((v for a in amap.display_name if (v := first(attrs, a))), None) or uid or dn
    members: list[str] = []
    if kind == "group":
        for a in amap.members:
            members.extend(values(attrs, a))
    kept = {k: list(v) for k, v in attrs.items() if k.lower() not in HIDDEN_ATTRIBUTES}
    return DirectoryEntry(dn=dn, kind=kind, uid=uid, display_name=name,
                          email=first(attrs, amap.mail), attributes=kept, members=tuple(members))


def decode_values(raw: Mapping[str, Iterable[bytes]]) -> dict[str, list[str]]:
    """Raw LDAP values to text; binary values (jpegPhoto ...) go base64 under "<name>;binary"."""
    out: dict[str, list[str]] = {}
    for name, vals in raw.items():
        for v in vals:
            try:
                out.setdefault(name, []).append(v.decode("utf-8"))
            except UnicodeDecodeError:
                out.setdefault(f"{name};binary", []).append(base64.b64encode(v).decode("ascii"))
    return out


def _stamp(attrs: Mapping[str, list[str]]) -> str | None:
    return first(attrs, "entryCSN") or first(attrs, "modifyTimestamp")


def _stamp_digest(found: Iterable[tuple[str, Mapping[str, list[str]]]]) -> str:
    """A digest of entries' DNs and stamps (entryCSN, else modifyTimestamp), in DN order."""
    digest = hashlib.sha256()
    for dn, attrs in sorted(found, key=lambda f: f[0]):
        digest.update(f"{dn}\0{_stamp(attrs)}\n".encode())
    return digest.hexdigest()


def _dn_key(dn: str) -> str:
    """A DN for comparing with another (RDNs trimmed, no case); not a full distinguishedNameMatch."""
    return ",".join(p.strip() for p in dn.lower().split(","))


@dataclass(frozen=True)
class _StampListing:
    """The last full stamp listing of one filter (LdapDirectory._stamp_marker)."""
    at: float                  # monotonic time it was asked for
    marker: str                # digest of every entry's DN and stamp
    since: str | None          # the newest modifyTimestamp seen (None: some entry had none)
    window: str                # digest of the entries stamped at or after ``since``


@dataclass(frozen=True)
class LdapUrl:
    host: str
    port: int
    use_ssl: bool


def parse_ldap_url(url: str) -> LdapUrl:
    """``ldap://host[:port][/]`` or ``ldaps://...`` (RFC 4516: a DN, attributes or a filter after the
    slash are not settings here). ldap3 itself refuses a trailing slash ("port must be an integer");
    a ValueError says what is wrong."""
    from urllib.parse import urlsplit
    try:
        u = urlsplit(url.strip())
        port = u.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not an LDAP URL ({exc})") from None
    if u.scheme not in ("ldap", "ldaps"):
        raise ValueError(f"{url!r}: the scheme must be ldap:// or ldaps://")
    if not u.hostname:
        raise ValueError(f"{url!r} names no host")
    if u.path not in ("", "/") or u.query:
        raise ValueError(f"{url!r}: put the base DN in base_dn, not in the URL")
    ssl = u.scheme == "ldaps"
    return LdapUrl(u.hostname, port or (636 if ssl else 389), ssl)


def looks_like_dn(text: str) -> bool:
    return "=" in text and ("," in text or text.count("=") == 1) and "@" not in text.split("=", 1)[0]


class LdapDirectory:
    """DirectoryClient over an LDAP server (OpenLDAP, 389-DS, AD with a suitable map)."""

    IDLE_CONNECTIONS = 4           # bound service connections kept between searches (one per busy thread)

    def __init__(self, url: str, base_dn: str, *, bind_dn: str | None = None,
                 bind_password: str | None = None, user_filter: str = DEFAULT_USER_FILTER,
                 group_filter: str = DEFAULT_GROUP_FILTER, attribute_map: AttributeMap | None = None,
                 page_size: int = 500, timeout: float = 10.0, full_check_interval: float | None = None) -> None:
        import ldap3  # local: keeps the module importable for its pure helpers

        self._ldap3 = ldap3
        self.url = url
        self.base_dn = base_dn
        self.bind_dn = bind_dn
        self.bind_password = bind_password
        self.user_filter = user_filter
        self.group_filter = group_filter
        self.amap = attribute_map or AttributeMap()
        self.page_size = page_size
        self.timeout = timeout
        where = parse_ldap_url(url)
        self._server = ldap3.Server(where.host, port=where.port, use_ssl=where.use_ssl, get_info=ldap3.NONE,
                                    connect_timeout=timeout)
        self._idle: list = []       # bound service connections not in use (_service / _give_back)
        self._lock = threading.Lock()
        self.pages_fetched = 0      # search result pages received; for tests and metrics
        # where the contextCSN is (a DN), False: nowhere, None: not asked yet (change_marker)
        self._csn_base: str | bool | None = None
        self._stamps: dict[str, _StampListing] = {}   # the last full stamp listing per filter
        self._listings: dict[str, dict[str, str]] = {}  # the last few listings by marker: DN -> stamp
        self._latest: dict[str, str] = {}             # filter -> the marker of its latest listing
        self._last_marker: str | None = None          # what change_marker last gave
        self.full_check_interval = self.FULL_CHECK_INTERVAL if full_check_interval is None else full_check_interval
        self.marker_searches = 0    # searches change_marker sent, and how many were full listings (tests, bench)
        self.full_listings = 0

    # ------------------------------------------------------------ plumbing

    def _connection(self, user: str | None = None, password: str | None = None, *, shared: bool = False):
        """A new connection. The service connections are SYNC, each used by one thread at a time (the pool
        below): ldap3's SAFE_SYNC, which lets threads share one, deep-copies every answer, and that copy was
        40% of reading a 10,000-entry GAL (bench/nspi.py cold)."""
        ldap3 = self._ldap3
        strategy = ldap3.SAFE_SYNC if shared else ldap3.SYNC
        return ldap3.Connection(self._server, user=user, password=password, client_strategy=strategy,
                                receive_timeout=max(1, int(self.timeout)), raise_exceptions=False, read_only=True)

    def _service(self):
        """A bound service connection for this thread alone; give it back with ``_give_back``."""
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        conn = self._connection(self.bind_dn, self.bind_password)
        if not conn.bind():
            raise BackendError(f"LDAP service bind as {self.bind_dn or 'anonymous'} refused", "auth")
        return conn

    def _give_back(self, conn) -> None:
        with self._lock:
            if len(self._idle) < self.IDLE_CONNECTIONS and not conn.closed:
                self._idle.append(conn)
                return
        self._close(conn)

    @staticmethod
    def _close(conn) -> None:
        try:
            conn.unbind()
        except Exception:  # already broken; nothing more to do
            pass

    async def ping(self) -> None:
        """The service bind works (a reachable server that accepts the configured bind); BackendError if not."""
        def bind() -> None:
            try:
                self._give_back(self._service())
            except self._ldap3.core.exceptions.LDAPException as exc:
                self._drop_service()
                raise BackendError(f"LDAP {self.url}: {exc}", "unavailable") from exc
        await asyncio.to_thread(bind)

    def _drop_service(self) -> None:
        """Close the idle service connections (the server went away, or the client closes)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self._close(conn)

    def _search_sync(self, base: str, flt: str, *, scope: str = "SUBTREE", size_limit: int = 0,
                     paged: bool = False, attributes: Sequence[str] | None = None
                     ) -> list[tuple[str, dict[str, list[str]]]]:
        """Search with one reconnect on a dropped connection; follows paged-results cookies. Every user
        attribute and memberOf, or just ``attributes``."""
        ldap3 = self._ldap3
        scope_v = {"BASE": ldap3.BASE, "LEVEL": ldap3.LEVEL, "SUBTREE": ldap3.SUBTREE}[scope]
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._service()
                out: list[tuple[str, dict[str, list[str]]]] = []
                cookie: bytes | None = None
                while True:
                    kw = {}
                    if paged:
                        kw = {"paged_size": self.page_size, "paged_cookie": cookie}
                    conn.search(base, flt, search_scope=scope_v,
                                # memberOf is operational (slapd memberof overlay, AD): ask for it by name
                                attributes=list(attributes) if attributes else [ldap3.ALL_ATTRIBUTES, "memberOf"],
                                size_limit=size_limit, **kw)
                    result, response = conn.result or {}, conn.response
                    self.pages_fetched += 1
                    code = result.get("result")
                    # 0 success, 4 sizeLimitExceeded (partial answer is what we asked for),
                    # 32 noSuchObject (a member DN that no longer exists).
                    if code not in (0, 4, 32):
                        raise BackendError(f"LDAP search {flt} under {base}: {result.get('description')} "
                                           f"{result.get('message', '')}".strip(), "failed")
                    for item in response or ():
                        if item.get("type") == "searchResEntry":
                            out.append((item["dn"], decode_values(item.get("raw_attributes", {}))))
                    cookie = None
                    if paged:
                        ctrl = (result.get("controls") or {}).get(PAGED_RESULTS_OID)
                        cookie = (ctrl or {}).get("value", {}).get("cookie") or None
                    if not cookie:
                        self._give_back(conn)
                        return out
            except BackendError:
                if conn is not None:
                    self._give_back(conn)
                raise
            except ldap3.core.exceptions.LDAPException as exc:
                if conn is not None:
                    self._close(conn)
                self._drop_service()
                if attempt == 2:
                    raise BackendError(f"LDAP {self.url}: {exc}", "unavailable") from exc
        raise AssertionError("unreachable")

    async def _search(self, base: str, flt: str, **kw) -> list[tuple[str, dict[str, list[str]]]]:
        return await asyncio.to_thread(self._search_sync, base, flt, **kw)

    def _entries(self, found: Iterable[tuple[str, dict[str, list[str]]]]) -> list[DirectoryEntry]:
        out = [e for dn, attrs in found if (e := to_entry(dn, attrs, self.amap)) is not None]
        return out

    @staticmethod
    def escape(text: str) -> str:
        """RFC 4515 3: escape * ( ) \\ NUL in assertion values."""
        from ldap3.utils.conv import escape_filter_chars
        return escape_filter_chars(text)

    def _kinds_filter(self, kinds: Sequence[str]) -> str:
        parts = []
        if "user" in kinds:
            parts.append(self.user_filter)
        if "group" in kinds:
            parts.append(self.group_filter)
        if not parts:
            return ""
        return parts[0] if len(parts) == 1 else "(|" + "".join(parts) + ")"

    # ------------------------------------------------------------ DirectoryClient

    async def get_user(self, login_or_email: str) -> DirectoryEntry | None:
        text = login_or_email.strip()
        if not text:
            return None
        if looks_like_dn(text):
            found = await self._search(text, self.user_filter, scope="BASE")
        else:
            v = self.escape(text)
            flt = f"(&{self.user_filter}(|({self.amap.uid}={v})({self.amap.mail}={v})))"
            found = await self._search(self.base_dn, flt, size_limit=2)
        entries = self._entries(found)
        # Two entries for one login would make authentication ambiguous: refuse both.
        return entries[0] if len(entries) == 1 else None

    async def authenticate(self, login: str, password: str) -> DirectoryEntry | None:
        if not password:
            return None   # RFC 4513 5.1.2: an empty password is an unauthenticated bind
        entry = await self.get_user(login)
        if entry is None:
            return None
        ok = await asyncio.to_thread(self._bind_as, entry.dn, password)
        return entry if ok else None

    def _bind_as(self, dn: str, password: str) -> bool:
        ldap3 = self._ldap3
        conn = self._connection(dn, password, shared=True)
        try:
            ok, result, _, _ = conn.bind()
        except ldap3.core.exceptions.LDAPException as exc:
            raise BackendError(f"LDAP {self.url}: {exc}", "unavailable") from exc
        finally:
            try:
                conn.unbind()
            except Exception:  # a refused bind may already have closed it
                pass
        if ok:
            return True
        if result and result.get("result") == 49:      # invalidCredentials
            return False
        raise BackendError(f"LDAP bind as {dn}: {result}", "failed")

    async def search(self, text: str, limit: int = 100) -> list[DirectoryEntry]:
        text = text.strip()
        if not text:
            return []
        v = self.escape(text)
        ors = "".join(f"({a}={v}*)" for a in self.amap.search)
        flt = f"(&{self._kinds_filter(('user', 'group'))}(|{ors}))"
        found = await self._search(self.base_dn, flt, size_limit=limit)
        return sorted(self._entries(found), key=lambda e: e.display_name.lower())[:limit]

    async def list_all(self, kinds: Sequence[str] = ("user", "group")) -> list[DirectoryEntry]:
        flt = self._kinds_filter(kinds)
        if not flt:
            return []
        found = await self._search(self.base_dn, flt, paged=True)
        return sorted((e for e in self._entries(found) if e.kind in kinds),
                      key=lambda e: e.display_name.lower())

    async def changes_since(self, kinds: Sequence[str], marker: object
                            ) -> tuple[list[DirectoryEntry], set[str]] | None:
        """What changed among the entries of those kinds since ``marker`` (a contextCSN marker of
        ``change_marker``): the entries written since (added, modified, renamed; every attribute) and the DNs
        (lower-cased) of every such entry now, so the caller drops the deleted and the renamed-away. Two
        searches: the entries with entryCSN >= the marker's oldest CSN, and every DN without attributes;
        a fraction of reading every entry. None when the marker cannot say (stamps): read them all."""
        flt = self._kinds_filter(kinds)
        if not flt or not isinstance(marker, str):
            return None
        if marker.startswith("entries:"):
            return await self._changes_between_listings(flt, kinds, marker)
        if not marker.startswith("contextCSN:"):
            return None
        since = min(marker[len("contextCSN:"):].split(","))
        changed = await self._search(self.base_dn, f"(&{flt}(entryCSN>={self.escape(since)}))", paged=True)
        alive = await self._search(self.base_dn, flt, paged=True, attributes=["1.1"])
        return [e for e in self._entries(changed) if e.kind in kinds], {dn.lower() for dn, _ in alive}

    async def _changes_between_listings(self, flt: str, kinds: Sequence[str], marker: str
                                        ) -> tuple[list[DirectoryEntry], set[str]] | None:
        """Without contextCSN: the DNs whose stamp differs between the full stamp listing ``marker`` named and
        the latest one (which the check that found the change has just made), each read with a base-scope
        search; None when either listing is gone or more than MAX_SINGLE_READS entries changed."""
        latest = self._latest.get(flt, "")
        if self._last_marker != latest:       # the last check did not end on a listing (contextCSN came back)
            return None
        old, new = self._listings.get(marker), self._listings.get(latest)
        if old is None or new is None:
            return None
        changed = [dn for dn, stamp in new.items() if old.get(dn) != stamp]
        if len(changed) > self.MAX_SINGLE_READS:
            return None
        found = []
        for dn in changed:
            found += await self._search(dn, flt, scope="BASE")
        return [e for e in self._entries(found) if e.kind in kinds], set(new)

    # ------------------------------------------------------------ change marker
    #
    # The store keeps its GAL snapshot while ``change_marker`` gives the same value, and asks on every NSPI call,
    # so the marker must be cheap and must still move on every add, modify, delete and rename.
    #
    # 1. contextCSN (OpenLDAP with the syncprov overlay, slapo-syncprov(5)): the newest entryCSN of the whole
    #    database, kept on its suffix entry and moved by every write (add, modify, delete, modrdn). One
    #    base-scope search of one attribute. Where it lives (base_dn itself, or the naming context base_dn is in,
    #    from the rootDSE) is found once; a server without it is asked again at each full listing below.
    # 2. Without contextCSN, stamps. A full listing (every GAL entry's DN and entryCSN or modifyTimestamp, as a
    #    digest) notes the newest modifyTimestamp T. Until ``full_check_interval`` has passed, a check is one
    #    search for the GAL entries with modifyTimestamp >= T, compared with what the listing saw at or after T:
    #    - an add brings an entry stamped now (>= T): a new DN in that window;
    #    - a modify and a modrdn (slapd stamps both: modifyTimestamp, entryCSN) restamp the entry: it enters the
    #      window, or, already in it, changes its entryCSN;
    #    - a delete of an entry stamped >= T takes a DN out of the window.
    #    Any difference runs the full listing at once. What the window misses, until the next full listing
    #    (at most ``full_check_interval`` seconds later): the delete of an entry stamped before T, a change
    #    stamped before T (a server clock set back, a replica applying an older change late), and, on a
    #    server without entryCSN, a second change to an entry within the second of T (modifyTimestamp has
    #    seconds only). A directory whose entries carry no modifyTimestamp gets the full listing every time.
    FULL_CHECK_INTERVAL = 10.0
    MAX_SINGLE_READS = 50          # changed entries read one by one after a stamp listing; more: read them all
    KEPT_LISTINGS = 3              # stamp listings kept (DN -> stamp) for changes_since

    async def change_marker(self, kinds: Sequence[str] = ("user", "group")) -> str | None:
        """A value that changes whenever an entry of those kinds is added, changed, renamed or removed (the
        comment above: contextCSN when the server keeps one, else stamps). None when the server shows no
        stamps (nothing could tell a change)."""
        flt = self._kinds_filter(kinds)
        if not flt:
            return None
        if self._csn_base is None:
            self._csn_base = await self._find_context_csn()
        if self._csn_base:
            csn = await self._context_csn_of(self._csn_base)
            if csn:
                self._last_marker = "contextCSN:" + ",".join(csn)
                return self._last_marker
            self._csn_base = False            # the overlay went away; the stamps below will ask again
        self._last_marker = await self._stamp_marker(flt)
        return self._last_marker

    async def _context_csn_of(self, dn: str) -> list[str]:
        self.marker_searches += 1
        found = await self._search(dn, "(objectClass=*)", scope="BASE", attributes=["contextCSN"])
        return sorted(v for _, attrs in found for v in values(attrs, "contextCSN"))

    async def _find_context_csn(self) -> str | bool:
        """The DN whose contextCSN covers base_dn: base_dn itself or the naming context it lies in; False if
        none has one."""
        if await self._context_csn_of(self.base_dn):
            return self.base_dn
        try:
            root = await self._search("", "(objectClass=*)", scope="BASE", attributes=["namingContexts"])
        except BackendError:
            return False                      # a rootDSE we may not read: no contextCSN then
        base = _dn_key(self.base_dn)
        for nc in (v for _, attrs in root for v in values(attrs, "namingContexts")):
            key = _dn_key(nc)
            if key and key != base and base.endswith("," + key) and await self._context_csn_of(nc):
                return nc
        return False

    async def _stamp_marker(self, flt: str) -> str | None:
        now = time.monotonic()
        last = self._stamps.get(flt)
        if last is not None and last.since is not None and now - last.at < self.full_check_interval:
            self.marker_searches += 1
            recent = await self._search(self.base_dn, f"(&{flt}(modifyTimestamp>={self.escape(last.since)}))",
                                        paged=True, attributes=["entryCSN", "modifyTimestamp"])
            if _stamp_digest(recent) == last.window:
                return last.marker
        self.marker_searches += 1
        self.full_listings += 1
        found = await self._search(self.base_dn, flt, paged=True, attributes=["entryCSN", "modifyTimestamp"])
        if any(_stamp(attrs) is None for _, attrs in found):
            return None
        digest = _stamp_digest(found)
        modified = [first(attrs, "modifyTimestamp") for _, attrs in found]
        since = max(modified) if modified and None not in modified else None
        window = _stamp_digest([(dn, attrs) for dn, attrs in found
                                if since is not None and first(attrs, "modifyTimestamp") >= since])
        marker = f"entries:{len(found)}:{digest}"
        self._stamps[flt] = _StampListing(now, marker, since, window)
        # DN -> stamp, for changes_since between the snapshot's listing and this one
        self._listings.pop(marker, None)
        self._listings[marker] = {dn.lower(): _stamp(attrs) for dn, attrs in found}
        while len(self._listings) > self.KEPT_LISTINGS:
            self._listings.pop(next(iter(self._listings)))
        self._latest[flt] = marker
        if self._csn_base is False:
            self._csn_base = None             # ask for contextCSN again next time (the overlay may be new)
        return marker

    async def _find_group(self, dn_or_email: str) -> DirectoryEntry | None:
        text = dn_or_email.strip()
        if looks_like_dn(text):
            found = await self._search(text, "(objectClass=*)", scope="BASE")
        else:
            v = self.escape(text)
            found = await self._search(self.base_dn,
                                       f"(&{self.group_filter}(|({self.amap.mail}={v})(cn={v})))",
                                       size_limit=2)
        groups = [e for e in self._entries(found) if e.kind == "group"]
        return groups[0] if len(groups) == 1 else None

    async def expand_group(self, dn_or_email: str) -> list[DirectoryEntry]:
        """Member entries; nested groups are expanded too, each group once (cycles are cut)."""
        group = await self._find_group(dn_or_email)
        if group is None:
            raise BackendError(f"no group {dn_or_email!r} in the directory", "notfound")
        seen_groups = {group.dn.lower()}
        seen: set[str] = set()
        out: list[DirectoryEntry] = []
        queue = list(group.members)
        while queue:
            dn = queue.pop(0)
            if dn.lower() in seen:
                continue
            seen.add(dn.lower())
            found = self._entries(await self._search(dn, "(objectClass=*)", scope="BASE"))
            if not found:
                continue      # dangling member DN
            member = found[0]
            if member.kind == "group":
                if member.dn.lower() not in seen_groups:
                    seen_groups.add(member.dn.lower())
                    queue.extend(member.members)
                continue
            out.append(member)
        return out

    async def close(self) -> None:
        await asyncio.to_thread(self._drop_service)
