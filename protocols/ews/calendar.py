"""CalendarItem and meeting messages in EWS XML (MS-OXWSCAL 2.2.4.3, MS-OXWSMTGS 2.2.4).

Field tables: ``CALENDAR`` (IPM.Appointment), ``MEETING_REQUEST`` (IPM.Schedule.Meeting.Request),
``MEETING_RESPONSE`` (IPM.Schedule.Meeting.Resp.*), ``MEETING_CANCELLATION``
(IPM.Schedule.Meeting.Canceled). Most fields come straight from the PidLid* properties
(MS-OXOCAL 2.2.1); what needs the store's codecs (the recurrence blob, the UID inside
PidLidGlobalObjectId, the series time zone, occurrence ids) is worked out by the handler and
handed over in ``ItemView.extra`` as the dataclasses below:

    extra["uid"]             str
    extra["item_type"]       "Single" | "Occurrence" | "Exception" | "RecurringMaster"
    extra["start"/"end"]     datetime (an occurrence's own times)
    extra["original_start"]  datetime (occurrences and exceptions: RecurrenceId / OriginalStart)
    extra["recurrence"]      Recurrence
    extra["first"/"last"]    OccurrenceInfo
    extra["modified"]        list[OccurrenceInfo]
    extra["deleted"]         list[datetime] (original starts)
    extra["start_tz"]        (Windows id, display name)
    extra["master_id"]       ItemId of the series (occurrences)
    extra["calendar_item_id"] AssociatedCalendarItemId of a meeting message

Reading a CalendarItem puts attendees in ``ItemInput.recipients`` (Required -> To, Optional -> Cc,
Resources -> Bcc: MS-OXOCAL 2.2.4.10), and ``extra["recurrence"]``, ``extra["start_tz"]``,
``extra["uid"]``.
"""
from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PidLidReminderDelta

from . import ids as ewsids
from . import items as I
from .ns import child, children, local, sub, t, text
from .values import PathError, format_datetime, parse_bool, parse_datetime

# LegacyFreeBusyType (MS-OXWSCDATA 2.2.5.14) <-> PidLidBusyStatus
FREE_BUSY = {A.olFree: "Free", A.olTentative: "Tentative", A.olBusy: "Busy", A.olOutOfOffice: "OOF",
             A.olWorkingElsewhere: "WorkingElsewhere"}
FREE_BUSY_BACK = {v: k for k, v in FREE_BUSY.items()}
FREE_BUSY_BACK["NoData"] = A.olBusy
# ResponseTypeType (MS-OXWSCDATA 2.2.5.27) <-> PidLidResponseStatus / PidTagRecipientTrackStatus
RESPONSE = {A.respNone: "Unknown", A.respOrganized: "Organizer", A.respTentative: "Tentative",
            A.respAccepted: "Accept", A.respDeclined: "Decline", A.respNotResponded: "NoResponseReceived"}
RESPONSE_BACK = {v: k for k, v in RESPONSE.items()}
# MS-OXPROPS 2.929 (0x5FFB, PtypTime): when the attendee answered
PidTagRecipientTrackStatusTime = (0x5FFB << 16) | 0x0040
ATTENDEE_TYPES = {"RequiredAttendees": P.MAPI_TO, "OptionalAttendees": P.MAPI_CC, "Resources": P.MAPI_BCC}

DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
DAY_GROUPS = {"Day": DAY_NAMES, "Weekday": DAY_NAMES[1:6], "WeekendDay": ["Sunday", "Saturday"]}
WEEK_INDEX = ["First", "Second", "Third", "Fourth", "Last"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


# ---------------------------------------------------------------- recurrence (MS-OXWSCDATA 2.2.4.x)

@dataclass
class Recurrence:
    """RecurrenceType: one pattern and one range.

    ``pattern``: Daily, Weekly, AbsoluteMonthly, RelativeMonthly, AbsoluteYearly, RelativeYearly.
    ``days``: day names (Weekly, Relative*); ``week_index``: First..Last; ``month``: 1-12."""

    pattern: str
    interval: int = 1
    days: list[str] = field(default_factory=list)
    day_of_month: int | None = None
    week_index: str | None = None
    month: int | None = None
    first_day_of_week: str | None = None
    range: str = "NoEnd"                    # NoEnd, EndDate, Numbered
    start_date: date | None = None
    end_date: date | None = None
    count: int | None = None


def _xs_date(value: str) -> date:
    """xs:date, possibly with a zone suffix (``2014-03-08-08:00``): the date part counts."""
    v = (value or "").strip()
    try:
        return date.fromisoformat(v[:10])
    except ValueError as exc:
        raise PathError(f"bad date {value!r}") from exc


def _int_text(el, name: str) -> int | None:
    v = text(el, name)
    if v is None or not v.strip():
        return None
    try:
        return int(v.strip())
    except ValueError as exc:
        raise PathError(f"bad {name} {v!r}") from exc


def _days(value: str | None) -> list[str]:
    out: list[str] = []
    for word in (value or "").split():
        for d in DAY_GROUPS.get(word, [word]):
            if d not in DAY_NAMES:
                raise PathError(f"bad day of week {word!r}")
            if d not in out:
                out.append(d)
    return out


def read_recurrence(el) -> Recurrence:
    pattern_el = next((c for c in children(el) if local(c).endswith("Recurrence")
                       and local(c) not in ("NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence")), None)
    range_el = next((c for c in children(el) if local(c) in ("NoEndRecurrence", "EndDateRecurrence",
                                                             "NumberedRecurrence")), None)
    if pattern_el is None or range_el is None:
        raise PathError("Recurrence needs a pattern and a range")
    name = local(pattern_el)[:-len("Recurrence")]
    if name not in ("Daily", "Weekly", "AbsoluteMonthly", "RelativeMonthly", "AbsoluteYearly", "RelativeYearly"):
        raise PathError(f"{local(pattern_el)} is not supported")
    r = Recurrence(name)
    r.interval = _int_text(pattern_el, "Interval") or 1
    r.days = _days(text(pattern_el, "DaysOfWeek"))
    r.day_of_month = _int_text(pattern_el, "DayOfMonth")
    r.week_index = (text(pattern_el, "DayOfWeekIndex") or "").strip() or None
    if r.week_index is not None and r.week_index not in WEEK_INDEX:
        raise PathError(f"bad DayOfWeekIndex {r.week_index!r}")
    month = (text(pattern_el, "Month") or "").strip()
    if month:
        if month not in MONTHS:
            raise PathError(f"bad Month {month!r}")
        r.month = MONTHS.index(month) + 1
    fdow = (text(pattern_el, "FirstDayOfWeek") or "").strip()
    r.first_day_of_week = fdow or None
    if name == "Weekly" and not r.days:
        raise PathError("WeeklyRecurrence needs DaysOfWeek")
    r.range = local(range_el)[:-len("Recurrence")]
    r.start_date = _xs_date(text(range_el, "StartDate") or "")
    if r.range == "EndDate":
        r.end_date = _xs_date(text(range_el, "EndDate") or "")
    elif r.range == "Numbered":
        r.count = _int_text(range_el, "NumberOfOccurrences")
        if not r.count or r.count < 1:
            raise PathError("NumberOfOccurrences must be positive")
    return r


def write_recurrence(parent, r: Recurrence, element: str = "Recurrence"):
    el = sub(parent, t(element))
    p = sub(el, t(r.pattern + "Recurrence"))
    if r.pattern in ("Daily", "Weekly", "AbsoluteMonthly", "RelativeMonthly"):
        sub(p, t("Interval"), r.interval)
    if r.pattern in ("Weekly", "RelativeMonthly", "RelativeYearly"):
        sub(p, t("DaysOfWeek"), " ".join(r.days))
    if r.pattern in ("RelativeMonthly", "RelativeYearly"):
        sub(p, t("DayOfWeekIndex"), r.week_index or "First")
    if r.pattern in ("AbsoluteMonthly", "AbsoluteYearly"):
        sub(p, t("DayOfMonth"), r.day_of_month or 1)
    if r.pattern in ("AbsoluteYearly", "RelativeYearly"):
        sub(p, t("Month"), MONTHS[(r.month or 1) - 1])
    if r.pattern == "Weekly" and r.first_day_of_week:
        sub(p, t("FirstDayOfWeek"), r.first_day_of_week)
    rng = sub(el, t(r.range + "Recurrence"))
    sub(rng, t("StartDate"), (r.start_date or date(1601, 1, 1)).isoformat())
    if r.range == "EndDate":
        sub(rng, t("EndDate"), (r.end_date or r.start_date).isoformat())
    elif r.range == "Numbered":
        sub(rng, t("NumberOfOccurrences"), r.count or 1)
    return el


# ---------------------------------------------------------------- occurrences

OCC_MAGIC = b"XO\x01"


def encode_occurrence_id(master_id: str, original_start: datetime) -> str:
    """An occurrence's ItemId: the master's id bytes and the occurrence's original start (UTC seconds)."""
    raw = ewsids.b64decode(master_id)
    secs = int(original_start.astimezone(timezone.utc).timestamp())
    return base64.b64encode(OCC_MAGIC + raw + struct.pack("<q", secs)).decode("ascii")


def decode_occurrence_id(value: str) -> tuple[str, datetime] | None:
    """(master ItemId, original start) or None when ``value`` is not an occurrence id."""
    try:
        raw = ewsids.b64decode(value)
    except ewsids.IdMalformed:
        return None
    if len(raw) != 3 + 28 + 8 or raw[:3] != OCC_MAGIC:
        return None
    secs = struct.unpack("<q", raw[-8:])[0]
    return base64.b64encode(raw[3:-8]).decode("ascii"), datetime.fromtimestamp(secs, timezone.utc)


@dataclass
class OccurrenceInfo:
    item_id: str
    change_key: str
    start: datetime
    end: datetime
    original_start: datetime


def _write_occurrence(parent, name: str, o: OccurrenceInfo):
    el = sub(parent, t(name))
    sub(el, t("ItemId"), Id=o.item_id, ChangeKey=o.change_key)
    sub(el, t("Start"), format_datetime(o.start))
    sub(el, t("End"), format_datetime(o.end))
    sub(el, t("OriginalStart"), format_datetime(o.original_start))
    return el


# ---------------------------------------------------------------- writers

def _x(view, key, default=None):
    return view.extra.get(key, default)


def _p(view, key):
    return I._get(view, key)


def w_uid(parent, view, f, shape):
    if _x(view, "uid"):
        sub(parent, t("UID"), _x(view, "uid"))


def w_recurrence_id(parent, view, f, shape):
    if _x(view, "original_start"):
        sub(parent, t(f.element), format_datetime(_x(view, "original_start")))


def w_start(parent, view, f, shape):
    v = _x(view, "start") or _p(view, A.PidLidAppointmentStartWhole)
    if isinstance(v, datetime):
        sub(parent, t("Start"), format_datetime(v))


def w_end(parent, view, f, shape):
    v = _x(view, "end") or _p(view, A.PidLidAppointmentEndWhole)
    if isinstance(v, datetime):
        sub(parent, t("End"), format_datetime(v))


def w_free_busy(parent, view, f, shape):
    v = _p(view, A.PidLidBusyStatus)
    sub(parent, t(f.element), FREE_BUSY.get(v if v is not None else A.olBusy, "Busy"))


def r_free_busy(el, inp, f):
    v = (el.text or "").strip()
    if v not in FREE_BUSY_BACK:
        raise PathError(f"bad LegacyFreeBusyStatus {v!r}")
    inp.props[A.PidLidBusyStatus] = FREE_BUSY_BACK[v]


def w_state_flag(bit):
    def write(parent, view, f, shape):
        sub(parent, t(f.element), bool((_p(view, A.PidLidAppointmentStateFlags) or 0) & bit))
    return write


def w_is_recurring(parent, view, f, shape):
    it = item_type(view)
    sub(parent, t("IsRecurring"), it in ("Occurrence", "Exception", "RecurringMaster"))


def item_type(view) -> str:
    if _x(view, "item_type"):
        return _x(view, "item_type")
    return "RecurringMaster" if _p(view, A.PidLidAppointmentRecur) else "Single"


def w_item_type(parent, view, f, shape):
    sub(parent, t("CalendarItemType"), item_type(view))


def w_my_response(parent, view, f, shape):
    flags = _p(view, A.PidLidAppointmentStateFlags) or 0
    v = _p(view, A.PidLidResponseStatus)
    if v is None:
        v = A.respOrganized if not flags & A.asfReceived else A.respNotResponded
    sub(parent, t("MyResponseType"), RESPONSE.get(v, "Unknown"))


def organizer_of(view) -> tuple[str | None, str | None]:
    for r in view.recipients or ():
        if r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer:
            return I.recipient_address(r.props)
    name = _p(view, P.PidTagSentRepresentingName) or _p(view, P.PidTagSenderName)
    email = _p(view, P.PidTagSentRepresentingSmtpAddress) or _p(view, P.PidTagSenderSmtpAddress) \
        or _p(view, P.PidTagSentRepresentingEmailAddress) or _p(view, P.PidTagSenderEmailAddress)
    return name, email


def w_organizer(parent, view, f, shape):
    name, email = organizer_of(view)
    if name or email:
        el = sub(parent, t("Organizer"))
        I.write_mailbox(el, name, email, mtype="OneOff")


def w_attendees(rtype: int):
    def write(parent, view, f, shape):
        if view.recipients is None:
            return
        rows = [r for r in view.recipients if (r.props.get(P.PidTagRecipientType, 1) & 0xF) == rtype
                and not r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer]
        if not rows:
            return
        el = sub(parent, t(f.element))
        for r in rows:
            name, email = I.recipient_address(r.props)
            att = sub(el, t("Attendee"))
            I.write_mailbox(att, name, email, mtype="OneOff")
            track = r.props.get(P.PidTagRecipientTrackStatus)
            sub(att, t("ResponseType"), RESPONSE.get(track if track is not None else A.respNone, "Unknown"))
            when = r.props.get(PidTagRecipientTrackStatusTime)
            if isinstance(when, datetime):
                sub(att, t("LastResponseTime"), format_datetime(when))
    return write


def r_attendees(rtype: int):
    def read(el, inp, f):
        inp.recipients[rtype] = [I.read_mailbox(a) for a in children(el, "Attendee")]
    return read


def w_duration(parent, view, f, shape):
    v = _p(view, A.PidLidAppointmentDuration)
    s, e = _x(view, "start"), _x(view, "end")
    if s and e:
        v = int((e - s).total_seconds() // 60)
    if v is not None:
        h, mnt = divmod(int(v), 60)
        d, h = divmod(h, 24)
        sub(parent, t("Duration"), f"P{d}DT{h}H{mnt}M0S" if d else f"PT{h}H{mnt}M")


def w_recurrence(parent, view, f, shape):
    r = _x(view, "recurrence")
    if r is not None:
        write_recurrence(parent, r)


def r_recurrence(el, inp, f):
    inp.extra["recurrence"] = read_recurrence(el)


def w_occurrence(key: str):
    def write(parent, view, f, shape):
        o = _x(view, key)
        if o is not None:
            _write_occurrence(parent, f.element, o)
    return write


def w_modified(parent, view, f, shape):
    rows = _x(view, "modified")
    if rows:
        el = sub(parent, t("ModifiedOccurrences"))
        for o in rows:
            _write_occurrence(el, "Occurrence", o)


def w_deleted(parent, view, f, shape):
    rows = _x(view, "deleted")
    if rows:
        el = sub(parent, t("DeletedOccurrences"))
        for d in rows:
            sub(sub(el, t("DeletedOccurrence")), t("Start"), format_datetime(d))


def w_tz(which: str):
    def write(parent, view, f, shape):
        tz = _x(view, which) or _x(view, "start_tz")
        if tz:
            sub(parent, t(f.element), Id=tz[0], Name=tz[1] or tz[0])
    return write


def r_tz(which: str):
    def read(el, inp, f):
        tzid = el.get("Id") or el.get("TimeZoneName") or (el.text or "").strip()
        if tzid:
            inp.extra[which] = tzid
    return read


def w_not_propose(parent, view, f, shape):
    sub(parent, t("AllowNewTimeProposal"), not bool(_p(view, A.PidLidAppointmentNotAllowPropose)))


def r_not_propose(el, inp, f):
    inp.props[A.PidLidAppointmentNotAllowPropose] = not parse_bool(el.text or "")


def r_location(el, inp, f):
    inp.props[A.PidLidLocation] = el.text or ""
    inp.props[A.PidLidWhere] = el.text or ""


def r_uid(el, inp, f):
    inp.extra["uid"] = (el.text or "").strip()


def r_int(el, inp, f):
    try:
        inp.props[f.prop] = int((el.text or "").strip())
    except ValueError as exc:
        raise PathError(f"bad {f.element}") from exc


def w_time_zone_name(parent, view, f, shape):
    v = _p(view, A.PidLidTimeZoneDescription)
    if v:
        sub(parent, t("TimeZone"), v)
    elif _x(view, "start_tz"):
        sub(parent, t("TimeZone"), _x(view, "start_tz")[1] or _x(view, "start_tz")[0])


def w_assoc_item(parent, view, f, shape):
    v = _x(view, "calendar_item_id")
    if v:
        sub(parent, t("AssociatedCalendarItemId"), Id=v[0], ChangeKey=v[1])


def w_const(value):
    def write(parent, view, f, shape):
        sub(parent, t(f.element), value)
    return write


def w_meeting_request_type(parent, view, f, shape):
    mt = _p(view, A.PidLidMeetingType)
    name = {A.mtgRequest: "NewMeetingRequest", A.mtgFull: "FullUpdate", A.mtgInfo: "InformationalUpdate",
            A.mtgOutOfDate: "Outdated"}.get(mt, "NewMeetingRequest")
    sub(parent, t("MeetingRequestType"), name)


def w_intended(parent, view, f, shape):
    v = _p(view, A.PidLidIntendedBusyStatus)
    if v is not None:
        sub(parent, t("IntendedFreeBusyStatus"), FREE_BUSY.get(v, "Busy"))


def w_response_type_msg(parent, view, f, shape):
    cls = str(_p(view, P.PidTagMessageClass) or "")
    v = {A.CLASS_RESP_POS: "Accept", A.CLASS_RESP_NEG: "Decline", A.CLASS_RESP_TENT: "Tentative"}.get(cls)
    if v is None:
        v = RESPONSE.get(_p(view, A.PidLidResponseStatus) or A.respNotResponded, "NoResponseReceived")
    sub(parent, t("ResponseType"), v)


_f = I._f
ReminderMinutes = _f("item:ReminderMinutesBeforeStart", "ReminderMinutesBeforeStart", I.w_int, r_int,
                     PidLidReminderDelta)


def item_fields_with_reminder() -> list:
    """ItemType's fields with ReminderMinutesBeforeStart in its schema place (after ReminderIsSet)."""
    out = []
    for f in I.ITEM_FIELDS:
        out.append(f)
        if f.uri == "item:ReminderIsSet":
            out.append(ReminderMinutes)
    return out


START = _f("calendar:Start", "Start", w_start, I.r_time, A.PidLidAppointmentStartWhole, default=True)
END = _f("calendar:End", "End", w_end, I.r_time, A.PidLidAppointmentEndWhole, default=True)
LOCATION = _f("calendar:Location", "Location", I.w_text, r_location, A.PidLidLocation, default=True,
              removes=(A.PidLidLocation, A.PidLidWhere))
RECURRENCE = _f("calendar:Recurrence", "Recurrence", w_recurrence, r_recurrence, A.PidLidAppointmentRecur,
                removes=(A.PidLidAppointmentRecur, A.PidLidRecurring, A.PidLidIsRecurring))
ITEM_TYPE = _f("calendar:CalendarItemType", "CalendarItemType", w_item_type, default=True)
UID = _f("calendar:UID", "UID", w_uid, r_uid, A.PidLidGlobalObjectId, default=True)
RECURRENCE_ID = _f("calendar:RecurrenceId", "RecurrenceId", w_recurrence_id)
DATE_TIME_STAMP = _f("calendar:DateTimeStamp", "DateTimeStamp", I.w_time, None, A.PidLidOwnerCriticalChange)
ORIGINAL_START = _f("calendar:OriginalStart", "OriginalStart", w_recurrence_id)
ALL_DAY = _f("calendar:IsAllDayEvent", "IsAllDayEvent", I.w_bool, I.r_bool, A.PidLidAppointmentSubType,
             default=True)
FREE_BUSY_F = _f("calendar:LegacyFreeBusyStatus", "LegacyFreeBusyStatus", w_free_busy, r_free_busy,
                 A.PidLidBusyStatus, default=True)
IS_MEETING = _f("calendar:IsMeeting", "IsMeeting", w_state_flag(A.asfMeeting), default=True)
IS_CANCELLED = _f("calendar:IsCancelled", "IsCancelled", w_state_flag(A.asfCanceled), default=True)
IS_RECURRING = _f("calendar:IsRecurring", "IsRecurring", w_is_recurring, default=True)
REQUEST_SENT = _f("calendar:MeetingRequestWasSent", "MeetingRequestWasSent", I.w_bool, None, A.PidLidFInvited,
                  default=True)
RESPONSE_REQUESTED = _f("calendar:IsResponseRequested", "IsResponseRequested", I.w_bool, I.r_bool,
                        P.PidTagResponseRequested, default=True)
MY_RESPONSE = _f("calendar:MyResponseType", "MyResponseType", w_my_response, default=True)
ORGANIZER = _f("calendar:Organizer", "Organizer", w_organizer, default=True)
REQUIRED = _f("calendar:RequiredAttendees", "RequiredAttendees", w_attendees(P.MAPI_TO), r_attendees(P.MAPI_TO),
              table=False)
OPTIONAL = _f("calendar:OptionalAttendees", "OptionalAttendees", w_attendees(P.MAPI_CC), r_attendees(P.MAPI_CC),
              table=False)
RESOURCES = _f("calendar:Resources", "Resources", w_attendees(P.MAPI_BCC), r_attendees(P.MAPI_BCC), table=False)
DURATION = _f("calendar:Duration", "Duration", w_duration, None, A.PidLidAppointmentDuration, default=True)
TIME_ZONE = _f("calendar:TimeZone", "TimeZone", w_time_zone_name, None, A.PidLidTimeZoneDescription, default=True)
REPLY_TIME = _f("calendar:AppointmentReplyTime", "AppointmentReplyTime", I.w_time, None,
                A.PidLidAppointmentReplyTime)
SEQUENCE = _f("calendar:AppointmentSequenceNumber", "AppointmentSequenceNumber", I.w_int, None,
              A.PidLidAppointmentSequence, default=True)
STATE = _f("calendar:AppointmentState", "AppointmentState", I.w_int, None, A.PidLidAppointmentStateFlags,
           default=True)
FIRST = _f("calendar:FirstOccurrence", "FirstOccurrence", w_occurrence("first"), table=False)
LAST = _f("calendar:LastOccurrence", "LastOccurrence", w_occurrence("last"), table=False)
MODIFIED = _f("calendar:ModifiedOccurrences", "ModifiedOccurrences", w_modified, table=False)
DELETED = _f("calendar:DeletedOccurrences", "DeletedOccurrences", w_deleted, table=False)
MEETING_TZ = _f("calendar:MeetingTimeZone", "MeetingTimeZone", None, r_tz("start_tz"))
START_TZ = _f("calendar:StartTimeZone", "StartTimeZone", w_tz("start_tz"), r_tz("start_tz"))
END_TZ = _f("calendar:EndTimeZone", "EndTimeZone", w_tz("end_tz"), r_tz("end_tz"))
CONFERENCE = _f("calendar:ConferenceType", "ConferenceType", w_const(0))
ALLOW_PROPOSE = _f("calendar:AllowNewTimeProposal", "AllowNewTimeProposal", w_not_propose, r_not_propose,
                   A.PidLidAppointmentNotAllowPropose)
ONLINE = _f("calendar:IsOnlineMeeting", "IsOnlineMeeting", w_const(False))
START_TZ_ID = _f("calendar:StartTimeZoneId", "StartTimeZoneId", None, r_tz("start_tz"))
END_TZ_ID = _f("calendar:EndTimeZoneId", "EndTimeZoneId", None, r_tz("end_tz"))

# CalendarItemType (MS-OXWSCAL 2.2.4.3), after ItemType's fields, in schema order
CALENDAR_FIELDS = [UID, RECURRENCE_ID, DATE_TIME_STAMP, START, END, ORIGINAL_START, ALL_DAY, FREE_BUSY_F, LOCATION,
                   IS_MEETING, IS_CANCELLED, IS_RECURRING, REQUEST_SENT, RESPONSE_REQUESTED, ITEM_TYPE, MY_RESPONSE,
                   ORGANIZER, REQUIRED, OPTIONAL, RESOURCES, DURATION, TIME_ZONE, REPLY_TIME, SEQUENCE, STATE,
                   RECURRENCE, FIRST, LAST, MODIFIED, DELETED, MEETING_TZ, START_TZ, END_TZ, CONFERENCE,
                   ALLOW_PROPOSE, ONLINE, START_TZ_ID, END_TZ_ID]

# MeetingMessageType (MS-OXWSMTGS 2.2.4.14), after MessageType's fields
ASSOC = _f("meeting:AssociatedCalendarItemId", "AssociatedCalendarItemId", w_assoc_item, default=True)
IS_DELEGATED = _f("meeting:IsDelegated", "IsDelegated", w_const(False), default=True)
IS_OUT_OF_DATE = _f("meeting:IsOutOfDate", "IsOutOfDate", w_const(False), default=True)
HAS_BEEN_PROCESSED = _f("meeting:HasBeenProcessed", "HasBeenProcessed", w_const(False), default=True)
RESPONSE_TYPE = _f("meeting:ResponseType", "ResponseType", w_response_type_msg, default=True)
MEETING_MESSAGE_FIELDS = [ASSOC, IS_DELEGATED, IS_OUT_OF_DATE, HAS_BEEN_PROCESSED, RESPONSE_TYPE,
                          _f("meeting:UID", "UID", w_uid, default=True),
                          _f("meeting:RecurrenceId", "RecurrenceId", w_recurrence_id),
                          _f("meeting:DateTimeStamp", "DateTimeStamp", I.w_time, None, A.PidLidOwnerCriticalChange)]
# MeetingRequestMessageType (2.2.4.19): the calendar fields it repeats
MEETING_REQUEST_FIELDS = [
    _f("meetingRequest:MeetingRequestType", "MeetingRequestType", w_meeting_request_type, default=True),
    _f("meetingRequest:IntendedFreeBusyStatus", "IntendedFreeBusyStatus", w_intended, default=True),
    START, END, ORIGINAL_START, ALL_DAY, FREE_BUSY_F, LOCATION, IS_MEETING, IS_CANCELLED, IS_RECURRING,
    REQUEST_SENT, ITEM_TYPE, MY_RESPONSE, ORGANIZER, REQUIRED, OPTIONAL, RESOURCES, DURATION, TIME_ZONE,
    REPLY_TIME, SEQUENCE, STATE, RECURRENCE, FIRST, LAST, MODIFIED, DELETED, START_TZ, END_TZ, CONFERENCE,
    ALLOW_PROPOSE, ONLINE]
# MeetingResponseMessageType (2.2.4.21) / MeetingCancellationMessageType (2.2.4.17)
MEETING_RESPONSE_FIELDS = [START, END, LOCATION, RECURRENCE, ITEM_TYPE]
MEETING_CANCELLATION_FIELDS = [START, END, LOCATION, RECURRENCE, ITEM_TYPE]

_ITEM = item_fields_with_reminder()
_MESSAGE = _ITEM + I.MESSAGE_FIELDS
CALENDAR = I.ItemClassTable("CalendarItem", tuple(_ITEM + CALENDAR_FIELDS), (A.CLASS_APPOINTMENT,))
MEETING_REQUEST = I.ItemClassTable("MeetingRequest",
                                   tuple(_MESSAGE + MEETING_MESSAGE_FIELDS + MEETING_REQUEST_FIELDS),
                                   (A.CLASS_MEETING_REQUEST,))
MEETING_RESPONSE = I.ItemClassTable("MeetingResponse",
                                    tuple(_MESSAGE + MEETING_MESSAGE_FIELDS + MEETING_RESPONSE_FIELDS),
                                    ("IPM.Schedule.Meeting.Resp",))
MEETING_CANCELLATION = I.ItemClassTable("MeetingCancellation",
                                        tuple(_MESSAGE + MEETING_MESSAGE_FIELDS + MEETING_CANCELLATION_FIELDS),
                                        (A.CLASS_MEETING_CANCELED,))

for _tb in (CALENDAR, MEETING_REQUEST, MEETING_RESPONSE, MEETING_CANCELLATION):
    I.register_table(_tb)
I.FIELD_BY_URI_ALL.setdefault(ReminderMinutes.uri, ReminderMinutes)


def response_object(el) -> dict:
    """AcceptItem / TentativelyAcceptItem / DeclineItem / CancelCalendarItem (MS-OXWSMTGS 2.2.4.x):
    the ReferenceItemId and the optional text the client adds."""
    ref = child(el, "ReferenceItemId")
    body = child(el, "Body")
    out = {"kind": local(el), "reference": ref.get("Id") if ref is not None else None,
           "change_key": ref.get("ChangeKey") if ref is not None else None,
           "subject": text(el, "Subject"),
           "body": (body.text or "") if body is not None else None,
           "body_type": body.get("BodyType", "Text") if body is not None else "Text"}
    start = text(el, "ProposedStart")
    end = text(el, "ProposedEnd")
    out["proposed"] = (parse_datetime(start), parse_datetime(end)) if start and end else None
    return out
