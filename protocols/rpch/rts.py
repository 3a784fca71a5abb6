"""RTS PDUs of RPC over HTTP v2 (MS-RPCH 2.2.3.6): PTYPE 20 after the common DCE/RPC header.

The body is Flags (u16, 2.2.3.6.1: 0x1 PING, 0x2 OTHER_CMD, 0x4 RECYCLE_CHANNEL, 0x8 IN_CHANNEL,
0x10 OUT_CHANNEL, 0x20 EOF, 0x40 ECHO), NumberOfCommands (u16), then the commands (2.2.3.5), each a
u32 CommandType and its fixed body:

    0 ReceiveWindowSize u32    1 FlowControlAck (BytesReceived u32, AvailableWindow u32, ChannelCookie 16)
    2 ConnectionTimeout u32    3 Cookie (16 bytes)          4 ChannelLifetime u32   5 ClientKeepalive u32
    6 Version u32              7 Empty                      8 Padding (ConformanceCount u32, that many bytes)
    9 NegativeANCE             10 ANCE                      11 ClientAddress (AddressType u32: 0 IPv4 with 4
    bytes, 1 IPv6 with 16; then 12 bytes of padding)        12 AssociationGroupId (16)
    13 Destination u32 (0 client, 1 in proxy, 2 server, 3 out proxy)   14 PingTrafficSentNotify u32

``name`` tells the PDU by the sequences of 2.2.4 (CONN/A1 ...) where flags and commands fit one.
"""
from __future__ import annotations

import ipaddress
import struct
import uuid
from dataclasses import dataclass, field

COMMANDS = {0: "ReceiveWindowSize", 1: "FlowControlAck", 2: "ConnectionTimeout", 3: "Cookie", 4: "ChannelLifetime",
            5: "ClientKeepalive", 6: "Version", 7: "Empty", 8: "Padding", 9: "NegativeANCE", 10: "ANCE",
            11: "ClientAddress", 12: "AssociationGroupId", 13: "Destination", 14: "PingTrafficSentNotify"}
FIXED = {0: 4, 2: 4, 4: 4, 5: 4, 6: 4, 7: 0, 9: 0, 10: 0, 13: 4, 14: 4, 3: 16, 12: 16, 1: 24}
FLAGS = {0x1: "PING", 0x2: "OTHER_CMD", 0x4: "RECYCLE_CHANNEL", 0x8: "IN_CHANNEL", 0x10: "OUT_CHANNEL",
         0x20: "EOF", 0x40: "ECHO"}
# (flags, command types) -> the name of the PDU in MS-RPCH 2.2.4 (connection establishment 2.2.4.2-2.2.4.9,
# PING 2.2.4.49, FlowControlAckWithDestination 2.2.4.51); CONN/C1 (server to out proxy) and CONN/C2 (out proxy
# to client) have the same layout: a client's capture sees C2
NAMES = {
    (0, (6, 3, 3, 0)): "CONN/A1",
    (0x10, (6, 3, 3, 4, 0)): "CONN/A2",
    (0, (2,)): "CONN/A3",
    (0, (6, 3, 3, 4, 5, 12)): "CONN/B1",
    (0x8, (6, 3, 3, 0, 2, 12, 11)): "CONN/B2",
    (0, (6, 0, 2)): "CONN/C2",
    (0x1, ()): "PING",
    (0x2, (13, 1)): "FlowControlAckWithDestination",
    (0x2, (1,)): "FlowControlAck",
}


class RtsError(ValueError):
    pass


@dataclass
class Command:
    type: int
    value: object = None          # int, bytes (Cookie/AssociationGroupId as UUID text), tuple, or None
    raw: bytes = b""

    @property
    def name(self) -> str:
        return COMMANDS.get(self.type, f"command {self.type}")


@dataclass
class Rts:
    flags: int
    commands: list[Command] = field(default_factory=list)

    @property
    def flag_names(self) -> list[str]:
        return [n for bit, n in FLAGS.items() if self.flags & bit]

    @property
    def name(self) -> str:
        key = (self.flags, tuple(c.type for c in self.commands))
        if key in NAMES:
            return NAMES[key]
        if self.flags & 0x1 and not self.commands:
            return "PING"
        return "RTS " + (",".join(c.name for c in self.commands) or "(no commands)")

    def cookies(self) -> list[str]:
        return [c.value for c in self.commands if c.type == 3]


def decode_rts(body: bytes) -> Rts:
    """The RTS body (what follows the 16-byte common header, as ``Pdu.body`` keeps it)."""
    if len(body) < 4:
        raise RtsError(f"RTS body of {len(body)} bytes: Flags and NumberOfCommands need 4")
    flags, n = struct.unpack_from("<HH", body)
    off = 4
    out = Rts(flags)
    for _ in range(n):
        if off + 4 > len(body):
            raise RtsError(f"RTS command {len(out.commands) + 1} of {n} runs past the PDU")
        ctype = struct.unpack_from("<I", body, off)[0]
        off += 4
        start = off
        if ctype in FIXED:
            size = FIXED[ctype]
        elif ctype == 8:
            size = 4 + struct.unpack_from("<I", body, off)[0] if off + 4 <= len(body) else 4
        elif ctype == 11:
            atype = struct.unpack_from("<I", body, off)[0] if off + 4 <= len(body) else 0
            size = 4 + (16 if atype == 1 else 4) + 12
        else:
            raise RtsError(f"unknown RTS command type {ctype}")
        raw = body[start:start + size]
        if len(raw) < size:
            raise RtsError(f"RTS {COMMANDS.get(ctype, ctype)} runs past the PDU")
        out.commands.append(Command(ctype, _value(ctype, raw), raw))
        off = start + size
    if off != len(body):
        raise RtsError(f"{len(body) - off} byte(s) after the last RTS command")
    return out


def _value(ctype: int, raw: bytes):
    if ctype in (3, 12):
        return str(uuid.UUID(bytes_le=raw))
    if ctype == 1:
        received, window = struct.unpack_from("<II", raw)
        return {"bytes_received": received, "available_window": window,
                "channel_cookie": str(uuid.UUID(bytes_le=raw[8:24]))}
    if ctype == 8:
        return len(raw) - 4
    if ctype == 11:
        atype = struct.unpack_from("<I", raw)[0]
        addr = raw[4:8] if atype == 0 else raw[4:20]
        return str(ipaddress.ip_address(addr))
    if len(raw) == 4:
        return struct.unpack("<I", raw)[0]
    return None


def encode_rts(rts: Rts) -> bytes:
    out = struct.pack("<HH", rts.flags, len(rts.commands))
    for c in rts.commands:
        out += struct.pack("<I", c.type) + c.raw
    return out
