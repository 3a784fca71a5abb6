"""The real evolution-ews (3.46, under evolution-data-server) against the gateway, headless.

A private D-Bus session bus per (gateway, scheme) and module, with HOME and the XDG directories in a
temp dir under /tmp/evo-*; the EDS services (source registry, calendar and address-book factories)
are D-Bus activated there and stopped by pid afterwards. ``evolution_driver.py`` runs under
/usr/bin/python3 (python3-gi) and is driven over JSON lines: it writes the EWS collection account as
Evolution's account wizard does, with the gateway's certificate accepted ("SslTrust", what the trust
prompt's "Accept permanently" stores) and answers each password prompt (no keyring: the secrets
service is masked so every run asks), then works through ECalClient, EBookClient and Camel's EWS
provider. EWS_DEBUG=2 puts the SOAP traffic into the bus log and the driver log, printed when a test
fails; EXGATE_KEEP_EVO=1 keeps the temp dir.

Checked on the demo (embedded) and the real-server gateway, with NTLM and with Basic:
the account goes online and creates its folders; the calendar view shows the seeded events and the
weekly meeting with its moved occurrence and without the cancelled one; an event created, changed and
deleted in Evolution shows over CalDAV; a meeting invitation reaches bob's Inbox and, accepted, his
calendar; the address book and a GAL search; mail through Camel (folders, Inbox summaries, one
message read).

Basic accounts: evolution-ews 3.46 can hang a backend for good on its first (password-less)
connection (see connect_client in the driver); the driver then restarts that factory, as a user
would restart Evolution. NTLM accounts do not hit it.
"""
from __future__ import annotations

import asyncio
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from exchangelib.items import MeetingRequest

from gateway.backends.embedded.seed import _append_mail, _seed_dav, build_plan
from gateway.http.auth.credentials import NtHashStore
from tests.stacks import USERS, needs_installed

from .test_ews_calendar import caldav_objects
from .test_ews_exchangelib import account

HERE = Path(__file__).parent
DRIVER = HERE / "evolution_driver.py"
PYTHON = "/usr/bin/python3"
EDS_BINARIES = ["/usr/libexec/evolution-source-registry", "/usr/libexec/evolution-calendar-factory",
                "/usr/libexec/evolution-addressbook-factory",
                "/usr/lib/evolution-data-server/calendar-backends/libecalbackendews.so"]
BERLIN = ZoneInfo("Europe/Berlin")
PASSWORDS = {u: f"{u}pw" for u in ("alice", "bob", "carol")}


def _missing() -> str | None:
    for p in EDS_BINARIES + [PYTHON, shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"]:
        if not os.path.exists(p):
            return p
    probe = subprocess.run([PYTHON, "-c", "import gi; gi.require_version('ECal', '2.0'); "
                            "gi.require_version('EBook', '1.2'); gi.require_version('Camel', '1.2'); "
                            "from gi.repository import ECal, EBook, EDataServer, Camel"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return "python3-gi with the EDS typelibs (" + probe.stderr.strip().splitlines()[-1] + ")"
    return None


MISSING = _missing()
pytestmark = needs_installed(MISSING, "evolution-data-server/evolution-ews")


class DriverError(AssertionError):
    pass


class Evolution:
    """One EDS instance on a private bus, signed in as one user, and the driver that speaks for it."""

    def __init__(self, gw, kind: str, scheme: str, login: str = "alice"):
        self.gw, self.kind, self.scheme, self.login = gw, kind, scheme, login
        self.root = Path(tempfile.mkdtemp(prefix=f"evo-{kind}-{scheme}-", dir="/tmp"))
        self.marker = str(self.root)
        self.bus: subprocess.Popen | None = None
        self.driver: subprocess.Popen | None = None
        self.sel = selectors.DefaultSelector()
        self.buf = b""

    # ---------------------------------------------------------- processes

    def env(self) -> dict[str, str]:
        r = self.root
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "LANG", "LC_ALL", "TZ") or k.startswith("LD_")}
        env.update(HOME=str(r / "home"), XDG_CONFIG_HOME=str(r / "config"), XDG_DATA_HOME=str(r / "data"),
                   XDG_CACHE_HOME=str(r / "cache"), XDG_RUNTIME_DIR=str(r / "runtime"),
                   GSETTINGS_BACKEND="memory", GIO_USE_VFS="local", NO_AT_BRIDGE="1",
                   EWS_DEBUG=os.environ.get("EXGATE_EWS_DEBUG", "2"), EXGATE_EVO_MARKER=self.marker)
        return env

    def start(self) -> None:
        r = self.root
        for d in ("home", "config", "data", "cache", "runtime", "data/dbus-1/services"):
            (r / d).mkdir(parents=True, exist_ok=True)
        (r / "runtime").chmod(0o700)
        # No keyring: a secrets service that cannot start, so EDS asks for the password (and does not
        # depend on whether gnome-keyring happens to be installed).
        (r / "data/dbus-1/services/org.freedesktop.secrets.service").write_text(
            "[D-BUS Service]\nName=org.freedesktop.secrets\nExec=/bin/false\n")
        env = self.env()
        rfd, wfd = os.pipe()
        self.bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", f"--print-address={wfd}"],
                                    env=env, pass_fds=(wfd,), stdout=open(r / "eds.out", "wb"),
                                    stderr=open(r / "eds.log", "wb"), start_new_session=True)
        os.close(wfd)
        with os.fdopen(rfd) as fh:
            address = fh.readline().strip()
        if not address:
            raise RuntimeError(f"dbus-daemon gave no address: {(r / 'eds.log').read_text()}")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        self.driver = subprocess.Popen([PYTHON, str(DRIVER)], env=env, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=open(r / "driver.log", "wb"),
                                       start_new_session=True)
        os.set_blocking(self.driver.stdout.fileno(), False)
        self.sel.register(self.driver.stdout, selectors.EVENT_READ)

    def call(self, cmd: str, timeout: float = 120, **args):
        assert self.driver is not None
        self.driver.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        self.driver.stdin.flush()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DriverError(f"{cmd}: no answer from evolution_driver in {timeout} s\n{self.logs()}")
            if self.sel.select(left):
                chunk = self.driver.stdout.read()
                if chunk == b"":
                    raise DriverError(f"{cmd}: evolution_driver exited\n{self.logs()}")
                self.buf += chunk or b""
        line, self.buf = self.buf.split(b"\n", 1)
        res = json.loads(line)
        if not res["ok"]:
            raise DriverError(f"{cmd}: {res['error']}\n{res.get('trace', '')}\n{self.logs()}")
        return res["result"]

    async def __call__(self, cmd: str, timeout: float = 120, **args):
        return await asyncio.to_thread(self.call, cmd, timeout, **args)

    async def until(self, cmd: str, ok, timeout: float = 60, refresh: str | None = None, **args):
        """Ask again (after a refresh) until ok(result) holds; the last result either way."""
        deadline = time.monotonic() + timeout
        while True:
            res = await self(cmd, **args)
            if ok(res) or time.monotonic() > deadline:
                return res
            if refresh:
                await self(refresh, **{k: v for k, v in args.items() if k in ("kind", "name")})
            await asyncio.sleep(1)

    def logs(self, tail: int = 60) -> str:
        out = []
        for name in ("driver.log", "eds.log", "eds.out"):
            p = self.root / name
            if p.exists():
                lines = p.read_text(errors="replace").splitlines()
                out.append(f"--- {name} (last {tail} lines of {len(lines)})\n" + "\n".join(
                    x[:2000] for x in lines[-tail:]))
        return "\n".join(out)

    def our_pids(self) -> list[int]:
        """Processes started on our bus (dbus activation): found by the marker in their environment."""
        pids = []
        needle = f"EXGATE_EVO_MARKER={self.marker}".encode()
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/environ", "rb") as fh:
                    if needle in fh.read().split(b"\0"):
                        pids.append(int(p))
            except OSError:
                continue
        return pids

    def stop(self) -> None:
        if self.driver is not None:
            try:
                self.driver.stdin.close()
                self.driver.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.driver.kill()
                self.driver.wait()
        for pid in self.our_pids():
            if self.bus is not None and pid == self.bus.pid:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and [p for p in self.our_pids() if not self.bus or p != self.bus.pid]:
            time.sleep(0.1)
        for pid in self.our_pids():
            if self.bus is None or pid != self.bus.pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.bus is not None:
            self.bus.terminate()
            try:
                self.bus.wait(5)
            except subprocess.TimeoutExpired:
                self.bus.kill()
                self.bus.wait()
        if not os.environ.get("EXGATE_KEEP_EVO"):
            shutil.rmtree(self.root, ignore_errors=True)

    # ---------------------------------------------------------- the account

    def account_args(self) -> dict:
        base = self.gw.base_url
        hostport = base.split("://", 1)[1]
        host, port = hostport.rsplit(":", 1)
        return {"user": self.login, "password": PASSWORDS[self.login], "email": f"{self.login}@example.test",
                "host": host, "port": int(port), "hosturl": base + "/EWS/Exchange.asmx",
                "method": "NTLM" if self.scheme == "ntlm" else "PLAIN",     # Basic (camel-ews-settings.c)
                "cert_pem": Path(self.gw.certificate).read_text()}


# ------------------------------------------------------------------ seeding the real stack

SEEDED_REAL: set[str] = set()


async def seed_real(radicale_url: str, dovecot, logins=("alice", "bob")) -> None:
    """The real servers get the demo's seed (calendar with the weekly meeting, tasks, contacts, and
    alice's Inbox), put straight into Radicale and Dovecot as `exgate demo` does for the embedded one."""
    plan = build_plan(list(USERS.values()))
    async with aiohttp.ClientSession() as http:
        for login in logins:
            if login in SEEDED_REAL:
                continue
            await _seed_dav(http, radicale_url, plan.for_user(login))
            SEEDED_REAL.add(login)
    if "alice-mail" not in SEEDED_REAL:
        mine = plan.for_user("alice")
        await asyncio.to_thread(_append_mail, dovecot.host, dovecot.imap_port, mine.user,
                                [m for m in mine.mail if m.folder == "INBOX"])
        SEEDED_REAL.add("alice-mail")


# ------------------------------------------------------------------ fixtures

CASES = [("demo", "ntlm"), ("demo", "basic"), ("real", "ntlm"), ("real", "basic")]


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{s}" for k, s in CASES])
def evo_case(request):
    kind, scheme = request.param
    if kind == "demo":
        name = "demo_gateway"
    else:
        # after NTLM the gateway has no password: the real servers are reached as an NTLM deployment
        # reaches them (Dovecot master user, Radicale behind the proxy-header listener)
        name = "real_gateway" if scheme == "basic" else "real_gateway_ntlm"
    gw = request.getfixturevalue(name)
    seed = (request.getfixturevalue("radicale").url, request.getfixturevalue("dovecot")) if kind == "real" else None
    return gw, kind, scheme, seed


@pytest.fixture(scope="module")
async def evo(evo_case):
    gw, kind, scheme, seed = evo_case
    if kind == "real":
        await seed_real(*seed)
    if scheme == "ntlm":
        store = NtHashStore(gw.state.db)
        for user, pw in PASSWORDS.items():
            store.set_password(user, pw)
    e = Evolution(gw, kind, scheme)
    await asyncio.to_thread(e.start)
    try:
        e.online = await e("account", timeout=150, **e.account_args())
        yield e
    finally:
        await asyncio.to_thread(e.stop)


def _week_monday() -> datetime:
    today = datetime.now(timezone.utc).date()
    monday = today - timedelta(days=today.weekday())
    return datetime(monday.year, monday.month, monday.day)


def _utc_of(ical_utc: str) -> datetime:
    return datetime.strptime(ical_utc, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


# ------------------------------------------------------------------ account and folders

async def test_account_online_with_folders(evo):
    srcs = evo.online["sources"]
    coll = [s for s in srcs if s["kinds"] == ["collection"]]
    assert coll and coll[0]["status"] == "connected", srcs
    children = {s["name"]: s for s in srcs if s["parent"] == coll[0]["uid"]}
    assert {"Calendar", "Contacts", "Tasks", "Global Address List"} <= set(children), srcs
    assert "calendar" in children["Calendar"]["kinds"] and children["Calendar"]["backend"] == "ews"
    assert "tasks" in children["Tasks"]["kinds"]
    assert "addressbook" in children["Contacts"]["kinds"]
    # the password prompt was answered; no certificate prompt (the stored trust was enough)
    assert any(a["uid"] == coll[0]["uid"] for a in evo.online["answered"])
    assert evo.online["ssl_prompts"] == []


# ------------------------------------------------------------------ the calendar view

async def test_calendar_view_of_the_seeded_weeks(evo):
    monday = _week_monday()
    start = (monday - timedelta(days=14)).replace(tzinfo=timezone.utc)
    end = start + timedelta(days=84)

    def complete(res):
        return any("moved" in (x["summary"] or "") for x in res) and any(
            x["summary"] == "Team offsite" for x in res)

    inst = await evo.until("cal_instances", complete, timeout=60, refresh="cal_refresh",
                           start=int(start.timestamp()), end=int(end.timestamp()))
    weekly = [x for x in inst if (x["summary"] or "").startswith("Engineering weekly")]
    got = sorted(_utc_of(x["instance_start"]) for x in weekly)

    def berlin(days, hh, mm):
        d = monday + timedelta(days=days)
        return datetime(d.year, d.month, d.day, hh, mm, tzinfo=BERLIN).astimezone(timezone.utc)

    # Tuesdays 10:00 Berlin from -13 days (COUNT=12); +8 moved to +9 14:00; +15 cancelled
    expected = sorted([berlin(-13 + 7 * k, 10, 0) for k in range(12) if -13 + 7 * k not in (8, 15)]
                      + [berlin(9, 14, 0)])
    expected = [x for x in expected if start <= x < end]
    assert got == expected, [(x["summary"], x["instance_start"]) for x in weekly]
    moved = [x for x in weekly if "moved" in x["summary"]]
    assert len(moved) == 1 and moved[0]["location"] == "Room Turing (3rd floor)"
    assert _utc_of(moved[0]["instance_end"]) - _utc_of(moved[0]["instance_start"]) == timedelta(minutes=30)
    one = [x for x in inst if (x["summary"] or "").startswith("1:1 Alice")]
    assert [_utc_of(x["instance_start"]) for x in one] == [berlin(3, 15, 0)]
    offsite = [x for x in inst if x["summary"] == "Team offsite"]
    assert len(offsite) == 1 and offsite[0]["start"]["date"] is True
    assert offsite[0]["start"]["value"] == (monday + timedelta(days=10)).strftime("%Y%m%d")
    assert offsite[0]["end"]["value"] == (monday + timedelta(days=12)).strftime("%Y%m%d")


# ------------------------------------------------------------------ the task list

async def test_task_list(evo):
    res = await evo.until("cal_list", lambda r: len(r) >= 3, timeout=60, kind="tasks", ical=True)
    by = {t["summary"]: t for t in res}
    assert {"Book the offsite venue", "Prepare the Q3 budget review", "Read the updated security policy"} <= set(by), res
    assert "STATUS:COMPLETED" in by["Book the offsite venue"]["ical"]
    due = (_week_monday() + timedelta(days=4)).strftime("%Y%m%d")
    assert f"DUE;VALUE=DATE:{due}" in by["Prepare the Q3 budget review"]["ical"].replace("\r\n ", ""), \
        by["Prepare the Q3 budget review"]["ical"]


# ------------------------------------------------------------------ create, change, delete

def _vevent(uid: str, summary: str, start: datetime, minutes: int = 60, extra: str = "") -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    return ("BEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{datetime.now(timezone.utc).strftime(fmt)}\r\n"
            f"SUMMARY:{summary}\r\n"
            f"DTSTART:{start.strftime(fmt)}\r\nDTEND:{(start + timedelta(minutes=minutes)).strftime(fmt)}\r\n"
            f"{extra}END:VEVENT\r\n")


async def _caldav_with(evo, login: str, text: str, present: bool, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        objs = await caldav_objects(evo.gw, login, text)
        if bool(objs) == present or time.monotonic() > deadline:
            return objs
        await asyncio.sleep(0.5)


async def test_event_create_change_delete_shows_over_caldav(evo):
    tag = uuid.uuid4().hex[:10]
    start = (datetime.now(timezone.utc) + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    made = await evo("cal_create", timeout=60, ical=_vevent(f"evo-{tag}@example.test", f"evo {tag}", start))
    assert made["seconds"] < 30, made
    uid = made["uid"]
    objs = await _caldav_with(evo, "alice", f"evo {tag}", True)
    assert len(objs) == 1, objs
    ev = objs[0][2].walk("VEVENT")[0]
    assert ev.decoded("DTSTART").astimezone(timezone.utc) == start
    assert ev.decoded("DTEND").astimezone(timezone.utc) == start + timedelta(hours=1)

    changed = await evo("cal_modify", timeout=60, uid=uid, summary=f"evo {tag} changed",
                        location="Room Hopper")

    async def caldav_summary():
        deadline = time.monotonic() + 30
        while True:
            objs = await caldav_objects(evo.gw, "alice", f"evo {tag}")
            evs = [o[2].walk("VEVENT")[0] for o in objs]
            if (evs and str(evs[0].get("SUMMARY")) == f"evo {tag} changed") or time.monotonic() > deadline:
                return evs
            await asyncio.sleep(0.5)

    evs = await caldav_summary()
    assert changed["seconds"] < 30, changed
    assert len(evs) == 1 and str(evs[0]["SUMMARY"]) == f"evo {tag} changed", evs
    assert str(evs[0]["LOCATION"]) == "Room Hopper"

    removed = await evo("cal_remove", timeout=60, uid=uid)
    assert removed["seconds"] < 30, removed
    assert await _caldav_with(evo, "alice", f"evo {tag}", False) == []


# ------------------------------------------------------------------ a meeting invitation

async def test_meeting_invitation_reaches_bob(evo):
    """Evolution sends the invitation (CreateItem SendToAllAndSaveCopy); bob finds the request in his Inbox,
    accepts it, and it is in his calendar at the time alice gave."""
    tag = uuid.uuid4().hex[:10]
    start = (datetime.now(timezone.utc) + timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)
    extra = ("ORGANIZER;CN=Alice Archer:mailto:alice@example.test\r\n"
             "ATTENDEE;CN=Alice Archer;ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:alice@example.test\r\n"
             "ATTENDEE;CN=Bob Baker;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:"
             "mailto:bob@example.test\r\n")
    made = await evo("cal_create", timeout=60, ical=_vevent(f"evo-{tag}@example.test", f"meet {tag}",
                                                            start, 30, extra))
    assert made["seconds"] < 30, made
    # alice's copy on her CalDAV calendar names bob
    mine = await _caldav_with(evo, "alice", f"meet {tag}", True)
    assert mine and "bob@example.test" in str(mine[0][2].walk("VEVENT")[0].get("ATTENDEE")).lower()

    def bob_accepts():
        bob = account(evo.gw, "bob")
        deadline = time.monotonic() + 60
        while True:
            reqs = [i for i in bob.inbox.filter(subject=f"meet {tag}") if isinstance(i, MeetingRequest)]
            if reqs or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert reqs, "no meeting request in bob's Inbox"
        req = bob.inbox.get(id=reqs[0].id)
        assert req.start == start and req.organizer.email_address == "alice@example.test"
        req.accept(body="see you")

    await asyncio.to_thread(bob_accepts)
    objs = await _caldav_with(evo, "bob", f"meet {tag}", True, timeout=30)
    assert objs, "the accepted meeting is not in bob's calendar"
    ev = objs[0][2].walk("VEVENT")[0]
    assert ev.decoded("DTSTART").astimezone(timezone.utc) == start
    assert "alice@example.test" in str(ev.get("ORGANIZER")).lower()
    await evo("cal_remove", timeout=60, uid=made["uid"])


# ------------------------------------------------------------------ contacts and the GAL

async def test_address_book_lists_the_contacts(evo):
    res = await evo.until("book_list", lambda r: len(r) >= 4, timeout=60, kind="addressbook", refresh=None)
    names = {c["full_name"] for c in res}
    assert {"Dana Diaz", "Erik Eriksson", "Farah Fischer"} <= names, names
    dana = next(c for c in res if c["full_name"] == "Dana Diaz")
    assert dana["emails"], dana


async def test_gal_search(evo):
    res = await evo.until("book_list", lambda r: any(c["full_name"] == "Bob Baker" for c in r), timeout=60,
                          kind="gal", query="bob")
    bob = [c for c in res if c["full_name"] == "Bob Baker"]
    assert bob and "bob@example.test" in [e.lower() for e in bob[0]["emails"]], res


# ------------------------------------------------------------------ mail through Camel

async def test_mail_through_camel(evo):
    """Camel's EWS provider in the driver's own CamelSession: the folders, the Inbox's summaries with
    their flags, one message read (what Evolution's mail view shows)."""
    res = await evo("mail", timeout=120, read_subject="Welcome to your demo mailbox", **evo.account_args())
    names = {f["full_name"]: f for f in res["folders"]}
    assert {"Inbox", "Sent Items", "Drafts", "Deleted Items"} <= set(names), res["folders"]
    assert names["Inbox"]["total"] >= 7 and names["Inbox"]["inbox"] is True       # the Inbox, by its flag
    assert [f["full_name"] for f in res["folders"] if f["inbox"]] == ["Inbox"]
    by_subject = {m["subject"]: m for m in res["inbox"]}
    welcome = by_subject["Welcome to your demo mailbox"]
    assert welcome["from"] == "Exgate Demo <postmaster@example.test>" and welcome["seen"] is True
    assert by_subject["Whiteboard from this morning"]["seen"] is False
    assert "Grüße aus München" in by_subject                       # ISO-8859-1 subject decoded
    assert res["read"]["mime_type"] == "text/plain"
    assert res["read"]["text"].startswith("Hello Alice,")
