"""MAPI over HTTP, the rest of a day's work in Outlook's online mode, on both gateways, checked against the
backends: the special folders found through the Inbox's PidTagIpm*EntryId (MS-OXOSFLD) and
RopIdFromLongTermId; the Calendar's contents table with the appointment columns Outlook names by
GetPropertyIdsFromNames (start, end, recurring) showing a weekly meeting another client made over EWS; a
contact created with named properties and seen over plain CardDAV; a Restrict and SortTable on a named
property."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest

from protocols.mapi.props import core as P
from protocols.mapi.props.named import PSETID
from protocols.mapi.restrictions import PropertyRestriction, SortOrder, SortOrderSet
from protocols.rops import folder as F, logon as L, message as MSG, property as PR, table as T

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_ews_calendar import _weekly
from .test_ews_exchangelib import account
from .test_ews_contacts import carddav_cards

PT_SYSTIME, PT_BOOLEAN, PT_UNICODE = 0x0040, 0x000B, 0x001F
START, END, RECURRING = 0x820D, 0x820E, 0x8223           # PSETID_Appointment LIDs (MS-OXPROPS)
EMAIL1 = 0x8083                                          # PidLidEmail1EmailAddress, PSETID_Address


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def long_term_id(entryid: bytes) -> tuple:
    """A folder EntryID (MS-OXCDATA 2.2.4.1): flags 4, provider 16, type 2, database GUID 16, GLOBCNT 6, pad 2."""
    assert len(entryid) == 46
    return entryid[22:38], entryid[38:44]


async def special_folder(c, logon_h, inbox_h, tag) -> int:
    got = await c.execute([PR.GetPropertiesSpecificRequest(LOGON_ID, 0, 0, 1, (tag,))], [inbox_h])
    (entryid,) = got.rops[0].row((tag,)).values
    guid, globcnt = long_term_id(entryid)
    ltid = L.LongTermId(uuid.UUID(bytes_le=guid), int.from_bytes(globcnt, "big"))
    got = await c.execute([L.IdFromLongTermIdRequest(LOGON_ID, 0, ltid)], [logon_h])
    assert got.rops[0].return_value == 0
    return got.rops[0].object_id


async def named_ids(c, logon_h, names) -> list[int]:
    got = await c.execute([PR.GetPropertyIdsFromNamesRequest(LOGON_ID, 0, 0x02, tuple(names))], [logon_h])
    assert got.rops[0].return_value == 0
    return list(got.rops[0].property_ids)


def make_weekly(gw, login: str, tag: str) -> str:
    """A weekly meeting made by another client (exchangelib over EWS), kept on CalDAV; -> its subject."""
    rec, _ = _weekly(account(gw, login), tag)
    rec.save()
    return rec.subject


async def test_calendar_table_shows_the_recurring_meeting(gw):
    summary = await asyncio.to_thread(make_weekly, gw, "bob", f"mapi {uuid.uuid4().hex[:8]}")
    c = MapiClient(gw, "bob", "bobpw")
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    inbox_h = got.handles[1]
    calendar = await special_folder(c, logon_h, inbox_h, P.PidTagIpmAppointmentEntryId)
    start, end, recurring = await named_ids(c, logon_h, [PR.PropertyName(PR.KIND_LID, PSETID.Appointment, lid=n)
                                                         for n in (START, END, RECURRING)])
    cols = (P.PidTagSubject, P.PidTagMessageClass, (start << 16) | PT_SYSTIME, (end << 16) | PT_SYSTIME,
            (recurring << 16) | PT_BOOLEAN)
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, calendar, 0),
        F.GetContentsTableRequest(LOGON_ID, 1, 2, 0),
        T.SetColumnsRequest(LOGON_ID, 2, 0, cols),
        T.SortTableRequest(LOGON_ID, 2, 0, SortOrderSet((SortOrder((start << 16) | PT_SYSTIME, 0),))),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, 200),
    ], [logon_h, NO, NO])
    assert all(r.return_value == 0 for r in got.rops), [hex(r.return_value) for r in got.rops]
    rows = [r.values for r in got.rops[4].rows(cols)]
    assert rows, "the calendar table is empty"
    weekly = [r for r in rows if r[4] is True]
    assert summary in [r[0] for r in weekly], rows
    subject, cls, s, e, _ = next(r for r in weekly if r[0] == summary)
    assert cls.startswith("IPM.Appointment") and isinstance(s, datetime) and isinstance(e, datetime) and s < e
    starts = [r[2] for r in rows if isinstance(r[2], datetime)]
    assert starts == sorted(starts)

    # a restriction on a named property: only the recurring ones
    got = await c.execute([T.RestrictRequest(LOGON_ID, 0, 0, PropertyRestriction(4, (recurring << 16) | PT_BOOLEAN,
                                                                                  True)),
                           T.QueryRowsRequest(LOGON_ID, 0, 0, 1, 200)], [got.handles[2]])
    assert got.rops[0].return_value == 0
    only = [r.values for r in got.rops[1].rows(cols)]
    assert only and all(r[4] is True for r in only) and len(only) == len(weekly)


async def test_contact_created_is_seen_over_carddav(gw):
    tag = uuid.uuid4().hex[:8]
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    contacts = await special_folder(c, logon_h, got.handles[1], P.PidTagIpmContactEntryId)
    (email1,) = await named_ids(c, logon_h, [PR.PropertyName(PR.KIND_LID, PSETID.Address, lid=EMAIL1)])
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, contacts, 0),
        MSG.CreateMessageRequest(LOGON_ID, 1, 2, 0x0FFF, contacts, 0),
        PR.SetPropertiesRequest(LOGON_ID, 2, ((P.PidTagMessageClass, "IPM.Contact"),
                                              (P.PidTagDisplayName, f"Mapi Person {tag}"),
                                              (P.PidTagGivenName, "Mapi"), (P.PidTagSurname, f"Person {tag}"),
                                              ((email1 << 16) | PT_UNICODE, f"mapi.{tag}@example.test"))),
        MSG.SaveChangesMessageRequest(LOGON_ID, 2, 2, 0x01),
    ], [logon_h, NO, NO])
    assert all(r.return_value == 0 for r in got.rops), [hex(r.return_value) for r in got.rops]
    cards = [card for card in await carddav_cards(gw, "alice") if tag.encode() in card]
    assert len(cards) == 1
    assert f"mapi.{tag}@example.test".encode() in cards[0] and b"Person " + tag.encode() in cards[0]
