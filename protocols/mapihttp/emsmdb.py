"""Request and response bodies of the mailbox server endpoint (/mapi/emsmdb).

MS-OXCMAPIHTTP 2.2.4. Every field is little-endian; each XxxBufferSize is a
u32 followed by that many bytes. The fields mirror the parameters of the RPC
calls they replace (MS-OXCRPC 3.1.4.1 EcDoConnectEx, 3.1.4.2 EcDoRpcExt2,
3.3.4.1 EcDoAsyncWaitEx), which is where their meaning is specified.

A response body comes in two shapes (2.2.4.x.2 success, 2.2.4.x.3 failure):
StatusCode 0 is followed by ErrorCode and the type's fields; a non-zero
StatusCode is followed only by AuxiliaryBufferSize + AuxiliaryBuffer, the
same layout for every request type (``FailureResponse``).

The RopBuffer and AuxiliaryBuffer are opaque here: ``protocols.rops`` reads
the RPC_HEADER_EXT and ROPs inside them.

PING (2.2.6) has neither a request nor a response body; Disconnect's request
body is a bare AuxiliaryBufferSize + AuxiliaryBuffer (2.2.4.3.1), although
3.1.5.4 (R1165) says it has none, so an empty Disconnect body is read too.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

from . import _wire
from ._wire import Reader
from .errors import MapiHttpDecodeError


class ConnectFlags(IntFlag):
    """Connect Flags = EcDoConnectEx ulFlags (MS-OXCRPC 3.1.4.1)."""

    NONE = 0
    ADMIN = 0x00000001
    # 0x8000: the client copes with an organisation that has no public folders
    IGNORE_NO_PUBLIC_FOLDERS = 0x00008000


class ExecuteFlags(IntFlag):
    """Execute request Flags = EcDoRpcExt2 pulFlags on input (MS-OXCRPC 3.1.4.2)."""

    NONE = 0
    NO_COMPRESSION = 0x00000001
    NO_XOR_MAGIC = 0x00000002
    CHAIN = 0x00000004


# ---------------------------------------------------------------- failure


@dataclass(frozen=True, slots=True)
class FailureResponse:
    """Any request type's failure body (2.2.4.1.3, 2.2.4.2.3, 2.2.4.3.3, 2.2.4.4.3)."""

    status_code: int
    auxiliary_buffer: bytes = b""

    def __post_init__(self) -> None:
        if self.status_code == 0:
            raise ValueError("a failure body needs a non-zero StatusCode")

    def encode(self) -> bytes:
        return _wire.u32(self.status_code) + _wire.sized(self.auxiliary_buffer)


def _failure(r: Reader, status_code: int) -> FailureResponse:
    aux = r.sized("AuxiliaryBuffer")
    r.end()
    return FailureResponse(status_code, aux)


# ---------------------------------------------------------------- Connect


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """2.2.4.1.1. UserDn is ASCII; note the order: LcidSort before LcidString."""

    user_dn: str
    flags: int = ConnectFlags.NONE
    default_code_page: int = 1252
    lcid_sort: int = 1033
    lcid_string: int = 1033
    auxiliary_buffer: bytes = b""

    @classmethod
    def decode(cls, data: bytes) -> "ConnectRequest":
        r = Reader(data, "Connect request")
        user_dn = r.ascii_z("UserDn")
        flags = r.u32("Flags")
        code_page = r.u32("DefaultCodePage")
        lcid_sort = r.u32("LcidSort")
        lcid_string = r.u32("LcidString")
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(user_dn, flags, code_page, lcid_sort, lcid_string, aux)

    def encode(self) -> bytes:
        return b"".join((
            _wire.ascii_z(self.user_dn),
            _wire.u32(self.flags),
            _wire.u32(self.default_code_page),
            _wire.u32(self.lcid_sort),
            _wire.u32(self.lcid_string),
            _wire.sized(self.auxiliary_buffer),
        ))


@dataclass(frozen=True, slots=True)
class ConnectResponse:
    """2.2.4.1.2, the success body. MaxPollingInterval and RetryDelay are milliseconds."""

    error_code: int = 0
    max_polling_interval: int = 60_000
    retry_count: int = 6
    retry_delay: int = 10_000
    dn_prefix: str = ""
    display_name: str = ""
    auxiliary_buffer: bytes = b""
    status_code: int = 0  # always 0 here; failures are FailureResponse

    @classmethod
    def decode(cls, data: bytes) -> "ConnectResponse | FailureResponse":
        r = Reader(data, "Connect response")
        status = r.u32("StatusCode")
        if status:
            return _failure(r, status)
        error_code = r.u32("ErrorCode")
        polls_max = r.u32("MaxPollingInterval")
        retry_count = r.u32("RetryCount")
        retry_delay = r.u32("RetryDelay")
        dn_prefix = r.ascii_z("DnPrefix")
        display_name = r.unicode_z("DisplayName")
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(error_code, polls_max, retry_count, retry_delay, dn_prefix, display_name, aux)

    def encode(self) -> bytes:
        return b"".join((
            _wire.u32(0),
            _wire.u32(self.error_code),
            _wire.u32(self.max_polling_interval),
            _wire.u32(self.retry_count),
            _wire.u32(self.retry_delay),
            _wire.ascii_z(self.dn_prefix),
            _wire.unicode_z(self.display_name),
            _wire.sized(self.auxiliary_buffer),
        ))


# ---------------------------------------------------------------- Execute


@dataclass(frozen=True, slots=True)
class ExecuteRequest:
    """2.2.4.2.1. ``rop_buffer`` starts with an RPC_HEADER_EXT (MS-OXCRPC 2.2.2.1)."""

    flags: int
    rop_buffer: bytes
    max_rop_out: int
    auxiliary_buffer: bytes = b""

    @classmethod
    def decode(cls, data: bytes) -> "ExecuteRequest":
        r = Reader(data, "Execute request")
        flags = r.u32("Flags")
        rops = r.sized("RopBuffer")
        max_rop_out = r.u32("MaxRopOut")
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(flags, rops, max_rop_out, aux)

    def encode(self) -> bytes:
        return b"".join((
            _wire.u32(self.flags),
            _wire.sized(self.rop_buffer),
            _wire.u32(self.max_rop_out),
            _wire.sized(self.auxiliary_buffer),
        ))


@dataclass(frozen=True, slots=True)
class ExecuteResponse:
    """2.2.4.2.2, the success body. Flags is reserved: the server sends 0."""

    rop_buffer: bytes
    error_code: int = 0
    flags: int = 0
    auxiliary_buffer: bytes = b""
    status_code: int = 0

    @classmethod
    def decode(cls, data: bytes) -> "ExecuteResponse | FailureResponse":
        r = Reader(data, "Execute response")
        status = r.u32("StatusCode")
        if status:
            return _failure(r, status)
        error_code = r.u32("ErrorCode")
        flags = r.u32("Flags")
        rops = r.sized("RopBuffer")
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(rops, error_code, flags, aux)

    def encode(self) -> bytes:
        return b"".join((
            _wire.u32(0),
            _wire.u32(self.error_code),
            _wire.u32(self.flags),
            _wire.sized(self.rop_buffer),
            _wire.sized(self.auxiliary_buffer),
        ))


# ---------------------------------------------------------------- Disconnect


@dataclass(frozen=True, slots=True)
class DisconnectRequest:
    """2.2.4.3.1. ``auxiliary_buffer`` None stands for an empty body (R1165)."""

    auxiliary_buffer: bytes | None = b""

    @classmethod
    def decode(cls, data: bytes) -> "DisconnectRequest":
        r = Reader(data, "Disconnect request")
        if r.at_end:
            return cls(None)
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(aux)

    def encode(self) -> bytes:
        return b"" if self.auxiliary_buffer is None else _wire.sized(self.auxiliary_buffer)


@dataclass(frozen=True, slots=True)
class DisconnectResponse:
    """2.2.4.3.2, the success body."""

    error_code: int = 0
    auxiliary_buffer: bytes = b""
    status_code: int = 0

    @classmethod
    def decode(cls, data: bytes) -> "DisconnectResponse | FailureResponse":
        r = Reader(data, "Disconnect response")
        status = r.u32("StatusCode")
        if status:
            return _failure(r, status)
        error_code = r.u32("ErrorCode")
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(error_code, aux)

    def encode(self) -> bytes:
        return _wire.u32(0) + _wire.u32(self.error_code) + _wire.sized(self.auxiliary_buffer)


# ---------------------------------------------------------------- NotificationWait


@dataclass(frozen=True, slots=True)
class NotificationWaitRequest:
    """2.2.4.4.1. Flags is reserved: the client sends 0 and the server ignores it."""

    flags: int = 0
    auxiliary_buffer: bytes = b""

    @classmethod
    def decode(cls, data: bytes) -> "NotificationWaitRequest":
        r = Reader(data, "NotificationWait request")
        flags = r.u32("Flags")
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(flags, aux)

    def encode(self) -> bytes:
        return _wire.u32(self.flags) + _wire.sized(self.auxiliary_buffer)


@dataclass(frozen=True, slots=True)
class NotificationWaitResponse:
    """2.2.4.4.2, the success body. EventPending 1: the client follows with an Execute."""

    event_pending: bool = False
    error_code: int = 0
    auxiliary_buffer: bytes = b""
    status_code: int = 0

    @classmethod
    def decode(cls, data: bytes) -> "NotificationWaitResponse | FailureResponse":
        r = Reader(data, "NotificationWait response")
        status = r.u32("StatusCode")
        if status:
            return _failure(r, status)
        error_code = r.u32("ErrorCode")
        pending = r.u32("EventPending")
        if pending > 1:
            raise MapiHttpDecodeError(f"NotificationWait response: EventPending is {pending:#x}, not 0 or 1")
        aux = r.sized("AuxiliaryBuffer")
        r.end()
        return cls(bool(pending), error_code, aux)

    def encode(self) -> bytes:
        return b"".join((
            _wire.u32(0),
            _wire.u32(self.error_code),
            _wire.u32(int(self.event_pending)),
            _wire.sized(self.auxiliary_buffer),
        ))


# ---------------------------------------------------------------- PING


@dataclass(frozen=True, slots=True)
class PingBody:
    """2.2.6: PING has no request body and no response body (meta-tags may still come)."""

    @classmethod
    def decode(cls, data: bytes) -> "PingBody":
        if data:
            raise MapiHttpDecodeError(f"PING: expected no body, got {len(data)} bytes")
        return cls()

    def encode(self) -> bytes:
        return b""


# ---------------------------------------------------------------- by request type

# request type name (canonical spelling of 2.2.3.3.1) -> (request codec, response codec)
BODIES: dict[str, tuple[type, type]] = {
    "Connect": (ConnectRequest, ConnectResponse),
    "Execute": (ExecuteRequest, ExecuteResponse),
    "Disconnect": (DisconnectRequest, DisconnectResponse),
    "NotificationWait": (NotificationWaitRequest, NotificationWaitResponse),
    "PING": (PingBody, PingBody),
}


def decode_request(request_type: str, data: bytes):
    """The request body of an EMSMDB request type (case-insensitive name)."""
    return _codec(request_type, 0).decode(data)


def decode_response(request_type: str, data: bytes):
    """The response body of an EMSMDB request type: its success type or FailureResponse."""
    return _codec(request_type, 1).decode(data)


def _codec(request_type: str, side: int) -> type:
    for name, pair in BODIES.items():
        if name.lower() == request_type.lower():
            return pair[side]
    raise KeyError(f"no EMSMDB body codec for request type {request_type!r}")
