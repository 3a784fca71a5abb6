"""One instance of a recurring event as its own VCALENDAR (GetItem MimeContent on an occurrence)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import icalendar

from gateway.store.convert.ical_instance import instance_ical

SERIES = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VTIMEZONE\r
TZID:W. Europe Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T030000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T020000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:weekly@example.test\r
SUMMARY:Weekly\r
LOCATION:Room Ada\r
DTSTART;TZID=W. Europe Standard Time:20261117T100000\r
DTEND;TZID=W. Europe Standard Time:20261117T103000\r
DTSTAMP:20261104T000000Z\r
RRULE:FREQ=WEEKLY;COUNT=12;BYDAY=TU\r
EXDATE;TZID=W. Europe Standard Time:20261215T100000\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:Reminder\r
TRIGGER:-PT15M\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly@example.test\r
RECURRENCE-ID;TZID=W. Europe Standard Time:20261208T100000\r
SUMMARY:Weekly (moved)\r
LOCATION:Room Turing\r
DTSTART;TZID=W. Europe Standard Time:20261209T140000\r
DTEND;TZID=W. Europe Standard Time:20261209T143000\r
DTSTAMP:20261104T000000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""

UTC = timezone.utc


def _events(data: bytes):
    cal = icalendar.Calendar.from_ical(data)
    assert [c.name for c in cal.subcomponents if c.name == "VTIMEZONE"] == ["VTIMEZONE"]
    return [c for c in cal.subcomponents if c.name == "VEVENT"]


def test_exception_is_the_override_alone():
    out = instance_ical(SERIES, datetime(2026, 12, 8, 9, 0, tzinfo=UTC), datetime(2026, 12, 9, 13, 0, tzinfo=UTC),
                        datetime(2026, 12, 9, 13, 30, tzinfo=UTC))
    (ev,) = _events(out)
    assert str(ev["SUMMARY"]) == "Weekly (moved)" and str(ev["LOCATION"]) == "Room Turing"
    assert ev["RECURRENCE-ID"].params["TZID"] == "W. Europe Standard Time"
    assert ev.decoded("DTSTART").astimezone(UTC) == datetime(2026, 12, 9, 13, 0, tzinfo=UTC)
    assert b"RRULE" not in out.split(b"BEGIN:VEVENT")[1]


def test_plain_occurrence_is_the_series_moved_with_a_recurrence_id():
    out = instance_ical(SERIES, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
                        datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    (ev,) = _events(out)
    assert str(ev["SUMMARY"]) == "Weekly" and str(ev["UID"]) == "weekly@example.test"
    for key in ("RRULE", "EXDATE", "RDATE"):
        assert key not in ev
    assert b"DTSTART;TZID=W. Europe Standard Time:20261201T100000" in out
    assert b"DTEND;TZID=W. Europe Standard Time:20261201T103000" in out
    assert b"RECURRENCE-ID;TZID=W. Europe Standard Time:20261201T100000" in out
    assert [c.name for c in ev.subcomponents] == ["VALARM"]


def test_all_day_series():
    series = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:d@x\r\nSUMMARY:Daily\r\n"
              b"DTSTART;VALUE=DATE:20261201\r\nDTEND;VALUE=DATE:20261202\r\nRRULE:FREQ=DAILY;COUNT=3\r\n"
              b"DTSTAMP:20261104T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    out = icalendar.Calendar.from_ical(instance_ical(series, datetime(2026, 12, 2, tzinfo=UTC),
                                                     datetime(2026, 12, 2, tzinfo=UTC),
                                                     datetime(2026, 12, 3, tzinfo=UTC)))
    (ev,) = [c for c in out.subcomponents if c.name == "VEVENT"]
    assert ev.decoded("DTSTART") == date(2026, 12, 2) and ev.decoded("RECURRENCE-ID") == date(2026, 12, 2)
    assert "RRULE" not in ev
