"""The stubs (NDR, C706 ch. 14) of the EMSMDB calls that carry ROP buffers over DCE/RPC.

- EcDoRpcExt2 (opnum 11, MS-OXCRPC 3.1.4.2): ``pcxh`` (a 20-byte context handle), ``pulFlags``,
  ``rgbIn`` (a conformant array: max_count, then cbIn bytes), ``cbIn``, ``pcbOut``, ``rgbAuxIn``,
  ``cbAuxIn``, ``pcbAuxOut``; the answer: ``pcxh``, ``pulFlags``, ``rgbOut`` (conformant varying:
  max_count, offset, actual_count, bytes), ``pcbOut``, ``rgbAuxOut``, ``pcbAuxOut``,
  ``pulTransTime``, the return value. rgbIn/rgbOut are RPC_HEADER_EXT chains (MS-OXCRPC 3.1.4.2.1).
- EcDoRpc (opnum 2, Exchange 2003 and older; "Opnum2NotUsedOnWire" in MS-OXCRPC now, so the layout
  is the one Outlook 2003 sends, as captures/zeek-outlook2003-exchange-mapi.pcap shows it):
  ``pcxh``, a u32 buffer size, a u32 offset, a u32 length and that many bytes of ROP buffer
  (MS-OXCROPS 2.2.1: RopSize, RopsList, handle table), XOR-obfuscated with 0xA5 (MS-OXCRPC 3.1.7.2.1),
  then the u16 length and u16 maximum (aligned to 2). The answer has the same shape, then the return
  value in the last 4 bytes.
- EcDoConnect (opnum 0) and EcDoConnectEx (opnum 10): the user's DN (a conformant varying string)
  and, in the answer, the DN prefix and display name, for the decode's summary.

All NDR here is little-endian (the drep of every PDU in the captures; a big-endian stub is reported
by the caller, not read).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

XOR = 0xA5


class StubError(ValueError):
    """A stub that does not have the layout of its call."""


def _xor(data: bytes) -> bytes:
    return bytes(b ^ XOR for b in data)


def _align(off: int, n: int) -> int:
    return off + (-off % n)


def _u32(b: bytes, off: int) -> int:
    if off + 4 > len(b):
        raise StubError(f"stub ends at {len(b)} where a 4-byte field at {off} was expected")
    return struct.unpack_from("<I", b, off)[0]


def _cv_string(b: bytes, off: int) -> tuple[str, int]:
    """A conformant varying NUL-terminated 8-bit string (max_count, offset, actual_count, bytes)."""
    _max, _o, actual = _u32(b, off), _u32(b, off + 4), _u32(b, off + 8)
    raw = b[off + 12:off + 12 + actual]
    if len(raw) < actual:
        raise StubError("string runs past the stub")
    return raw.rstrip(b"\x00").decode("latin-1"), _align(off + 12 + actual, 4)


def looks_like_rop_buffer(buf: bytes) -> bool:
    if len(buf) < 2:
        return False
    size = struct.unpack_from("<H", buf)[0]
    return 2 <= size <= len(buf) and (len(buf) - size) % 4 == 0


@dataclass
class EcDoRpcRequest:
    handle: bytes
    size: int
    offset: int
    rop_buffer: bytes          # in clear
    obfuscated: bool           # it was XOR 0xA5 on the wire
    length: int
    max_data: int
    pad: bytes = b""           # the alignment byte before length (not always zero on the wire)


@dataclass
class EcDoRpcResponse:
    handle: bytes
    size: int
    offset: int
    rop_buffer: bytes
    obfuscated: bool
    length: int
    return_value: int


def _legacy_buffer(stub: bytes) -> tuple[bytes, int, int, bytes, bool, int, int]:
    if len(stub) < 32:
        raise StubError(f"EcDoRpc stub of {len(stub)} bytes is shorter than its fixed fields")
    handle, size, offset, n = stub[:20], _u32(stub, 20), _u32(stub, 24), _u32(stub, 28)
    raw = stub[32:32 + n]
    if len(raw) < n:
        raise StubError(f"EcDoRpc buffer of {n} bytes runs past the {len(stub)}-byte stub")
    clear = _xor(raw)
    obfuscated = looks_like_rop_buffer(clear) or not looks_like_rop_buffer(raw)
    return handle, size, offset, clear if obfuscated else raw, obfuscated, 32 + n, _align(32 + n, 2)


def decode_ecdorpc_request(stub: bytes) -> EcDoRpcRequest:
    handle, size, offset, buf, obf, end, off = _legacy_buffer(stub)
    if off + 4 > len(stub):
        raise StubError("EcDoRpc request ends before its length and maximum")
    length, max_data = struct.unpack_from("<HH", stub, off)
    return EcDoRpcRequest(handle, size, offset, buf, obf, length, max_data, stub[end:off])


def decode_ecdorpc_response(stub: bytes) -> EcDoRpcResponse:
    handle, size, offset, buf, obf, _end, off = _legacy_buffer(stub)
    if off + 2 > len(stub) or len(stub) < 4:
        raise StubError("EcDoRpc answer ends before its length")
    return EcDoRpcResponse(handle, size, offset, buf, obf, struct.unpack_from("<H", stub, off)[0],
                           _u32(stub, len(stub) - 4))


def encode_ecdorpc_request(r: EcDoRpcRequest) -> bytes:
    data = _xor(r.rop_buffer) if r.obfuscated else r.rop_buffer
    out = r.handle + struct.pack("<III", r.size, r.offset, len(data)) + data
    need = -len(out) % 2
    out += r.pad if len(r.pad) == need else bytes(need)
    return out + struct.pack("<HH", r.length, r.max_data)


@dataclass
class EcDoRpcExt2Request:
    handle: bytes
    flags: int
    rgb_in: bytes              # RPC_HEADER_EXT chain
    cb_out: int
    aux_in: bytes
    cb_aux_out: int
    # the NDR alignment bytes after rgbIn and rgbAuxIn as sent: meaningless, but not every client
    # zeroes them (ruler leaves old buffer bytes there), and a re-encoding must give the same bytes
    pads: tuple[bytes, bytes] = (b"", b"")


@dataclass
class EcDoRpcExt2Response:
    handle: bytes
    flags: int
    rgb_out: bytes
    aux_out: bytes
    trans_time: int
    return_value: int


def decode_ecdorpcext2_request(stub: bytes) -> EcDoRpcExt2Request:
    handle, flags = stub[:20], _u32(stub, 20)
    n = _u32(stub, 24)
    rgb_in = stub[28:28 + n]
    if len(rgb_in) < n:
        raise StubError(f"rgbIn of {n} bytes runs past the {len(stub)}-byte stub")
    off = _align(28 + n, 4)
    pad1 = stub[28 + n:off]
    cb_in, cb_out = _u32(stub, off), _u32(stub, off + 4)
    if cb_in != n:
        raise StubError(f"cbIn {cb_in} differs from rgbIn's count {n}")
    off += 8
    aux = b""
    pad2 = b""
    if off + 4 <= len(stub):
        m = _u32(stub, off)
        aux = stub[off + 4:off + 4 + m]
        end = off + 4 + m
        off = _align(end, 4)
        pad2 = stub[end:off]
        off += 4                                  # cbAuxIn
    cb_aux_out = _u32(stub, off) if off + 4 <= len(stub) else 0
    return EcDoRpcExt2Request(handle, flags, rgb_in, cb_out, aux, cb_aux_out, (pad1, pad2))


def encode_ecdorpcext2_request(r: EcDoRpcExt2Request) -> bytes:
    def pad(n: int, kept: bytes) -> bytes:
        return kept if len(kept) == n else bytes(n)
    out = r.handle + struct.pack("<II", r.flags, len(r.rgb_in)) + r.rgb_in
    out += pad(-len(out) % 4, r.pads[0]) + struct.pack("<III", len(r.rgb_in), r.cb_out, len(r.aux_in)) + r.aux_in
    out += pad(-len(out) % 4, r.pads[1])
    return out + struct.pack("<II", len(r.aux_in), r.cb_aux_out)


def decode_ecdorpcext2_response(stub: bytes) -> EcDoRpcExt2Response:
    handle, flags = stub[:20], _u32(stub, 20)
    _max, _o, n = _u32(stub, 24), _u32(stub, 28), _u32(stub, 32)
    rgb_out = stub[36:36 + n]
    off = _align(36 + n, 4) + 4                       # pcbOut
    aux = b""
    if off + 12 <= len(stub):
        m = _u32(stub, off + 8)
        aux = stub[off + 12:off + 12 + m]
        off = _align(off + 12 + m, 4) + 4
    return EcDoRpcExt2Response(handle, flags, rgb_out, aux, _u32(stub, len(stub) - 8), _u32(stub, len(stub) - 4))


@dataclass
class ConnectRequest:
    user_dn: str
    flags: int
    code_page: int
    lcid_string: int
    lcid_sort: int


def decode_connect_request(stub: bytes) -> ConnectRequest:
    """EcDoConnect / EcDoConnectEx: the user's DN, then ulFlags, ulConMod, cbLimit, ulCpid, two LCIDs."""
    dn, off = _cv_string(stub, 0)
    flags, _conmod, _limit, cpid, lcid_s, lcid_sort = struct.unpack_from("<6I", stub, off)
    return ConnectRequest(dn, flags, cpid, lcid_s, lcid_sort)


@dataclass
class ConnectResponse:
    dn_prefix: str | None
    display_name: str | None
    return_value: int


def decode_connect_response(stub: bytes) -> ConnectResponse:
    """EcDoConnect's (and EcDoConnectEx's, whose extra fields come after these) answer: pcxh, cmsPollsMax, cRetry, cmsRetryDelay, icxr (u16, padded), then the
    unique pointers to szDNPrefix and szDisplayName with their strings; the return value last."""
    off = 20 + 12 + 4
    strings: list[str | None] = []
    for _ in range(2):
        ptr = _u32(stub, off)
        off += 4
        if ptr:
            s, off = _cv_string(stub, off)
            strings.append(s)
        else:
            strings.append(None)
    return ConnectResponse(strings[0], strings[1], _u32(stub, len(stub) - 4))
