"""ROPs that are not about one kind of object: RopRelease (MS-OXCROPS 2.2.15.3), the
response-only RopBufferTooSmall (2.2.15.1), RopBackoff (2.2.15.2) and RopPending (2.2.14.3),
and RopRegisterNotification (2.2.14.1)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import BLOB16, U8, U32, Reader, RopRequest, RopResponse, put_u8, put_u16, put_u64, wire
from .errors import RopFormatError

NOTIFY_EXTENDED = 0x0400


@dataclass
class ReleaseRequest(RopRequest):
    """No response: the server drops the object silently."""

    ROP_ID = 0x01
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class BufferTooSmallResponse:
    """RopId 0xFF, SizeNeeded (2), then the part of the request buffer not processed;
    it is the last thing in a RopsList, so the rest of the list is RequestBuffers."""

    ROP_ID = 0xFF
    size_needed: int = 0
    request_buffers: bytes = b""

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        return cls(r.u16(), r.rest())

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u16(out, self.size_needed)
        out += self.request_buffers


@dataclass(frozen=True)
class BackoffRop:
    rop_id: int
    duration: int


@dataclass
class BackoffResponse:
    """RopId 0xF9, LogonId, Duration (4), BackoffRopCount (1), BackoffRopData
    (RopIdBackoff (1), Duration (4) each), AdditionalDataSize (2), AdditionalData."""

    ROP_ID = 0xF9
    logon_id: int = 0
    duration: int = 0
    rops: tuple = ()
    additional_data: bytes = b""

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        logon_id, duration, n = r.u8(), r.u32(), r.u8()
        rops = tuple(BackoffRop(r.u8(), r.u32()) for _ in range(n))
        return cls(logon_id, duration, rops, BLOB16.read(r))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.logon_id)
        U32.write(out, self.duration)
        put_u8(out, len(self.rops))
        for b in self.rops:
            put_u8(out, b.rop_id)
            U32.write(out, b.duration)
        BLOB16.write(out, self.additional_data)


@dataclass
class PendingResponse:
    """RopId 0x6E, SessionIndex (2): notifications wait for another session."""

    ROP_ID = 0x6E
    session_index: int = 0

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        return cls(r.u16())

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u16(out, self.session_index)


@dataclass
class RegisterNotificationRequest(RopRequest):
    """2.2.14.1.1 and MS-OXCNOTIF 2.2.1.2.1.1: NotificationTypes is 2 bytes; Reserved (1) is there only
    with the Extended flag 0x0400; then WantWholeStore, and FolderId and MessageId only when it is 0.
    (Outlook 2007's Tables buffer has ``78 00 00`` + FolderId: types 0x0078, WantWholeStore 0.)"""

    ROP_ID = 0x29
    logon_id: int = 0
    input_handle_index: int = 0
    output_handle_index: int = 0
    notification_types: int = 0
    reserved: int | None = None
    want_whole_store: int = 1
    folder_id: int | None = None
    message_id: int | None = None

    @classmethod
    def decode(cls, r: Reader):
        logon_id, inp, outp = r.u8(), r.u8(), r.u8()
        types = r.u16()
        reserved = r.u8() if types & NOTIFY_EXTENDED else None
        whole = r.u8()
        fid = mid = None
        if whole == 0:
            fid, mid = r.u64(), r.u64()
        return cls(logon_id, inp, outp, types, reserved, whole, fid, mid)

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        for v in (self.logon_id, self.input_handle_index, self.output_handle_index):
            put_u8(out, v)
        put_u16(out, self.notification_types)
        if self.notification_types & NOTIFY_EXTENDED:
            put_u8(out, self.reserved or 0)
        put_u8(out, self.want_whole_store)
        if self.want_whole_store == 0:
            if self.folder_id is None or self.message_id is None:
                raise RopFormatError("WantWholeStore 0 needs FolderId and MessageId")
            put_u64(out, self.folder_id)
            put_u64(out, self.message_id)


@dataclass
class RegisterNotificationResponse(RopResponse):
    ROP_ID = 0x29


REQUESTS = {c.ROP_ID: c for c in (ReleaseRequest, RegisterNotificationRequest)}
RESPONSES = {c.ROP_ID: c for c in (BufferTooSmallResponse, BackoffResponse, PendingResponse,
                                   RegisterNotificationResponse)}
NAMES = {0x01: "RopRelease", 0xFF: "RopBufferTooSmall", 0xF9: "RopBackoff", 0x6E: "RopPending",
         0x29: "RopRegisterNotification"}
