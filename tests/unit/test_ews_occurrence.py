"""One occurrence changed on its own: the blob and attachment edits of gateway/ews/occurrences.py
(MS-OXOCAL 2.2.1.44.1-.3, 2.2.10.1) and the recur.py exception-list helpers.

The series is made the way CalDAV items arrive (iCalendar through the store's import), so the tests also
check that an edited master survives the iCalendar round trip with the same blob bytes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import icalendar
import pytest

from gateway.ews import occurrences as O
from gateway.store.recurrence import Series, occurrence_props
from gateway.store.convert import ical
from protocols.mapi import recur as R
from protocols.mapi.goid import instance_date
from gateway.store.model import MessageContent
from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as P
from protocols.mapi.props import named as N

UTC = timezone.utc

WEEKLY = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:weekly-occ-test@example.test
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260105T100000
DTEND;TZID=Europe/Berlin:20260105T110000
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6
SUMMARY:Weekly sync
LOCATION:Room 1
DESCRIPTION:agenda
ORGANIZER;CN=Alice:mailto:alice@example.test
ATTENDEE;CN=Bob;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.test
END:VEVENT
END:VCALENDAR
"""


def master() -> MessageContent:
    return ical.ical_to_appointment(WEEKLY, owner="alice@example.test")


def third(m: MessageContent):
    series = Series(m.props)
    occ, exists = series.by_index(3)
    assert exists and occ is not None
    return series, occ


def edited(m: MessageContent, changes: dict, occ_index: int = 3) -> tuple[MessageContent, dict, Series]:
    series = Series(m.props)
    occ, _ = series.by_index(occ_index)
    current, recips = occurrence_props(m.props, occ, series, m.attachments)
    inst = O.instance_props(current, O.InstanceEdit(changes), original_start=occ.original_start,
                            original_local=series.local(occ.original_start), uid="weekly-occ-test@example.test")
    new = O.with_exception(m, series.arp, series.tz, inst, recips or m.recipients)
    return new, inst, series


def test_subject_and_start_become_an_exception():
    m = master()
    series, occ = third(m)
    assert series.local(occ.original_start) == datetime(2026, 1, 19, 10, 0)
    new_start = occ.start + timedelta(hours=2)
    new, inst, _ = edited(m, {P.PidTagSubject: "Weekly sync (moved)",
                                A.PidLidAppointmentStartWhole: new_start,
                                A.PidLidAppointmentEndWhole: new_start + timedelta(hours=1)})
    arp = R.decode_appointment_recur(new.props[A.PidLidAppointmentRecur])
    assert len(arp.exceptions) == len(arp.extended) == 1
    e, x = arp.exceptions[0], arp.extended[0]
    assert R.from_minutes(e.original_start_date) == datetime(2026, 1, 19, 10, 0)
    assert R.from_minutes(e.start_date_time) == datetime(2026, 1, 19, 12, 0)
    assert R.from_minutes(e.end_date_time) == datetime(2026, 1, 19, 13, 0)
    # 2.2.1.44.2: only the subject differs from the series
    assert e.override_flags == R.ARO_SUBJECT
    assert e.subject == b"Weekly sync (moved)" and x.subject == "Weekly sync (moved)"
    # 2.2.1.44.1: the original date among the deleted, the new one among the modified
    day = R.to_minutes(datetime(2026, 1, 19))
    assert arp.pattern.deleted_instance_dates == [day]
    assert arp.pattern.modified_instance_dates == [day]
    # 2.2.10.1.1: the hidden exception attachment
    atts = [a for a in new.attachments if a.embedded is not None]
    assert len(atts) == 1
    ap = atts[0].props
    assert ap[P.PidTagAttachMethod] == P.ATTACH_EMBEDDED_MSG and ap[P.PidTagAttachmentHidden] is True
    assert ap[P.PidTagAttachmentFlags] == A.afException
    assert ap[P.PidTagExceptionReplaceTime] == occ.original_start
    assert ap[P.PidTagExceptionStartTime] == datetime(2026, 1, 19, 12, 0, tzinfo=UTC)   # local wall time
    assert ap[P.PidTagExceptionEndTime] == datetime(2026, 1, 19, 13, 0, tzinfo=UTC)
    # 2.2.10.1.2: the embedded message
    ep = atts[0].embedded.props
    assert ep[P.PidTagMessageClass] == A.CLASS_EXCEPTION
    assert ep[A.PidLidIsException] is True and ep[A.PidLidExceptionReplaceTime] == occ.original_start
    assert ep[P.PidTagSubject] == "Weekly sync (moved)"
    assert ep[A.PidLidAppointmentStartWhole] == new_start
    assert ep[A.PidLidFExceptionalBody] is False and ep[A.PidLidFExceptionalAttendees] is False
    assert A.PidLidAppointmentRecur not in ep
    assert instance_date(ep[A.PidLidGlobalObjectId]).isoformat() == "2026-01-19"
    assert [r.props[P.PidTagSmtpAddress] for r in atts[0].embedded.recipients] == \
        [r.props[P.PidTagSmtpAddress] for r in m.recipients]
    # the series itself is untouched
    assert new.props[P.PidTagSubject] == "Weekly sync"
    # the occurrence list shows the exception at its new time with its subject
    s2 = Series(new.props)
    occs = [o for _, _, o in s2.all()]
    assert len(occs) == 6 and all(o is not None for o in occs)
    assert occs[2].exception is not None and occs[2].start == new_start
    props, _ = occurrence_props(new.props, occs[2], s2, new.attachments)
    assert props[P.PidTagSubject] == "Weekly sync (moved)"
    assert [o.exception for i, o in enumerate(occs) if i != 2] == [None] * 5


def test_edited_master_survives_the_icalendar_round_trip():
    m = master()
    series, occ = third(m)
    new, _, _ = edited(m, {P.PidTagSubject: "moved", A.PidLidLocation: "Room 9",
                             A.PidLidBusyStatus: A.olTentative,
                             A.PidLidAppointmentStartWhole: occ.start + timedelta(days=1),
                             A.PidLidAppointmentEndWhole: occ.end + timedelta(days=1)})
    data = ical.appointment_to_ical(new)
    cal = icalendar.Calendar.from_ical(data)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 2
    override = [e for e in events if e.get("RECURRENCE-ID") is not None][0]
    assert str(override["SUMMARY"]) == "moved" and str(override["LOCATION"]) == "Room 9"
    assert override["RECURRENCE-ID"].dt.replace(tzinfo=None) == datetime(2026, 1, 19, 10, 0)
    assert override["DTSTART"].dt.replace(tzinfo=None) == datetime(2026, 1, 20, 10, 0)
    back = ical.ical_to_appointment(data, owner="alice@example.test")
    # the import derives the same blob, so no overlay is needed to keep it
    assert back.props[A.PidLidAppointmentRecur] == new.props[A.PidLidAppointmentRecur]
    e = R.decode_appointment_recur(back.props[A.PidLidAppointmentRecur]).exceptions[0]
    assert e.override_flags == R.ARO_SUBJECT | R.ARO_LOCATION | R.ARO_BUSYSTATUS


def test_editing_an_exception_again_replaces_it():
    m = master()
    series, occ = third(m)
    once, _, _ = edited(m, {P.PidTagSubject: "first edit"})
    twice, inst, _ = edited(once, {A.PidLidLocation: "Room 7"})
    arp = R.decode_appointment_recur(twice.props[A.PidLidAppointmentRecur])
    assert len(arp.exceptions) == 1
    # the earlier subject change stays: it came from the exception attachment
    assert inst[P.PidTagSubject] == "first edit" and inst[A.PidLidLocation] == "Room 7"
    assert arp.exceptions[0].override_flags == R.ARO_SUBJECT | R.ARO_LOCATION
    assert len([a for a in twice.attachments if a.embedded is not None]) == 1


def test_reminder_and_all_day_overrides():
    m = master()
    new, inst, _ = edited(m, {N.PidLidReminderDelta: 30})
    assert inst[N.PidLidReminderSet] is True
    assert inst[N.PidLidReminderSignalTime] == inst[A.PidLidAppointmentStartWhole] - timedelta(minutes=30)
    e = R.decode_appointment_recur(new.props[A.PidLidAppointmentRecur]).exceptions[0]
    assert e.override_flags == R.ARO_REMINDER | R.ARO_REMINDERDELTA
    assert e.reminder_set == 1 and e.reminder_delta == 30


def test_end_before_start_is_refused():
    m = master()
    series, occ = third(m)
    with pytest.raises(O.OccurrenceError) as err:
        edited(m, {A.PidLidAppointmentEndWhole: occ.start - timedelta(hours=1)})
    assert err.value.code == "ErrorCalendarEndDateIsEarlierThanStartDate"


def test_crossing_a_neighbour_is_refused():
    prev, nxt = datetime(2026, 1, 12, 10), datetime(2026, 1, 26, 10)
    O.check_move(datetime(2026, 1, 20, 8), prev, nxt)
    O.check_move(datetime(2026, 1, 25, 23), prev, nxt)
    for bad in (datetime(2026, 1, 12, 18), datetime(2026, 1, 11, 10), datetime(2026, 1, 26, 8),
                datetime(2026, 2, 2, 10)):
        with pytest.raises(O.OccurrenceError) as err:
            O.check_move(bad, prev, nxt)
        assert err.value.code == "ErrorOccurrenceCrossingBoundary"
    O.check_move(datetime(2020, 1, 1), None, nxt)     # the first occurrence has no previous one


def test_deleting_instances():
    m = master()
    series, occ = third(m)
    new, _, _ = edited(m, {P.PidTagSubject: "moved"})
    s2 = Series(new.props)
    fifth, _ = s2.by_index(5)
    gone = O.without_instance(new, s2.arp, s2.tz, fifth.original_start)
    arp = R.decode_appointment_recur(gone.props[A.PidLidAppointmentRecur])
    assert [R.from_minutes(d) for d in arp.pattern.deleted_instance_dates] == [datetime(2026, 1, 19),
                                                                             datetime(2026, 2, 2)]
    assert len(arp.exceptions) == 1
    s3 = Series(gone.props)
    assert s3.by_index(5) == (None, True) and s3.by_index(3)[0].exception is not None
    # deleting the exception's instance drops the exception and its attachment too
    gone2 = O.without_instance(gone, s3.arp, s3.tz, occ.original_start)
    arp = R.decode_appointment_recur(gone2.props[A.PidLidAppointmentRecur])
    assert arp.exceptions == [] and arp.extended == [] and arp.pattern.modified_instance_dates == []
    assert len(arp.pattern.deleted_instance_dates) == 2
    assert not [a for a in gone2.attachments if a.embedded is not None]
    # and the round trip shows two EXDATEs and no override
    data = ical.appointment_to_ical(gone2)
    assert b"RECURRENCE-ID" not in data and data.count(b"EXDATE") == 2


def test_exception_lists_stay_ordered_by_new_start():
    arp = R.decode_appointment_recur(master().props[A.PidLidAppointmentRecur])
    base = R.to_minutes(datetime(2026, 1, 5, 10))
    week = 7 * R.MINUTES_PER_DAY
    late = R.ExceptionInfo(base + 4 * week + 60, base + 4 * week + 120, base + 4 * week, R.ARO_SUBJECT, b"late")
    early = R.ExceptionInfo(base + week - 60, base + week, base + week, R.ARO_LOCATION, location=b"x")
    R.put_exception(arp, late, R.ExtendedException(subject="late"))
    R.put_exception(arp, early, R.ExtendedException(location="x"))
    assert [e.subject or e.location for e in arp.exceptions] == [b"x", b"late"]
    assert [x.subject or x.location for x in arp.extended] == ["x", "late"]
    assert arp.pattern.deleted_instance_dates == sorted(R.midnight(e.original_start_date) for e in [early, late])
    assert R.find_exception(arp, base + 4 * week)[0] is late
    blob = R.encode_appointment_recur(arp)
    assert R.encode_appointment_recur(R.decode_appointment_recur(blob)) == blob
    R.delete_instance(arp, base + week)
    assert arp.exceptions == [late] and len(arp.extended) == 1 and arp.extended[0].subject == "late"
    assert arp.pattern.modified_instance_dates == [R.midnight(late.start_date_time)]


def test_instance_message_is_an_itip_request_for_that_instance():
    m = master()
    series, occ = third(m)
    _, inst, _ = edited(m, {P.PidTagSubject: "moved"})
    msg = O.instance_message(inst, m.recipients)
    msg.props[P.PidTagMessageClass] = A.CLASS_MEETING_REQUEST
    data = ical.meeting_message_to_itip(msg)
    cal = icalendar.Calendar.from_ical(data)
    (ev,) = list(cal.walk("VEVENT"))
    assert str(cal["METHOD"]) == "REQUEST"
    assert ev.get("RRULE") is None and str(ev["UID"]) == "weekly-occ-test@example.test"
    assert ev["RECURRENCE-ID"].dt.astimezone(UTC) == occ.original_start
    assert str(ev["SUMMARY"]) == "moved"
    assert "mailto:bob@example.test" in [str(a) for a in ical_list(ev.get("ATTENDEE"))]


def ical_list(v):
    return v if isinstance(v, list) else [v]


def test_text_body_replaces_the_series_html():
    m = master()
    m.props[P.PidTagHtml] = b"<p>series agenda</p>"
    new, inst, _ = edited(m, {P.PidTagBody: "only this week: demo"})
    assert P.PidTagHtml not in inst and inst[P.PidTagBody] == "only this week: demo"
    e = R.decode_appointment_recur(new.props[A.PidLidAppointmentRecur]).exceptions[0]
    assert e.override_flags == R.ARO_EXCEPTIONAL_BODY
    emb = [a.embedded for a in new.attachments if a.embedded is not None][0]
    assert emb.props[A.PidLidFExceptionalBody] is True
