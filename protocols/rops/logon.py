"""Logon and store ROPs (MS-OXCROPS 2.2.3): RopLogon, RopGetReceiveFolder,
RopSetReceiveFolder, RopGetStoreState, RopLongTermIdFromId, RopIdFromLongTermId,
RopGetPerUserGuid, RopGetPerUserLongTermIds, RopReadPerUserInformation, RopGetReceiveFolderTable."""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from ._wire import (
    BLOB16, GUID, U8, U16, U32, U64, Kind, Reader, RopRequest, RopResponse, put_asciiz, put_u8, put_u16,
    put_u32, put_u64, wire,
)
from .errors import RopFormatError
from .rows import decode_rows

# LogonFlags, 2.2.3.1.1
LOGON_PRIVATE = 0x01
LOGON_UNDERCOVER = 0x02
LOGON_GHOSTED = 0x04
EC_WRONG_SERVER = 0x00000478

# The 13 FolderIds of a private mailbox logon, in wire order (2.2.3.1.2) ...
PRIVATE_FOLDERS = (
    "root", "deferred_action", "spooler_queue", "ipm_subtree", "inbox", "outbox",
    "sent_items", "deleted_items", "common_views", "schedule", "finder", "views", "shortcuts",
)
# ... and of a public folders logon (2.2.3.1.3); the last three are reserved.
PUBLIC_FOLDERS = (
    "root", "ipm_subtree", "non_ipm_subtree", "eforms_registry", "free_busy", "offline_address_book",
    "localized_eforms_registry", "local_free_busy", "local_offline_address_book",
    "nntp_article_index", "reserved1", "reserved2", "reserved3",
)


@dataclass
class LogonRequest(RopRequest):
    """2.2.3.1.1.  Essdn is EssdnSize bytes, an ASCII DN with its NUL; None when the size is 0."""

    ROP_ID = 0xFE
    logon_id: int = 0
    output_handle_index: int = 0
    logon_flags: int = LOGON_PRIVATE
    open_flags: int = 0
    store_state: int = 0
    essdn: str | None = None

    @classmethod
    def decode(cls, r: Reader):
        logon_id, out_idx, flags = r.u8(), r.u8(), r.u8()
        open_flags, store_state = r.u32(), r.u32()
        size = r.u16()
        essdn = None
        if size:
            raw = r.take(size)
            if raw[-1] != 0:
                raise RopFormatError("RopLogon Essdn is not NUL-terminated")
            essdn = raw[:-1].decode("latin-1")
        return cls(logon_id, out_idx, flags, open_flags, store_state, essdn)

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.logon_id)
        put_u8(out, self.output_handle_index)
        put_u8(out, self.logon_flags)
        put_u32(out, self.open_flags)
        put_u32(out, self.store_state)
        if self.essdn is None:
            put_u16(out, 0)
        else:
            raw = bytearray()
            put_asciiz(raw, self.essdn)
            put_u16(out, len(raw))
            out += raw


@dataclass(frozen=True)
class LogonTime:
    """2.2.3.1.2 LogonTime: Seconds, Minutes, Hour, DayOfWeek, Day, Month (1 byte each), Year (2)."""

    seconds: int = 0
    minutes: int = 0
    hour: int = 0
    day_of_week: int = 0
    day: int = 1
    month: int = 1
    year: int = 1601


_LOGON_TIME = struct.Struct("<BBBBBBH")


@dataclass
class LogonResponse(RopResponse):
    """RopLogon response: the private-mailbox success form (2.2.3.1.2) when LogonFlags has
    Private, the public-folders form (2.2.3.1.3) otherwise, the redirect form (2.2.3.1.4:
    LogonFlags, ServerNameSize, ServerName) for ecWrongServer, and the generic failure form
    (2.2.3.1.5) for any other error.  ``folder_ids`` are the 13 ids of PRIVATE_FOLDERS or
    PUBLIC_FOLDERS."""

    ROP_ID = 0xFE
    logon_flags: int = LOGON_PRIVATE
    folder_ids: tuple = (0,) * 13
    # private
    response_flags: int = 0
    mailbox_guid: uuid.UUID = uuid.UUID(int=0)
    replica_id: int = 0
    replica_guid: uuid.UUID = uuid.UUID(int=0)
    logon_time: LogonTime = LogonTime()
    gwart_time: int = 0
    store_state: int = 0
    # public
    per_user_guid: uuid.UUID = uuid.UUID(int=0)
    # redirect
    server_name: str = ""

    @property
    def private(self) -> bool:
        return bool(self.logon_flags & LOGON_PRIVATE)

    def folder(self, name: str) -> int:
        names = PRIVATE_FOLDERS if self.private else PUBLIC_FOLDERS
        return self.folder_ids[names.index(name)]

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv == EC_WRONG_SERVER:
            flags = r.u8()
            size = r.u8()
            raw = r.take(size)
            if not raw or raw[-1] != 0:
                raise RopFormatError("RopLogon redirect ServerName is not NUL-terminated")
            return cls(idx, rv, logon_flags=flags, server_name=raw[:-1].decode("latin-1"))
        if rv != 0:
            return cls(idx, rv)
        flags = r.u8()
        fids = tuple(r.u64() for _ in range(13))
        if flags & LOGON_PRIVATE:
            rflags = r.u8()
            mbx = GUID.read(r)
            repl_id = r.u16()
            repl_guid = GUID.read(r)
            lt = LogonTime(*_LOGON_TIME.unpack(r.take(8)))
            return cls(idx, rv, flags, fids, rflags, mbx, repl_id, repl_guid, lt, r.u64(), r.u32())
        repl_id = r.u16()
        repl_guid = GUID.read(r)
        return cls(idx, rv, flags, fids, replica_id=repl_id, replica_guid=repl_guid,
                   per_user_guid=GUID.read(r))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        if self.return_value == EC_WRONG_SERVER:
            put_u8(out, self.logon_flags)
            raw = bytearray()
            put_asciiz(raw, self.server_name)
            put_u8(out, len(raw))
            out += raw
            return
        if self.return_value != 0:
            return
        put_u8(out, self.logon_flags)
        if len(self.folder_ids) != 13:
            raise RopFormatError("RopLogon has 13 folder ids")
        for fid in self.folder_ids:
            put_u64(out, fid)
        if self.private:
            put_u8(out, self.response_flags)
            GUID.write(out, self.mailbox_guid)
            put_u16(out, self.replica_id)
            GUID.write(out, self.replica_guid)
            lt = self.logon_time
            try:
                out += _LOGON_TIME.pack(lt.seconds, lt.minutes, lt.hour, lt.day_of_week, lt.day,
                                        lt.month, lt.year)
            except struct.error as exc:
                raise RopFormatError(f"bad LogonTime: {exc}") from exc
            put_u64(out, self.gwart_time)
            put_u32(out, self.store_state)
        else:
            put_u16(out, self.replica_id)
            GUID.write(out, self.replica_guid)
            GUID.write(out, self.per_user_guid)


class _AsciiZ(Kind):
    def read(self, r):
        return r.asciiz()

    def write(self, out, v):
        put_asciiz(out, v)


ASCIIZ = _AsciiZ()


@dataclass(frozen=True)
class LongTermId:
    """MS-OXCDATA 2.2.1.3.1: DatabaseGuid (16), GlobalCounter (6, big-endian), Pad (2)."""

    database_guid: uuid.UUID = uuid.UUID(int=0)
    global_counter: int = 0
    pad: int = 0


class _LongTermIdKind(Kind):
    def read(self, r):
        g = GUID.read(r)
        return LongTermId(g, int.from_bytes(r.take(6), "big"), r.u16())

    def write(self, out, v):
        GUID.write(out, v.database_guid)
        try:
            out += v.global_counter.to_bytes(6, "big")
        except OverflowError as exc:
            raise RopFormatError("GlobalCounter is 6 bytes") from exc
        put_u16(out, v.pad)


LONG_TERM_ID = _LongTermIdKind()


@dataclass
class GetReceiveFolderRequest(RopRequest):
    ROP_ID = 0x27
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    message_class: str = wire(ASCIIZ, "")


@dataclass
class GetReceiveFolderResponse(RopResponse):
    ROP_ID = 0x27
    folder_id: int = wire(U64)
    explicit_message_class: str = wire(ASCIIZ, "")


@dataclass
class SetReceiveFolderRequest(RopRequest):
    ROP_ID = 0x26
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    folder_id: int = wire(U64)
    message_class: str = wire(ASCIIZ, "")


@dataclass
class SetReceiveFolderResponse(RopResponse):
    ROP_ID = 0x26


@dataclass
class GetStoreStateRequest(RopRequest):
    ROP_ID = 0x7B
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class GetStoreStateResponse(RopResponse):
    ROP_ID = 0x7B
    store_state: int = wire(U32)


@dataclass
class LongTermIdFromIdRequest(RopRequest):
    ROP_ID = 0x43
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    object_id: int = wire(U64)


@dataclass
class LongTermIdFromIdResponse(RopResponse):
    ROP_ID = 0x43
    long_term_id: LongTermId = wire(LONG_TERM_ID, LongTermId())


@dataclass
class IdFromLongTermIdRequest(RopRequest):
    ROP_ID = 0x44
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    long_term_id: LongTermId = wire(LONG_TERM_ID, LongTermId())


@dataclass
class IdFromLongTermIdResponse(RopResponse):
    ROP_ID = 0x44
    object_id: int = wire(U64)


@dataclass
class GetPerUserGuidRequest(RopRequest):
    ROP_ID = 0x61
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    long_term_id: LongTermId = wire(LONG_TERM_ID, LongTermId())


@dataclass
class GetPerUserGuidResponse(RopResponse):
    ROP_ID = 0x61
    database_guid: uuid.UUID = wire(GUID, uuid.UUID(int=0))


class _LongTermIds16(Kind):
    def read(self, r):
        return tuple(LONG_TERM_ID.read(r) for _ in range(r.u16()))

    def write(self, out, v):
        put_u16(out, len(v))
        for x in v:
            LONG_TERM_ID.write(out, x)


LONG_TERM_IDS16 = _LongTermIds16()


@dataclass
class GetPerUserLongTermIdsRequest(RopRequest):
    ROP_ID = 0x60
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    database_guid: uuid.UUID = wire(GUID, uuid.UUID(int=0))


@dataclass
class GetPerUserLongTermIdsResponse(RopResponse):
    ROP_ID = 0x60
    long_term_ids: tuple = wire(LONG_TERM_IDS16, ())


@dataclass
class ReadPerUserInformationRequest(RopRequest):
    """2.2.3.12.1: FolderId is a LongTermId."""

    ROP_ID = 0x63
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    folder_id: LongTermId = wire(LONG_TERM_ID, LongTermId())
    reserved: int = wire(U8)
    data_offset: int = wire(U32)
    max_data_size: int = wire(U16)


@dataclass
class ReadPerUserInformationResponse(RopResponse):
    ROP_ID = 0x63
    has_finished: int = wire(U8)
    data: bytes = wire(BLOB16, b"")


# RopGetReceiveFolderTable rows have these columns (2.2.3.4.2): PidTagFolderId,
# PidTagMessageClass (8-bit), PidTagLastModificationTime.
RECEIVE_FOLDER_COLUMNS = (0x67480014, 0x001A001E, 0x30080040)


@dataclass
class GetReceiveFolderTableRequest(RopRequest):
    ROP_ID = 0x68
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class GetReceiveFolderTableResponse(RopResponse):
    """RowCount (4) then that many PropertyRows of RECEIVE_FOLDER_COLUMNS, kept raw."""

    ROP_ID = 0x68
    row_count: int = 0
    row_data: bytes = b""

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        count = r.u32()
        if count > r.left():
            raise RopFormatError(f"RowCount {count} exceeds the buffer")
        _, end = decode_rows(r.buf[:r.end], count, RECEIVE_FOLDER_COLUMNS, off=r.off)
        return cls(idx, rv, count, r.take(end - r.off))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        if not self.return_value:
            put_u32(out, self.row_count)
            out += self.row_data


REQUESTS = {c.ROP_ID: c for c in (
    LogonRequest, GetReceiveFolderRequest, SetReceiveFolderRequest, GetStoreStateRequest,
    LongTermIdFromIdRequest, IdFromLongTermIdRequest, GetPerUserGuidRequest,
    GetPerUserLongTermIdsRequest, ReadPerUserInformationRequest, GetReceiveFolderTableRequest)}
RESPONSES = {c.ROP_ID: c for c in (
    LogonResponse, GetReceiveFolderResponse, SetReceiveFolderResponse, GetStoreStateResponse,
    LongTermIdFromIdResponse, IdFromLongTermIdResponse, GetPerUserGuidResponse,
    GetPerUserLongTermIdsResponse, ReadPerUserInformationResponse, GetReceiveFolderTableResponse)}
NAMES = {0xFE: "RopLogon", 0x27: "RopGetReceiveFolder", 0x26: "RopSetReceiveFolder",
         0x7B: "RopGetStoreState", 0x43: "RopLongTermIdFromId", 0x44: "RopIdFromLongTermId",
         0x61: "RopGetPerUserGuid", 0x60: "RopGetPerUserLongTermIds",
         0x63: "RopReadPerUserInformation", 0x68: "RopGetReceiveFolderTable"}
