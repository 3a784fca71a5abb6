"""MAPI over HTTP contents tables with Outlook's view columns, on both gateways: a column the table index
does not keep (categories, Cc, Internet message id, body, location, reminder ...) is read for the page's
rows through the store, so a QueryRows row shows what RopOpenMessage + RopGetPropertiesSpecific of the
same message show; a property the message does not have is PT_ERROR ecNotFound in its cell."""
from __future__ import annotations

import asyncio
import imaplib
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from gateway.store.searchfolders import RESTART_SEARCH, SHALLOW_SEARCH
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PS_PUBLIC_STRINGS, PSETID
from protocols.mapi.restrictions import (FL_IGNORECASE, FL_SUBSTRING, ORDER_DESCENDING, ContentRestriction, SortOrder,
                                        SortOrderSet)
from protocols.rops import folder as F, message as MSG, property as PR, table as T
from protocols.rops.rows import FlaggedValue, decode_rows

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_emsmdb_day import special_folder

EC_NOT_FOUND = 0x8004010F
EC_TOO_COMPLEX = 0x80040117
PT_LONG, PT_BOOLEAN, PT_SYSTIME, PT_UNICODE, PT_MV_UNICODE = 0x0003, 0x000B, 0x0040, 0x001F, 0x101F

# Outlook's message-list columns beyond its first screen: the index keeps the first six, the rest come from
# the message (MS-OXPROPS tags; named ones by name below).
MAIL_COLUMNS = (P.PidTagSubject, P.PidTagMessageDeliveryTime, P.PidTagSentRepresentingName, P.PidTagMessageFlags,
                P.PidTagMessageSize, P.PidTagImportance,
                P.PidTagInternetMessageId, P.PidTagDisplayCc, P.PidTagLastVerbExecuted, P.PidTagIconIndex,
                P.PidTagBody, P.PidTagSensitivity, P.PidTagConversationTopic, P.PidTagInternetReferences,
                P.PidTagReplyRecipientNames)
# (property set, lid or name, type)
NAMED = {
    "keywords": (PS_PUBLIC_STRINGS, "Keywords", PT_MV_UNICODE),
    "location": (PSETID.Appointment, 0x8208, PT_UNICODE),
    "start": (PSETID.Appointment, 0x820D, PT_SYSTIME),
    "reminder_set": (PSETID.Common, 0x8503, PT_BOOLEAN),
    "reminder_delta": (PSETID.Common, 0x8501, PT_LONG),
    "reminder_time": (PSETID.Common, 0x8560, PT_SYSTIME),
    "task_due": (PSETID.Task, 0x8105, PT_SYSTIME),
    "file_under": (PSETID.Address, 0x8005, PT_UNICODE),
    "email1": (PSETID.Address, 0x8083, PT_UNICODE),
}


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


async def named_tags(c, logon_h) -> dict[str, int]:
    names = [PR.PropertyName(PR.KIND_NAME, guid, name=key) if isinstance(key, str) else
             PR.PropertyName(PR.KIND_LID, guid, lid=key) for guid, key, _ in NAMED.values()]
    got = await c.execute([PR.GetPropertyIdsFromNamesRequest(LOGON_ID, 0, 0x02, tuple(names))], [logon_h])
    assert got.rops[0].return_value == 0
    return {k: (pid << 16) | NAMED[k][2] for k, pid in zip(NAMED, got.rops[0].property_ids)}


async def table_rows(c, logon_h, fid: int, cols: tuple, sort=None) -> list[tuple]:
    """(MID, row values) of a folder's contents table, the columns after PidTagMid."""
    cols = (P.PidTagMid, *cols)
    rops = [F.OpenFolderRequest(LOGON_ID, 0, 1, fid, 0), F.GetContentsTableRequest(LOGON_ID, 1, 2, 0),
            T.SetColumnsRequest(LOGON_ID, 2, 0, cols)]
    if sort is not None:
        rops.append(T.SortTableRequest(LOGON_ID, 2, 0, SortOrderSet((SortOrder(sort, ORDER_DESCENDING),))))
    rops.append(T.QueryRowsRequest(LOGON_ID, 2, 0, 1, 300))
    got = await c.execute(rops, [logon_h, NO, NO])
    assert all(r.return_value == 0 for r in got.rops), [hex(r.return_value) for r in got.rops]
    return [(r.values[0], r.values[1:]) for r in got.rops[-1].rows(cols)]


async def message_props(c, logon_h, fid: int, mid: int, cols: tuple) -> tuple:
    got = await c.execute([MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0x00, mid),
                           PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, tuple(cols))], [logon_h, NO])
    assert got.rops[0].return_value == 0
    return got.rops[1].row(tuple(cols)).values


def missing(v) -> bool:
    return isinstance(v, FlaggedValue)


def not_found(v) -> bool:
    return isinstance(v, FlaggedValue) and v.value == EC_NOT_FOUND


async def gaps(c, logon_h, fid: int, cols: tuple, sort=None) -> dict[int, int]:
    """{column: rows} where the table row has no value and the opened message has one."""
    out: dict[int, int] = {}
    for mid, values in await table_rows(c, logon_h, fid, cols, sort):
        opened = await message_props(c, logon_h, fid, mid, cols)
        for tag, in_table, in_message in zip(cols, values, opened):
            if missing(in_table) and not missing(in_message):
                out[tag] = out.get(tag, 0) + 1
    return out


def append_mail(gw, login: str, subject: str, *, cc: str | None) -> str:
    """A message put into the Inbox over IMAP (APPEND) with a Cc and a Message-ID; -> the Message-ID."""
    msg = EmailMessage()
    msg["From"] = "Carol <carol@example.test>"
    msg["To"] = f"{login}@example.test"
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    msg.set_content(f"body of {subject}")
    cfg = gw.state.config.imap
    with imaplib.IMAP4(cfg.host, cfg.port) as im:
        im.login(login, f"{login}pw")
        im.append("INBOX", None, imaplib.Time2Internaldate(time.time()), msg.as_bytes())
    return msg["Message-ID"]


def set_categories(gw, login: str, subject: str, categories: list[str]) -> None:
    """Categories given by another client (exchangelib over EWS)."""
    from .test_ews_exchangelib import account
    a = account(gw, login)
    (item,) = [i for i in a.inbox.filter(subject=subject)]
    item.categories = categories
    item.save(update_fields=["categories"])


async def test_outlook_view_columns_come_from_the_message(gw):
    tag = uuid.uuid4().hex[:8]
    with_cats = f"columns {tag} with"
    without = f"columns {tag} without"
    msgid = await asyncio.to_thread(append_mail, gw, "alice", with_cats, cc="Bob <bob@example.test>",
                                )
    await asyncio.to_thread(append_mail, gw, "alice", without, cc=None)
    await asyncio.to_thread(set_categories, gw, "alice", with_cats, ["Work", "Red Category"])
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    named = await named_tags(c, logon_h)
    inbox = lr.folder("inbox")
    cols = (*MAIL_COLUMNS, named["keywords"], named["reminder_set"], named["task_due"])
    listed = await table_rows(c, logon_h, inbox, cols, sort=P.PidTagMessageDeliveryTime)
    rows = {values[0]: values for _, values in listed}      # by subject (other tests may repeat theirs)
    pos = {t: n for n, t in enumerate(cols)}
    got = rows[with_cats]
    assert got[pos[P.PidTagInternetMessageId]] == msgid
    assert got[pos[P.PidTagDisplayCc]] == "Bob"
    assert sorted(got[pos[named["keywords"]]]) == ["Red Category", "Work"], got   # IMAP keywords: no order
    assert got[pos[P.PidTagBody]].startswith(f"body of {with_cats}")
    plain = rows[without]
    assert not_found(plain[pos[named["keywords"]]]) and not_found(plain[pos[named["task_due"]]]), plain
    assert not_found(plain[pos[P.PidTagInternetReferences]]) and plain[pos[P.PidTagDisplayCc]] in ("", None)

    # FindRow on the body (read for the rows looked at) answers the row with its columns
    cols2 = (P.PidTagSubject, P.PidTagBody, P.PidTagDisplayCc)
    body_is = ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagBody, f"body of {with_cats}")
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, inbox, 0), F.GetContentsTableRequest(LOGON_ID, 1, 2, 0),
        T.SetColumnsRequest(LOGON_ID, 2, 0, cols2),
        T.FindRowRequest(LOGON_ID, 2, 0, body_is, T.BOOKMARK_BEGINNING, b""),
        # a restriction or a sort on the body is refused (every message would be read), the table stays
        T.RestrictRequest(LOGON_ID, 2, 0, body_is),
        T.SortTableRequest(LOGON_ID, 2, 0, SortOrderSet((SortOrder(P.PidTagInternetReferences, 0),))),
        T.SeekRowRequest(LOGON_ID, 2, T.BOOKMARK_BEGINNING, 0, False),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, 300),
    ], [logon_h, NO, NO])
    found, restricted, sorted_, _, after = got.rops[3:]
    assert found.return_value == 0
    (row,) = decode_rows(found.row_data, 1, cols2)[0]
    assert row.values[0] == with_cats and row.values[1].startswith(f"body of {with_cats}") and row.values[2] == "Bob"
    assert restricted.return_value == sorted_.return_value == EC_TOO_COMPLEX
    assert after.return_value == 0 and len(after.rows(cols2)) == len(listed)

    # a search folder on the body: refused the same way (its table would be checked on summaries)
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("finder"), 0),
        F.CreateFolderRequest(LOGON_ID, 1, 2, 2, 1, 0, 0, f"Body {tag}", ""),
        F.SetSearchCriteriaRequest(LOGON_ID, 2, body_is, (inbox,), RESTART_SEARCH | SHALLOW_SEARCH),
    ], [logon_h, NO, NO])
    assert got.rops[1].return_value == 0 and got.rops[2].return_value == EC_TOO_COMPLEX

    # a categorized view (grouped by subject, collapsed): the rows RopExpandRow answers have the body
    cols3 = (P.PidTagInstID, P.PidTagRowType, P.PidTagSubject, P.PidTagBody)
    grouped = SortOrderSet((SortOrder(P.PidTagSubject, 0), SortOrder(P.PidTagMid, 0)), categorized=1, expanded=0)
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, inbox, 0), F.GetContentsTableRequest(LOGON_ID, 1, 2, 0),
        T.SetColumnsRequest(LOGON_ID, 2, 0, cols3),
        T.RestrictRequest(LOGON_ID, 2, 0, ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagSubject,
                                                             f"columns {tag}")),
        T.SortTableRequest(LOGON_ID, 2, 0, grouped),
        T.QueryRowsRequest(LOGON_ID, 2, 0x01, 1, 50),
    ], [logon_h, NO, NO])
    assert all(r.return_value == 0 for r in got.rops), [hex(r.return_value) for r in got.rops]
    headers = {r.values[2]: r.values[0] for r in got.rops[5].rows(cols3)}
    c.columns[0] = cols3
    got = await c.execute([T.ExpandRowRequest(LOGON_ID, 0, 10, headers[with_cats])], [got.handles[2]])
    (leaf,) = got.rops[0].rows(cols3)
    assert leaf.values[2] == with_cats and leaf.values[3].startswith(f"body of {with_cats}"), leaf
    # every Inbox row: nothing the opened message has is missing from its table row
    assert await gaps(c, logon_h, inbox, cols) == {}


async def test_calendar_location_and_reminder_in_the_table(gw):
    from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone
    from .test_ews_exchangelib import account

    tag = uuid.uuid4().hex[:8]

    def make():
        a = account(gw, "bob")
        start = EWSDateTime.now(tz=EWSTimeZone("UTC")).replace(microsecond=0) + timedelta(days=3)
        item = CalendarItem(account=a, folder=a.calendar, subject=f"where {tag}", start=start,
                            end=start + timedelta(hours=1), location=f"Room {tag}", reminder_is_set=True,
                            reminder_minutes_before_start=25)
        item.save()
        return start, item

    start, item = await asyncio.to_thread(make)
    c = MapiClient(gw, "bob", "bobpw")
    await c.connect()
    lr, logon_h = await logon(c)
    named = await named_tags(c, logon_h)
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    calendar = await special_folder(c, logon_h, got.handles[1], P.PidTagIpmAppointmentEntryId)
    cols = (P.PidTagSubject, named["start"], named["location"], named["reminder_set"], named["reminder_delta"],
            named["reminder_time"], P.PidTagBody, named["keywords"])
    rows = {values[0]: values for _, values in await table_rows(c, logon_h, calendar, cols)}
    row = rows[f"where {tag}"]
    assert row[2] == f"Room {tag}"
    assert row[3] is True and row[4] == 25, row
    assert isinstance(row[1], datetime) and abs((row[1] - start).total_seconds()) < 1
    assert not_found(row[7])
    assert not_found(row[6]) or row[6] == ""
    assert await gaps(c, logon_h, calendar, cols) == {}

    # the body changed by another client: the next read shows it (what was read is kept by change number)
    def edit():
        item.body = f"agenda {tag}"
        item.save(update_fields=["body"])

    await asyncio.to_thread(edit)
    rows = {values[0]: values for _, values in await table_rows(c, logon_h, calendar, cols)}
    assert rows[f"where {tag}"][6].startswith(f"agenda {tag}"), rows[f"where {tag}"]


async def test_contacts_table_columns(gw):
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    named = await named_tags(c, logon_h)
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    contacts = await special_folder(c, logon_h, got.handles[1], P.PidTagIpmContactEntryId)
    cols = (P.PidTagDisplayName, named["file_under"], named["email1"], P.PidTagCompanyName,
            P.PidTagBusinessTelephoneNumber, P.PidTagBody, named["keywords"])
    assert await gaps(c, logon_h, contacts, cols) == {}


async def _put_described(gw, login: str, uid: str, summary: str, description: str) -> None:
    """An event written straight to CalDAV by another client (not through the gateway)."""
    from .test_ews_availability import dav_for
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=4)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//exgate tests//EN", "BEGIN:VEVENT", f"UID:{uid}",
             f"DTSTAMP:{start:%Y%m%dT%H%M%SZ}", f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
             f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}", f"SUMMARY:{summary}",
             f"DESCRIPTION:{description}", "END:VEVENT", "END:VCALENDAR", ""]
    async with dav_for(gw, login) as dav:
        calendars, _ = await dav.discover()
        cal = next(c for c in calendars if not c.components or "VEVENT" in c.components)
        await dav.put(cal.href + uid + ".ics", "\r\n".join(lines).encode(), "text/calendar; charset=utf-8")


async def test_a_body_changed_over_caldav_is_read_again(gw):
    """What was read from a message is kept by its change number: another client's change is seen."""
    tag = uuid.uuid4().hex[:8]
    uid, summary = uuid.uuid4().hex, f"described {tag}"
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    calendar = await special_folder(c, logon_h, got.handles[1], P.PidTagIpmAppointmentEntryId)
    await _put_described(gw, "alice", uid, summary, f"first {tag}")
    cols = (P.PidTagSubject, P.PidTagBody)
    rows = {v[0]: v for _, v in await table_rows(c, logon_h, calendar, cols)}
    assert rows[summary][1].startswith(f"first {tag}"), rows[summary]
    await _put_described(gw, "alice", uid, summary, f"second {tag}")
    rows = {v[0]: v for _, v in await table_rows(c, logon_h, calendar, cols)}
    assert rows[summary][1].startswith(f"second {tag}"), rows[summary]


async def test_a_message_that_does_not_convert_leaves_its_cells_not_found(demo_gateway, monkeypatch):
    """Reading a row's message fails in a way the store does not expect: the page is answered, the cells
    the message would have filled are ecNotFound."""
    from gateway.store.mailbox import Mailbox

    async def broken(self, mid):
        raise ValueError("a message the converter chokes on")

    tag = uuid.uuid4().hex[:8]
    await asyncio.to_thread(append_mail, demo_gateway, "alice", f"broken {tag}", cc=None)
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    monkeypatch.setattr(Mailbox, "get_item", broken)
    rows = {v[0]: v for _, v in await table_rows(c, logon_h, lr.folder("inbox"), (P.PidTagSubject, P.PidTagBody))}
    assert not_found(rows[f"broken {tag}"][1])
