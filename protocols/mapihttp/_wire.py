"""Little-endian reading and writing shared by the body codecs (plain struct).

Every failure to read is a ``MapiHttpDecodeError``; nothing else escapes.
"""
from __future__ import annotations

import struct

from .errors import MapiHttpDecodeError

_U32 = struct.Struct("<I")


class Reader:
    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise MapiHttpDecodeError(f"{what}: expected bytes, got {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    def _fail(self, message: str) -> MapiHttpDecodeError:
        return MapiHttpDecodeError(f"{self._what}: {message} at offset {self._pos}")

    def u32(self, field: str) -> int:
        if self._pos + 4 > len(self._data):
            raise self._fail(f"truncated {field} (need 4 bytes, have {len(self._data) - self._pos})")
        (value,) = _U32.unpack_from(self._data, self._pos)
        self._pos += 4
        return value

    def take(self, n: int, field: str) -> bytes:
        if n > len(self._data) - self._pos:
            raise self._fail(f"{field} states {n} bytes, only {len(self._data) - self._pos} remain")
        chunk = self._data[self._pos:self._pos + n]
        self._pos += n
        return chunk

    def sized(self, field: str) -> bytes:
        """A u32 size followed by that many bytes (the XxxBufferSize + XxxBuffer pairs)."""
        return self.take(self.u32(field + "Size"), field)

    def ascii_z(self, field: str) -> str:
        """A null-terminated ASCII string (MS-OXCMAPIHTTP: UserDn, DnPrefix)."""
        end = self._data.find(b"\0", self._pos)
        if end < 0:
            raise self._fail(f"{field} has no terminating null")
        raw = self._data[self._pos:end]
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise self._fail(f"{field} is not ASCII ({exc.reason})") from None
        self._pos = end + 1
        return text

    def unicode_z(self, field: str) -> str:
        """A null-terminated UTF-16LE string: the terminator is a 2-byte zero on an even offset."""
        pos = self._pos
        data = self._data
        while True:
            if pos + 2 > len(data):
                raise self._fail(f"{field} has no terminating null")
            if data[pos] == 0 and data[pos + 1] == 0:
                break
            pos += 2
        # surrogatepass keeps a lone surrogate, so the bytes re-encode exactly
        text = data[self._pos:pos].decode("utf-16-le", "surrogatepass")
        self._pos = pos + 2
        return text

    def end(self) -> None:
        if self._pos != len(self._data):
            raise self._fail(f"{len(self._data) - self._pos} trailing bytes")

    @property
    def at_end(self) -> bool:
        return self._pos == len(self._data)


def u32(value: int) -> bytes:
    return _U32.pack(value)


def sized(data: bytes) -> bytes:
    return _U32.pack(len(data)) + bytes(data)


def ascii_z(text: str) -> bytes:
    raw = text.encode("ascii")
    if b"\0" in raw:
        raise ValueError("a null-terminated string cannot hold a null")
    return raw + b"\0"


def unicode_z(text: str) -> bytes:
    raw = text.encode("utf-16-le", "surrogatepass")
    if "\0" in text:
        raise ValueError("a null-terminated string cannot hold a null")
    return raw + b"\0\0"
