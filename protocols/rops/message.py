"""Message and attachment ROPs (MS-OXCROPS 2.2.6, 2.2.7) and submission ROPs (2.2.7.x):
RopCreateMessage, RopSaveChangesMessage, RopRemoveAllRecipients, RopModifyRecipients,
RopSetReadFlags, RopGetMessageStatus, RopSetMessageStatus, RopGetAttachmentTable,
RopOpenAttachment, RopCreateAttachment, RopDeleteAttachment, RopSaveChangesAttachment,
RopSubmitMessage, RopAbortSubmit, RopSetSpooler, RopGetTransportFolder, RopGetAddressTypes, RopOpenMessage and
RopReadRecipients (their recipient rows: ``recipients.RecipientRow``)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import (
    BOOL, IDS16, TAGS16, U8, U16, U32, U64, Kind, Reader, RopRequest, RopResponse, put_asciiz, put_u8,
    put_u16, put_u32, put_u64, put_utf16z, wire,
)
from .errors import RopFormatError
from .recipients import RecipientRow, decode_recipient_row, encode_recipient_row


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


# TypedString StringType, MS-OXCDATA 2.11.x
STRING_NONE, STRING_EMPTY, STRING_8BIT, STRING_REDUCED_UNICODE, STRING_UNICODE = 0x00, 0x01, 0x02, 0x03, 0x04


@dataclass(frozen=True)
class TypedString:
    """StringType (1) then the string: none (0x00) and empty (0x01) carry nothing, 8-bit (0x02) and
    reduced Unicode (0x03, one byte per character, each below 0x100) a NUL-terminated byte string,
    Unicode (0x04) a NUL-terminated UTF-16LE string. ``value`` is None for none, "" for empty."""

    string_type: int
    value: str | None = None

    @classmethod
    def of(cls, s: str | None) -> "TypedString":
        """How a server sends ``s``: none, empty, or Unicode."""
        if s is None:
            return cls(STRING_NONE)
        return cls(STRING_EMPTY, "") if s == "" else cls(STRING_UNICODE, s)

    @classmethod
    def read(cls, r: Reader) -> "TypedString":
        t = r.u8()
        if t == STRING_NONE:
            return cls(t)
        if t == STRING_EMPTY:
            return cls(t, "")
        if t in (STRING_8BIT, STRING_REDUCED_UNICODE):
            return cls(t, r.asciiz())
        if t == STRING_UNICODE:
            return cls(t, r.utf16z())
        raise RopFormatError(f"TypedString StringType 0x{t:02X}")

    def write(self, out: bytearray) -> None:
        put_u8(out, self.string_type)
        if self.string_type in (STRING_NONE, STRING_EMPTY):
            return
        if self.value is None:
            raise RopFormatError(f"TypedString of type 0x{self.string_type:02X} needs a value")
        if self.string_type in (STRING_8BIT, STRING_REDUCED_UNICODE):
            put_asciiz(out, self.value)
        elif self.string_type == STRING_UNICODE:
            put_utf16z(out, self.value)
        else:
            raise RopFormatError(f"TypedString StringType 0x{self.string_type:02X}")


@dataclass(frozen=True)
class OpenRecipientRow:
    """MS-OXCROPS 2.2.6.1.2.1: RecipientType (1), CodePageId (2), Reserved (2), RecipientRowSize (2),
    RecipientRow (MS-OXCDATA 2.8.3)."""

    recipient_type: int
    code_page_id: int
    recipient_row: RecipientRow
    reserved: int = 0


def _read_recipient(r: Reader, columns) -> RecipientRow:
    size = r.u16()
    r.need(size)
    row, end = decode_recipient_row(r.buf, r.off, columns, end=r.off + size)
    if end != r.off + size:
        raise RopFormatError(f"RecipientRowSize {size} but the RecipientRow takes {end - r.off}")
    r.off = end
    return row


def _write_recipient(out: bytearray, row: RecipientRow, columns) -> None:
    data = encode_recipient_row(row, columns)
    put_u16(out, len(data))
    out += data


@dataclass
class OpenMessageResponse(RopResponse):
    """2.2.6.1.2: HasNamedProperties (1), SubjectPrefix and NormalizedSubject (TypedString),
    RecipientCount (2), ColumnCount (2), RecipientColumns (4 each), RowCount (1), RecipientRows
    (OpenRecipientRow; the rows that fit, RopReadRecipients fetches the rest)."""

    ROP_ID = 0x03
    has_named_properties: int = 0
    subject_prefix: TypedString = TypedString(STRING_NONE)
    normalized_subject: TypedString = TypedString(STRING_NONE)
    recipient_count: int = 0
    recipient_columns: tuple = ()
    recipient_rows: tuple = ()

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        return cls(idx, rv, **cls.read_message(r))

    @staticmethod
    def read_message(r: Reader) -> dict:
        """The fields from HasNamedProperties on (shared with RopReloadCachedInformation and
        RopOpenEmbeddedMessage)."""
        named = r.u8()
        prefix, subject = TypedString.read(r), TypedString.read(r)
        count = r.u16()
        columns = TAGS16.read(r)
        rows = []
        for _ in range(r.u8()):
            rtype, cpid, reserved = r.u8(), r.u16(), r.u16()
            rows.append(OpenRecipientRow(rtype, cpid, _read_recipient(r, columns), reserved))
        return dict(has_named_properties=named, subject_prefix=prefix, normalized_subject=subject,
                    recipient_count=count, recipient_columns=columns, recipient_rows=tuple(rows))

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        self.write_message(out)

    def write_message(self, out: bytearray) -> None:
        put_u8(out, self.has_named_properties)
        self.subject_prefix.write(out)
        self.normalized_subject.write(out)
        put_u16(out, self.recipient_count)
        TAGS16.write(out, self.recipient_columns)
        put_u8(out, len(self.recipient_rows))
        for row in self.recipient_rows:
            put_u8(out, row.recipient_type)
            put_u16(out, row.code_page_id)
            put_u16(out, row.reserved)
            _write_recipient(out, row.recipient_row, self.recipient_columns)


@dataclass
class ReadRecipientsRequest(RopRequest):
    ROP_ID = 0x0F
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    row_id: int = wire(U32)
    reserved: int = wire(U16)


@dataclass(frozen=True)
class ReadRecipientRow:
    """MS-OXCROPS 2.2.6.6.2.1: RowId (4), RecipientType (1), CodePageId (2), Reserved (2),
    RecipientRowSize (2), RecipientRow -- kept raw: the recipient columns are not in this response
    (``row(columns)`` decodes it with those of RopOpenMessage)."""

    row_id: int
    recipient_type: int
    code_page_id: int
    recipient_row: bytes
    reserved: int = 0

    def row(self, columns) -> RecipientRow:
        row, end = decode_recipient_row(self.recipient_row, 0, columns)
        if end != len(self.recipient_row):
            raise RopFormatError("RecipientRowSize does not match the RecipientRow")
        return row


@dataclass
class ReadRecipientsResponse(RopResponse):
    """2.2.6.6.2: RowCount (1), RecipientRows."""

    ROP_ID = 0x0F
    recipient_rows: tuple = ()

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        rows = []
        for _ in range(r.u8()):
            row_id, rtype, cpid, reserved = r.u32(), r.u8(), r.u16(), r.u16()
            rows.append(ReadRecipientRow(row_id, rtype, cpid, r.take(r.u16()), reserved))
        return cls(idx, rv, tuple(rows))

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u8(out, len(self.recipient_rows))
        for row in self.recipient_rows:
            put_u32(out, row.row_id)
            put_u8(out, row.recipient_type)
            put_u16(out, row.code_page_id)
            put_u16(out, row.reserved)
            put_u16(out, len(row.recipient_row))
            out += row.recipient_row


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
        if not self.write_head(out):
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
class SetMessageReadFlagRequest(RopRequest):
    """2.2.6.11.1: ResponseHandleIndex, InputHandleIndex, ReadFlags; ClientData (24) follows only on a
    public folders logon, which this codec does not carry (private mailboxes only)."""

    ROP_ID = 0x11
    logon_id: int = wire(U8)
    response_handle_index: int = wire(U8)
    input_handle_index: int = wire(U8)
    read_flags: int = wire(U8)


@dataclass
class SetMessageReadFlagResponse(RopResponse):
    """handle_index is the ResponseHandleIndex; ReadStatusChanged (then LogonId and ClientData on a
    public logon only)."""

    ROP_ID = 0x11
    read_status_changed: int = wire(BOOL)


@dataclass
class ReloadCachedInformationRequest(RopRequest):
    ROP_ID = 0x10
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    reserved: int = wire(U16)


@dataclass
class ReloadCachedInformationResponse(OpenMessageResponse):
    """2.2.6.7.2: the fields of RopOpenMessage's response."""

    ROP_ID = 0x10


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
        if not self.write_head(out):
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
         0x0F: "RopReadRecipients", 0x0D: "RopRemoveAllRecipients", 0x0E: "RopModifyRecipients", 0x66: "RopSetReadFlags",
         0x1F: "RopGetMessageStatus", 0x20: "RopSetMessageStatus", 0x21: "RopGetAttachmentTable",
         0x22: "RopOpenAttachment", 0x23: "RopCreateAttachment", 0x24: "RopDeleteAttachment",
         0x25: "RopSaveChangesAttachment", 0x32: "RopSubmitMessage", 0x34: "RopAbortSubmit",
         0x47: "RopSetSpooler", 0x6D: "RopGetTransportFolder", 0x49: "RopGetAddressTypes",
         0x11: "RopSetMessageReadFlag", 0x10: "RopReloadCachedInformation"}
