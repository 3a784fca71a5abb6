"""exchangelib calendar sessions against the demo and the real-server gateway.

- the demo's seeded weekly meeting (bob's calendar): a CalendarView shows the moved exception at
  its new time and no occurrence on the EXDATE;
- single and recurring events: create, read back, update, delete one occurrence, delete;
- a meeting invitation from alice to bob (SendToAllAndSaveCopy) arrives in bob's Inbox as a
  MeetingRequest; bob accepts; alice gets the MeetingResponse; bob's calendar has the meeting
  with his answer.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import time
import uuid
from datetime import datetime, timedelta, timezone

import icalendar
import pytest
from exchangelib import EWSDateTime, EWSTimeZone
from exchangelib.errors import (ErrorCalendarOccurrenceIsDeletedFromRecurrence, ErrorIrresolvableConflict,
                                ErrorOccurrenceCrossingBoundary)
from exchangelib.items import CalendarItem, MeetingRequest, MeetingResponse
from exchangelib.properties import ItemId
from exchangelib.recurrence import NumberedPattern, Recurrence, WeeklyPattern
from exchangelib.fields import MONDAY, TUESDAY, WEDNESDAY

from gateway.backends.dav import DavClient

from .test_ews_exchangelib import account

BERLIN = EWSTimeZone("Europe/Berlin")
UTC = EWSTimeZone("UTC")


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def _seeded_weekly(gw):
    a = account(gw, "bob")
    today = datetime.now(timezone.utc).date()
    monday = today - timedelta(days=today.weekday())
    start = EWSDateTime(monday.year, monday.month, monday.day, tzinfo=BERLIN) - timedelta(days=14)
    end = start + timedelta(days=120)
    occ = [o for o in a.calendar.view(start=start, end=end) if (o.subject or "").startswith("Engineering weekly")]
    assert len(occ) == 11, [(o.subject, o.start) for o in occ]          # COUNT=12 minus one EXDATE
    moved = [o for o in occ if "moved" in o.subject]
    assert len(moved) == 1
    m = moved[0]
    assert m.type == "Exception"
    local = m.start.astimezone(BERLIN)
    assert local.date() == monday + timedelta(days=9) and (local.hour, local.minute) == (14, 0)
    assert m.location == "Room Turing (3rd floor)"
    days = {o.start.astimezone(BERLIN).date() for o in occ}
    assert monday + timedelta(days=15) not in days                      # the EXDATE
    assert monday + timedelta(days=8) not in days                       # the moved occurrence's old day
    others = [o for o in occ if o is not m]
    assert all(o.type == "Occurrence" for o in others)
    assert all(o.start.astimezone(BERLIN).hour == 10 for o in others)
    # an occurrence can be read by its id; its master has the recurrence with the exception and deletion
    again = a.calendar.get(id=others[0].id)
    assert again.subject == "Engineering weekly" and again.type == "Occurrence"
    masters = [i for i in a.calendar.filter(subject="Engineering weekly") if i.type == "RecurringMaster"]
    assert masters
    mst = a.calendar.get(id=masters[0].id)
    assert isinstance(mst.recurrence.pattern, WeeklyPattern)
    assert mst.recurrence.boundary.number == 12
    assert len(mst.modified_occurrences or []) == 1 and len(mst.deleted_occurrences or []) == 1
    assert {x.mailbox.email_address for x in (mst.required_attendees or [])} >= {"bob@example.test"}
    assert mst._start_timezone is not None and mst._start_timezone.key == "Europe/Berlin"


async def test_seeded_weekly_view(demo_gateway):
    await asyncio.to_thread(_seeded_weekly, demo_gateway)


def _single_and_recurring(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    start = EWSDateTime.now(tz=BERLIN).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=3)
    # a single event
    ev = CalendarItem(account=a, folder=a.calendar, subject=f"single {tag}", body="agenda",
                      start=start, end=start + timedelta(hours=1), location="Room 1")
    ev.save()
    got = a.calendar.get(id=ev.id)
    assert got.subject == f"single {tag}" and got.location == "Room 1" and got.type == "Single"
    assert got.start == start and got.end == start + timedelta(hours=1)
    got.subject = f"single {tag} moved"
    got.start, got.end = start + timedelta(hours=2), start + timedelta(hours=3)
    got.save(update_fields=["subject", "start", "end"])
    again = a.calendar.get(id=ev.id)
    assert again.subject == f"single {tag} moved" and again.start == start + timedelta(hours=2)
    assert again.end == start + timedelta(hours=3)
    view = list(a.calendar.view(start=start, end=start + timedelta(days=1)))
    assert f"single {tag} moved" in [v.subject for v in view]
    again.delete()
    assert f"single {tag} moved" not in [v.subject for v in a.calendar.view(start=start,
                                                                           end=start + timedelta(days=1))]
    # a recurring one: every Tuesday and Wednesday, 6 times, one occurrence deleted
    first = start + timedelta(days=(1 - start.weekday()) % 7)
    rec = CalendarItem(account=a, folder=a.calendar, subject=f"series {tag}", start=first,
                       end=first + timedelta(minutes=30),
                       recurrence=Recurrence(pattern=WeeklyPattern(interval=1, weekdays=[TUESDAY, WEDNESDAY]),
                                             start=first.date(), number=6))
    rec.save()
    master = a.calendar.get(id=rec.id)
    assert master.type == "RecurringMaster" and master.recurrence.boundary.number == 6
    occ = [o for o in a.calendar.view(start=first - timedelta(days=1), end=first + timedelta(days=30))
           if o.subject == f"series {tag}"]
    assert len(occ) == 6
    assert [o.start.astimezone(BERLIN).weekday() for o in occ] == [1, 2, 1, 2, 1, 2]
    assert all(o.start.astimezone(BERLIN).hour == 9 for o in occ)
    occ[2].delete()
    occ2 = [o for o in a.calendar.view(start=first - timedelta(days=1), end=first + timedelta(days=30))
            if o.subject == f"series {tag}"]
    assert len(occ2) == 5 and occ[2].start not in [o.start for o in occ2]
    master = a.calendar.get(id=rec.id)
    assert len(master.deleted_occurrences or []) == 1
    master.delete()
    assert not [o for o in a.calendar.view(start=first - timedelta(days=1), end=first + timedelta(days=30))
                if o.subject == f"series {tag}"]


def _html_body_event(gw):
    from exchangelib import HTMLBody
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    start = EWSDateTime.now(tz=BERLIN).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=4)
    ev = CalendarItem(account=a, folder=a.calendar, subject=f"html {tag}", start=start,
                      end=start + timedelta(hours=1), body=HTMLBody("<p>a</p>\n<p>b; c, d</p>"))
    ev.save()                                  # was ErrorInternalServerError (a bare newline in X-ALT-DESC)
    got = a.calendar.get(id=ev.id)
    assert "<p>a</p>" in got.body and "<p>b; c, d</p>" in got.body
    got.body = HTMLBody("<p>changed</p>\n<p>again</p>")
    got.save(update_fields=["body"])
    assert "<p>again</p>" in a.calendar.get(id=ev.id).body
    got.delete()


async def test_html_body_with_line_breaks(gw):
    await asyncio.to_thread(_html_body_event, gw)


async def test_single_and_recurring_events(gw):
    await asyncio.to_thread(_single_and_recurring, gw)


def _wait(fn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.5)
    return fn()


def _invitation(gw):
    alice, bob = account(gw, "alice"), account(gw, "bob")
    tag = uuid.uuid4().hex[:8]
    start = EWSDateTime.now(tz=UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=5)
    item = CalendarItem(account=alice, folder=alice.calendar, subject=f"invite {tag}", body="please come",
                        start=start, end=start + timedelta(hours=1), location="Room Ada",
                        required_attendees=["bob@example.test"])
    item.save(send_meeting_invitations="SendToAllAndSaveCopy")
    mine = alice.calendar.get(id=item.id)
    assert mine.is_meeting and mine.my_response_type == "Organizer"
    assert [x.mailbox.email_address for x in mine.required_attendees] == ["bob@example.test"]
    # bob's inbox gets a MeetingRequest
    req = _wait(lambda: [i for i in bob.inbox.filter(subject=f"invite {tag}") if isinstance(i, MeetingRequest)])
    assert req, [type(i).__name__ for i in bob.inbox.filter(subject__contains=tag)]
    req = bob.inbox.get(id=req[0].id)
    assert req.start == start and req.end == start + timedelta(hours=1)
    assert req.organizer.email_address == "alice@example.test"
    # the copy in alice's Sent Items
    assert _wait(lambda: list(alice.sent.filter(subject=f"invite {tag}")))
    # bob accepts
    req.accept(body="see you")
    bob_copy = [c for c in bob.calendar.view(start=start - timedelta(hours=1), end=start + timedelta(hours=2))
                if c.subject == f"invite {tag}"]
    assert len(bob_copy) == 1
    bob_item = bob.calendar.get(id=bob_copy[0].id)
    assert bob_item.my_response_type == "Accept" and bob_item.uid == mine.uid
    assert bob_item.organizer.email_address == "alice@example.test"
    # alice gets the answer
    resp = _wait(lambda: [i for i in alice.inbox.filter(subject__contains=f"invite {tag}")
                          if isinstance(i, MeetingResponse)])
    assert resp
    resp = alice.inbox.get(id=resp[0].id)
    assert resp.subject.startswith("Accepted:") and resp.sender.email_address == "bob@example.test"
    # opening the response records bob's answer on alice's meeting (as Outlook's response processing does)
    assert resp.associated_calendar_item_id is not None
    mine = alice.calendar.get(id=item.id)
    assert [(x.mailbox.email_address, x.response_type) for x in mine.required_attendees] == \
        [("bob@example.test", "Accept")]
    # the request left bob's inbox (Exchange moves answered requests to Deleted Items)
    assert not [i for i in bob.inbox.filter(subject=f"invite {tag}") if isinstance(i, MeetingRequest)]
    # alice cancels: bob gets a MeetingCancellation
    mine = alice.calendar.get(id=item.id)
    mine.cancel(body="sorry")
    cancel = _wait(lambda: [i for i in bob.inbox.filter(subject__contains=f"invite {tag}")
                            if type(i).__name__ == "MeetingCancellation"])
    assert cancel
    assert not [c for c in alice.calendar.view(start=start - timedelta(hours=1), end=start + timedelta(hours=2))
                if c.subject == f"invite {tag}"]


async def test_meeting_invitation_and_acceptance(gw):
    await asyncio.to_thread(_invitation, gw)


# ---------------------------------------------------------------- one occurrence changed on its own

def _dav(gw, login: str) -> DavClient:
    cfg = gw.state.config.dav
    if cfg.auth == "proxy":
        return DavClient(cfg.url, cfg.service_user, cfg.service_password, headers={cfg.proxy_header: login})
    return DavClient(cfg.url, login, f"{login}pw")


async def caldav_objects(gw, login: str, uid: str) -> list[tuple[str, str | None, icalendar.Calendar]]:
    """(href, etag, calendar) of the user's calendar objects with ``uid``, read with a plain CalDAV
    client (no gateway)."""
    dav = _dav(gw, login)
    try:
        cals, _ = await dav.discover()
        out = []
        for cal in cals:
            for res in await dav.list_resources(cal.href):
                got = await dav.get(res.href)
                data = got.data or b""
                if uid.encode() in data.replace(b"\r\n ", b""):
                    out.append((res.href, got.etag, icalendar.Calendar.from_ical(data)))
        return out
    finally:
        await dav.close()


async def caldav_put(gw, login: str, href: str, etag: str | None, cal: icalendar.Calendar) -> None:
    dav = _dav(gw, login)
    try:
        await dav.put(href, cal.to_ical(), "text/calendar; charset=utf-8", etag=etag)
    finally:
        await dav.close()


def _weekly(a, tag: str, **kw) -> tuple[CalendarItem, list]:
    start = EWSDateTime.now(tz=BERLIN).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=2)
    first = start + timedelta(days=(0 - start.weekday()) % 7)          # a Monday
    rec = CalendarItem(account=a, folder=a.calendar, subject=f"weekly {tag}", start=first,
                       end=first + timedelta(minutes=30),
                       recurrence=Recurrence(pattern=WeeklyPattern(interval=1, weekdays=[MONDAY]),
                                             start=first.date(), number=5), **kw)
    return rec, [first - timedelta(days=1), first + timedelta(days=40)]


def _series_view(a, tag: str, window) -> list:
    return [o for o in a.calendar.view(start=window[0], end=window[1]) if f"weekly {tag}" in (o.subject or "")]


def _change_third(gw, tag):
    a = account(gw)
    rec, window = _weekly(a, tag)
    rec.save()
    occ = _series_view(a, tag, window)
    assert len(occ) == 5 and all(o.type == "Occurrence" for o in occ)
    third = occ[2]
    old_start = third.start
    third.subject = f"weekly {tag} moved"
    third.start, third.end = third.start + timedelta(hours=3), third.end + timedelta(hours=3)
    third.save(update_fields=["subject", "start", "end"])
    # the answer named the occurrence (same id) with the master's new change key
    assert third.id == occ[2].id and third.changekey != occ[1].changekey
    view = _series_view(a, tag, window)
    assert len(view) == 5
    assert [o.subject for o in view] == [f"weekly {tag}"] * 2 + [f"weekly {tag} moved"] + [f"weekly {tag}"] * 2
    assert [o.type for o in view] == ["Occurrence"] * 2 + ["Exception"] + ["Occurrence"] * 2
    assert view[2].start == old_start + timedelta(hours=3) and view[2].end == old_start + timedelta(hours=3,
                                                                                                   minutes=30)
    assert [o.start for i, o in enumerate(view) if i != 2] == [o.start for i, o in enumerate(occ) if i != 2]
    got = a.calendar.get(id=third.id)
    assert got.type == "Exception" and got.subject == f"weekly {tag} moved"
    assert got.start == old_start + timedelta(hours=3)
    assert got.original_start == old_start
    master = a.calendar.get(id=rec.id)
    assert master.subject == f"weekly {tag}" and len(master.modified_occurrences or []) == 1
    assert master.modified_occurrences[0].start == old_start + timedelta(hours=3)
    # a stale change key (read before the change) is a conflict; moving onto a neighbour's day is refused
    stale = occ[1]
    stale.subject = "never"
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(update_fields=["subject"], conflict_resolution="NeverOverwrite")
    second = _series_view(a, tag, window)[1]
    second.start, second.end = second.start + timedelta(days=7), second.end + timedelta(days=7)
    with pytest.raises(ErrorOccurrenceCrossingBoundary):
        second.save(update_fields=["start", "end"])
    # by OccurrenceItemId (master id + InstanceIndex): the answer is the occurrence's own id
    first = a.calendar.get(id=rec.id).occurrence(1)
    first.location = "Room 5"
    first.save(update_fields=["location"])
    assert first.id == _series_view(a, tag, window)[0].id
    assert a.calendar.get(id=first.id).location == "Room 5"
    return master.uid, rec.id, window, old_start


def _delete_fourth(gw, tag, window, moved_start):
    a = account(gw)
    view = _series_view(a, tag, window)
    fourth = view[3]
    fourth_id, fourth_start = ItemId(id=fourth.id, changekey=fourth.changekey), fourth.start
    fourth.delete()
    after = _series_view(a, tag, window)
    assert len(after) == 4 and fourth_start not in [o.start for o in after]
    assert [o.subject for o in after].count(f"weekly {tag} moved") == 1
    assert after[2].start == moved_start + timedelta(hours=3) and after[2].type == "Exception"
    # changing a deleted occurrence is refused with Exchange's code
    gone = CalendarItem(account=a, folder=a.calendar, _id=fourth_id, subject="too late")
    with pytest.raises(ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        gone.save(update_fields=["subject"], conflict_resolution="AlwaysOverwrite")
    return fourth_start, after[-1].start


async def test_change_one_occurrence(gw):
    tag = uuid.uuid4().hex[:8]
    uid, master_id, window, old_start = await asyncio.to_thread(_change_third, gw, tag)
    objs = await caldav_objects(gw, "alice", uid)
    assert len(objs) == 1
    events = list(objs[0][2].walk("VEVENT"))
    overrides = [e for e in events if e.get("RECURRENCE-ID") is not None]
    assert len(events) == 3 and len(overrides) == 2
    assert [str(e.get("LOCATION")) for e in overrides].count("Room 5") == 1
    ov = [e for e in overrides if str(e.get("SUMMARY")) == f"weekly {tag} moved"][0]
    assert str(ov["SUMMARY"]) == f"weekly {tag} moved"
    assert _utc(ov["RECURRENCE-ID"].dt) == _utc(old_start)
    assert _utc(ov["DTSTART"].dt) == _utc(old_start + timedelta(hours=3))
    deleted, last = await asyncio.to_thread(_delete_fourth, gw, tag, window, old_start)
    (href, etag, cal), = await caldav_objects(gw, "alice", uid)
    events = list(cal.walk("VEVENT"))
    master = [e for e in events if e.get("RECURRENCE-ID") is None][0]
    exdates = [_utc(d.dt) for x in ical_list(master.get("EXDATE")) for d in x.dts]
    assert exdates == [_utc(deleted)]
    assert sorted(str(e["SUMMARY"]) for e in events if e.get("RECURRENCE-ID") is not None) == \
        [f"weekly {tag}", f"weekly {tag} moved"]
    # a CalDAV client deletes the last occurrence: the series as EWS sees it follows (the gateway kept no
    # stale copy of the recurrence blob beside the server's object)
    master.add("EXDATE", _utc(last))
    await caldav_put(gw, "alice", href, etag, cal)
    starts = await asyncio.to_thread(lambda: [(o.subject, _utc(o.start))
                                              for o in _series_view(account(gw), tag, window)])
    assert len(starts) == 3 and _utc(last) not in [s for _, s in starts]
    assert starts[2] == (f"weekly {tag} moved", _utc(old_start + timedelta(hours=3)))


def _utc(dt) -> datetime:
    """An instant from exchangelib or icalendar as a plain UTC datetime (both kinds compare)."""
    return datetime.fromtimestamp(dt.timestamp(), timezone.utc)


def ical_list(v):
    return [] if v is None else v if isinstance(v, list) else [v]


def _itip_parts(host, port, login, tag) -> list[bytes]:
    """The text/calendar parts of every message in ``login``'s INBOX whose subject has ``tag``."""
    out = []
    with imaplib.IMAP4(host, port) as im:
        im.login(login, f"{login}pw")
        im.select("INBOX")
        _, data = im.search(None, "SUBJECT", f'"{tag}"')
        for num in (data[0].split() if data and data[0] else []):
            _, got = im.fetch(num, "(RFC822)")
            msg = email.message_from_bytes(got[0][1], policy=email.policy.default)
            for part in msg.walk():
                if part.get_content_type() == "text/calendar":
                    out.append(part.get_payload(decode=True))
    return out


def _instance_parts(host, port, login, tag, method) -> list[icalendar.Event]:
    found = []
    for raw in _itip_parts(host, port, login, tag):
        cal = icalendar.Calendar.from_ical(raw)
        if str(cal.get("METHOD")) != method:
            continue
        for ev in cal.walk("VEVENT"):
            if ev.get("RECURRENCE-ID") is not None:
                found.append(ev)
    return found


def _meeting_instance_update(gw, host, port):
    alice = account(gw, "alice")
    tag = uuid.uuid4().hex[:8]
    rec, window = _weekly(alice, tag, required_attendees=["bob@example.test"])
    rec.save(send_meeting_invitations="SendToAllAndSaveCopy")
    assert _wait(lambda: _itip_parts(host, port, "bob", tag))             # the series' invitation
    occ = _series_view(alice, tag, window)
    assert len(occ) == 5
    second = occ[1]
    second.subject = f"weekly {tag} agenda changed"
    second.location = "Room Hopper"
    second.save(update_fields=["subject", "location"], send_meeting_invitations="SendToAllAndSaveCopy")
    got = _wait(lambda: _instance_parts(host, port, "bob", tag, "REQUEST"))
    assert len(got) == 1, got
    ev = got[0]
    assert str(ev["SUMMARY"]) == f"weekly {tag} agenda changed" and str(ev["LOCATION"]) == "Room Hopper"
    assert _utc(ev["RECURRENCE-ID"].dt) == _utc(second.start)
    assert ev.get("RRULE") is None
    assert "mailto:bob@example.test" in [str(x) for x in ical_list(ev.get("ATTENDEE"))]
    mine = alice.calendar.get(id=rec.id)
    assert str(ev["UID"]) == mine.uid
    # the organizer cancels the fourth occurrence, and deletes the fifth with cancellations
    view = _series_view(alice, tag, window)
    view[3].cancel(body="no meeting that week")
    view[4].delete(send_meeting_cancellations="SendToAllAndSaveCopy")
    cancels = _wait(lambda: (lambda c: c if len(c) == 2 else None)(_instance_parts(host, port, "bob", tag,
                                                                                      "CANCEL")))
    assert cancels and sorted(_utc(e["RECURRENCE-ID"].dt) for e in cancels) == \
        sorted(_utc(o.start) for o in view[3:5])
    assert all(str(e.get("STATUS")) == "CANCELLED" for e in cancels)
    left = _series_view(alice, tag, window)
    assert [o.subject for o in left] == [f"weekly {tag}", f"weekly {tag} agenda changed", f"weekly {tag}"]
    # bob accepts the series, then declines its first occurrence and is tentative for the third
    bob = account(gw, "bob")
    req = _wait(lambda: [i for i in bob.inbox.filter(subject=f"weekly {tag}") if isinstance(i, MeetingRequest)])
    assert req
    bob.inbox.get(id=req[0].id).accept()
    mine = _series_view(bob, tag, window)
    assert len(mine) == 5 and all(o.my_response_type == "Accept" for o in mine)
    mine[0].decline(body="not that week")
    mine[2].tentatively_accept()
    replies = _wait(lambda: (lambda r: r if len(r) == 2 else None)(_instance_parts(host, port, "alice", tag,
                                                                                      "REPLY")))
    assert replies, _itip_parts(host, port, "alice", tag)
    answers = {_utc(e["RECURRENCE-ID"].dt): [a.params.get("PARTSTAT") for a in ical_list(e.get("ATTENDEE"))
                                            if str(a).lower() == "mailto:bob@example.test"] for e in replies}
    assert answers == {_utc(mine[0].start): ["DECLINED"], _utc(mine[2].start): ["TENTATIVE"]}
    after = _series_view(bob, tag, window)
    assert len(after) == 4 and _utc(mine[0].start) not in [_utc(o.start) for o in after]
    tentative = [o for o in after if _utc(o.start) == _utc(mine[2].start)][0]
    assert tentative.type == "Exception" and tentative.my_response_type == "Tentative"
    assert tentative.legacy_free_busy_status == "Tentative"
    assert [o.my_response_type for o in after].count("Accept") == 3


async def test_meeting_occurrence_update_and_cancel(gw):
    cfg = gw.state.config.imap
    await asyncio.to_thread(_meeting_instance_update, gw, cfg.host, cfg.port)
