"""The ROP buffer, MS-OXCROPS 2.2.1: RopSize (2 bytes, counting itself and the RopsList),
the RopsList, then the server object handle table (4-byte handles to the end).

A ROP carries no length of its own, so the list can only be walked with a codec for
every RopId in it.  What the spec says about a buffer the server cannot parse
(MS-OXCROPS 3.2.5.1, R4551): the call fails with 0x000004B6 (ecRpcFormat); it says
nothing more about one RopId it does not know.  This decoder is kinder so the server can
do what ARCHITECTURE.md asks (the ROPs before still run, the unknown one gets its own
error): on a RopId without a codec it stops and returns an ``UnknownRop`` holding that
RopId, the LogonId and InputHandleIndex bytes where they would be, and the rest of the
RopsList raw.  Nothing after it can be decoded, so nothing after it can run; the server
answers it with a failure response (RopId, index, ecNotSupported or ecNotImplemented).
A ROP whose codec runs out of bytes or finds a malformed field raises RopFormatError.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Mapping

from ._wire import Reader, RopContext
from .errors import RopFormatError


@dataclass
class UnknownRop:
    """A RopId with no codec and the rest of the RopsList from it (``raw`` starts with it)."""

    rop_id: int
    logon_id: int | None = None
    input_handle_index: int | None = None
    raw: bytes = b""
    ROP_ID = None

    def encode(self, out: bytearray) -> None:
        out += self.raw


@dataclass
class RopErrorResponse:
    """A failure response of a ROP without a response codec: RopId, handle index, ReturnValue."""

    rop_id: int
    handle_index: int
    return_value: int

    def encode(self, out: bytearray) -> None:
        out.append(self.rop_id)
        out.append(self.handle_index)
        out += struct.pack("<I", self.return_value)


@dataclass
class RopBuffer:
    rops: list = field(default_factory=list)
    handles: list = field(default_factory=list)


def _split(buf) -> tuple[bytes, int, list]:
    buf = bytes(buf)
    if len(buf) < 2:
        raise RopFormatError("ROP buffer shorter than its RopSize")
    (rop_size,) = struct.unpack_from("<H", buf, 0)
    if rop_size < 2 or rop_size > len(buf):
        raise RopFormatError(f"RopSize {rop_size} outside the {len(buf)}-byte buffer")
    tail = len(buf) - rop_size
    if tail % 4:
        raise RopFormatError(f"server object handle table of {tail} bytes is not whole handles")
    handles = list(struct.unpack_from(f"<{tail // 4}I", buf, rop_size))
    return buf, rop_size, handles


def decode_requests(buf, requests: Mapping[int, type]) -> RopBuffer:
    """A ROP input buffer into request objects (``requests``: RopId -> request class)."""
    buf, rop_size, handles = _split(buf)
    r = Reader(buf, 2, rop_size)
    rops = []
    while r.off < rop_size:
        start = r.off
        rop_id = r.u8()
        cls = requests.get(rop_id)
        if cls is None:
            rest = buf[start:rop_size]
            rops.append(UnknownRop(rop_id, rest[1] if len(rest) > 1 else None,
                                   rest[2] if len(rest) > 2 else None, rest))
            break
        rops.append(cls.decode(r))
    return RopBuffer(rops, handles)


def decode_responses(buf, responses: Mapping[int, type], requests=(), columns=None) -> RopBuffer:
    """A ROP output buffer into response objects.  ``requests`` (the input buffer's ROPs,
    in order) let a response find the request it answers; ``columns`` maps a table's
    handle index to its column tags from earlier buffers; RopSetColumns requests in
    ``requests`` add to it as the walk passes them."""
    buf, rop_size, handles = _split(buf)
    cols = dict(columns or {})
    reqs = list(requests)
    cursor = 0
    r = Reader(buf, 2, rop_size)
    rops = []
    while r.off < rop_size:
        start = r.off
        rop_id = r.u8()
        cls = responses.get(rop_id)
        req = None
        for i in range(cursor, len(reqs)):
            if getattr(reqs[i], "ROP_ID", None) == rop_id:
                for q in reqs[cursor:i + 1]:
                    if getattr(q, "ROP_ID", None) == 0x12:  # RopSetColumns
                        cols[q.input_handle_index] = tuple(q.property_tags)
                req, cursor = reqs[i], i + 1
                break
        if cls is None:
            if r.left() >= 5:
                idx, rv = r.u8(), r.u32()
                if rv:
                    rops.append(RopErrorResponse(rop_id, idx, rv))
                    continue
            rops.append(UnknownRop(rop_id, raw=buf[start:rop_size]))
            break
        idx = buf[r.off] if r.off < rop_size else None
        ctx = RopContext(req, cols.get(idx))
        rops.append(cls.decode(r, ctx))
    return RopBuffer(rops, handles)


def encode_buffer(rops, handles) -> bytes:
    """RopSize + each ROP's encoding + the handle table (requests or responses alike)."""
    out = bytearray(b"\x00\x00")
    for rop in rops:
        rop.encode(out)
    if len(out) > 0xFFFF:
        raise RopFormatError(f"RopsList of {len(out)} bytes does not fit RopSize")
    struct.pack_into("<H", out, 0, len(out))
    for h in handles:
        try:
            out += struct.pack("<I", h)
        except struct.error as exc:
            raise RopFormatError(f"bad server object handle {h!r}") from exc
    return bytes(out)


