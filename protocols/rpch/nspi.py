"""NspiBind over DCE/RPC (MS-OXNSPI 3.1.4.1.1): the stub of the call that opens an address book session.

Request: ``dwFlags`` (u32), the STAT (MS-OXNSPI 2.3.7: nine u32 — SortType, ContainerID, CurrentRec,
Delta, NumPos, TotalRecs, CodePage, TemplateLocale, SortLocale), then a unique pointer to the
server GUID (a referent id, then 16 bytes when it is not 0). Answer: the pointer to the server GUID
and its bytes, the 20-byte context handle, the return value. Little-endian NDR. Both ways: the two
NspiBind calls of Outlook 2003's capture decode and encode back to their bytes.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

STAT_FIELDS = ("sort_type", "container_id", "current_rec", "delta", "num_pos", "total_recs", "code_page",
               "template_locale", "sort_locale")


class NspiStubError(ValueError):
    pass


@dataclass
class BindRequest:
    flags: int
    stat: dict
    server_guid: str | None
    referent: int = 0x00020000       # the unique pointer's referent id (0: no GUID)


@dataclass
class BindResponse:
    server_guid: str | None
    handle: bytes
    return_value: int
    referent: int = 0x00020000


def decode_bind_request(stub: bytes) -> BindRequest:
    if len(stub) < 44:
        raise NspiStubError(f"NspiBind request of {len(stub)} bytes is shorter than dwFlags, STAT and the pointer")
    flags, *stat = struct.unpack_from("<10I", stub)
    ptr = struct.unpack_from("<I", stub, 40)[0]
    guid = str(uuid.UUID(bytes_le=stub[44:60])) if ptr and len(stub) >= 60 else None
    return BindRequest(flags, dict(zip(STAT_FIELDS, stat)), guid, ptr)


def encode_bind_request(req: BindRequest) -> bytes:
    out = struct.pack("<10I", req.flags, *(req.stat.get(f, 0) for f in STAT_FIELDS))
    ptr = req.referent if req.server_guid is not None else 0
    out += struct.pack("<I", ptr)
    if ptr:
        out += uuid.UUID(req.server_guid).bytes_le
    return out


def decode_bind_response(stub: bytes) -> BindResponse:
    ptr = struct.unpack_from("<I", stub)[0] if len(stub) >= 4 else 0
    off = 20 if ptr else 4
    if len(stub) < off + 24:
        raise NspiStubError(f"NspiBind answer of {len(stub)} bytes is too short")
    guid = str(uuid.UUID(bytes_le=stub[4:20])) if ptr else None
    return BindResponse(guid, stub[off:off + 20], struct.unpack_from("<I", stub, off + 20)[0], ptr)


def encode_bind_response(resp: BindResponse) -> bytes:
    ptr = resp.referent if resp.server_guid is not None else 0
    out = struct.pack("<I", ptr)
    if ptr:
        out += uuid.UUID(resp.server_guid).bytes_le
    if len(resp.handle) != 20:
        raise NspiStubError("a context handle is 20 bytes")
    return out + resp.handle + struct.pack("<I", resp.return_value)
