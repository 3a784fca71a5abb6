"""The directory as the store shows it: people, groups, rooms, photos, other users' free/busy
and automatic replies, the mailbox identity of an address.

Front ends (EWS ResolveNames/ExpandDL/GetUserPhoto/MailTips/GetRoomLists/availability,
Autodiscover, and NSPI later) hold a ``Directory``, never the directory client
(gateway/backends: LDAP or a directory file). The methods are protocol-neutral: they return
``Person`` records (the directory entry: dn, kind, uid, display_name, email, attributes, members)
and, for address-book front ends, MAPI property dicts (``props``). Backend failures come out as
store errors: a group the directory does not have is ``NotFound``, a directory that does not
answer ``BackendUnavailable``.
"""
from __future__ import annotations

import asyncio
import sys
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence

from gateway.backends.base import BackendError, DirectoryClient
from gateway.backends.base import DirectoryEntry as Person
from protocols.mapi.props import core as P

from . import freebusy as fb
from . import oof
from .errors import AccessDenied, BackendUnavailable, NotFound, StoreError
from .gal_index import GalIndex
from .mailbox import provision
from .state.db import StateDB

if TYPE_CHECKING:
    from gateway.config import Config

__all__ = ["Directory", "Person"]

# MS-OXCDATA 2.2.1 / MS-OXOABK 2.2.3.x: PidTagObjectType and PidTagDisplayType of GAL entries
MAPI_MAILUSER, MAPI_DISTLIST = 6, 8
DISPLAY_TYPE = {"user": 0x00, "group": 0x01, "room": 0x07, "equipment": 0x08}   # DT_MAILUSER, DT_DISTLIST, DT_ROOM, DT_EQUIPMENT
# The organisation's X.500 DN (Autodiscover's LegacyDN and EMSMDB's DN prefix): an entry's
# LegacyExchangeDN is RECIPIENTS_DN + "/cn=<alias>", and never changes while the alias stays.
ORG_DN = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
RECIPIENTS_DN = ORG_DN + "/cn=Recipients"
GAL_KINDS = ("user", "group", "room", "equipment")
# address-book properties beyond core's (MS-OXPROPS / MS-OXOABK)
PidTagAddressBookManagerDistinguishedName = 0x8005001F
PidTagThumbnailPhoto = 0x8C9E0102


# The GAL snapshot (``Directory.gal``). A 10,000-entry GAL takes seconds to read and parse over LDAP, and NSPI
# asks for it on every call (bench/nspi.py), so the sorted GAL is kept, one snapshot per directory client.
# A caller gets it again only when the directory says nothing changed since: the client's ``change_marker``,
# asked on every call, so it has to be cheap (gateway/backends/ldap.py: slapd's contextCSN in one base-scope
# search; without it a search for the entries stamped since the last full listing, with a full DN-and-stamp
# listing at most every FULL_CHECK_INTERVAL seconds; filedir.py: the file's size and mtime). Callers that wait
# while another checks share that check when it began after they came in. When the marker moved, a client with
# ``changes_since`` (LDAP: the entries with a newer entryCSN than the contextCSN, or the DNs whose stamps moved
# between two full stamp listings) gives what was written since and every DN, and the snapshot is made from
# the last one (an add or modify of a person: a few searches instead of reading every entry); else,
# and for renames, deletes and group changes (slapd's overlays rewrite other entries then without a new
# entryCSN), the GAL is read in full. Asking with ``max_age`` gives the
# snapshot without asking the directory while it was checked less than that long ago (NSPI's QueryRows pages
# after the first of one read: GAL_TTL). A snapshot older than GAL_MAX_AGE is read again in full whatever the
# marker says.
GAL_TTL = 5.0
GAL_MAX_AGE = 300.0


@dataclass(eq=False)
class _GalSnapshot:
    entries: list
    marker: object             # the client's change marker before the read; None: the client cannot tell
    read_at: float             # monotonic times the check before the read, and the last check, began
    checked_at: float
    index: GalIndex | None = None   # built on first use (Directory.gal_index)


class _GalCache:
    def __init__(self) -> None:
        self.snapshot: _GalSnapshot | None = None
        self.reads = 0             # full reads, for tests and the bench
        self.refreshes = 0         # snapshots made from the last one and the changes since (changes_since)
        self._lock: tuple[object, asyncio.Lock] | None = None

    @property
    def lock(self) -> asyncio.Lock:
        """A lock of the running loop (a client may outlive a loop: tests run several)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]


# one per directory client (the gateway's, which outlives the Directory facades made per request)
_GAL_CACHES: "weakref.WeakKeyDictionary[object, _GalCache]" = weakref.WeakKeyDictionary()


def gal_cache(client) -> _GalCache:
    cache = _GAL_CACHES.get(client)
    if cache is None:
        cache = _GAL_CACHES[client] = _GalCache()
    return cache


def _by_lower_name(entry: Person) -> dict[str, list[str]]:
    """The entry's attributes by lower-cased name (the first non-empty one of each), made once per entry: NSPI
    asks ``attribute`` some twenty times per row, and a scan of the attributes each time was most of a GAL
    read. Kept on the (frozen) entry itself, so it lives as long as the snapshot that holds the entry."""
    got = entry.__dict__.get("_by_lower_name")
    if got is None:
        got = {}
        for k, v in entry.attributes.items():
            if v:
                got.setdefault(sys.intern(k.lower()), v)     # one copy of each name across the GAL
        object.__setattr__(entry, "_by_lower_name", got)
    return got


def _member_of(entry: Person) -> list[str]:
    return sorted(v.lower() for k, vs in entry.attributes.items() if k.lower() == "memberof" for v in vs)


def _store_error(exc: BackendError) -> StoreError:
    kind = getattr(exc, "kind", "failed")
    if kind == "notfound":
        return NotFound(str(exc))
    if kind == "unavailable":
        return BackendUnavailable(str(exc))
    if kind == "auth":
        return AccessDenied(str(exc))
    return StoreError(str(exc))


class Directory:
    """One gateway's directory, with the state database for what the store keeps about its users."""

    def __init__(self, client: DirectoryClient | None, db: StateDB | None = None, config: "Config | None" = None):
        self._client = client
        self._db = db
        self._config = config

    @property
    def available(self) -> bool:
        """Is a directory configured at all? (Without one, lookups find nobody.)"""
        return self._client is not None

    # ------------------------------------------------------------ people and groups
    async def find(self, login_or_email: str) -> Person | None:
        """The user, room or resource with that login or address; None if none (or no directory)."""
        if self._client is None:
            return None
        try:
            return await self._client.get_user(login_or_email)
        except BackendError as exc:
            raise _store_error(exc) from exc

    async def search(self, text: str, limit: int = 100) -> list[Person]:
        """Prefix match on names and addresses (ResolveNames in EWS and NSPI)."""
        if self._client is None:
            return []
        try:
            return await self._client.search(text, limit=limit)
        except BackendError as exc:
            raise _store_error(exc) from exc

    async def members(self, group: str) -> list[Person]:
        """The members of a group (DN or address); NotFound when the directory has no such group."""
        if self._client is None:
            return []
        try:
            return await self._client.expand_group(group)
        except BackendError as exc:
            raise _store_error(exc) from exc

    async def entries(self, kinds: Sequence[str] = ("user", "group")) -> list[Person]:
        """Every entry of those kinds (the GAL)."""
        if self._client is None:
            return []
        try:
            return await self._client.list_all(kinds)
        except BackendError as exc:
            raise _store_error(exc) from exc

    async def room_lists(self, on_unreadable=None) -> list[Person]:
        """Groups whose members are all rooms: what Exchange calls room lists. A group that cannot be
        read is passed over (``on_unreadable(group, exc)`` is told)."""
        if self._client is None:
            return []
        out = []
        for g in await self.entries(("group",)):
            try:
                members = await self.members(g.dn)
            except Exception as exc:  # noqa: BLE001 - an unreadable group is not a room list
                if on_unreadable is not None:
                    on_unreadable(g, exc)
                continue
            if members and all(x.kind == "room" for x in members):
                out.append(g)
        return out

    async def gal(self, max_age: float = 0.0) -> list[Person]:
        """The Global Address List: users, groups, rooms and equipment, sorted by display name (then by
        LegacyExchangeDN, so two entries with one name keep one order). The list is shared (the snapshot
        above): callers do not change it. With ``max_age`` (seconds), a snapshot checked less than that
        long ago is given without asking the directory; else the directory's change marker decides."""
        if self._client is None:
            return []
        cache = gal_cache(self._client)
        snap = cache.snapshot
        asked = time.monotonic()
        if snap is not None and max_age > 0 and asked - snap.checked_at < max_age and asked - snap.read_at < GAL_MAX_AGE:
            return snap.entries
        async with cache.lock:               # one check (and full read) at a time
            snap = cache.snapshot
            # a check that began after this call came in saw every change made before it: callers that
            # waited for the lock share it instead of asking the directory once each
            if snap is not None and snap.checked_at >= asked and asked - snap.read_at < GAL_MAX_AGE:
                return snap.entries
            started = time.monotonic()
            marker = await self._change_marker()
            if snap is not None and marker is not None and marker == snap.marker \
                    and started - snap.read_at < GAL_MAX_AGE:
                snap.checked_at = started
                return snap.entries
            entries = None
            if snap is not None and marker is not None and started - snap.read_at < GAL_MAX_AGE:
                entries = await self._changed(snap)
            if entries is not None:          # the snapshot with what changed put in: its full read stays the age
                cache.refreshes += 1
                cache.snapshot = _GalSnapshot(entries, marker, snap.read_at, started)
                return entries
            entries = sorted(await self.entries(GAL_KINDS), key=self._gal_order)
            cache.reads += 1
            cache.snapshot = _GalSnapshot(entries, marker, started, started)
            return entries

    @classmethod
    def _gal_order(cls, e: Person) -> tuple[str, str]:
        return ((e.display_name or "").casefold(), cls.legacy_dn(e).lower())

    async def _changed(self, snap: _GalSnapshot) -> list[Person] | None:
        """The snapshot with the client's changes since its marker put in (``changes_since``: the entries
        written since, and every DN now); None when the client cannot say or the change is one that moves
        other entries too (then everything is read)."""
        probe = getattr(self._client, "changes_since", None)
        if probe is None:
            return None
        try:
            got = await probe(GAL_KINDS, snap.marker)
        except BackendError as exc:
            raise _store_error(exc) from exc
        if got is None:
            return None
        changed, alive = got
        # slapd's memberof and refint overlays rewrite other entries without giving them a new entryCSN: a
        # member's memberOf when a group changes, the groups' member values when an entry is deleted or
        # renamed or a person's memberOf is written. Those changes are read in full; any other add or modify
        # of a person touches that person only.
        before = {e.dn.lower(): e for e in snap.entries}
        if len(before) != len(snap.entries) or any(dn not in alive for dn in before):
            return None
        for e in changed:
            was = before.get(e.dn.lower())
            if e.kind == "group" or _member_of(e) != (_member_of(was) if was is not None else []):
                return None
        fresh = {e.dn.lower(): e for e in changed if e.dn.lower() in alive}
        kept = [e for e in snap.entries if e.dn.lower() in alive and e.dn.lower() not in fresh]
        return sorted(kept + list(fresh.values()), key=self._gal_order)

    def gal_index(self, entries: list[Person]) -> GalIndex:
        """The lookup index (SeekEntries, name resolution) of a list ``gal`` gave: built once per snapshot and
        shared; a list that is no longer the snapshot gets an index of its own."""
        snap = gal_cache(self._client).snapshot if self._client is not None else None
        if snap is None or snap.entries is not entries:
            return GalIndex(entries, self.addresses, self.alias)
        if snap.index is None:
            snap.index = GalIndex(entries, self.addresses, self.alias)
        return snap.index

    async def _change_marker(self):
        """The client's change marker for the GAL's kinds (None when it has none or cannot tell)."""
        probe = getattr(self._client, "change_marker", None)
        if probe is None:
            return None
        try:
            return await probe(GAL_KINDS)
        except BackendError as exc:
            raise _store_error(exc) from exc

    @staticmethod
    def alias(entry: Person) -> str:
        """The entry's alias (Exchange's mailNickname): the login, else the group's cn, else the
        address's local part. It names the entry in its LegacyExchangeDN."""
        name = entry.uid or Directory.attribute(entry, "cn") or (entry.email or "").split("@", 1)[0] \
            or entry.display_name or "unknown"
        return "".join(c for c in name if c.isalnum() or c in "-._") or "unknown"

    @staticmethod
    def legacy_dn(entry: Person) -> str:
        """The LegacyExchangeDN (MS-OXOABK 2.2.1.1), as Autodiscover gives the user's LegacyDN."""
        return f"{RECIPIENTS_DN}/cn={Directory.alias(entry)}"

    @staticmethod
    def legacy_dn_of_login(login: str) -> str:
        return f"{RECIPIENTS_DN}/cn={login}"

    @staticmethod
    def matches_name(entry: Person, text: str) -> bool:
        """Ambiguous name resolution over one entry: ``text`` (without case) begins the display name or
        one of its words, the given name, surname, alias, login or an address, or is a whole address."""
        t = text.strip().casefold()
        if not t:
            return False
        if t.startswith("smtp:"):
            t = t[5:]
            return any(a.casefold() == t for a in Directory.addresses(entry))
        words = [entry.display_name or ""] + (entry.display_name or "").split()
        words += [Directory.alias(entry), entry.uid or ""] + Directory.addresses(entry)
        words += [v for k, vs in entry.attributes.items() if k.lower() in ("givenname", "sn", "cn") for v in vs]
        return any(w and w.casefold().startswith(t) for w in words)

    @staticmethod
    def addresses(entry: Person) -> list[str]:
        """The entry's SMTP addresses, the primary one first."""
        out = [entry.email] if entry.email else []
        for k, vs in entry.attributes.items():
            if k.lower() in ("mail", "mailalternateaddress"):
                out += [v for v in vs if v and v.lower() not in {x.lower() for x in out}]
        return out

    # ------------------------------------------------------------ attributes
    @staticmethod
    def attribute(entry: Person, *names: str) -> str | None:
        """The first value of the first of ``names`` the entry has (names compared without case)."""
        found = _by_lower_name(entry)
        for name in names:
            v = found.get(name.lower())
            if v:
                return v[0]
        return None

    async def photo(self, address: str) -> str | None:
        """The user's photo, base64 (JPEG as the directory holds it), or None."""
        entry = await self.find(address) if address else None
        if entry is None:
            return None
        # binary LDAP values arrive base64 under "<name>;binary" (backends/ldap.py decode_values)
        return self.attribute(entry, "jpegPhoto;binary", "thumbnailPhoto;binary")

    async def password_expires(self, login: str) -> datetime | None:
        """When the user's password expires (shadowAccount, RFC 2307), None if it does not."""
        entry = await self.find(login)
        if entry is None:
            return None
        # days since the epoch of the last change, plus the maximum age
        last, maxage = self.attribute(entry, "shadowLastChange"), self.attribute(entry, "shadowMax")
        if last and maxage and last.isdigit() and maxage.isdigit() and int(maxage) < 99999:
            return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=int(last) + int(maxage))
        return None

    @staticmethod
    def props(entry: Person) -> dict:
        """The entry as an address-book row: MAPI properties (MS-OXOABK) for NSPI and EWS alike."""
        group = entry.kind == "group"
        out = {P.PidTagDisplayName: entry.display_name or entry.email or entry.uid or "",
               P.PidTagObjectType: MAPI_DISTLIST if group else MAPI_MAILUSER,
               P.PidTagDisplayType: DISPLAY_TYPE.get(entry.kind, 0)}
        if entry.email:
            out[P.PidTagSmtpAddress] = entry.email
            out[P.PidTagEmailAddress] = entry.email
            out[P.PidTagAddressType] = "SMTP"
        if entry.uid:
            out[P.PidTagAccount] = entry.uid
        for tag, names in ((P.PidTagGivenName, ("givenName",)), (P.PidTagSurname, ("sn",)),
                           (P.PidTagTitle, ("title",)), (P.PidTagDepartmentName, ("departmentNumber", "ou")),
                           (P.PidTagCompanyName, ("o",)), (P.PidTagOfficeLocation, ("roomNumber", "l")),
                           (P.PidTagBusinessTelephoneNumber, ("telephoneNumber",)),
                           (P.PidTagMobileTelephoneNumber, ("mobile",))):
            value = Directory.attribute(entry, *names)
            if value:
                out[tag] = value
        return out

    @staticmethod
    def address_book_props(entry: Person) -> dict:
        """``props`` as an Exchange address book (NSPI) shows the entry: the EX address type with the
        LegacyExchangeDN, the proxy addresses, the alias, rooms as mail users with DisplayTypeEx, the
        photo. The manager is left as the directory's reference (``attribute(entry, "manager")``)."""
        import base64
        out = Directory.props(entry)
        dn = Directory.legacy_dn(entry)
        alias = Directory.alias(entry)
        out[P.PidTagEmailAddress] = dn
        out[P.PidTagAddressType] = "EX"
        out[P.PidTagAccount] = alias
        out[P.PidTagAddressBookDisplayNamePrintable] = alias
        out[P.PidTagTransmittableDisplayName] = out[P.PidTagDisplayName]
        addrs = Directory.addresses(entry)
        out[P.PidTagAddressBookProxyAddresses] = (
            [("SMTP:" if i == 0 else "smtp:") + a for i, a in enumerate(addrs)] + [f"X500:{dn}"])
        if entry.kind in ("room", "equipment"):
            out[P.PidTagDisplayType] = 0x00                      # DT_MAILUSER, the kind in DisplayTypeEx
            out[P.PidTagDisplayTypeEx] = DISPLAY_TYPE[entry.kind]
        else:
            out[P.PidTagDisplayTypeEx] = DISPLAY_TYPE.get(entry.kind, 0)
        photo = Directory.attribute(entry, "jpegPhoto;binary", "thumbnailPhoto;binary")
        if photo:
            try:
                out[PidTagThumbnailPhoto] = base64.b64decode(photo)
            except ValueError:
                pass
        return out

    # ------------------------------------------------------------ what the store keeps about users
    def mailbox_guid(self, email: str, display_name: str | None = None) -> uuid.UUID:
        """The mailbox GUID of an address (its mailbox row is made on first use, as at sign-in)."""
        return provision(self._need_db(), email, display_name).mailbox_guid

    def automatic_replies(self, address: str) -> "oof.OofSettings":
        """The stored automatic-reply settings of another user (MailTips)."""
        return oof.load(self._need_db(), address)

    async def free_busy(self, entry: Person, address: str, start: datetime, end: datetime) -> list:
        """Free/busy of another user (no details): gateway/store/freebusy.py other_periods.
        NoFreeBusyAccess (an AccessDenied) when nothing the gateway may read tells it."""
        return await fb.other_periods(self._need_db(), self._config, entry.uid or address, entry.email, start, end)

    def _need_db(self) -> StateDB:
        if self._db is None:
            raise BackendUnavailable("the directory facade has no state database")
        return self._db
