"""PidLidGlobalObjectId / PidLidCleanGlobalObjectId <-> iCalendar UID.

Layout: MS-OXOCAL 2.2.1.27 (2.2.1.28 is the same with the instance date zeroed).
UID rules: MS-OXCICAL 2.1.3.1.1.20.26. A UID that is the hex form of a Global
Object ID (Outlook's) is decoded to those bytes; any other UID is wrapped as
"vCal-Uid" + 01 00 00 00 + UTF-8 + NUL. Exporting reverses both, so a UID that
came from a Global Object ID comes back as the same hex string.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import date

BYTE_ARRAY_ID = bytes.fromhex("040000008200E00074C5B7101A82E008")
VCAL_UID_MARK = b"vCal-Uid" + b"\x01\x00\x00\x00"
_HEX = re.compile(r"^[0-9A-Fa-f]+$")


@dataclass
class GlobalObjectId:
    year: int = 0          # YH/YL: big-endian year of the exception's original date, else 0
    month: int = 0
    day: int = 0
    creation_time: int = 0  # FILETIME
    reserved: bytes = bytes(8)
    data: bytes = b""

    def encode(self) -> bytes:
        return (BYTE_ARRAY_ID + struct.pack(">H", self.year) + bytes([self.month, self.day])
                + struct.pack("<Q", self.creation_time) + self.reserved
                + struct.pack("<I", len(self.data)) + self.data)

    @classmethod
    def decode(cls, blob: bytes) -> "GlobalObjectId":
        if len(blob) < 40 or blob[:16] != BYTE_ARRAY_ID:
            raise ValueError("not a Global Object ID")
        (year,) = struct.unpack_from(">H", blob, 16)
        (ctime,) = struct.unpack_from("<Q", blob, 20)
        (size,) = struct.unpack_from("<I", blob, 36)
        return cls(year, blob[18], blob[19], ctime, blob[28:36], blob[40:40 + size])

    @property
    def third_party_uid(self) -> str | None:
        if self.data.startswith(VCAL_UID_MARK):
            return self.data[len(VCAL_UID_MARK):].split(b"\x00", 1)[0].decode("utf-8", "replace")
        return None


def is_encoded_global_id(uid: str) -> bool:
    """The EncodedGlobalId test of MS-OXCICAL 2.1.3.1.1.20.26."""
    return (len(uid) >= 82 and len(uid) % 2 == 0 and bool(_HEX.match(uid))
            and uid[:32].upper() == BYTE_ARRAY_ID.hex().upper())


def goid_from_uid(uid: str, instance: date | None = None) -> bytes:
    """PidLidGlobalObjectId for ``uid``; ``instance`` is the original date of an exception."""
    if is_encoded_global_id(uid):
        g = GlobalObjectId.decode(bytes.fromhex(uid))
    else:
        g = GlobalObjectId(data=VCAL_UID_MARK + uid.encode("utf-8") + b"\x00")
    g.year, g.month, g.day = (instance.year, instance.month, instance.day) if instance else (0, 0, 0)
    return g.encode()


def clean_goid(goid: bytes) -> bytes:
    """PidLidCleanGlobalObjectId: the same blob with the instance date zeroed (MS-OXOCAL 2.2.1.28)."""
    return goid[:16] + b"\x00\x00\x00\x00" + goid[20:]


def uid_from_goid(goid: bytes) -> str:
    g = GlobalObjectId.decode(goid)
    third = g.third_party_uid
    if third is not None:
        return third
    return clean_goid(goid).hex().upper()


def instance_date(goid: bytes) -> date | None:
    g = GlobalObjectId.decode(goid)
    return date(g.year, g.month, g.day) if g.year else None
