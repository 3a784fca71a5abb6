"""The uncompressed OAB version 4 Full Details file (MS-OXOAB 2.9).

Layout (2.9): OAB_HDR (2.9.1) | OAB_META_DATA (2.9.2) | the OAB header record | one OAB_V4_REC per
Address Book object. OAB_META_DATA is cbSize then two OAB_PROP_TABLEs (2.9.3: cAtts, then cAtts
OAB_PROP_REC of (ulPropId, ulFlags), 2.9.4): the header record's schema (rgHdrAtts) and the object
records' schema (rgOabAtts). An OAB_V4_REC (2.9.5) is cbSize (counting itself), a presence bit array
(ceil(cAtts/8) bytes, most significant bit of the first byte is property 0, unused bits zero) and
the present values in table order, each encoded as 2.9.6 says:

- PtypInteger32 (2.9.6.1): 0x00-0x7F as one byte; otherwise 0x80|n (n = 1..4) and n little-endian
  bytes. Counts (binary lengths, number of values) use the same encoding. Our writer always uses
  the shortest form; the reader accepts any.
- PtypBoolean: one byte.
- PtypString8 (2.9.6.3): the bytes and one 0x00; PtypString: UTF-8 and one 0x00. An empty string is
  never written: it is absent in the presence bits.
- PtypBinary: a count, then the bytes. Multi-valued (0x1003, 0x101E, 0x101F, 0x1102, 2.9.6.7): a
  count, then each value as above.
- Properties naming other Address Book objects (PtypEmbeddedTable in the directory: a group's
  members, a manager) are written as PtypString8 / PtypMultipleString8 DNs (2.9.6.3, 2.9.6.7), so
  our tables carry them with those types (e.g. PidTagAddressBookMember as 0x8009101E).

OAB_HDR for version 4: ulVersion 0x00000020, ulSerial, ulTotRecs (the number of object records).
We put in ulSerial the OAB CRC-32 (``oab_crc``, the one LZX_BLK uses) of everything after OAB_HDR.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

VERSION_4 = 0x00000020
# OAB_PROP_REC ulFlags (2.9.4): bit a = ANR index, bit b = primary key (present on every record)
FLAG_ANR = 0x00000001
FLAG_PRIMARY = 0x00000002

PT_INT, PT_BOOL, PT_OBJ, PT_S8, PT_STR, PT_BIN = 0x0003, 0x000B, 0x000D, 0x001E, 0x001F, 0x0102
PT_MV_INT, PT_MV_S8, PT_MV_STR, PT_MV_BIN = 0x1003, 0x101E, 0x101F, 0x1102
ALLOWED_TYPES = {PT_INT, PT_BOOL, PT_OBJ, PT_S8, PT_STR, PT_BIN, PT_MV_INT, PT_MV_S8, PT_MV_STR, PT_MV_BIN}


class OabError(ValueError):
    """The bytes are not a well-formed OAB file (the text says where)."""


def oab_crc(data: bytes, crc: int = 0xFFFFFFFF) -> int:
    """CRC-32 as MS-OXOAB computes it for LZX_BLK/PATCH_HDR: the reflected 0xEDB88320 table, started
    at 0xFFFFFFFF and not inverted at the end. Pass the last result as ``crc`` to continue."""
    return zlib.crc32(data, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


@dataclass(frozen=True)
class PropRec:
    """OAB_PROP_REC (2.9.4): a property tag and its index flags."""
    tag: int
    flags: int = 0

    @property
    def type(self) -> int:
        return self.tag & 0xFFFF


@dataclass(frozen=True)
class OabHeader:
    """OAB_HDR (2.9.1)."""
    version: int = VERSION_4
    serial: int = 0
    total_records: int = 0

    def encode(self) -> bytes:
        return struct.pack("<III", self.version, self.serial, self.total_records)

    @classmethod
    def decode(cls, b: bytes) -> "OabHeader":
        if len(b) < 12:
            raise OabError("OAB_HDR: fewer than 12 bytes")
        v, s, n = struct.unpack_from("<III", b, 0)
        if v != VERSION_4:
            raise OabError(f"OAB_HDR: ulVersion 0x{v:08X} is not a version 4 Full Details file (0x00000020)")
        return cls(v, s, n)


Record = dict   # tag -> value, for the tags the record has (absent ones are left out)


@dataclass
class OabFile:
    """A whole Full Details file decoded: header, both schemas, the header record, the object records."""
    header: OabHeader
    hdr_props: list[PropRec]
    obj_props: list[PropRec]
    hdr_record: Record
    records: list[Record] = field(default_factory=list)


# ------------------------------------------------------------------ value encodings (2.9.6)
def enc_int(n: int) -> bytes:
    n &= 0xFFFFFFFF
    if n <= 0x7F:
        return bytes((n,))
    size = (n.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + n.to_bytes(size, "little")


def _enc_value(ptype: int, v) -> bytes:
    if ptype == PT_INT:
        return enc_int(int(v))
    if ptype == PT_BOOL:
        return b"\x01" if v else b"\x00"
    if ptype == PT_S8:
        b = v.encode("latin-1") if isinstance(v, str) else bytes(v)
        if not b or b"\x00" in b:
            raise OabError("a PtypString8 value is empty or holds a 0x00 byte")
        return b + b"\x00"
    if ptype == PT_STR:
        b = v.encode("utf-8")
        if not b or b"\x00" in b:
            raise OabError("a PtypString value is empty or holds a NUL")
        return b + b"\x00"
    if ptype in (PT_BIN, PT_OBJ):
        return enc_int(len(v)) + bytes(v)
    if ptype & 0x1000:
        if not v:
            raise OabError("an empty multi-valued property is written as absent")
        return enc_int(len(v)) + b"".join(_enc_value(ptype & ~0x1000, x) for x in v)
    raise OabError(f"property type 0x{ptype:04X} is not one MS-OXOAB 2.9.4 allows")


class _Reader:
    __slots__ = ("b", "pos", "end")

    def __init__(self, b, pos: int, end: int):
        self.b, self.pos, self.end = b, pos, end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise OabError(f"record ends {self.pos + n - self.end} byte(s) early at offset {self.end}")
        out = bytes(self.b[self.pos:self.pos + n])
        self.pos += n
        return out

    def int_(self) -> int:
        first = self.take(1)[0]
        if first <= 0x7F:
            return first
        size = first & 0x7F
        if first & 0x80 and 1 <= size <= 4:
            return int.from_bytes(self.take(size), "little")
        raise OabError(f"bad integer encoding 0x{first:02X} at offset {self.pos - 1}")

    def cstr(self) -> bytes:
        i = bytes(self.b[self.pos:self.end]).find(b"\x00") if isinstance(self.b, memoryview) \
            else self.b.find(b"\x00", self.pos, self.end)
        if i < 0:
            raise OabError(f"string without its 0x00 at offset {self.pos}")
        if isinstance(self.b, memoryview):
            i += self.pos
        out = bytes(self.b[self.pos:i])
        self.pos = i + 1
        return out

    def value(self, ptype: int):
        if ptype == PT_INT:
            return self.int_()
        if ptype == PT_BOOL:
            return self.take(1)[0] != 0
        if ptype == PT_S8:
            return self.cstr().decode("latin-1")
        if ptype == PT_STR:
            try:
                return self.cstr().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise OabError(f"PtypString not UTF-8 near offset {self.pos}") from exc
        if ptype in (PT_BIN, PT_OBJ):
            return self.take(self.int_())
        if ptype & 0x1000 and ptype in ALLOWED_TYPES:
            return [self.value(ptype & ~0x1000) for _ in range(self.int_())]
        raise OabError(f"property type 0x{ptype:04X} is not one MS-OXOAB 2.9.4 allows")


def encode_record(props: list[PropRec], values: Record) -> bytes:
    """One OAB_V4_REC (2.9.5) over ``props``; a tag missing from ``values`` (or empty) is absent."""
    bits = bytearray((len(props) + 7) // 8)
    data = []
    for i, p in enumerate(props):
        v = values.get(p.tag)
        if v is None or (isinstance(v, (str, bytes, list, tuple)) and len(v) == 0):
            continue
        bits[i >> 3] |= 0x80 >> (i & 7)
        data.append(_enc_value(p.type, v))
    body = bytes(bits) + b"".join(data)
    return struct.pack("<I", 4 + len(body)) + body


def decode_record(props: list[PropRec], b, pos: int = 0) -> tuple[Record, int]:
    """The OAB_V4_REC at ``pos``; returns (values, the offset after it)."""
    if pos + 4 > len(b):
        raise OabError(f"record size cut short at offset {pos}")
    (size,) = struct.unpack_from("<I", b, pos)
    nbits = (len(props) + 7) // 8
    if size < 4 + nbits or pos + size > len(b):
        raise OabError(f"record at offset {pos} says {size} bytes; {len(b) - pos} are left")
    r = _Reader(b, pos + 4, pos + size)
    bits = r.take(nbits)
    out: Record = {}
    for i, p in enumerate(props):
        if bits[i >> 3] & (0x80 >> (i & 7)):
            out[p.tag] = r.value(p.type)
    if len(props) % 8 and bits[-1] & (0xFF >> (len(props) % 8)):
        raise OabError(f"record at offset {pos}: unused presence bits are set")
    if r.pos != pos + size:
        raise OabError(f"record at offset {pos}: {pos + size - r.pos} byte(s) after its last value")
    return out, pos + size


def _enc_table(props: list[PropRec]) -> bytes:
    for p in props:
        if p.type not in ALLOWED_TYPES:
            raise OabError(f"tag 0x{p.tag:08X}: type not allowed in an OAB_PROP_REC (2.9.4)")
    return struct.pack("<I", len(props)) + b"".join(struct.pack("<II", p.tag, p.flags) for p in props)


def encode_meta(hdr_props: list[PropRec], obj_props: list[PropRec]) -> bytes:
    """OAB_META_DATA (2.9.2): cbSize (counting itself), rgHdrAtts, rgOabAtts."""
    body = _enc_table(hdr_props) + _enc_table(obj_props)
    return struct.pack("<I", 4 + len(body)) + body


def decode_meta(b, pos: int = 12) -> tuple[list[PropRec], list[PropRec], int]:
    if pos + 4 > len(b):
        raise OabError("OAB_META_DATA missing")
    (size,) = struct.unpack_from("<I", b, pos)
    end = pos + size
    if end > len(b):
        raise OabError(f"OAB_META_DATA says {size} bytes; {len(b) - pos} are left")
    p = pos + 4
    tables = []
    for which in ("rgHdrAtts", "rgOabAtts"):
        if p + 4 > end:
            raise OabError(f"OAB_META_DATA: {which} missing")
        (n,) = struct.unpack_from("<I", b, p)
        p += 4
        if p + 8 * n > end:
            raise OabError(f"OAB_META_DATA: {which} says {n} properties; the record is shorter")
        rows = [PropRec(*struct.unpack_from("<II", b, p + 8 * i)) for i in range(n)]
        for r in rows:
            if r.type not in ALLOWED_TYPES:
                raise OabError(f"{which}: tag 0x{r.tag:08X} has a type MS-OXOAB 2.9.4 does not allow")
        tables.append(rows)
        p += 8 * n
    if p != end:
        raise OabError(f"OAB_META_DATA: {end - p} byte(s) after rgOabAtts")
    return tables[0], tables[1], end


# ------------------------------------------------------------------ whole files
class DetailsWriter:
    """Writes a Full Details file one record at a time (bounded memory).

    ``start()`` gives OAB_HDR (a placeholder), OAB_META_DATA and the header record; ``add(values)``
    each object record's bytes; ``finish()`` the final OAB_HDR (ulSerial and ulTotRecs known only now)
    that the caller writes over the first 12 bytes."""

    def __init__(self, hdr_props: list[PropRec], obj_props: list[PropRec], hdr_record: Record):
        self.hdr_props, self.obj_props, self.hdr_record = list(hdr_props), list(obj_props), hdr_record
        self.count = 0
        self.size = 0
        self._crc = 0xFFFFFFFF

    def _out(self, b: bytes) -> bytes:
        self._crc = oab_crc(b, self._crc)
        self.size += len(b)
        return b

    def start(self) -> bytes:
        self.size = 12
        return OabHeader().encode() + self._out(encode_meta(self.hdr_props, self.obj_props)
                                                + encode_record(self.hdr_props, self.hdr_record))

    def add(self, values: Record) -> bytes:
        for p in self.obj_props:
            if p.flags & FLAG_PRIMARY and not values.get(p.tag):
                raise OabError(f"a record lacks the primary key 0x{p.tag:08X} (2.9.4: it MUST be present)")
        self.count += 1
        return self._out(encode_record(self.obj_props, values))

    def finish(self) -> bytes:
        return OabHeader(VERSION_4, self._crc, self.count).encode()


def encode_details(f: OabFile) -> bytes:
    w = DetailsWriter(f.hdr_props, f.obj_props, f.hdr_record)
    parts = [w.start()] + [w.add(r) for r in f.records]
    # a new file (default header) gets its computed OAB_HDR; a decoded one keeps what it read, so
    # encode(decode(b)) == b
    head = w.finish() if f.header == OabHeader() else f.header.encode()
    return head + parts[0][12:] + b"".join(parts[1:])


def iter_details(b) -> tuple[OabHeader, list[PropRec], list[PropRec], Record, Iterator[Record]]:
    """Read the header, the schemas and the header record; the object records come from the iterator
    one at a time. ``b`` is bytes or a memoryview (e.g. of a mapped file)."""
    header = OabHeader.decode(b)
    hdr_props, obj_props, pos = decode_meta(b, 12)
    hdr_record, pos = decode_record(hdr_props, b, pos)

    def records() -> Iterator[Record]:
        p, n = pos, 0
        while p < len(b):
            rec, p = decode_record(obj_props, b, p)
            n += 1
            yield rec
        if n != header.total_records:
            raise OabError(f"OAB_HDR says {header.total_records} records; the file holds {n}")
    return header, hdr_props, obj_props, hdr_record, records()


def decode_details(b, check_serial: bool = True) -> OabFile:
    header, hp, op, hrec, recs = iter_details(b)
    f = OabFile(header, hp, op, hrec, list(recs))
    if check_serial and header.serial != oab_crc(bytes(b[12:])):
        raise OabError(f"OAB_HDR ulSerial 0x{header.serial:08X} is not the CRC of the data after it")
    return f


def records_of(b) -> Iterable[Record]:
    return iter_details(b)[4]
