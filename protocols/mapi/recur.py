"""PidLidAppointmentRecur / PidLidTaskRecurrence blob codec (MS-OXOCAL 2.2.1.44).

The blob is a RecurrencePattern (2.2.1.44.1), which tasks store alone, followed
for appointments by the AppointmentRecurrencePattern tail (2.2.1.44.5):
ExceptionInfo (2.2.1.44.2) and ExtendedException (2.2.1.44.3) records.

Every "date" field counts minutes since 1601-01-01 00:00 in the series' own
time zone (PidLidTimeZoneStruct), not UTC. Decoding keeps every field,
including reserved blocks and stated string lengths, so ``encode(decode(b))``
gives back ``b``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as P
from protocols.mapi.props import named as N

# RecurFrequency (2.2.1.44.1)
FREQ_DAILY, FREQ_WEEKLY, FREQ_MONTHLY, FREQ_YEARLY = 0x200A, 0x200B, 0x200C, 0x200D
# PatternType
PT_DAY, PT_WEEK, PT_MONTH, PT_MONTH_NTH, PT_MONTH_END = 0x0, 0x1, 0x2, 0x3, 0x4
PT_HJ_MONTH, PT_HJ_MONTH_NTH, PT_HJ_MONTH_END = 0xA, 0xB, 0xC
# EndType
END_AFTER_DATE, END_AFTER_N, END_NEVER, END_NEVER_OLD = 0x2021, 0x2022, 0x2023, 0xFFFFFFFF
# EndDate of a series with no end: 4500-12-31 23:59 (2.2.1.44.1)
NO_END_DATE = 0x5AE980DF

# OverrideFlags (2.2.1.44.2)
ARO_SUBJECT = 0x0001
ARO_MEETINGTYPE = 0x0002
ARO_REMINDERDELTA = 0x0004
ARO_REMINDER = 0x0008
ARO_LOCATION = 0x0010
ARO_BUSYSTATUS = 0x0020
ARO_ATTACHMENT = 0x0040
ARO_SUBTYPE = 0x0080
ARO_APPTCOLOR = 0x0100
ARO_EXCEPTIONAL_BODY = 0x0200

# Day bits of PatternTypeSpecific Week / MonthNth (2.2.1.44.1.2): Sunday = bit 0
DAY_BITS = {"SU": 0x01, "MO": 0x02, "TU": 0x04, "WE": 0x08, "TH": 0x10, "FR": 0x20, "SA": 0x40}
DAYS_SU0 = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]

EPOCH = datetime(1601, 1, 1)
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 10080


class RecurError(ValueError):
    """A recurrence blob is malformed or truncated."""


# --- minutes since 1601 <-> naive local datetimes ---

def to_minutes(dt: datetime | date) -> int:
    if not isinstance(dt, datetime):
        dt = datetime(dt.year, dt.month, dt.day)
    delta = dt.replace(tzinfo=None) - EPOCH
    return delta.days * MINUTES_PER_DAY + delta.seconds // 60


def from_minutes(minutes: int) -> datetime:
    return EPOCH + timedelta(minutes=minutes)


def midnight(minutes: int) -> int:
    return minutes - minutes % MINUTES_PER_DAY


# --- structures ---

@dataclass
class RecurrencePattern:
    """MS-OXOCAL 2.2.1.44.1. ``pattern_specific`` is () for Day, (day mask,) for Week,
    (day of month,) for Month/MonthEnd/HjMonth/HjMonthEnd, (day mask, N) for MonthNth."""

    recur_frequency: int
    pattern_type: int
    calendar_type: int = 0
    first_date_time: int = 0
    period: int = 1
    sliding_flag: int = 0
    pattern_specific: tuple[int, ...] = ()
    end_type: int = END_NEVER
    occurrence_count: int = 10
    first_dow: int = 0
    deleted_instance_dates: list[int] = field(default_factory=list)
    modified_instance_dates: list[int] = field(default_factory=list)
    start_date: int = 0
    end_date: int = NO_END_DATE
    reader_version: int = 0x3004
    writer_version: int = 0x3004


@dataclass
class ExceptionInfo:
    """MS-OXOCAL 2.2.1.44.2; 8-bit strings are kept as bytes (the code page is the writer's)."""

    start_date_time: int
    end_date_time: int
    original_start_date: int
    override_flags: int = 0
    subject: bytes | None = None
    subject_length: int | None = None   # stated SubjectLength; None = len + 1
    meeting_type: int | None = None
    reminder_delta: int | None = None
    reminder_set: int | None = None
    location: bytes | None = None
    location_length: int | None = None
    busy_status: int | None = None
    attachment: int | None = None
    sub_type: int | None = None
    appointment_color: int | None = None


@dataclass
class ExtendedException:
    """MS-OXOCAL 2.2.1.44.3; the date fields and strings exist only when the matching
    ExceptionInfo overrides the subject or the location."""

    change_highlight: int | None = 0      # None when WriterVersion2 < 0x3009
    change_highlight_reserved: bytes = b""
    reserved_ee1: bytes = b""
    start_date_time: int | None = None
    end_date_time: int | None = None
    original_start_date: int | None = None
    subject: str | None = None
    location: str | None = None
    reserved_ee2: bytes = b""


@dataclass
class AppointmentRecurrencePattern:
    """MS-OXOCAL 2.2.1.44.5."""

    pattern: RecurrencePattern
    start_time_offset: int = 0
    end_time_offset: int = 0
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    extended: list[ExtendedException] = field(default_factory=list)
    reserved_block1: bytes = b""
    reserved_block2: bytes = b""
    reader_version2: int = 0x3006
    writer_version2: int = 0x3009


# --- byte reader ---

class _Reader:
    def __init__(self, data: bytes, off: int = 0):
        self.data, self.off = bytes(data), off

    def take(self, n: int) -> bytes:
        if self.off + n > len(self.data):
            raise RecurError(f"recurrence blob truncated at {self.off} (need {n})")
        out = self.data[self.off:self.off + n]
        self.off += n
        return out

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]


def _specific_size(pattern_type: int) -> int:
    if pattern_type == PT_DAY:
        return 0
    if pattern_type in (PT_MONTH_NTH, PT_HJ_MONTH_NTH):
        return 2
    return 1


def _read_pattern(r: _Reader) -> RecurrencePattern:
    rv, wv, freq, ptype, cal = r.u16(), r.u16(), r.u16(), r.u16(), r.u16()
    first, period, sliding = r.u32(), r.u32(), r.u32()
    specific = tuple(r.u32() for _ in range(_specific_size(ptype)))
    end_type, count, first_dow = r.u32(), r.u32(), r.u32()
    deleted = [r.u32() for _ in range(r.u32())]
    modified = [r.u32() for _ in range(r.u32())]
    start, end = r.u32(), r.u32()
    return RecurrencePattern(freq, ptype, cal, first, period, sliding, specific, end_type, count,
                             first_dow, deleted, modified, start, end, rv, wv)


def _write_pattern(p: RecurrencePattern) -> bytes:
    if len(p.pattern_specific) != _specific_size(p.pattern_type):
        raise RecurError(f"pattern type {p.pattern_type:#x} needs {_specific_size(p.pattern_type)} specific values")
    out = [struct.pack("<5H3I", p.reader_version, p.writer_version, p.recur_frequency, p.pattern_type,
                       p.calendar_type, p.first_date_time, p.period, p.sliding_flag)]
    out += [struct.pack("<I", v) for v in p.pattern_specific]
    out.append(struct.pack("<3I", p.end_type, p.occurrence_count, p.first_dow))
    out.append(struct.pack(f"<I{len(p.deleted_instance_dates)}I", len(p.deleted_instance_dates),
                           *p.deleted_instance_dates))
    out.append(struct.pack(f"<I{len(p.modified_instance_dates)}I", len(p.modified_instance_dates),
                           *p.modified_instance_dates))
    out.append(struct.pack("<2I", p.start_date, p.end_date))
    return b"".join(out)


def decode_recurrence_pattern(data: bytes) -> RecurrencePattern:
    """A bare RecurrencePattern (PidLidTaskRecurrence)."""
    return _read_pattern(_Reader(data))


def encode_recurrence_pattern(p: RecurrencePattern) -> bytes:
    return _write_pattern(p)


def _read_exception(r: _Reader) -> ExceptionInfo:
    e = ExceptionInfo(r.u32(), r.u32(), r.u32(), r.u16())
    f = e.override_flags
    if f & ARO_SUBJECT:
        e.subject_length, n = r.u16(), r.u16()
        e.subject = r.take(n)
    if f & ARO_MEETINGTYPE:
        e.meeting_type = r.u32()
    if f & ARO_REMINDERDELTA:
        e.reminder_delta = r.u32()
    if f & ARO_REMINDER:
        e.reminder_set = r.u32()
    if f & ARO_LOCATION:
        e.location_length, n = r.u16(), r.u16()
        e.location = r.take(n)
    if f & ARO_BUSYSTATUS:
        e.busy_status = r.u32()
    if f & ARO_ATTACHMENT:
        e.attachment = r.u32()
    if f & ARO_SUBTYPE:
        e.sub_type = r.u32()
    if f & ARO_APPTCOLOR:
        e.appointment_color = r.u32()
    return e


def _write_exception(e: ExceptionInfo) -> bytes:
    f = e.override_flags
    out = [struct.pack("<3IH", e.start_date_time, e.end_date_time, e.original_start_date, f)]

    def text(raw: bytes | None, stated: int | None) -> bytes:
        raw = raw or b""
        return struct.pack("<2H", len(raw) + 1 if stated is None else stated, len(raw)) + raw

    def u32(v: int | None) -> bytes:
        return struct.pack("<I", v or 0)

    if f & ARO_SUBJECT:
        out.append(text(e.subject, e.subject_length))
    if f & ARO_MEETINGTYPE:
        out.append(u32(e.meeting_type))
    if f & ARO_REMINDERDELTA:
        out.append(u32(e.reminder_delta))
    if f & ARO_REMINDER:
        out.append(u32(e.reminder_set))
    if f & ARO_LOCATION:
        out.append(text(e.location, e.location_length))
    if f & ARO_BUSYSTATUS:
        out.append(u32(e.busy_status))
    if f & ARO_ATTACHMENT:
        out.append(u32(e.attachment))
    if f & ARO_SUBTYPE:
        out.append(u32(e.sub_type))
    if f & ARO_APPTCOLOR:
        out.append(u32(e.appointment_color))
    return b"".join(out)


def _read_extended(r: _Reader, info: ExceptionInfo, writer_version2: int) -> ExtendedException:
    x = ExtendedException(change_highlight=None)
    if writer_version2 >= 0x3009:
        size = r.u32()
        if size < 4:
            raise RecurError("ChangeHighlightSize below 4")
        x.change_highlight = r.u32()
        x.change_highlight_reserved = r.take(size - 4)
    x.reserved_ee1 = r.take(r.u32())
    if info.override_flags & (ARO_SUBJECT | ARO_LOCATION):
        x.start_date_time, x.end_date_time, x.original_start_date = r.u32(), r.u32(), r.u32()
        if info.override_flags & ARO_SUBJECT:
            x.subject = r.take(2 * r.u16()).decode("utf-16-le", "surrogatepass")
        if info.override_flags & ARO_LOCATION:
            x.location = r.take(2 * r.u16()).decode("utf-16-le", "surrogatepass")
        x.reserved_ee2 = r.take(r.u32())
    return x


def _write_extended(x: ExtendedException, info: ExceptionInfo, writer_version2: int) -> bytes:
    out = []
    if writer_version2 >= 0x3009:
        out.append(struct.pack("<2I", 4 + len(x.change_highlight_reserved), x.change_highlight or 0))
        out.append(x.change_highlight_reserved)
    out.append(struct.pack("<I", len(x.reserved_ee1)) + x.reserved_ee1)
    if info.override_flags & (ARO_SUBJECT | ARO_LOCATION):
        out.append(struct.pack("<3I",
                               info.start_date_time if x.start_date_time is None else x.start_date_time,
                               info.end_date_time if x.end_date_time is None else x.end_date_time,
                               info.original_start_date if x.original_start_date is None
                               else x.original_start_date))
        for flag, value in ((ARO_SUBJECT, x.subject), (ARO_LOCATION, x.location)):
            if info.override_flags & flag:
                raw = (value or "").encode("utf-16-le", "surrogatepass")
                out.append(struct.pack("<H", len(raw) // 2) + raw)
        out.append(struct.pack("<I", len(x.reserved_ee2)) + x.reserved_ee2)
    return b"".join(out)


def decode_appointment_recur(data: bytes) -> AppointmentRecurrencePattern:
    r = _Reader(data)
    p = _read_pattern(r)
    a = AppointmentRecurrencePattern(p, reader_version2=r.u32(), writer_version2=r.u32())
    a.start_time_offset, a.end_time_offset = r.u32(), r.u32()
    a.exceptions = [_read_exception(r) for _ in range(r.u16())]
    a.reserved_block1 = r.take(r.u32())
    a.extended = [_read_extended(r, e, a.writer_version2) for e in a.exceptions]
    a.reserved_block2 = r.take(r.u32())
    return a


def encode_appointment_recur(a: AppointmentRecurrencePattern) -> bytes:
    if len(a.extended) != len(a.exceptions):
        raise RecurError("one ExtendedException per ExceptionInfo")
    out = [_write_pattern(a.pattern),
           struct.pack("<4IH", a.reader_version2, a.writer_version2, a.start_time_offset,
                       a.end_time_offset, len(a.exceptions))]
    out += [_write_exception(e) for e in a.exceptions]
    out.append(struct.pack("<I", len(a.reserved_block1)) + a.reserved_block1)
    out += [_write_extended(x, e, a.writer_version2) for x, e in zip(a.extended, a.exceptions)]
    out.append(struct.pack("<I", len(a.reserved_block2)) + a.reserved_block2)
    return b"".join(out)


# --- derived fields ---

def first_date_time(pattern_type: int, period: int, start_date: int, first_dow: int = 0) -> int:
    """FirstDateTime for the Gregorian calendar (MS-OXOCAL 2.2.1.44.1.1).

    Day: StartDate mod Period (Period is in minutes). Week: the first day of the week
    holding StartDate, mod Period weeks. Month kinds: the month count since 1601-01
    mod Period, expressed as the minutes of the first of that month counted from 1601.
    """
    if pattern_type == PT_DAY:
        return start_date % period if period else 0
    if pattern_type == PT_WEEK:
        d = from_minutes(start_date)
        back = ((d.weekday() + 1) % 7 - first_dow) % 7   # weekday(): Monday=0; ours Sunday=0
        return (start_date - back * MINUTES_PER_DAY) % (period * MINUTES_PER_WEEK)
    d = from_minutes(start_date)
    months = ((d.year - 1601) * 12 + d.month - 1) % max(period, 1)
    return to_minutes(date(1601 + months // 12, months % 12 + 1, 1))


def mask_to_days(mask: int) -> list[str]:
    return [d for d in DAYS_SU0 if mask & DAY_BITS[d]]


def days_to_mask(days) -> int:
    m = 0
    for d in days:
        m |= DAY_BITS[d]
    return m


_ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "last"}
_DAYNAME = {"SU": "Sunday", "MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday",
            "FR": "Friday", "SA": "Saturday"}
_MONTHNAME = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def describe(p: RecurrencePattern, start_time_offset: int | None = None,
             end_time_offset: int | None = None) -> str:
    """An English PidLidRecurrencePattern text in the style Outlook writes."""
    start = from_minutes(p.start_date)
    if p.pattern_type == PT_DAY:
        n = p.period // MINUTES_PER_DAY
        what = "every day" if n == 1 else f"every {n} days"
    elif p.pattern_type == PT_WEEK:
        days = _join([_DAYNAME[d] for d in mask_to_days(p.pattern_specific[0])])
        what = f"every {days}" if p.period == 1 else f"every {p.period} weeks on {days}"
    else:
        yearly = p.recur_frequency == FREQ_YEARLY
        n = p.period // 12 if yearly else p.period
        unit = "year" if yearly else "month"
        every = f"every {unit}" if n == 1 else f"every {n} {unit}s"
        if p.pattern_type in (PT_MONTH_NTH, PT_HJ_MONTH_NTH):
            days = _join([_DAYNAME[d] for d in mask_to_days(p.pattern_specific[0])])
            which = f"the {_ORD.get(p.pattern_specific[1], str(p.pattern_specific[1]))} {days}"
        elif p.pattern_type in (PT_MONTH_END, PT_HJ_MONTH_END):
            which = "the last day"
        else:
            which = f"day {p.pattern_specific[0]}"
        what = f"{which} of {_MONTHNAME[start.month - 1]} {every}" if yearly else f"{which} of {every}"
    text = f"Occurs {what} effective {start.month}/{start.day}/{start.year}"
    if p.end_type == END_AFTER_DATE or p.end_type == END_AFTER_N:
        end = from_minutes(p.end_date)
        text += f" until {end.month}/{end.day}/{end.year}"
    if start_time_offset is not None and end_time_offset is not None:
        text += f" from {_clock(start_time_offset)} to {_clock(end_time_offset)}"
    return text


def _clock(minutes: int) -> str:
    h, m = divmod(minutes % MINUTES_PER_DAY, 60)
    return f"{(h % 12) or 12}:{m:02d} {'AM' if h < 12 else 'PM'}"


# --- editing one instance (MS-OXOCAL 2.2.1.44.1 DeletedInstanceDates / ModifiedInstanceDates, 2.2.1.44.2) ---
#
# DeletedInstanceDates holds the original dates of deleted *and* modified instances, ModifiedInstanceDates
# the new dates of the modified ones (both midnights, ascending); the ExceptionInfo and ExtendedException
# lists run in parallel, ordered by the exceptions' new StartDateTime.

def _pairs(a: AppointmentRecurrencePattern) -> list[tuple[ExceptionInfo, ExtendedException]]:
    extended = list(a.extended) + [ExtendedException() for _ in range(len(a.exceptions) - len(a.extended))]
    return list(zip(a.exceptions, extended))


def _set_pairs(a: AppointmentRecurrencePattern, pairs: list[tuple[ExceptionInfo, ExtendedException]]) -> None:
    pairs = sorted(pairs, key=lambda p: p[0].start_date_time)
    a.exceptions = [e for e, _ in pairs]
    a.extended = [x for _, x in pairs]
    a.pattern.modified_instance_dates = sorted({midnight(e.start_date_time) for e in a.exceptions})


def find_exception(a: AppointmentRecurrencePattern,
                   original_day: int) -> tuple[ExceptionInfo, ExtendedException] | None:
    """The exception whose original date (a midnight, series-local minutes) is ``original_day``."""
    for e, x in _pairs(a):
        if midnight(e.original_start_date) == midnight(original_day):
            return e, x
    return None


def put_exception(a: AppointmentRecurrencePattern, info: ExceptionInfo,
                  ext: ExtendedException | None = None) -> None:
    """Add the exception for ``info.original_start_date``'s instance, or replace the one it has."""
    day = midnight(info.original_start_date)
    pairs = [(e, x) for e, x in _pairs(a) if midnight(e.original_start_date) != day]
    pairs.append((info, ext if ext is not None else ExtendedException()))
    a.pattern.deleted_instance_dates = sorted(set(a.pattern.deleted_instance_dates) | {day})
    _set_pairs(a, pairs)


def delete_instance(a: AppointmentRecurrencePattern, original_day: int) -> None:
    """Delete the instance that was due on ``original_day``; a modified one loses its exception."""
    day = midnight(original_day)
    a.pattern.deleted_instance_dates = sorted(set(a.pattern.deleted_instance_dates) | {day})
    _set_pairs(a, [(e, x) for e, x in _pairs(a) if midnight(e.original_start_date) != day])


# ---------------------------------------------------------------- exceptions from properties

def _cp1252(s: str) -> bytes:
    return s.encode("cp1252", "replace")


def exception_overrides(series: dict, inst: dict, start_local: datetime, end_local: datetime,
                        original_local: datetime) -> tuple[ExceptionInfo, ExtendedException]:
    """ExceptionInfo + ExtendedException for an instance's properties against the series' (MS-OXOCAL
    2.2.1.44.2 OverrideFlags): what differs is carried, the rest is the series'. Times are local."""
    info = ExceptionInfo(to_minutes(start_local), to_minutes(end_local), to_minutes(original_local))
    ext = ExtendedException()
    flags = 0
    subject = inst.get(P.PidTagSubject, "")
    if subject != series.get(P.PidTagSubject, ""):
        flags |= ARO_SUBJECT
        info.subject, ext.subject = _cp1252(subject), subject
    location = inst.get(A.PidLidLocation, "")
    if location != series.get(A.PidLidLocation, ""):
        flags |= ARO_LOCATION
        info.location, ext.location = _cp1252(location), location
    busy = inst.get(A.PidLidBusyStatus, A.olBusy)
    if busy != series.get(A.PidLidBusyStatus, A.olBusy):
        flags |= ARO_BUSYSTATUS
        info.busy_status = busy
    reminder = bool(inst.get(N.PidLidReminderSet))
    if reminder != bool(series.get(N.PidLidReminderSet)):
        flags |= ARO_REMINDER
        info.reminder_set = int(reminder)
    if reminder and inst.get(N.PidLidReminderDelta) != series.get(N.PidLidReminderDelta):
        flags |= ARO_REMINDERDELTA
        info.reminder_delta = inst.get(N.PidLidReminderDelta)
    all_day = bool(inst.get(A.PidLidAppointmentSubType))
    if all_day != bool(series.get(A.PidLidAppointmentSubType)):
        flags |= ARO_SUBTYPE
        info.sub_type = int(all_day)
    if inst.get(P.PidTagBody) != series.get(P.PidTagBody):
        flags |= ARO_EXCEPTIONAL_BODY
    info.override_flags = flags
    return info, ext
