"""The per-mailbox named-property map (MS-OXCPRPT 3.1.4.2, MS-OXCDATA 2.9).

Each (property set, LID or name) gets a property id from 0x8000 upwards the
first time a client or a conversion uses it; the mapping is permanent for the
mailbox, as Outlook caches it.
"""
from __future__ import annotations

import uuid

from protocols.mapi.props.named import NamedProp
from protocols.mapi.types import make_tag, prop_id, prop_type

from .errors import QuotaExceeded
from .state.db import StateDB

FIRST_NAMED_ID = 0x8000
LAST_NAMED_ID = 0xFFFE


class NamedPropertyMapFull(QuotaExceeded):
    """All 32767 named ids of the mailbox are taken (MAPI's ecNPQuotaExceeded)."""


class NamedPropMap:
    def __init__(self, db: StateDB, mailbox_id: int):
        self._db = db
        self._mailbox_id = mailbox_id
        self._by_key: dict[tuple, int] = {}
        self._by_id: dict[int, NamedProp] = {}
        for propid, guid, kind, name_key, name, lid in db.all(
                "SELECT propid, guid, kind, name_key, name, lid FROM named_props WHERE mailbox_id = ?", (mailbox_id,)):
            np = NamedProp(uuid.UUID(guid), lid=int(lid)) if kind == "lid" else NamedProp(uuid.UUID(guid), name=name)
            self._by_key[np.key] = propid
            self._by_id[propid] = np

    @staticmethod
    def _row_key(np: NamedProp) -> tuple[str, str]:
        return ("lid", f"{np.lid:08x}") if np.lid is not None else ("name", np.name.lower())

    def get_id(self, np: NamedProp, create: bool = True) -> int | None:
        """The mailbox's property id for ``np``; allocated on first use when ``create``."""
        found = self._by_key.get(np.key)
        if found is not None or not create:
            return found
        kind, name_key = self._row_key(np)
        with self._db.transaction():
            # another gateway may have mapped it meanwhile
            row = self._db.one("SELECT propid FROM named_props WHERE mailbox_id = ? AND guid = ? AND kind = ? "
                               "AND name_key = ?", (self._mailbox_id, str(np.guid), kind, name_key))
            if row is None:
                top = self._db.one("SELECT MAX(propid) FROM named_props WHERE mailbox_id = ?", (self._mailbox_id,))
                propid = max(FIRST_NAMED_ID, (top[0] or FIRST_NAMED_ID - 1) + 1)
                if propid > LAST_NAMED_ID:
                    raise NamedPropertyMapFull(f"mailbox {self._mailbox_id}: no named property ids left")
                self._db.execute("INSERT INTO named_props (mailbox_id, propid, guid, kind, name_key, name, lid) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (self._mailbox_id, propid, str(np.guid), kind, name_key, np.name, np.lid))
            else:
                propid = row[0]
        base = NamedProp(np.guid, lid=np.lid) if np.lid is not None else NamedProp(np.guid, name=np.name)
        self._by_key[np.key] = propid
        self._by_id[propid] = base
        return propid

    def mapped(self) -> list[tuple[int, NamedProp]]:
        """Every (property id, name) of the mailbox, by id (RopQueryNamedProperties)."""
        return sorted(self._by_id.items(), key=lambda kv: kv[0])

    def get_name(self, propid: int) -> NamedProp | None:
        """The named property behind a mailbox id (type-less)."""
        return self._by_id.get(propid)

    def tag_for(self, np: NamedProp, create: bool = True) -> int | None:
        propid = self.get_id(np, create)
        return None if propid is None else make_tag(propid, np.type)

    def key_for_tag(self, tag: int):
        """Tag int -> PropKey: a NamedProp (typed) for named ids, else the tag itself."""
        pid = prop_id(tag)
        if pid >= FIRST_NAMED_ID:
            np = self._by_id.get(pid)
            if np is None:
                return tag  # unknown named id: keep as a raw tag
            return NamedProp(np.guid, lid=np.lid, name=np.name, type=prop_type(tag))
        return tag
