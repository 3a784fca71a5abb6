"""IP fragments put back together: IPv4 (RFC 791: identification, MF flag, fragment offset in 8-byte
units; a datagram is keyed by source, destination, protocol and identification) and IPv6 (RFC 8200
section 4.5: the Fragment extension header; keyed by source, destination and identification).

Offline, in file order. A datagram is complete when its last fragment (MF clear) has been seen and
every byte before its end is held; it is then handed on as if the packet that completed it had
carried it whole (Wireshark shows it on the same frame). Overlapping fragments: the bytes that
arrived first win (RFC 8200 says to drop such datagrams; a capture reader keeps what it can and says
so, as a note); a fragment that comes again once its datagram is complete is a duplicate, dropped
(the last 1,024 datagrams are remembered for that). A datagram still missing fragments at the end of the file, or given up on by the
bounds below, is reported: an error when it carried TCP (its segment is lost to the stream), a note
otherwise (exgate reads nothing but TCP).

Bounds on what is held, those of Linux's defaults: a datagram whose fragments span more than
``MAX_AGE`` seconds (30, ``ipfrag_time``) is given up, and at most ``MAX_HELD`` bytes (4 MiB,
``ipfrag_high_thresh``) of incomplete datagrams are held: the oldest are given up first. A
fragment that would end past 65,535 bytes is damage and left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .model import Problem, note

MAX_AGE = 30.0
MAX_HELD = 4 * 1024 * 1024
MAX_DATAGRAM = 65535
MAX_REPORTED = 20           # incomplete datagrams said one by one; the rest are counted in one problem
TCP_PROTO = 6


@dataclass
class Fragment:
    """One fragment as the IP layer gave it: ``payload`` is what follows the IP header (IPv4) or the
    Fragment header (IPv6); ``proto`` the IPv4 protocol or the Fragment header's Next Header."""

    version: int
    src: str
    dst: str
    ident: int
    proto: int
    offset: int             # in bytes
    more: bool              # MF / M flag
    payload: bytes
    packet: int
    time: float | None
    cut: bool = False       # the capture kept less of the packet than was sent (snap length)


@dataclass
class _Pending:
    first_packet: int
    first_time: float | None
    proto: int | None = None            # from the offset-0 fragment (IPv6's Next Header can differ per fragment)
    end: int | None = None              # the datagram's length, once the last fragment came
    pieces: list[tuple[int, bytes]] = field(default_factory=list)     # (offset, bytes) in arrival order
    held: int = 0
    packets: list[int] = field(default_factory=list)
    overlaps: int = 0                   # bytes that came again (first copy kept)
    conflicting: int = 0                # of those, bytes that differ from the first copy
    cut: list[int] = field(default_factory=list)                      # packets the snap length cut


@dataclass
class Datagram:
    version: int
    src: str
    dst: str
    proto: int
    payload: bytes
    packet: int             # the fragment that completed it
    time: float | None


class Reassembler:
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.pending: dict[tuple, _Pending] = {}        # insertion order: oldest first
        self.held = 0
        self.reassembled = 0
        # datagrams put together lately (key -> time, bytes): a fragment that comes again after its
        # datagram was complete (a duplicate on the wire) is recognised and dropped, not begun anew
        self.done: dict[tuple, tuple[float | None, bytes]] = {}
        self.done_bytes = 0
        self.duplicates = 0
        self.given_up = 0
        self.unreported = [0, 0]                       # incomplete datagrams beyond MAX_REPORTED: all, TCP

    def add(self, f: Fragment) -> Datagram | None:
        """Take a fragment; the whole datagram when this fragment completed it."""
        if f.offset + len(f.payload) > MAX_DATAGRAM:
            self.problems.append(Problem(f"packet {f.packet}", f"an IPv{f.version} fragment ending at byte "
                                         f"{f.offset + len(f.payload)} (past 65,535): damaged; left out"))
            return None
        key = (f.version, f.src, f.dst, f.ident) if f.version == 6 else (4, f.src, f.dst, f.proto, f.ident)
        self._expire(f.time)
        p = self.pending.get(key)
        if p is None and key in self.done:
            when, whole = self.done[key]
            fresh = when is None or f.time is None or f.time - when <= MAX_AGE
            if fresh and whole[f.offset:f.offset + len(f.payload)] == f.payload:
                self.duplicates += 1
                return None
            self._forget(key)                   # the identification used again: a new datagram
        if p is None:
            p = self.pending[key] = _Pending(f.packet, f.time)
        p.packets.append(f.packet)
        if f.cut:
            p.cut.append(f.packet)
        if f.offset == 0 and p.proto is None:
            p.proto = f.proto
        if not f.more and p.end is None:
            p.end = f.offset + len(f.payload)
        p.pieces.append((f.offset, f.payload))
        p.held += len(f.payload)
        self.held += len(f.payload)
        done = self._complete(p)
        if done is not None:
            del self.pending[key]
            self.held -= p.held
            self.reassembled += 1
            self.done[key] = (f.time, done)
            self.done_bytes += len(done)
            while len(self.done) > 1024 or self.done_bytes > MAX_HELD:
                self._forget(next(iter(self.done)))
            self._say_overlaps(f, p)
            return Datagram(f.version, f.src, f.dst, p.proto, done, f.packet, f.time)
        while self.held > MAX_HELD and self.pending:
            self._give_up(next(iter(self.pending)), f"more than {MAX_HELD // 1024 // 1024} MiB of incomplete "
                                                    "datagrams held")
        return None

    def finish(self) -> None:
        """At the end of the file: what is still incomplete is reported."""
        for key in list(self.pending):
            self._give_up(key, "the capture ends")
        more, tcp = self.unreported
        if more:
            what = (f"{more} more incomplete IP datagram(s) left out ({tcp} carrying TCP: their segments are lost)")
            self.problems.append(Problem("file", what) if tcp else note("file", what))
        if self.duplicates:
            self.problems.append(note("file", f"{self.duplicates} IP fragment(s) came again after their datagram "
                                              "was put together (duplicates): dropped"))

    def _forget(self, key: tuple) -> None:
        self.done_bytes -= len(self.done.pop(key)[1])

    # --

    def _complete(self, p: _Pending) -> bytes | None:
        if p.end is None or p.proto is None:
            return None
        have = sorted((o, o + len(b)) for o, b in p.pieces)
        reach = 0
        for start, stop in have:
            if start > reach:
                return None
            reach = max(reach, stop)
        if reach < p.end:
            return None
        buf = bytearray(p.end)
        seen = bytearray(p.end)                 # 1 where a byte has been placed: the first copy wins
        for off, data in p.pieces:
            data = data[:max(0, p.end - off)]
            span = seen[off:off + len(data)]
            if not any(span):
                buf[off:off + len(data)] = data
                seen[off:off + len(data)] = b"\x01" * len(data)
                continue
            for i, b in enumerate(data):
                if seen[off + i]:
                    p.overlaps += 1
                    p.conflicting += buf[off + i] != b
                else:
                    buf[off + i] = b
                    seen[off + i] = 1
        return bytes(buf)

    def _say_overlaps(self, f: Fragment, p: _Pending) -> None:
        if p.overlaps:
            differ = (f"; {p.conflicting} of them differ from the first copy" if p.conflicting
                      else " (the same bytes again)")
            self.problems.append(note(f"packet {f.packet}", f"IPv{f.version} datagram {f.src} -> {f.dst} id "
                                      f"0x{f.ident:x} (fragments in packets {_packets(p.packets)}): "
                                      f"{p.overlaps} byte(s) came in more than one fragment{differ}; "
                                      "the first-arrived bytes kept"))

    def _expire(self, now: float | None) -> None:
        if now is None:
            return
        # oldest first, in the order they began: stop at the first one still young (a file's times
        # mostly rise; walking every held datagram per fragment would be quadratic)
        while self.pending:
            key, p = next(iter(self.pending.items()))
            if p.first_time is None or now - p.first_time <= MAX_AGE:
                return
            self._give_up(key, f"its fragments did not all come within {MAX_AGE:.0f} s")

    def _give_up(self, key: tuple, why: str) -> None:
        p = self.pending.pop(key)
        self.held -= p.held
        self.given_up += 1
        if self.given_up > MAX_REPORTED:
            proto = p.proto if p.proto is not None else (key[3] if key[0] == 4 else None)
            self.unreported[0] += 1
            self.unreported[1] += proto == TCP_PROTO
            return
        version, src, dst, ident = key[0], key[1], key[2], key[-1]
        have = sum(len(b) for _o, b in p.pieces)
        missing = "its last fragment" if p.end is None else "fragments"
        if p.proto is None:
            missing = "its first fragment" + (" and its last" if p.end is None else "")
        proto = p.proto if p.proto is not None else (key[3] if version == 4 else None)
        what = (f"IPv{version} datagram {src} -> {dst} id 0x{ident:x} (fragments in packets "
                f"{_packets(p.packets)}, {have} byte(s)) is missing {missing} ({why}): left out")
        if p.cut:
            what += f"; the capture's snap length cut packet(s) {_packets(p.cut)}"
        if proto == TCP_PROTO:
            self.problems.append(Problem(f"packet {p.first_packet}", what + "; the TCP segment it carried is lost"))
        else:
            self.problems.append(note(f"packet {p.first_packet}", what))


def _packets(ns: list[int]) -> str:
    return ", ".join(map(str, ns[:8])) + (f" and {len(ns) - 8} more" if len(ns) > 8 else "")
