"""Time zones: VTIMEZONE / Olson zones <-> PidLidTimeZoneStruct (MS-OXOCAL 2.2.1.39)
and TimeZoneDefinition (MS-OXOCAL 2.2.1.41, used by PidLidAppointmentTimeZoneDefinition
StartDisplay / EndDisplay / Recur).

Windows describes a zone by one yearly rule (TZREG): a bias (UTC = local + bias)
and the SYSTEMTIMEs at which standard and daylight time begin, "the Nth
weekday of a month at hh:mm local time" with N = 5 meaning the last one. The byte layouts of TZREG and
TimeZoneDefinition are in protocols/mapi/tz.py; this module evaluates them and maps them to iCalendar.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from protocols.mapi.tz import SystemTime, TzReg   # the binary layouts; this module evaluates them, maps iCalendar

UTC = timezone.utc
_OLSON_TO_WINDOWS: dict[str, str] = {}
for _win, _olson in WINDOWS_TO_OLSON.items():
    _OLSON_TO_WINDOWS.setdefault(_olson, _win)
_OLSON_TO_WINDOWS.setdefault("UTC", "UTC")
_OLSON_TO_WINDOWS.setdefault("Etc/UTC", "UTC")

_DAYS_SU0 = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]


# --- evaluating a TZREG ---

def _transition(year: int, st: SystemTime) -> datetime:
    """The local wall time at which a SYSTEMTIME rule fires in ``year``."""
    if st.year:
        return datetime(st.year, st.month, st.day, st.hour, st.minute)
    first_sun0 = (date(year, st.month, 1).weekday() + 1) % 7
    day = 1 + (st.day_of_week - first_sun0) % 7 + (max(st.day, 1) - 1) * 7
    last = calendar.monthrange(year, st.month)[1]
    while day > last:
        day -= 7
    return datetime(year, st.month, day) + timedelta(hours=st.hour, minutes=st.minute)


class RuleTimezone(tzinfo):
    """A tzinfo that follows one TZREG every year (how Outlook evaluates PidLidTimeZoneStruct)."""

    def __init__(self, reg: TzReg, name: str = ""):
        self.reg, self.name = reg, name

    def _dst_utc_window(self, year: int) -> tuple[datetime, datetime]:
        # daylight starts at a standard-time wall clock and ends at a daylight one
        start = _transition(year, self.reg.daylight_date) - self.reg.std_offset
        end = _transition(year, self.reg.standard_date) - self.reg.dst_offset
        return start, end

    def _is_dst_utc(self, utc: datetime) -> bool:
        if not self.reg.has_dst:
            return False
        start, end = self._dst_utc_window(utc.year)
        return start <= utc < end if start < end else not (end <= utc < start)

    def _is_dst_local(self, local: datetime) -> bool:
        if not self.reg.has_dst:
            return False
        start = _transition(local.year, self.reg.daylight_date)
        end = _transition(local.year, self.reg.standard_date)
        return start <= local < end if start < end else not (end <= local < start)

    def utcoffset(self, dt):
        if dt is None:
            return self.reg.std_offset
        return self.reg.dst_offset if self._is_dst_local(dt.replace(tzinfo=None)) else self.reg.std_offset

    def dst(self, dt):
        if dt is None or not self._is_dst_local(dt.replace(tzinfo=None)):
            return timedelta(0)
        return self.reg.dst_offset - self.reg.std_offset

    def tzname(self, dt):
        return self.name or None

    def fromutc(self, dt):
        utc = dt.replace(tzinfo=None)
        off = self.reg.dst_offset if self._is_dst_utc(utc) else self.reg.std_offset
        return (utc + off).replace(tzinfo=self)

    def __repr__(self):
        return f"RuleTimezone({self.name!r})"


# --- tzinfo / VTIMEZONE -> TZREG ---

def _systemtime_for(local: datetime) -> SystemTime:
    last = calendar.monthrange(local.year, local.month)[1]
    nth = 5 if local.day + 7 > last else (local.day - 1) // 7 + 1
    return SystemTime(0, local.month, (local.weekday() + 1) % 7, nth, local.hour, local.minute)


def _offset(tz: tzinfo, utc: datetime) -> timedelta:
    return utc.replace(tzinfo=UTC).astimezone(tz).utcoffset() or timedelta(0)


def tzreg_from_tzinfo(tz: tzinfo, year: int) -> TzReg:
    """The TZREG that describes ``tz`` during ``year``, found by looking at its UTC offsets."""
    if isinstance(tz, RuleTimezone):
        return tz.reg
    t = datetime(year, 1, 1, 12)
    prev = _offset(tz, t)
    changes: list[tuple[datetime, timedelta, timedelta]] = []
    for _ in range(366):
        nxt = t + timedelta(days=1)
        off = _offset(tz, nxt)
        if off != prev:
            lo, hi = t, nxt   # offset(lo) == prev, offset(hi) == off: bisect to the minute
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    break
                if _offset(tz, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            changes.append((hi, prev, off))
            prev = off
        t = nxt
    ups = [c for c in changes if c[2] > c[1]]
    downs = [c for c in changes if c[2] < c[1]]
    if not ups or not downs:
        std = _offset(tz, datetime(year, 12, 31, 12))
        return TzReg(bias=-int(std.total_seconds() // 60))
    up, down = ups[0], downs[0]
    std, dst = up[1], up[2]
    return TzReg(bias=-int(std.total_seconds() // 60), standard_bias=0,
                 daylight_bias=-int((dst - std).total_seconds() // 60),
                 standard_date=_systemtime_for(down[0] + down[1]),
                 daylight_date=_systemtime_for(up[0] + up[1]))


def _parse_offset(v) -> timedelta:
    return v.td if hasattr(v, "td") else v


def _as_list(v) -> list:
    """vRecur values are lists once parsed, scalars when built in code."""
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _rule_systemtime(sub) -> SystemTime | None:
    """A STANDARD/DAYLIGHT sub-component with a yearly BYMONTH/BYDAY RRULE -> SYSTEMTIME."""
    rrule = sub.get("RRULE")
    if rrule is None or str((_as_list(rrule.get("FREQ")) or [""])[0]).upper() != "YEARLY":
        return None
    months, days = _as_list(rrule.get("BYMONTH")), _as_list(rrule.get("BYDAY"))
    if len(months) != 1 or len(days) != 1:
        return None
    m = re.fullmatch(r"([+-]?\d*)([A-Z]{2})", str(days[0]).upper())
    if not m or m.group(2) not in _DAYS_SU0:
        return None
    n = int(m.group(1) or 0)
    if n == 0:   # BYDAY=SU with BYMONTHDAY=8..14 style
        md = sorted(int(x) for x in _as_list(rrule.get("BYMONTHDAY")))
        if len(md) != 7:
            return None
        n = 5 if md[0] < 0 or md[0] >= 22 else (md[0] - 1) // 7 + 1
    start = sub.decoded("DTSTART")
    return SystemTime(0, int(months[0]), _DAYS_SU0.index(m.group(2)), 5 if n < 0 else min(n, 5),
                      start.hour, start.minute)


def tzreg_from_vtimezone(vtz, year: int) -> TzReg | None:
    """Read a VTIMEZONE the way Outlook writes it; None when it is not of that shape."""
    def pick(kind):
        subs = [s for s in vtz.subcomponents if s.name == kind]
        best = None
        for s in subs:
            start = s.decoded("DTSTART")
            if start.year <= year and (best is None or start >= best.decoded("DTSTART")):
                best = s
        return best or (subs[0] if subs else None)

    std, dst = pick("STANDARD"), pick("DAYLIGHT")
    if std is None:
        return None
    std_off = _parse_offset(std.decoded("TZOFFSETTO"))
    if dst is None or (std.get("RRULE") is None and dst.get("RRULE") is None):
        if dst is not None and dst.get("RRULE") is None and std.get("RRULE") is None:
            return None   # RDATE-style history: let the caller scan
        return TzReg(bias=-int(std_off.total_seconds() // 60))
    dst_off = _parse_offset(dst.decoded("TZOFFSETTO"))
    sd, dd = _rule_systemtime(std), _rule_systemtime(dst)
    if sd is None or dd is None:
        return None
    return TzReg(-int(std_off.total_seconds() // 60), 0, -int((dst_off - std_off).total_seconds() // 60), sd, dd)


def _fmt_offset(td: timedelta) -> str:
    minutes = int(td.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}{m:02d}"


def vtimezone_from_tzreg(tzid: str, reg: TzReg) -> icalendar.Timezone:
    """An Outlook-style VTIMEZONE (1601 DTSTART with a yearly RRULE) for one TZREG."""
    vtz = icalendar.Timezone()
    vtz.add("TZID", tzid)

    def sub(kind, st: SystemTime | None, off_from, off_to):
        c = icalendar.TimezoneStandard() if kind == "STANDARD" else icalendar.TimezoneDaylight()
        h, m = (st.hour, st.minute) if st else (0, 0)
        c.add("DTSTART", datetime(1601, 1, 1, h, m))
        c["TZOFFSETFROM"] = icalendar.vUTCOffset(off_from)
        c["TZOFFSETTO"] = icalendar.vUTCOffset(off_to)
        if st:
            n = -1 if st.day == 5 else st.day
            c.add("RRULE", {"FREQ": "YEARLY", "BYDAY": f"{n}{_DAYS_SU0[st.day_of_week]}", "BYMONTH": st.month})
        vtz.add_component(c)

    if reg.has_dst:
        sub("STANDARD", reg.standard_date, reg.dst_offset, reg.std_offset)
        sub("DAYLIGHT", reg.daylight_date, reg.std_offset, reg.dst_offset)
    else:
        sub("STANDARD", None, reg.std_offset, reg.std_offset)
    return vtz


# --- naming ---

_PREFIX = re.compile(r"^/?(?:[^/]+\.[^/]+/)?(?:[^/]*\d[^/]*/)?(?:Tzfile/)?")


def olson_zone(tzid: str) -> ZoneInfo | None:
    """An IANA zone for a TZID: the name itself, a Windows key name, or a vendor-prefixed name
    (Evolution's /freeassociation.sourceforge.net/Tzfile/Europe/London, Citadel's /citadel.org/...)."""
    candidates = [tzid.strip('"'), WINDOWS_TO_OLSON.get(tzid.strip('"'), "")]
    stripped = _PREFIX.sub("", tzid.strip('"'))
    candidates.append(stripped)
    parts = tzid.strip('"/').split("/")
    for i in range(len(parts) - 1):
        candidates.append("/".join(parts[i:]))
    for c in candidates:
        if not c:
            continue
        try:
            return ZoneInfo(c)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return None


def windows_key_name(tzid: str) -> str:
    """The Windows registry key name Outlook expects in TimeZoneDefinition.KeyName."""
    if tzid in WINDOWS_TO_OLSON:
        return tzid
    z = olson_zone(tzid)
    if z is not None and z.key in _OLSON_TO_WINDOWS:
        return _OLSON_TO_WINDOWS[z.key]
    return tzid


def is_utc(reg: TzReg) -> bool:
    return reg.bias == 0 and reg.standard_bias == 0 and not reg.has_dst
