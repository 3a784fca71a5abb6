"""Identifiers: FID/MID, GLOBCNT, XID, SourceKey, ChangeKey, PCL, EntryIDs.

Layouts:
- Folder ID / Message ID (MS-OXCDATA 2.2.1.1, 2.2.1.2): ReplicaId (2 bytes,
  little-endian) then GlobalCounter (6 bytes, big-endian). As an unsigned
  64-bit little-endian integer the replica id sits in the low 16 bits.
- XID (MS-OXCFXICS 2.2.2.2): NamespaceGuid (16) + LocalId (variable; 6 bytes
  for GLOBCNT-based ids). SourceKey and ChangeKey are 22-byte XIDs.
- PredecessorChangeList (MS-OXCFXICS 2.2.2.3): SizedXid* where SizedXid is a
  one-byte size followed by the XID.
- Folder EntryID (MS-OXCDATA 2.2.4.1) and Message EntryID (2.2.4.2).
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

GLOBCNT_MAX = (1 << 48) - 1


class IdError(ValueError):
    """A malformed identifier."""


def make_id(replid: int, globcnt: int) -> int:
    """FID/MID as the unsigned 64-bit value clients see."""
    if not 0 <= globcnt <= GLOBCNT_MAX:
        raise IdError(f"GLOBCNT out of range: {globcnt}")
    return int.from_bytes(id_bytes(replid, globcnt), "little")


def id_bytes(replid: int, globcnt: int) -> bytes:
    return struct.pack("<H", replid) + globcnt.to_bytes(6, "big")


def split_id(value: int) -> tuple[int, int]:
    """64-bit FID/MID -> (replid, globcnt)."""
    raw = value.to_bytes(8, "little")
    return struct.unpack_from("<H", raw)[0], int.from_bytes(raw[2:], "big")


def globcnt_bytes(globcnt: int) -> bytes:
    return globcnt.to_bytes(6, "big")


def xid(guid: uuid.UUID, globcnt: int) -> bytes:
    """22-byte XID: the GUID in its wire (little-endian) layout plus the 6-byte counter."""
    return guid.bytes_le + globcnt_bytes(globcnt)


def parse_xid(data: bytes) -> tuple[uuid.UUID, int]:
    if len(data) < 17:
        raise IdError(f"XID too short: {len(data)} bytes")
    return uuid.UUID(bytes_le=bytes(data[:16])), int.from_bytes(data[16:], "big")


def source_key(guid: uuid.UUID, globcnt: int) -> bytes:
    return xid(guid, globcnt)


def change_key(guid: uuid.UUID, cn: int) -> bytes:
    return xid(guid, cn)


def encode_pcl(xids: list[bytes]) -> bytes:
    """PredecessorChangeList: each XID prefixed by its length; sorted by GUID as Exchange does."""
    out = bytearray()
    for x in sorted(xids, key=lambda b: b[:16]):
        out.append(len(x))
        out += x
    return bytes(out)


def decode_pcl(data: bytes) -> list[bytes]:
    out, off = [], 0
    while off < len(data):
        size = data[off]
        if size < 17 or off + 1 + size > len(data):
            raise IdError(f"bad SizedXid at {off}")
        out.append(bytes(data[off + 1:off + 1 + size]))
        off += 1 + size
    return out


def merge_pcl(pcl: bytes, new_xid: bytes) -> bytes:
    """Replace the entry for new_xid's namespace with new_xid (the newest change from that replica)."""
    kept = [x for x in decode_pcl(pcl) if x[:16] != new_xid[:16]]
    return encode_pcl(kept + [new_xid])


# --- EntryIDs (MS-OXCDATA 2.2.4) ---
eitLTPrivateFolder = 0x0001
eitLTPrivateMessage = 0x0007


@dataclass(frozen=True)
class FolderEntryId:
    provider_uid: uuid.UUID  # the mailbox (store) GUID
    folder_type: int
    database_guid: uuid.UUID
    globcnt: int

    def encode(self) -> bytes:
        return (b"\x00\x00\x00\x00" + self.provider_uid.bytes_le + struct.pack("<H", self.folder_type)
                + self.database_guid.bytes_le + globcnt_bytes(self.globcnt) + b"\x00\x00")

    @classmethod
    def decode(cls, data: bytes) -> "FolderEntryId":
        if len(data) != 46:
            raise IdError(f"folder EntryID is 46 bytes, got {len(data)}")
        return cls(uuid.UUID(bytes_le=data[4:20]), struct.unpack_from("<H", data, 20)[0],
                   uuid.UUID(bytes_le=data[22:38]), int.from_bytes(data[38:44], "big"))


@dataclass(frozen=True)
class MessageEntryId:
    provider_uid: uuid.UUID
    message_type: int
    folder_database_guid: uuid.UUID
    folder_globcnt: int
    message_database_guid: uuid.UUID
    message_globcnt: int

    def encode(self) -> bytes:
        return (b"\x00\x00\x00\x00" + self.provider_uid.bytes_le + struct.pack("<H", self.message_type)
                + self.folder_database_guid.bytes_le + globcnt_bytes(self.folder_globcnt) + b"\x00\x00"
                + self.message_database_guid.bytes_le + globcnt_bytes(self.message_globcnt) + b"\x00\x00")

    @classmethod
    def decode(cls, data: bytes) -> "MessageEntryId":
        if len(data) != 70:
            raise IdError(f"message EntryID is 70 bytes, got {len(data)}")
        return cls(uuid.UUID(bytes_le=data[4:20]), struct.unpack_from("<H", data, 20)[0],
                   uuid.UUID(bytes_le=data[22:38]), int.from_bytes(data[38:44], "big"),
                   uuid.UUID(bytes_le=data[46:62]), int.from_bytes(data[62:68], "big"))
