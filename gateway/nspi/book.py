"""The address book one NSPI call sees: the directory's GAL read through the store, with this session's MIds.

Each call asks the directory (through ``gateway.store.directory.Directory``) whether the GAL changed, so a
change made there shows in the next call; the GAL itself is read again only then (the store's snapshot).
QueryRows pages after the first of one read take the snapshot checked up to ``GAL_TTL`` seconds ago. The containers (MS-OXNSPI 3.1.4.1.3, GetSpecialTable):

- the Global Address List, ContainerID 0: every user, group, room and piece of equipment;
- All Rooms (rooms and equipment) and All Distribution Lists (groups), each with a fixed ContainerID.

Every table is sorted by display name (SortTypeDisplayName, MS-OXNSPI 2.2.1.10), which is the only sort
this server offers.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from gateway.store.directory import ORG_DN, Directory, Person, PidTagAddressBookManagerDistinguishedName
from protocols.mapi.props import core as P

from . import rows as R
from .session import NspiSession

# address-book tags beyond core's (MS-OXPROPS)
PidTagContainerFlags = 0x36000003
PidTagAddressBookContainerId = 0xFFFD0003
PidTagAddressBookIsMaster = 0xFFFB000B
PidTagAddressBookParentEntryId = 0xFFFC0102
PidTagTemplateid = 0x39020102
PidTagInitialDetailsPane = 0x3F080003
PidTagAddressBookMemberEmbedded = 0x8009000D     # PidTagAddressBookMember as NSPI names its table
PidTagAddressBookMemberOfEmbedded = 0x8008000D
PidTagAddressBookReportsEmbedded = 0x800E000D
PidTagAddressBookManager = 0x8005000D
PidTagAddressBookOwner = 0x800C000D
PidTagAddressBookOwnerDn = 0x800C001F           # PidTagAddressBookOwner's DN, as the manager's 0x8005001F
ADDRESS_ATTRIBUTES = ((P.PidTagStreetAddress, ("street", "postalAddress")), (P.PidTagLocality, ("l",)),
                      (P.PidTagStateOrProvince, ("st",)), (P.PidTagPostalCode, ("postalCode",)),
                      (P.PidTagCountry, ("co", "c")))

# MS-OXNSPI 2.2.1.x container flags
AB_RECIPIENTS, AB_SUBCONTAINERS, AB_UNMODIFIABLE = 0x1, 0x2, 0x8


@dataclass(frozen=True)
class Container:
    id: int
    name: str
    kinds: tuple[str, ...]
    depth: int = 0

    @property
    def dn(self) -> str:
        """The container's DN in its PermanentEntryID: "/" for the GAL (as Exchange), /guid=... else."""
        if self.id == 0:
            return "/"
        return "/guid=" + uuid.uuid5(uuid.NAMESPACE_URL, f"exgate:{ORG_DN}:{self.name}").hex.upper()


GAL = Container(0, "Global Address List", ("user", "group", "room", "equipment"))
ROOMS = Container(0x10, "All Rooms", ("room", "equipment"), 0)
GROUPS = Container(0x11, "All Distribution Lists", ("group",), 0)
CONTAINERS = {c.id: c for c in (GAL, ROOMS, GROUPS)}


def _norm(dn: str) -> str:
    return ",".join(p.strip() for p in dn.lower().split(","))


class AddressBook:
    def __init__(self, directory: Directory, session: NspiSession, entries: list[Person]):
        self.directory = directory
        self.session = session
        self.entries = entries
        self.by_mid: dict[int, Person] = {}
        self.by_dn: dict[str, Person] = {}
        self.by_ldap_dn: dict[str, Person] = {}
        self.mids: dict[int, int] = {}          # id(entry) -> MId
        self._index = None
        for e in entries:
            dn = Directory.legacy_dn(e)
            m = session.mid(dn)
            self.by_mid[m] = e
            self.by_dn[dn.lower()] = e
            self.by_ldap_dn[_norm(e.dn)] = e
            self.mids[id(e)] = m

    @classmethod
    async def load(cls, directory: Directory, session: NspiSession, max_age: float = 0.0) -> "AddressBook":
        """The book over the directory's GAL as it is now (``max_age``: or as it was checked that recently);
        the session's last book when the GAL is the same snapshot (then nothing is built again)."""
        entries = await directory.gal(max_age)
        last = session.book if session is not None else None
        if last is not None and last.entries is entries:
            last.directory = directory
            return last
        book = cls(directory, session, entries)
        if session is not None:
            session.book = book
        return book

    # ------------------------------------------------------------ lookups
    @property
    def index(self):
        """The store's lookup index of this GAL snapshot (gateway/store/gal_index.py), shared by sessions."""
        if self._index is None:
            self._index = self.directory.gal_index(self.entries)
        return self._index

    def mid(self, e: Person) -> int:
        return self.mids[id(e)]

    def entry(self, mid: int) -> Person | None:
        return self.by_mid.get(mid)

    def find_dn(self, dn: str) -> Person | None:
        """An entry by its LegacyExchangeDN (any case), or by the directory's own DN."""
        return self.by_dn.get(dn.strip().lower()) or self.by_ldap_dn.get(_norm(dn))

    def table(self, container_id: int) -> list[Person] | None:
        """The entries of a container, in display-name order; None for a container there is not."""
        c = CONTAINERS.get(container_id)
        if c is None:
            return None
        if c is GAL:
            return self.entries
        return [e for e in self.entries if e.kind in c.kinds]

    def explicit(self, mids) -> list[Person | None]:
        return [self.entry(m) for m in mids]

    def resolve(self, name: str) -> list[Person]:
        """Ambiguous name resolution: a DN or a whole address first, then exact names, then prefixes."""
        text = name.strip()
        exact_only = text.startswith("=")        # "=name" / "=SMTP:address": no prefix matching
        text = text.lstrip("=").strip()
        if not text:
            return []
        if text.startswith("/"):
            e = self.find_dn(text)
            return [e] if e else []
        low = text.casefold()
        addr = low[5:] if low.startswith("smtp:") else low
        exact = self.index.with_address(addr)
        if exact or "@" in addr:
            return exact
        exact = self.index.named(low)
        if exact or exact_only:
            return exact
        return self.index.prefixed(text)

    async def members(self, e: Person) -> list[Person]:
        """A group's members (nested groups expanded) as address-book entries."""
        out = []
        for m in await self.directory.members(e.dn):
            found = self.by_ldap_dn.get(_norm(m.dn))
            if found is not None:
                out.append(found)
        return out

    async def links(self, e: Person, link_tag: int) -> list[Person] | None:
        """The entries a link property of ``e`` names: its members (PidTagAddressBookMember), the groups
        it is a direct member of (PidTagAddressBookIsMemberOfDistributionList), its direct reports
        (PidTagAddressBookReports, from the others' manager), its manager (PidTagAddressBookManager) or
        owner (PidTagAddressBookOwner); None for a property that is no link."""
        pid = link_tag >> 16
        if pid == PidTagAddressBookMemberEmbedded >> 16:
            return await self.members(e) if e.kind == "group" else []
        me = _norm(e.dn)
        if pid == PidTagAddressBookMemberOfEmbedded >> 16:
            return [g for g in self.entries if g.kind == "group" and me in {_norm(m) for m in g.members}]
        if pid == PidTagAddressBookReportsEmbedded >> 16:
            return [x for x in self.entries if _norm(Directory.attribute(x, "manager") or "") == me]
        if pid in (PidTagAddressBookManager >> 16, PidTagAddressBookOwner >> 16):
            # one-row tables: the details dialog lists the manager / a group's owner as Exchange's does
            ref = Directory.attribute(e, "manager" if pid == PidTagAddressBookManager >> 16 else "owner")
            found = self.find_dn(ref) if ref else None
            return [found] if found is not None else []
        return None

    # ------------------------------------------------------------ positions (STAT)
    def position(self, table: list[Person], current_rec: int, delta: int = 0, num_pos: int = 0) -> int:
        """Where CurrentRec (plus Delta) is in ``table``: 0..len(table) (len: the end)."""
        if current_rec == R.MID_BEGINNING_OF_TABLE:
            pos = 0
        elif current_rec == R.MID_END_OF_TABLE:
            pos = len(table)
        else:
            e = self.entry(current_rec)
            if e is not None and table is self.entries:
                pos = self.index.position[id(e)]
            else:
                try:
                    pos = next(i for i, x in enumerate(table) if x is e) if e is not None else min(num_pos, len(table))
                except StopIteration:
                    pos = min(num_pos, len(table))
        return max(0, min(len(table), pos + delta))

    def rec_at(self, table: list[Person], pos: int) -> int:
        return self.mid(table[pos]) if pos < len(table) else R.MID_END_OF_TABLE

    # ------------------------------------------------------------ properties
    def props(self, e: Person, *, ephemeral: bool = False) -> dict:
        """Everything the address book shows of an entry, this session's ids included."""
        out = Directory.address_book_props(e)
        dn = Directory.legacy_dn(e)
        mid = self.mid(e)
        dt = out[P.PidTagDisplayType]
        permanent = R.permanent_entry_id(dn, dt)
        out[P.PidTagEntryId] = R.ephemeral_entry_id(self.session.server_guid, mid, dt) if ephemeral else permanent
        out[P.PidTagRecordKey] = permanent
        out[PidTagTemplateid] = permanent
        out[P.PidTagInstanceKey] = mid.to_bytes(4, "little")
        out[P.PidTagSearchKey] = R.search_key("EX", dn)
        out[P.PidTagMappingSignature] = R.GUID_NSPI.bytes_le
        out[PidTagInitialDetailsPane] = 0
        # the manager's and a group's owner's DNs, as Exchange gives them (the details template shows them)
        for attr, tag in (("manager", PidTagAddressBookManagerDistinguishedName), ("owner", PidTagAddressBookOwnerDn)):
            ref = Directory.attribute(e, attr)
            found = self.find_dn(ref) if ref else None
            if found is not None:
                out[tag] = Directory.legacy_dn(found)
        # the postal address (RFC 4519 names) for the template's General tab
        for tag, names in ADDRESS_ATTRIBUTES:
            value = Directory.attribute(e, *names)
            if value:
                out[tag] = value.replace("$", "\n") if tag == P.PidTagStreetAddress else value
        return out

    @staticmethod
    def container_props(c: Container, *, unicode: bool = True) -> dict:
        flags = AB_RECIPIENTS | AB_UNMODIFIABLE
        return {P.PidTagEntryId: R.permanent_entry_id(c.dn, R.DT_CONTAINER),
                PidTagContainerFlags: flags,
                P.PidTagDepth: c.depth,
                PidTagAddressBookContainerId: c.id,
                P.PidTagDisplayName: c.name,
                PidTagAddressBookIsMaster: False,
                P.PidTagDisplayType: R.DT_CONTAINER,
                P.PidTagObjectType: 4}          # MAPI_ABCONT
