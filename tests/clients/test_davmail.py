"""The real DavMail client (Debian package, headless server mode, EWS mode) against exgate.

One DavMail per gateway and sign-in scheme (module scope): the demo gateway (embedded pymap,
Radicale, aiosmtpd) and the real-server gateway (Dovecot, Radicale, Postfix, slapd), each with
Basic and with NTLM. Everything is checked the way a user of DavMail sees it, through DavMail's
own listeners: IMAP and SMTP with imaplib/smtplib, CalDAV/CardDAV with plain HTTP, LDAP with
ldap3; and compared with what the backends hold (direct IMAP) and what EWS answers.

- Basic: DavMail's HttpClient prefers Basic when it is offered (tests/clients/davmail_harness.py).
- NTLM: the gateway offers only NTLM while that DavMail runs; DavMail signs in with NTLMv2 as
  ``carol@example.test`` (a UPN, so no domain). The gateway has no password then: the demo
  reaches its backends through its trusted login, the real servers through the Dovecot master
  user and a second Radicale listener over the same collections that trusts the gateway's
  service login plus X-Remote-User (README's NTLM deployment).

Runs as ``carol`` (the other client tests mostly use alice and bob). The real servers are not
seeded by the fixtures, so carol gets the demo seed (tests.stacks does it for the embedded stack).
"""
from __future__ import annotations

import asyncio
import email
import email.header
import email.policy
import imaplib
import re
import smtplib
import time
import uuid
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

import icalendar
import pytest
import requests

from gateway.backends.embedded import load_demo_users
from gateway.backends.embedded.seed import _append_mail, _seed_dav, build_plan
from tests.stacks import needs_installed

from . import davmail_harness as dh
from .test_ews_soap import call as soap_call, codes, messages

pytestmark = needs_installed(dh.available(), "DavMail")

LOGIN, PASSWORD = "carol", "carolpw"
EMAIL = "carol@example.test"
SYSTEM_FLAGS = {"\\seen", "\\flagged", "\\answered", "\\draft", "\\deleted"}
DAV_NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav", "E": "urn:ietf:params:xml:ns:carddav"}


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
async def real_seeded(dovecot, radicale):
    """The demo's seed for carol on the real servers (fresh servers per session)."""
    plan = build_plan(load_demo_users())
    mine = next(u for u in plan.users if u.user.login == LOGIN)
    await asyncio.to_thread(_append_mail, dovecot.host, dovecot.imap_port, mine.user, mine.mail)
    import aiohttp
    async with aiohttp.ClientSession() as http:
        await _seed_dav(http, radicale.url, mine)
    return True


class Setup:
    """One DavMail in front of one gateway, and the direct ways to the same mailbox."""

    def __init__(self, kind, scheme, gw, dm, imap_host, imap_port):
        self.kind, self.scheme, self.gw, self.dm = kind, scheme, gw, dm
        self.imap_host, self.imap_port = imap_host, imap_port

    def __repr__(self):
        return f"{self.kind}-{self.scheme}"

    # DavMail's listeners
    def imap(self) -> imaplib.IMAP4:
        im = imaplib.IMAP4(self.dm.host, self.dm.imap_port)
        im.login(EMAIL, PASSWORD)
        return im

    def http(self) -> requests.Session:
        s = requests.Session()
        s.auth = (EMAIL, PASSWORD)
        s.trust_env = False
        return s

    def dav_url(self, folder: str) -> str:
        return f"{self.dm.caldav_url}/users/{EMAIL}/{folder}/"

    # the backend, straight
    def direct(self, login: str = LOGIN) -> imaplib.IMAP4:
        im = imaplib.IMAP4(self.imap_host, self.imap_port)
        im.login(login, f"{login}pw")
        return im


@pytest.fixture(scope="module", params=["demo-basic", "demo-ntlm", "real-basic", "real-ntlm"])
def setup(request):
    """A sync fixture: DavMail is a child process, started and stopped without the event loop (the first
    sign-in, which needs the gateway on the loop, happens in the tests' threads)."""
    kind, scheme = request.param.split("-")
    if kind == "demo":
        gw = request.getfixturevalue("demo_gateway")
        stack = request.getfixturevalue("embedded")
        host, port = stack.imap_host, stack.imap_port
    else:
        request.getfixturevalue("real_seeded")
        gw = request.getfixturevalue("real_gateway" if scheme == "basic" else "real_gateway_ntlm")
        dovecot = request.getfixturevalue("dovecot")
        host, port = dovecot.host, dovecot.imap_port
    if scheme == "ntlm":
        from gateway.http.auth.credentials import NtHashStore
        NtHashStore(gw.state.db).set_password(LOGIN, PASSWORD)   # as `exgate passwd` does
    # DavMail prefers Basic whenever it is offered: for NTLM the gateway offers NTLM alone
    with dh.offer_only(gw, ("NTLM",) if scheme == "ntlm" else ("Negotiate", "NTLM", "Basic")):
        dm = dh.start_davmail(gw.base_url, certificate=gw.certificate)
        print(f"\nDavMail {request.param}: JVM start to listening {dm.started_in:.2f} s")
        try:
            yield Setup(kind, scheme, gw, dm, host, port)
            log = dm.log()
            if scheme == "ntlm":
                assert "Authorization: NTLM" in log and "Authorization: Basic" not in log, "DavMail did not use NTLM"
            else:
                assert "Authorization: Basic" in log, "DavMail did not use Basic"
        finally:
            dm.close()


def run(fn, *args):
    """Blocking client code runs in a thread: the gateway (and the demo's IMAP server) live on this loop."""
    return asyncio.to_thread(fn, *args)


# ------------------------------------------------------------------ helpers

def _fetch_all(im: imaplib.IMAP4, folder: str) -> dict[int, dict]:
    """{uid: {flags, size, body}} of a folder, one UID FETCH per message (servers order items differently)."""
    typ, _ = im.select(f'"{folder}"', readonly=True)
    assert typ == "OK", folder
    _, data = im.uid("SEARCH", None, "ALL")
    out = {}
    for uid in (int(x) for x in (data[0] or b"").split()):
        _, got = im.uid("FETCH", str(uid), "(FLAGS RFC822.SIZE BODY.PEEK[])")
        head = b" ".join(x[0] if isinstance(x, tuple) else x for x in got)
        body = next(x[1] for x in got if isinstance(x, tuple))
        flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode().split()
        size = re.search(rb"RFC822\.SIZE (\d+)", head)
        out[uid] = {"flags": {f.lower() for f in flags} & SYSTEM_FLAGS, "size": int(size.group(1)) if size else None,
                    "body": body.replace(b"\r\n", b"\n")}
    return out


def _subject(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return str(msg["Subject"] or "")


def _direct_folder(im: imaplib.IMAP4, special: str, fallback: str) -> str:
    """The backend's folder with a SPECIAL-USE flag (Dovecot), else by name (pymap)."""
    _, rows = im.list()
    for row in rows:
        if special.encode() in row:
            return row.decode().rsplit(" ", 1)[-1].strip('"')
    return fallback


def _wait(fn, timeout=30.0, step=0.5):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(step)


def _dav_objects(s: Setup, folder: str, report: str) -> dict[str, str]:
    """{href: calendar-data/address-data} from DavMail's CalDAV/CardDAV REPORT."""
    r = s.http().request("REPORT", s.dav_url(folder), data=report,
                         headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
    assert r.status_code == 207, (r.status_code, r.text[:500])
    root = ET.fromstring(r.content)
    out = {}
    for resp in root.findall("D:response", DAV_NS):
        href = resp.findtext("D:href", namespaces=DAV_NS)
        data = resp.find(".//C:calendar-data", DAV_NS)
        if data is None:
            data = resp.find(".//E:address-data", DAV_NS)
        if data is not None and data.text:
            out[href] = data.text
    return out


CAL_QUERY = ('<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
             'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>'
             '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>')
CARD_QUERY = ('<?xml version="1.0" encoding="utf-8"?><C:addressbook-query xmlns:D="DAV:" '
              'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>'
              '</C:addressbook-query>')


def _events(s: Setup, folder: str = "calendar", comp: str | None = None) -> list[icalendar.cal.Component]:
    query = CAL_QUERY if comp is None else CAL_QUERY.replace(
        '<C:comp-filter name="VCALENDAR"/>', f'<C:comp-filter name="VCALENDAR"><C:comp-filter name="{comp}"/>'
                                            '</C:comp-filter>')
    out = []
    for data in _dav_objects(s, folder, query).values():
        out.extend(icalendar.Calendar.from_ical(data).walk())
    return out


async def _ews_inbox_state(s: Setup) -> dict[int, tuple[bool, int]]:
    """{IMAP UID: (IsRead, PidTagFlagStatus)} as EWS FindItem answers (Basic over SOAP)."""
    status, p = await soap_call(s.gw, '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                                      '<t:AdditionalProperties><t:FieldURI FieldURI="message:IsRead"/>'
                                      '<t:ExtendedFieldURI PropertyTag="0x0E23" PropertyType="Integer"/>'
                                      '<t:ExtendedFieldURI PropertyTag="0x1090" PropertyType="Integer"/>'
                                      '</t:AdditionalProperties></m:ItemShape><m:ParentFolderIds>'
                                      '<t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>',
                                user=(EMAIL, PASSWORD))
    assert codes(p) == ["NoError"]
    from protocols.ews.ns import child, children, local, text
    out = {}
    for item in children(child(child(messages(p)[0], "RootFolder"), "Items")):
        ext = {int(e[0].get("PropertyTag"), 16): int(text(e, "Value")) for e in children(item)
               if local(e) == "ExtendedProperty"}
        out[ext[0x0E23]] = (text(item, "IsRead") == "true", ext.get(0x1090, 0))
    return out


# ------------------------------------------------------------------ mail

async def test_folders_listed(setup):
    def listing():
        im = setup.imap()
        try:
            _, rows = im.list()
            return {r.decode().rsplit(" ", 1)[-1].strip('"') for r in rows}
        finally:
            im.logout()
    names = await run(listing)
    assert {"INBOX", "Sent", "Drafts", "Trash", "Junk"} <= names, names


async def test_inbox_is_what_the_backend_holds(setup):
    def both():
        d, im = setup.direct(), setup.imap()
        try:
            return _fetch_all(d, "INBOX"), _fetch_all(im, "INBOX")
        finally:
            d.logout()
            im.logout()
    direct, via = await run(both)
    seeded = {_subject(m.data) for m in next(u for u in build_plan(load_demo_users()).users
                                             if u.user.login == LOGIN).mail if m.folder == "INBOX"}
    assert seeded <= {_subject(m["body"]) for m in direct.values()}
    # DavMail's UIDs are the backend's (PR_INTERNET_ARTICLE_NUMBER), so the messages pair up by UID
    assert sorted(via) == sorted(direct)
    for uid, m in direct.items():
        got = via[uid]
        assert got["body"] == m["body"], uid
        assert _subject(got["body"]) == _subject(m["body"])
        assert got["flags"] == m["flags"], (uid, got["flags"], m["flags"])
        assert got["size"] == len(m["body"].replace(b"\n", b"\r\n")), uid   # CRLF, as IMAP counts it
    flags = {f for m in via.values() for f in m["flags"]}
    assert {"\\seen", "\\flagged", "\\answered"} <= flags


async def test_seen_and_flagged_reach_imap_and_ews(setup):
    def pick():
        im = setup.imap()
        try:
            m = _fetch_all(im, "INBOX")
            return next(uid for uid, x in sorted(m.items()) if not x["flags"] & {"\\seen", "\\flagged"})
        finally:
            im.logout()
    uid = await run(pick)

    def store(mode):
        im = setup.imap()
        try:
            im.select("INBOX")
            typ, _ = im.uid("STORE", str(uid), mode, "(\\Seen \\Flagged)")
            assert typ == "OK"
        finally:
            im.logout()

    def direct_flags():
        d = setup.direct()
        try:
            return _fetch_all(d, "INBOX")[uid]["flags"]
        finally:
            d.logout()
    try:
        await run(store, "+FLAGS")
        assert {"\\seen", "\\flagged"} <= await run(direct_flags)
        assert (await _ews_inbox_state(setup))[uid] == (True, 2)      # IsRead, followupFlagged
    finally:
        await run(store, "-FLAGS")
    assert not {"\\seen", "\\flagged"} & await run(direct_flags)
    assert (await _ews_inbox_state(setup))[uid][0] is False


async def test_append_to_drafts(setup):
    tag = uuid.uuid4().hex[:10]
    raw = (f"From: {EMAIL}\r\nTo: bob@example.test\r\nSubject: davmail draft {tag}\r\n"
           f"Message-ID: <{tag}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"\r\nDraft body {tag}\r\n").encode()

    def append_and_read():
        im = setup.imap()
        try:
            typ, _ = im.append("Drafts", "(\\Draft)", None, raw)
            assert typ == "OK"
            return [m for m in _fetch_all(im, "Drafts").values() if f"draft {tag}" in _subject(m["body"])]
        finally:
            im.logout()
    got = await run(append_and_read)
    assert len(got) == 1 and b"Draft body " + tag.encode() in got[0]["body"] and "\\draft" in got[0]["flags"]

    def direct():
        d = setup.direct()
        try:
            folder = _direct_folder(d, "\\Drafts", "Drafts")
            return [m for m in _fetch_all(d, folder).values() if f"draft {tag}" in _subject(m["body"])]
        finally:
            d.logout()
    there = await run(direct)
    assert len(there) == 1 and b"Draft body " + tag.encode() in there[0]["body"]


async def test_send_reaches_bob_and_sent_items(setup):
    tag = uuid.uuid4().hex[:10]
    msg = (f"From: Carol Clark <{EMAIL}>\r\nTo: bob@example.test\r\nSubject: davmail send {tag}\r\n"
           f"Message-ID: <send-{tag}@example.test>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob, {tag}\r\n").encode()

    def send():
        with smtplib.SMTP(setup.dm.host, setup.dm.smtp_port, timeout=60) as smtp:
            smtp.login(EMAIL, PASSWORD)
            smtp.sendmail(EMAIL, ["bob@example.test"], msg)
    await run(send)

    def at_bob():
        d = setup.direct("bob")
        try:
            d.select("INBOX", readonly=True)
            _, data = d.search(None, "SUBJECT", f'"{tag}"')
            return bool(data and data[0].split())
        finally:
            d.logout()
    assert await run(_wait, at_bob), "bob never got the message"

    def in_sent():
        im = setup.imap()
        try:
            return [m for m in _fetch_all(im, "Sent").values() if tag in _subject(m["body"])]
        finally:
            im.logout()
    sent = await run(_wait, in_sent)
    assert len(sent) == 1 and f"Hello Bob, {tag}".encode() in sent[0]["body"]
    assert "\\seen" in sent[0]["flags"]

    def direct_sent():
        d = setup.direct()
        try:
            folder = _direct_folder(d, "\\Sent", "Sent")
            return [m for m in _fetch_all(d, folder).values() if tag in _subject(m["body"])]
        finally:
            d.logout()
    assert len(await run(direct_sent)) == 1


async def test_copy_move_and_expunge(setup):
    """COPY and MOVE between folders and \\Deleted + EXPUNGE, through DavMail, as the backend sees them."""
    tag = uuid.uuid4().hex[:10]
    raw = (f"From: someone@example.org\r\nTo: {EMAIL}\r\nSubject: davmail copy {tag}\r\n"
           f"Message-ID: <copy-{tag}@example.org>\r\n\r\nCopy me {tag}\r\n").encode()

    def direct_count(folder_special, fallback):
        d = setup.direct()
        try:
            folder = _direct_folder(d, folder_special, fallback) if folder_special else fallback
            d.select(f'"{folder}"', readonly=True)
            _, data = d.search(None, "SUBJECT", f'"{tag}"')
            return len((data[0] or b"").split())
        finally:
            d.logout()

    def uid_in(im, folder):
        im.select(folder)
        _, data = im.uid("SEARCH", None, "SUBJECT", f'"{tag}"')
        return (data[0] or b"").split()

    def copy_then_move():
        im = setup.imap()
        try:
            assert im.append("INBOX", None, None, raw)[0] == "OK"
            [uid] = uid_in(im, "INBOX")
            assert im.uid("COPY", uid, "Junk")[0] == "OK"
            assert len(uid_in(im, "Junk")) == 1
            assert uid_in(im, "INBOX") == [uid]
            assert im.uid("MOVE", uid, "Trash")[0] == "OK"
            return len(uid_in(im, "INBOX")), len(uid_in(im, "Trash"))
        finally:
            im.logout()
    assert await run(copy_then_move) == (0, 1)
    assert await run(direct_count, None, "INBOX") == 0
    assert await run(direct_count, "\\Junk", "Junk") == 1
    assert await run(direct_count, "\\Trash", "Trash") == 1

    def expunge():
        im = setup.imap()
        try:
            [uid] = uid_in(im, "Junk")
            assert im.uid("STORE", uid, "+FLAGS", "(\\Deleted)")[0] == "OK"
            im.expunge()
            return len(uid_in(im, "Junk"))
        finally:
            im.logout()
    assert await run(expunge) == 0
    assert await run(direct_count, "\\Junk", "Junk") == 0


async def test_folder_create_rename_delete(setup):
    tag = uuid.uuid4().hex[:8]

    def direct_names():
        d = setup.direct()
        try:
            return {re.search(r'(?:"([^"]*)"|(\S+))$', r.decode()).group(1) or "" for r in d.list()[1]
                    if tag.encode() in r}
        finally:
            d.logout()

    def via(*commands):
        im = setup.imap()
        try:
            for name, *args in commands:
                typ, data = getattr(im, name)(*args)
                assert typ == "OK", (name, args, data)
        finally:
            im.logout()
    await run(via, ("create", f'"Projects {tag}"'), ("create", f'"Projects {tag}/Sub"'))
    names = await run(direct_names)
    assert len(names) == 2 and any(n.endswith("Sub") for n in names), names
    await run(via, ("rename", f'"Projects {tag}"', f'"Renamed {tag}"'))
    names = await run(direct_names)
    assert len(names) == 2 and all("Renamed" in n for n in names), names
    await run(via, ("delete", f'"Renamed {tag}/Sub"'), ("delete", f'"Renamed {tag}"'))
    assert await run(direct_names) == set()


# ------------------------------------------------------------------ calendar, tasks, contacts

async def test_calendar_lists_seeded_events(setup):
    comps = await run(_events, setup)
    events = [c for c in comps if c.name == "VEVENT"]
    summaries = {str(e.get("SUMMARY")) for e in events}
    assert {"Team offsite", "Engineering weekly"} <= summaries, summaries
    weekly = [e for e in events if str(e.get("UID", "")).startswith("engineering-weekly")]
    master = [e for e in weekly if e.get("RECURRENCE-ID") is None]
    moved = [e for e in weekly if e.get("RECURRENCE-ID") is not None]
    assert len(master) == 1 and master[0].get("RRULE") is not None
    assert master[0].get("EXDATE") is not None, "the cancelled occurrence is missing"
    assert len(moved) == 1 and "moved" in str(moved[0].get("SUMMARY"))
    assert moved[0].decoded("DTSTART") != moved[0].decoded("RECURRENCE-ID")


async def test_event_put_read_change_delete(setup):
    uid = "davmail-" + uuid.uuid4().hex[:10]
    url = setup.dav_url("calendar") + uid + ".ics"
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//exgate tests//EN\r\nBEGIN:VEVENT\r\n"
           f"UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300315T100000Z\r\nDTEND:20300315T110000Z\r\n"
           f"SUMMARY:DavMail event {uid}\r\nLOCATION:Room 1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")

    def put_get(body, **headers):
        s = setup.http()
        r = s.put(url, data=body.encode(), headers={"Content-Type": "text/calendar; charset=utf-8", **headers})
        assert r.status_code in (200, 201, 204), (r.status_code, r.text[:300])
        got = s.get(url)
        assert got.status_code == 200, got.text[:300]
        return icalendar.Calendar.from_ical(got.text)
    cal = await run(lambda: put_get(ics, **{"If-None-Match": "*"}))
    ev = cal.walk("VEVENT")[0]
    assert str(ev["SUMMARY"]) == f"DavMail event {uid}" and str(ev["LOCATION"]) == "Room 1"
    assert ev.decoded("DTSTART").timestamp() == datetime(2030, 3, 15, 10, tzinfo=timezone.utc).timestamp()

    cal = await run(put_get, ics.replace("Room 1", "Room 2").replace("DavMail event", "DavMail changed"))
    ev = cal.walk("VEVENT")[0]
    assert str(ev["SUMMARY"]) == f"DavMail changed {uid}" and str(ev["LOCATION"]) == "Room 2"

    def delete():
        s = setup.http()
        assert s.delete(url).status_code in (200, 204)
        return s.get(url).status_code
    assert await run(delete) == 404
    assert f"DavMail changed {uid}" not in {str(e.get("SUMMARY")) for e in await run(_events, setup)}


async def test_tasks(setup):
    comps = await run(_events, setup, "tasks", "VTODO")
    todos = {str(c.get("SUMMARY")) for c in comps if c.name == "VTODO"}
    # DavMail lists the open tasks (its EWS search leaves out completed ones, "Book the offsite venue")
    assert {"Prepare the Q3 budget review", "Read the updated security policy"} <= todos, todos

    uid = "davmail-task-" + uuid.uuid4().hex[:8]
    # DavMail keeps VTODOs with the main calendar (it files them in the Tasks folder and looks them up
    # there from /calendar/; a GET under /tasks/ misses them on Exchange too)
    url = setup.dav_url("calendar") + uid + ".ics"
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//exgate tests//EN\r\nBEGIN:VTODO\r\n"
           f"UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nSUMMARY:DavMail task {uid}\r\nDUE;VALUE=DATE:20300320\r\n"
           "STATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")

    def put_get():
        s = setup.http()
        r = s.put(url, data=ics.encode(), headers={"Content-Type": "text/calendar; charset=utf-8"})
        assert r.status_code in (200, 201, 204), (r.status_code, r.text[:300])
        got = s.get(url)
        s.delete(url)
        return got
    got = await run(put_get)
    assert got.status_code == 200 and f"SUMMARY:DavMail task {uid}" in got.text.replace("\r\n ", "")


async def test_contacts(setup):
    cards = await run(_dav_objects, setup, "contacts", CARD_QUERY)
    names = {re.search(r"^FN:(.*)$", c, re.M).group(1).strip() for c in cards.values()}
    assert {"Dana Diaz", "Erik Eriksson", "Farah Fischer", "Gao Guo"} <= names, names

    uid = "davmail-card-" + uuid.uuid4().hex[:8]
    url = setup.dav_url("contacts") + uid + ".vcf"
    vcf = (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Zed Zimmer {uid[-8:]}\r\nN:Zimmer {uid[-8:]};Zed;;;\r\n"
           f"EMAIL;TYPE=work:{uid}@example.org\r\nTEL;TYPE=cell:+49 170 5550123\r\nEND:VCARD\r\n")

    def put_get():
        s = setup.http()
        r = s.put(url, data=vcf.encode(), headers={"Content-Type": "text/vcard; charset=utf-8",
                                                   "If-None-Match": "*"})
        assert r.status_code in (200, 201, 204), (r.status_code, r.text[:300])
        return s.get(url)
    got = await run(put_get)
    assert got.status_code == 200 and f"{uid}@example.org" in got.text and "+49 170 5550123" in got.text
    # and it is a contact in the mailbox, as EWS shows it
    status, p = await soap_call(setup.gw, '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default'
                                          '</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId '
                                          'Id="contacts"/></m:ParentFolderIds></m:FindItem>', user=(EMAIL, PASSWORD))
    assert f"Zed Zimmer {uid[-8:]}".encode() in ET.tostring(p)
    assert (await run(lambda: setup.http().delete(url).status_code)) in (200, 204)


async def test_gal_search_over_ldap(setup):
    import ldap3

    def search():
        server = ldap3.Server(setup.dm.host, port=setup.dm.ldap_port, connect_timeout=10)
        with ldap3.Connection(server, user=EMAIL, password=PASSWORD, auto_bind=True, receive_timeout=60) as c:
            c.search("ou=people", "(mail=bob*)", attributes=["cn", "mail"])
            return [(str(e.cn), str(e.mail)) for e in c.entries]
    found = await run(search)
    assert ("Bob Baker", "bob@example.test") in found, found
