"""GetItem MimeContent in Exchange's export forms, over raw SOAP on both gateways.

Exchange exports a calendar item and a task as iCalendar and a contact as a vCard in
MimeContent (DavMail and Evolution read them that way); mail is the RFC 822 message, here
exactly the bytes the IMAP server holds. Mail items also carry PR_INTERNET_ARTICLE_NUMBER
(0x0E23), the IMAP UID, which DavMail keys and sorts its IMAP view by.
"""
from __future__ import annotations

import asyncio
import base64
import imaplib
import re
import uuid

import pytest

from protocols.ews.ns import child, children, local, text

from .test_ews_soap import call, codes, messages

T = "{http://schemas.microsoft.com/exchange/services/2006/types}"


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


async def find_ids(gw, folder: str, extra: str = "", user=("carol@example.test", "carolpw")):
    status, p = await call(gw, f'<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                               f'<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/>{extra}'
                               f'</t:AdditionalProperties></m:ItemShape>'
                               f'<m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds>'
                               f'</m:FindItem>', user=user)
    assert status == 200 and codes(p) == ["NoError"], codes(p)
    return children(child(child(messages(p)[0], "RootFolder"), "Items"))


async def mime_of(gw, item_id: str, user=("carol@example.test", "carolpw")) -> tuple[str, bytes]:
    status, p = await call(gw, f'<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                               f'<t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape>'
                               f'<m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem>', user=user)
    assert codes(p) == ["NoError"], codes(p)
    item = children(child(messages(p)[0], "Items"))[0]
    return local(item), base64.b64decode(text(item, "MimeContent"))



async def _create(gw, xml: str, folder: str):
    status, p = await call(gw, f'<m:CreateItem MessageDisposition="SaveOnly" SendMeetingInvitations="SendToNone">'
                               f'<m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId>'
                               f'<m:Items>{xml}</m:Items></m:CreateItem>', user=("carol@example.test", "carolpw"))
    assert codes(p) == ["NoError"], (codes(p), p)


async def test_calendar_task_contact_mimecontent_is_ical_and_vcard(gw):
    tag = uuid.uuid4().hex[:8]
    await _create(gw, f'<t:CalendarItem><t:Subject>mime event {tag}</t:Subject>'
                      f'<t:Start>2031-03-04T10:00:00Z</t:Start><t:End>2031-03-04T11:00:00Z</t:End></t:CalendarItem>',
                  "calendar")
    await _create(gw, f'<t:Task><t:Subject>mime task {tag}</t:Subject></t:Task>', "tasks")
    await _create(gw, f'<t:Contact><t:GivenName>Mime</t:GivenName><t:Surname>Person {tag}</t:Surname>'
                      f'<t:EmailAddresses><t:Entry Key="EmailAddress1">mime-{tag}@example.org</t:Entry>'
                      f'</t:EmailAddresses></t:Contact>', "contacts")
    for folder, element, begin, needle in (
            ("calendar", "CalendarItem", b"BEGIN:VCALENDAR", f"SUMMARY:mime event {tag}".encode()),
            ("tasks", "Task", b"BEGIN:VCALENDAR", f"SUMMARY:mime task {tag}".encode()),
            ("contacts", "Contact", b"BEGIN:VCARD", f"mime-{tag}@example.org".encode())):
        rows = await find_ids(gw, folder)
        seen = 0
        for row in rows:
            kind, data = await mime_of(gw, child(row, "ItemId").get("Id"))
            assert data.lstrip().startswith(begin), (folder, kind, data[:200])
            if folder == "tasks":
                assert b"BEGIN:VTODO" in data
            if folder == "calendar":
                # Exchange's export always has a VTIMEZONE (DavMail reads the user's zone off it)
                assert b"BEGIN:VEVENT" in data and b"BEGIN:VTIMEZONE" in data, data
            if needle in data.replace(b"\r\n ", b""):
                assert kind == element
                seen += 1
        assert seen == 1, (folder, len(rows))


def _imap_messages(host, port, login) -> dict[int, bytes]:
    with imaplib.IMAP4(host, port) as im:
        im.login(login, f"{login}pw")
        im.select("INBOX", readonly=True)
        _, data = im.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        out = {}
        for i, entry in enumerate(data):
            if isinstance(entry, tuple):
                # the UID may come before the literal or after it (pymap)
                after = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
                uid = int(re.search(rb"UID (\d+)", entry[0] + b" " + after).group(1))
                out[uid] = entry[1]
        return out


async def test_mail_mimecontent_is_the_imap_bytes_and_article_number_the_uid(gw):
    cfg = gw.state.config.imap
    # one message of our own so the folder is never empty
    def append():   # in a thread: the demo's IMAP server runs on this event loop
        with imaplib.IMAP4(cfg.host, cfg.port) as im:
            im.login("carol", "carolpw")
            im.append("INBOX", None, None, b"From: a@example.test\r\nTo: carol@example.test\r\nSubject: mime "
                      + uuid.uuid4().hex.encode() + b"\r\n\r\nbody line\r\n")
    await asyncio.to_thread(append)
    direct = await asyncio.to_thread(_imap_messages, cfg.host, cfg.port, "carol")
    rows = await find_ids(gw, "inbox", '<t:ExtendedFieldURI PropertyTag="0x0E23" PropertyType="Integer"/>')
    uids = []
    for row in rows:
        ext = [e for e in children(row) if local(e) == "ExtendedProperty"]
        assert ext, "FindItem gave no PR_INTERNET_ARTICLE_NUMBER"
        uid = int(text(ext[0], "Value"))
        uids.append(uid)
        kind, data = await mime_of(gw, child(row, "ItemId").get("Id"))
        assert data.replace(b"\r\n", b"\n") == direct[uid].replace(b"\r\n", b"\n"), uid
    assert sorted(uids) == sorted(direct)
