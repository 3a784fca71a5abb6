"""Recurrence expansion in the store (gateway/store/recurrence.py), shared by EWS CalendarView and
free/busy: a series a CalDAV server hands over unexpanded gives the same occurrences either way."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.store import recurrence
from gateway.store.convert.ical_event import ical_to_appointment
from gateway.store.freebusy import periods_from_ical, periods_from_series

UTC = timezone.utc

# weekly on Monday 09:00-10:00 Europe/Berlin from 2 March 2026, 8 times, across the DST change of
# 29 March; the 16 March instance deleted, the 23 March one moved to 14:00 and marked tentative
SERIES = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//exgate//test//EN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:weekly-1@example.test\r
DTSTAMP:20260201T000000Z\r
DTSTART;TZID=Europe/Berlin:20260302T090000\r
DTEND;TZID=Europe/Berlin:20260302T100000\r
RRULE:FREQ=WEEKLY;COUNT=8;BYDAY=MO\r
EXDATE;TZID=Europe/Berlin:20260316T090000\r
SUMMARY:Team sync\r
LOCATION:Room 1\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly-1@example.test\r
DTSTAMP:20260201T000000Z\r
RECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r
DTSTART;TZID=Europe/Berlin:20260323T140000\r
DTEND;TZID=Europe/Berlin:20260323T150000\r
SUMMARY:Team sync (moved)\r
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r
END:VEVENT\r
END:VCALENDAR\r
"""

START, END = datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 4, 14, tzinfo=UTC)
EXPECTED = [  # UTC: 08:00 in CET, 07:00 in CEST; the moved one 13:00 UTC
    (datetime(2026, 3, 9, 8, tzinfo=UTC), "Busy", "Team sync"),
    (datetime(2026, 3, 23, 13, tzinfo=UTC), "Tentative", "Team sync (moved)"),
    (datetime(2026, 3, 30, 7, tzinfo=UTC), "Busy", "Team sync"),
    (datetime(2026, 4, 6, 7, tzinfo=UTC), "Busy", "Team sync"),
    (datetime(2026, 4, 13, 7, tzinfo=UTC), "Busy", "Team sync"),
]


def test_free_busy_expands_an_unexpanded_series():
    got = periods_from_series(SERIES, START, END)
    assert [(p.start, p.busy_type, p.subject) for p in got] == EXPECTED
    assert all(p.end - p.start == timedelta(hours=1) and p.is_recurring for p in got)
    assert got[0].location == "Room 1"
    # read as it is, the master alone would give one (wrong) period at most
    assert len(periods_from_ical(SERIES, START, END)) < len(EXPECTED)


def test_calendar_view_and_free_busy_list_the_same_occurrences():
    appt = ical_to_appointment(SERIES)
    series = recurrence.Series(appt.props)
    occs = series.window(START, END)
    assert [o.start for o in occs] == [p.start for p in periods_from_series(SERIES, START, END)]
    assert [o.index for o in occs] == [2, 4, 5, 6, 7]      # InstanceIndex: the deleted 3rd is skipped
    moved = occs[1]
    assert moved.exception is not None and moved.original_start == datetime(2026, 3, 23, 8, tzinfo=UTC)
    props, _ = recurrence.occurrence_props(appt.props, moved, series, appt.attachments)
    assert props[recurrence.A.PidLidAppointmentStartWhole] == moved.start


def test_one_expansion():
    from gateway.ews import calendar
    assert calendar.Series is recurrence.Series and calendar.occurrence_props is recurrence.occurrence_props


def test_a_single_event_is_read_as_it_is():
    single = SERIES.replace(b"RRULE:FREQ=WEEKLY;COUNT=8;BYDAY=MO\r\n", b"").replace(
        b"EXDATE;TZID=Europe/Berlin:20260316T090000\r\n", b"")
    one = single[:single.index(b"BEGIN:VEVENT", single.index(b"END:VEVENT"))] + b"END:VCALENDAR\r\n"
    got = periods_from_series(one, datetime(2026, 3, 1, tzinfo=UTC), END)
    assert [(p.start, p.is_recurring) for p in got] == [(datetime(2026, 3, 2, 8, tzinfo=UTC), False)]
