"""EWS ItemId/FolderId, ChangeKey and SyncState encodings (exgate's own, opaque to clients).

ItemId/FolderId (base64 of 28 bytes):
    b"XG" | version 0x01 | kind ("F" folder, "I" item) | mailbox GUID (16, little-endian layout)
    | FID/MID (8, the 64-bit id as MAPI clients see it, little-endian)
so EWS and MAPI show the same object: the FID/MID *is* the store's id.

ChangeKey follows Exchange's shape (MS-OXWSCORE 2.2.4.24 only says "string"; Exchange writes
base64 of: int32 object kind, int32 length, then the 22-byte XID of PidTagChangeKey), so the
XID compares directly with the store's PidTagChangeKey.

ConvertId formats (MS-OXWSCORE 3.1.4.3): EwsId and EwsLegacyId are our base64 form; EntryId is
base64 of the MAPI EntryID; HexEntryId its hex. StoreId is Exchange's serialised store object id,
base64 of: uint8 EntryID length | EntryID | uint8 object type (1 folder, 9 message; seen in
captures of Exchange, e.g. message ids starting "RgAAAA", 0x46 = 70 bytes). OwaId is the same
bytes as Exchange 2007 OWA put them in URLs: the base64 percent-escaped.
"""
from __future__ import annotations

import base64
import binascii
import struct
import urllib.parse
import uuid
from dataclasses import dataclass

MAGIC = b"XG\x01"
KIND_BYTES = {"folder": b"F", "item": b"I"}
KINDS = {v: k for k, v in KIND_BYTES.items()}
CK_FOLDER = 1
CK_ITEM = 9


class IdMalformed(ValueError):
    """Not an id this server wrote (ErrorInvalidIdMalformed)."""


@dataclass(frozen=True)
class EwsId:
    kind: str            # "folder" or "item"
    mailbox_guid: uuid.UUID
    fmid: int            # 64-bit FID or MID

    def encode(self) -> str:
        raw = MAGIC + KIND_BYTES[self.kind] + self.mailbox_guid.bytes_le + struct.pack("<Q", self.fmid)
        return base64.b64encode(raw).decode("ascii")


def b64decode(value: str) -> bytes:
    value = (value or "").strip()
    if not value:
        raise IdMalformed("Id must be non-empty.")
    # URL-safe variants appear in OWA ids; accept both alphabets and missing padding
    value = value.replace("-", "+").replace("_", "/")
    value += "=" * (-len(value) % 4)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IdMalformed("Id is malformed.") from exc


def decode_id(value: str) -> EwsId:
    raw = b64decode(value)
    if len(raw) != 28 or raw[:3] != MAGIC or raw[3:4] not in KINDS:
        raise IdMalformed("Id is malformed.")
    return EwsId(KINDS[raw[3:4]], uuid.UUID(bytes_le=raw[4:20]), struct.unpack("<Q", raw[20:28])[0])


def encode_change_key(xid: bytes, kind: str = "item") -> str:
    raw = struct.pack("<ii", CK_FOLDER if kind == "folder" else CK_ITEM, len(xid)) + xid
    return base64.b64encode(raw).decode("ascii")


def decode_change_key(value: str) -> bytes:
    """ChangeKey -> the XID it carries."""
    raw = b64decode(value)
    if len(raw) < 8:
        raise IdMalformed("ChangeKey is malformed.")
    _, n = struct.unpack_from("<ii", raw)
    if n != len(raw) - 8 or n < 17:
        raise IdMalformed("ChangeKey is malformed.")
    return raw[8:]


# ---------------------------------------------------------------- StoreId / OwaId

STORE_TYPE_FOLDER = 1
STORE_TYPE_MESSAGE = 9


def encode_store_id(entryid: bytes, kind: str) -> str:
    if not 0 < len(entryid) < 256:
        raise IdMalformed("EntryID too long for a StoreId.")
    obj_type = STORE_TYPE_FOLDER if kind == "folder" else STORE_TYPE_MESSAGE
    return base64.b64encode(bytes([len(entryid)]) + entryid + bytes([obj_type])).decode("ascii")


def decode_store_id(value: str) -> bytes:
    """StoreId -> the EntryID it carries (the type byte is not needed: the EntryID says)."""
    raw = b64decode(value)
    if len(raw) < 2 or raw[0] + 2 != len(raw):
        raise IdMalformed("Id is malformed.")
    return raw[1:1 + raw[0]]


def encode_owa_id(entryid: bytes, kind: str) -> str:
    return urllib.parse.quote(encode_store_id(entryid, kind), safe="")


def decode_owa_id(value: str) -> bytes:
    return decode_store_id(urllib.parse.unquote(value or ""))


# ---------------------------------------------------------------- SyncState

class SyncStateInvalid(ValueError):
    """ErrorInvalidSyncStateData."""


SYNC_MAGIC = b"XS\x01"


@dataclass(frozen=True)
class SyncState:
    """Where a client is in a folder's (or the hierarchy's) change stream.

    ``cn``: every change up to this change number was delivered. ``scope``: the FID of the
    synchronised folder (0 for the hierarchy of the whole mailbox), so a state cannot be
    replayed against another folder."""

    kind: str              # "items" or "hierarchy"
    scope: int
    cn: int

    def encode(self) -> str:
        raw = SYNC_MAGIC + (b"I" if self.kind == "items" else b"H") + struct.pack("<QQ", self.scope, self.cn)
        return base64.b64encode(raw).decode("ascii")


def decode_sync_state(value: str | None, kind: str, scope: int) -> SyncState:
    """Empty -> a fresh state (cn 0). Anything not ours, of another kind or scope -> SyncStateInvalid."""
    if value is None or not value.strip():
        return SyncState(kind, scope, 0)
    try:
        raw = b64decode(value)
    except IdMalformed as exc:
        raise SyncStateInvalid(str(exc)) from exc
    if len(raw) != 20 or raw[:3] != SYNC_MAGIC or raw[3:4] != (b"I" if kind == "items" else b"H"):
        raise SyncStateInvalid("Synchronization state data is corrupt or otherwise invalid.")
    got_scope, cn = struct.unpack("<QQ", raw[4:])
    if got_scope != scope:
        raise SyncStateInvalid("The synchronization state belongs to another folder.")
    return SyncState(kind, scope, cn)
