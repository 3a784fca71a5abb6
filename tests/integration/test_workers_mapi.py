"""MAPI/HTTP on `exgate serve --workers 2` (PostgreSQL, Dovecot, slapd, Radicale, Postfix): a Session Context
lives in the worker that answered Connect/Bind, its cookie names that worker, and a request that lands on the
other worker is forwarded to it over its private Unix socket (gateway/http/forward.py). Every request of these
clients opens a new connection, so both workers answer (X-Exgate-Worker) and all succeed: Connect, Logon,
OpenFolder, QueryRows, many Executes, a NotificationWait held on the other worker while mail is delivered, and
NSPI's Bind and QueryRows. A client that sends the forwarding header over TCP gains nothing, and the sessions of
a killed worker are Context Not Found (X-ResponseCode 10), not a 500."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import smtplib
import time
import uuid
from email.message import EmailMessage

import aiohttp
import pytest

from protocols import mapihttp as M
from protocols.mapi.props import core as P
from protocols.nspi import codec as C
from protocols.rops import folder as F, logon as L, notify as N, table as T
from protocols.rops.common import RegisterNotificationRequest
from tests.clients.test_emsmdb import LOGON_ID, NO, MapiClient, logon
from tests.clients.test_nspi import NspiClient, query_gal
from tests.stacks import USERS

from .test_workers import served  # noqa: F401 - the fixture: `exgate serve --workers 2` on PostgreSQL

pytestmark = pytest.mark.integration
CONTEXT_NOT_FOUND = str(int(M.ResponseCode.CONTEXT_NOT_FOUND))


class Gateway:
    """What the test clients need of a gateway."""

    def __init__(self, url: str):
        self.base_url = url


class Landing:
    """Notes which worker answered each request (the clients open a new connection for every one)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.workers: list[str] = []

    async def post(self, request_type: str, body: bytes, **kw):
        status, headers, data = await super().post(request_type, body, **kw)
        self.workers.append(headers.get("X-Exgate-Worker", ""))
        return status, headers, data


class Mapi(Landing, MapiClient):
    pass


class Nspi(Landing, NspiClient):
    pass


def owner_of(cookies: dict) -> str:
    m = re.fullmatch(r"w(\d+)-[0-9a-f]{32}", cookies["MapiContext"])
    assert m is not None, cookies
    return m.group(1)


def _deliver(postfix, subject: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "carol@example.test", "alice@example.test", subject
    msg.set_content("delivered while a NotificationWait was held on another worker")
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as s:
        s.send_message(msg)


async def _connection_to_worker_other_than(url: str, owner: str) -> tuple[aiohttp.ClientSession, str]:
    """A keep-alive connection that a worker other than ``owner`` accepted."""
    for _ in range(50):
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        async with http.get(url + "/healthz") as r:
            await r.read()
            w = r.headers.get("X-Exgate-Worker", "")
        if w and w != owner:
            return http, w
        await http.close()
    raise AssertionError(f"no connection reached a worker other than {owner}")


def _mapi_headers(c: MapiClient, request_type: str) -> dict:
    c.n += 1
    return {"Authorization": c.auth, "Content-Type": "application/mapi-http", "X-RequestType": request_type,
            "X-RequestId": f"{c.client_info}:{c.n}", "X-ClientInfo": c.client_info,
            "X-ClientApplication": "Outlook/16.0.0.0",
            "Cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items())}


async def test_mapi_requests_reach_the_session_whichever_worker_they_land_on(served, postfix):  # noqa: F811
    c = Mapi(Gateway(served.url), "alice", USERS["alice"].password)
    await c.connect()
    owner = owner_of(c.cookies)
    lr, logon_h = await logon(c)
    inbox = lr.folder("inbox")
    cols = (P.PidTagSubject, P.PidTagMid)
    got = await c.execute([
        RegisterNotificationRequest(LOGON_ID, 0, 1, N.NEW_MAIL | N.OBJECT_CREATED, None, 1),
        F.OpenFolderRequest(LOGON_ID, 0, 2, inbox, 0),
        F.GetContentsTableRequest(LOGON_ID, 2, 3, 0),
        T.SetColumnsRequest(LOGON_ID, 3, 0, cols),
        T.QueryRowsRequest(LOGON_ID, 3, 0, 1, 50),
    ], [logon_h, NO, NO, NO])
    reg, opened, table, setcols, rows = got.rops
    assert reg.return_value == opened.return_value == table.return_value == setcols.return_value == 0
    assert rows.return_value == 0 and rows.row_count == len(rows.rows(cols))
    table_h = got.handles[3]
    for _ in range(20):     # many Executes, each on a new connection, each with the sequence cookie of the last
        got = await c.execute([T.QueryPositionRequest(LOGON_ID, 0)], [table_h])
        assert got.rops[0].return_value == 0
    assert set(c.workers) == {"1", "2"}, c.workers      # both workers answered, the owner and the other

    # a NotificationWait held on the other worker: PROCESSING reaches the client at once (streamed), and the
    # mail delivered meanwhile (heard by the owner) ends it with EventPending
    http, there = await _connection_to_worker_other_than(served.url, owner)
    subject = f"workers notify {uuid.uuid4().hex[:8]}"
    try:
        async with http.post(served.url + "/mapi/emsmdb/?MailboxId=alice@example.test",
                             data=M.NotificationWaitRequest().encode(),
                             headers=_mapi_headers(c, "NotificationWait")) as r:
            assert r.status == 200 and r.headers["X-ResponseCode"] == "0", r.headers
            assert r.headers["X-Exgate-Worker"] == there != owner
            first = await asyncio.wait_for(r.content.readline(), 10)
            assert first.startswith(b"PROCESSING"), first
            await asyncio.to_thread(_deliver, postfix, subject)
            data = first + await asyncio.wait_for(r.read(), 120)
    finally:
        await http.close()
    assert M.NotificationWaitResponse.decode(M.decode_stream(data).body).event_pending is True
    got = await c.execute([T.GetStatusRequest(LOGON_ID, 0)], [table_h])
    notes = [r for r in got.notes if isinstance(r, N.NotifyResponse)]
    assert any(n.data.type == N.NEW_MAIL and n.data.folder_id == inbox for n in notes), notes

    # Disconnect through whichever worker: the session ends where it lives
    status, headers, _ = await c.post("Disconnect", M.DisconnectRequest().encode())
    assert status == 200 and headers["X-ResponseCode"] == "0"
    assert "MapiContext" not in c.cookies


async def test_nspi_bind_and_query_rows_on_many_connections(served):  # noqa: F811
    c = Nspi(Gateway(served.url), "alice", USERS["alice"].password)
    await c.bind()
    owner_of(c.cookies)
    first, _ = await query_gal(c, columns=(P.PidTagDisplayName, P.PidTagInstanceKey), per_call=1)
    assert first
    for _ in range(3):
        again, _ = await query_gal(c, columns=(P.PidTagDisplayName, P.PidTagInstanceKey), per_call=2)
        assert again == first       # the same MIds: every call reached the one Session Context
    assert set(c.workers) == {"1", "2"}, c.workers


def _basic(login: str) -> str:
    return "Basic " + base64.b64encode(f"{login}@example.test:{USERS[login].password}".encode()).decode()


def _forged(login: str) -> str:
    data = {"login": login, "email": f"{login}@example.test", "display_name": login, "password": None,
            "method": "ntlm", "scheme": "http", "remote": "127.0.0.1"}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


async def test_the_forwarding_header_over_tcp_gains_nothing(served):  # noqa: F811
    forged = {"X-Exgate-Forwarded-User": _forged("alice")}
    seen = set()
    for _ in range(8):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            async with http.get(served.url + "/exgate/whoami", headers=forged) as r:
                assert r.status == 401, await r.text()
            async with http.get(served.url + "/exgate/whoami", headers={**forged, "Authorization": _basic("bob")}) as r:
                assert r.status == 200 and (await r.json())["email"] == "bob@example.test"
                seen.add(r.headers["X-Exgate-Worker"])
    assert seen == {"1", "2"}

    # alice's session, asked for by bob with alice's cookies and a forged header: not found on either worker
    alice = Mapi(Gateway(served.url), "alice", USERS["alice"].password)
    await alice.connect()
    _, alice_logon = await logon(alice)
    bob = Mapi(Gateway(served.url), "bob", USERS["bob"].password)
    for _ in range(8):
        bob.cookies = dict(alice.cookies)
        status, headers, _ = await bob.post("Execute", M.ExecuteRequest(0, b"", 0x10008).encode(), headers=forged)
        assert status == 200 and headers["X-ResponseCode"] == CONTEXT_NOT_FOUND, headers
        status, headers, _ = await bob.post("Execute", M.ExecuteRequest(0, b"", 0x10008).encode(),
                                            headers=forged, drop=("Authorization",))
        assert status == 401
    assert set(bob.workers) >= {"1", "2"}
    got = await alice.execute([L.GetReceiveFolderRequest(LOGON_ID, 0, "IPM.Note")], [alice_logon])
    assert got.rops[0].return_value == 0        # alice's session is untouched


async def test_a_killed_workers_sessions_are_context_not_found(served):  # noqa: F811
    c = Mapi(Gateway(served.url), "alice", USERS["alice"].password)
    await c.connect()
    await logon(c)
    owner = owner_of(c.cookies)
    os.kill(served.pids[int(owner) - 1], signal.SIGKILL)
    await asyncio.sleep(0.3)
    cookies = dict(c.cookies)
    for _ in range(6):          # the other worker forwards to a socket nobody answers
        c.cookies = dict(cookies)
        status, headers, data = await c.post("Execute", M.ExecuteRequest(0, b"", 0x10008).encode())
        assert status == 200 and headers["X-ResponseCode"] == CONTEXT_NOT_FOUND, (status, headers, data)
    served.wait_for(rf"worker {owner} restarted as pid \d+", timeout=60)
    end = time.monotonic() + 30
    while time.monotonic() < end:   # the new worker: its socket replaced the stale one, the session is gone
        c.cookies = dict(cookies)
        status, headers, data = await c.post("Execute", M.ExecuteRequest(0, b"", 0x10008).encode())
        assert status == 200 and headers["X-ResponseCode"] == CONTEXT_NOT_FOUND, (status, headers, data)
        if c.workers[-1] == owner:
            break
    assert c.workers[-1] == owner, c.workers
    # a session on the restarted worker is reached from the other one again
    for _ in range(30):
        fresh = Mapi(Gateway(served.url), "alice", USERS["alice"].password)
        await fresh.connect()
        if owner_of(fresh.cookies) == owner:
            break
    assert owner_of(fresh.cookies) == owner
    _, fresh_logon = await logon(fresh)
    for _ in range(10):
        got = await fresh.execute([L.GetReceiveFolderRequest(LOGON_ID, 0, "IPM.Note")], [fresh_logon])
        assert got.rops[0].return_value == 0
    assert set(fresh.workers) == {"1", "2"}, fresh.workers


async def _ntlm_connection(url: str) -> tuple[aiohttp.ClientSession, str]:
    """A keep-alive connection signed in as alice by NTLM (no Authorization header needed after it)."""
    import spnego
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
    client = spnego.client("alice", USERS["alice"].password, hostname="exgate", protocol="ntlm")
    async with http.get(url + "/exgate/whoami",
                        headers={"Authorization": "NTLM " + base64.b64encode(client.step()).decode()}) as r:
        await r.read()
        assert r.status == 401
        challenge = base64.b64decode(r.headers["WWW-Authenticate"].split()[1])
    async with http.get(url + "/exgate/whoami",
                        headers={"Authorization": "NTLM " + base64.b64encode(client.step(challenge)).decode()}) as r:
        body = await r.json()
        assert r.status == 200 and body["method"] == "ntlm", body
        return http, r.headers["X-Exgate-Worker"]


async def test_an_ntlm_users_request_is_forwarded_without_an_authorization_header(served):  # noqa: F811
    """NTLM signs in a connection, not a request: the request that reaches the owner carries no credentials,
    only the forwarding worker's word on its private socket."""
    from gateway.http.auth.credentials import NtHashStore
    from gateway.store.state.db import StateDB
    db = StateDB.open(served.dsn)
    try:
        NtHashStore(db).set_password("alice", USERS["alice"].password)
    finally:
        db.close()
    c = NspiClient(Gateway(served.url))

    async def call(http, req):
        c.n += 1
        h = {"Content-Type": "application/mapi-http", "X-RequestType": req.REQUEST_TYPE,
             "X-RequestId": f"{c.client_info}:{c.n}", "X-ClientInfo": c.client_info,
             "X-ClientApplication": "Outlook/16.0.0.0"}
        if c.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
        async with http.post(served.url + c.path, data=req.encode(), headers=h) as r:
            for v in r.headers.getall("Set-Cookie", []):
                name, _, rest = v.partition("=")
                c.cookies[name] = rest.split(";", 1)[0]
            data = await r.read()
            assert r.status == 200 and r.headers["X-ResponseCode"] == "0", (r.status, r.headers, data)
            return C.decode_response(req.REQUEST_TYPE, M.decode_stream(data).body), r.headers["X-Exgate-Worker"]

    first, owner = await _ntlm_connection(served.url)
    try:
        bound, w = await call(first, C.BindRequest(flags=0, state=C.Stat(code_page=1252)))
        assert bound.error_code == 0 and w == owner == owner_of(c.cookies)
    finally:
        await first.close()
    for _ in range(50):
        other, there = await _ntlm_connection(served.url)
        if there != owner:
            break
        await other.close()
    assert there != owner
    try:
        rows, w = await call(other, C.QueryRowsRequest(flags=0, state=C.Stat(code_page=1200), explicit_table=(),
                                                        row_count=5, columns=(P.PidTagDisplayName,)))
        assert w == there and rows.error_code == 0 and rows.rows.rows
    finally:
        await other.close()
