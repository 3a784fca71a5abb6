"""One MID per backend identity, however many workers sync a folder at once (issue 10).

Four parallel Mailbox.list_items on one folder after 20 new messages arrived used to give the same UID
several MID rows, four different answers, and changes_since(fid, 0) 60 changes whose extra rows were
never tombstoned. Two defences, each tested here:
- inside one gateway, the per-folder lock (gateway/store/folderlock.py) serializes the syncs of a folder,
  IMAP and DAV;
- between gateways sharing one PostgreSQL state database, which share no lock, the UNIQUE indexes of
  the schema refuse a second row and the insert paths take the row the other worker wrote.
"""
from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import replace

import psycopg
import pytest

from gateway.config import StateConfig
from gateway.store import Mailbox, StateDB
from gateway.store.state.db import SCHEMA_VERSION

from .test_store import imap_append, open_for

pytestmark = pytest.mark.integration

N = 20


def _event(uid: str, day: int) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//exgate//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:202405{day:02d}T090000Z\r\n"
            f"DTEND:202405{day:02d}T093000Z\r\nSUMMARY:Unique {day}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def _rows(mbx: Mailbox, fid: int, key: str) -> list[tuple]:
    """(identity, MID globcnt) of the live rows of a folder; identity = UID or href."""
    return mbx.db.all(f"SELECT {key}, mid FROM messages WHERE mailbox_id = ? AND fid = ? AND {key} IS NOT NULL "
                      f"ORDER BY {key}, mid", (mbx.mailbox_id, mbx.ident.globcnt_of(fid)))


async def _own_folder(mbx: Mailbox):
    """A new mail folder under the inbox for one test: the session-wide demo stack's INBOX also gets the
    other tests' deliveries, and one landing mid-test counted as a 21st change (CI, 2026-12-05)."""
    inbox = await mbx.folder_by_role("inbox")
    return await mbx.create_folder(inbox.fid, f"uniq-{uuid.uuid4().hex[:8]}")


def _assert_one_mid_each(rows: list[tuple]) -> None:
    idents = [r[0] for r in rows]
    dupes = sorted({i for i in idents if idents.count(i) > 1})
    assert not dupes, f"{len(dupes)} identities with several MIDs: {dupes[:5]}"


@pytest.mark.parametrize("mailboxes", [1, 4])
async def test_parallel_listings_give_one_mid_per_uid(backend, mailboxes):
    """Four listings at once: on one Mailbox (as the gateway holds one per user: the folder lock), and on
    four Mailbox objects over one SQLite state database (no shared lock)."""
    kind, cfg = backend
    mbx = await open_for(cfg)
    others = [await open_for(cfg, db=mbx.db) for _ in range(mailboxes - 1)]
    folder = await _own_folder(mbx)
    try:
        await mbx.list_items(folder.fid)
        base = mbx.changes_since(folder.fid, 0)
        tag = uuid.uuid4().hex[:6]
        for i in range(N):
            await asyncio.to_thread(imap_append, cfg, folder.ref, f"uniq {tag} {i}")

        workers = ([mbx] + others) * (4 // mailboxes)
        answers = await asyncio.gather(*(w.list_items(folder.fid) for w in workers))
        sets = [sorted(it.mid for it in items) for items in answers]
        assert all(s == sets[0] for s in sets), "the four listings disagree on the MIDs"
        rows = _rows(mbx, folder.fid, "uid")
        _assert_one_mid_each(rows)
        assert len(rows) == len(sets[0])
        new = mbx.changes_since(folder.fid, base.last_cn)
        assert len(new.changed) == N and not new.deleted
        assert len(mbx.changes_since(folder.fid, 0).changed) == len(rows)
        # Four Mailbox objects in one process no longer meet each other's rows: a sync reads the rows it
        # compares after the IMAP answer, in one transaction with no await inside. The race between
        # processes, where only the UNIQUE index helps, is the PostgreSQL test below.
    finally:
        for m in others:
            await m.close()
        await mbx.delete_folder(folder.fid)
        await mbx.close()


def _count_live_mid(monkeypatch) -> list:
    """The MIDs the insert path took from a row another worker wrote first."""
    met: list = []
    orig = getattr(Mailbox, "_live_mid", None)
    if orig is None:  # before the UNIQUE indexes there was no such path: the assertions on rows decide
        return met

    def counting(self, *args):
        mid = orig(self, *args)
        met.append(mid)
        return mid
    monkeypatch.setattr(Mailbox, "_live_mid", counting)
    return met


async def test_parallel_calendar_syncs_give_one_mid_per_href(backend):
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        cal = await mbx.folder_by_role("calendar")
        await mbx.list_items(cal.fid)
        base = mbx.changes_since(cal.fid, 0)
        tag = uuid.uuid4().hex[:6]
        hrefs = [f"{cal.ref}uniq-{tag}-{i}.ics" for i in range(8)]
        for i, href in enumerate(hrefs):  # written by another CalDAV client, straight to the server
            await mbx.backends.dav.put(href, _event(f"uniq-{tag}-{i}", i + 1), "text/calendar; charset=utf-8",
                                       create_only=True)
        try:
            answers = await asyncio.gather(*(mbx.list_items(cal.fid) for _ in range(4)))
            sets = [sorted(it.mid for it in items) for items in answers]
            assert all(s == sets[0] for s in sets), "the four listings disagree on the MIDs"
            rows = _rows(mbx, cal.fid, "href")
            _assert_one_mid_each(rows)
            assert {r[0] for r in rows} >= set(hrefs)
            new = mbx.changes_since(cal.fid, base.last_cn)
            assert len(new.changed) == len(hrefs) and not new.deleted
        finally:
            for href in hrefs:
                await mbx.backends.dav.delete(href)
    finally:
        await mbx.close()


# ------------------------------------------------------------------ two gateways, one PostgreSQL database

async def test_two_gateways_on_one_postgresql_give_one_mid_per_uid(backend, fresh_pg, monkeypatch):
    """Two gateway processes, simulated: two threads, each with its own event loop, StateDB connection and
    Mailbox (so no folder lock is shared), list the inbox twice each at the same time. Each worker's first
    IMAP change query waits until the other's has also been answered: both have then read the id map without the
    20 new UIDs, and both go on to insert rows for them. Only the database can keep the ids from splitting;
    the test counts that the insert path did meet the other worker's rows (``_live_mid``)."""
    kind, cfg = backend
    cfg = replace(cfg, state=StateConfig(dsn=fresh_pg))
    first = await open_for(cfg)
    folder = await _own_folder(first)
    await first.list_items(folder.fid)
    base = first.changes_since(folder.fid, 0)
    tag = uuid.uuid4().hex[:6]
    for i in range(N):
        await asyncio.to_thread(imap_append, cfg, folder.ref, f"uniq pg {tag} {i}")

    met = _count_live_mid(monkeypatch)
    barrier = threading.Barrier(2, timeout=60)

    def gateway() -> list[list[int]]:
        async def run():
            mbx = await open_for(cfg, db=StateDB.open(fresh_pg))
            imap = mbx.backends.imap
            waited = []

            def then_wait(orig):
                async def call(*args, **kwargs):
                    result = await orig(*args, **kwargs)
                    if not waited:
                        waited.append(True)
                        await asyncio.to_thread(barrier.wait)
                    return result
                return call
            # the folder is indexed already: its changes come from changes_since (a first indexing would
            # come from fetch_summaries)
            imap.fetch_summaries = then_wait(imap.fetch_summaries)
            imap.changes_since = then_wait(imap.changes_since)
            try:
                answers = await asyncio.gather(*(mbx.list_items(folder.fid) for _ in range(2)))
                return [sorted(it.mid for it in items) for items in answers]
            finally:
                await mbx.close()
                mbx.db.close()
        return asyncio.run(run())

    try:
        results = await asyncio.gather(asyncio.to_thread(gateway), asyncio.to_thread(gateway))
        sets = [s for r in results for s in r]
        assert all(s == sets[0] for s in sets), "the two gateways disagree on the MIDs"
        rows = _rows(first, folder.fid, "uid")
        _assert_one_mid_each(rows)
        new = first.changes_since(folder.fid, base.last_cn)
        assert len(new.changed) == N and not new.deleted
        assert met, "the second gateway never met the first one's rows: the test did not race"
    finally:
        await first.delete_folder(folder.fid)
        await first.close()
        first.db.close()


async def test_insert_of_a_recorded_identity(backend):
    """What the insert paths do when the UID or href has a live row already (written by another worker):
    a new message takes that row's MID; a message that brings its MID (a move, a sent copy) keeps it and the
    other row is tombstoned, so incremental sync reports it deleted. Neither is an error."""
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        inbox = await mbx.folder_by_role("inbox")
        g = inbox.globcnt
        first = mbx.insert_message(g, "imap", uidvalidity=7, uid=4_000_000)
        assert mbx.insert_message(g, "imap", uidvalidity=7, uid=4_000_000) == first
        with mbx.db.transaction():                        # inside a sync's transaction too
            assert mbx.insert_message(g, "imap", uidvalidity=7, uid=4_000_000) == first
        assert mbx.insert_message(g, "imap", uidvalidity=8, uid=4_000_000) != first  # another UIDVALIDITY
        cal = await mbx.folder_by_role("calendar")
        href = f"{cal.ref}uniq-{uuid.uuid4().hex[:6]}.ics"
        d = mbx.insert_message(cal.globcnt, "dav", href=href, etag='"1"')
        assert mbx.insert_message(cal.globcnt, "dav", href=href, etag='"2"') == d

        cn = mbx.changes_since(inbox.fid, 0).last_cn
        kept = mbx.counter.allocate()
        assert mbx.insert_message(g, "imap", uidvalidity=7, uid=4_000_000, globcnt=kept) == kept
        assert mbx.db.all("SELECT mid FROM messages WHERE mailbox_id = ? AND fid = ? AND uidvalidity = 7 AND "
                          "uid = 4000000", (mbx.mailbox_id, g)) == [(kept,)]
        assert mbx.ident.mid(first) in mbx.changes_since(inbox.fid, cn).deleted
    finally:
        await mbx.close()


def test_schema_2_duplicates_migrate_on_postgresql(fresh_pg):
    """The version 3 migration on PostgreSQL (tests/unit/test_state_db.py has it on SQLite)."""
    from gateway.store.mailbox import provision
    db = StateDB.open(fresh_pg)
    mb = provision(db, "alice@example.test").mailbox_id
    db.execute("DROP INDEX messages_imap_identity")
    db.execute("DROP INDEX messages_dav_identity")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    rows = [(500, 1, None), (520, 1, None), (501, 2, None), (600, None, "/c/a.ics"), (610, None, "/c/a.ics")]
    for mid, uid, href in rows:
        db.execute("INSERT INTO messages (mailbox_id, mid, fid, kind, uidvalidity, uid, href, cn, created, modified) "
                   "VALUES (?, ?, 1000, ?, ?, ?, ?, ?, 'x', 'x')",
                   (mb, mid, "imap" if uid else "dav", 7 if uid else None, uid, href, mid))
    db.close()
    db = StateDB.open(fresh_pg)
    try:
        assert db.one("SELECT value FROM meta WHERE key = 'schema_version'") == (str(SCHEMA_VERSION),)
        assert [r[0] for r in db.all("SELECT mid FROM messages WHERE mailbox_id = ? ORDER BY mid", (mb,))] == \
            [500, 501, 600]
        assert [r[0] for r in db.all("SELECT mid FROM tombstones WHERE mailbox_id = ? ORDER BY mid", (mb,))] == \
            [520, 610]
        with pytest.raises(psycopg.errors.UniqueViolation):
            db.execute("INSERT INTO messages (mailbox_id, mid, fid, kind, uidvalidity, uid, cn, created, modified) "
                       "VALUES (?, 700, 1000, 'imap', 7, 2, 700, 'x', 'x')", (mb,))
    finally:
        db.close()
