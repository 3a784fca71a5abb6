"""Meeting suggestions: the pure computation (gateway/ews/suggestions.py) and the codec
(protocols/ews/suggestions.py), checked against the Microsoft "get free/busy" example request/response."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from gateway.ews import suggestions as sg
from protocols.ews import suggestions as sgx
from protocols.ews.ns import T, child, local, t

DOCS = Path(__file__).resolve().parents[2] / "fixtures" / "ews-docs" / "xml"
EXAMPLE = "exchange-web-services__how-to-get-free-busy-information-by-using-ews-in-exchange__0{}.xml"

# 2030-07-01 is a Monday, 2030-07-06 a Saturday
MON = datetime(2030, 7, 1)
SAT = datetime(2030, 7, 6)


def _find(root, name):
    return next(el for el in root.iter() if isinstance(el.tag, str) and local(el) == name)


def opts(day: datetime = MON, days: int = 1, **kw) -> sgx.SuggestionsViewOptions:
    return sgx.SuggestionsViewOptions(window_start=day, window_end=day + timedelta(days=days), **kw)


def busy(day: datetime, h0: float, h1: float, kind: str = "Busy") -> sg.Interval:
    return sg.Interval(day + timedelta(hours=h0), day + timedelta(hours=h1), kind)


def person(*intervals, **kw) -> sg.AttendeeAvailability:
    return sg.AttendeeAvailability(busy=tuple(intervals), **kw)


def at(day: datetime, hour: float) -> datetime:
    return day + timedelta(hours=hour)


# ------------------------------------------------------------------ quality (MS-OXWAVLS 3.1.4.1.4.3)

@pytest.mark.parametrize("percent,threshold,expected", [
    (0, 25, "Excellent"), (1, 25, "Good"), (25, 25, "Good"), (25.1, 25, "Fair"), (49.9, 25, "Fair"),
    (50, 25, "Poor"), (100, 25, "Poor"), (33.4, 40, "Good"), (33.4, 30, "Fair"), (49, 49, "Good"),
])
def test_quality_thresholds(percent, threshold, expected):
    assert sg.quality_for(percent, threshold) == expected


def test_two_attendees_one_busy_is_poor_and_free_slot_excellent():
    res = sg.suggest([person(), person(busy(MON, 10, 11))], opts(minimum_quality="Poor", max_results_by_day=48))
    (day,) = res
    by_time = {s.meeting_time: s for s in day.suggestions}
    # 60-minute meetings: 09:30, 10:00 and 10:30 overlap bob's 10-11
    for h in (9.5, 10, 10.5):
        assert by_time[at(MON, h)].quality == "Poor"
        assert by_time[at(MON, h)].conflicts == (sgx.IndividualConflict("Free"), sgx.IndividualConflict("Busy"))
    assert by_time[at(MON, 9)].quality == "Excellent"
    assert by_time[at(MON, 11)].quality == "Excellent"
    assert day.day_quality == "Excellent"
    # listed by time, every 30 minutes of working time (08:00 .. 16:00 start for 17:00 end)
    times = [s.meeting_time for s in day.suggestions]
    assert times == sorted(times)
    assert times == [at(MON, 8 + i / 2) for i in range(17)]
    assert all(s.is_work_time for s in day.suggestions)


def test_threshold_decides_good_or_fair_with_three_attendees():
    people = [person(), person(), person(busy(MON, 8, 17))]        # one in three busy all day: 33 %
    fair = sg.suggest(people, opts(good_threshold=25, minimum_quality="Fair"))[0]
    assert {s.quality for s in fair.suggestions} == {"Fair"} and fair.day_quality == "Fair"
    good = sg.suggest(people, opts(good_threshold=40, minimum_quality="Fair"))[0]
    assert {s.quality for s in good.suggestions} == {"Good"} and good.day_quality == "Good"
    # MinimumSuggestionQuality Good drops the Fair slots, the day still says how good it could be
    none = sg.suggest(people, opts(good_threshold=25, minimum_quality="Good"))[0]
    assert none.suggestions == () and none.day_quality == "Fair"


def test_tentative_and_oof_conflict_free_and_working_elsewhere_do_not():
    for kind, hit in (("Tentative", True), ("OOF", True), ("Free", False), ("WorkingElsewhere", False)):
        day = sg.suggest([person(), person(busy(MON, 8, 17, kind))], opts(minimum_quality="Poor"))[0]
        assert {s.quality for s in day.suggestions} == ({"Poor"} if hit else {"Excellent"}), kind
        assert day.suggestions[0].conflicts[1] == sgx.IndividualConflict(kind)


def test_best_slots_win_then_listed_by_time():
    # busy 08-12 for one of two: the morning is Poor; three results come from the afternoon
    day = sg.suggest([person(), person(busy(MON, 8, 12))], opts(max_results_by_day=3, minimum_quality="Poor"))[0]
    assert [s.meeting_time for s in day.suggestions] == [at(MON, 12), at(MON, 12.5), at(MON, 13)]
    assert {s.quality for s in day.suggestions} == {"Excellent"}


def test_non_work_hour_results_are_limited_separately():
    day = sg.suggest([person()], opts(max_results_by_day=48, max_non_work_results_by_day=2))[0]
    work = [s for s in day.suggestions if s.is_work_time]
    other = [s for s in day.suggestions if not s.is_work_time]
    assert len(work) == 17 and len(other) == 2
    # the earliest non-work slots, and the list is in time order
    assert [s.meeting_time for s in other] == [at(MON, 0), at(MON, 0.5)]
    assert day.suggestions[0].meeting_time == at(MON, 0)
    # a 60-minute meeting at 16:30 ends after 17:00: not work time
    assert at(MON, 16.5) not in [s.meeting_time for s in work]
    # MaximumResultsByDay caps the total; work time goes first
    capped = sg.suggest([person()], opts(max_results_by_day=3, max_non_work_results_by_day=2))[0]
    assert [s.meeting_time for s in capped.suggestions] == [at(MON, 8), at(MON, 8.5), at(MON, 9)]


def test_weekend_has_no_work_time():
    day = sg.suggest([person()], opts(SAT))[0]
    assert day.suggestions == () and day.day_quality == "Excellent"
    day = sg.suggest([person()], opts(SAT, max_non_work_results_by_day=1))[0]
    assert [(s.meeting_time, s.is_work_time) for s in day.suggestions] == [(SAT, False)]


def test_work_time_is_inside_every_attendees_hours():
    late = (sg.WorkingPeriod(frozenset(range(5)), 600, 1080),)     # 10:00-18:00
    day = sg.suggest([person(), person(working_hours=late)], opts(max_results_by_day=48))[0]
    assert [s.meeting_time for s in day.suggestions] == [at(MON, 10 + i / 2) for i in range(13)]   # 10:00 .. 16:00


def test_one_day_result_per_day_in_order():
    res = sg.suggest([person()], opts(MON, days=7))
    assert [d.date for d in res] == [date(2030, 7, i) for i in range(1, 8)]
    assert [len(d.suggestions) for d in res] == [10] * 5 + [0, 0]       # default MaximumResultsByDay 10
    # a window ending mid-day still includes that day
    partial = sgx.SuggestionsViewOptions(window_start=at(MON, 9), window_end=at(MON, 24 + 1))
    assert [d.date for d in sg.suggest([person()], partial)] == [date(2030, 7, 1), date(2030, 7, 2)]


def test_all_busy_day_is_poor():
    day = sg.suggest([person(busy(MON, 0, 24)), person(busy(MON, 0, 24))], opts(minimum_quality="Poor"))[0]
    assert day.day_quality == "Poor" and {s.quality for s in day.suggestions} == {"Poor"}


def test_optional_attendee_is_reported_but_does_not_lower_quality():
    day = sg.suggest([person(), person(busy(MON, 8, 17), attendee_type="Optional")], opts())[0]
    assert {s.quality for s in day.suggestions} == {"Excellent"}
    assert day.suggestions[0].conflicts[1] == sgx.IndividualConflict("Busy")
    # rooms and resources count like required attendees
    day = sg.suggest([person(), person(busy(MON, 8, 17), attendee_type="Room")], opts(minimum_quality="Poor"))[0]
    assert {s.quality for s in day.suggestions} == {"Poor"}


def test_exclude_conflicts_drops_the_slot():
    optional = person(busy(MON, 8, 12), attendee_type="Optional", exclude_conflicts=True)
    day = sg.suggest([person(), optional], opts(max_results_by_day=48))[0]
    assert [s.meeting_time for s in day.suggestions][0] == at(MON, 12)
    assert all(s.meeting_time >= at(MON, 12) for s in day.suggestions)


def test_unknown_nodata_and_groups():
    unknown = sg.AttendeeAvailability(status="unknown", working_hours=None)
    nodata = sg.AttendeeAvailability(status="nodata", working_hours=None)
    big = sg.AttendeeAvailability(status="toobiggroup", working_hours=None)
    group = sg.AttendeeAvailability(status="group", members=((busy(MON, 8, 9),), (), None))
    day = sg.suggest([person(), unknown, nodata, big, group], opts(minimum_quality="Poor", max_results_by_day=48))[0]
    first = day.suggestions[0]
    assert first.meeting_time == at(MON, 8)
    assert first.conflicts == (sgx.IndividualConflict("Free"), sgx.UnknownConflict(), sgx.IndividualConflict("NoData"),
                               sgx.TooBigGroupConflict(), sgx.GroupConflict(3, 1, 1, 1))
    # counted: the person and the two group members with data; one in three conflicts at 08:00
    assert first.quality == "Fair"
    later = next(s for s in day.suggestions if s.meeting_time == at(MON, 9))
    assert later.quality == "Excellent" and later.conflicts[-1] == sgx.GroupConflict(3, 2, 0, 1)
    # nobody with data: nothing conflicts
    alone = sg.suggest([unknown, nodata], opts())[0]
    assert alone.day_quality == "Excellent" and alone.suggestions[0].conflicts == (sgx.UnknownConflict(),
                                                                                  sgx.IndividualConflict("NoData"))


def test_current_meeting_does_not_conflict_with_itself():
    own = busy(MON, 10, 11)
    moved = sg.suggest([person(own), person()], opts(current_meeting_time=at(MON, 10), minimum_quality="Poor",
                                                     max_results_by_day=48))[0]
    assert {s.quality for s in moved.suggestions} == {"Excellent"}
    # another meeting at the same time still conflicts
    other = sg.suggest([person(own, busy(MON, 10, 10.5)), person()],
                       opts(current_meeting_time=at(MON, 10), minimum_quality="Poor", max_results_by_day=48))[0]
    assert next(s for s in other.suggestions if s.meeting_time == at(MON, 10)).quality == "Poor"


def test_interval_and_duration():
    day = sg.suggest([person()], opts(interval_minutes=60, duration_minutes=120, max_results_by_day=48))[0]
    assert [s.meeting_time for s in day.suggestions] == [at(MON, h) for h in range(8, 16)]


# ------------------------------------------------------------------ the Microsoft example

def test_ms_example_request_gives_the_ms_example_response():
    req = etree.parse(str(DOCS / EXAMPLE.format("1_request"))).getroot()
    options = sgx.read_options(_find(req, "SuggestionsViewOptions"))
    assert (options.good_threshold, options.max_results_by_day, options.max_non_work_results_by_day,
            options.duration_minutes, options.minimum_quality) == (49, 2, 0, 60, "Good")
    assert (options.window_start, options.window_end) == (datetime(2014, 2, 13), datetime(2014, 2, 14))
    mailboxes = [sgx.read_mailbox_data(md) for md in _find(req, "MailboxDataArray")]
    assert mailboxes == [sgx.MailboxData("mack@contoso.com", "Organizer", False),
                         sgx.MailboxData("sadie@contoso.com", "Required", False)]
    # the calendars and working hours the example's FreeBusyResponseArray shows
    d = datetime(2014, 2, 13)
    mack = sg.AttendeeAvailability("Organizer", busy=(busy(d, 8, 10, "Free"), busy(d, 11, 12)),
                                   working_hours=(sg.WorkingPeriod(frozenset(range(5)), 480, 1020),))
    sadie = sg.AttendeeAvailability("Required",
                                    busy=(busy(d, 8, 10, "Free"), busy(d, 11, 12), busy(d, 15, 16, "Tentative")),
                                    working_hours=(sg.WorkingPeriod(frozenset(range(5)), 540, 1020),))
    ours = sg.suggest([mack, sadie], options)
    resp = etree.parse(str(DOCS / EXAMPLE.format("2_response"))).getroot()
    code, theirs = sgx.read_response(_find(resp, "SuggestionsResponse"))
    assert code == "NoError"
    assert ours == theirs


# ------------------------------------------------------------------ the codec

def _options_el(body: str):
    return etree.fromstring(f'<t:SuggestionsViewOptions xmlns:t="{T}">{body}</t:SuggestionsViewOptions>')


WINDOW = ("<t:DetailedSuggestionsWindow><t:StartTime>2030-07-01T00:00:00</t:StartTime>"
          "<t:EndTime>2030-07-03T00:00:00</t:EndTime></t:DetailedSuggestionsWindow>")


def test_options_defaults():
    o = sgx.read_options(_options_el(WINDOW))
    assert (o.good_threshold, o.max_results_by_day, o.max_non_work_results_by_day, o.duration_minutes,
            o.minimum_quality, o.interval_minutes, o.current_meeting_time) == (25, 10, 0, 60, "Fair", 30, None)
    o = sgx.read_options(_options_el(WINDOW + "<t:CurrentMeetingTime>2030-07-01T10:00:00Z</t:CurrentMeetingTime>"
                                              "<t:GlobalObjectId>abc</t:GlobalObjectId>"))
    assert o.current_meeting_time == datetime(2030, 7, 1, 10, tzinfo=timezone.utc) and o.global_object_id == "abc"


@pytest.mark.parametrize("body,code,words", [
    ("<t:GoodThreshold>0</t:GoodThreshold>" + WINDOW, "ErrorInvalidRequest", "GoodThreshold must be between 1 and 49"),
    ("<t:GoodThreshold>50</t:GoodThreshold>" + WINDOW, "ErrorInvalidRequest", "GoodThreshold"),
    ("<t:MaximumResultsByDay>49</t:MaximumResultsByDay>" + WINDOW, "ErrorInvalidRequest", "MaximumResultsByDay"),
    ("<t:MaximumNonWorkHourResultsByDay>-1</t:MaximumNonWorkHourResultsByDay>" + WINDOW, "ErrorInvalidRequest",
     "MaximumNonWorkHourResultsByDay"),
    ("<t:MeetingDurationInMinutes>20</t:MeetingDurationInMinutes>" + WINDOW, "ErrorInvalidRequest",
     "between 30 and 1440"),
    ("<t:MeetingDurationInMinutes>an hour</t:MeetingDurationInMinutes>" + WINDOW, "ErrorInvalidRequest", "integer"),
    ("<t:MinimumSuggestionQuality>Great</t:MinimumSuggestionQuality>" + WINDOW, "ErrorInvalidRequest",
     "MinimumSuggestionQuality"),
    ("<t:GoodThreshold>25</t:GoodThreshold>", "ErrorInvalidTimeInterval", "DetailedSuggestionsWindow"),
    (WINDOW.replace("2030-07-03", "2030-06-30"), "ErrorInvalidTimeInterval", "end after it starts"),
    (WINDOW.replace("2030-07-03T00:00:00", "tomorrow"), "ErrorInvalidTimeInterval", "xs:dateTime"),
])
def test_bad_options(body, code, words):
    with pytest.raises(sgx.OptionError) as err:
        sgx.read_options(_options_el(body))
    assert err.value.code == code and words in str(err.value)


def test_write_and_read_back():
    days = sg.suggest([person(), sg.AttendeeAvailability(status="unknown"),
                       sg.AttendeeAvailability(status="group", members=((), None))], opts(MON, days=2))
    root = etree.Element("root")
    resp = sgx.write_response(root, days)
    assert resp.tag == "{http://schemas.microsoft.com/exchange/services/2006/messages}SuggestionsResponse"
    first = resp.find(f".//{t('SuggestionDayResult')}")
    assert [local(c) for c in first] == ["Date", "DayQuality", "SuggestionArray"]
    assert child(first, "Date").text == "2030-07-01T00:00:00"
    s = first.find(f".//{t('Suggestion')}")
    assert [local(c) for c in s] == ["MeetingTime", "IsWorkTime", "SuggestionQuality", "AttendeeConflictDataArray"]
    assert [local(c) for c in child(s, "AttendeeConflictDataArray")] == [
        "IndividualAttendeeConflictData", "UnknownAttendeeConflictData", "GroupAttendeeConflictData"]
    assert child(s, "IsWorkTime").text == "true" and child(s, "MeetingTime").text == "2030-07-01T08:00:00"
    assert sgx.read_response(resp) == ("NoError", days)


def test_error_response_shape():
    root = etree.Element("root")
    resp = sgx.write_response(root, None, code="ErrorInvalidTimeInterval", message_text="bad window")
    rm = child(resp, "ResponseMessage")
    assert rm.get("ResponseClass") == "Error"
    assert [local(c) for c in rm] == ["MessageText", "ResponseCode", "DescriptiveLinkKey"]
    assert child(resp, "SuggestionDayResultArray") is None
    assert sgx.read_response(resp) == ("ErrorInvalidTimeInterval", [])


def test_offsets_become_request_local_time():
    from gateway.ews.availability import RequestZone, Transition, _local_options
    cet = RequestZone(-60, Transition(0, "03:00:00", 5, 10, "Sunday"), Transition(-60, "02:00:00", 5, 3, "Sunday"))
    o = sgx.read_options(_options_el(WINDOW.replace("T00:00:00", "T00:00:00Z")))
    local_o = _local_options(o, cet)
    assert local_o.window_start == datetime(2030, 7, 1, 2) and local_o.window_end == datetime(2030, 7, 3, 2)
    naive = sgx.read_options(_options_el(WINDOW))
    assert _local_options(naive, cet) == naive
