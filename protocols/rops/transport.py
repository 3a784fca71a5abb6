"""Transport ROPs the spooler side of a client uses (MS-OXCROPS 2.2.7): RopTransportSend (2.2.7.6),
RopSpoolerLockMessage (2.2.7.4), RopTransportNewMail (2.2.7.8), RopOptionsData (2.2.7.9)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import (
    BLOB16, BOOL, U8, U32, U64, Reader, RopRequest, RopResponse, put_asciiz, put_u8,
    wire,
)
from .logon import ASCIIZ
from .property import TAGGED_LIST          # PropertyValueCount + TaggedPropertyValues


@dataclass
class TransportSendRequest(RopRequest):
    ROP_ID = 0x4A
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)


@dataclass
class TransportSendResponse(RopResponse):
    """NoPropertiesReturned (1); when it is 0, PropertyValueCount (2) and TaggedPropertyValues: the
    properties the message has after the send."""

    ROP_ID = 0x4A
    no_properties_returned: int = 1
    property_values: tuple = ()

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        none = r.u8()
        return cls(idx, rv, none, () if none else TAGGED_LIST.read(r))

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u8(out, self.no_properties_returned)
        if not self.no_properties_returned:
            TAGGED_LIST.write(out, self.property_values)


@dataclass
class SpoolerLockMessageRequest(RopRequest):
    ROP_ID = 0x48
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    message_id: int = wire(U64)
    lock_state: int = wire(U8)


@dataclass
class SpoolerLockMessageResponse(RopResponse):
    ROP_ID = 0x48


@dataclass
class TransportNewMailRequest(RopRequest):
    ROP_ID = 0x51
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    message_id: int = wire(U64)
    folder_id: int = wire(U64)
    message_class: str = wire(ASCIIZ, "")
    message_flags: int = wire(U32)


@dataclass
class TransportNewMailResponse(RopResponse):
    ROP_ID = 0x51


@dataclass
class OptionsDataRequest(RopRequest):
    ROP_ID = 0x6F
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    address_type: str = wire(ASCIIZ, "")
    want_win32: int = wire(BOOL)


@dataclass
class OptionsDataResponse(RopResponse):
    """Reserved (1), OptionsInfo (2-byte size + bytes), HelpFile (2-byte size + bytes), and HelpFileName
    (8-bit, NUL-terminated) only when there is a help file."""

    ROP_ID = 0x6F
    reserved: int = 1
    options_info: bytes = b""
    help_file: bytes = b""
    help_file_name: str | None = None

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        reserved, info, help_file = r.u8(), BLOB16.read(r), BLOB16.read(r)
        return cls(idx, rv, reserved, info, help_file, r.asciiz() if help_file else None)

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u8(out, self.reserved)
        BLOB16.write(out, self.options_info)
        BLOB16.write(out, self.help_file)
        if self.help_file:
            put_asciiz(out, self.help_file_name or "")


REQUESTS = {c.ROP_ID: c for c in (TransportSendRequest, SpoolerLockMessageRequest, TransportNewMailRequest,
                                  OptionsDataRequest)}
RESPONSES = {c.ROP_ID: c for c in (TransportSendResponse, SpoolerLockMessageResponse, TransportNewMailResponse,
                                   OptionsDataResponse)}
NAMES = {0x4A: "RopTransportSend", 0x48: "RopSpoolerLockMessage", 0x51: "RopTransportNewMail",
         0x6F: "RopOptionsData"}
