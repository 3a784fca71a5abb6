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
