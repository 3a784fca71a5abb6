"""GetUserAvailability with exchangelib on both stacks: the requester's own calendar and another user's.

Events are put straight into the users' CalDAV calendars (as another CalDAV client would), then read
back as free/busy through EWS. The demo gateway reaches bob's calendar through its proxy DAV login; the
real set has per-user DAV passwords, so bob's free/busy is what the gateway published the last time bob
asked for his own availability - before that, alice gets ErrorNoFreeBusyAccess with the reason.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from exchangelib import UTC, EWSDateTime
from exchangelib.errors import ErrorNoFreeBusyAccess

from gateway.backends.dav import DavClient

from protocols.ews import suggestions as sgx
from protocols.ews.ns import child, children, text

from .test_ews_exchangelib import account, gw  # noqa: F401  (fixture)
from .test_ews_soap import call

# beyond the 60 days the gateway publishes by default, so "nothing published yet" holds for the test's day
DAY = (datetime.now(timezone.utc) + timedelta(days=70)).replace(hour=0, minute=0, second=0, microsecond=0)


def dav_for(gw, login: str) -> DavClient:
    cfg = gw.state.config.dav
    if cfg.auth == "proxy":
        return DavClient(cfg.url, cfg.service_user, cfg.service_password, headers={cfg.proxy_header: login})
    return DavClient(cfg.url, login, f"{login}pw")


async def put_event(gw, login: str, summary: str, start: datetime, end: datetime, *, transp: str = "OPAQUE",
                    status: str | None = None) -> None:
    uid = uuid.uuid4().hex
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//exgate tests//EN", "BEGIN:VEVENT", f"UID:{uid}",
             f"DTSTAMP:{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}", f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
             f"DTEND:{end:%Y%m%dT%H%M%SZ}", f"SUMMARY:{summary}", f"TRANSP:{transp}"]
    if status:
        lines.append(f"STATUS:{status}")
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    async with dav_for(gw, login) as dav:
        calendars, _ = await dav.discover()
        cal = next(c for c in calendars if not c.components or "VEVENT" in c.components)
        await dav.put(cal.href + uid + ".ics", "\r\n".join(lines).encode(), "text/calendar; charset=utf-8",
                      create_only=True)


def _free_busy(gw, who: str, targets: list[str], start: datetime, end: datetime):
    a = account(gw, who)
    s, e = EWSDateTime.from_datetime(start).astimezone(UTC), EWSDateTime.from_datetime(end).astimezone(UTC)
    return list(a.protocol.get_free_busy_info(accounts=[(t, "Required", False) for t in targets], start=s, end=e,
                                              merged_free_busy_interval=30, requested_view="DetailedMerged"))


@pytest.fixture
async def events(gw):
    """A slot in alice's and one in bob's calendar on a day of their own, so runs do not collide."""
    day = DAY + timedelta(days=uuid.uuid4().int % 200)
    tag = uuid.uuid4().hex[:8]
    for login in ("alice", "bob"):
        # a first sign-in through the gateway makes the user's calendar collection if it is missing
        await call(gw, '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>'
                       '<t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>',
                   user=(f"{login}@example.test", f"{login}pw"))
    await put_event(gw, "alice", f"alice busy {tag}", day + timedelta(hours=9), day + timedelta(hours=10))
    await put_event(gw, "alice", f"alice maybe {tag}", day + timedelta(hours=11), day + timedelta(hours=12),
                    status="TENTATIVE")
    await put_event(gw, "alice", f"alice free {tag}", day + timedelta(hours=14), day + timedelta(hours=15),
                    transp="TRANSPARENT")
    await put_event(gw, "bob", f"bob busy {tag}", day + timedelta(hours=10), day + timedelta(hours=11, minutes=30))
    return day, tag


async def test_own_free_busy_with_details(gw, events):
    day, tag = events
    views = await asyncio.to_thread(_free_busy, gw, "alice", ["alice@example.test"], day + timedelta(hours=8),
                                    day + timedelta(hours=16))
    assert len(views) == 1
    v = views[0]
    assert v.view_type == "DetailedMerged"
    # 30-minute slots from 08:00: busy 09-10, tentative 11-12, the transparent event is free
    assert v.merged == "0022001100000000", v.merged
    busy = [(e.start.astimezone(UTC).hour, e.busy_type, e.details.subject if e.details else None)
            for e in v.calendar_events]
    assert (9, "Busy", f"alice busy {tag}") in busy
    assert (11, "Tentative", f"alice maybe {tag}") in busy


async def test_other_users_free_busy(gw, events):
    day, tag = events
    start, end = day + timedelta(hours=8), day + timedelta(hours=16)
    real = gw.state.config.dav.auth != "proxy"
    if real:
        # per-user DAV passwords: nothing published for bob yet in this window
        with pytest.raises(ErrorNoFreeBusyAccess, match="no published free/busy|covers"):
            await asyncio.to_thread(_free_busy, gw, "alice", ["bob@example.test"], start, end)
        # bob's own client asks for his availability: the gateway publishes his free/busy
        await asyncio.to_thread(_free_busy, gw, "bob", ["bob@example.test"], start, end)
    views = await asyncio.to_thread(_free_busy, gw, "alice", ["alice@example.test", "bob@example.test"], start, end)
    mine, bobs = views
    assert not isinstance(bobs, Exception), bobs
    # another user's calendar: free/busy only, never the subject
    assert bobs.view_type == "FreeBusyMerged"
    assert bobs.merged == "0000222000000000", bobs.merged
    assert [(e.start.astimezone(UTC).hour, e.start.minute, e.end.astimezone(UTC).hour, e.end.minute, e.busy_type)
            for e in bobs.calendar_events] == [(10, 0, 11, 30, "Busy")]
    assert all(e.details is None for e in bobs.calendar_events)
    assert mine.view_type == "DetailedMerged"


async def test_unknown_attendee_and_bad_window(demo_gateway):
    body = ('<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>-60</t:Bias><t:StandardTime><t:Bias>0</t:Bias>'
            '<t:Time>03:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday'
            '</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time>'
            '<t:DayOrder>5</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>'
            '</t:TimeZone><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>nobody@example.test</t:Address>'
            '</t:Email><t:AttendeeType>Required</t:AttendeeType></t:MailboxData><t:MailboxData><t:Email>'
            '<t:Address>alice@example.test</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType>'
            '</t:MailboxData></m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow>'
            '<t:StartTime>2030-07-01T00:00:00</t:StartTime><t:EndTime>2030-07-02T00:00:00</t:EndTime>'
            '</t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>60</t:MergedFreeBusyIntervalInMinutes>'
            '<t:RequestedView>FreeBusyMerged</t:RequestedView></t:FreeBusyViewOptions>'
            '</m:GetUserAvailabilityRequest>')
    from protocols.ews.ns import child, children, text
    _, p = await call(demo_gateway, body)
    nobody, alice = children(child(p, "FreeBusyResponseArray"))
    assert text(child(nobody, "ResponseMessage"), "ResponseCode") == "ErrorMailRecipientNotFound"
    assert text(child(alice, "ResponseMessage"), "ResponseCode") == "NoError"
    assert len(text(child(alice, "FreeBusyView"), "MergedFreeBusy")) == 24
    _, p = await call(demo_gateway, body.replace("2030-07-02T00:00:00", "2030-06-01T00:00:00"))
    codes = [text(child(r, "ResponseMessage"), "ResponseCode") for r in children(child(p, "FreeBusyResponseArray"))]
    assert codes == ["ErrorInvalidTimeInterval"] * 2


def test_request_zone_conversion():
    from gateway.ews.availability import RequestZone, Transition
    cet = RequestZone(-60, Transition(0, "03:00:00", 5, 10, "Sunday"), Transition(-60, "02:00:00", 5, 3, "Sunday"))
    # summer: UTC+2, winter: UTC+1
    assert cet.to_utc(datetime(2030, 7, 1, 12)) == datetime(2030, 7, 1, 10, tzinfo=timezone.utc)
    assert cet.to_utc(datetime(2030, 1, 1, 12)) == datetime(2030, 1, 1, 11, tzinfo=timezone.utc)
    assert cet.from_utc(datetime(2030, 7, 1, 10, tzinfo=timezone.utc)) == datetime(2030, 7, 1, 12)


# ------------------------------------------------------------------ meeting suggestions (raw SOAP)

def _weekday(offset_days: int) -> datetime:
    day = DAY + timedelta(days=offset_days)
    while day.weekday() >= 5:          # working hours are Monday to Friday
        day += timedelta(days=1)
    return day


def _mailbox(address: str, kind: str, exclude: bool = False) -> str:
    return (f"<t:MailboxData><t:Email><t:Address>{address}</t:Address></t:Email><t:AttendeeType>{kind}"
            f"</t:AttendeeType><t:ExcludeConflicts>{'true' if exclude else 'false'}</t:ExcludeConflicts>"
            "</t:MailboxData>")


def availability_request(day: datetime, mailboxes: list[str], *, free_busy: bool = False,
                         suggestions: str | None = None, good: int = 25, quality: str = "Poor", days: int = 1) -> str:
    """A GetUserAvailabilityRequest in UTC for ``days`` days; ``suggestions`` replaces the default options' body
    ("" asks for no suggestions)."""
    d0, d1 = f"{day:%Y-%m-%dT00:00:00}", f"{day + timedelta(days=days):%Y-%m-%dT00:00:00}"
    body = ["<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias>"
            "<t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday"
            "</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time>"
            "<t:DayOrder>1</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>"
            "</t:TimeZone><m:MailboxDataArray>", *mailboxes, "</m:MailboxDataArray>"]
    if free_busy:
        body.append(f"<t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>{d0}</t:StartTime><t:EndTime>{d1}"
                    "</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>60"
                    "</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>FreeBusyMerged</t:RequestedView>"
                    "</t:FreeBusyViewOptions>")
    if suggestions is None:
        suggestions = (f"<t:GoodThreshold>{good}</t:GoodThreshold><t:MaximumResultsByDay>48</t:MaximumResultsByDay>"
                       "<t:MaximumNonWorkHourResultsByDay>0</t:MaximumNonWorkHourResultsByDay>"
                       "<t:MeetingDurationInMinutes>60</t:MeetingDurationInMinutes>"
                       f"<t:MinimumSuggestionQuality>{quality}</t:MinimumSuggestionQuality>"
                       f"<t:DetailedSuggestionsWindow><t:StartTime>{d0}</t:StartTime><t:EndTime>{d1}</t:EndTime>"
                       "</t:DetailedSuggestionsWindow>")
    if suggestions:
        body.append(f"<t:SuggestionsViewOptions>{suggestions}</t:SuggestionsViewOptions>")
    body.append("</m:GetUserAvailabilityRequest>")
    return "".join(body)


@pytest.fixture
async def bob_busy(gw):
    """bob busy 10:00-11:00 UTC on a weekday of this test's own; his free/busy published on both stacks."""
    day = _weekday(300 + uuid.uuid4().int % 400)
    for login in ("alice", "bob"):
        await call(gw, '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>'
                       '<t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>',
                   user=(f"{login}@example.test", f"{login}pw"))
    await put_event(gw, "bob", f"bob busy {uuid.uuid4().hex[:8]}", day + timedelta(hours=10), day + timedelta(hours=11))
    # bob's own look at two days publishes his free/busy (the real stack has no other way to read it)
    _, p = await call(gw, availability_request(day, [_mailbox("bob@example.test", "Required")], free_busy=True,
                                               suggestions="", days=2),
                      user=("bob@example.test", "bobpw"))
    assert text(child(child(child(p, "FreeBusyResponseArray"), "FreeBusyResponse"), "ResponseMessage"),
                "ResponseCode") == "NoError"
    return day


def _by_time(days) -> dict:
    assert len(days) == 1
    return {s.meeting_time.hour + s.meeting_time.minute / 60: s for s in days[0].suggestions}


ALICE_BOB = [_mailbox("alice@example.test", "Organizer"), _mailbox("bob@example.test", "Required")]


async def test_suggestions_avoid_bobs_busy_hour(gw, bob_busy):
    day = bob_busy
    status, p = await call(gw, availability_request(day, ALICE_BOB))
    assert status == 200
    assert child(p, "FreeBusyResponseArray") is None        # only suggestions were asked
    code, days = sgx.read_response(child(p, "SuggestionsResponse"))
    assert code == "NoError"
    assert days[0].date == day.date()
    slots = _by_time(days)
    # 60-minute meetings from 08:00 to 16:00 (working hours 08-17), every 30 minutes
    assert sorted(slots) == [8 + i / 2 for i in range(17)]
    assert slots[10].quality != "Excellent" and slots[10].quality == "Poor"     # one of two attendees busy
    assert slots[10].conflicts == (sgx.IndividualConflict("Free"), sgx.IndividualConflict("Busy"))
    assert slots[9.5].quality == "Poor" and slots[10.5].quality == "Poor"
    for free in (8, 9, 11, 13, 16):
        assert slots[free].quality == "Excellent", (free, slots[free])
        assert slots[free].conflicts == (sgx.IndividualConflict("Free"), sgx.IndividualConflict("Free"))
    assert all(s.is_work_time for s in slots.values())
    assert days[0].day_quality == "Excellent"
    # MinimumSuggestionQuality Good leaves the busy hour out
    _, p = await call(gw, availability_request(day, ALICE_BOB, quality="Good"))
    code, days = sgx.read_response(child(p, "SuggestionsResponse"))
    assert code == "NoError" and 10 not in _by_time(days) and 13 in _by_time(days)


async def test_free_busy_and_suggestions_in_one_request(gw, bob_busy):
    day = bob_busy
    _, p = await call(gw, availability_request(day, ALICE_BOB, free_busy=True))
    fb = children(child(p, "FreeBusyResponseArray"), "FreeBusyResponse")
    assert [text(child(r, "ResponseMessage"), "ResponseCode") for r in fb] == ["NoError", "NoError"]
    assert text(child(fb[1], "FreeBusyView"), "MergedFreeBusy") == "0" * 10 + "2" + "0" * 13
    # the answer's order: FreeBusyResponseArray, then SuggestionsResponse
    assert [c.tag.rsplit("}", 1)[1] for c in p] == ["FreeBusyResponseArray", "SuggestionsResponse"]
    code, days = sgx.read_response(child(p, "SuggestionsResponse"))
    assert code == "NoError"
    slots = _by_time(days)
    assert slots[10].quality == "Poor" and slots[14].quality == "Excellent"


async def test_suggestion_errors_unknown_attendees_and_groups(demo_gateway):
    gw = demo_gateway
    day = _weekday(300 + uuid.uuid4().int % 400)
    await put_event(gw, "bob", "bob busy", day + timedelta(hours=10), day + timedelta(hours=11))
    # a bad option: an error SuggestionsResponse with its text, HTTP 200; the free/busy still answers
    bad = availability_request(day, ALICE_BOB, free_busy=True, good=50)
    status, p = await call(gw, bad)
    assert status == 200
    rm = child(child(p, "SuggestionsResponse"), "ResponseMessage")
    assert (rm.get("ResponseClass"), text(rm, "ResponseCode")) == ("Error", "ErrorInvalidRequest")
    assert "GoodThreshold must be between 1 and 49" in text(rm, "MessageText")
    assert [text(child(r, "ResponseMessage"), "ResponseCode")
            for r in children(child(p, "FreeBusyResponseArray"))] == ["NoError", "NoError"]
    # a window that ends before it starts
    d0, d1 = f"{day:%Y-%m-%dT00:00:00}", f"{day + timedelta(days=1):%Y-%m-%dT00:00:00}"
    backwards = availability_request(day, ALICE_BOB, suggestions=(
        "<t:MeetingDurationInMinutes>60</t:MeetingDurationInMinutes><t:DetailedSuggestionsWindow>"
        f"<t:StartTime>{d1}</t:StartTime><t:EndTime>{d0}</t:EndTime></t:DetailedSuggestionsWindow>"))
    status, p = await call(gw, backwards)
    assert status == 200
    assert sgx.read_response(child(p, "SuggestionsResponse")) == ("ErrorInvalidTimeInterval", [])
    # neither view asked
    _, p = await call(gw, availability_request(day, ALICE_BOB, suggestions=""))
    assert text(child(child(child(p, "FreeBusyResponseArray"), "FreeBusyResponse"), "ResponseMessage"),
                "ResponseCode") == "ErrorInvalidRequest"
    # an unknown address and the directory's "team" list (alice and bob)
    people = ALICE_BOB + [_mailbox("nobody@example.test", "Required"), _mailbox("team", "Optional")]
    _, p = await call(gw, availability_request(day, people))
    code, days = sgx.read_response(child(p, "SuggestionsResponse"))
    assert code == "NoError"
    slots = _by_time(days)
    assert slots[10].conflicts == (sgx.IndividualConflict("Free"), sgx.IndividualConflict("Busy"),
                                   sgx.UnknownConflict(), sgx.GroupConflict(2, 1, 1, 0))
    assert slots[13].conflicts[3] == sgx.GroupConflict(2, 2, 0, 0)
    assert slots[10].quality == "Poor" and slots[13].quality == "Excellent"


async def test_suggestions_mark_unreadable_free_busy_as_no_data(gw, bob_busy):
    """carol never published this far ahead: on per-user DAV logins her free/busy cannot be read (NoData,
    not counted); the demo's proxy login reads it (Free)."""
    day = bob_busy
    people = [_mailbox("alice@example.test", "Organizer"), _mailbox("carol@example.test", "Required")]
    _, p = await call(gw, availability_request(day, people))
    code, days = sgx.read_response(child(p, "SuggestionsResponse"))
    assert code == "NoError"
    slots = _by_time(days)
    carol = "Free" if gw.state.config.dav.auth == "proxy" else "NoData"
    assert slots[10].conflicts == (sgx.IndividualConflict("Free"), sgx.IndividualConflict(carol))
    assert {s.quality for s in slots.values()} == {"Excellent"}
