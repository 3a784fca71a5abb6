"""A little-endian reader over a byte buffer, for the MAPI binary codecs (ROP buffers, restrictions and
sort orders). Every short read raises the codec's own error type (``error``), never IndexError or
struct.error, so a bad buffer is a protocol error."""
from __future__ import annotations

import struct

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class Reader:
    """Reads ``buf[off:end]``; subclasses set ``error`` (and ``what``, the start of its messages)."""

    __slots__ = ("buf", "off", "end")
    error: type[Exception] = ValueError
    what = ""

    def __init__(self, buf, off: int = 0, end: int | None = None):
        self.buf = buf if isinstance(buf, bytes) else bytes(buf)
        self.off = off
        self.end = len(self.buf) if end is None else end

    def need(self, n: int) -> None:
        if n < 0 or self.off + n > self.end:
            raise self.error(f"{self.what}truncated: need {n} bytes at offset {self.off}, "
                             f"have {max(self.end - self.off, 0)}")

    def left(self) -> int:
        return self.end - self.off

    def u8(self) -> int:
        self.need(1)
        v = self.buf[self.off]
        self.off += 1
        return v

    def u16(self) -> int:
        self.need(2)
        (v,) = _U16.unpack_from(self.buf, self.off)
        self.off += 2
        return v

    def u32(self) -> int:
        self.need(4)
        (v,) = _U32.unpack_from(self.buf, self.off)
        self.off += 4
        return v

    def u64(self) -> int:
        self.need(8)
        (v,) = _U64.unpack_from(self.buf, self.off)
        self.off += 8
        return v

    def take(self, n: int) -> bytes:
        self.need(n)
        v = self.buf[self.off:self.off + n]
        self.off += n
        return v

    def rest(self) -> bytes:
        return self.take(self.left())

    def asciiz(self) -> str:
        """A NUL-terminated 8-bit string (latin-1 so any byte round-trips)."""
        end = self.buf.find(b"\x00", self.off, self.end)
        if end < 0:
            raise self.error(f"unterminated 8-bit string at offset {self.off}")
        v = self.buf[self.off:end].decode("latin-1")
        self.off = end + 1
        return v

    def utf16z(self) -> str:
        """A NUL-terminated UTF-16LE string (surrogatepass so any code unit round-trips)."""
        pos = self.buf.find(b"\x00\x00", self.off, self.end)
        while pos >= 0 and (pos - self.off) % 2:      # a NUL pair across two code units is not the end
            pos = self.buf.find(b"\x00\x00", pos + 1, self.end)
        if pos < 0:
            raise self.error(f"unterminated UTF-16 string at offset {self.off}")
        v = self.buf[self.off:pos].decode("utf-16-le", "surrogatepass")
        self.off = pos + 2
        return v
