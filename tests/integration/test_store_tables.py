"""Contents tables on the summary index (issue 11), on Dovecot and on the embedded stack.

A folder's rows, their order, restriction and windows come from the state database; the backend is asked
only for what changed since the folder was last seen. Each test writes with a plain IMAP client, as
another program would, and reads through the store's view.
"""
from __future__ import annotations

import asyncio
import imaplib
import uuid

import pytest

from gateway.store.tables import rows as table_rows
from protocols.mapi import restrictions as R
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PidNameKeywords

from .test_store import USERS, open_for, plain_imap

pytestmark = pytest.mark.integration


def _append(cfg, folder: str, messages: list[tuple[str, str, str]]) -> None:
    """(subject, sender, RFC 5322 date) each, appended over one plain IMAP connection."""
    conn = plain_imap(cfg)
    try:
        for subject, sender, date in messages:
            msg = (f"From: {sender} <{sender.lower().replace(' ', '.')}@example.org>\r\nTo: Alice <alice@example.test>"
                   f"\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{uuid.uuid4()}@example.org>\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody\r\n").encode()
            typ, _ = conn.append(f'"{folder}"', None, imaplib.Time2Internaldate(_epoch(date)), msg)
            assert typ == "OK"
    finally:
        conn.logout()


def _epoch(date: str) -> float:
    from email.utils import parsedate_to_datetime
    return parsedate_to_datetime(date).timestamp()


def _imap(cfg, folder: str, *commands) -> None:
    conn = plain_imap(cfg)
    try:
        conn.select(f'"{folder}"')
        for cmd in commands:
            typ, data = conn.uid(*cmd)
            assert typ == "OK", (cmd, data)
        conn.expunge()
    finally:
        conn.logout()


def _uid_of(cfg, folder: str, subject: str) -> int:
    conn = plain_imap(cfg)
    try:
        conn.select(f'"{folder}"', readonly=True)
        typ, data = conn.uid("SEARCH", "HEADER", "Subject", f'"{subject}"')
        return int(data[0].split()[-1])
    finally:
        conn.logout()


@pytest.fixture
async def tagged_folder(backend):
    """A fresh mail folder with 12 messages of known subjects, senders and dates."""
    kind, cfg = backend
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    inbox = await mbx.folder_by_role("inbox")
    folder = await mbx.create_folder(inbox.fid, f"tables {tag}")
    msgs = [(f"{tag} item {i:02d} {'Report' if i % 3 == 0 else 'note'}", f"Sender {chr(65 + (i * 5) % 12)}",
             f"Mon, {i + 1:02d} Nov 2026 09:00:00 +0000") for i in range(12)]
    await asyncio.to_thread(_append, cfg, folder.ref, msgs)
    try:
        yield kind, cfg, mbx, folder, msgs, tag
    finally:
        await mbx.delete_folder(folder.fid)
        await mbx.close()


def _subjects(items) -> list[str]:
    return [i.props.get(P.PidTagSubject) for i in items]


async def test_sorted_windows_from_the_index(tagged_folder):
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    newest = R.SortOrder(P.PidTagMessageDeliveryTime, R.ORDER_DESCENDING)
    view = await mbx.contents_view(folder.fid, None, [newest])
    assert view.in_database
    expected = [s for s, _, _ in reversed(msgs)]
    assert view.count() == 12
    assert _subjects(view.rows(0, 12)) == expected
    assert _subjects(view.rows(5, 3)) == expected[5:8]
    assert _subjects(view.rows(10, 50)) == expected[10:]
    by_sender = await mbx.contents_view(folder.fid, None, [R.SortOrder(P.PidTagSenderName, R.ORDER_ASCENDING),
                                                           newest])
    got = [(i.props[P.PidTagSenderName], i.props[P.PidTagMessageDeliveryTime]) for i in by_sender.rows(0, None)]
    assert got == sorted(got, key=lambda r: (r[0].lower(), -r[1].timestamp()))
    # the same rows, with the same properties, as the whole listing
    listed = {i.mid: i.props for i in await mbx.list_items(folder.fid)}
    for item in view.rows(0, None):
        assert item.props[P.PidTagSubject] == listed[item.mid][P.PidTagSubject]
        assert item.props[P.PidTagMid] == item.mid


async def test_restrictions_run_in_the_database_or_on_the_rows(tagged_folder):
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    reports = R.ContentRestriction(R.FL_SUBSTRING | R.FL_IGNORECASE, P.PidTagSubject, "report")
    view = await mbx.contents_view(folder.fid, reports, [R.SortOrder(P.PidTagSubject, R.ORDER_ASCENDING)])
    assert view.in_database
    want = sorted(s for s, _, _ in msgs if "Report" in s)
    assert _subjects(view.rows(0, None)) == want and view.count() == 4
    # case-sensitive: the database finds the case-insensitive superset, the rows are checked again
    exact = R.ContentRestriction(R.FL_SUBSTRING, P.PidTagSubject, "report")
    view = await mbx.contents_view(folder.fid, exact, [])
    assert not view.in_database and view.count() == 0
    # a property the index does not keep (categories) is filtered on the rows
    uid = await asyncio.to_thread(_uid_of, cfg, folder.ref, f"{tag} item 04")
    target = next(i for i in await mbx.list_items(folder.fid) if i.props.get(P.PidTagSubject).endswith("item 04 note"))
    await mbx.update_item(target.mid, {PidNameKeywords: ["Blue"]})
    blue = R.ContentRestriction(R.FL_FULLSTRING | R.FL_IGNORECASE, PidNameKeywords, "blue")
    view = await mbx.contents_view(folder.fid, blue, [])
    assert [i.mid for i in view.rows(0, None)] == [target.mid] and uid
    # Not(missing property) is TRUE, as in MAPI
    never = R.NotRestriction(R.PropertyRestriction(R.RELOP_EQ, P.PidTagImportance, 2))
    assert (await mbx.contents_view(folder.fid, never, [])).count() == 12


async def test_changes_of_other_clients_reach_the_index_without_a_full_listing(tagged_folder):
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    view = await mbx.contents_view(folder.fid, None, [])
    assert view.count() == 12
    fetched: list[int] = []
    imap = mbx.backends.imap
    orig = imap.fetch_summaries

    async def counting(folder_ref, uids="1:*", *, envelope=True, bodystructure=False):
        found = await orig(folder_ref, uids, envelope=envelope, bodystructure=bodystructure)
        if envelope:
            fetched.extend(s.uid for s in found)
        return found
    imap.fetch_summaries = counting
    changed_env: list[int] = []
    orig_changes = imap.changes_since

    async def counting_changes(*args, **kwargs):
        ch = await orig_changes(*args, **kwargs)
        changed_env.extend(s.uid for s in ch.changed if s.envelope is not None)
        return ch
    imap.changes_since = counting_changes
    try:
        read_uid = await asyncio.to_thread(_uid_of, cfg, folder.ref, f"{tag} item 03")
        gone_uid = await asyncio.to_thread(_uid_of, cfg, folder.ref, f"{tag} item 07")
        await asyncio.to_thread(_imap, cfg, folder.ref, ("STORE", str(read_uid), "+FLAGS", "(\\Seen)"),
                                ("STORE", str(gone_uid), "+FLAGS", "(\\Deleted)"))
        await asyncio.to_thread(_append, cfg, folder.ref, [(f"{tag} late arrival", "Sender Z",
                                                            "Tue, 24 Nov 2026 09:00:00 +0000")])
        unread = R.BitMaskRestriction(R.BMR_EQZ, P.PidTagMessageFlags, P.MSGFLAG_READ)
        view = await mbx.contents_view(folder.fid, unread, [R.SortOrder(P.PidTagMessageDeliveryTime,
                                                                         R.ORDER_DESCENDING)])
        assert view.in_database
        subjects = _subjects(view.rows(0, None))
        assert subjects[0] == f"{tag} late arrival"
        assert not any(s.startswith(f"{tag} item 03") or s.startswith(f"{tag} item 07") for s in subjects)
        assert len(subjects) == 11
        # only the new message's summary came from the server (Dovecot: QRESYNC names it; pymap: the FLAGS
        # listing shows one new UID), never the folder's twelve
        assert len(set(fetched) | set(changed_env)) <= 2, (fetched, changed_env)
        folder_row = await mbx.get_folder(folder.fid, counts=True)
        assert folder_row.props.get(P.PidTagContentCount) == 12
    finally:
        imap.fetch_summaries = orig
        imap.changes_since = orig_changes


async def test_a_window_reads_only_its_rows(tagged_folder, monkeypatch):
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    view = await mbx.contents_view(folder.fid, None, [R.SortOrder(P.PidTagMessageDeliveryTime,
                                                                   R.ORDER_DESCENDING)])
    decoded: list[int] = []
    orig = table_rows.base_props

    def counting(mbx_, kind_, summary, flags):
        decoded.append(1)
        return orig(mbx_, kind_, summary, flags)
    monkeypatch.setattr(table_rows, "base_props", counting)
    assert len(view.rows(4, 3)) == 3 and view.count() == 12
    assert len(decoded) == 3


async def test_gateway_writes_are_in_the_index_at_once(tagged_folder):
    """A message the gateway appends, moves or rewrites has its summary before any sync."""
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    from .test_store import note
    drafts = await mbx.folder_by_role("drafts")
    item = await mbx.create_item(drafts.fid, note(f"{tag} drafted"))
    row = mbx.db.one("SELECT i_subject, summary IS NOT NULL FROM messages WHERE mailbox_id = ? AND mid = ?",
                     (mbx.mailbox_id, item.globcnt))
    assert row == (f"{tag} drafted".casefold(), 1)
    await mbx.move_items([item.mid], folder.fid)
    view = await mbx.contents_view(folder.fid, R.ContentRestriction(R.FL_SUBSTRING | R.FL_IGNORECASE,
                                                                    P.PidTagSubject, "drafted"), [], sync=False)
    assert [i.mid for i in view.rows(0, None)] == [item.mid]
    # a property kept beside the message (overlay) sorts and restricts too
    other = next(i for i in await mbx.list_items(folder.fid) if i.props[P.PidTagSubject].startswith(f"{tag} item 05"))
    await mbx.update_item(other.mid, {P.PidTagImportance: 2})
    high = R.PropertyRestriction(R.RELOP_EQ, P.PidTagImportance, 2)
    assert [i.mid for i in (await mbx.contents_view(folder.fid, high, [], sync=False)).rows(0, None)] == [other.mid]
    assert USERS["alice"]


async def test_calendar_rows_restricted_by_time_in_the_database(backend):
    """Appointments (DAV) are indexed by start and end: a time window runs in SQL, and a folder whose
    index columns were lost (an older database) gets them back from the summaries on the next view."""
    from datetime import datetime, timedelta, timezone

    from gateway.store import MessageContent
    from protocols.mapi.props import appointment as A
    kind, cfg = backend
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    made = []
    try:
        cal = await mbx.folder_by_role("calendar")
        base = datetime(2031, 3, 2, 9, 0, tzinfo=timezone.utc)
        for day in range(5):
            start = base + timedelta(days=day)
            made.append(await mbx.create_item(cal.fid, MessageContent({
                P.PidTagMessageClass: "IPM.Appointment", P.PidTagSubject: f"{tag} day {day}",
                A.PidLidAppointmentStartWhole: start, A.PidLidAppointmentEndWhole: start + timedelta(hours=1)})))
        window = R.AndRestriction((
            R.PropertyRestriction(R.RELOP_LT, A.PidLidAppointmentStartWhole, base + timedelta(days=3)),
            R.PropertyRestriction(R.RELOP_GE, A.PidLidAppointmentEndWhole, base + timedelta(days=1)),
            R.ContentRestriction(R.FL_PREFIX | R.FL_IGNORECASE, P.PidTagSubject, tag)))
        by_start = [R.SortOrder(A.PidLidAppointmentStartWhole, R.ORDER_DESCENDING)]
        view = await mbx.contents_view(cal.fid, window, by_start)
        assert view.in_database
        assert _subjects(view.rows(0, None)) == [f"{tag} day 2", f"{tag} day 1"]
        # the index columns gone, as in a file from before them: recomputed from the rows' summaries
        mbx.db.execute("UPDATE messages SET i_start = NULL, i_end = NULL, i_subject = NULL WHERE mailbox_id = ? "
                       "AND fid = ?", (mbx.mailbox_id, cal.globcnt))
        mbx.db.execute("UPDATE folders SET indexed_at = NULL WHERE mailbox_id = ? AND fid = ?",
                       (mbx.mailbox_id, cal.globcnt))
        view = await mbx.contents_view(cal.fid, window, by_start)
        assert _subjects(view.rows(0, None)) == [f"{tag} day 2", f"{tag} day 1"]
    finally:
        if made:
            await mbx.delete_items([m.mid for m in made])
        await mbx.close()


async def test_importance_and_sensitivity_of_mail_in_the_table(backend):
    """A message list shows what GetItem shows: Importance/X-Priority and Sensitivity come with the summary."""
    kind, cfg = backend
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    try:
        inbox = await mbx.folder_by_role("inbox")
        folder = await mbx.create_folder(inbox.fid, f"importance {tag}")

        def append() -> None:       # another client, in a thread (the embedded IMAP server runs in this loop)
            conn = plain_imap(cfg)
            try:
                for extra, subject in (("Importance: high\r\nSensitivity: Private\r\n", "urgent"),
                                       ("X-Priority: 5 (Lowest)\r\n", "whenever"), ("", "plain")):
                    msg = (f"From: a@example.org\r\nTo: alice@example.test\r\nSubject: {tag} {subject}\r\n"
                           f"{extra}Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\nbody\r\n").encode()
                    assert conn.append(f'"{folder.ref}"', None, None, msg)[0] == "OK"
            finally:
                conn.logout()
        await asyncio.to_thread(append)
        view = await mbx.contents_view(folder.fid, None, [R.SortOrder(P.PidTagImportance, R.ORDER_DESCENDING)])
        rows = view.rows(0, None)
        assert [(i.props[P.PidTagSubject].split()[-1], i.props[P.PidTagImportance], i.props[P.PidTagSensitivity])
                for i in rows] == [("urgent", 2, 2), ("plain", 1, 0), ("whenever", 0, 0)]
        for row in rows:
            full = await mbx.get_item(row.mid)
            assert full.props[P.PidTagImportance] == row.props[P.PidTagImportance]
            assert full.props[P.PidTagSensitivity] == row.props[P.PidTagSensitivity]
        await mbx.delete_folder(folder.fid)
    finally:
        await mbx.close()


async def test_cursor_seek_and_bookmarks(tagged_folder):
    """The cursor a ROP table keeps: seek from each origin, fractional seek, bookmarks, query both ways."""
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    view = await mbx.contents_view(folder.fid, None, [R.SortOrder(P.PidTagMessageDeliveryTime,
                                                                   R.ORDER_ASCENDING)])
    names = [s for s, _, _ in msgs]
    assert _subjects(view.query(3)) == names[:3] and view.position == 3
    assert view.seek("current", 100) == 9 and view.position == 12
    assert view.seek("end", -2) == -2 and _subjects(view.query(5)) == names[10:]
    view.seek_fraction(1, 2)
    assert view.position == 6
    mark = view.bookmark()
    assert _subjects(view.query(-2)) == [names[5], names[4]] and view.position == 4
    assert view.seek_bookmark(mark, 1) == (1, True) and _subjects(view.query(1)) == [names[7]]
    assert view.seek("beginning", -5) == 0 and view.position == 0
    gone = view.rows(6, 1)[0]
    await mbx.delete_items([gone.mid])
    view = await mbx.contents_view(folder.fid, None, [R.SortOrder(P.PidTagMessageDeliveryTime,
                                                                   R.ORDER_ASCENDING)])
    assert view.seek_bookmark(mark) == (0, False)
    found = view.find_row(R.ContentRestriction(R.FL_SUBSTRING | R.FL_IGNORECASE, P.PidTagSubject, "item 09"))
    assert found == 8


async def test_categorized_view_with_expand_and_collapse(tagged_folder):
    """Rows grouped by sender: a header per sender with its count and unread count, members below it;
    collapse and expand change the rows as RopCollapseRow/RopExpandRow report; the state comes back."""
    from gateway.store.tables.categories import CategorizedView
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    sorts = [R.SortOrder(P.PidTagSenderName, R.ORDER_ASCENDING),
             R.SortOrder(P.PidTagMessageDeliveryTime, R.ORDER_DESCENDING)]
    view = CategorizedView(await mbx.contents_view(folder.fid, None, sorts), categories=1, expanded=1)
    senders = sorted({s for _, s, _ in msgs}, key=str.lower)
    rows = view.rows(0, None)
    assert view.count() == len(rows) == len(senders) + 12
    headers = [r for r in rows if r.props[P.PidTagRowType] == P.TBL_EXPANDED_CATEGORY]
    assert [h.props[P.PidTagSenderName] for h in headers] == senders
    first = headers[0]
    members = [s for s, who, _ in msgs if who == senders[0]]
    assert first.props[P.PidTagContentCount] == len(members) == first.props[P.PidTagContentUnreadCount]
    under = rows[1:1 + len(members)]
    assert all(r.props[P.PidTagRowType] == P.TBL_LEAF_ROW and r.props[P.PidTagDepth] == 1 for r in under)
    assert _subjects(under) == sorted(members, reverse=True)      # newest first inside the group
    assert view.collapse(first.props[P.PidTagInstanceKey]) == len(members)
    assert view.count() == len(senders) + 12 - len(members)
    assert view.rows(0, 1)[0].props[P.PidTagRowType] == P.TBL_COLLAPSED_CATEGORY
    state = view.state()
    assert view.expand(first.props[P.PidTagInstanceKey]) == len(members)
    assert view.expand(b"no such key") is None
    again = CategorizedView(await mbx.contents_view(folder.fid, None, sorts), categories=1, expanded=1)
    again.set_state(state)
    assert again.count() == len(senders) + 12 - len(members)
    closed = CategorizedView(await mbx.contents_view(folder.fid, None, sorts), categories=1, expanded=0)
    assert closed.count() == len(senders)


async def test_multivalue_instances_one_row_per_category(tagged_folder):
    """A sort on the categories with the MultivalueInstance bit: one row per category of an item."""
    from dataclasses import replace as dc_replace
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    items = {i.props[P.PidTagSubject]: i for i in await mbx.list_items(folder.fid)}
    a, b = items[msgs[0][0]], items[msgs[1][0]]
    await mbx.update_item(a.mid, {PidNameKeywords: ["Red", "Blue"]})
    await mbx.update_item(b.mid, {PidNameKeywords: ["Red"]})
    mvi = dc_replace(PidNameKeywords, type=PidNameKeywords.type | R.MVI_FLAG)
    view = await mbx.contents_view(folder.fid, None, [R.SortOrder(mvi, R.ORDER_ASCENDING),
                                                      R.SortOrder(P.PidTagSubject, R.ORDER_ASCENDING)])
    assert not view.in_database
    rows = view.rows(0, None)
    assert view.count() == len(rows) == 10 + 3
    tail = [(r.props[P.PidTagSubject], r.props[mvi]) for r in rows[10:]]
    assert tail == [(msgs[0][0], "Blue"), (msgs[0][0], "Red"), (msgs[1][0], "Red")]
    assert sorted(r.props[P.PidTagInstanceNum] for r in rows[10:12]) == [0, 1]      # the item's two rows
    red = R.ContentRestriction(R.FL_FULLSTRING | R.FL_IGNORECASE, mvi, "red")
    only_red = await mbx.contents_view(folder.fid, red, [R.SortOrder(mvi, R.ORDER_ASCENDING)])
    assert sorted(r.props[P.PidTagSubject] for r in only_red.rows(0, None)) == [msgs[0][0], msgs[1][0]]


async def test_hierarchy_view_restricted_and_deep(backend):
    """The folders under a folder as a table: children or all descendants (with PidTagDepth), restricted."""
    kind, cfg = backend
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    try:
        inbox = await mbx.folder_by_role("ipm_subtree")   # (pymap's maildir cannot nest under INBOX)
        top = await mbx.create_folder(inbox.fid, f"h {tag} top")
        await mbx.create_folder(top.fid, f"h {tag} child")
        view = await mbx.hierarchy_view(inbox.fid, deep=True, restriction=R.ContentRestriction(
            R.FL_SUBSTRING | R.FL_IGNORECASE, P.PidTagDisplayName, f"H {tag}"))
        assert [(f.display_name, f.props[P.PidTagDepth]) for f in view.rows(0, None)] == [
            (f"h {tag} top", 0), (f"h {tag} child", 1)]
        shallow = await mbx.hierarchy_view(inbox.fid, restriction=R.ContentRestriction(
            R.FL_SUBSTRING | R.FL_IGNORECASE, P.PidTagDisplayName, tag))
        assert shallow.count() == 1
        await mbx.delete_folder(top.fid)
    finally:
        await mbx.close()


async def test_table_events_for_an_open_view(tagged_folder):
    """Mailbox events (the store's classifier) as row events of one view: a new message is added after
    the row it now follows; a change that takes a row out of the restriction deletes it."""
    from gateway.store.events import EventClassifier
    from gateway.store.tables.notify import ROW_ADDED, ROW_DELETED, ROW_MODIFIED, table_events
    kind, cfg, mbx, folder, msgs, tag = tagged_folder
    unread = R.BitMaskRestriction(R.BMR_EQZ, P.PidTagMessageFlags, P.MSGFLAG_READ)
    oldest_first = [R.SortOrder(P.PidTagMessageDeliveryTime, R.ORDER_ASCENDING)]
    view = await mbx.contents_view(folder.fid, unread, oldest_first)
    classifier = EventClassifier(mbx)
    base = mbx.changes_since(folder.fid, 0).last_cn
    await asyncio.to_thread(_append, cfg, folder.ref, [(f"{tag} newest", "Sender Q",
                                                        "Mon, 30 Nov 2026 09:00:00 +0000")])
    view = await mbx.contents_view(folder.fid, unread, oldest_first)
    events = await classifier.folder_changes(mbx.changes_since(folder.fid, base))
    got = table_events(view, events)
    last = view.rows(view.count() - 2, 2)
    assert got == [type(got[0])(ROW_ADDED, last[1].globcnt, last[0].globcnt)]
    base = mbx.changes_since(folder.fid, 0).last_cn
    await mbx.set_read([last[1].mid], True)
    view = await mbx.contents_view(folder.fid, unread, oldest_first)
    events = await classifier.folder_changes(mbx.changes_since(folder.fid, base))
    assert [(e.kind, e.globcnt) for e in table_events(view, events)] == [(ROW_DELETED, last[1].globcnt)]
    everything = await mbx.contents_view(folder.fid, None, oldest_first)
    assert [e.kind for e in table_events(everything, events)] == [ROW_MODIFIED]


async def test_views_on_postgresql(backend, fresh_pg):
    """The same table SQL on the PostgreSQL state database (several gateways share one): sorted windows,
    a restriction in the database, counts, a category outline and the folder's counts."""
    from dataclasses import replace as dc_replace

    from gateway.config import StateConfig
    from gateway.store.tables.categories import CategorizedView
    kind, cfg = backend
    cfg = dc_replace(cfg, state=StateConfig(dsn=fresh_pg))
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    try:
        inbox = await mbx.folder_by_role("inbox")
        folder = await mbx.create_folder(inbox.fid, f"pg {tag}")
        msgs = [(f"{tag} pg {i:02d} {'Report' if i % 3 == 0 else 'note'}", f"Sender {'AB'[i % 2]}",
                 f"Mon, {i + 1:02d} Nov 2026 09:00:00 +0000") for i in range(6)]
        await asyncio.to_thread(_append, cfg, folder.ref, msgs)
        newest = [R.SortOrder(P.PidTagMessageDeliveryTime, R.ORDER_DESCENDING)]
        view = await mbx.contents_view(folder.fid, None, newest)
        assert view.in_database and view.count() == 6
        assert _subjects(view.rows(1, 2)) == [msgs[4][0], msgs[3][0]]
        reports = R.ContentRestriction(R.FL_SUBSTRING | R.FL_IGNORECASE, P.PidTagSubject, "REPORT")
        view = await mbx.contents_view(folder.fid, reports, newest)
        assert view.in_database and _subjects(view.rows(0, None)) == [msgs[3][0], msgs[0][0]]
        unread = R.BitMaskRestriction(R.BMR_EQZ, P.PidTagMessageFlags, P.MSGFLAG_READ)
        assert (await mbx.contents_view(folder.fid, unread, newest)).count() == 6
        grouped = CategorizedView(await mbx.contents_view(folder.fid, None, [
            R.SortOrder(P.PidTagSenderName, R.ORDER_ASCENDING)] + newest), categories=1, expanded=0)
        assert grouped.count() == 2
        got = await mbx.get_folder(folder.fid, counts=True)
        assert got.props[P.PidTagContentCount] == 6 and got.props[P.PidTagAssociatedContentCount] == 0
        await mbx.delete_folder(folder.fid)
    finally:
        await mbx.close()
        mbx.db.close()


async def test_a_big_message_is_converted_off_the_event_loop(backend, monkeypatch):
    """GetItem of a big message converts MIME -> properties in a worker thread; a small one inline."""
    import base64 as b64

    from gateway.store.adapters import imap as imap_adapter
    kind, cfg = backend
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    threaded: list = []
    real = asyncio.to_thread

    async def spy(fn, *args, **kwargs):
        threaded.append(getattr(fn, "__name__", fn))
        return await real(fn, *args, **kwargs)
    monkeypatch.setattr(imap_adapter.asyncio, "to_thread", spy)
    try:
        inbox = await mbx.folder_by_role("inbox")
        folder = await mbx.create_folder(inbox.fid, f"big {tag}")
        blob = b64.encodebytes(bytes(range(256)) * 1400).decode()      # ~470 KB of base64
        big = (f"From: a@example.org\r\nTo: alice@example.test\r\nSubject: {tag} big\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
               "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=x.bin\r\n"
               f"Content-Transfer-Encoding: base64\r\n\r\n{blob}\r\n--b--\r\n").encode()
        small = f"From: a@example.org\r\nTo: alice@example.test\r\nSubject: {tag} small\r\n\r\nhi\r\n".encode()

        def append():
            conn = plain_imap(cfg)
            try:
                for msg in (big, small):
                    assert conn.append(f'"{folder.ref}"', None, None, msg)[0] == "OK"
            finally:
                conn.logout()
        await asyncio.to_thread(append)
        threaded.clear()
        rows = {i.props[P.PidTagSubject]: i for i in (await mbx.contents_view(folder.fid)).rows(0, None)}
        got = await mbx.get_item(rows[f"{tag} big"].mid)
        assert got.content.attachments and threaded == ["mime_to_content"]
        threaded.clear()
        await mbx.get_item(rows[f"{tag} small"].mid)
        assert threaded == []
        await mbx.delete_folder(folder.fid)
    finally:
        await mbx.close()


async def test_getitem_shows_the_delivery_time_its_table_row_shows(backend):
    """A message without a Received header: GetItem's PidTagMessageDeliveryTime is the server's
    INTERNALDATE, the time its row in the message list shows and sorts by."""
    kind, cfg = backend
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    try:
        inbox = await mbx.folder_by_role("inbox")
        folder = await mbx.create_folder(inbox.fid, f"received {tag}")
        await asyncio.to_thread(_append, cfg, folder.ref, [(f"{tag} no received", "Sender R",
                                                            "Mon, 02 Nov 2026 09:00:00 +0000")])
        row = (await mbx.contents_view(folder.fid)).rows(0, 1)[0]
        item = await mbx.get_item(row.mid)
        assert item.props[P.PidTagMessageDeliveryTime] == row.props[P.PidTagMessageDeliveryTime]
        await mbx.delete_folder(folder.fid)
    finally:
        await mbx.close()


async def test_a_rows_paper_clip_is_the_messages(backend):
    """The list's paper clip (PidTagHasAttachments, MSGFLAG_HASATTACH from BODYSTRUCTURE) is what opening the
    message gives (from its MIME), for every message of the MIME corpus: Apple Mail's inline pictures too."""
    from pathlib import Path
    kind, cfg = backend
    mbx = await open_for(cfg)
    tag = uuid.uuid4().hex[:6]
    corpus = sorted((Path(__file__).parents[2] / "fixtures" / "mime").glob("*.eml"))
    try:
        inbox = await mbx.folder_by_role("inbox")
        folder = await mbx.create_folder(inbox.fid, f"clips {tag}")

        def append() -> None:       # another client, in a thread (the embedded IMAP server runs in this loop)
            conn = plain_imap(cfg)
            try:
                for path in corpus:
                    assert conn.append(f'"{folder.ref}"', None, None, path.read_bytes())[0] == "OK"
            finally:
                conn.logout()
        await asyncio.to_thread(append)
        rows = (await mbx.contents_view(folder.fid, None, [])).rows(0, None)
        assert len(rows) == len(corpus)
        differ = []
        for row in rows:
            full = await mbx.get_item(row.mid)
            clip = (bool(row.props.get(P.PidTagHasAttachments)),
                    bool(row.props.get(P.PidTagMessageFlags, 0) & P.MSGFLAG_HASATTACH))
            want = (bool(full.props.get(P.PidTagHasAttachments)),
                    bool(full.props.get(P.PidTagMessageFlags, 0) & P.MSGFLAG_HASATTACH))
            if clip != want:
                differ.append((row.props.get(P.PidTagSubject), clip, want))
        assert differ == [], "\n".join(map(repr, differ))
        await mbx.delete_folder(folder.fid)
    finally:
        await mbx.close()
