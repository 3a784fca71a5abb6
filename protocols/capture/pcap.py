"""pcap and pcapng files to packets (pure: the caller hands the file's bytes).

Formats, read from their published descriptions (no library: both are a few fixed blocks):

- pcap ("libpcap"): draft-ietf-opsawg-pcap (the tcpdump.org ``pcap-savefile(5)`` format): a 24-byte
  file header whose magic 0xA1B2C3D4 (microseconds) or 0xA1B23C4D (nanoseconds) also says the byte
  order, then per packet a 16-byte record header (ts_sec, ts_frac, caplen, len) and caplen bytes.
  The link type is the header's last field (its low 16 bits; the upper bits carry FCS flags).
- pcapng: draft-ietf-opsawg-pcapng: blocks of (type, total length, body, total length again),
  32-bit aligned. Section Header Block 0x0A0D0D0A (byte-order magic 0x1A2B3C4D; a new section resets
  the interfaces), Interface Description Block 1 (link type, snaplen, options: ``if_tsresol`` = 9),
  Enhanced Packet Block 6 (interface id, 64-bit timestamp in the interface's units, caplen, len),
  Simple Packet Block 3 (interface 0, no timestamp), the obsolete Packet Block 2. Other blocks (name
  resolution, statistics, custom, decryption secrets 0x0A) are skipped, except that the Decryption
  Secrets Block's presence is noted (a TLS key log embedded by ``editcap --inject-secrets``).

A damaged file never raises: the packets before the damage are returned with a ``Problem`` saying
where it stopped and why.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .model import Problem

PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
               b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
BYTE_ORDER_MAGIC = 0x1A2B3C4D
DSB_TYPE = 0x0000000A        # Decryption Secrets Block


@dataclass
class Packet:
    index: int              # 1-based, in file order (as Wireshark numbers frames)
    time: float | None      # seconds since the epoch (None: a Simple Packet Block has none)
    linktype: int           # LINKTYPE_* of the interface
    data: bytes             # the captured bytes (caplen)
    length: int             # the length on the wire (more than len(data) when the snaplen cut it)


@dataclass
class PacketFile:
    format: str             # "pcap" or "pcapng"
    packets: list[Packet]
    problems: list[Problem]
    has_secrets: bool = False


def sniff(data: bytes) -> str | None:
    if data[:4] in PCAP_MAGICS:
        return "pcap"
    if data[:4] == PCAPNG_SHB:
        return "pcapng"
    return None


def read_packets(data: bytes) -> PacketFile:
    kind = sniff(data)
    if kind == "pcap":
        return _read_pcap(data)
    if kind == "pcapng":
        return _read_pcapng(data)
    return PacketFile("unknown", [], [Problem("offset 0", "not a pcap or pcapng file (unknown magic "
                                                           f"{data[:4].hex() or 'none: empty file'})")])


def _read_pcap(data: bytes) -> PacketFile:
    order, unit = PCAP_MAGICS[data[:4]]
    out = PacketFile("pcap", [], [])
    if len(data) < 24:
        out.problems.append(Problem("file header", f"truncated: {len(data)} of 24 bytes"))
        return out
    _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack(order + "HHiIII", data[4:24])
    linktype = network & 0xFFFF
    off, n = 24, 0
    record = struct.Struct(order + "IIII")
    size = len(data)
    while off < size:
        n += 1
        if size - off < 16:
            out.problems.append(Problem(f"packet {n} (offset {off})",
                                        f"truncated: the file ends inside the record header ({size - off} of 16 bytes)"))
            break
        sec, frac, caplen, length = record.unpack_from(data, off)
        if caplen > 0x4000000:
            out.problems.append(Problem(f"packet {n} (offset {off})", f"record length {caplen} is not plausible: "
                                                                      "the file is damaged here; stopped"))
            break
        body = data[off + 16:off + 16 + caplen]
        if len(body) < caplen:
            out.problems.append(Problem(f"packet {n} (offset {off})",
                                        f"truncated: the file ends inside the packet ({len(body)} of {caplen} bytes); "
                                        "its part is kept"))
        out.packets.append(Packet(n, sec + frac * unit, linktype, body, length))
        off += 16 + caplen
    return out


def _options(body: bytes, order: str) -> dict[int, bytes]:
    """A block's options (code -> value; the first of a repeated code)."""
    opts: dict[int, bytes] = {}
    off = 0
    while off + 4 <= len(body):
        code, size = struct.unpack(order + "HH", body[off:off + 4])
        if code == 0:
            break
        opts.setdefault(code, body[off + 4:off + 4 + size])
        off += 4 + ((size + 3) & ~3)
    return opts


def _tsresol(value: bytes | None) -> float:
    if not value:
        return 1e-6
    v = value[0]
    return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v


def _read_pcapng(data: bytes) -> PacketFile:
    out = PacketFile("pcapng", [], [])
    order = "<"
    interfaces: list[tuple[int, float]] = []        # (linktype, seconds per timestamp unit)
    off, n, block_no = 0, 0, 0
    while off < len(data):
        block_no += 1
        where = f"block {block_no} (offset {off})"
        if len(data) - off < 12:
            out.problems.append(Problem(where, f"truncated: the file ends inside a block header ({len(data) - off} bytes)"))
            break
        btype_raw = data[off:off + 4]
        if btype_raw == PCAPNG_SHB:
            bom = data[off + 8:off + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                out.problems.append(Problem(where, f"section header without its byte-order magic ({bom.hex()}); stopped"))
                break
            interfaces = []
        btype, total = struct.unpack(order + "II", data[off:off + 8])
        if total < 12 or total % 4:
            out.problems.append(Problem(where, f"block length {total} is not valid: the file is damaged here; stopped"))
            break
        if off + total > len(data):
            out.problems.append(Problem(where, f"truncated: the file ends inside this block ({len(data) - off} of "
                                               f"{total} bytes)"))
            _partial_packet(data[off:], btype, order, interfaces, out, n + 1)
            break
        body = data[off + 8:off + total - 4]
        trailer = struct.unpack(order + "I", data[off + total - 4:off + total])[0]
        if trailer != total:
            out.problems.append(Problem(where, f"the block's closing length {trailer} differs from {total}; "
                                               "the file is damaged here; stopped"))
            break
        if btype == 1:                                  # Interface Description Block
            if len(body) >= 8:
                linktype = struct.unpack(order + "H", body[:2])[0]
                opts = _options(body[8:], order)
                interfaces.append((linktype, _tsresol(opts.get(9))))
        elif btype in (6, 2):                           # Enhanced / obsolete Packet Block
            n += 1
            pkt = _packet_block(body, btype, order, interfaces, n, out.problems, where)
            if pkt:
                out.packets.append(pkt)
        elif btype == 3:                                # Simple Packet Block
            n += 1
            if len(body) >= 4 and interfaces:
                length = struct.unpack(order + "I", body[:4])[0]
                out.packets.append(Packet(n, None, interfaces[0][0], body[4:4 + length], length))
        elif btype == DSB_TYPE:
            out.has_secrets = True
        off += total
    return out


def _packet_block(body: bytes, btype: int, order: str, interfaces, n: int, problems, where) -> Packet | None:
    if len(body) < 20:
        problems.append(Problem(where, "packet block shorter than its fixed fields; skipped"))
        return None
    if btype == 6:
        iface, hi, lo, caplen, length = struct.unpack(order + "IIIII", body[:20])
    else:
        iface, _drops, hi, lo, caplen, length = struct.unpack(order + "HHIIII", body[:20])
    if iface >= len(interfaces):
        problems.append(Problem(where, f"packet {n} names interface {iface}, which no block described; skipped"))
        return None
    linktype, unit = interfaces[iface]
    return Packet(n, ((hi << 32) | lo) * unit, linktype, body[20:20 + caplen], length)


def _partial_packet(rest: bytes, btype: int, order: str, interfaces, out: PacketFile, n: int) -> None:
    """What a cut-off packet block still holds (the bytes that made it into the file)."""
    if btype in (6, 2) and len(rest) >= 28:
        pkt = _packet_block(rest[8:], btype, order, interfaces, n, [], "")
        if pkt and pkt.data:
            out.packets.append(pkt)


# -- writing (test captures, and the round trip of the readers above) -------------------------------

def write_pcap(packets: list[Packet], *, nanoseconds: bool = False, snaplen: int = 262144) -> bytes:
    """A little-endian pcap file; every packet must have the first packet's link type."""
    linktype = packets[0].linktype if packets else 1
    unit = 10 ** 9 if nanoseconds else 10 ** 6
    out = [struct.pack("<IHHiIII", 0xA1B23C4D if nanoseconds else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for p in packets:
        if p.linktype != linktype:
            raise ValueError(f"packet {p.index}: link type {p.linktype} in a pcap file of link type {linktype}")
        t = round((p.time or 0.0) * unit)
        out.append(struct.pack("<IIII", t // unit, t % unit, len(p.data), p.length) + p.data)
    return b"".join(out)


def _block(btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def write_pcapng(packets: list[Packet], *, application: str = "exgate") -> bytes:
    """A little-endian pcapng file: one section, an interface per link type (microsecond stamps)."""
    app = application.encode()
    shb_opts = struct.pack("<HH", 4, len(app)) + app + bytes(-len(app) % 4) + struct.pack("<HH", 0, 0)
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + shb_opts)]
    ifaces: dict[int, int] = {}
    for p in packets:
        if p.linktype not in ifaces:
            ifaces[p.linktype] = len(ifaces)
            out.append(_block(1, struct.pack("<HHI", p.linktype, 0, 262144)))
        t = round((p.time or 0.0) * 10 ** 6)
        out.append(_block(6, struct.pack("<IIIII", ifaces[p.linktype], t >> 32, t & 0xFFFFFFFF, len(p.data), p.length)
                          + p.data))
    return b"".join(out)
