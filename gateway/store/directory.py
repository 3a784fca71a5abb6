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

import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence

from gateway.backends.base import BackendError, DirectoryClient
from gateway.backends.base import DirectoryEntry as Person
from protocols.mapi.props import core as P

from . import freebusy as fb
from . import oof
from .errors import AccessDenied, BackendUnavailable, NotFound, StoreError
from .mailbox import provision
from .state.db import StateDB

if TYPE_CHECKING:
    from gateway.config import Config

__all__ = ["Directory", "Person"]

# MS-OXCDATA 2.2.1 / MS-OXOABK 2.2.3.x: PidTagObjectType and PidTagDisplayType of GAL entries
MAPI_MAILUSER, MAPI_DISTLIST = 6, 8
DISPLAY_TYPE = {"user": 0x00, "group": 0x01, "room": 0x07, "equipment": 0x08}   # DT_MAILUSER, DT_DISTLIST, DT_ROOM, DT_EQUIPMENT


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

    # ------------------------------------------------------------ attributes
    @staticmethod
    def attribute(entry: Person, *names: str) -> str | None:
        """The first value of the first of ``names`` the entry has (names compared without case)."""
        for name in names:
            for k, v in entry.attributes.items():
                if k.lower() == name.lower() and v:
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
