"""Per-mailbox identity: GUIDs, the GLOBCNT counter, and the id forms clients see.

One counter per mailbox serves FIDs, MIDs and change numbers alike, as in
Exchange, where they are all GLOBCNTs of the mailbox's replica
(MS-OXCFXICS 2.2.2.1). The counter is advanced atomically in the state
database, so several gateways sharing a PostgreSQL never hand out one id twice.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from protocols.mapi import ids as wire

from .errors import NotFound
from .state.db import StateDB

REPLID = 0x0001  # the mailbox's own replica; REPLGUID is replica_guid


class ForeignId(NotFound, wire.IdError):
    """An id of another replica: nothing of this mailbox has it (a client's stale or other server's id),
    so callers that map store errors answer NotFound (MAPI ecNotFound), and those that catch IdError too."""
FIRST_FREE_GLOBCNT = 0x100  # below this: well-known folders (see folders.WELL_KNOWN)
ALLOC_CHUNK = 64


@dataclass(frozen=True)
class MailboxIdentity:
    mailbox_id: int                 # row id in the state database
    owner: str
    mailbox_guid: uuid.UUID         # PidTagStoreRecordKey / EntryID ProviderUID
    replica_guid: uuid.UUID         # REPLGUID: namespace of SourceKeys and ChangeKeys

    def fid(self, globcnt: int) -> int:
        return wire.make_id(REPLID, globcnt)

    mid = fid

    def globcnt_of(self, fmid: int) -> int:
        replid, globcnt = wire.split_id(fmid)
        if replid != REPLID:
            raise ForeignId(f"id 0x{fmid:016x} is from replica {replid}, not this mailbox")
        return globcnt

    def source_key(self, globcnt: int) -> bytes:
        return wire.source_key(self.replica_guid, globcnt)

    def change_key(self, cn: int) -> bytes:
        return wire.change_key(self.replica_guid, cn)

    def change_number(self, cn: int) -> int:
        """PidTagChangeNumber is the CN in FID/MID form."""
        return wire.make_id(REPLID, cn)

    def folder_entryid(self, globcnt: int) -> bytes:
        return wire.FolderEntryId(self.mailbox_guid, wire.eitLTPrivateFolder, self.replica_guid, globcnt).encode()

    def message_entryid(self, folder_globcnt: int, message_globcnt: int) -> bytes:
        return wire.MessageEntryId(self.mailbox_guid, wire.eitLTPrivateMessage, self.replica_guid,
                                   folder_globcnt, self.replica_guid, message_globcnt).encode()

    def parse_entryid(self, data: bytes) -> tuple[str, int, int | None]:
        """EntryID -> ("folder", fid globcnt, None) or ("message", folder globcnt, message globcnt)."""
        if len(data) == 46:
            e = wire.FolderEntryId.decode(data)
            self._check_provider(e.provider_uid)
            return "folder", e.globcnt, None
        if len(data) == 70:
            m = wire.MessageEntryId.decode(data)
            self._check_provider(m.provider_uid)
            return "message", m.folder_globcnt, m.message_globcnt
        raise wire.IdError(f"not a store EntryID ({len(data)} bytes)")

    def _check_provider(self, provider: uuid.UUID) -> None:
        if provider != self.mailbox_guid:
            raise wire.IdError("EntryID belongs to another mailbox")


class Counter:
    """Hands out GLOBCNTs, reserving them from the database in chunks."""

    def __init__(self, db: StateDB, mailbox_id: int):
        self._db = db
        self._mailbox_id = mailbox_id
        self._next = 0
        self._end = 0

    def allocate(self) -> int:
        if self._next >= self._end:
            self._reserve(ALLOC_CHUNK)
        value = self._next
        self._next += 1
        return value

    def _reserve(self, n: int) -> None:
        row = self._db.one_committed("UPDATE mailboxes SET next_globcnt = next_globcnt + ? WHERE id = ? "
                                     "RETURNING next_globcnt", (n, self._mailbox_id))
        if row is None:
            raise RuntimeError(f"mailbox {self._mailbox_id} vanished from the state database")
        self._end = int(row[0])
        self._next = self._end - n
