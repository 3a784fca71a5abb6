"""Fault test (issue 10): during one EWS client session (raw SOAP), each backend is stopped and started
again on the same port, in turn, on both stacks; the others keep working and nothing is lost.

Each stack is dedicated to this test (the session-wide servers other tests use are left alone), and so
is the gateway (its config points at those servers):

- IMAP down: calendar (CalendarView), contacts and ResolveNames answer; what needs the IMAP server
  (saving a message, its MIME content) answers the EWS error ErrorMailboxStoreUnavailable (HTTP 200, no
  hang), and FindItem either that or the listing from the gateway's index; /healthz is "down" (503).
  Back: mail answers again without a gateway restart, the same messages with the same ItemIds.
- DAV down: FindItem, GetItem and a send answer; CalendarView answers an error; /healthz "degraded".
  Back: the calendar items as before, same ids.
- Directory down (real stack only: the embedded stack's directory is an LDIF file, it cannot go down):
  the signed-in user (Basic cache) keeps reading mail; a sign-in the cache does not know answers 503
  "directory unavailable", never 401; /healthz "down". Back: that sign-in works.
- SMTP down: a send answers NoError and waits in the Outbox; back: the Outbox worker delivers it to the
  recipient's Inbox and the sender's Sent Items.
"""
from __future__ import annotations

import asyncio
import ssl
import uuid
from dataclasses import replace

import aiohttp
import pytest

from gateway.backends.embedded import EmbeddedStack
from protocols.ews.ns import child, children, text
from tests.clients.test_ews_soap import call as _call
from tests.clients.test_ews_soap import codes, messages, post, envelope
from tests.servers import start_dovecot, start_postfix, start_radicale, start_slapd, start_with_retry
from tests.servers.dovecot import connect_submission
from tests.stacks import USERS, _gateway, embedded_config, real_config

pytestmark = pytest.mark.integration

ALICE = ("alice@example.test", USERS["alice"].password)
BOB = ("bob@example.test", USERS["bob"].password)
LIMIT = 30.0          # any answer slower than this is a hang


async def call(gw, body: str, **kw):
    status, payload = await asyncio.wait_for(_call(gw, body, **kw), LIMIT)
    assert status == 200, status
    return payload


async def find(gw, folder: str, user=ALICE) -> tuple[list[str], dict[str, str]]:
    """(response codes, {subject: ItemId}) of a FindItem on a distinguished folder."""
    p = await call(gw, '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape>'
                       '</m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="200" Offset="0" '
                       f'BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/>'
                       '</m:ParentFolderIds></m:FindItem>', user=user)
    return codes(p), _items(p)


def _items(p) -> dict[str, str]:
    if codes(p) != ["NoError"]:
        return {}
    items = children(child(child(messages(p)[0], "RootFolder"), "Items"))
    return {text(i, "Subject"): child(i, "ItemId").get("Id") for i in items}


async def calendar_view(gw) -> tuple[list[str], dict[str, str]]:
    p = await call(gw, '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape>'
                       '</m:ItemShape><m:CalendarView StartDate="2030-01-01T00:00:00Z" '
                       'EndDate="2030-02-01T00:00:00Z"/><m:ParentFolderIds><t:DistinguishedFolderId '
                       'Id="calendar"/></m:ParentFolderIds></m:FindItem>')
    return codes(p), _items(p)


async def resolve(gw, name: str = "bob") -> list[str]:
    return codes(await call(gw, '<m:ResolveNames ReturnFullContactData="false">'
                                f'<m:UnresolvedEntry>{name}</m:UnresolvedEntry></m:ResolveNames>'))


async def get_item(gw, item_id: str) -> list[str]:
    return codes(await call(gw, '<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>'
                                f'<m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem>'))


async def save(gw, subject: str) -> list[str]:
    """CreateItem SaveOnly into the Inbox: an IMAP APPEND."""
    return codes(await call(gw, '<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>'
                                '<t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId><m:Items>'
                                f'{message_xml(subject, "alice@example.test")}</m:Items></m:CreateItem>'))


async def get_mime(gw, item_id: str) -> list[str]:
    """GetItem with the MIME content: the message itself, from IMAP."""
    return codes(await call(gw, '<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                                '<t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape>'
                                f'<m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem>'))


def message_xml(subject: str, to: str = "bob@example.test") -> str:
    return (f'<t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">hello</t:Body>'
            f'<t:ToRecipients><t:Mailbox><t:EmailAddress>{to}</t:EmailAddress></t:Mailbox>'
            '</t:ToRecipients></t:Message>')


async def send(gw, subject: str) -> list[str]:
    return codes(await call(gw, '<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId>'
                                '<t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items>'
                                f'{message_xml(subject)}</m:Items></m:CreateItem>'))


async def sign_in(gw, user) -> int:
    """The HTTP status of an EWS request (GetFolder of the Inbox) as `user`."""
    body = ('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>'
            '<t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')
    status, _, _ = await asyncio.wait_for(post(gw, envelope(body), user=user), LIMIT)
    return status


async def health(gw) -> tuple[int, str]:
    if gw.state.health is not None:          # made by the first /healthz; probe every time
        gw.state.health.max_age = 0
    ctx = ssl.create_default_context(cafile=str(gw.certificate))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=LIMIT)) as s:
        async with s.get(gw.base_url + "/healthz", ssl=ctx) as r:
            return r.status, (await r.json())["status"]


async def eventually(probe, want, seconds: float = 20.0):
    got = None
    for _ in range(int(seconds / 0.25)):
        got = await probe()
        if want(got):
            return got
        await asyncio.sleep(0.25)
    pytest.fail(f"still {got!r} after {seconds}s")


class Backends:
    """stop/start each backend kind on its port: (stop, start) async callables per kind."""

    def __init__(self, parts: dict):
        self.parts = parts

    async def stop(self, kind: str) -> None:
        await self.parts[kind][0]()

    async def start(self, kind: str) -> None:
        await self.parts[kind][1]()


@pytest.fixture(params=["real", "embedded"])
async def stack(request, tmp_path, monkeypatch):
    from gateway.store import mailbox as mailbox_mod
    monkeypatch.setattr(mailbox_mod, "DAV_RETRY_SECONDS", 0.5)
    dsn = str(tmp_path / "state.sqlite3")
    if request.param == "real":
        started = []
        try:
            slapd = start_with_retry(start_slapd)
            started.append(slapd)
            dovecot = start_with_retry(lambda: start_dovecot(slapd.info))
            started.append(dovecot)
            radicale = start_with_retry(lambda: start_radicale(slapd.info))
            started.append(radicale)
            postfix = start_with_retry(lambda: start_postfix(dovecot.info))
            started.append(postfix)
            connect_submission(dovecot.info, postfix.info.host, postfix.info.port)

            def thread(f):
                return lambda: asyncio.to_thread(f)
            backends = Backends({"imap": (thread(dovecot.pause), thread(dovecot.resume)),
                                 "dav": (thread(radicale.pause), thread(radicale.resume)),
                                 "ldap": (thread(slapd.pause), thread(slapd.resume)),
                                 "smtp": (thread(postfix.pause), thread(postfix.resume))})
            yield "real", real_config(dovecot.info, radicale.info, postfix.info, slapd.info, dsn), backends
        finally:
            for r in reversed(started):
                r.stop()
    else:
        emb = EmbeddedStack(tmp_path / "embedded", list(USERS.values()))
        await emb.start()
        try:
            backends = Backends({"imap": (emb.imap.stop, emb.imap.start), "dav": (emb.dav.stop, emb.dav.start),
                                 "smtp": (emb.smtp.stop, emb.smtp.start)})
            yield "embedded", embedded_config(emb, dsn), backends
        finally:
            await emb.stop()


async def test_each_backend_down_and_back_during_a_session(stack, tmp_path):
    kind, cfg, backends = stack
    cfg = replace(cfg, smtp=replace(cfg.smtp, retry_schedule=[1.0]))
    tag = uuid.uuid4().hex[:6]
    gw = await _gateway(cfg, tmp_path / "gw")
    try:
        # --- the session: two messages in the Inbox, a meeting in the calendar
        for n in (1, 2):
            p = await call(gw, '<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>'
                               '<t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId><m:Items>'
                               f'{message_xml(f"kept {n} {tag}", "alice@example.test")}</m:Items></m:CreateItem>')
            assert codes(p) == ["NoError"]
        p = await call(gw, '<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>'
                           '<t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items>'
                           f'<t:CalendarItem><t:Subject>meeting {tag}</t:Subject>'
                           '<t:Start>2030-01-15T10:00:00Z</t:Start><t:End>2030-01-15T11:00:00Z</t:End>'
                           '</t:CalendarItem></m:Items></m:CreateItem>')
        assert codes(p) == ["NoError"]
        got, inbox = await find(gw, "inbox")
        assert got == ["NoError"] and {f"kept 1 {tag}", f"kept 2 {tag}"} <= set(inbox)
        got, calendar = await calendar_view(gw)
        assert got == ["NoError"] and f"meeting {tag}" in calendar
        assert (await find(gw, "contacts"))[0] == ["NoError"]
        assert await resolve(gw) == ["NoError"]
        await health(gw)
        assert await health(gw) == (200, "ok")

        # --- IMAP down
        await backends.stop("imap")
        # what needs the IMAP server answers the EWS error; a listing may come from the gateway's index
        assert await save(gw, f"while imap down {tag}") == ["ErrorMailboxStoreUnavailable"]
        assert await get_mime(gw, inbox[f"kept 1 {tag}"]) == ["ErrorMailboxStoreUnavailable"]
        assert await find(gw, "inbox") in ((["NoError"], inbox), (["ErrorMailboxStoreUnavailable"], {}))
        assert await calendar_view(gw) == (["NoError"], calendar)
        assert (await find(gw, "contacts"))[0] == ["NoError"]
        assert await resolve(gw) == ["NoError"]
        assert await health(gw) == (503, "down")
        await backends.start("imap")
        assert await eventually(lambda: get_mime(gw, inbox[f"kept 1 {tag}"]), lambda r: r == ["NoError"])
        assert await find(gw, "inbox") == (["NoError"], inbox)
        assert await health(gw) == (200, "ok")

        # --- DAV down
        await backends.stop("dav")
        assert await find(gw, "inbox") == (["NoError"], inbox)
        assert await get_item(gw, inbox[f"kept 1 {tag}"]) == ["NoError"]
        assert await send(gw, f"while dav down {tag}") == ["NoError"]
        got, _ = await calendar_view(gw)
        assert got != ["NoError"] and len(got) == 1, got
        assert await health(gw) == (200, "degraded")
        await backends.start("dav")
        assert await eventually(lambda: calendar_view(gw), lambda r: r[0] == ["NoError"]) == (["NoError"], calendar)
        assert await health(gw) == (200, "ok")

        # --- directory down (an LDAP server on the real stack; the embedded one reads an LDIF file)
        if kind == "real":
            await backends.stop("ldap")
            assert await find(gw, "inbox") == (["NoError"], inbox)       # alice is signed in (Basic cache)
            assert await sign_in(gw, BOB) == 503                                          # not 401: bob's password is right
            assert await health(gw) == (503, "down")
            await backends.start("ldap")
            await eventually(lambda: sign_in(gw, BOB), lambda status: status == 200)
            assert (await find(gw, "inbox", user=BOB))[0] == ["NoError"]
            assert await health(gw) == (200, "ok")

        # --- SMTP down: the send waits in the Outbox, then goes
        queued = f"queued {tag}"
        await backends.stop("smtp")
        assert await send(gw, queued) == ["NoError"]
        assert queued in (await find(gw, "outbox"))[1]
        assert await health(gw) == (200, "degraded")
        await backends.start("smtp")
        await eventually(lambda: find(gw, "sentitems"), lambda r: queued in r[1])
        assert queued not in (await find(gw, "outbox"))[1]
        await eventually(lambda: find(gw, "inbox", user=BOB), lambda r: queued in r[1])
        await eventually(lambda: find(gw, "inbox", user=BOB), lambda r: f"while dav down {tag}" in r[1])
        assert await health(gw) == (200, "ok")

        # --- nothing lost: the same items under the same ids
        assert await find(gw, "inbox") == (["NoError"], inbox)
        assert await calendar_view(gw) == (["NoError"], calendar)
    finally:
        await gw.stop()
