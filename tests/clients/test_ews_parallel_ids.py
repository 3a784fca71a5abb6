"""Parallel EWS FindItem requests on a folder with new items give every item one ItemId (issue 10).

Items arrive straight on the backends (IMAP APPEND, CalDAV PUT by another client), then four clients
send FindItem on the folder at the same moment: the gateway syncs the folder for each request, and all four
must answer with the same ItemIds, one per message or event.
"""
from __future__ import annotations

import asyncio
import base64
import imaplib
import uuid
from datetime import datetime, timedelta, timezone

import aiohttp
from exchangelib import UTC, CalendarItem, EWSDateTime
from lxml import etree

from .test_ews_calendar import _dav
from .test_ews_exchangelib import account, gw  # noqa: F401  (the gw fixture: demo and real)

N = 20
CLIENTS = 4


def _append(gw, subjects: list[str]) -> None:
    cfg = gw.state.config.imap
    with imaplib.IMAP4(cfg.host, cfg.port) as im:
        im.login("alice", "alicepw")
        for s in subjects:
            msg = (f"From: Someone Else <else@example.org>\r\nTo: Alice <alice@example.test>\r\nSubject: {s}\r\n"
                   f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <{uuid.uuid4()}@example.org>\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nparallel\r\n")
            typ, _ = im.append("INBOX", None, None, msg.encode())
            assert typ == "OK"


FIND = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
  <s:Body><m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>
    <t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape>
    <m:IndexedPageItemView MaxEntriesReturned="1000" Offset="0" BasePoint="Beginning"/>
    <m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem></s:Body>
</s:Envelope>"""
NS = {"t": "http://schemas.microsoft.com/exchange/services/2006/types"}


async def _parallel(gw, folder: str, tag: str) -> list[dict[str, str]]:
    """{subject: ItemId} as each of the clients saw the folder, all asking at once: raw SOAP over separate
    HTTP connections (exchangelib shares one session per endpoint and credentials, so its requests would
    queue one behind the other)."""
    body = FIND.format(folder=folder).encode()
    auth = "Basic " + base64.b64encode(b"alice@example.test:alicepw").decode()

    async def one() -> dict[str, str]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
            async with http.post(gw.base_url + "/EWS/Exchange.asmx", data=body,
                                 headers={"Content-Type": "text/xml; charset=utf-8", "Authorization": auth}) as resp:
                text = await resp.read()
                assert resp.status == 200, text[:500]
        root = etree.fromstring(text)
        out = {}
        for item in root.iterfind(".//t:Items/*", NS):
            subject = item.findtext("t:Subject", namespaces=NS) or ""
            if tag in subject:
                out[subject] = item.find("t:ItemId", NS).get("Id")
        return out
    return list(await asyncio.gather(*(one() for _ in range(CLIENTS))))


async def test_parallel_finditem_on_new_mail_gives_one_itemid_each(gw):  # noqa: F811
    tag = uuid.uuid4().hex[:8]
    await asyncio.to_thread(lambda: account(gw).inbox.refresh())  # the inbox is known before the mail comes
    await asyncio.to_thread(_append, gw, [f"parallel {tag} {i}" for i in range(N)])
    answers = await _parallel(gw, "inbox", tag)
    assert len(answers[0]) == N
    assert all(a == answers[0] for a in answers), "the clients were given different ItemIds"
    assert len(set(answers[0].values())) == N


def _event(uid: str, subject: str, start: datetime) -> bytes:
    fmt = "%Y%m%dT%H%M%SZ"
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//exgate//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:{start.strftime(fmt)}\r\n"
            f"DTEND:{(start + timedelta(minutes=30)).strftime(fmt)}\r\nSUMMARY:{subject}\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()


async def test_parallel_finditem_on_new_events_gives_one_itemid_each(gw):  # noqa: F811
    tag = uuid.uuid4().hex[:8]

    def make_probe():
        # an event through the gateway: it provisions the calendar, and tells which collection is the Calendar
        a = account(gw)
        p = CalendarItem(account=a, folder=a.calendar, subject=f"probe {tag}",
                         start=EWSDateTime(2026, 5, 1, 9, tzinfo=UTC), end=EWSDateTime(2026, 5, 1, 10, tzinfo=UTC))
        p.save()
        return p
    probe = await asyncio.to_thread(make_probe)
    dav = _dav(gw, "alice")
    hrefs = []
    try:
        cals, _ = await dav.discover()
        calendar = None
        for cal in cals:
            for r in await dav.list_resources(cal.href):
                if f"probe {tag}".encode() in ((await dav.get(r.href)).data or b""):
                    calendar = cal.href
        assert calendar, "the gateway's Calendar collection was not found"
        for i in range(8):
            href = f"{calendar}parallel-{tag}-{i}.ics"
            await dav.put(href, _event(f"parallel-{tag}-{i}", f"parallel {tag} {i}",
                                       datetime(2026, 5, 2 + i, 9, tzinfo=timezone.utc)),
                          "text/calendar; charset=utf-8", create_only=True)
            hrefs.append(href)
        answers = await _parallel(gw, "calendar", f"parallel {tag}")
        assert len(answers[0]) == 8
        assert all(x == answers[0] for x in answers), "the clients were given different ItemIds"
        assert len(set(answers[0].values())) == 8
    finally:
        for href in hrefs:
            try:
                await dav.delete(href)
            except Exception:  # noqa: BLE001
                pass
        await asyncio.to_thread(probe.delete)
        await dav.close()
