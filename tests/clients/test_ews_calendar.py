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
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from exchangelib import EWSDateTime, EWSTimeZone
from exchangelib.items import CalendarItem, MeetingRequest, MeetingResponse
from exchangelib.recurrence import NumberedPattern, Recurrence, WeeklyPattern
from exchangelib.fields import TUESDAY, WEDNESDAY

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
