"""Meeting suggestions in GetUserAvailability: SuggestionsViewOptions in, SuggestionsResponse out.

MS-OXWAVLS (the Availability Web Service protocol; the request and response types below are its
section 3.1.4.1.3 complex types and 3.1.4.1.4 simple types):

- ``t:SuggestionsViewOptions``: GoodThreshold, MaximumResultsByDay, MaximumNonWorkHourResultsByDay,
  MeetingDurationInMinutes, MinimumSuggestionQuality, DetailedSuggestionsWindow (StartTime, EndTime),
  CurrentMeetingTime, GlobalObjectId; Exchange 2007's schema also had SuggestionIntervalInMinutes.
- ``m:SuggestionsResponse``: ``m:ResponseMessage``, then ``m:SuggestionDayResultArray`` of
  ``t:SuggestionDayResult`` (Date, DayQuality, SuggestionArray of ``t:Suggestion``: MeetingTime,
  IsWorkTime, SuggestionQuality, AttendeeConflictDataArray).

Ranges and defaults are the ones the EWS Managed API enforces before it sends a request (Exchange
checks the same): GoodThreshold 1..49 (25), MaximumResultsByDay 0..48 (10),
MaximumNonWorkHourResultsByDay 0..48 (0), MeetingDurationInMinutes 30..1440 (60),
MinimumSuggestionQuality Fair.

Times are kept as the request wrote them: naive when they carry no offset (local to the request's
TimeZone), aware when they do; the caller converts. This module is a pure codec: no zone rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from .ns import child, children, local, m, sub, t, text
from .values import parse_bool

# MS-OXWAVLS 3.1.4.1.4.3 SuggestionQuality, best first
QUALITIES = ("Excellent", "Good", "Fair", "Poor")
# LegacyFreeBusyType as it appears in IndividualAttendeeConflictData/BusyType
BUSY_TYPES = ("Free", "Tentative", "Busy", "OOF", "WorkingElsewhere", "NoData")

GOOD_THRESHOLD = (1, 49, 25)                # (min, max, default)
MAX_RESULTS_BY_DAY = (0, 48, 10)
MAX_NON_WORK_RESULTS_BY_DAY = (0, 48, 0)
MEETING_DURATION = (30, 1440, 60)
SUGGESTION_INTERVAL = (5, 1440, 30)         # Exchange 2007's SuggestionIntervalInMinutes; Exchange uses 30


class OptionError(ValueError):
    """A SuggestionsViewOptions value the server cannot use; ``code`` is the EWS ResponseCode."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ the request

@dataclass(frozen=True)
class SuggestionsViewOptions:
    window_start: datetime                  # DetailedSuggestionsWindow/StartTime
    window_end: datetime                    # DetailedSuggestionsWindow/EndTime
    good_threshold: int = GOOD_THRESHOLD[2]
    max_results_by_day: int = MAX_RESULTS_BY_DAY[2]
    max_non_work_results_by_day: int = MAX_NON_WORK_RESULTS_BY_DAY[2]
    duration_minutes: int = MEETING_DURATION[2]
    minimum_quality: str = "Fair"
    interval_minutes: int = SUGGESTION_INTERVAL[2]
    current_meeting_time: datetime | None = None
    global_object_id: str | None = None     # "not used" (EWS reference); kept for the record


def _time(value: str | None, what: str) -> datetime:
    v = (value or "").strip()
    if not v:
        raise OptionError("ErrorInvalidTimeInterval", f"{what} is missing.")
    try:
        if v.endswith("Z"):
            v = v[:-1] + "+00:00"
        return datetime.fromisoformat(v)
    except ValueError:
        raise OptionError("ErrorInvalidTimeInterval", f"{what} is not an xs:dateTime: {value!r}.") from None


def _int(el, name: str, bounds: tuple[int, int, int]) -> int:
    lo, hi, default = bounds
    raw = text(el, name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise OptionError("ErrorInvalidRequest", f"{name} must be an integer, not {raw!r}.") from None
    if not lo <= value <= hi:
        raise OptionError("ErrorInvalidRequest", f"{name} must be between {lo} and {hi}; it was {value}.")
    return value


def read_options(el) -> SuggestionsViewOptions:
    """Parse ``t:SuggestionsViewOptions``; raises OptionError (with its ResponseCode) on a bad value."""
    window = child(el, "DetailedSuggestionsWindow")
    if window is None:
        raise OptionError("ErrorInvalidTimeInterval", "SuggestionsViewOptions needs a DetailedSuggestionsWindow.")
    start = _time(text(window, "StartTime"), "DetailedSuggestionsWindow/StartTime")
    end = _time(text(window, "EndTime"), "DetailedSuggestionsWindow/EndTime")
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise OptionError("ErrorInvalidTimeInterval", "DetailedSuggestionsWindow mixes times with and without "
                                                      "a UTC offset.")
    if end <= start:
        raise OptionError("ErrorInvalidTimeInterval", "DetailedSuggestionsWindow must end after it starts.")
    quality = (text(el, "MinimumSuggestionQuality") or "Fair").strip() or "Fair"
    if quality not in QUALITIES:
        raise OptionError("ErrorInvalidRequest", f"MinimumSuggestionQuality must be one of {', '.join(QUALITIES)}; "
                                                 f"it was {quality!r}.")
    current = text(el, "CurrentMeetingTime")
    return SuggestionsViewOptions(
        window_start=start, window_end=end,
        good_threshold=_int(el, "GoodThreshold", GOOD_THRESHOLD),
        max_results_by_day=_int(el, "MaximumResultsByDay", MAX_RESULTS_BY_DAY),
        # the EWS reference once spelled it MaximumNonWorkingHourResultsByDay; the schema says NonWorkHour
        max_non_work_results_by_day=_int(el, "MaximumNonWorkHourResultsByDay", MAX_NON_WORK_RESULTS_BY_DAY)
        if child(el, "MaximumNonWorkHourResultsByDay") is not None
        else _int(el, "MaximumNonWorkingHourResultsByDay", MAX_NON_WORK_RESULTS_BY_DAY),
        duration_minutes=_int(el, "MeetingDurationInMinutes", MEETING_DURATION),
        minimum_quality=quality,
        interval_minutes=_int(el, "SuggestionIntervalInMinutes", SUGGESTION_INTERVAL),
        current_meeting_time=_time(current, "CurrentMeetingTime") if current and current.strip() else None,
        global_object_id=(text(el, "GlobalObjectId") or "").strip() or None,
    )


@dataclass(frozen=True)
class MailboxData:
    """One ``t:MailboxData`` of the MailboxDataArray (MS-OXWAVLS 3.1.4.1.3.30)."""

    address: str
    attendee_type: str = "Required"         # Organizer, Required, Optional, Room, Resource
    exclude_conflicts: bool = False


ATTENDEE_TYPES = ("Organizer", "Required", "Optional", "Room", "Resource")


def read_mailbox_data(el) -> MailboxData:
    address = (text(child(el, "Email"), "Address") or "").strip()
    if address.lower().startswith("smtp:"):
        address = address[5:]
    kind = (text(el, "AttendeeType") or "Required").strip()
    if kind not in ATTENDEE_TYPES:
        kind = "Required"
    raw = (text(el, "ExcludeConflicts") or "").strip()
    try:
        exclude = parse_bool(raw) if raw else False
    except ValueError:
        exclude = False
    return MailboxData(address, kind, exclude)


# ------------------------------------------------------------------ the answer

@dataclass(frozen=True)
class IndividualConflict:
    """``t:IndividualAttendeeConflictData``: the attendee's busy type over the suggested meeting."""

    busy_type: str


@dataclass(frozen=True)
class UnknownConflict:
    """``t:UnknownAttendeeConflictData``: an attendee the directory does not resolve."""


@dataclass(frozen=True)
class TooBigGroupConflict:
    """``t:TooBigGroupAttendeeConflictData``: a distribution list too large to expand."""


@dataclass(frozen=True)
class GroupConflict:
    """``t:GroupAttendeeConflictData``: counts over a distribution list's members."""

    members: int
    available: int
    with_conflict: int
    with_no_data: int


AttendeeConflict = IndividualConflict | UnknownConflict | TooBigGroupConflict | GroupConflict


@dataclass(frozen=True)
class Suggestion:
    meeting_time: datetime                  # local to the request's time zone, written without offset
    is_work_time: bool
    quality: str
    conflicts: tuple[AttendeeConflict, ...] = ()


@dataclass(frozen=True)
class SuggestionDayResult:
    date: date
    day_quality: str
    suggestions: tuple[Suggestion, ...] = field(default_factory=tuple)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _write_conflict(parent, c: AttendeeConflict) -> None:
    if isinstance(c, IndividualConflict):
        sub(sub(parent, t("IndividualAttendeeConflictData")), t("BusyType"), c.busy_type)
    elif isinstance(c, GroupConflict):
        g = sub(parent, t("GroupAttendeeConflictData"))
        sub(g, t("NumberOfMembers"), c.members)
        sub(g, t("NumberOfMembersAvailable"), c.available)
        sub(g, t("NumberOfMembersWithConflict"), c.with_conflict)
        sub(g, t("NumberOfMembersWithNoData"), c.with_no_data)
    elif isinstance(c, TooBigGroupConflict):
        sub(parent, t("TooBigGroupAttendeeConflictData"))
    else:
        sub(parent, t("UnknownAttendeeConflictData"))


def write_response(parent, days: list[SuggestionDayResult] | None, *, code: str = "NoError",
                   message_text: str | None = None):
    """Append ``m:SuggestionsResponse``; on an error only its ResponseMessage is written."""
    resp = sub(parent, m("SuggestionsResponse"))
    rm = sub(resp, m("ResponseMessage"), ResponseClass="Success" if code == "NoError" else "Error")
    if code != "NoError":
        sub(rm, m("MessageText"), message_text or code)
    sub(rm, m("ResponseCode"), code)
    if code != "NoError":
        sub(rm, m("DescriptiveLinkKey"), 0)
        return resp
    array = sub(resp, m("SuggestionDayResultArray"))
    for day in days or []:
        d = sub(array, t("SuggestionDayResult"))
        sub(d, t("Date"), _stamp(datetime(day.date.year, day.date.month, day.date.day)))
        sub(d, t("DayQuality"), day.day_quality)
        sa = sub(d, t("SuggestionArray"))
        for s in day.suggestions:
            se = sub(sa, t("Suggestion"))
            sub(se, t("MeetingTime"), _stamp(s.meeting_time))
            sub(se, t("IsWorkTime"), s.is_work_time)
            sub(se, t("SuggestionQuality"), s.quality)
            conflicts = sub(se, t("AttendeeConflictDataArray"))
            for c in s.conflicts:
                _write_conflict(conflicts, c)
    return resp


def _read_conflict(el) -> AttendeeConflict:
    name = local(el)
    if name == "IndividualAttendeeConflictData":
        return IndividualConflict((text(el, "BusyType") or "NoData").strip())
    if name == "GroupAttendeeConflictData":
        def n(x):
            return int((text(el, x) or "0").strip() or "0")
        return GroupConflict(n("NumberOfMembers"), n("NumberOfMembersAvailable"), n("NumberOfMembersWithConflict"),
                             n("NumberOfMembersWithNoData"))
    if name == "TooBigGroupAttendeeConflictData":
        return TooBigGroupConflict()
    return UnknownConflict()


def read_response(el) -> tuple[str, list[SuggestionDayResult]]:
    """Parse ``m:SuggestionsResponse`` (ours or Exchange's): (ResponseCode, day results)."""
    code = (text(child(el, "ResponseMessage"), "ResponseCode") or "").strip()
    days = []
    for d in children(child(el, "SuggestionDayResultArray"), "SuggestionDayResult"):
        suggestions = []
        for s in children(child(d, "SuggestionArray"), "Suggestion"):
            suggestions.append(Suggestion(
                datetime.fromisoformat((text(s, "MeetingTime") or "").strip().rstrip("Z")),
                parse_bool(text(s, "IsWorkTime") or "false"),
                (text(s, "SuggestionQuality") or "").strip(),
                tuple(_read_conflict(c) for c in children(child(s, "AttendeeConflictDataArray")))))
        day = datetime.fromisoformat((text(d, "Date") or "").strip().rstrip("Z")).date()
        days.append(SuggestionDayResult(day, (text(d, "DayQuality") or "").strip(), tuple(suggestions)))
    return code, days
