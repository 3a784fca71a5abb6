"""ROP buffers (MS-OXCROPS) and their transport pieces (MS-OXCRPC): pure codecs.

- ``rpc_ext``: RPC_HEADER_EXT, the XOR 0xA5 obfuscation, the extended-buffer chain.
- ``lz77``: the LZ77 + DIRECT2 compression of those payloads, both ways.
- ``buffer``: RopSize + RopsList + server object handle table.
- one module per ROP family (``common``, ``logon``, ``folder``, ``table``, ``property``,
  ``stream``, ``message``), each exporting plain dicts ``REQUESTS``/``RESPONSES`` (RopId -> dataclass)
  and ``NAMES``; ``ROPS`` below merges them at import.  No module registers itself
  anywhere else.
- ``rows``: PropertyRow encode/decode against column tags (MS-OXCDATA 2.8).

Binary layouts use plain ``struct`` with a small declarative layer (``_wire``): a ROP is a
dataclass whose fields name their wire kind, in wire order.  ``construct`` was weighed
and left out: the layouts are short and flat (most are a handful of fixed fields), the
irregular ones (logon, ghosted folders, strings chosen by a flag, rows) need code either
way, the table-row path has to be ``struct`` for speed anyway, and one error type
(``RopFormatError``) is simpler to guarantee without a second library's exceptions.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import (common, copy, embedded, folder, logon, message, notify, permissions, property, rules, stream,
               table, transport)
from .buffer import RopBuffer, RopErrorResponse, UnknownRop, decode_requests, decode_responses, encode_buffer
from .errors import EC_RPC_FORMAT, RopFormatError
from .rpc_ext import (
    FLAG_COMPRESSED, FLAG_LAST, FLAG_XOR_MAGIC, ExtPiece, RpcHeaderExt, decode_ext_buffer,
    encode_ext_buffer, xor_magic,
)

EC_NOT_SUPPORTED = 0x80040102
EC_NOT_IMPLEMENTED = 0x80040FFF


@dataclass(frozen=True)
class RopCodec:
    rop_id: int
    name: str
    request: type | None
    response: type | None


_FAMILIES = (common, logon, folder, table, property, stream, message, embedded, transport, notify, permissions,
             rules, copy)


def _build() -> dict[int, RopCodec]:
    rops: dict[int, RopCodec] = {}
    for fam in _FAMILIES:
        for rop_id, name in fam.NAMES.items():
            if rop_id in rops:
                raise RuntimeError(f"RopId 0x{rop_id:02X} in two families")
            rops[rop_id] = RopCodec(rop_id, name, fam.REQUESTS.get(rop_id), fam.RESPONSES.get(rop_id))
    return rops


ROPS: dict[int, RopCodec] = _build()
REQUEST_CLASSES = {k: v.request for k, v in ROPS.items() if v.request is not None}
RESPONSE_CLASSES = {k: v.response for k, v in ROPS.items() if v.response is not None}


def rop_name(rop_id: int) -> str:
    c = ROPS.get(rop_id)
    return c.name if c else f"Rop0x{rop_id:02X}"


def decode_request_buffer(buf) -> RopBuffer:
    return decode_requests(buf, REQUEST_CLASSES)


def decode_response_buffer(buf, requests=(), columns=None) -> RopBuffer:
    return decode_responses(buf, RESPONSE_CLASSES, requests, columns)


__all__ = [
    "ROPS", "RopCodec", "rop_name", "RopBuffer", "UnknownRop", "RopErrorResponse",
    "decode_request_buffer", "decode_response_buffer", "encode_buffer", "RopFormatError",
    "EC_RPC_FORMAT", "EC_NOT_SUPPORTED", "EC_NOT_IMPLEMENTED", "RpcHeaderExt", "ExtPiece",
    "decode_ext_buffer", "encode_ext_buffer", "xor_magic", "FLAG_COMPRESSED", "FLAG_XOR_MAGIC",
    "FLAG_LAST",
]
