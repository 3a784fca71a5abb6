"""Recurrence expansion of appointments: the occurrences of a series in a window, by index, by
original start, with their exceptions' overrides (MS-OXOCAL 2.2.1.44 PidLidAppointmentRecur,
2.2.10.1 exceptions).

Protocol-neutral, so every front end lists the same occurrences: EWS CalendarView and the occurrence
ids of GetItem/UpdateItem/DeleteItem, free/busy (``gateway.store.freebusy`` expands the series a
CalDAV server hands over unexpanded), and later MAPI's calendar tables. The series is expanded in
its own time zone (PidLidTimeZoneStruct/PidLidAppointmentTimeZoneDefinitionRecur), as a dateutil
rule over naive local start times; deleted instances are skipped and exceptions shown at their new
times.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dateutil import rrule as du

from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as P

from . import conversions as conv
from protocols.mapi import recur as R
from protocols.mapi.goid import uid_from_goid
from .convert.ical_event import _synth_exception, _zone_from, rrule_from_pattern

__all__ = ["MAX_OCCURRENCES", "Occurrence", "Series", "occurrence_props", "zone_of", "tz_of", "uid_of",
           "series_rule"]

UTC = timezone.utc
MAX_OCCURRENCES = 5000          # a bound for endless series when counting or listing


def zone_of(props: dict):
    return _zone_from(props, bool(props.get(A.PidLidAppointmentRecur)))


def tz_of(props: dict):
    z = zone_of(props)
    return z.tz if z is not None else UTC


def uid_of(props: dict) -> str | None:
    goid = props.get(A.PidLidGlobalObjectId) or props.get(A.PidLidCleanGlobalObjectId)
    if goid:
        try:
            return uid_from_goid(goid)
        except Exception:  # noqa: BLE001 - a malformed id: no UID rather than no item
            return None
    return props.get(A.PidNameCalendarUid)


_DU_DAYS = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR, "SA": du.SA, "SU": du.SU}
_DU_FREQ = {"DAILY": du.DAILY, "WEEKLY": du.WEEKLY, "MONTHLY": du.MONTHLY, "YEARLY": du.YEARLY}


def series_rule(arp: R.AppointmentRecurrencePattern, tz, all_day: bool) -> du.rrule:
    """The series as a dateutil rule over naive local start times (MS-OXOCAL 2.2.1.44.1 -> RFC 5545)."""
    parts = rrule_from_pattern(arp.pattern, arp.start_time_offset, None, all_day)
    first = R.from_minutes(arp.pattern.start_date + arp.start_time_offset)
    kw: dict = {"dtstart": first, "interval": int(parts.get("INTERVAL", 1)),
                "wkst": _DU_DAYS[parts.get("WKST", "MO")]}
    days = parts.get("BYDAY")
    if days:
        kw["byweekday"] = [_DU_DAYS[d] for d in days]
    if "BYSETPOS" in parts:
        kw["bysetpos"] = parts["BYSETPOS"]
    if "BYMONTHDAY" in parts:
        kw["bymonthday"] = parts["BYMONTHDAY"]
    if "BYMONTH" in parts:
        kw["bymonth"] = parts["BYMONTH"]
    if "COUNT" in parts:
        kw["count"] = parts["COUNT"]
    elif arp.pattern.end_type == R.END_AFTER_DATE:
        kw["until"] = R.from_minutes(arp.pattern.end_date + arp.start_time_offset)
    return du.rrule(_DU_FREQ[parts["FREQ"]], **kw)


@dataclass
class Occurrence:
    index: int                     # 1-based position in the pattern (InstanceIndex)
    original_start: datetime       # UTC
    start: datetime
    end: datetime
    exception: R.ExceptionInfo | None = None
    extended: R.ExtendedException | None = None


class Series:
    """A recurring appointment's pattern, exceptions and time zone, ready to list occurrences."""

    def __init__(self, props: dict):
        self.props = props
        self.arp = R.decode_appointment_recur(props[A.PidLidAppointmentRecur])
        self.tz = tz_of(props)
        self.all_day = bool(props.get(A.PidLidAppointmentSubType))
        self.rule = series_rule(self.arp, self.tz, self.all_day)
        self.duration = timedelta(minutes=self.arp.end_time_offset - self.arp.start_time_offset)
        self.deleted = set(self.arp.pattern.deleted_instance_dates)
        self.exceptions = {R.midnight(e.original_start_date): (e, x)
                           for e, x in zip(self.arp.exceptions, self.arp.extended
                                           or [R.ExtendedException()] * len(self.arp.exceptions))}

    def aware(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz).replace(tzinfo=None)

    def _make(self, index: int, local_start: datetime) -> Occurrence | None:
        day = R.to_minutes(local_start.date())
        orig = self.aware(local_start)
        if day in self.exceptions:
            e, x = self.exceptions[day]
            return Occurrence(index, orig, self.aware(R.from_minutes(e.start_date_time)),
                              self.aware(R.from_minutes(e.end_date_time)), e, x)
        if day in self.deleted:
            return None
        return Occurrence(index, orig, orig, orig + self.duration)

    def all(self, limit: int = MAX_OCCURRENCES):
        """(index, local start, occurrence or None for a deleted one), in pattern order."""
        for i, local_start in enumerate(self.rule, 1):
            if i > limit:
                return
            yield i, local_start, self._make(i, local_start)

    def window(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Occurrences overlapping [start, end); exceptions moved into the window count too."""
        out: dict[datetime, Occurrence] = {}
        lo = self.local(start) - self.duration - timedelta(days=1)
        hi = self.local(end) + timedelta(days=1)
        for i, local_start in enumerate(self.rule, 1):
            if local_start > hi or i > MAX_OCCURRENCES * 10:
                break
            if local_start < lo:
                continue
            occ = self._make(i, local_start)
            if occ is not None and occ.start < end and occ.end > start:
                out[occ.original_start] = occ
        for e, x in self.exceptions.values():
            s, en = self.aware(R.from_minutes(e.start_date_time)), self.aware(R.from_minutes(e.end_date_time))
            orig = self.aware(R.from_minutes(e.original_start_date))
            if s < end and en > start and orig not in out:
                out[orig] = Occurrence(self.index_of(orig) or 0, orig, s, en, e, x)
        return sorted(out.values(), key=lambda o: o.start)

    def index_of(self, original_start: datetime) -> int | None:
        target = self.local(original_start)
        for i, local_start in enumerate(self.rule, 1):
            if local_start == target:
                return i
            if local_start > target or i > MAX_OCCURRENCES * 10:
                return None
        return None

    def by_original(self, original_start: datetime) -> Occurrence | None:
        i = self.index_of(original_start)
        return self._make(i, self.local(original_start)) if i else None

    def by_index(self, index: int) -> tuple[Occurrence | None, bool]:
        """(occurrence, exists in the pattern)."""
        if index < 1:
            return None, False
        for i, local_start in enumerate(self.rule, 1):
            if i == index:
                return self._make(i, local_start), True
            if i > index:
                break
        return None, False

    def first_last(self) -> tuple[Occurrence | None, Occurrence | None]:
        first = last = None
        endless = self.arp.pattern.end_type not in (R.END_AFTER_N, R.END_AFTER_DATE)
        for _, _, occ in self.all():
            if occ is None:
                continue
            first = first or occ
            last = occ
            if endless:
                break
        return first, (None if endless else last)


def occurrence_props(master: dict, occ: Occurrence, series: Series, attachments=()) -> tuple[dict, list | None]:
    """The properties an occurrence shows: the master's, with its exception's overrides."""
    props = {k: v for k, v in master.items() if k not in (A.PidLidAppointmentRecur,)}
    recipients = None
    if occ.exception is not None:
        emb = None
        for att in attachments:
            rt = att.props.get(P.PidTagExceptionReplaceTime)
            if att.embedded is not None and rt is not None and abs((rt - occ.original_start).total_seconds()) < 60:
                emb = att.embedded
        props = _synth_exception(props, occ.exception, occ.extended or R.ExtendedException(), series.tz)
        if emb is not None:
            for k, v in emb.props.items():
                if k not in conv.DERIVED and k != P.PidTagMessageClass:
                    props[k] = v
            recipients = emb.recipients or None
    props[A.PidLidAppointmentStartWhole] = occ.start
    props[A.PidLidAppointmentEndWhole] = occ.end
    props[A.PidLidAppointmentDuration] = int((occ.end - occ.start).total_seconds() // 60)
    props.pop(A.PidLidAppointmentRecur, None)
    return props, recipients
