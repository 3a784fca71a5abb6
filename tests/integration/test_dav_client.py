"""DavClient against a real Radicale (child process, htpasswd users alice and bob)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from gateway.backends.base import BackendError
from gateway.backends.dav import DavClient

from ._dav_ldap_servers import start_radicale

pytestmark = pytest.mark.integration

UTC = timezone.utc


def weekly_event(uid: str, summary: str = "Weekly sync") -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//exgate//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T100000Z\r\n"
        "DTEND:20240101T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def single_event(uid: str, day: int) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//exgate//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:202403{day:02d}T090000Z\r\n"
        f"DTEND:202403{day:02d}T093000Z\r\nSUMMARY:One-off {day}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


VCARD = (b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bob-card\r\nFN:Bob Baker\r\nN:Baker;Bob;;;\r\n"
         b"EMAIL;TYPE=INTERNET:bob@example.test\r\nTEL;TYPE=WORK:+1 555 0102\r\nEND:VCARD\r\n")


@pytest.fixture(scope="module")
def radicale():
    server = start_radicale()
    yield server
    server.stop()


@pytest.fixture
async def alice(radicale):
    client = DavClient(radicale.url, "alice", "alicepw")
    yield client
    await client.close()


@pytest.fixture
async def calendar(alice):
    href = f"/alice/cal-{uuid.uuid4().hex[:8]}/"
    await alice.make_calendar(href, "Work", ["VEVENT", "VTODO"])
    return href


async def test_discover_finds_made_collections(alice):
    await alice.make_calendar("/alice/discover-cal/", "Discover Cal", ["VEVENT"])
    await alice.make_addressbook("/alice/discover-book/", "Discover Book")
    calendars, books = await alice.discover()
    assert alice.principal == "/alice/"
    cal = {c.href: c for c in calendars}["/alice/discover-cal/"]
    assert cal.kind == "calendar" and cal.display_name == "Discover Cal"
    assert cal.components == {"VEVENT"}
    assert cal.sync_token and cal.ctag
    book = {b.href: b for b in books}["/alice/discover-book/"]
    assert book.kind == "addressbook" and book.display_name == "Discover Book"
    assert all(b.href not in {c.href for c in calendars} for b in books)


async def test_wrong_password_is_auth_error(radicale):
    client = DavClient(radicale.url, "alice", "nope")
    try:
        with pytest.raises(BackendError) as err:
            await client.discover()
        assert err.value.kind == "auth"
    finally:
        await client.close()


async def test_mkcalendar_twice_is_conflict(alice, calendar):
    with pytest.raises(BackendError) as err:
        await alice.make_calendar(calendar, "Again")
    assert err.value.kind == "conflict"


async def test_put_get_and_if_match_conflict(alice, calendar):
    href = calendar + "meeting one.ics"          # a space: percent-encoding on the wire
    etag = await alice.put(href, single_event("m1", 4), "text/calendar; charset=utf-8", create_only=True)
    assert etag
    got = await alice.get(href)
    assert got.etag == etag and b"UID:m1\r\n" in got.data
    assert got.href == calendar + "meeting%20one.ics"

    with pytest.raises(BackendError) as err:         # If-None-Match: * on an existing item
        await alice.put(href, single_event("m1", 4), "text/calendar", create_only=True)
    assert err.value.kind == "conflict"

    etag2 = await alice.put(href, single_event("m1", 5), "text/calendar", etag=etag)
    assert etag2 and etag2 != etag
    with pytest.raises(BackendError) as err:         # stale If-Match
        await alice.put(href, single_event("m1", 6), "text/calendar", etag=etag)
    assert err.value.kind == "conflict"
    with pytest.raises(BackendError) as err:
        await alice.delete(href, etag=etag)
    assert err.value.kind == "conflict"

    listed = await alice.list_resources(calendar)
    assert [(r.href, r.etag) for r in listed] == [(got.href, etag2)]

    await alice.delete(href, etag=etag2)
    with pytest.raises(BackendError) as err:
        await alice.get(href)
    assert err.value.kind == "notfound"


async def test_calendar_query_time_range_and_expand(alice, calendar):
    await alice.put(calendar + "weekly.ics", weekly_event("weekly-1"), "text/calendar")
    await alice.put(calendar + "march.ics", single_event("march-1", 12), "text/calendar")

    # Only the second weekly instance (2024-01-08) falls in this window.
    hits = await alice.calendar_query(calendar, datetime(2024, 1, 7, tzinfo=UTC),
                                      datetime(2024, 1, 9, tzinfo=UTC))
    assert [h.href for h in hits] == [calendar + "weekly.ics"]
    assert b"RRULE:FREQ=WEEKLY;COUNT=3\r\n" in hits[0].data

    expanded = await alice.calendar_query(calendar, datetime(2024, 1, 1, tzinfo=UTC),
                                          datetime(2024, 2, 1, tzinfo=UTC), expand=True)
    assert len(expanded) == 1
    data = expanded[0].data
    assert data.count(b"BEGIN:VEVENT") == 3 and b"RRULE" not in data
    for day in ("20240101", "20240108", "20240115"):
        assert f"RECURRENCE-ID:{day}T100000Z".encode() in data

    everything = await alice.calendar_query(calendar, None, None)
    assert {h.href for h in everything} == {calendar + "weekly.ics", calendar + "march.ics"}
    assert await alice.calendar_query(calendar, None, None, component="VTODO") == []


async def test_multiget_calendar(alice, calendar):
    for i in range(3):
        await alice.put(f"{calendar}e{i}.ics", single_event(f"e{i}", 10 + i), "text/calendar")
    got = await alice.multiget(calendar, [f"{calendar}e0.ics", f"{calendar}e2.ics", f"{calendar}nope.ics"])
    assert sorted(r.href for r in got) == [f"{calendar}e0.ics", f"{calendar}e2.ics"]
    assert all(r.etag and r.data.startswith(b"BEGIN:VCALENDAR\r\n") for r in got)
    # a fresh client does not know the collection kind yet: it asks with PROPFIND
    other = DavClient(alice.base_url, "alice", "alicepw")
    try:
        again = await other.multiget(calendar, ["e1.ics"])     # relative to the collection
        assert [r.href for r in again] == [f"{calendar}e1.ics"]
    finally:
        await other.close()


async def test_sync_collection_initial_delta_and_bad_token(alice, calendar):
    a, b = calendar + "a.ics", calendar + "b.ics"
    await alice.put(a, single_event("a", 1), "text/calendar")
    etag_b = await alice.put(b, single_event("b", 2), "text/calendar")

    first = await alice.sync_collection(calendar, None)
    assert {r.href for r in first.changed} == {a, b} and first.deleted == ()
    assert all(r.etag for r in first.changed)

    new_etag_b = await alice.put(b, single_event("b", 3), "text/calendar", etag=etag_b)
    await alice.delete(a)
    c = calendar + "c.ics"
    await alice.put(c, single_event("c", 4), "text/calendar")

    delta = await alice.sync_collection(calendar, first.sync_token)
    assert {r.href: r.etag for r in delta.changed} == {b: new_etag_b, c: delta_etag(delta, c)}
    assert delta.deleted == (a,)
    assert delta.sync_token != first.sync_token

    quiet = await alice.sync_collection(calendar, delta.sync_token)
    assert quiet.changed == () and quiet.deleted == ()

    with pytest.raises(BackendError) as err:
        await alice.sync_collection(calendar, "http://radicale.org/ns/sync/" + "0" * 64)
    assert err.value.kind == "conflict"


def delta_etag(delta, href):
    return next(r.etag for r in delta.changed if r.href == href)


async def test_addressbook_put_multiget_and_sync(alice):
    book = f"/alice/book-{uuid.uuid4().hex[:8]}/"
    await alice.make_addressbook(book, "Contacts")
    href = book + "bob@example.test.vcf"
    etag = await alice.put(href, VCARD, "text/vcard; charset=utf-8", create_only=True)
    assert etag
    [card] = await alice.multiget(book, [href])
    assert card.etag == etag and b"FN:Bob Baker\r\n" in card.data
    assert card.href == href           # Radicale sends %40; the canonical form keeps "@"
    sync = await alice.sync_collection(book, None)
    assert [r.href for r in sync.changed] == [href]
    fresh = DavClient(alice.base_url, "alice", "alicepw")
    try:
        assert await fresh.collection_kind(book) == "addressbook"
    finally:
        await fresh.close()


async def test_free_busy(alice, calendar):
    await alice.put(calendar + "weekly.ics", weekly_event("fb-1"), "text/calendar")
    fb = await alice.free_busy(calendar, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
    assert b"BEGIN:VFREEBUSY" in fb
    periods = [line for line in fb.split(b"\r\n") if line.startswith(b"FREEBUSY")]
    assert len(periods) == 3
    assert b"20240108T100000Z/20240108T110000Z" in fb


async def test_owner_only_rights_deny_other_user(radicale, calendar):
    bob = DavClient(radicale.url, "bob", "bobpw")
    try:
        with pytest.raises(BackendError) as err:
            await bob.list_resources(calendar)
        assert err.value.kind == "denied"
    finally:
        await bob.close()


async def test_extra_headers_are_sent(radicale):
    """No username: the caller's own header (here an Authorization) carries the identity."""
    import base64
    token = base64.b64encode(b"bob:bobpw").decode()
    bob = DavClient(radicale.url, None, None, headers={"Authorization": f"Basic {token}"})
    try:
        await bob.make_calendar("/bob/hdr/", "Header Cal")
        calendars, _ = await bob.discover()
        assert bob.principal == "/bob/" and [c.href for c in calendars] == ["/bob/hdr/"]
    finally:
        await bob.close()
