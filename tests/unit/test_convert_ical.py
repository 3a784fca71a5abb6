"""iCalendar <-> appointment / task / meeting message conversion (MS-OXCICAL) on fixtures/ical/.

The fixtures imitate real producers: Outlook (VTIMEZONE + X-MICROSOFT-CDO-*), Google
(Olson TZID without VTIMEZONE, UTC), Apple, Evolution/Radicale (vendor-prefixed TZIDs).
Three of the Outlook ones describe the meetings of MS-OXOCAL 4.1.1.1 - 4.1.1.3, so the
blob they produce must equal the published bytes.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest

from protocols.mapi import recur as R
from protocols.mapi.goid import GlobalObjectId, uid_from_goid
from gateway.store.convert.ical import (ICalError, appointment_to_ical, ical_to_appointment, ical_to_task,
                                        itip_to_meeting_message, meeting_message_to_itip, task_to_ical)
from protocols.mapi.tz import decode_timezone_definition, decode_timezone_struct
from gateway.store.model import MessageContent
from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as C
from protocols.mapi.props import named as N
from protocols.mapi.props import task as T

from .test_recur import OXOCAL_4_1_1_1, OXOCAL_4_1_1_2, OXOCAL_4_1_1_3

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "ical"
UTC = timezone.utc
EVENTS = sorted(p.name for p in FIX.glob("*.ics") if not p.name.startswith(("todo", "itip")))
TODOS = sorted(p.name for p in FIX.glob("todo*.ics"))
ITIPS = sorted(p.name for p in FIX.glob("itip*.ics"))


def load(name: str) -> bytes:
    return (FIX / name).read_bytes()


def rows(recipients):
    return [r.props for r in recipients]


def assert_same(a: MessageContent, b: MessageContent):
    assert a.props == b.props
    assert rows(a.recipients) == rows(b.recipients)
    assert len(a.attachments) == len(b.attachments)
    for x, y in zip(a.attachments, b.attachments):
        assert x.props == y.props
        assert (x.embedded is None) == (y.embedded is None)
        if x.embedded is not None:
            assert_same(x.embedded, y.embedded)


def test_corpus_is_there():
    assert len(EVENTS) >= 9 and len(TODOS) >= 3 and len(ITIPS) == 3


# --- byte-for-byte against MS-OXOCAL section 4 ---

@pytest.mark.parametrize("name, published", [
    ("outlook_weekly_simple.ics", OXOCAL_4_1_1_1),      # MS-OXOCAL 4.1.1.1
    ("outlook_weekly_exceptions.ics", OXOCAL_4_1_1_2),  # MS-OXOCAL 4.1.1.2
    ("outlook_daily_exdate.ics", OXOCAL_4_1_1_3),       # MS-OXOCAL 4.1.1.3
])
def test_blob_from_ical_matches_published_example(name, published):
    msg = ical_to_appointment(load(name))
    assert msg.props[A.PidLidAppointmentRecur] == published


# --- round trips: iCal -> props -> iCal -> props ---

@pytest.mark.parametrize("name", EVENTS)
def test_event_round_trip(name):
    first = ical_to_appointment(load(name))
    out = appointment_to_ical(first)
    second = ical_to_appointment(out)
    assert_same(first, second)
    # and once more: the exported form is a fixed point
    assert appointment_to_ical(second) == out


@pytest.mark.parametrize("name", TODOS)
def test_task_round_trip(name):
    first = ical_to_task(load(name))
    assert_same(first, ical_to_task(task_to_ical(first)))


@pytest.mark.parametrize("name", ITIPS)
def test_itip_round_trip(name):
    first = itip_to_meeting_message(load(name))
    assert_same(first, itip_to_meeting_message(meeting_message_to_itip(first)))


# --- mapping details ---

def test_outlook_simple_mapping():
    m = ical_to_appointment(load("outlook_weekly_simple.ics"))
    p = m.props
    assert p[C.PidTagMessageClass] == "IPM.Appointment"
    assert p[C.PidTagSubject] == "Simple Recurrence"
    assert p[C.PidTagBody] == "Weekly sync\n"
    assert p[A.PidLidLocation] == p[A.PidLidWhere] == "34/4639"
    assert p[A.PidLidAppointmentStartWhole] == datetime(2007, 3, 26, 17, 0, tzinfo=UTC)   # 10:00 PDT
    assert p[A.PidLidAppointmentEndWhole] == datetime(2007, 3, 26, 17, 30, tzinfo=UTC)
    assert p[N.PidLidCommonStart] == p[A.PidLidAppointmentStartWhole]
    assert p[A.PidLidAppointmentDuration] == 30
    assert p[A.PidLidAppointmentSubType] is False
    assert p[A.PidLidBusyStatus] == A.olBusy
    assert p[N.PidLidReminderSet] is True and p[N.PidLidReminderDelta] == 15
    assert p[N.PidLidReminderSignalTime] == datetime(2007, 3, 26, 16, 45, tzinfo=UTC)
    assert p[C.PidTagImportance] == A.IMPORTANCE_NORMAL
    assert p[C.PidTagSensitivity] == 0 and p[N.PidLidPrivate] is False
    assert p[A.PidLidRecurring] is True and p[A.PidLidIsRecurring] is True
    assert p[A.PidLidRecurrenceType] == A.rectypeWeekly
    assert p[A.PidLidRecurrencePattern].startswith("Occurs every Monday, Thursday and Friday")
    assert p[A.PidLidTimeZoneDescription] == "Pacific Standard Time"
    reg = decode_timezone_struct(p[A.PidLidTimeZoneStruct])
    assert (reg.bias, reg.daylight_bias, reg.daylight_date.month, reg.standard_date.month) == (480, -60, 3, 11)
    recur_def = decode_timezone_definition(p[A.PidLidAppointmentTimeZoneDefinitionRecur])
    assert recur_def.key_name == "Pacific Standard Time" and recur_def.rules[0].flags == 0x3
    assert recur_def.rules[0].reg == reg
    start_def = decode_timezone_definition(p[A.PidLidAppointmentTimeZoneDefinitionStartDisplay])
    assert start_def.rules[0].flags == 0x2
    assert p[A.PidLidClipStart] == datetime(2007, 3, 26, 7, 0, tzinfo=UTC)
    assert p[A.PidLidClipEnd] == datetime(2007, 4, 20, 7, 0, tzinfo=UTC)
    assert p[C.PidTagCreationTime] == datetime(2007, 3, 20, 18, 15, tzinfo=UTC)
    assert p[A.PidLidOwnerCriticalChange] == datetime(2007, 3, 20, 18, 15, tzinfo=UTC)
    assert m.recipients == [] and p[A.PidLidAppointmentStateFlags] == 0


def test_outlook_uid_comes_back_identical():
    src = load("outlook_weekly_simple.ics")
    uid = str(icalendar.Calendar.from_ical(src).walk("VEVENT")[0]["UID"])
    m = ical_to_appointment(src)
    assert m.props[A.PidLidGlobalObjectId] == bytes.fromhex(uid)   # an EncodedGlobalId is decoded as is
    assert m.props[A.PidLidCleanGlobalObjectId] == bytes.fromhex(uid)
    out = icalendar.Calendar.from_ical(appointment_to_ical(m)).walk("VEVENT")[0]
    assert str(out["UID"]) == uid


def test_third_party_uid():
    m = ical_to_appointment(load("google_monthly_nth.ics"))
    g = GlobalObjectId.decode(m.props[A.PidLidGlobalObjectId])
    assert g.data == b"vCal-Uid\x01\x00\x00\x00" + b"5n0ld4jp4rgv0q2v8o6kq3e3ab@google.com\x00"
    assert uid_from_goid(m.props[A.PidLidGlobalObjectId]) == "5n0ld4jp4rgv0q2v8o6kq3e3ab@google.com"


def test_exception_attachment_4_1_1_2():
    m = ical_to_appointment(load("outlook_weekly_exceptions.ics"))
    (att,) = m.attachments
    ap = att.props
    assert ap[C.PidTagAttachMethod] == C.ATTACH_EMBEDDED_MSG
    assert ap[C.PidTagAttachmentHidden] is True
    assert ap[C.PidTagAttachmentFlags] == A.afException
    assert ap[C.PidTagExceptionReplaceTime] == datetime(2007, 4, 16, 17, 0, tzinfo=UTC)
    assert ap[C.PidTagExceptionStartTime] == datetime(2007, 4, 16, 11, 0, tzinfo=UTC)   # local wall time
    assert ap[C.PidTagExceptionEndTime] == datetime(2007, 4, 16, 11, 30, tzinfo=UTC)
    e = att.embedded.props
    assert e[C.PidTagMessageClass] == A.CLASS_EXCEPTION
    assert e[C.PidTagSubject] == "Simple Recurrence with exceptions" and e[A.PidLidLocation] == "34/4141"
    assert e[A.PidLidExceptionReplaceTime] == ap[C.PidTagExceptionReplaceTime]
    assert e[A.PidLidAppointmentStartWhole] == datetime(2007, 4, 16, 18, 0, tzinfo=UTC)
    assert e[A.PidLidIsException] is True and e[A.PidLidFExceptionalBody] is False
    assert GlobalObjectId.decode(e[A.PidLidGlobalObjectId]).day == 16
    assert e[A.PidLidCleanGlobalObjectId] == m.props[A.PidLidCleanGlobalObjectId]
    assert A.PidLidAppointmentRecur not in e
    assert m.props[C.PidTagHasAttachments] is True


def test_google_monthly_nth_and_attendees():
    m = ical_to_appointment(load("google_monthly_nth.ics"), owner="bob@example.com")
    p = m.props
    a = R.decode_appointment_recur(p[A.PidLidAppointmentRecur])
    assert (a.pattern.recur_frequency, a.pattern.pattern_type) == (R.FREQ_MONTHLY, R.PT_MONTH_NTH)
    assert a.pattern.pattern_specific == (R.DAY_BITS["TU"], 2)
    assert a.pattern.end_type == R.END_NEVER and a.pattern.end_date == R.NO_END_DATE
    assert a.pattern.occurrence_count == 10
    assert p[A.PidLidClipEnd] == datetime(4500, 8, 31, 23, 59, tzinfo=UTC)
    assert p[A.PidLidRecurrenceType] == A.rectypeMonthly
    # Olson TZID without VTIMEZONE -> Windows key name and its rule
    assert p[A.PidLidTimeZoneDescription] == "Eastern Standard Time"
    assert decode_timezone_struct(p[A.PidLidTimeZoneStruct]).bias == 300
    assert p[A.PidLidAppointmentStartWhole] == datetime(2024, 2, 13, 20, 0, tzinfo=UTC)
    org, bob, carol = rows(m.recipients)
    assert org[C.PidTagSmtpAddress] == "alice@example.com" and org[C.PidTagDisplayName] == "Alice Example"
    assert org[C.PidTagRecipientFlags] == A.recipSendable | A.recipOrganizer
    assert (bob[C.PidTagRecipientType], bob[C.PidTagRecipientTrackStatus]) == (C.MAPI_TO, A.respNotResponded)
    assert (carol[C.PidTagRecipientType], carol[C.PidTagRecipientTrackStatus]) == (C.MAPI_CC, A.respTentative)
    assert carol[C.PidTagDisplayName] == "Carol"
    assert p[C.PidTagSentRepresentingSmtpAddress] == "alice@example.com"
    assert p[C.PidTagSenderName] == "Alice Example"
    assert p[C.PidTagResponseRequested] is True
    assert p[A.PidLidAppointmentStateFlags] == A.asfMeeting | A.asfReceived
    assert p[A.PidLidResponseStatus] == A.respNotResponded
    assert p[N.PidLidReminderDelta] == 30
    assert p[A.PidLidToAttendeesString] == "bob@example.com" and p[A.PidLidCcAttendeesString] == "Carol"
    organizer_view = ical_to_appointment(load("google_monthly_nth.ics"), owner="alice@example.com").props
    assert organizer_view[A.PidLidAppointmentStateFlags] == A.asfMeeting
    assert organizer_view[A.PidLidResponseStatus] == A.respOrganized


def test_export_rrule_forms():
    out = icalendar.Calendar.from_ical(appointment_to_ical(ical_to_appointment(load("google_monthly_nth.ics"))))
    ev = out.walk("VEVENT")[0]
    rule = ev["RRULE"]
    assert rule["FREQ"] == ["MONTHLY"] and rule["BYDAY"] == ["TU"] and rule["BYSETPOS"] == [2]
    assert "COUNT" not in rule and "UNTIL" not in rule
    assert ev["DTSTART"].params["TZID"] == "Eastern Standard Time"
    assert [c["TZID"] for c in out.walk("VTIMEZONE")] == ["Eastern Standard Time"]
    assert ev["ORGANIZER"] == "mailto:alice@example.com"
    assert len(ev["ATTENDEE"]) == 2


def test_utc_single_event_has_no_zone():
    m = ical_to_appointment(load("google_utc_single.ics"))
    p = m.props
    assert A.PidLidAppointmentTimeZoneDefinitionStartDisplay not in p and A.PidLidTimeZoneStruct not in p
    assert p[A.PidLidRecurring] is False and A.PidLidAppointmentRecur not in p
    assert p[A.PidLidAppointmentDuration] == 45
    assert p[N.PidLidReminderSet] is False
    text = appointment_to_ical(m).decode()
    assert "DTSTART:20240315T170000Z" in text and "VTIMEZONE" not in text


def test_html_body_with_line_breaks_round_trips():
    # X-ALT-DESC is TEXT: an HTML body with a line break, ";" and "," is escaped on the way out (icalendar
    # refused the bare newline: CreateItem answered ErrorInternalServerError) and unescaped on the way in
    html = "<p>a; b, c</p>\n<p>second line</p>"
    m = ical_to_appointment(load("google_utc_single.ics"))
    m.props[C.PidTagHtml] = html.encode("utf-8")
    text = appointment_to_ical(m)
    assert b"X-ALT-DESC;FMTTYPE=text/html:<p>a\\; b\\, c</p>\\n<p>second line</p>" in text.replace(b"\r\n ", b"")
    assert ical_to_appointment(text).props[C.PidTagHtml] == html.encode("utf-8")


def test_outlook_all_day():
    p = ical_to_appointment(load("outlook_allday.ics")).props
    assert p[A.PidLidAppointmentSubType] is True
    assert p[A.PidLidAppointmentDuration] == 1440
    assert p[A.PidLidBusyStatus] == A.olOutOfOffice
    assert p[C.PidTagSensitivity] == A.SENSITIVITY_PRIVATE and p[N.PidLidPrivate] is True
    assert p[C.PidTagImportance] == A.IMPORTANCE_HIGH
    assert p[N.PidNameKeywords] == ["Holiday", "Personal"]
    assert p[A.PidLidAppointmentSequence] == 2
    assert p[N.PidLidReminderDelta] == 1080
    out = icalendar.Calendar.from_ical(appointment_to_ical(ical_to_appointment(load("outlook_allday.ics"))))
    ev = out.walk("VEVENT")[0]
    assert ev["DTSTART"].dt == date(2024, 7, 3) and ev["DTEND"].dt == date(2024, 7, 4)
    assert str(ev["X-MICROSOFT-CDO-ALLDAYEVENT"]) == "TRUE"


def test_all_day_with_default_zone():
    p = ical_to_appointment(load("outlook_allday.ics"), default_tz="America/Los_Angeles").props
    assert p[A.PidLidAppointmentStartWhole] == datetime(2024, 7, 3, 7, 0, tzinfo=UTC)
    assert decode_timezone_definition(p[A.PidLidAppointmentTimeZoneDefinitionStartDisplay]).key_name == \
        "Pacific Standard Time"


def test_apple_yearly_all_day():
    m = ical_to_appointment(load("apple_allday_yearly.ics"))
    a = R.decode_appointment_recur(m.props[A.PidLidAppointmentRecur])
    assert (a.pattern.recur_frequency, a.pattern.pattern_type, a.pattern.period) == (R.FREQ_YEARLY, R.PT_MONTH, 12)
    assert a.pattern.pattern_specific == (10,)
    assert a.pattern.first_date_time == (31 + 28) * 1440
    assert (a.start_time_offset, a.end_time_offset) == (0, 1440)
    assert m.props[N.PidLidReminderDelta] == 15 * 60
    assert m.props[A.PidLidBusyStatus] == A.olFree


def test_apple_yearly_nth_with_vtimezone():
    m = ical_to_appointment(load("apple_yearly_nth_dst.ics"))
    a = R.decode_appointment_recur(m.props[A.PidLidAppointmentRecur])
    assert a.pattern.pattern_type == R.PT_MONTH_NTH and a.pattern.pattern_specific == (R.DAY_BITS["TH"], 4)
    assert (a.pattern.end_type, a.pattern.occurrence_count) == (R.END_AFTER_N, 5)
    assert R.from_minutes(a.pattern.end_date) == datetime(2028, 11, 23)
    assert m.props[A.PidLidTimeZoneDescription] == "W. Europe Standard Time"
    reg = decode_timezone_struct(m.props[A.PidLidTimeZoneStruct])
    assert (reg.bias, reg.standard_date.day, reg.daylight_date.day) == (-60, 5, 5)   # last Sundays
    assert m.props[A.PidLidAppointmentStartWhole] == datetime(2024, 11, 28, 17, 0, tzinfo=UTC)


def test_radicale_vendor_tzid_monthly():
    m = ical_to_appointment(load("radicale_monthly_bymonthday.ics"))
    p = m.props
    a = R.decode_appointment_recur(p[A.PidLidAppointmentRecur])
    assert a.pattern.pattern_type == R.PT_MONTH and a.pattern.pattern_specific == (15,)
    assert R.from_minutes(a.pattern.end_date) == datetime(2024, 6, 15)
    assert p[A.PidLidTimeZoneDescription] == "GMT Standard Time"
    assert p[C.PidTagSensitivity] == A.SENSITIVITY_PRIVATE
    assert p[C.PidTagImportance] == A.IMPORTANCE_HIGH
    assert p[N.PidLidReminderDelta] == 60
    assert p[C.PidTagLastModificationTime] == datetime(2024, 1, 5, 10, 16, tzinfo=UTC)


def test_moved_and_cancelled_occurrences():
    m = ical_to_appointment(load("evolution_weekly_moved_cancelled.ics"))
    a = R.decode_appointment_recur(m.props[A.PidLidAppointmentRecur])
    p = a.pattern
    assert p.first_dow == 1   # no WKST: RFC 5545 default Monday
    assert p.end_type == R.END_AFTER_DATE and R.from_minutes(p.end_date) == datetime(2024, 4, 29)
    deleted = [R.from_minutes(d).date() for d in p.deleted_instance_dates]
    assert deleted == [date(2024, 3, 11), date(2024, 3, 20), date(2024, 4, 3)]   # moved, cancelled, EXDATE
    assert [R.from_minutes(d).date() for d in p.modified_instance_dates] == [date(2024, 3, 12)]
    (e,) = a.exceptions
    assert e.override_flags == R.ARO_SUBJECT | R.ARO_BUSYSTATUS | R.ARO_EXCEPTIONAL_BODY
    assert R.from_minutes(e.start_date_time) == datetime(2024, 3, 12, 16, 0)
    assert e.busy_status == A.olFree
    (att,) = m.attachments
    emb = att.embedded
    assert emb.props[A.PidLidFExceptionalBody] is True
    assert emb.props[A.PidLidFExceptionalAttendees] is True
    assert emb.props[C.PidTagBody] == "Moved because of the all-hands."
    assert att.props[C.PidTagExceptionReplaceTime] == datetime(2024, 3, 11, 13, 0, tzinfo=UTC)
    org, alice, projector = rows(m.recipients)   # ROLE=CHAIR organizer folded into the organizer row
    assert org[C.PidTagRecipientFlags] & A.recipOrganizer
    assert projector[C.PidTagRecipientType] == C.MAPI_BCC
    out = icalendar.Calendar.from_ical(appointment_to_ical(m))
    events = out.walk("VEVENT")
    assert len(events) == 2
    exdates = [d.dt for x in events[0]["EXDATE"] for d in x.dts]
    assert sorted(x.date() for x in exdates) == [date(2024, 3, 20), date(2024, 4, 3)]
    assert events[1]["RECURRENCE-ID"].dt.replace(tzinfo=None) == datetime(2024, 3, 11, 14, 0)
    assert str(events[1]["SUMMARY"]) == "Weekly sync (moved to Tuesday)"


def test_exception_from_blob_only():
    """An appointment whose exception has no attachment still exports its override."""
    m = ical_to_appointment(load("outlook_weekly_exceptions.ics"))
    m.attachments = []
    ev = icalendar.Calendar.from_ical(appointment_to_ical(m)).walk("VEVENT")
    assert len(ev) == 2
    assert str(ev[1]["SUMMARY"]) == "Simple Recurrence with exceptions" and str(ev[1]["LOCATION"]) == "34/4141"
    assert ev[1]["DTSTART"].dt.replace(tzinfo=None) == datetime(2007, 4, 16, 11, 0)
    again = ical_to_appointment(appointment_to_ical(m))
    assert again.props[A.PidLidAppointmentRecur] == OXOCAL_4_1_1_2


def test_windows_tzid_without_vtimezone_and_floating():
    src = b"""BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r
DTSTART;TZID=W. Europe Standard Time:20240701T090000\r\nDTEND:20240701T100000\r\nSUMMARY:x\r
RRULE:FREQ=DAILY;COUNT=3;BYDAY=MO,TU,WE,TH,FR\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"""
    m = ical_to_appointment(src, default_tz="Europe/Berlin")
    assert m.props[A.PidLidAppointmentStartWhole] == datetime(2024, 7, 1, 7, 0, tzinfo=UTC)
    assert m.props[A.PidLidAppointmentEndWhole] == datetime(2024, 7, 1, 8, 0, tzinfo=UTC)   # floating -> default
    a = R.decode_appointment_recur(m.props[A.PidLidAppointmentRecur])
    # "every weekday" is a weekly pattern in Outlook (MS-OXCICAL 2.1.3.2.2.1)
    assert (a.pattern.pattern_type, a.pattern.pattern_specific) == (R.PT_WEEK, (0x3E,))
    assert R.from_minutes(a.pattern.end_date) == datetime(2024, 7, 3)


def test_unsupported_rrule_and_missing_parts():
    bad = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T000000Z\r\nRRULE:FREQ=HOURLY\r\n" \
          b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    with pytest.raises(ICalError):
        ical_to_appointment(bad)
    with pytest.raises(ICalError):
        ical_to_appointment(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


# --- tasks ---

def test_task_mapping():
    p = ical_to_task(load("todo_basic.ics")).props
    assert p[C.PidTagMessageClass] == "IPM.Task"
    assert p[T.PidLidTaskStatus] == T.tsvInProgress and p[T.PidLidTaskComplete] is False
    assert p[T.PidLidPercentComplete] == 0.4
    assert p[T.PidLidTaskStartDate] == datetime(2024, 1, 15, tzinfo=UTC)
    assert p[T.PidLidTaskDueDate] == datetime(2024, 1, 31, tzinfo=UTC)
    assert p[C.PidTagImportance] == A.IMPORTANCE_HIGH
    assert p[C.PidTagSensitivity] == A.SENSITIVITY_CONFIDENTIAL
    assert p[N.PidLidReminderSet] is True
    assert p[N.PidLidReminderTime] == datetime(2024, 1, 30, 8, 0, tzinfo=UTC)
    assert p[A.PidNameCalendarUid] == "20240110T120000Z-1111-todo@evolution.example.org"


def test_task_completed():
    p = ical_to_task(load("todo_completed.ics")).props
    assert p[T.PidLidTaskComplete] is True and p[T.PidLidTaskStatus] == T.tsvComplete
    assert p[T.PidLidTaskDateCompleted] == datetime(2024, 2, 20, tzinfo=UTC)
    assert p[C.PidTagFlagCompleteTime] == datetime(2024, 2, 20, 9, 30, tzinfo=UTC)
    assert p[T.PidLidTaskDueDate] == datetime(2024, 2, 19, tzinfo=UTC)
    assert p[N.PidLidCommonEnd] == datetime(2024, 2, 19, 17, 0, tzinfo=UTC)
    assert p[C.PidTagImportance] == A.IMPORTANCE_LOW


def test_task_recurrence():
    p = ical_to_task(load("todo_recurring.ics")).props
    assert p[T.PidLidTaskFRecurring] is True
    pat = R.decode_recurrence_pattern(p[T.PidLidTaskRecurrence])
    assert (pat.pattern_type, pat.pattern_specific, pat.occurrence_count) == (R.PT_WEEK, (0x02,), 10)
    assert "RRULE:FREQ=WEEKLY;COUNT=10" in task_to_ical(ical_to_task(load("todo_recurring.ics"))).decode()


# --- iTIP ---

def test_itip_request():
    m = itip_to_meeting_message(load("itip_request.ics"))
    p = m.props
    assert p[C.PidTagMessageClass] == "IPM.Schedule.Meeting.Request"
    assert p[A.PidLidAppointmentMessageClass] == "IPM.Appointment"
    assert p[A.PidLidMeetingType] == A.mtgRequest
    assert p[A.PidLidAppointmentStateFlags] == A.asfMeeting | A.asfReceived
    assert p[A.PidLidBusyStatus] == A.olTentative and p[A.PidLidIntendedBusyStatus] == A.olBusy
    assert p[C.PidTagSenderSmtpAddress] == "alice@example.com"
    assert p[C.PidTagSentRepresentingName] == "Alice Example"
    assert [r[C.PidTagSmtpAddress] for r in rows(m.recipients)] == ["bob@example.com", "carol@example.com"]
    assert p[C.PidTagResponseRequested] is True
    assert "METHOD:REQUEST" in meeting_message_to_itip(m).decode()


def test_itip_request_without_intended_status():
    src = load("itip_request.ics").replace(b"X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY\r\n", b"") \
        .replace(b"X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n", b"")
    p = itip_to_meeting_message(src).props
    # MS-OXCICAL: a REQUEST keeps the organizer's status as intended, the copy is tentative
    assert p[A.PidLidIntendedBusyStatus] == A.olBusy and p[A.PidLidBusyStatus] == A.olTentative


@pytest.mark.parametrize("partstat, cls", [("ACCEPTED", "IPM.Schedule.Meeting.Resp.Pos"),
                                           ("DECLINED", "IPM.Schedule.Meeting.Resp.Neg"),
                                           ("TENTATIVE", "IPM.Schedule.Meeting.Resp.Tent")])
def test_itip_reply(partstat, cls):
    src = load("itip_reply.ics").replace(b"PARTSTAT=ACCEPTED", f"PARTSTAT={partstat}".encode())
    m = itip_to_meeting_message(src)
    assert m.props[C.PidTagMessageClass] == cls
    assert m.props[C.PidTagSenderSmtpAddress] == "bob@example.com"
    assert m.props[A.PidLidAttendeeCriticalChange] == datetime(2024, 5, 2, 9, 15, tzinfo=UTC)
    (org,) = rows(m.recipients)
    assert org[C.PidTagSmtpAddress] == "alice@example.com" and org[C.PidTagRecipientFlags] & A.recipOrganizer
    back = icalendar.Calendar.from_ical(meeting_message_to_itip(m))
    assert str(back["METHOD"]) == "REPLY"
    att = back.walk("VEVENT")[0]["ATTENDEE"]
    assert att.params["PARTSTAT"] == partstat and str(att) == "mailto:bob@example.com"
    # the reply is about the same meeting as the request
    req = itip_to_meeting_message(load("itip_request.ics"))
    assert m.props[A.PidLidCleanGlobalObjectId] == req.props[A.PidLidCleanGlobalObjectId]


def test_itip_cancel():
    m = itip_to_meeting_message(load("itip_cancel.ics"))
    p = m.props
    assert p[C.PidTagMessageClass] == "IPM.Schedule.Meeting.Canceled"
    assert p[A.PidLidAppointmentStateFlags] == A.asfMeeting | A.asfReceived | A.asfCanceled
    assert p[A.PidLidBusyStatus] == A.olFree
    assert p[A.PidLidAppointmentSequence] == 1
    text = meeting_message_to_itip(m).decode()
    assert "METHOD:CANCEL" in text and "STATUS:CANCELLED" in text


def test_itip_single_occurrence():
    src = load("itip_request.ics").replace(
        b"SEQUENCE:0\r\n", b"SEQUENCE:1\r\nRECURRENCE-ID;TZID=\"Pacific Standard Time\":20240510T100000\r\n")
    m = itip_to_meeting_message(src)
    assert m.props[A.PidLidIsException] is True
    assert m.props[A.PidLidMeetingType] == A.mtgFull
    assert m.props[A.PidLidExceptionReplaceTime] == datetime(2024, 5, 10, 17, 0, tzinfo=UTC)
    assert GlobalObjectId.decode(m.props[A.PidLidGlobalObjectId]).day == 10
    back = icalendar.Calendar.from_ical(meeting_message_to_itip(m)).walk("VEVENT")[0]
    assert back["RECURRENCE-ID"].dt.replace(tzinfo=None) == datetime(2024, 5, 10, 10, 0)


def test_not_a_meeting_message():
    with pytest.raises(ICalError):
        meeting_message_to_itip(MessageContent(props={C.PidTagMessageClass: "IPM.Note"}))
    with pytest.raises(ICalError):
        itip_to_meeting_message(load("itip_request.ics").replace(b"METHOD:REQUEST", b"METHOD:COUNTER"))
