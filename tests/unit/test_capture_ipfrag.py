"""IP fragment reassembly (protocols/capture/ipfrag.py, used by tcp.segments).

Real: captures/ipfrag-mapihttp.pcapng, ruler's MAPI/HTTP exchanges fragmented by a Linux router
(IPv4, MTU 576) and a UDP datagram fragmented by the sending stack over IPv4 and IPv6
(tests/clients/ipfrag_capture.py). Synthetic: tests/unit/capture_synth's ruler capture with every
TCP segment of more than 100 bytes cut into IP fragments here, in order, out of order, overlapping
and with one missing.
"""
from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

from protocols.capture import ipfrag
from protocols.capture.network import read_network
from protocols.capture.pcap import Packet, read_packets, write_pcap, write_pcapng
from protocols.capture.tcp import datagrams

from . import capture_synth

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "captures" / "ipfrag-mapihttp.pcapng"
FIXTURE = json.loads((ROOT / "fixtures" / "mapihttp" / "ruler_exchanges.json").read_text())["exchanges"]
UDP_PAYLOAD = bytes(range(256)) * 11 + b"exgate fragment test"     # what ipfrag_capture.py sent


def _frag_v4(frame: bytes, size: int, ident: int) -> list[bytes]:
    """An Ethernet/IPv4 frame as fragments of ``size`` payload bytes (a multiple of 8)."""
    eth, ip = frame[:14], frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    body = ip[ihl:]
    out = []
    for off in range(0, len(body), size):
        piece = body[off:off + size]
        more = 0x2000 if off + size < len(body) else 0
        hdr = bytearray(ip[:ihl])
        struct.pack_into(">HHH", hdr, 2, ihl + len(piece), ident, more | (off // 8))
        out.append(eth + bytes(hdr) + piece)
    return out


def _frag_v6(frame: bytes, size: int, ident: int) -> list[bytes]:
    """A Linux cooked/IPv6 frame as fragments, each with a Fragment header (next header TCP)."""
    sll, ip = frame[:16], frame[16:]
    body = ip[40:]
    out = []
    for off in range(0, len(body), size):
        piece = body[off:off + size]
        more = 1 if off + size < len(body) else 0
        hdr = bytearray(ip[:40])
        struct.pack_into(">H", hdr, 4, 8 + len(piece))
        hdr[6] = 44
        out.append(sll + bytes(hdr) + struct.pack(">BBHI", ip[6], 0, off | more, ident) + piece)
    return out


def fragmented(v6: bool = False, *, reverse=False, overlap=None, drop=None, snap=None) -> tuple[bytes, int]:
    """The synthetic ruler capture with its larger segments fragmented (80-byte pieces); ``reverse``
    sends each datagram's fragments last first, ``overlap(pieces)`` adds fragments, ``drop`` is the
    number of the datagram whose middle fragment is left out. Returns the file and the datagram count."""
    pkts = capture_synth.build(v6)
    out: list[Packet] = []
    n = 0
    for p in pkts:
        head = 16 + 40 if v6 else 14 + 20
        if len(p.data) - head <= 100:
            out.append(p)
            continue
        n += 1
        pieces = (_frag_v6 if v6 else _frag_v4)(p.data, 80, 0x4000 + n)
        if overlap:
            pieces = overlap(pieces, v6)
        if reverse:
            pieces = pieces[::-1]
        if drop == n:
            del pieces[1]
        if snap == n:           # the first fragment kept to 60 bytes of its 114
            out += [Packet(0, p.time, p.linktype, pieces[0][:60], len(pieces[0]))]
            pieces = pieces[1:]
        out += [Packet(0, p.time, p.linktype, f, len(f)) for f in pieces]
    out = [Packet(i, p.time, p.linktype, p.data, p.length) for i, p in enumerate(out, 1)]
    return (write_pcapng(out) if v6 else write_pcap(out)), n


def _bodies(cap) -> list[tuple[bytes, bytes]]:
    return [(e.request_body, e.response_content) for e in cap.exchanges]


def _errors(cap) -> list[str]:
    return [str(p) for p in cap.problems if p.is_error]


def _want(v6: bool) -> list[tuple[bytes, bytes]]:
    return _bodies(read_network((capture_synth.pcapng_bytes if v6 else capture_synth.pcap_bytes)()))


def test_fragments_in_order_give_the_same_exchanges():
    for v6 in (False, True):
        data, n = fragmented(v6)
        cap = read_network(data)
        assert n > 100 and len(cap.exchanges) == 46
        assert _bodies(cap) == _want(v6)
        assert not _errors(cap)
        assert any(f"{n} fragmented IP datagram(s) put back together" in p.what for p in cap.problems)


def test_fragments_out_of_order():
    for v6 in (False, True):
        data, n = fragmented(v6, reverse=True)
        cap = read_network(data)
        assert _bodies(cap) == _want(v6) and not _errors(cap)


def _garbage_overlap(pieces, v6):
    """Before the real fragments, a fragment covering bytes 80..119 (the second fragment's start)
    with other bytes: it arrived first, so it wins over the real ones."""
    head = 16 + 48 if v6 else 14 + 20
    second = bytearray(pieces[1])
    second[head:head + 40] = b"\xEE" * 40
    hdr_len = head
    if v6:
        struct.pack_into(">H", second, 16 + 4, 8 + 40)
        struct.pack_into(">H", second, 16 + 42, 80 | 1)
    else:
        struct.pack_into(">H", second, 14 + 2, 20 + 40)
        struct.pack_into(">H", second, 14 + 6, 0x2000 | 10)
    return [bytes(second[:hdr_len + 40])] + pieces


def _late_overlap(pieces, v6):
    """The same garbage after the real first two fragments (before the last): the first-arrived (real)
    bytes are kept."""
    return pieces[:2] + _garbage_overlap(pieces, v6)[:1] + pieces[2:]


def test_overlapping_fragments_first_arrived_wins():
    for v6 in (False, True):
        data, n = fragmented(v6, overlap=_late_overlap)
        cap = read_network(data)
        assert _bodies(cap) == _want(v6) and not _errors(cap)
        notes = [p for p in cap.problems if "came in more than one fragment" in p.what]
        assert len(notes) == n and all(not p.is_error for p in notes)
        assert "40 byte(s) came in more than one fragment; 40 of them differ" in notes[0].what
        # the garbage first: its bytes are the datagram's
        data, n = fragmented(v6, overlap=_garbage_overlap)
        segs = [d for _p, d in datagrams(read_packets(data).packets, []) if d[2] == 6 and len(d[3]) > 120]
        assert len(segs) == n and all(d[3][80:120] == b"\xEE" * 40 for d in segs)


def test_fragment_again_after_its_datagram_is_a_dropped_duplicate():
    data, n = fragmented(False, overlap=lambda pieces, v6: pieces + pieces[1:2])
    cap = read_network(data)
    assert _bodies(cap) == _want(False) and not _errors(cap)
    assert any(f"{n} IP fragment(s) came again after their datagram was put together" in p.what
               for p in cap.problems)


def test_missing_fragment_is_an_error_and_the_rest_decodes():
    data, n = fragmented(False, drop=5)
    cap = read_network(data)
    errs = _errors(cap)
    frag = [e for e in errs if "is missing fragments" in e]
    assert len(frag) == 1 and "id 0x4005" in frag[0] and "the TCP segment it carried is lost" in frag[0]
    assert any("lost at stream offset" in e for e in errs)          # TCP sees the hole it left
    # the other connections still decode (the cut one loses the exchanges after the hole: http1's doing)
    want = _want(False)
    assert sum(b in want for b in _bodies(cap)) >= 40


def test_fragment_cut_by_the_snap_length_is_said():
    cap = read_network(fragmented(False, snap=5)[0])
    frag = [e for e in _errors(cap) if "is missing fragments" in e]
    assert len(frag) == 1 and "the capture's snap length cut packet(s) " in frag[0]


def test_bounds_give_up_old_and_too_many():
    problems: list = []
    r = ipfrag.Reassembler(problems)
    f = ipfrag.Fragment(4, "10.0.0.1", "10.0.0.2", 7, 17, 0, True, b"x" * 8, 1, 100.0)
    assert r.add(f) is None
    late = ipfrag.Fragment(4, "10.0.0.1", "10.0.0.2", 7, 17, 8, False, b"y" * 8, 2, 100.0 + ipfrag.MAX_AGE + 1)
    assert r.add(late) is None                 # its partner was given up: this one starts anew
    r.finish()
    assert len(problems) == 2 and all(not p.is_error for p in problems)          # UDP: notes
    assert "did not all come within 30 s" in problems[0].what and "the capture ends" in problems[1].what
    problems.clear()
    r = ipfrag.Reassembler(problems)
    big = b"z" * 60000
    for i in range(ipfrag.MAX_HELD // len(big) + 2):
        r.add(ipfrag.Fragment(4, "10.0.0.1", "10.0.0.2", i, 6, 0, True, big, i + 1, 1.0))
    assert r.held <= ipfrag.MAX_HELD
    assert problems and "MiB of incomplete datagrams held" in problems[0].what and problems[0].is_error   # TCP


def test_real_capture_router_and_stack_fragments():
    data = REAL.read_bytes()
    pf = read_packets(data)
    frames = sum(1 for p in pf.packets if p.data[12:14] == b"\x08\x00" and struct.unpack(">H", p.data[20:22])[0] & 0x3FFF)
    assert frames > 50                                   # the router's IPv4 fragments are in the file
    cap = read_network(data)
    assert not _errors(cap)
    assert len(cap.exchanges) == 46
    assert [e.request_body for e in cap.exchanges] == [base64.b64decode(x["request_b64"]) for x in FIXTURE]
    udp = [d for _p, d in datagrams(pf.packets, []) if d[2] == 17 and d[3][8:] == UDP_PAYLOAD]
    assert sorted(d[0] for d in udp) == ["127.0.0.1", "::1"]     # IPv4 and IPv6 (Fragment header)


def test_identification_used_again_is_a_new_datagram():
    r = ipfrag.Reassembler([])

    def frag(off, more, data, t):
        return ipfrag.Fragment(4, "10.0.0.1", "10.0.0.2", 7, 6, off, more, data, 1, t)

    assert r.add(frag(0, True, b"a" * 8, 1.0)) is None
    assert r.add(frag(8, False, b"b" * 8, 1.1)).payload == b"a" * 8 + b"b" * 8
    assert r.add(frag(0, True, b"c" * 8, 2.0)) is None          # other bytes: not a duplicate
    assert r.add(frag(8, False, b"d" * 8, 2.1)).payload == b"c" * 8 + b"d" * 8
    assert r.duplicates == 0


def test_many_incomplete_datagrams_are_counted_not_listed():
    problems: list = []
    r = ipfrag.Reassembler(problems)
    for i in range(ipfrag.MAX_REPORTED + 30):
        r.add(ipfrag.Fragment(4, "10.0.0.1", "10.0.0.2", i, 6, 0, True, b"x" * 8, i + 1, 1.0))
    r.finish()
    assert len(problems) == ipfrag.MAX_REPORTED + 1 and all(p.is_error for p in problems)
    assert problems[-1].what.startswith("30 more incomplete IP datagram(s) left out (30 carrying TCP")
