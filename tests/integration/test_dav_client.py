"""DavClient against the shared Radicale (tests/servers/radicale.py: LDAP auth, owner_only rights).

Other tests use the same Radicale and the same users, so every collection made
here has a unique name and is deleted again afterwards.
"""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest

from gateway.backends.base import BackendError
from gateway.backends.dav import DavClient
from tests.servers import RadicaleInfo

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


def unique(owner: str, prefix: str) -> str:
    return f"/{owner}/{prefix}-{uuid.uuid4().hex[:8]}/"


async def _delete_quietly(client: DavClient, hrefs: list[str]) -> None:
    for href in hrefs:
        try:
            await client.delete(href)
        except BackendError as exc:
            if exc.kind != "notfound":      # gone already: the test deleted it itself
                raise


@pytest.fixture
async def made(radicale: RadicaleInfo) -> AsyncIterator[list[tuple[str, str]]]:
    """(owner, collection href) pairs a test made; deleted as that owner at the end."""
    hrefs: list[tuple[str, str]] = []
    yield hrefs
    for owner in {o for o, _ in hrefs}:
        async with DavClient(radicale.url, owner, radicale.users[owner]) as c:
            await _delete_quietly(c, [h for o, h in hrefs if o == owner])


@pytest.fixture
async def alice(radicale: RadicaleInfo) -> AsyncIterator[DavClient]:
    client = DavClient(radicale.url, "alice", radicale.users["alice"])
    yield client
    await client.close()


@pytest.fixture
async def calendar(alice: DavClient, made: list[tuple[str, str]]) -> str:
    href = unique("alice", "cal")
    await alice.make_calendar(href, "Work", ["VEVENT", "VTODO"])
    made.append(("alice", href))
    return href


async def test_discover_finds_made_collections(alice, made):
    cal_href, book_href = unique("alice", "discover-cal"), unique("alice", "discover-book")
    made += [("alice", cal_href), ("alice", book_href)]
    await alice.make_calendar(cal_href, "Discover Cal", ["VEVENT"])
    await alice.make_addressbook(book_href, "Discover Book")
    calendars, books = await alice.discover()
    assert alice.principal == "/alice/"
    cal = {c.href: c for c in calendars}[cal_href]
    assert cal.kind == "calendar" and cal.display_name == "Discover Cal"
    assert cal.components == {"VEVENT"}
    assert cal.sync_token and cal.ctag
    book = {b.href: b for b in books}[book_href]
    assert book.kind == "addressbook" and book.display_name == "Discover Book"
    assert all(b.href not in {c.href for c in calendars} for b in books)


async def test_wrong_password_is_auth_error(radicale):
    client = DavClient(radicale.url, "alice", "nope")      # Radicale binds to slapd as alice: refused
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


async def test_multiget_calendar(radicale, alice, calendar):
    for i in range(3):
        await alice.put(f"{calendar}e{i}.ics", single_event(f"e{i}", 10 + i), "text/calendar")
    got = await alice.multiget(calendar, [f"{calendar}e0.ics", f"{calendar}e2.ics", f"{calendar}nope.ics"])
    assert sorted(r.href for r in got) == [f"{calendar}e0.ics", f"{calendar}e2.ics"]
    assert all(r.etag and r.data.startswith(b"BEGIN:VCALENDAR\r\n") for r in got)
    # a fresh client does not know the collection kind yet: it asks with PROPFIND
    other = DavClient(alice.base_url, "alice", radicale.users["alice"])
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


async def test_addressbook_put_multiget_and_sync(radicale, alice, made):
    book = unique("alice", "book")
    await alice.make_addressbook(book, "Contacts")
    made.append(("alice", book))
    href = book + "bob@example.test.vcf"
    etag = await alice.put(href, VCARD, "text/vcard; charset=utf-8", create_only=True)
    assert etag
    [card] = await alice.multiget(book, [href])
    assert card.etag == etag and b"FN:Bob Baker\r\n" in card.data
    assert card.href == href           # Radicale sends %40; the canonical form keeps "@"
    sync = await alice.sync_collection(book, None)
    assert [r.href for r in sync.changed] == [href]
    fresh = DavClient(alice.base_url, "alice", radicale.users["alice"])
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
    bob = DavClient(radicale.url, "bob", radicale.users["bob"])
    try:
        with pytest.raises(BackendError) as err:
            await bob.list_resources(calendar)
        assert err.value.kind == "denied"
    finally:
        await bob.close()


async def test_extra_headers_are_sent(radicale, made):
    """No username: the caller's own header (here an Authorization) carries the identity."""
    import base64
    token = base64.b64encode(f"bob:{radicale.users['bob']}".encode()).decode()
    bob = DavClient(radicale.url, None, None, headers={"Authorization": f"Basic {token}"})
    hdr = unique("bob", "hdr")
    try:
        await bob.make_calendar(hdr, "Header Cal")
        made.append(("bob", hdr))
        calendars, _ = await bob.discover()
        # bob's home only (other tests may have given bob calendars of their own)
        assert bob.principal == "/bob/" and hdr in [c.href for c in calendars]
        assert all(c.href.startswith("/bob/") for c in calendars)
    finally:
        await bob.close()
