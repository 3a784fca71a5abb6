"""`exgate serve --workers 2` as a process on the real servers (PostgreSQL, Dovecot, slapd, Radicale,
Postfix): many EWS clients on new connections (so both workers serve) see one ItemId per message, the
state holds one row per IMAP message, a subscriber on one worker hears of a change made through the other
(gateway/store/state/wakeups.py), a subscription asked for on the other worker is a clear
ErrorSubscriptionNotFound, and a killed worker is started again while the port stays served.
"""
from __future__ import annotations

import asyncio
import base64
import imaplib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import aiohttp
import psycopg
import pytest
from lxml import etree

from gateway.config import HttpConfig
from tests.stacks import USERS, real_config

from .test_cli_check import _free_port, write_toml

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

NS = {"t": "http://schemas.microsoft.com/exchange/services/2006/types",
      "m": "http://schemas.microsoft.com/exchange/services/2006/messages"}
ENVELOPE = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"""
CREATE = ('<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/>'
          '</m:SavedItemFolderId><m:Items><t:Message>{cls}<t:Subject>{subject}</t:Subject>'
          '<t:Body BodyType="Text">workers</t:Body></t:Message></m:Items></m:CreateItem>')
FIND = ('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>'
        '<t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape>'
        '<m:IndexedPageItemView MaxEntriesReturned="1000" Offset="0" BasePoint="Beginning"/>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>')
MOVE = ('<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="{folder}"/></m:ToFolderId><m:ItemIds>{ids}'
        '</m:ItemIds></m:MoveItem>')
SUBSCRIBE = ('<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>{folders}'
             '</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>MovedEvent'
             '</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>')
GET_EVENTS = '<m:GetEvents><m:SubscriptionId>{sid}</m:SubscriptionId><m:Watermark>{wm}</m:Watermark></m:GetEvents>'
GET_FOLDER = ('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>'
              '<t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')
AUTH = "Basic " + base64.b64encode(f"alice@example.test:{USERS['alice'].password}".encode()).decode()
CLIENTS = 16


class Served:
    """The parent process and what it printed."""

    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc = proc
        self.url = url
        self.lines: list[str] = []
        self.pids: list[int] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines:
                if (m := re.search(pattern, line)) is not None:
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the output of exgate serve: {self.lines} "
                             f"(exit {self.proc.poll()}; its log: {self.log.read_text()[-3000:]})")


@pytest.fixture
def served(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path):
    yield from _serve(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path, {})


@pytest.fixture
def served_without_notify(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path):
    yield from _serve(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path, {"EXGATE_CROSS_WORKER_WAKEUPS": "0"})


def _serve(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path, env: dict, workers: int = 2):
    port = _free_port()
    tmp_path = tmp_path / f"gw-{port}"
    tmp_path.mkdir()
    cfg = real_config(dovecot, radicale, postfix, slapd, fresh_pg)
    cfg = replace(cfg, http=HttpConfig(host="127.0.0.1", port=port, tls=False, allow_basic_over_http=True))
    toml = write_toml(cfg, tmp_path / "exgate.toml")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "-c", str(toml), "--workers", str(workers),
                             "--data-dir", str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=log, text=True, start_new_session=True, env={**os.environ, **env})
    s = Served(proc, f"http://127.0.0.1:{port}")
    s.log = tmp_path / "serve.log"
    try:
        if workers == 1:
            s.wait_for(r"^exgate is serving at ")
            s.pids = [proc.pid]
        else:
            m = s.wait_for(r"serving at \S+ with 2 workers \(pids (\d+) (\d+)\)")
            s.pids = [int(m.group(1)), int(m.group(2))]
        s.dsn = fresh_pg
        yield s
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    log.close()
    assert proc.returncode == 0, (proc.returncode, s.lines)
    for pid in s.pids:       # the workers ended with the parent
        assert not _alive(pid), pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


async def soap(http: aiohttp.ClientSession, url: str, body: str) -> tuple[etree._Element, str]:
    async with http.post(url + "/EWS/Exchange.asmx", data=ENVELOPE.format(body=body).encode(),
                         headers={"Content-Type": "text/xml; charset=utf-8", "Authorization": AUTH}) as r:
        data = await r.read()
        assert r.status == 200, data[:500]
        return etree.fromstring(data), r.headers.get("X-Exgate-Worker", "")


def new_connection() -> aiohttp.ClientSession:
    """One request per connection: each lands on whichever worker the kernel picks."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


def one_connection() -> aiohttp.ClientSession:
    """Every request on one keep-alive connection: one worker."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))


def _codes(root) -> list[str]:
    return [e.text for e in root.iter(f"{{{NS['m']}}}ResponseCode")]


def _subjects(root, tag: str) -> dict[str, str]:
    out = {}
    for item in root.iter(f"{{{NS['t']}}}Message"):
        subject = item.findtext("t:Subject", namespaces=NS) or ""
        if tag in subject:
            assert subject not in out, f"{subject} twice in one listing"
            out[subject] = item.find("t:ItemId", NS).get("Id")
    return out


def _append(dovecot, subjects: list[str]) -> None:
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port) as im:
        im.login("alice", USERS["alice"].password)
        for s in subjects:
            msg = (f"From: Else <else@example.org>\r\nTo: Alice <alice@example.test>\r\nSubject: {s}\r\n"
                   f"Message-ID: <{uuid.uuid4()}@example.org>\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain\r\n\r\nworkers\r\n")
            assert im.append("INBOX", None, None, msg.encode())[0] == "OK"


async def _listing(url: str, folder: str, tag: str, workers: set[str]) -> list[dict[str, str]]:
    async def one():
        async with new_connection() as http:
            root, w = await soap(http, url, FIND.format(folder=folder))
            workers.add(w)
            assert set(_codes(root)) == {"NoError"}, _codes(root)
            return _subjects(root, tag)
    return await asyncio.gather(*[one() for _ in range(CLIENTS)])


async def test_parallel_clients_on_two_workers_see_one_id_per_message(served, dovecot):
    tag = f"wk-{uuid.uuid4().hex[:8]}"
    workers: set[str] = set()
    _append(dovecot, [f"{tag} imap {i}" for i in range(20)])

    # create: every client makes two drafts, each on a new connection
    async def create(c: int):
        for k in range(2):
            async with new_connection() as http:
                root, w = await soap(http, served.url, CREATE.format(folder="drafts", cls="",
                                                                      subject=f"{tag} draft {c}.{k}"))
                workers.add(w)
                assert _codes(root) == ["NoError"], _codes(root)
    await asyncio.gather(*[create(c) for c in range(CLIENTS // 2)])

    # list: every client sees the same ItemIds, one per message
    for folder, n in (("inbox", 20), ("drafts", CLIENTS)):
        seen = await _listing(served.url, folder, tag, workers)
        assert all(s == seen[0] for s in seen), folder
        assert len(seen[0]) == n and len(set(seen[0].values())) == n, (folder, seen[0])
    drafts = seen[0]
    inbox = (await _listing(served.url, "inbox", tag, workers))[0]

    # move: each client moves its share of the inbox messages and drafts to Deleted Items
    ids = sorted(inbox.items()) + sorted(drafts.items())
    moved: dict[str, str] = {}

    async def move(c: int):
        share = ids[c::CLIENTS]
        async with new_connection() as http:
            body = MOVE.format(folder="deleteditems", ids="".join(f'<t:ItemId Id="{i}"/>' for _, i in share))
            root, w = await soap(http, served.url, body)
            workers.add(w)
            assert set(_codes(root)) == {"NoError"}, _codes(root)
            new = [e.get("Id") for e in root.iter(f"{{{NS['t']}}}ItemId")]
            moved.update({s: n for (s, _), n in zip(share, new)})
    await asyncio.gather(*[move(c) for c in range(CLIENTS)])
    seen = await _listing(served.url, "deleteditems", tag, workers)
    assert all(s == seen[0] for s in seen)
    assert seen[0] == moved and len(moved) == 20 + CLIENTS
    for folder in ("inbox", "drafts"):
        assert not (await _listing(served.url, folder, tag, workers))[0]

    # the state: one live row per IMAP message, and both workers answered
    with psycopg.connect(served.dsn) as conn:
        dup = conn.execute("SELECT mailbox_id, fid, uidvalidity, uid, COUNT(*) FROM messages WHERE uid IS NOT NULL "
                           "GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1").fetchall()
        assert dup == []
    assert workers == {"1", "2"}, workers


async def _on_other_worker(url: str, than: str) -> aiohttp.ClientSession:
    """A keep-alive connection that the other worker accepted."""
    for _ in range(50):
        http = one_connection()
        _, w = await soap(http, url, GET_FOLDER)
        if w and w != than:
            return http
        await http.close()
    raise AssertionError(f"no connection reached a worker other than {than}")


async def _events(http, url: str, sid: str, wm: str, want: str, timeout: float = 15.0) -> list:
    end = time.monotonic() + timeout
    found = []
    while time.monotonic() < end:
        root, _ = await soap(http, url, GET_EVENTS.format(sid=sid, wm=wm))
        assert _codes(root) == ["NoError"], _codes(root)
        for ev in root.iter(f"{{{NS['t']}}}{want}"):
            found.append(ev)
            wm = ev.findtext("t:Watermark", namespaces=NS) or wm
        if found:
            return found
        await asyncio.sleep(0.5)
    return found


async def test_a_subscriber_hears_a_change_made_through_the_other_worker(served):
    tag = f"wk-{uuid.uuid4().hex[:8]}"
    async with one_connection() as sub:
        root, mine = await soap(sub, served.url, SUBSCRIBE.format(folders='<t:DistinguishedFolderId Id="notes"/>'))
        assert _codes(root) == ["NoError"], _codes(root)
        sid = root.findtext(".//m:SubscriptionId", namespaces=NS)
        wm = root.findtext(".//m:Watermark", namespaces=NS)
        other = await _on_other_worker(served.url, mine)
        try:
            # a subscription lives in its worker: asked for on the other one it is not found
            root, w = await soap(other, served.url, GET_EVENTS.format(sid=sid, wm=wm))
            assert w != mine and _codes(root) == ["ErrorSubscriptionNotFound"], _codes(root)
            # a note: an item only the state database holds, written through the other worker
            root, w = await soap(other, served.url, CREATE.format(folder="notes", subject=f"{tag} note",
                                                                  cls="<t:ItemClass>IPM.StickyNote</t:ItemClass>"))
            assert w != mine and _codes(root) == ["NoError"], _codes(root)
            note_id = root.find(".//t:ItemId", NS).get("Id")
        finally:
            await other.close()
        events = await _events(sub, served.url, sid, wm, "CreatedEvent")
        assert [e.find("t:ItemId", NS).get("Id") for e in events] == [note_id]


@pytest.fixture
def two_gateways(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path):
    """Two `exgate serve` processes (one worker each, two ports) on one PostgreSQL: two hosts."""
    one = _serve(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path, {}, workers=1)
    two = _serve(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path, {}, workers=1)
    try:
        yield next(one), next(two)
    finally:
        for gen in (one, two):
            next(gen, None)


async def test_two_gateways_on_one_postgresql_share_ids_and_notifications(two_gateways):
    """A note made through gateway B reaches a subscriber on gateway A, and both list the same ItemIds."""
    a, b = two_gateways
    tag = f"wk-{uuid.uuid4().hex[:8]}"
    async with one_connection() as sub, one_connection() as other:
        root, _ = await soap(sub, a.url, SUBSCRIBE.format(folders='<t:DistinguishedFolderId Id="notes"/>'))
        assert _codes(root) == ["NoError"], _codes(root)
        sid = root.findtext(".//m:SubscriptionId", namespaces=NS)
        wm = root.findtext(".//m:Watermark", namespaces=NS)
        root, _ = await soap(other, b.url, CREATE.format(folder="notes", subject=f"{tag} note",
                                                         cls="<t:ItemClass>IPM.StickyNote</t:ItemClass>"))
        assert _codes(root) == ["NoError"], _codes(root)
        note_id = root.find(".//t:ItemId", NS).get("Id")
        events = await _events(sub, a.url, sid, wm, "CreatedEvent")
        assert [e.find("t:ItemId", NS).get("Id") for e in events] == [note_id]
        seen = []
        for url in (a.url, b.url):
            root, _ = await soap(sub if url == a.url else other, url, FIND.format(folder="notes"))
            seen.append(_subjects(root, tag))
        assert seen[0] == seen[1] == {f"{tag} note": note_id}


async def test_imap_changes_reach_every_worker_by_the_servers_push(served_without_notify):
    """With NOTIFY off, a draft made through the other worker (an IMAP APPEND) still reaches the subscriber
    (its worker's own IMAP watch), and a note (only in the state database) does not: NOTIFY carries it."""
    served = served_without_notify
    tag = f"wk-{uuid.uuid4().hex[:8]}"
    async with one_connection() as sub:
        folders = '<t:DistinguishedFolderId Id="drafts"/><t:DistinguishedFolderId Id="notes"/>'
        root, mine = await soap(sub, served.url, SUBSCRIBE.format(folders=folders))
        assert _codes(root) == ["NoError"], _codes(root)
        sid = root.findtext(".//m:SubscriptionId", namespaces=NS)
        wm = root.findtext(".//m:Watermark", namespaces=NS)
        other = await _on_other_worker(served.url, mine)
        ids = {}
        try:
            for folder, cls in (("notes", "<t:ItemClass>IPM.StickyNote</t:ItemClass>"), ("drafts", "")):
                root, w = await soap(other, served.url, CREATE.format(folder=folder, subject=f"{tag} {folder}",
                                                                      cls=cls))
                assert w != mine and _codes(root) == ["NoError"], _codes(root)
                ids[root.find(".//t:ItemId", NS).get("Id")] = folder
        finally:
            await other.close()
        events = await _events(sub, served.url, sid, wm, "CreatedEvent", timeout=30)
        await asyncio.sleep(3)
        events += await _events(sub, served.url, sid, events[-1].findtext("t:Watermark", namespaces=NS) if events
                                else wm, "CreatedEvent", timeout=1)
        # (alice's drafts are shared with the rest of the suite: events for items of other tests are left out)
        heard = [ids[i] for i in (e.find("t:ItemId", NS).get("Id") for e in events) if i in ids]
        assert heard == ["drafts"], heard


async def test_a_killed_worker_is_started_again_and_the_port_stays_served(served):
    victim = served.pids[0]
    os.kill(victim, signal.SIGKILL)
    await asyncio.sleep(0.3)
    workers = set()

    async def one():
        async with new_connection() as http:
            root, w = await soap(http, served.url, GET_FOLDER)
            assert _codes(root) == ["NoError"]
            workers.add(w)
    await asyncio.gather(*[one() for _ in range(20)])    # while it is down: the other worker takes them all
    assert len(workers) == 1, workers
    m = served.wait_for(r"worker (\d) restarted as pid (\d+)", timeout=60)
    assert int(m.group(2)) != victim and _alive(int(m.group(2)))
    workers.clear()
    end = time.monotonic() + 60
    while workers != {"1", "2"} and time.monotonic() < end:
        await asyncio.gather(*[one() for _ in range(10)])
    assert workers == {"1", "2"}, workers


def test_several_workers_on_sqlite_are_refused(dovecot, radicale, postfix, slapd, tmp_path):
    cfg = real_config(dovecot, radicale, postfix, slapd, str(tmp_path / "state.sqlite3"))
    cfg = replace(cfg, http=HttpConfig(host="127.0.0.1", port=_free_port(), workers=2))
    toml = write_toml(cfg, tmp_path / "exgate.toml")
    r = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "-c", str(toml), "--data-dir", str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "[state] dsn = \"postgresql://...\"" in lines[0], r.stderr
    assert not (tmp_path / "state.sqlite3").exists()


async def test_a_queued_message_is_tried_by_one_worker_even_past_its_lease(fresh_pg):
    """Two workers' Outbox retry loops on one PostgreSQL (two connections, as two processes have): worker A
    claims a due message and its try outlasts the lease (a slow SMTP server); worker B's pass sees the row
    due again, but the advisory lock A holds for the whole try keeps B from sending it a second time."""
    from gateway.store.mailbox import provision
    from gateway.store.outbox import OutboxWorker
    from gateway.store.state.db import StateDB
    from gateway.store.state.queue import SubmitQueue

    db_a, db_b = StateDB.open(fresh_pg), StateDB.open(fresh_pg)
    try:
        ident = provision(db_a, "alice@example.test")
        now = time.time()
        SubmitQueue(db_a).add(ident.mailbox_id, 0x4242, login="alice", save_fid=None, queued_at=now - 60,
                              next_try=now - 1, reason="451 try later")
        tried: list[str] = []
        in_try, release = asyncio.Event(), asyncio.Event()

        def opener(name):
            async def open_(q):
                tried.append(name)
                if name == "A":
                    in_try.set()
                    await release.wait()    # the try takes longer than the lease
                return None                 # "waiting": rescheduled
            return open_
        a = OutboxWorker(db_a, opener("A"), lease=0.0)
        b = OutboxWorker(db_b, opener("B"), lease=0.0)
        run_a = asyncio.create_task(a.run_once())
        await asyncio.wait_for(in_try.wait(), 10)
        assert SubmitQueue(db_b).due(time.time() + 1), "the lease is over: the row is due again"
        assert await b.run_once(time.time() + 1) == []
        release.set()
        assert [outcome for _, outcome in await run_a] == ["waiting"]
        assert tried == ["A"]
        a.locks.close(), b.locks.close()
    finally:
        db_a.close(), db_b.close()


def test_workers_end_with_their_parent_even_when_it_is_killed(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path):
    gen = _serve(dovecot, radicale, postfix, slapd, fresh_pg, tmp_path, {})
    s = next(gen)
    try:
        os.kill(s.proc.pid, signal.SIGKILL)     # no chance to stop them itself
        s.proc.wait(10)
        end = time.monotonic() + 20
        while any(_alive(p) for p in s.pids) and time.monotonic() < end:
            time.sleep(0.2)
        assert not any(_alive(p) for p in s.pids), "workers outlived their parent"
    finally:
        for p in s.pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        gen.close()
