"""A file holding one raw DCE/RPC stub: the NDR parameters of one call, without PDU headers (what
OpenChange's mapitest and a debugger's dump keep, e.g. captures/openchange-lzxpress/*.dat).

Such a file has no header of its own, so it is recognised by its layout alone. An EcDoRpcExt2
request (MS-OXCRPC 3.1.4.2) is taken when every one of these holds:

- a context handle first (20 bytes: attributes 0, then a GUID), pulFlags at 20, the conformant
  rgbIn's count at 24, rgbIn from 28;
- after rgbIn (4-aligned) cbIn repeats that count, then pcbOut, the auxiliary array and cbAuxIn;
- rgbIn starts with an RPC_HEADER_EXT (MS-OXCRPC 2.2.2.1): Version 0, a flag set within
  Compressed|XorMagic|Last, Size at most what follows it;
- the stub encodes back to the very bytes read (nothing before, between or after is unaccounted).

A file that starts like one (the handle, an RPC_HEADER_EXT at 28 that fits the count at 24) but
ends before the stub does is read as a cut-off EcDoRpcExt2 request, and said to be truncated.

Anything else needs ``--stub INTERFACE:OPERATION`` (``emsmdb:EcDoRpcExt2``, ``emsmdb:EcDoRpc``;
``:response`` for an answer's stub), which skips the guess but not the decoding.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from protocols.rpch import emsmdb

from .model import Capture, Problem

# (interface, operation) -> opnum, as MS-OXCRPC numbers them
KNOWN = {("EMSMDB", "EcDoRpcExt2"): 11, ("EMSMDB", "EcDoRpc"): 2}


@dataclass(frozen=True)
class Stub:
    interface: str
    operation: str
    opnum: int
    direction: str                   # "request" or "response"
    data: bytes
    how: str                         # how it was recognised ("layout", "--stub")


def looks_like_ecdorpcext2_request(data: bytes) -> bool:
    if len(data) < 48 or data[:4] != b"\x00\x00\x00\x00":
        return False
    n = struct.unpack_from("<I", data, 24)[0]
    end = 28 + n
    if n < 8 or end + 12 > len(data):
        return False
    version, flags, size = struct.unpack_from("<HHH", data, 28)
    if version != 0 or flags & ~0x7 or size + 8 > n:
        return False
    try:
        r = emsmdb.decode_ecdorpcext2_request(data)
        return emsmdb.encode_ecdorpcext2_request(r) == data
    except (emsmdb.StubError, struct.error, IndexError):
        return False


def looks_like_cut_ecdorpcext2_request(data: bytes) -> bool:
    """The start of an EcDoRpcExt2 request whose file ends before the stub does: the handle, then an
    RPC_HEADER_EXT at 28 that fits the rgbIn count at 24 (up to MS-OXCRPC's 0x40000 bytes)."""
    if len(data) < 36 or data[:4] != b"\x00\x00\x00\x00":
        return False
    n = struct.unpack_from("<I", data, 24)[0]
    version, flags, size = struct.unpack_from("<HHH", data, 28)
    return 8 <= n <= 0x40000 and 28 + n + 12 > len(data) and version == 0 and flags & 0x4 \
        and not flags & ~0x7 and size + 8 <= n


def sniff_stub(data: bytes) -> str | None:
    if looks_like_ecdorpcext2_request(data) or looks_like_cut_ecdorpcext2_request(data):
        return "emsmdb:EcDoRpcExt2"
    return None


def parse_kind(kind: str) -> tuple[str, str, str] | None:
    """``emsmdb:EcDoRpcExt2[:response]`` -> ("EMSMDB", "EcDoRpcExt2", "response"); None if not known."""
    parts = kind.split(":")
    if len(parts) not in (2, 3):
        return None
    iface = parts[0].upper()
    op = next((o for (i, o) in KNOWN if i == iface and o.lower() == parts[1].lower()), None)
    direction = parts[2].lower() if len(parts) == 3 else "request"
    if op is None or direction not in ("request", "response"):
        return None
    return iface, op, direction


def read_stub(name: str, data: bytes, kind: str | None = None) -> Capture:
    """The file as a capture of one stub (``Capture.meta["stubs"]``); ``kind`` as ``--stub`` gives it."""
    how = "--stub" if kind else "layout"
    kind = kind or sniff_stub(data)
    parsed = parse_kind(kind) if kind else None
    if parsed is None:
        known = ", ".join(f"{i.lower()}:{o}" for i, o in KNOWN)
        return Capture("unknown", problems=[Problem(name, f"--stub {kind!r} is not one exgate reads ({known}, "
                                                          "with :response for an answer)" if kind else
                                                          "not a raw stub exgate recognises")])
    iface, op, direction = parsed
    cap = Capture("stub")
    if how == "layout" and not looks_like_ecdorpcext2_request(data):
        n = struct.unpack_from("<I", data, 24)[0]
        cap.problems.append(Problem(name, f"truncated: the file ends {len(data) - 28} byte(s) into rgbIn's {n} "
                                          "(the stub is cut off)"))
    cap.meta["stubs"] = [Stub(iface, op, KNOWN[(iface, op)], direction, data, how)]
    return cap
