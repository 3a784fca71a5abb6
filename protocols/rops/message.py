"""Message and attachment ROPs (MS-OXCROPS 2.2.6, 2.2.7) and submission ROPs (2.2.7.x):
RopCreateMessage, RopSaveChangesMessage, RopRemoveAllRecipients, RopModifyRecipients,
RopSetReadFlags, RopGetMessageStatus, RopSetMessageStatus, RopGetAttachmentTable,
RopOpenAttachment, RopCreateAttachment, RopDeleteAttachment, RopSaveChangesAttachment,
RopSubmitMessage, RopAbortSubmit, RopSetSpooler, RopGetTransportFolder, RopGetAddressTypes; RopOpenMessage's
request (its response, with recipient rows, is still to come)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import (
    BOOL, IDS16, TAGS16, U8, U16, U32, U64, Kind, Reader, RopRequest, RopResponse, put_asciiz, put_u8,
    put_u16, put_u32, put_u64, wire,
)
from .errors import RopFormatError


@dataclass
class OpenMessageRequest(RopRequest):
    ROP_ID = 0x03
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    code_page_id: int = wire(U16)
    folder_id: int = wire(U64)
    open_mode_flags: int = wire(U8)
    message_id: int = wire(U64)


@dataclass
class CreateMessageRequest(RopRequest):
    ROP_ID = 0x06
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    code_page_id: int = wire(U16)
    folder_id: int = wire(U64)
    associated_flag: int = wire(BOOL)


@dataclass
class CreateMessageResponse(RopResponse):
    """2.2.6.2.2: HasMessageId, then MessageId only when it is nonzero."""

    ROP_ID = 0x06
    message_id: int | None = None

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        return cls(idx, rv, r.u64() if r.u8() else None)

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        if self.return_value:
            return
        put_u8(out, self.message_id is not None)
        if self.message_id is not None:
            put_u64(out, self.message_id)


@dataclass
class SaveChangesMessageRequest(RopRequest):
    ROP_ID = 0x0C
    logon_id: int = wire(U8)
    response_handle_index: int = wire(U8)
    input_handle_index: int = wire(U8)
    save_flags: int = wire(U8)


@dataclass
class SaveChangesMessageResponse(RopResponse):
    """handle_index is the ResponseHandleIndex; InputHandleIndex and MessageId follow."""

    ROP_ID = 0x0C
    input_handle_index: int = wire(U8)
    message_id: int = wire(U64)


@dataclass
class RemoveAllRecipientsRequest(RopRequest):
    ROP_ID = 0x0D
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    reserved: int = wire(U32)


@dataclass
class RemoveAllRecipientsResponse(RopResponse):
    ROP_ID = 0x0D


@dataclass(frozen=True)
class ModifyRecipientRow:
    """ModifyRecipientRow (MS-OXCROPS 2.2.6.5.1.1): RowId (4), RecipientType (1),
    RecipientRowSize (2) and the RecipientRow (MS-OXCDATA 2.8.3) kept raw: its layout
    follows its RecipientFlags and the recipient columns."""

    row_id: int
    recipient_type: int
    recipient_row: bytes


class _ModifyRows(Kind):
    def read(self, r):
        rows = []
        for _ in range(r.u16()):
            row_id, rtype = r.u32(), r.u8()
            rows.append(ModifyRecipientRow(row_id, rtype, r.take(r.u16())))
        return tuple(rows)

    def write(self, out, v):
        put_u16(out, len(v))
        for row in v:
            put_u32(out, row.row_id)
            put_u8(out, row.recipient_type)
            put_u16(out, len(row.recipient_row))
            out += row.recipient_row


MODIFY_ROWS = _ModifyRows()


@dataclass
class ModifyRecipientsRequest(RopRequest):
    ROP_ID = 0x0E
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    recipient_columns: tuple = wire(TAGS16, ())
    recipient_rows: tuple = wire(MODIFY_ROWS, ())


@dataclass
class ModifyRecipientsResponse(RopResponse):
    ROP_ID = 0x0E


@dataclass
class SetReadFlagsRequest(RopRequest):
    ROP_ID = 0x66
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    want_asynchronous: int = wire(BOOL)
    read_flags: int = wire(U8)
    message_ids: tuple = wire(IDS16, ())


@dataclass
class SetReadFlagsResponse(RopResponse):
    ROP_ID = 0x66
    partial_completion: int = wire(BOOL, always=True)


@dataclass
class GetMessageStatusRequest(RopRequest):
    ROP_ID = 0x1F
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    message_id: int = wire(U64)


@dataclass
class GetMessageStatusResponse(RopResponse):
    ROP_ID = 0x1F
    message_status_flags: int = wire(U32)


@dataclass
class SetMessageStatusRequest(RopRequest):
    ROP_ID = 0x20
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    message_id: int = wire(U64)
    message_status_flags: int = wire(U32)
    message_status_mask: int = wire(U32)


@dataclass
class SetMessageStatusResponse(GetMessageStatusResponse):
    ROP_ID = 0x20


@dataclass
class GetAttachmentTableRequest(RopRequest):
    ROP_ID = 0x21
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    table_flags: int = wire(U8)


@dataclass
class GetAttachmentTableResponse(RopResponse):
    ROP_ID = 0x21


@dataclass
class OpenAttachmentRequest(RopRequest):
    ROP_ID = 0x22
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    open_attachment_flags: int = wire(U8)
    attachment_id: int = wire(U32)


@dataclass
class OpenAttachmentResponse(RopResponse):
    ROP_ID = 0x22


@dataclass
class CreateAttachmentRequest(RopRequest):
    ROP_ID = 0x23
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)


@dataclass
class CreateAttachmentResponse(RopResponse):
    ROP_ID = 0x23
    attachment_id: int = wire(U32)


@dataclass
class DeleteAttachmentRequest(RopRequest):
    ROP_ID = 0x24
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    attachment_id: int = wire(U32)


@dataclass
class DeleteAttachmentResponse(RopResponse):
    ROP_ID = 0x24


@dataclass
class SaveChangesAttachmentRequest(RopRequest):
    ROP_ID = 0x25
    logon_id: int = wire(U8)
    response_handle_index: int = wire(U8)
    input_handle_index: int = wire(U8)
    save_flags: int = wire(U8)


@dataclass
class SaveChangesAttachmentResponse(RopResponse):
    ROP_ID = 0x25


@dataclass
class SubmitMessageRequest(RopRequest):
    ROP_ID = 0x32
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    submit_flags: int = wire(U8)


@dataclass
class SubmitMessageResponse(RopResponse):
    ROP_ID = 0x32


@dataclass
class AbortSubmitRequest(RopRequest):
    ROP_ID = 0x34
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    folder_id: int = wire(U64)
    message_id: int = wire(U64)


@dataclass
class AbortSubmitResponse(RopResponse):
    ROP_ID = 0x34


@dataclass
class SetSpoolerRequest(RopRequest):
    ROP_ID = 0x47
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class SetSpoolerResponse(RopResponse):
    ROP_ID = 0x47


@dataclass
class GetTransportFolderRequest(SetSpoolerRequest):
    ROP_ID = 0x6D


@dataclass
class GetTransportFolderResponse(RopResponse):
    ROP_ID = 0x6D
    folder_id: int = wire(U64)


@dataclass
class GetAddressTypesRequest(RopRequest):
    ROP_ID = 0x49
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class GetAddressTypesResponse(RopResponse):
    """2.2.7.7.2: AddressTypeCount (2), AddressTypeSize (2, bytes of what follows), then the
    NUL-terminated 8-bit address types."""

    ROP_ID = 0x49
    address_types: tuple = ()

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        count, size = r.u16(), r.u16()
        sub = Reader(r.take(size))
        types = tuple(sub.asciiz() for _ in range(count))
        if sub.left():
            raise RopFormatError("AddressTypeSize does not match the address types")
        return cls(idx, rv, types)

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u8(out, self.handle_index)
        put_u32(out, self.return_value)
        if self.return_value:
            return
        body = bytearray()
        for t in self.address_types:
            put_asciiz(body, t)
        put_u16(out, len(self.address_types))
        put_u16(out, len(body))
        out += body


_ALL = [v for k, v in dict(globals()).items()
        if isinstance(v, type) and v.__module__ == __name__ and not k.startswith("_")]
REQUESTS = {c.ROP_ID: c for c in _ALL if issubclass(c, RopRequest)}
RESPONSES = {c.ROP_ID: c for c in _ALL if issubclass(c, RopResponse)}
NAMES = {0x03: "RopOpenMessage", 0x06: "RopCreateMessage", 0x0C: "RopSaveChangesMessage",
         0x0D: "RopRemoveAllRecipients", 0x0E: "RopModifyRecipients", 0x66: "RopSetReadFlags",
         0x1F: "RopGetMessageStatus", 0x20: "RopSetMessageStatus", 0x21: "RopGetAttachmentTable",
         0x22: "RopOpenAttachment", 0x23: "RopCreateAttachment", 0x24: "RopDeleteAttachment",
         0x25: "RopSaveChangesAttachment", 0x32: "RopSubmitMessage", 0x34: "RopAbortSubmit",
         0x47: "RopSetSpooler", 0x6D: "RopGetTransportFolder", 0x49: "RopGetAddressTypes"}
