"""Windows time-zone layouts (MS-OXOCAL): PidLidTimeZoneStruct's TZREG (2.2.1.39) and the
TimeZoneDefinition of PidLidAppointmentTimeZoneDefinition* (2.2.1.41): a bias (UTC = local + bias) and
the SYSTEMTIMEs at which standard and daylight time begin ("the Nth weekday of a month at hh:mm local
time", N = 5 meaning the last one). Evaluating them and the iCalendar side are in gateway/store/convert/tz.py.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import timedelta

TZRULE_FLAG_RECUR_CURRENT_TZREG = 0x0001
TZRULE_FLAG_EFFECTIVE_TZREG = 0x0002


@dataclass(frozen=True)
class SystemTime:
    """SYSTEMTIME (MS-DTYP 2.3.13); in a TZREG, wYear=0 means a yearly relative date."""

    year: int = 0
    month: int = 0
    day_of_week: int = 0
    day: int = 0
    hour: int = 0
    minute: int = 0
    second: int = 0
    milliseconds: int = 0

    def pack(self) -> bytes:
        return struct.pack("<8H", self.year, self.month, self.day_of_week, self.day,
                           self.hour, self.minute, self.second, self.milliseconds)

    @classmethod
    def unpack(cls, data: bytes) -> "SystemTime":
        return cls(*struct.unpack("<8H", data))


@dataclass(frozen=True)
class TzReg:
    """The rule shared by PidLidTimeZoneStruct and a TZRule."""

    bias: int
    standard_bias: int = 0
    daylight_bias: int = 0
    standard_date: SystemTime = SystemTime()
    daylight_date: SystemTime = SystemTime()

    @property
    def has_dst(self) -> bool:
        return bool(self.standard_date.month and self.daylight_date.month)

    @property
    def std_offset(self) -> timedelta:
        return timedelta(minutes=-(self.bias + self.standard_bias))

    @property
    def dst_offset(self) -> timedelta:
        return timedelta(minutes=-(self.bias + self.daylight_bias))


def encode_timezone_struct(reg: TzReg) -> bytes:
    """PidLidTimeZoneStruct, 48 bytes (MS-OXOCAL 2.2.1.39)."""
    return (struct.pack("<3iH", reg.bias, reg.standard_bias, reg.daylight_bias, reg.standard_date.year)
            + reg.standard_date.pack() + struct.pack("<H", reg.daylight_date.year) + reg.daylight_date.pack())


def decode_timezone_struct(data: bytes) -> TzReg:
    if len(data) < 48:
        raise ValueError("PidLidTimeZoneStruct is 48 bytes")
    bias, sb, db, _ = struct.unpack_from("<3iH", data, 0)
    std = SystemTime.unpack(data[14:30])
    dst = SystemTime.unpack(data[32:48])
    return TzReg(bias, sb, db, std, dst)


@dataclass
class TzRule:
    """TZRule (MS-OXOCAL 2.2.1.41.1)."""

    reg: TzReg
    flags: int = TZRULE_FLAG_EFFECTIVE_TZREG
    year: int = 0
    reserved: int = 0x003E
    x: bytes = bytes(14)
    major: int = 2
    minor: int = 1


@dataclass
class TimeZoneDefinition:
    """TimeZoneDefinition (MS-OXOCAL 2.2.1.41)."""

    key_name: str
    rules: list[TzRule] = field(default_factory=list)
    reserved: int = 0x0002
    major: int = 2
    minor: int = 1

    def effective(self) -> TzRule | None:
        for r in self.rules:
            if r.flags & TZRULE_FLAG_EFFECTIVE_TZREG:
                return r
        return self.rules[-1] if self.rules else None


def encode_timezone_definition(d: TimeZoneDefinition) -> bytes:
    key = d.key_name.encode("utf-16-le")
    header = struct.pack("<2H", d.reserved, len(key) // 2) + key + struct.pack("<H", len(d.rules))
    out = [struct.pack("<2BH", d.major, d.minor, len(header)), header]
    for r in d.rules:
        g = r.reg
        out.append(struct.pack("<2B3H", r.major, r.minor, r.reserved, r.flags, r.year) + r.x
                   + struct.pack("<3i", g.bias, g.standard_bias, g.daylight_bias)
                   + g.standard_date.pack() + g.daylight_date.pack())
    return b"".join(out)


def decode_timezone_definition(data: bytes) -> TimeZoneDefinition:
    major, minor, cb_header = struct.unpack_from("<2BH", data, 0)
    reserved, cch = struct.unpack_from("<2H", data, 4)
    key = data[8:8 + 2 * cch].decode("utf-16-le")
    off = 4 + cb_header   # cRules is the last field of the header
    (count,) = struct.unpack_from("<H", data, off - 2)
    d = TimeZoneDefinition(key, [], reserved, major, minor)
    for _ in range(count):
        rmaj, rmin, rres, flags, year = struct.unpack_from("<2B3H", data, off)
        x = data[off + 8:off + 22]
        bias, sb, db = struct.unpack_from("<3i", data, off + 22)
        std = SystemTime.unpack(data[off + 34:off + 50])
        dst = SystemTime.unpack(data[off + 50:off + 66])
        d.rules.append(TzRule(TzReg(bias, sb, db, std, dst), flags, year, rres, x, rmaj, rmin))
        off += 4 + rres   # Reserved holds the size of what follows it (0x3E)
    if off > len(data):
        raise ValueError("TimeZoneDefinition truncated")
    return d


def definition_for(key_name: str, reg: TzReg, year: int, *, recur: bool = False) -> TimeZoneDefinition:
    """One effective rule; the R flag only on PidLidAppointmentTimeZoneDefinitionRecur (2.2.1.42)."""
    flags = TZRULE_FLAG_EFFECTIVE_TZREG | (TZRULE_FLAG_RECUR_CURRENT_TZREG if recur else 0)
    return TimeZoneDefinition(key_name, [TzRule(reg, flags, year)])
