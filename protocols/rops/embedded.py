"""RopOpenEmbeddedMessage (MS-OXCROPS 2.2.6.16) and RopGetValidAttachments (2.2.6.17)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import U8, U16, U32S16, Reader, RopRequest, RopResponse, put_u8, put_u64, wire
from .message import OpenMessageResponse


@dataclass
class OpenEmbeddedMessageRequest(RopRequest):
    ROP_ID = 0x46
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    code_page_id: int = wire(U16)
    open_mode_flags: int = wire(U8)


@dataclass
class OpenEmbeddedMessageResponse(OpenMessageResponse):
    """2.2.6.16.2: Reserved (1) and MessageId (8), then RopOpenMessage's fields."""

    ROP_ID = 0x46
    reserved: int = 0
    message_id: int = 0

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        reserved, mid = r.u8(), r.u64()
        return cls(idx, rv, **cls.read_message(r), reserved=reserved, message_id=mid)

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u8(out, self.reserved)
        put_u64(out, self.message_id)
        self.write_message(out)


@dataclass
class GetValidAttachmentsRequest(RopRequest):
    ROP_ID = 0x52
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class GetValidAttachmentsResponse(RopResponse):
    """AttachmentIdCount (2), AttachmentIdArray (4 each)."""

    ROP_ID = 0x52
    attachment_ids: tuple = wire(U32S16, ())


REQUESTS = {c.ROP_ID: c for c in (OpenEmbeddedMessageRequest, GetValidAttachmentsRequest)}
RESPONSES = {c.ROP_ID: c for c in (OpenEmbeddedMessageResponse, GetValidAttachmentsResponse)}
NAMES = {0x46: "RopOpenEmbeddedMessage", 0x52: "RopGetValidAttachments"}
