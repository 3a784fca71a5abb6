"""VEVENT <-> appointment properties (MS-OXCICAL 2.1.3.1.1.20, MS-OXOCAL 2.2.1),
and iTIP REQUEST / REPLY / CANCEL <-> meeting messages (MS-OXOCAL 2.2.6 - 2.2.8).

Pure functions: bytes in, MessageContent out and back. Recurring series get the
PidLidAppointmentRecur blob (recur.py) with their RECURRENCE-ID overrides as
ExceptionInfo records *and* as hidden exception attachments (MS-OXOCAL 2.2.10.1).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import icalendar
from dateutil.rrule import rrulestr

from gateway.store.model import Attachment, MessageContent, Recipient
from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as C
from protocols.mapi.props import named as N

from protocols.mapi import recur as R
from protocols.mapi.goid import clean_goid, goid_from_uid, uid_from_goid
from .ical_common import (BUSY_BY_VALUE, BUSY_NAMES, PARTSTAT_TO_TRACK, TRACK_TO_PARTSTAT, UTC, TzContext,
                          Zone, as_list, common_props_in, common_props_out, fake_utc, first_alarm, minutes,
                          naive, new_calendar, text, utc)
from protocols.mapi.tz import (TzReg, decode_timezone_definition, decode_timezone_struct, definition_for,
                               encode_timezone_definition, encode_timezone_struct)

from .tz import RuleTimezone, is_utc, vtimezone_from_tzreg

CLIP_END_NO_END = datetime(4500, 8, 31, 23, 59, tzinfo=UTC)   # MS-OXOCAL 2.2.1.15
_UTC_ZONE_NAMES = {"", "UTC", "GMT", "ETC/UTC", "Z", "COORDINATED UNIVERSAL TIME"}

# Properties that describe a series, not one occurrence: never copied into an exception.
_SERIES_ONLY = (A.PidLidAppointmentRecur, A.PidLidRecurring, A.PidLidIsRecurring, A.PidLidRecurrenceType,
                A.PidLidRecurrencePattern, A.PidLidTimeZoneStruct, A.PidLidTimeZoneDescription,
                A.PidLidAppointmentTimeZoneDefinitionRecur, A.PidNameICalendarRecurrenceDate)


class ICalError(ValueError):
    """The iCalendar data cannot be turned into an appointment."""


# ---------------------------------------------------------------------------
# import: one VEVENT -> properties
# ---------------------------------------------------------------------------

@dataclass
class _Imported:
    props: dict
    recipients: list[Recipient]
    start: datetime
    end: datetime
    all_day: bool
    zone: Zone | None
    end_zone: Zone | None
    organizer: tuple[str, str] | None
    attendees: list[tuple[str, str, dict]]


def _address(v) -> tuple[str, str]:
    s = str(v)
    email = s[7:] if s.lower().startswith("mailto:") else s
    name = str(v.params.get("CN", "")) if hasattr(v, "params") else ""
    return email, (name or email)


def _recipient(email: str, name: str, rtype: int, flags: int, track: int) -> Recipient:
    return Recipient(props={
        C.PidTagDisplayName: name, C.PidTagEmailAddress: email, C.PidTagAddressType: "SMTP",
        C.PidTagSmtpAddress: email, C.PidTagRecipientType: rtype, C.PidTagRecipientFlags: flags,
        C.PidTagRecipientTrackStatus: track,
    })


def _set_sender(props: dict, email: str, name: str, *, representing: bool = True) -> None:
    props.update({C.PidTagSenderName: name, C.PidTagSenderEmailAddress: email,
                  C.PidTagSenderAddressType: "SMTP", C.PidTagSenderSmtpAddress: email})
    if representing:
        props.update({C.PidTagSentRepresentingName: name, C.PidTagSentRepresentingEmailAddress: email,
                      C.PidTagSentRepresentingAddressType: "SMTP", C.PidTagSentRepresentingSmtpAddress: email})


def _recipient_type(params) -> int:
    cutype = str(params.get("CUTYPE", "")).upper()
    role = str(params.get("ROLE", "REQ-PARTICIPANT")).upper()
    if cutype in ("RESOURCE", "ROOM") or role == "NON-PARTICIPANT":
        return C.MAPI_BCC
    if role == "OPT-PARTICIPANT":
        return C.MAPI_CC
    return C.MAPI_TO


def _event_in(ev, ctx: TzContext, *, method: str | None, owner: str | None, uid: str | None,
              instance: date | None = None) -> _Imported:
    props: dict = {C.PidTagMessageClass: A.CLASS_APPOINTMENT}
    common_props_in(ev, props)
    imp = text(ev, "X-MICROSOFT-CDO-IMPORTANCE")
    if imp is not None and imp.strip() in ("0", "1", "2"):
        props[C.PidTagImportance] = int(imp)

    # DTSTART / DTEND / DURATION (2.1.3.1.1.20.8, .10, .11), all day (.20.30 X-MICROSOFT-CDO-ALLDAYEVENT)
    sp = ev.get("DTSTART")
    if sp is None:
        raise ICalError("VEVENT without DTSTART")
    all_day = not isinstance(sp.dt, datetime)
    start = ctx.aware(sp)
    zone = ctx.zone(sp, start.year)
    if ev.get("DTEND") is not None:
        ep = ev["DTEND"]
        end = ctx.aware(ep)
        end_zone = ctx.zone(ep, end.year) if isinstance(ep.dt, datetime) else zone
    elif ev.get("DURATION") is not None:
        end, end_zone = start + ev["DURATION"].dt, zone
    else:
        end, end_zone = start + (timedelta(days=1) if all_day else timedelta(0)), zone
    flag = (text(ev, "X-MICROSOFT-CDO-ALLDAYEVENT") or text(ev, "X-MICROSOFT-MSNCALENDAR-ALLDAYEVENT") or "")
    if flag.upper() == "TRUE" and not all_day and zone is not None:
        all_day = naive(start.astimezone(zone.tz)).time() == time() == naive(end.astimezone(zone.tz)).time()
    s_utc, e_utc = utc(start), utc(end)
    props.update({
        A.PidLidAppointmentStartWhole: s_utc, A.PidLidAppointmentEndWhole: e_utc,
        N.PidLidCommonStart: s_utc, N.PidLidCommonEnd: e_utc,
        A.PidLidClipStart: s_utc, A.PidLidClipEnd: e_utc,
        A.PidLidAppointmentDuration: minutes(e_utc - s_utc),
        A.PidLidAppointmentSubType: all_day,
    })
    if zone is not None:
        props[A.PidLidAppointmentTimeZoneDefinitionStartDisplay] = encode_timezone_definition(
            definition_for(zone.key, zone.reg, start.year))
    if end_zone is not None:
        props[A.PidLidAppointmentTimeZoneDefinitionEndDisplay] = encode_timezone_definition(
            definition_for(end_zone.key, end_zone.reg, end.year))

    loc = text(ev, "LOCATION")
    if loc is not None:
        props[A.PidLidLocation] = loc
        props[A.PidLidWhere] = loc

    # TRANSP / X-MICROSOFT-CDO-BUSYSTATUS / -INTENDEDSTATUS (2.1.3.1.1.20.25, .31, .36)
    b = (text(ev, "X-MICROSOFT-CDO-BUSYSTATUS") or "").upper()
    busy = BUSY_NAMES.get(b, A.olFree if (text(ev, "TRANSP") or "").upper() == "TRANSPARENT" else A.olBusy)
    intended = (text(ev, "X-MICROSOFT-CDO-INTENDEDSTATUS") or "").upper()
    if intended in BUSY_NAMES:
        props[A.PidLidIntendedBusyStatus] = BUSY_NAMES[intended]
    elif method == "REQUEST":
        props[A.PidLidIntendedBusyStatus] = busy
        busy = A.olTentative
    props[A.PidLidBusyStatus] = busy

    # VALARM (2.1.3.1.1.20.x, MS-OXORMDR)
    alarm = first_alarm(ev)
    if alarm is not None:
        trig = alarm["TRIGGER"]
        if isinstance(trig.dt, timedelta):
            delta = -minutes(trig.dt)
            if str(trig.params.get("RELATED", "START")).upper() == "END":
                delta -= minutes(e_utc - s_utc)
        else:
            t = trig.dt if trig.dt.tzinfo else trig.dt.replace(tzinfo=UTC)
            delta = minutes(s_utc - utc(t))
        props.update({N.PidLidReminderSet: True, N.PidLidReminderDelta: delta, N.PidLidReminderTime: s_utc,
                      N.PidLidReminderSignalTime: s_utc - timedelta(minutes=delta)})
    else:
        props[N.PidLidReminderSet] = False

    props[A.PidLidAppointmentSequence] = int(ev.get("SEQUENCE", 0))
    stamp = ev.get("DTSTAMP")
    if stamp is not None and isinstance(stamp.dt, datetime):
        st = utc(stamp.dt if stamp.dt.tzinfo else stamp.dt.replace(tzinfo=UTC))
        props[A.PidLidAttendeeCriticalChange if method == "REPLY" else A.PidLidOwnerCriticalChange] = st
    if (text(ev, "X-MICROSOFT-DISALLOW-COUNTER") or "").upper() == "TRUE":
        props[A.PidLidAppointmentNotAllowPropose] = True

    uid = text(ev, "UID") or uid
    if uid:
        goid = goid_from_uid(uid, instance)
        props[A.PidLidGlobalObjectId] = goid
        props[A.PidLidCleanGlobalObjectId] = clean_goid(goid)

    # ORGANIZER / ATTENDEE (2.1.3.1.1.20.2, .20.21)
    organizer = _address(ev["ORGANIZER"]) if ev.get("ORGANIZER") is not None else None
    attendees = []
    for a in as_list(ev.get("ATTENDEE")):
        email, name = _address(a)
        attendees.append((email, name, dict(a.params)))
    recipients: list[Recipient] = []
    is_meeting = bool(attendees)
    if is_meeting:
        if organizer is not None:
            recipients.append(_recipient(organizer[0], organizer[1], C.MAPI_TO,
                                         A.recipSendable | A.recipOrganizer, A.respNone))
            _set_sender(props, organizer[0], organizer[1])
        for email, name, params in attendees:
            if organizer is not None and email.lower() == organizer[0].lower():
                continue
            track = PARTSTAT_TO_TRACK.get(str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(), A.respNone)
            recipients.append(_recipient(email, name, _recipient_type(params), A.recipSendable, track))
        props[C.PidTagResponseRequested] = any(str(p.get("RSVP", "")).upper() == "TRUE" for _, _, p in attendees)
        for tag, rtype in ((A.PidLidToAttendeesString, C.MAPI_TO), (A.PidLidCcAttendeesString, C.MAPI_CC)):
            props[tag] = "; ".join(r.props[C.PidTagDisplayName] for r in recipients
                                   if r.props[C.PidTagRecipientType] == rtype
                                   and not r.props[C.PidTagRecipientFlags] & A.recipOrganizer)

    # PidLidAppointmentStateFlags / PidLidResponseStatus (MS-OXOCAL 2.2.1.10, 2.2.1.11)
    state, response = 0, A.respNone
    me = owner.lower() if owner else None
    org = organizer[0].lower() if organizer else None
    if is_meeting:
        state |= A.asfMeeting
        if method in ("REQUEST", "CANCEL") or (me and org and me != org):
            state |= A.asfReceived
        if me and me == org:
            response = A.respOrganized
        elif me:
            for email, _, params in attendees:
                if email.lower() == me:
                    response = PARTSTAT_TO_TRACK.get(str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
                                                     A.respNone)
    if (text(ev, "STATUS") or "").upper() == "CANCELLED" or method == "CANCEL":
        state |= A.asfCanceled
    props[A.PidLidAppointmentStateFlags] = state
    props[A.PidLidResponseStatus] = response
    return _Imported(props, recipients, start, end, all_day, zone, end_zone, organizer, attendees)


# ---------------------------------------------------------------------------
# import: RRULE / EXDATE / RDATE / overrides -> PidLidAppointmentRecur
# ---------------------------------------------------------------------------

def _local(value, ctx: TzContext, tz, at: time) -> datetime:
    """An EXDATE / RECURRENCE-ID value as a naive wall time in the series' zone."""
    if not isinstance(value.dt if hasattr(value, "dt") else value, datetime):
        d = value.dt if hasattr(value, "dt") else value
        return datetime.combine(d, at)
    return naive(ctx.aware(value).astimezone(tz))


def _day_list(rule, key) -> list[str]:
    return [str(x).upper() for x in as_list(rule.get(key))]


def pattern_from_rrule(rule, start_local: datetime, until_tz) -> R.RecurrencePattern:
    """RRULE -> RecurrencePattern following the MS-OXCICAL 2.1.3.2.2 templates.

    ``start_local`` is DTSTART as a wall time of the series' zone; ``until_tz`` turns an
    aware UNTIL into that wall time.
    """
    freq = str(as_list(rule.get("FREQ"))[0]).upper()
    interval = int((as_list(rule.get("INTERVAL")) or [1])[0])
    wkst = (as_list(rule.get("WKST")) or ["MO"])[0]
    first_dow = R.DAYS_SU0.index(str(wkst).upper())
    byday = _day_list(rule, "BYDAY")
    plain_days = [d[-2:] for d in byday if len(d) == 2]
    nth_days = [(int(d[:-2]), d[-2:]) for d in byday if len(d) > 2]
    bymonthday = [int(x) for x in as_list(rule.get("BYMONTHDAY"))]
    bysetpos = [int(x) for x in as_list(rule.get("BYSETPOS"))]
    start_day = R.DAYS_SU0[(start_local.weekday() + 1) % 7]

    def monthish(yearly: bool) -> tuple[int, int, int, tuple[int, ...]]:
        if yearly:
            freq_code = R.FREQ_YEARLY if interval == 1 else R.FREQ_MONTHLY   # 2.1.3.2.2.5
            period = 12 * interval
        else:
            freq_code, period = R.FREQ_MONTHLY, interval
        if nth_days:
            n, day = nth_days[0]
            return freq_code, R.PT_MONTH_NTH, period, (R.DAY_BITS[day], 5 if n < 0 else n)
        if plain_days and bysetpos:
            n = bysetpos[0]
            return freq_code, R.PT_MONTH_NTH, period, (R.days_to_mask(plain_days), 5 if n < 0 else n)
        day = bymonthday[0] if bymonthday else start_local.day
        return freq_code, R.PT_MONTH, period, (31 if day < 0 else day,)

    if freq == "DAILY" and plain_days and interval == 1:
        code, ptype, period, spec = R.FREQ_WEEKLY, R.PT_WEEK, 1, (R.days_to_mask(plain_days),)
    elif freq == "DAILY":
        code, ptype, period, spec = R.FREQ_DAILY, R.PT_DAY, interval * R.MINUTES_PER_DAY, ()
    elif freq == "WEEKLY":
        code, ptype, period, spec = R.FREQ_WEEKLY, R.PT_WEEK, interval, (
            R.days_to_mask(plain_days or [d for _, d in nth_days] or [start_day]),)
    elif freq == "MONTHLY":
        code, ptype, period, spec = monthish(False)
    elif freq == "YEARLY":
        code, ptype, period, spec = monthish(True)
    else:
        raise ICalError(f"RRULE FREQ={freq} has no PidLidAppointmentRecur form")

    start_date = R.midnight(R.to_minutes(start_local))
    p = R.RecurrencePattern(code, ptype, 0, 0, period, 0, spec, first_dow=first_dow, start_date=start_date)
    p.first_date_time = R.first_date_time(ptype, period, start_date, first_dow)

    count = as_list(rule.get("COUNT"))
    until = as_list(rule.get("UNTIL"))
    if not count and not until:
        p.end_type, p.occurrence_count, p.end_date = R.END_NEVER, 10, R.NO_END_DATE
        return p
    text_rule = dict(rule)
    if until:
        u = until[0]
        if isinstance(u, datetime):
            u = naive(u.astimezone(until_tz)) if u.tzinfo else u
        else:
            u = datetime.combine(u, time(23, 59, 59))
        text_rule["UNTIL"] = [u]
    rr = rrulestr(icalendar.vRecur(text_rule).to_ical().decode(), dtstart=start_local)
    occurrences = list(rr)
    if not occurrences or occurrences[0] > start_local:
        occurrences.insert(0, start_local)   # RFC 5545: DTSTART is always the first instance
        if count:
            occurrences = occurrences[:int(count[0])]
    last = occurrences[-1]
    p.end_type = R.END_AFTER_N if count else R.END_AFTER_DATE
    p.occurrence_count = int(count[0]) if count else len(occurrences)
    p.end_date = R.midnight(R.to_minutes(last))
    return p


def _recurrence_type(p: R.RecurrencePattern) -> int:
    return {R.FREQ_DAILY: A.rectypeDaily, R.FREQ_WEEKLY: A.rectypeWeekly, R.FREQ_MONTHLY: A.rectypeMonthly,
            R.FREQ_YEARLY: A.rectypeYearly}.get(p.recur_frequency, A.rectypeNone)


def _add_recurrence(msg: MessageContent, m: _Imported, master, overrides, ctx: TzContext, *,
                    method: str | None, owner: str | None, uid: str | None) -> None:
    zone = m.zone or Zone("UTC", TzReg(0), UTC)
    tz = zone.tz
    start_local, end_local = naive(m.start.astimezone(tz)), naive(m.end.astimezone(tz))
    rule = as_list(master.get("RRULE"))[0]
    p = pattern_from_rrule(rule, start_local, tz)
    at = start_local.time()
    deleted: set[int] = set()
    modified: set[int] = set()
    for ex in as_list(master.get("EXDATE")):
        for d in getattr(ex, "dts", [ex]):
            deleted.add(R.midnight(R.to_minutes(_local(d, ctx, tz, at))))
    rdates = []
    for rd in as_list(master.get("RDATE")):
        for d in getattr(rd, "dts", [rd]):
            if isinstance(d.dt, (datetime, date)) and not isinstance(d.dt, tuple):
                rdates.append(utc(ctx.aware(d, at=at)))
    if rdates:
        msg.props[A.PidNameICalendarRecurrenceDate] = sorted(rdates)

    pairs: list[tuple[R.ExceptionInfo, R.ExtendedException, Attachment]] = []
    mp = m.props
    for ov in overrides:
        rid_local = _local(ov["RECURRENCE-ID"], ctx, tz, at)
        if (text(ov, "STATUS") or "").upper() == "CANCELLED":
            deleted.add(R.midnight(R.to_minutes(rid_local)))
            continue
        o = _event_in(ov, ctx, method=method, owner=owner, uid=uid, instance=rid_local.date())
        ns, ne = naive(o.start.astimezone(tz)), naive(o.end.astimezone(tz))
        deleted.add(R.midnight(R.to_minutes(rid_local)))
        modified.add(R.midnight(R.to_minutes(ns)))
        op = o.props
        info, ext = R.exception_overrides(mp, op, ns, ne, rid_local)
        body_differs = bool(info.override_flags & R.ARO_EXCEPTIONAL_BODY)

        rid_utc = utc(ctx.aware(ov["RECURRENCE-ID"], at=at))
        ep = dict(op)
        ep.update({C.PidTagMessageClass: A.CLASS_EXCEPTION, A.PidLidExceptionReplaceTime: rid_utc,
                   A.PidLidIsException: True, A.PidLidFExceptionalBody: body_differs,
                   A.PidLidFExceptionalAttendees: _recips_key(o.recipients) != _recips_key(m.recipients),
                   A.PidLidRecurring: False})
        att = Attachment(props={
            C.PidTagAttachMethod: C.ATTACH_EMBEDDED_MSG, C.PidTagAttachmentHidden: True,
            C.PidTagAttachmentFlags: A.afException, C.PidTagAttachFlags: 0, C.PidTagAttachmentLinkId: 0,
            C.PidTagRenderingPosition: -1, C.PidTagDisplayName: op.get(C.PidTagSubject, ""),
            C.PidTagExceptionStartTime: fake_utc(ns), C.PidTagExceptionEndTime: fake_utc(ne),
            C.PidTagExceptionReplaceTime: rid_utc,
        }, embedded=MessageContent(props=ep, recipients=o.recipients))
        pairs.append((info, ext, att))

    pairs.sort(key=lambda t: t[0].start_date_time)
    p.deleted_instance_dates = sorted(deleted)
    p.modified_instance_dates = sorted(modified)
    start_off = R.to_minutes(start_local) - p.start_date
    arp = R.AppointmentRecurrencePattern(
        p, start_time_offset=start_off,
        end_time_offset=start_off + R.to_minutes(end_local) - R.to_minutes(start_local),
        exceptions=[t[0] for t in pairs], extended=[t[1] for t in pairs])
    msg.attachments.extend(t[2] for t in pairs)
    for i, att in enumerate(msg.attachments):
        att.props[C.PidTagAttachNumber] = i
    year = m.start.year
    no_end = p.end_type in (R.END_NEVER, R.END_NEVER_OLD)
    msg.props.update({
        A.PidLidAppointmentRecur: R.encode_appointment_recur(arp),
        A.PidLidRecurring: True, A.PidLidIsRecurring: True,
        A.PidLidRecurrenceType: _recurrence_type(p),
        A.PidLidRecurrencePattern: R.describe(p, arp.start_time_offset, arp.end_time_offset),
        A.PidLidTimeZoneStruct: encode_timezone_struct(zone.reg),
        A.PidLidTimeZoneDescription: zone.key,
        A.PidLidAppointmentTimeZoneDefinitionRecur: encode_timezone_definition(
            definition_for(zone.key, zone.reg, year, recur=True)),
        A.PidLidClipStart: utc(R.from_minutes(p.start_date).replace(tzinfo=tz)),
        A.PidLidClipEnd: CLIP_END_NO_END if no_end else utc(R.from_minutes(p.end_date).replace(tzinfo=tz)),
    })
    if msg.attachments:
        msg.props[C.PidTagHasAttachments] = True


def _recips_key(recipients: list[Recipient]) -> list[tuple]:
    return sorted((r.props.get(C.PidTagSmtpAddress, "").lower(), r.props.get(C.PidTagRecipientType),
                   r.props.get(C.PidTagRecipientTrackStatus)) for r in recipients)


# ---------------------------------------------------------------------------
# public import API
# ---------------------------------------------------------------------------

def _calendar_to_message(cal, method: str | None, uid_hint: str | None, default_tz: str | None,
                         owner: str | None) -> tuple[MessageContent, _Imported, object]:
    ctx = TzContext(cal, default_tz)
    events = list(cal.walk("VEVENT"))
    if not events:
        raise ICalError("no VEVENT in the calendar data")
    uids = [text(e, "UID") for e in events]
    uid = uid_hint if uid_hint in uids else next((u for u in uids if u), uid_hint)
    mine = [e for e in events if text(e, "UID") in (uid, None)]
    master = next((e for e in mine if e.get("RECURRENCE-ID") is None), None)
    overrides = [e for e in mine if e.get("RECURRENCE-ID") is not None]
    if master is None:
        # one occurrence on its own (an iTIP message about a single instance)
        ev = overrides[0]
        rid = ctx.aware(ev["RECURRENCE-ID"])
        sp = ctx.zone(ev["RECURRENCE-ID"], rid.year)
        rid_local = naive(rid.astimezone(sp.tz)) if sp else naive(utc(rid))
        m = _event_in(ev, ctx, method=method, owner=owner, uid=uid, instance=rid_local.date())
        m.props.update({A.PidLidExceptionReplaceTime: utc(rid), A.PidLidIsException: True,
                        A.PidLidRecurring: False, A.PidLidIsRecurring: True})
        return MessageContent(props=m.props, recipients=m.recipients), m, ev
    m = _event_in(master, ctx, method=method, owner=owner, uid=uid)
    msg = MessageContent(props=m.props, recipients=m.recipients)
    if master.get("RRULE") is not None:
        _add_recurrence(msg, m, master, overrides, ctx, method=method, owner=owner, uid=uid)
    else:
        msg.props[A.PidLidRecurring] = False
        msg.props[A.PidLidIsRecurring] = False
    return msg, m, master


def ical_to_appointment(data: bytes, *, uid_hint: str | None = None, default_tz: str | None = None,
                        owner: str | None = None) -> MessageContent:
    """One VCALENDAR object (one UID) -> an IPM.Appointment.

    ``default_tz`` (an IANA or Windows zone name) places floating times and DATE values;
    without it they are taken as UTC. ``owner`` (the mailbox's SMTP address) lets the
    meeting state flags and response status say whether the owner organizes or attends.
    """
    cal = icalendar.Calendar.from_ical(data)
    method = (text(cal, "METHOD") or "").upper() or None
    msg, _, _ = _calendar_to_message(cal, method, uid_hint, default_tz, owner)
    return msg


_REPLY_CLASS = {"ACCEPTED": A.CLASS_RESP_POS, "DECLINED": A.CLASS_RESP_NEG, "TENTATIVE": A.CLASS_RESP_TENT}
_CLASS_PARTSTAT = {v: k for k, v in _REPLY_CLASS.items()}


def itip_to_meeting_message(data: bytes, *, default_tz: str | None = None,
                            owner: str | None = None) -> MessageContent:
    """An iTIP (RFC 5546) METHOD:REQUEST / REPLY / CANCEL -> a meeting message (MS-OXOCAL 2.2.6-2.2.8)."""
    cal = icalendar.Calendar.from_ical(data)
    method = (text(cal, "METHOD") or "REQUEST").upper()
    if method not in ("REQUEST", "REPLY", "CANCEL"):
        raise ICalError(f"iTIP METHOD:{method} has no meeting message form here")
    msg, m, ev = _calendar_to_message(cal, method, None, default_tz, owner)
    p = msg.props
    p[A.PidLidAppointmentMessageClass] = A.CLASS_APPOINTMENT
    if method == "REPLY":
        if not m.attendees:
            raise ICalError("an iTIP REPLY needs an ATTENDEE")
        email, name, params = m.attendees[0]
        partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
        p[C.PidTagMessageClass] = _REPLY_CLASS.get(partstat, A.CLASS_RESP_TENT)
        for tag in (C.PidTagSentRepresentingName, C.PidTagSentRepresentingEmailAddress,
                    C.PidTagSentRepresentingAddressType, C.PidTagSentRepresentingSmtpAddress):
            p.pop(tag, None)
        _set_sender(p, email, name)
        msg.recipients = []
        if m.organizer is not None:
            msg.recipients.append(_recipient(m.organizer[0], m.organizer[1], C.MAPI_TO,
                                             A.recipSendable | A.recipOrganizer, A.respNone))
        p[A.PidLidAppointmentStateFlags] = A.asfMeeting
        p.pop(C.PidTagResponseRequested, None)
        p.pop(A.PidLidToAttendeesString, None)
        p.pop(A.PidLidCcAttendeesString, None)
        return msg
    # REQUEST / CANCEL: the attendees are the recipients, the organizer is the sender
    msg.recipients = [r for r in msg.recipients if not r.props[C.PidTagRecipientFlags] & A.recipOrganizer]
    if m.organizer is not None:
        _set_sender(p, m.organizer[0], m.organizer[1])
    if method == "CANCEL":
        p[C.PidTagMessageClass] = A.CLASS_MEETING_CANCELED
        p[A.PidLidIntendedBusyStatus] = A.olFree
        p[A.PidLidBusyStatus] = A.olFree
    else:
        p[C.PidTagMessageClass] = A.CLASS_MEETING_REQUEST
        p[A.PidLidMeetingType] = A.mtgRequest if p.get(A.PidLidAppointmentSequence, 0) == 0 else A.mtgFull
    return msg


# ---------------------------------------------------------------------------
# export: properties -> VEVENT
# ---------------------------------------------------------------------------

def _zone_from(props: dict, recurring: bool, which=A.PidLidAppointmentTimeZoneDefinitionStartDisplay) -> Zone | None:
    key, reg = None, None
    if recurring and props.get(A.PidLidAppointmentTimeZoneDefinitionRecur):
        d = decode_timezone_definition(props[A.PidLidAppointmentTimeZoneDefinitionRecur])
        key, reg = d.key_name, d.effective().reg
    elif recurring and props.get(A.PidLidTimeZoneStruct):
        key, reg = props.get(A.PidLidTimeZoneDescription) or "Custom", decode_timezone_struct(
            props[A.PidLidTimeZoneStruct])
    elif props.get(which):
        d = decode_timezone_definition(props[which])
        key, reg = d.key_name, d.effective().reg
    if reg is None or (is_utc(reg) and (key or "").upper() in _UTC_ZONE_NAMES):
        return None
    return Zone(key, reg, RuleTimezone(reg, key))


def _put_time(comp, name: str, when: datetime, zone: Zone | None, all_day: bool) -> None:
    if all_day:
        comp.add(name, naive(when.astimezone(zone.tz if zone else UTC)).date())
    elif zone is not None:
        comp.add(name, naive(when.astimezone(zone.tz)), parameters={"TZID": zone.key})
    else:
        comp.add(name, utc(when))


def _organizer_out(props: dict, recipients: list[Recipient]) -> tuple[str, str] | None:
    for r in recipients:
        if r.props.get(C.PidTagRecipientFlags, 0) & A.recipOrganizer:
            return (r.props.get(C.PidTagSmtpAddress) or r.props.get(C.PidTagEmailAddress, ""),
                    r.props.get(C.PidTagDisplayName, ""))
    email = props.get(C.PidTagSentRepresentingSmtpAddress) or props.get(C.PidTagSentRepresentingEmailAddress)
    if email:
        return email, props.get(C.PidTagSentRepresentingName, email)
    return None


def _cal_address(email: str, name: str, **params) -> icalendar.vCalAddress:
    a = icalendar.vCalAddress(f"mailto:{email}")
    if name and name != email:
        a.params["CN"] = name
    for k, v in params.items():
        a.params[k.replace("_", "-")] = v
    return a


def _vevent_out(props: dict, recipients: list[Recipient], zone: Zone | None, end_zone: Zone | None, *,
                mode: str = "calendar", recurrence_id: datetime | None = None) -> icalendar.Event:
    ev = icalendar.Event()
    goid = props.get(A.PidLidGlobalObjectId) or props.get(A.PidLidCleanGlobalObjectId)
    ev.add("UID", uid_from_goid(goid) if goid else props.get(A.PidNameCalendarUid) or str(uuid.uuid4()))
    stamp = (props.get(A.PidLidAttendeeCriticalChange) if mode == "reply" else None) \
        or props.get(A.PidLidOwnerCriticalChange) or props.get(C.PidTagLastModificationTime) \
        or datetime.now(UTC).replace(microsecond=0)
    ev.add("DTSTAMP", utc(stamp))
    all_day = bool(props.get(A.PidLidAppointmentSubType))
    start = props.get(A.PidLidAppointmentStartWhole) or props.get(N.PidLidCommonStart)
    end = props.get(A.PidLidAppointmentEndWhole) or props.get(N.PidLidCommonEnd) or start
    if start is None:
        raise ICalError("appointment without PidLidAppointmentStartWhole")
    _put_time(ev, "DTSTART", start, zone, all_day)
    _put_time(ev, "DTEND", end, end_zone, all_day)
    if recurrence_id is None and props.get(A.PidLidIsException) and props.get(A.PidLidExceptionReplaceTime):
        recurrence_id = props[A.PidLidExceptionReplaceTime]
    if recurrence_id is not None:
        _put_time(ev, "RECURRENCE-ID", recurrence_id, zone, all_day)
    if all_day:
        ev.add("X-MICROSOFT-CDO-ALLDAYEVENT", "TRUE")
    common_props_out(props, ev)
    if props.get(A.PidLidLocation) is not None or props.get(A.PidLidWhere) is not None:
        ev.add("LOCATION", props.get(A.PidLidLocation) or props.get(A.PidLidWhere))
    busy = props.get(A.PidLidBusyStatus, A.olBusy)
    ev.add("TRANSP", "TRANSPARENT" if busy == A.olFree else "OPAQUE")
    ev.add("X-MICROSOFT-CDO-BUSYSTATUS", BUSY_BY_VALUE.get(busy, "BUSY"))
    if A.PidLidIntendedBusyStatus in props:
        ev.add("X-MICROSOFT-CDO-INTENDEDSTATUS", BUSY_BY_VALUE.get(props[A.PidLidIntendedBusyStatus], "BUSY"))
    ev.add("X-MICROSOFT-CDO-IMPORTANCE", str(props.get(C.PidTagImportance, A.IMPORTANCE_NORMAL)))
    if props.get(A.PidLidAppointmentNotAllowPropose):
        ev.add("X-MICROSOFT-DISALLOW-COUNTER", "TRUE")
    ev.add("SEQUENCE", int(props.get(A.PidLidAppointmentSequence, 0)))
    if props.get(A.PidLidAppointmentStateFlags, 0) & A.asfCanceled:
        ev.add("STATUS", "CANCELLED")
    elif props.get(A.PidLidAppointmentStateFlags, 0) & A.asfMeeting:
        ev.add("STATUS", "CONFIRMED")
    if props.get(N.PidLidReminderSet):
        alarm = icalendar.Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", "Reminder")
        alarm.add("TRIGGER", timedelta(minutes=-int(props.get(N.PidLidReminderDelta, 15))),
                  parameters={"RELATED": "START"})
        ev.add_component(alarm)

    organizer = _organizer_out(props, recipients)
    if mode == "reply":
        if organizer:
            ev.add("ORGANIZER", _cal_address(*organizer))
        email = props.get(C.PidTagSenderSmtpAddress) or props.get(C.PidTagSenderEmailAddress)
        if email:
            partstat = _CLASS_PARTSTAT.get(props.get(C.PidTagMessageClass, ""), "TENTATIVE")
            ev.add("ATTENDEE", _cal_address(email, props.get(C.PidTagSenderName, email), PARTSTAT=partstat))
        return ev
    attendees = [r for r in recipients if not r.props.get(C.PidTagRecipientFlags, 0) & A.recipOrganizer]
    if attendees and organizer:
        ev.add("ORGANIZER", _cal_address(*organizer))
    rsvp = "TRUE" if props.get(C.PidTagResponseRequested) else "FALSE"
    for r in attendees:
        rp = r.props
        rtype = rp.get(C.PidTagRecipientType, C.MAPI_TO)
        params = {"ROLE": {C.MAPI_CC: "OPT-PARTICIPANT", C.MAPI_BCC: "NON-PARTICIPANT"}.get(rtype,
                                                                                          "REQ-PARTICIPANT"),
                  "PARTSTAT": TRACK_TO_PARTSTAT.get(rp.get(C.PidTagRecipientTrackStatus, 0), "NEEDS-ACTION"),
                  "RSVP": rsvp}
        if rtype == C.MAPI_BCC:
            params["CUTYPE"] = "RESOURCE"
        email = rp.get(C.PidTagSmtpAddress) or rp.get(C.PidTagEmailAddress, "")
        ev.add("ATTENDEE", _cal_address(email, rp.get(C.PidTagDisplayName, email), **params))
    return ev


def rrule_from_pattern(p: R.RecurrencePattern, start_time_offset: int, zone: Zone | None,
                       all_day: bool) -> dict:
    """RecurrencePattern -> RRULE parts (the export side of MS-OXCICAL 2.1.3.2.2)."""
    rule: dict = {}
    start = R.from_minutes(p.start_date)
    yearly = p.recur_frequency == R.FREQ_YEARLY
    if p.pattern_type == R.PT_DAY:
        rule["FREQ"] = "DAILY"
        rule["INTERVAL"] = max(p.period // R.MINUTES_PER_DAY, 1)
    elif p.pattern_type == R.PT_WEEK:
        rule["FREQ"] = "WEEKLY"
        rule["INTERVAL"] = p.period
        rule["BYDAY"] = R.mask_to_days(p.pattern_specific[0])
    else:
        rule["FREQ"] = "YEARLY" if yearly else "MONTHLY"
        rule["INTERVAL"] = max(p.period // 12, 1) if yearly else p.period
        if p.pattern_type in (R.PT_MONTH_NTH, R.PT_HJ_MONTH_NTH):
            rule["BYDAY"] = R.mask_to_days(p.pattern_specific[0])
            rule["BYSETPOS"] = -1 if p.pattern_specific[1] == 5 else p.pattern_specific[1]
        elif p.pattern_type in (R.PT_MONTH_END, R.PT_HJ_MONTH_END) or p.pattern_specific[0] == 31:
            rule["BYMONTHDAY"] = -1
        else:
            rule["BYMONTHDAY"] = p.pattern_specific[0]
        if yearly:
            rule["BYMONTH"] = start.month
    rule["WKST"] = R.DAYS_SU0[p.first_dow % 7]
    if p.end_type == R.END_AFTER_N:
        rule["COUNT"] = p.occurrence_count
    elif p.end_type == R.END_AFTER_DATE:
        last = R.from_minutes(p.end_date + start_time_offset)
        if all_day:
            rule["UNTIL"] = last.date()
        else:
            rule["UNTIL"] = utc(last.replace(tzinfo=zone.tz if zone else UTC))
    return rule


def _series_props(props: dict) -> dict:
    return {k: v for k, v in props.items() if k not in _SERIES_ONLY}


def _add_message_events(cal, msg: MessageContent, mode: str) -> None:
    props = msg.props
    blob = props.get(A.PidLidAppointmentRecur)
    recurring = bool(blob)
    zone = _zone_from(props, recurring)
    end_zone = _zone_from(props, False, A.PidLidAppointmentTimeZoneDefinitionEndDisplay) if not recurring else zone
    if end_zone is None or (zone is not None and end_zone.key == zone.key):
        end_zone = zone
    for z in {id(z): z for z in (zone, end_zone) if z is not None}.values():
        cal.add_component(vtimezone_from_tzreg(z.key, z.reg))
    all_day = bool(props.get(A.PidLidAppointmentSubType))
    master = _vevent_out(props, msg.recipients, zone, end_zone, mode=mode)
    cal.add_component(master)
    if not recurring:
        return
    arp = R.decode_appointment_recur(blob)
    tz = zone.tz if zone else UTC
    master.add("RRULE", rrule_from_pattern(arp.pattern, arp.start_time_offset, zone, all_day))
    originals = {R.midnight(e.original_start_date) for e in arp.exceptions}
    for d in arp.pattern.deleted_instance_dates:
        if d in originals:
            continue
        when = utc(R.from_minutes(d + arp.start_time_offset).replace(tzinfo=tz))
        _put_time(master, "EXDATE", when, zone, all_day)
    rdates = props.get(A.PidNameICalendarRecurrenceDate)
    if rdates:
        for when in rdates:
            _put_time(master, "RDATE", when, zone, all_day)
    by_replace = {}
    for att in msg.attachments:
        if att.embedded is None:
            continue
        t = att.props.get(C.PidTagExceptionReplaceTime) or att.embedded.props.get(A.PidLidExceptionReplaceTime)
        if t is not None:
            by_replace[utc(t)] = att.embedded
    series = _series_props(props)
    for info, ext in zip(arp.exceptions, arp.extended):
        orig = utc(R.from_minutes(info.original_start_date).replace(tzinfo=tz))
        emb = by_replace.get(orig)
        if emb is not None:
            ep, erecips = _series_props(emb.props), emb.recipients or msg.recipients
        else:
            ep, erecips = _synth_exception(series, info, ext, tz), msg.recipients
        cal.add_component(_vevent_out(ep, erecips, zone, zone, mode=mode, recurrence_id=orig))


def _synth_exception(series: dict, info: R.ExceptionInfo, ext: R.ExtendedException, tz) -> dict:
    """An exception known only from its ExceptionInfo (no attachment): the series with the overrides."""
    p = dict(series)
    p[A.PidLidAppointmentStartWhole] = utc(R.from_minutes(info.start_date_time).replace(tzinfo=tz))
    p[A.PidLidAppointmentEndWhole] = utc(R.from_minutes(info.end_date_time).replace(tzinfo=tz))
    f = info.override_flags
    if f & R.ARO_SUBJECT:
        p[C.PidTagSubject] = ext.subject if ext.subject is not None else (info.subject or b"").decode("cp1252",
                                                                                                      "replace")
    if f & R.ARO_LOCATION:
        p[A.PidLidLocation] = ext.location if ext.location is not None else (info.location or b"").decode(
            "cp1252", "replace")
    if f & R.ARO_BUSYSTATUS:
        p[A.PidLidBusyStatus] = info.busy_status
    if f & R.ARO_REMINDER:
        p[N.PidLidReminderSet] = bool(info.reminder_set)
    if f & R.ARO_REMINDERDELTA:
        p[N.PidLidReminderDelta] = info.reminder_delta
    if f & R.ARO_SUBTYPE:
        p[A.PidLidAppointmentSubType] = bool(info.sub_type)
    return p


def appointment_to_ical(msg: MessageContent, *, method: str | None = None, export: bool = False) -> bytes:
    """An appointment -> VCALENDAR with VTIMEZONE, the master VEVENT and its overrides.

    ``export``: the form Exchange exports (EWS MimeContent), which always carries a VTIMEZONE,
    a UTC one for an event kept in UTC; DavMail learns the user's zone from that block of a
    probe event it creates, and fails every later PUT without it."""
    cal = new_calendar(method)
    _add_message_events(cal, msg, "calendar")
    if export and not any(c.name == "VTIMEZONE" for c in cal.subcomponents):
        cal.subcomponents.insert(0, vtimezone_from_tzreg("UTC", TzReg(0)))
    return cal.to_ical()


def meeting_message_to_itip(msg: MessageContent) -> bytes:
    """A meeting request / response / cancellation -> an iTIP text/calendar body."""
    cls = msg.props.get(C.PidTagMessageClass, "")
    if cls.startswith("IPM.Schedule.Meeting.Resp."):
        method, mode = "REPLY", "reply"
    elif cls.startswith(A.CLASS_MEETING_CANCELED):
        method, mode = "CANCEL", "request"
    elif cls.startswith(A.CLASS_MEETING_REQUEST) or cls.startswith("IPM.Appointment"):
        method, mode = "REQUEST", "request"
    else:
        raise ICalError(f"{cls!r} is not a meeting message")
    cal = new_calendar(method)
    _add_message_events(cal, msg, mode)
    return cal.to_ical()
