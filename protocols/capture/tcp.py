"""Packets to TCP byte streams: link layer, IPv4/IPv6, TCP, and reassembly per direction.

Link layers (tcpdump.org LINKTYPE_* values): 1 Ethernet (with 802.1Q/802.1ad tags), 113 Linux
cooked v1 (SLL, 16-byte header), 276 Linux cooked v2 (SLL2, 20 bytes), 0 BSD loopback (4-byte
family), 101/12/14 raw IP, 228 raw IPv4, 229 raw IPv6. IPv4 is RFC 791 (IHL; fragments put
together by protocols.capture.ipfrag), IPv6 RFC 8200 (hop-by-hop, routing, destination options and AH
headers walked, the Fragment header's datagrams put together the same way), TCP RFC 9293 (data offset,
SYN/FIN/RST).

Reassembly works offline on the whole file: a direction's bytes are placed by sequence number
relative to its first sequence number (the SYN's + 1 when the SYN was captured), 32-bit wrap
included. Segments that came out of order are put in order; a segment whose bytes were already
there is a retransmission; a hole nobody filled is a lost segment, kept as zero bytes of the
right length so what follows still lines up, and reported. Nothing here raises on a bad packet.
"""
from __future__ import annotations

import bisect
import functools
import ipaddress
import struct
from dataclasses import dataclass, field

from .ipfrag import Datagram, Fragment, Reassembler
from .model import Problem, note
from .pcap import Packet

TCP_PROTO = 6
IPV6_EXT = {0, 43, 60, 51}                   # hop-by-hop, routing, destination options, AH
ETH_VLAN = {0x8100, 0x88A8, 0x9100}
MAX_GAP = 16 * 1024 * 1024                   # a hole larger than this is damage, not lost segments


@dataclass
class Segment:
    packet: int             # frame number
    time: float | None
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    ack: int
    flags: int              # TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04)
    payload: bytes

    @property
    def syn(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def fin(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def rst(self) -> bool:
        return bool(self.flags & 0x04)


@functools.lru_cache(maxsize=65536)
def _addr(b: bytes) -> str:
    # a capture holds few addresses and many packets: each address (4 or 16 bytes) is formatted once
    return str(ipaddress.ip_address(b))


def _walk_v6(nxt: int, buf: bytes, off: int) -> tuple[int, int] | None:
    """Past IPv6 extension headers (not the Fragment header): (upper-layer protocol, its offset)."""
    while nxt in IPV6_EXT:
        if len(buf) < off + 8:
            return None
        hlen = (buf[off + 1] + 2) * 4 if nxt == 51 else (buf[off + 1] + 1) * 8
        nxt, off = buf[off], off + hlen
    return nxt, off


def _ip_payload(pkt: Packet) -> tuple[str, str, int, bytes] | Fragment | None:
    """(source, destination, protocol, payload) of the packet's IP datagram, a ``Fragment`` of one, or None."""
    data, lt = pkt.data, pkt.linktype
    if lt == 1:                                   # Ethernet II
        if len(data) < 14:
            return None
        etype, off = (data[12] << 8) | data[13], 14
        while etype in ETH_VLAN and len(data) >= off + 4:
            etype, off = struct.unpack(">H", data[off + 2:off + 4])[0], off + 4
        ip = data[off:]
    elif lt == 113:                               # Linux cooked v1
        if len(data) < 16:
            return None
        etype, ip = struct.unpack(">H", data[14:16])[0], data[16:]
    elif lt == 276:                               # Linux cooked v2
        if len(data) < 20:
            return None
        etype, ip = struct.unpack(">H", data[0:2])[0], data[20:]
    elif lt == 0:                                 # BSD loopback: family in host order
        if len(data) < 4:
            return None
        fam = struct.unpack("<I", data[:4])[0]
        fam = fam if fam < 0x10000 else struct.unpack(">I", data[:4])[0]
        etype, ip = (0x0800 if fam == 2 else 0x86DD), data[4:]
    elif lt in (101, 12, 14, 228, 229):           # raw IP
        ip = data
        etype = 0x86DD if ip[:1] and ip[0] >> 4 == 6 else 0x0800
    else:
        return None
    if etype == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 0x0F) * 4
        total, _ident, frag = struct.unpack(">HHH", ip[2:8])
        body = ip[ihl:total] if total >= ihl else ip[ihl:]
        if frag & 0x3FFF:                         # more fragments, or an offset: a piece of a datagram
            return Fragment(4, _addr(ip[12:16]), _addr(ip[16:20]), _ident, ip[9], (frag & 0x1FFF) * 8,
                            bool(frag & 0x2000), body, pkt.index, pkt.time, pkt.length > len(pkt.data))
        return _addr(ip[12:16]), _addr(ip[16:20]), ip[9], body
    if etype == 0x86DD and len(ip) >= 40 and ip[0] >> 4 == 6:
        plen = struct.unpack(">H", ip[4:6])[0]
        end = 40 + plen if plen else len(ip)
        walked = _walk_v6(ip[6], ip, 40)
        if walked is None:
            return None
        nxt, off = walked
        if nxt == 44:                             # Fragment header (RFC 8200 4.5): next, reserved, offset|M, id
            if len(ip) < off + 8:
                return None
            offm, ident = struct.unpack(">HI", ip[off + 2:off + 8])
            src, dst = _addr(ip[8:24]), _addr(ip[24:40])
            if offm & 0xFFF9 == 0:                # an atomic fragment (offset 0, no M): the datagram whole
                walked = _walk_v6(ip[off], ip, off + 8)
                return None if walked is None else (src, dst, walked[0], ip[walked[1]:end])
            return Fragment(6, src, dst, ident, ip[off], offm & 0xFFF8, bool(offm & 1), ip[off + 8:end],
                            pkt.index, pkt.time, pkt.length > len(pkt.data))
        return _addr(ip[8:24]), _addr(ip[24:40]), nxt, ip[off:end]
    return None


def _whole(d: Datagram) -> tuple[str, str, int, bytes] | None:
    """A reassembled datagram's upper layer (IPv6: past the extension headers after the Fragment header)."""
    if d.version == 4:
        return d.src, d.dst, d.proto, d.payload
    walked = _walk_v6(d.proto, d.payload, 0)
    return None if walked is None else (d.src, d.dst, walked[0], d.payload[walked[1]:])


def datagrams(packets: list[Packet], problems: list[Problem]):
    """(packet, (source, destination, protocol, payload)) for every IP datagram of the capture, fragmented
    ones put together (ipfrag.Reassembler) and given with the packet that completed them."""
    frags = Reassembler(problems)
    link_types = set()
    for pkt in packets:
        ipd = _ip_payload(pkt)
        if ipd is None:
            if pkt.linktype not in (1, 113, 276, 0, 101, 12, 14, 228, 229):
                link_types.add(pkt.linktype)
            continue
        if type(ipd) is Fragment:
            whole = frags.add(ipd)
            ipd = _whole(whole) if whole is not None else None
            if ipd is None:
                continue
        yield pkt, ipd
    frags.finish()
    if frags.reassembled:
        problems.append(note("file", f"{frags.reassembled} fragmented IP datagram(s) put back together"))
    for lt in sorted(link_types):
        problems.append(Problem("file", f"link type {lt} is not read (Ethernet, Linux cooked, loopback and raw IP are)"))


def segments(packets: list[Packet], problems: list[Problem]) -> list[Segment]:
    out: list[Segment] = []
    for pkt, (src, dst, proto, tcp) in datagrams(packets, problems):
        if proto != TCP_PROTO:
            continue
        if len(tcp) < 20:
            problems.append(Problem(f"packet {pkt.index}", "TCP header cut off by the capture; skipped"))
            continue
        sport, dport, seq, ack, off_flags = struct.unpack(">HHIIH", tcp[:14])
        hlen = (off_flags >> 12) * 4
        if pkt.length > len(pkt.data) and len(tcp) > hlen:
            problems.append(Problem(f"packet {pkt.index}", f"captured {len(pkt.data)} of {pkt.length} bytes "
                                                           "(snap length): the rest of its data is missing"))
        out.append(Segment(pkt.index, pkt.time, (src, sport), (dst, dport), seq, ack, off_flags & 0xFF,
                           bytes(tcp[hlen:])))
    return out


@dataclass
class Direction:
    """One side's bytes, in sequence order."""

    src: tuple[str, int]
    dst: tuple[str, int]
    data: bytes = b""
    times: list[tuple[int, float | None]] = field(default_factory=list)   # (offset, time) where each segment began
    gaps: list[tuple[int, int]] = field(default_factory=list)              # (offset, length) of lost bytes
    retransmissions: int = 0
    out_of_order: int = 0
    stray: int = 0              # segments far outside the stream's sequence space (damage), left out
    first_packet: int | None = None

    def time_at(self, offset: int) -> float | None:
        """When the byte at ``offset`` was first seen (the segment that carried it)."""
        if not self.times:
            return None
        i = bisect.bisect_right(self.times, offset, key=lambda x: x[0]) - 1
        return self.times[max(i, 0)][1]

    def lost_in(self, start: int, end: int) -> int:
        if not self.gaps:           # the usual case, asked for every HTTP message
            return 0
        return sum(max(0, min(end, o + n) - max(start, o)) for o, n in self.gaps)


@dataclass
class Stream:
    """One TCP connection: ``client`` opened it (sent the SYN, or spoke first when no SYN was captured)."""

    index: int
    client: Direction
    server: Direction
    syn_seen: bool
    closed: str | None            # "fin", "rst" or None (the capture ends with it open)
    first_time: float | None

    @property
    def name(self) -> str:
        c, s = self.client.src, self.client.dst
        return f"{c[0]}:{c[1]} -> {s[0]}:{s[1]}"


def _assemble(segs: list[Segment], isn: int | None) -> Direction:
    d = Direction(segs[0].src, segs[0].dst)
    d.first_packet = segs[0].packet
    data_segs = [s for s in segs if s.payload]
    if not data_segs:
        return d
    if isn is not None:
        base = isn
    else:               # no SYN captured: the lowest sequence number seen (in 32-bit wrap order)
        first = data_segs[0].seq
        base = min((s.seq for s in data_segs), key=lambda q: (q - first + 2 ** 31) % 2 ** 32)
    # sequence numbers relative to the base, signed (32-bit wrap); a damaged or foreign segment far
    # from the others (more than MAX_GAP away) would need gigabytes of zeros: the stream is the
    # largest cluster of segments, the rest are reported as stray
    signed = [((s.seq - base + 2 ** 31) % 2 ** 32) - 2 ** 31 for s in data_segs]
    order = sorted(range(len(data_segs)), key=lambda i: signed[i])
    clusters: list[list[int]] = []
    reach = None
    for i in order:
        if reach is None or signed[i] > reach + MAX_GAP:
            clusters.append([])
            reach = signed[i]
        clusters[-1].append(i)
        reach = max(reach, signed[i] + len(data_segs[i].payload))
    best = max(clusters, key=lambda c: sum(len(data_segs[i].payload) for i in c))
    keep = set(best)
    d.stray = len(data_segs) - len(keep)
    start = min(signed[i] for i in best)
    shift = 0 if isn is not None and -MAX_GAP <= start <= MAX_GAP else start
    placed: list[tuple[int, bytes, float | None]] = []
    seen = _Ranges()
    for i, s in enumerate(data_segs):
        if i not in keep:
            continue
        rel = signed[i] - shift
        payload = s.payload
        if rel < 0:                               # starts before the stream's first byte (a late copy)
            cut = -rel
            if cut >= len(payload):
                d.retransmissions += 1
                continue
            rel, payload = 0, payload[cut:]
        end = rel + len(payload)
        if seen.covers(rel, end):
            d.retransmissions += 1                # every byte already came: a retransmission
            continue
        if rel < seen.high:
            d.out_of_order += 1                   # fills a hole behind data that came earlier
        seen.add(rel, end)
        placed.append((rel, payload, s.time))
    buf = bytearray()
    for rel, payload, t in sorted(placed, key=lambda x: x[0]):    # stable: the first copy of a byte wins
        if rel > len(buf):
            d.gaps.append((len(buf), rel - len(buf)))
            buf.extend(bytes(rel - len(buf)))
        if rel + len(payload) > len(buf):
            buf.extend(payload[len(buf) - rel:])
        d.times.append((rel, t))
    d.data = bytes(buf)
    return d


class _Ranges:
    """Byte ranges seen so far, merged ([start, end) pairs in order)."""

    def __init__(self) -> None:
        self.r: list[list[int]] = []
        self.high = 0

    def covers(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.r, [start, 2 ** 63]) - 1
        return i >= 0 and self.r[i][0] <= start and self.r[i][1] >= end

    def add(self, start: int, end: int) -> None:
        self.high = max(self.high, end)
        i = bisect.bisect_left(self.r, [start, start])
        if i > 0 and self.r[i - 1][1] >= start:
            i -= 1
        j = i
        while j < len(self.r) and self.r[j][0] <= end:
            start, end = min(start, self.r[j][0]), max(end, self.r[j][1])
            j += 1
        self.r[i:j] = [[start, end]]


def streams(segs: list[Segment], problems: list[Problem]) -> list[Stream]:
    """The TCP connections in the order they began, each direction reassembled."""
    conns: dict[tuple, list[Segment]] = {}
    order: list[tuple] = []
    for s in segs:
        key = tuple(sorted((s.src, s.dst)))
        if key not in conns or _new_connection(conns[key], s):
            if key in conns:                       # the same 4-tuple again after a close: a new connection
                old = conns.pop(key)
                conns[key + (len(order),)] = old
                order[order.index(key)] = key + (len(order),)
            conns[key] = []
            order.append(key)
        conns[key].append(s)
    out: list[Stream] = []
    for n, key in enumerate(order, 1):
        ss = conns[key]
        syn = next((s for s in ss if s.syn and not (s.flags & 0x10)), None)   # SYN without ACK: the opener
        client = syn.src if syn else _guess_client(ss)
        cs = [s for s in ss if s.src == client]
        sc = [s for s in ss if s.src != client]
        c_isn = next(((s.seq + 1) % 2 ** 32 for s in cs if s.syn), None)
        s_isn = next(((s.seq + 1) % 2 ** 32 for s in sc if s.syn), None)
        server = ss[0].dst if ss[0].src == client else ss[0].src
        cdir = _assemble(cs, c_isn) if cs else Direction(client, server)
        sdir = _assemble(sc, s_isn) if sc else Direction(server, client)
        closed = "rst" if any(s.rst for s in ss) else "fin" if any(s.fin for s in ss) else None
        st = Stream(n, cdir, sdir, syn is not None, closed, ss[0].time)
        for d, who in ((cdir, "client"), (sdir, "server")):
            for off, length in d.gaps:
                problems.append(Problem(f"TCP stream {n} ({st.name})",
                                        f"{length} byte(s) of the {who}'s data lost at stream offset {off} "
                                        "(never captured); kept as zeros"))
            if d.retransmissions:
                # the bytes were already held: nothing is lost, so it is only said
                problems.append(note(f"TCP stream {n} ({st.name})",
                                     f"{d.retransmissions} retransmitted segment(s) from the {who} (dropped)"))
            if d.stray:
                problems.append(Problem(f"TCP stream {n} ({st.name})",
                                        f"{d.stray} segment(s) from the {who} with sequence numbers far outside "
                                        "the stream (damaged or not of this connection); left out"))
            if d.out_of_order:
                problems.append(note(f"TCP stream {n} ({st.name})",
                                     f"{d.out_of_order} segment(s) from the {who} arrived out of order "
                                     "(put in order)"))
        out.append(st)
    return out


_SERVER_FIRST = (b"HTTP/1.", b"\x05\x00\x02", b"\x05\x00\x0c", b"\x05\x00\x0d", b"\x05\x00\x03")
_CLIENT_FIRST = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"RPC_IN_DATA ", b"RPC_OUT_DATA ", b"\x05\x00\x0b",
                 b"\x05\x00\x00", b"\x05\x00\x0e", b"\x16\x03")


def _guess_client(ss: list[Segment]) -> tuple[str, int]:
    """Who opened a connection whose SYN was not captured: from what each side's first bytes are
    (an HTTP request or a DCE/RPC bind/request is the client's; a status line or a DCE/RPC
    response the server's), else the side with the higher port (ephemeral ports are high)."""
    a, b = ss[0].src, ss[0].dst
    for s in ss:
        if s.payload:
            if s.payload.startswith(_CLIENT_FIRST):
                return s.src
            if s.payload.startswith(_SERVER_FIRST):
                return s.dst
    return a if a[1] > b[1] else b


def _new_connection(prev: list[Segment], s: Segment) -> bool:
    """A SYN after the earlier connection on the same ports closed (port reuse)."""
    return bool(s.syn and not (s.flags & 0x10) and any(p.fin or p.rst for p in prev))
