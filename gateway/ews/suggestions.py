"""Meeting suggestions (GetUserAvailability SuggestionsViewOptions): the pure computation.

Input: each attendee's busy intervals (local to the request's time zone, naive), working hours and
kind of answer (resolved / no data / unknown / group), and the parsed options. Output: one
SuggestionDayResult per day of the DetailedSuggestionsWindow. No I/O here; availability.py gathers
the free/busy and writes the XML (protocols/ews/suggestions.py).

How a slot is judged (our reading of MS-OXWAVLS; where the spec is silent the choice is ours):

- Candidates start every ``interval_minutes`` (30, as Exchange; Exchange 2007's
  SuggestionIntervalInMinutes may change it) from midnight to the end of each day and last
  MeetingDurationInMinutes.
- An attendee conflicts when the heaviest busy type overlapping the meeting is Tentative, Busy or
  OOF (Free and WorkingElsewhere do not conflict).
- Quality, MS-OXWAVLS 3.1.4.1.4.3 SuggestionQuality: the percentage of attendees with a conflict is
  0 -> Excellent; <= GoodThreshold -> Good; below 50 -> Fair; 50 or more -> Poor. The percentage
  is taken over the attendees whose free/busy is known and whose presence is required (Organizer,
  Required, Room, Resource; a group counts as its members). Optional attendees are shown in the
  conflict array but do not lower the quality; unknown attendees, groups too big to expand and
  mailboxes whose free/busy cannot be read count neither way.
- ExcludeConflicts (MailboxData): a slot where that attendee conflicts is never suggested.
- IsWorkTime: the whole meeting lies inside the working hours of every attendee whose working
  hours are known (the MS "get free/busy" example: organizer from 08:00, attendee from 09:00, first
  suggestion 09:00 with no non-work results allowed).
- Per day at most MaximumResultsByDay suggestions in all, of which at most
  MaximumNonWorkHourResultsByDay outside work time; only slots at or above MinimumSuggestionQuality.
  The best slots win (quality, then work time, then the earlier start); they are listed by time.
- DayQuality: the best quality of the day's work-time slots (all slots on a day without working
  hours; Poor when nothing can be offered).
- CurrentMeetingTime: the meeting being moved does not conflict with itself - a busy interval that
  starts then and lasts MeetingDurationInMinutes is ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from protocols.ews.suggestions import (
    QUALITIES, AttendeeConflict, GroupConflict, IndividualConflict, Suggestion, SuggestionDayResult,
    SuggestionsViewOptions, TooBigGroupConflict, UnknownConflict,
)

WEIGHT = {"Free": 0, "WorkingElsewhere": 0, "Tentative": 1, "Busy": 2, "OOF": 3}
COUNTED_TYPES = ("Organizer", "Required", "Room", "Resource")


@dataclass(frozen=True)
class Interval:
    start: datetime                 # naive, local to the request's time zone
    end: datetime
    busy_type: str                  # Free, Tentative, Busy, OOF, WorkingElsewhere


@dataclass(frozen=True)
class WorkingPeriod:
    """``t:WorkingPeriod``: days (0 = Monday) and minutes from midnight, local time."""

    days: frozenset[int]
    start_minute: int
    end_minute: int


# What the gateway tells for every mailbox (it keeps no per-user working hours): Monday to Friday,
# 08:00-17:00 in the request's time zone, as the FreeBusyView's WorkingHours say.
DEFAULT_WORKING_HOURS: tuple[WorkingPeriod, ...] = (WorkingPeriod(frozenset(range(5)), 480, 1020),)


@dataclass(frozen=True)
class AttendeeAvailability:
    """One MailboxData entry with what is known of its free/busy."""

    attendee_type: str = "Required"
    exclude_conflicts: bool = False
    status: str = "individual"      # individual, nodata, unknown, group, toobiggroup
    busy: tuple[Interval, ...] = ()
    working_hours: tuple[WorkingPeriod, ...] | None = DEFAULT_WORKING_HOURS
    members: tuple[tuple[Interval, ...] | None, ...] = ()   # group: each member's intervals, None = no data


def quality_for(conflict_percent: float, good_threshold: int) -> str:
    """MS-OXWAVLS 3.1.4.1.4.3: 0 Excellent, <= GoodThreshold Good, < 50 Fair, else Poor."""
    if conflict_percent <= 0:
        return "Excellent"
    if conflict_percent <= good_threshold:
        return "Good"
    if conflict_percent < 50:
        return "Fair"
    return "Poor"


def busy_type_over(busy: tuple[Interval, ...], start: datetime, end: datetime,
                   ignore: tuple[datetime, datetime] | None = None) -> str:
    """The heaviest busy type overlapping [start, end); Free when nothing does."""
    best, weight = "Free", -1
    for iv in busy:
        if iv.start >= end or iv.end <= start:
            continue
        if ignore is not None and (iv.start, iv.end) == ignore:
            continue
        w = WEIGHT.get(iv.busy_type, 2)
        if w > weight:
            best, weight = iv.busy_type, w
    return best


def in_working_hours(start: datetime, end: datetime, periods: tuple[WorkingPeriod, ...]) -> bool:
    """The whole meeting inside one working period of its day."""
    midnight = datetime(start.year, start.month, start.day)
    a = (start - midnight).total_seconds() / 60
    b = (end - midnight).total_seconds() / 60
    return any(start.weekday() in p.days and p.start_minute <= a and b <= p.end_minute for p in periods)


@dataclass(frozen=True)
class _Slot:
    start: datetime
    is_work_time: bool
    quality: str
    excluded: bool
    conflicts: tuple[AttendeeConflict, ...]


def _judge(start: datetime, attendees: list[AttendeeAvailability], opts: SuggestionsViewOptions) -> _Slot:
    end = start + timedelta(minutes=opts.duration_minutes)
    ignore = None
    if opts.current_meeting_time is not None:
        ignore = (opts.current_meeting_time, opts.current_meeting_time + timedelta(minutes=opts.duration_minutes))
    counted = conflicted = 0
    excluded = False
    conflicts: list[AttendeeConflict] = []
    for a in attendees:
        counts = a.attendee_type in COUNTED_TYPES
        if a.status == "individual":
            bt = busy_type_over(a.busy, start, end, ignore)
            hit = WEIGHT.get(bt, 2) > 0
            conflicts.append(IndividualConflict(bt))
            if counts:
                counted += 1
                conflicted += hit
            excluded |= hit and a.exclude_conflicts
        elif a.status == "group":
            available = with_conflict = no_data = 0
            for member in a.members:
                if member is None:
                    no_data += 1
                    continue
                hit = WEIGHT.get(busy_type_over(member, start, end, ignore), 2) > 0
                with_conflict += hit
                available += not hit
            conflicts.append(GroupConflict(len(a.members), available, with_conflict, no_data))
            if counts:
                counted += available + with_conflict
                conflicted += with_conflict
            excluded |= with_conflict > 0 and a.exclude_conflicts
        elif a.status == "nodata":
            conflicts.append(IndividualConflict("NoData"))
        elif a.status == "toobiggroup":
            conflicts.append(TooBigGroupConflict())
        else:
            conflicts.append(UnknownConflict())
    percent = 100.0 * conflicted / counted if counted else 0.0
    hours = [a.working_hours for a in attendees if a.working_hours is not None and a.status in ("individual", "group")]
    work = all(in_working_hours(start, end, h) for h in hours) if hours else in_working_hours(
        start, end, DEFAULT_WORKING_HOURS)
    return _Slot(start, work, quality_for(percent, opts.good_threshold), excluded, tuple(conflicts))


def days_of(opts: SuggestionsViewOptions) -> list[date]:
    """The local dates the window touches: its start date up to the day its end falls in (exclusive at midnight)."""
    out = []
    d = opts.window_start.date()
    while datetime(d.year, d.month, d.day) < opts.window_end:
        out.append(d)
        d += timedelta(days=1)
    return out


def _within(busy: tuple[Interval, ...], start: datetime, end: datetime) -> tuple[Interval, ...]:
    return tuple(iv for iv in busy if iv.start < end and iv.end > start)


def _for_day(a: AttendeeAvailability, start: datetime, end: datetime) -> AttendeeAvailability:
    """The attendee with only the intervals that can touch the day's meetings (48 slots x many days)."""
    return replace(a, busy=_within(a.busy, start, end),
                   members=tuple(None if m is None else _within(m, start, end) for m in a.members))


def suggest_day(day: date, attendees: list[AttendeeAvailability], opts: SuggestionsViewOptions) -> SuggestionDayResult:
    midnight = datetime(day.year, day.month, day.day)
    reach = midnight + timedelta(days=1, minutes=opts.duration_minutes)
    attendees = [_for_day(a, midnight, reach) for a in attendees]
    step = timedelta(minutes=opts.interval_minutes)
    slots = []
    at = midnight
    while at < midnight + timedelta(days=1):
        slots.append(_judge(at, attendees, opts))
        at += step
    rank = {q: i for i, q in enumerate(QUALITIES)}
    open_slots = [s for s in slots if not s.excluded]
    work = [s for s in open_slots if s.is_work_time]
    pool = work or ([] if any(s.is_work_time for s in slots) else open_slots)
    day_quality = min((s.quality for s in pool), key=rank.__getitem__, default="Poor")
    wanted = [s for s in open_slots if rank[s.quality] <= rank[opts.minimum_quality]]
    wanted.sort(key=lambda s: (rank[s.quality], not s.is_work_time, s.start))
    chosen: list[_Slot] = []
    non_work = 0
    for s in wanted:
        if len(chosen) >= opts.max_results_by_day:
            break
        if not s.is_work_time:
            if non_work >= opts.max_non_work_results_by_day:
                continue
            non_work += 1
        chosen.append(s)
    chosen.sort(key=lambda s: s.start)
    return SuggestionDayResult(day, day_quality, tuple(
        Suggestion(s.start, s.is_work_time, s.quality, s.conflicts) for s in chosen))


def suggest(attendees: list[AttendeeAvailability], opts: SuggestionsViewOptions) -> list[SuggestionDayResult]:
    """One SuggestionDayResult per day of the window, in date order. ``opts`` times are naive local."""
    return [suggest_day(d, attendees, opts) for d in days_of(opts)]
