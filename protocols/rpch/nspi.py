"""NspiBind over DCE/RPC (MS-OXNSPI 3.1.4.1.1): the stub of the call that opens an address book session.

Request: ``dwFlags`` (u32), the STAT (MS-OXNSPI 2.3.7: nine u32 — SortType, ContainerID, CurrentRec,
Delta, NumPos, TotalRecs, CodePage, TemplateLocale, SortLocale), then a unique pointer to the
server GUID (a referent id, then 16 bytes when it is not 0). Answer: the pointer to the server GUID
and its bytes, the 20-byte context handle, the return value. Little-endian NDR.
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


@dataclass
class BindResponse:
    server_guid: str | None
    handle: bytes
    return_value: int


def decode_bind_request(stub: bytes) -> BindRequest:
    if len(stub) < 44:
        raise NspiStubError(f"NspiBind request of {len(stub)} bytes is shorter than dwFlags, STAT and the pointer")
    flags, *stat = struct.unpack_from("<10I", stub)
    ptr = struct.unpack_from("<I", stub, 40)[0]
    guid = str(uuid.UUID(bytes_le=stub[44:60])) if ptr and len(stub) >= 60 else None
    return BindRequest(flags, dict(zip(STAT_FIELDS, stat)), guid)


def decode_bind_response(stub: bytes) -> BindResponse:
    ptr = struct.unpack_from("<I", stub)[0] if len(stub) >= 4 else 0
    off = 20 if ptr else 4
    if len(stub) < off + 24:
        raise NspiStubError(f"NspiBind answer of {len(stub)} bytes is too short")
    guid = str(uuid.UUID(bytes_le=stub[4:20])) if ptr else None
    return BindResponse(guid, stub[off:off + 20], struct.unpack_from("<I", stub, off + 20)[0])
