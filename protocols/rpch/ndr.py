"""NDR 2.0 (C706 chapter 14, little-endian) reading and writing for the DCE/RPC stubs exgate decodes.

Only what the stubs need: aligned integers, unique pointers (a referent id, 0 for NULL), conformant and
conformant varying arrays and strings. The pointee of an embedded pointer is not written where the
pointer is but after the construct that holds it (14.3.12.3, "deferred"); the codecs that use this
module say where that is.

What a stub holds besides its values is kept so that encode(decode(b)) == b: the referent ids in the
order they were read (Windows numbers them 0x00020000, 0x00020004...; impacket picks them at random)
and the bytes of every alignment gap that were not zeros (impacket fills some with 0xAB or 0xBF). A
writer given those lists replays them in the same order; without them it numbers the pointers as
Windows does and pads with zeros.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field


class NdrError(ValueError):
    """A stub that does not hold what its layout says (too short, a length that does not fit)."""


@dataclass
class Wire:
    """The bytes of a stub that are not values: referent ids and non-zero alignment gaps, in order."""

    referents: list[int] = field(default_factory=list)
    pads: dict[int, bytes] = field(default_factory=dict)      # n-th alignment gap -> its bytes (when not zeros)


class Reader:
    def __init__(self, data: bytes, what: str = "stub") -> None:
        self.b, self.off, self.what = bytes(data), 0, what
        self.wire = Wire()
        self._gaps = 0

    def need(self, n: int) -> None:
        if self.off + n > len(self.b):
            raise NdrError(f"{self.what} ends at byte {len(self.b)}, {n} more needed at {self.off}")

    def align(self, n: int) -> None:
        gap = -self.off % n
        if gap:
            self.need(gap)
            raw = self.b[self.off:self.off + gap]
            if raw.strip(b"\x00"):
                self.wire.pads[self._gaps] = raw
            self._gaps += 1
            self.off += gap

    def raw(self, n: int) -> bytes:
        self.need(n)
        out = self.b[self.off:self.off + n]
        self.off += n
        return out

    def u16(self) -> int:
        self.align(2)
        return struct.unpack("<H", self.raw(2))[0]

    def i16(self) -> int:
        self.align(2)
        return struct.unpack("<h", self.raw(2))[0]

    def u32(self) -> int:
        self.align(4)
        return struct.unpack("<I", self.raw(4))[0]

    def i32(self) -> int:
        self.align(4)
        return struct.unpack("<i", self.raw(4))[0]

    def count(self, limit: int = 1 << 20) -> int:
        """An array's size or length: refused when it could not fit in the rest of the stub."""
        n = self.u32()
        if n > limit or n > len(self.b):
            raise NdrError(f"{self.what}: a count of {n} at byte {self.off - 4} is more than the stub can hold")
        return n

    def pointer(self) -> bool:
        """A unique pointer's referent id; True when it points at something (its pointee comes later)."""
        ref = self.u32()
        if ref:
            self.wire.referents.append(ref)
        return ref != 0

    def string(self, width: int) -> str:
        """A conformant varying string ([string] char* or wchar_t*): max count, offset, actual count, chars."""
        _max, offset, actual = self.u32(), self.u32(), self.count()
        if offset:
            raise NdrError(f"{self.what}: a string with offset {offset} (always 0 in these stubs)")
        if _max != actual:
            raise NdrError(f"{self.what}: string max count {_max} differs from its length {actual}")
        text = self.raw(actual * width).decode("utf-16-le" if width == 2 else "latin-1", "surrogatepass")
        if not text.endswith("\x00"):
            raise NdrError(f"{self.what}: a [string] of {actual} characters without its terminating NUL")
        return text[:-1]

    def done(self) -> None:
        if self.off != len(self.b):
            raise NdrError(f"{self.what}: {len(self.b) - self.off} byte(s) left after the last parameter")


class Writer:
    def __init__(self, wire: Wire | None = None) -> None:
        self.out = bytearray()
        self._refs = list((wire or Wire()).referents)
        self._pads = dict((wire or Wire()).pads)
        self._gaps = 0
        self._next = 0x00020000

    def align(self, n: int) -> None:
        gap = -len(self.out) % n
        if gap:
            raw = self._pads.get(self._gaps)
            self.out += raw if raw is not None and len(raw) == gap else bytes(gap)
            self._gaps += 1

    def raw(self, b: bytes) -> None:
        self.out += b

    def u16(self, v: int) -> None:
        self.align(2)
        self.out += struct.pack("<H", v & 0xFFFF)

    def i16(self, v: int) -> None:
        self.align(2)
        self.out += struct.pack("<h", v)

    def u32(self, v: int) -> None:
        self.align(4)
        self.out += struct.pack("<I", v & 0xFFFFFFFF)

    def i32(self, v: int) -> None:
        self.align(4)
        self.out += struct.pack("<i", v)

    def pointer(self, present: bool) -> None:
        if not present:
            self.u32(0)
            return
        if self._refs:
            ref = self._refs.pop(0)
        else:
            ref, self._next = self._next, self._next + 4
        self.u32(ref)

    def string(self, text: str, width: int) -> None:
        raw = (text + "\x00").encode("utf-16-le" if width == 2 else "latin-1", "surrogatepass")
        n = len(raw) // width
        self.u32(n)
        self.u32(0)
        self.u32(n)
        self.out += raw
