"""The embedded demo stack against plain clients: imaplib, raw WebDAV over
aiohttp, smtplib. Nothing from the gateway's own backend clients is used."""
from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import imaplib
import os
import re
import signal
import smtplib
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from icalendar import Calendar
from lxml import etree

from gateway.backends.embedded import EmbeddedStack, load_demo_users, seed, seeded_plan
from gateway.backends.embedded.imap import DEFAULT_FOLDERS, DEFAULT_KEYWORDS
from gateway.backends.embedded.seed import SeedPlan, basic_auth, read_marker, to_crlf

pytestmark = pytest.mark.integration

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav", "CR": "urn:ietf:params:xml:ns:carddav"}
USERS = load_demo_users()


@pytest.fixture(scope="module")
async def stack(tmp_path_factory):
    st = EmbeddedStack(tmp_path_factory.mktemp("embedded"), USERS)
    await st.start()
    try:
        yield st
    finally:
        await st.stop()


@pytest.fixture(scope="module")
async def plan(stack) -> SeedPlan:
    result = await seed(stack)
    assert result is not None, "a fresh data dir must be seeded"
    return result


# ---------------------------------------------------------------- helpers

def imap_login(st: EmbeddedStack, login: str, password: str) -> imaplib.IMAP4:
    imap = imaplib.IMAP4(st.imap_host, st.imap_port, timeout=10)
    imap.login(login, password)
    return imap


def fetch_folder(st: EmbeddedStack, login: str, password: str, folder: str):
    """[(flags, bytes)] in UID order."""
    imap = imap_login(st, login, password)
    try:
        typ, _ = imap.select(imaplib_quote(folder), readonly=True)
        assert typ == "OK"
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        assert typ == "OK"
        out = []
        for item in data:
            if isinstance(item, tuple):
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
                out.append((set(flags) - {"\\Recent"}, item[1]))
        return out
    finally:
        imap.logout()


def imaplib_quote(name: str) -> str:
    return '"' + name + '"'


async def dav(st: EmbeddedStack, method: str, path: str, login: str, password: str,
              body: str | None = None, depth: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": basic_auth(login, password),
               "Content-Type": "application/xml; charset=utf-8"}
    if depth is not None:
        headers["Depth"] = depth
    async with aiohttp.ClientSession() as http:
        async with http.request(method, st.dav_url.rstrip("/") + path, headers=headers,
                                data=body.encode() if body else None) as r:
            return r.status, await r.read()


def calendar_datas(xml: bytes) -> list[str]:
    tree = etree.fromstring(xml)
    return [e.text for e in tree.iterfind(".//C:calendar-data", NS) if e.text]


def utc(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%SZ")


def monday_of(plan: SeedPlan) -> datetime:
    d = plan.seeded_at.date() - timedelta(days=plan.seeded_at.weekday())
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def child_pids_with(text: str) -> list[int]:
    """PIDs of processes whose command line mentions ``text`` (our data dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            pids.append(int(entry.name))
    return pids


# ---------------------------------------------------------------- login and folders

async def test_imap_login_right_and_wrong_password(stack, plan):
    def check():
        for u in USERS:
            imap = imap_login(stack, u.login, u.password)
            assert imap.welcome.endswith(b"Server ready localhost")
            imap.logout()
            imap = imaplib.IMAP4(stack.imap_host, stack.imap_port, timeout=10)
            with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
                imap.login(u.login, u.password + "x")
            imap.shutdown()
    await asyncio.to_thread(check)


async def test_dav_login_right_and_wrong_password(stack, plan):
    alice = USERS[0]
    status, _ = await dav(stack, "PROPFIND", f"/{alice.login}/", alice.login, alice.password, depth="0")
    assert status == 207
    status, _ = await dav(stack, "PROPFIND", f"/{alice.login}/", alice.login, "wrong", depth="0")
    assert status == 401


async def test_passwords_are_stored_hashed(stack, plan):
    for rel in ("imap/pymap-etc-shadow", "dav/htpasswd"):
        text = (stack.data_dir / rel).read_text()
        for u in USERS:
            assert f":{u.password}" not in text, rel
            assert re.search(rf"^{u.login}:\$", text, re.M), rel


async def test_default_folders_and_keywords(stack, plan):
    def check():
        imap = imap_login(stack, USERS[1].login, USERS[1].password)
        try:
            typ, data = imap.list()
            names = {re.search(rb'"([^"]*)"$|(\S+)$', line).group(0).strip(b'"').decode()
                     for line in data}
            assert {"INBOX", *DEFAULT_FOLDERS} <= names
            for folder in ("INBOX", *DEFAULT_FOLDERS):
                imap.select(folder)
                perm = imap.response("PERMANENTFLAGS")[1][0].decode()
                for kw in DEFAULT_KEYWORDS:
                    assert kw in perm, (folder, kw)
            typ, data = imap.lsub()
            assert len(data) >= 1 + len(DEFAULT_FOLDERS)
        finally:
            imap.logout()
    await asyncio.to_thread(check)


# ---------------------------------------------------------------- seeded mail

async def test_seeded_mail_is_there_unchanged(stack, plan):
    def check():
        for useed in plan.users:
            u = useed.user
            for folder in {m.folder for m in useed.mail}:
                expected = [m for m in useed.mail if m.folder == folder]
                got = fetch_folder(stack, u.login, u.password, folder)
                assert len(got) == len(expected), (u.login, folder)
                for m, (flags, data) in zip(expected, got):
                    # pymap's maildir serves LF; the content is otherwise byte-identical.
                    assert to_crlf(data) == m.data, (u.login, m.source)
                    assert flags == set(m.flags), (u.login, m.source)
    await asyncio.to_thread(check)
    assert len([m for m in plan.users[0].mail if m.folder == "INBOX"]) >= 6
    assert len([m for m in plan.users[0].mail if m.folder == "Sent"]) == 1


async def test_seeded_mail_mime_content(stack, plan):
    bob = USERS[1]
    got = await asyncio.to_thread(fetch_folder, stack, bob.login, bob.password, "INBOX")
    msgs = {email.message_from_bytes(to_crlf(d), policy=email.policy.default)["Subject"]: email.message_from_bytes(to_crlf(d), policy=email.policy.default)
            for _, d in got}

    news = msgs["Northwind Weekly: spring catalogue and delivery times"]
    assert news.get_content_type() == "multipart/alternative"
    assert "€ 249" in news.get_body(("html",)).get_content()
    assert "€ 249" in news.get_body(("plain",)).get_content()

    report = msgs["Q3 report for the Northwind account"]
    (pdf,) = list(report.iter_attachments())
    assert pdf.get_filename() == "Q3-report.pdf" and pdf.get_content_type() == "application/pdf"
    blob = pdf.get_content()
    assert blob.startswith(b"%PDF-1.4") and blob.rstrip().endswith(b"%%EOF")

    board = msgs["Whiteboard from this morning"]
    html = board.get_body(("html",))
    cid = re.search(r'src="cid:([^"]+)"', html.get_content()).group(1)
    images = [p for p in board.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == f"<{cid}>"
    assert images[0].get_content_disposition() == "inline"
    assert images[0].get_content().startswith(b"\x89PNG\r\n\x1a\n")

    latin = msgs["Grüße aus München"]
    assert latin.get_content_charset() == "iso-8859-1"
    assert "Jürgen Müller" in str(latin["From"])
    assert "Französische übernimmt Frau Häberle" in latin.get_content()

    # the thread: start (INBOX) <- reply (Sent) <- reply (INBOX)
    start = msgs["Offsite agenda"]
    sent = await asyncio.to_thread(fetch_folder, stack, bob.login, bob.password, "Sent")
    mine = email.message_from_bytes(to_crlf(sent[0][1]), policy=email.policy.default)
    assert mine["In-Reply-To"] == start["Message-ID"]
    last = [email.message_from_bytes(to_crlf(d), policy=email.policy.default) for _, d in got][-1]
    assert last["In-Reply-To"] == mine["Message-ID"]
    assert start["Message-ID"] in last["References"] and mine["Message-ID"] in last["References"]


# ---------------------------------------------------------------- calendars, tasks, contacts

async def test_collections_and_their_properties(stack, plan):
    carol = USERS[2]
    body = ('<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>'
            '<D:displayname/><D:resourcetype/><C:supported-calendar-component-set/>'
            '</D:prop></D:propfind>')
    status, xml = await dav(stack, "PROPFIND", f"/{carol.login}/", carol.login, carol.password,
                            body, depth="1")
    assert status == 207
    found = {}
    for resp in etree.fromstring(xml).iterfind("D:response", NS):
        name = resp.findtext(".//D:displayname", namespaces=NS)
        comps = {c.get("name") for c in resp.iterfind(".//C:comp", NS)}
        kinds = {etree.QName(e).localname for e in resp.iterfind(".//D:resourcetype/*", NS)}
        found[name] = (kinds, comps)
    assert "calendar" in found["Calendar"][0] and found["Calendar"][1] == {"VEVENT"}
    assert "calendar" in found["Tasks"][0] and found["Tasks"][1] == {"VTODO"}
    assert "addressbook" in found["Contacts"][0]


async def test_recurring_meeting_expands(stack, plan):
    bob = USERS[1]
    monday = monday_of(plan)
    start, end = monday - timedelta(days=14), monday + timedelta(days=28)
    body = f"""<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
      <D:prop><C:calendar-data><C:expand start="{utc(start)}" end="{utc(end)}"/></C:calendar-data></D:prop>
      <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
        <C:time-range start="{utc(start)}" end="{utc(end)}"/>
      </C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"""
    status, xml = await dav(stack, "REPORT", f"/{bob.login}/calendar/", bob.login, bob.password,
                            body, depth="1")
    assert status == 207
    weekly = []
    summaries = set()
    for text in calendar_datas(xml):
        for ev in Calendar.from_ical(text).walk("VEVENT"):
            summaries.add(str(ev["SUMMARY"]))
            if str(ev["UID"]).startswith("engineering-weekly"):
                weekly.append(ev)
    # Tuesdays at -13, -6, +1, +8 (moved to Wednesday +9), +15 (EXDATE), +22
    assert len(weekly) == 5, [str(e.get("RECURRENCE-ID")) for e in weekly]
    starts = sorted(e.decoded("DTSTART").astimezone(timezone.utc) for e in weekly)
    days = [(s.date() - monday.date()).days for s in starts]
    assert days == [-13, -6, 1, 9, 22]
    moved = [e for e in weekly if "moved" in str(e["SUMMARY"])]
    assert len(moved) == 1
    assert {str(a) for a in weekly[0].get("ATTENDEE")} == {f"mailto:{u.email}" for u in USERS}
    assert str(weekly[0]["ORGANIZER"]) == f"mailto:{USERS[0].email}"
    assert {"1:1 Bob / Carol", "Team offsite"} <= summaries


async def test_calendar_objects_and_all_day_event(stack, plan):
    alice = USERS[0]
    body = ('<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            '<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter>'
            '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>'
            '</C:filter></C:calendar-query>')
    status, xml = await dav(stack, "REPORT", f"/{alice.login}/calendar/", alice.login,
                            alice.password, body, depth="1")
    assert status == 207
    cals = [Calendar.from_ical(t) for t in calendar_datas(xml)]
    assert len(cals) == 3
    weekly = next(c for c in cals if any("RRULE" in e for e in c.walk("VEVENT")))
    master = next(e for e in weekly.walk("VEVENT") if "RRULE" in e)
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and "EXDATE" in master
    assert any("RECURRENCE-ID" in e for e in weekly.walk("VEVENT"))
    offsite = next(e for c in cals for e in c.walk("VEVENT") if str(e["SUMMARY"]) == "Team offsite")
    assert offsite["DTSTART"].params.get("VALUE") == "DATE" or not hasattr(offsite.decoded("DTSTART"), "hour")


async def test_tasks(stack, plan):
    carol = USERS[2]
    body = ('<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            '<D:prop><C:calendar-data/></D:prop><C:filter>'
            '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>'
            '</C:filter></C:calendar-query>')
    status, xml = await dav(stack, "REPORT", f"/{carol.login}/tasks/", carol.login,
                            carol.password, body, depth="1")
    assert status == 207
    todos = [t for text in calendar_datas(xml) for t in Calendar.from_ical(text).walk("VTODO")]
    assert len(todos) == 3
    assert sum(1 for t in todos if str(t.get("STATUS")) == "COMPLETED" and "COMPLETED" in t) == 1
    assert sum(1 for t in todos if "DUE" in t and str(t.get("STATUS")) != "COMPLETED") == 1


async def test_contacts(stack, plan):
    alice = USERS[0]
    body = ('<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
            '<D:prop><D:getetag/><CR:address-data/></D:prop></CR:addressbook-query>')
    status, xml = await dav(stack, "REPORT", f"/{alice.login}/contacts/", alice.login,
                            alice.password, body, depth="1")
    assert status == 207
    cards = [e.text.replace("\r\n ", "").replace("\n ", "")
             for e in etree.fromstring(xml).iterfind(".//CR:address-data", NS)]
    assert len(cards) == 4
    versions = sorted(re.search(r"VERSION:(\S+)", c).group(1) for c in cards)
    assert versions == ["3.0", "3.0", "4.0", "4.0"]
    assert all(re.search(r"^TEL", c, re.M) and re.search(r"^ADR", c, re.M)
               and re.search(r"^EMAIL", c, re.M) for c in cards)
    photo = [c for c in cards if re.search(r"^PHOTO", c, re.M)]
    assert len(photo) == 1
    assert "iVBORw0KGgo" in photo[0]  # base64 of the PNG signature


# ---------------------------------------------------------------- SMTP

def _send(st: EmbeddedStack, rcpt: str, subject: str) -> None:
    msg = (f"From: Someone <someone@elsewhere.example>\r\nTo: {rcpt}\r\n"
           f"Subject: {subject}\r\nMessage-ID: <{uuid.uuid4()}@elsewhere.example>\r\n"
           f"Date: {email.utils.formatdate()}\r\n\r\nHello over SMTP.\r\n")
    with smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@elsewhere.example", [rcpt], msg.encode())


async def test_smtp_to_local_user_lands_in_inbox(stack, plan):
    bob = USERS[1]
    subject = f"smtp-local-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(_send, stack, bob.email, subject)
    deadline = time.monotonic() + 5
    found = None
    while time.monotonic() < deadline and found is None:
        got = await asyncio.to_thread(fetch_folder, stack, bob.login, bob.password, "INBOX")
        found = next((d for _, d in got if subject.encode() in d), None)
        if found is None:
            await asyncio.sleep(0.25)
    assert found is not None, "delivered message did not show up in bob's INBOX within 5 s"
    msg = email.message_from_bytes(to_crlf(found), policy=email.policy.default)
    assert msg["Delivered-To"] == bob.email
    assert "exgate embedded" in msg["Received"] and bob.email in msg["Received"]
    assert list(stack.outbound_dir.glob("*.eml")) == [] or all(
        subject.encode() not in p.read_bytes() for p in stack.outbound_dir.glob("*.eml"))


async def test_smtp_to_outside_address_is_kept_in_outbound(stack, plan):
    subject = f"smtp-outside-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(_send, stack, "partner@far-away.example", subject)
    files = [p for p in stack.outbound_dir.glob("*.eml") if subject.encode() in p.read_bytes()]
    assert len(files) == 1
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["X-Envelope-To"] == "partner@far-away.example"
    assert msg["Received"] and msg["Subject"] == subject


# ---------------------------------------------------------------- restart and stop

async def test_restart_keeps_everything_and_does_not_reseed(tmp_path):
    data_dir = tmp_path / "persist"
    alice, bob = USERS[0], USERS[1]
    async with EmbeddedStack(data_dir, USERS) as st:
        first = await seed(st)
        assert first is not None
        await asyncio.to_thread(_send, st, bob.email, "before-restart")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            inbox = await asyncio.to_thread(fetch_folder, st, bob.login, bob.password, "INBOX")
            if any(b"before-restart" in d for _, d in inbox):
                break
            await asyncio.sleep(0.25)
        radicale_pid = st.dav.proc.pid
        marker = read_marker(data_dir)
        shadow = (data_dir / "imap" / "pymap-etc-shadow").read_text()
    assert child_pids_with(str(data_dir)) == []
    with pytest.raises(ProcessLookupError):
        os.kill(radicale_pid, 0)

    async with EmbeddedStack(data_dir, USERS) as st:
        assert await seed(st) is None
        assert read_marker(data_dir) == marker
        # the stored hashes still verified, so they were kept as they were
        assert (data_dir / "imap" / "pymap-etc-shadow").read_text() == shadow
        again = await asyncio.to_thread(fetch_folder, st, bob.login, bob.password, "INBOX")
        assert [d for _, d in again] == [d for _, d in inbox]
        assert sum(b"before-restart" in d for _, d in again) == 1
        plan = seeded_plan(data_dir, USERS)
        assert plan is not None and plan.seeded_at == first.seeded_at
        for m, (_, d) in zip([m for m in plan.for_user("bob").mail if m.folder == "INBOX"], again):
            assert to_crlf(d) == m.data
        status, xml = await dav(st, "PROPFIND", f"/{alice.login}/calendar/", alice.login,
                                alice.password, None, depth="1")
        assert status == 207
        hrefs = [h for h in etree.fromstring(xml).xpath("//D:href/text()", namespaces=NS)
                 if h.endswith(".ics")]
        assert len(hrefs) == 3
    assert child_pids_with(str(data_dir)) == []


async def test_stop_leaves_no_child_process(tmp_path):
    st = EmbeddedStack(tmp_path / "stopcheck", USERS)
    await st.start()
    pid = st.dav.proc.pid
    assert child_pids_with(str(st.data_dir)) == [pid]
    await st.stop()
    assert child_pids_with(str(st.data_dir)) == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(OSError):
        imaplib.IMAP4(st.imap_host, st.imap_port, timeout=2)
    await st.stop()  # idempotent


async def test_radicale_dies_with_a_killed_parent(tmp_path):
    """SIGKILL of the process that owns the stack (no stop()) must not leave
    Radicale running: the child asked for PR_SET_PDEATHSIG."""
    data_dir = tmp_path / "orphan"
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from gateway.backends.embedded import EmbeddedStack, load_demo_users\n"
        "async def main():\n"
        f"    st = EmbeddedStack(Path({str(data_dir)!r}), load_demo_users())\n"
        "    await st.start()\n"
        "    print(st.dav.proc.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, env=env)
    try:
        line = await asyncio.wait_for(parent.stdout.readline(), timeout=20)
        radicale_pid = int(line)
        assert radicale_pid in child_pids_with(str(data_dir))
    finally:
        parent.kill()
        await parent.wait()
    deadline = time.monotonic() + 5
    while child_pids_with(str(data_dir)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    left = child_pids_with(str(data_dir))
    for pid in left:  # only processes serving this test's own temp dir
        os.kill(pid, signal.SIGKILL)
    assert left == []


async def test_imap_copy_keeps_the_message(stack, plan):
    """COPY gives a full copy (pymap 0.36's maildir COPY wrote a 1-byte message; embedded/imap.py fixes it)."""
    body = b"From: a@example.test\r\nTo: bob@example.test\r\nSubject: copy check\r\n\r\nkeep this body\r\n"

    def check():
        im = imap_login(stack, "bob", "bobpw")
        try:
            im.append("INBOX", None, None, body)
            im.select("INBOX")
            _, data = im.search(None, "SUBJECT", '"copy check"')
            typ, _ = im.copy(data[0].split()[-1], "Junk")
            assert typ == "OK"
            im.select("Junk", readonly=True)
            _, data = im.search(None, "SUBJECT", '"copy check"')
            assert data[0].split(), "the copy is not a readable message"
            _, got = im.fetch(data[0].split()[-1], "(BODY.PEEK[])")
            assert got[0][1].replace(b"\r\n", b"\n") == body.replace(b"\r\n", b"\n")
        finally:
            im.logout()
    await asyncio.to_thread(check)
