"""The embedded Radicale is supervised, and /healthz tells each backend's state.

- Radicale (a child process in the demo) killed: it is logged and restarted on the
  same URL with backoff, and CalDAV answers again without a gateway restart.
- /healthz: "ok" with every backend up; "degraded" (200) while DAV is down; "down"
  (503) when IMAP or the directory is unreachable.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
from dataclasses import replace

import aiohttp
import pytest

from gateway.backends.embedded.dav import EmbeddedDav
from gateway.backends.embedded.users import load_demo_users
from gateway.config import HttpConfig, ImapConfig
from gateway.http.server import start_gateway
from tests.stacks import embedded_config

pytestmark = pytest.mark.integration


async def _dav_answers(url: str) -> bool:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as s:
            async with s.request("OPTIONS", url) as r:
                return r.status < 500
    except aiohttp.ClientError:
        return False


async def test_killed_radicale_is_restarted_on_the_same_url(tmp_path, caplog):
    dav = EmbeddedDav(tmp_path / "dav", load_demo_users())
    dav.prepare()
    await dav.start()
    try:
        url, first = dav.url, dav.proc.pid
        assert await _dav_answers(url)
        with caplog.at_level(logging.WARNING, logger="gateway.backends.embedded.dav"):
            os.killpg(first, signal.SIGKILL)
            for _ in range(150):
                await asyncio.sleep(0.1)
                if dav.restarts == 1 and dav.state == "up":
                    break
        assert dav.restarts == 1 and dav.state == "up" and dav.url == url and dav.proc.pid != first
        assert await _dav_answers(url)
        text = caplog.text
        assert "exited with code -9; restarting" in text and "restarted on" in text
    finally:
        await dav.stop()
    assert dav.state == "stopped" and dav.proc is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _health(gw) -> tuple[int, dict]:
    ctx = ssl.create_default_context(cafile=str(gw.certificate))
    async with aiohttp.ClientSession() as s:
        async with s.get(gw.base_url + "/healthz", ssl=ctx) as r:
            return r.status, await r.json()


async def test_healthz_reports_each_backend(embedded, tmp_path):
    cfg = embedded_config(embedded, str(tmp_path / "state.sqlite3"))
    cfg = replace(cfg, http=HttpConfig(host="127.0.0.1", port=0, tls=True))
    gw = await start_gateway(cfg, tmp_path / "ok")
    try:
        status, body = await _health(gw)
        assert status == 200 and body["status"] == "ok", body
        assert set(body["backends"]) == {"imap", "ldap", "smtp", "dav"}
        assert all(b["ok"] for b in body["backends"].values())
        # Radicale down: calendars are gone for now, mail is not: degraded, still 200
        gw.state.health.max_age = 0
        os.killpg(embedded.dav.proc.pid, signal.SIGKILL)
        await asyncio.sleep(0.3)
        status, body = await _health(gw)
        assert status == 200 and body["status"] == "degraded" and not body["backends"]["dav"]["ok"], body
        for _ in range(150):                       # and it comes back by itself
            await asyncio.sleep(0.1)
            if embedded.dav.state == "up":
                break
        status, body = await _health(gw)
        assert status == 200 and body["status"] == "ok", body
    finally:
        await gw.stop()
    # IMAP unreachable: nobody can read mail, 503
    dead = replace(cfg, imap=ImapConfig(host="127.0.0.1", port=_free_port()))
    gw = await start_gateway(dead, tmp_path / "dead")
    try:
        status, body = await _health(gw)
        assert status == 503 and body["status"] == "down" and not body["backends"]["imap"]["ok"]
        assert "connection refused" in body["backends"]["imap"]["detail"]
    finally:
        await gw.stop()


async def test_mail_works_while_dav_is_down_and_calendars_come_back(embedded, tmp_path, monkeypatch):
    # a user whose mailbox is opened for the first time while the CalDAV/CardDAV server is down gets mail;
    # the calendar appears once the server answers, without a restart
    from gateway.store import mailbox as mailbox_mod
    from gateway.store.factory import Credentials, open_mailbox
    from gateway.store.state.db import StateDB
    monkeypatch.setattr(mailbox_mod, "DAV_RETRY_SECONDS", 0.5)
    dav = EmbeddedDav(tmp_path / "dav", load_demo_users(), trust=embedded.trust)
    dav.prepare()
    await dav.start()
    await dav.stop()                                   # down, on a port we know
    cfg = embedded_config(embedded, str(tmp_path / "state.sqlite3"))
    cfg = replace(cfg, dav=replace(cfg.dav, url=dav.url))
    db = StateDB.open(cfg.state.dsn)
    mbx = await open_mailbox(db, cfg, Credentials("carol", "carol@example.test", "Carol", None))
    try:
        inbox = await mbx.folder_by_role("inbox")
        assert await mbx.list_items(inbox.fid)              # mail is there
        assert not [f for f in await mbx.folders() if f.kind in ("caldav", "carddav")]
        await dav.start()                                  # the server is back
        await asyncio.sleep(0.6)
        kinds = {f.role: f.kind for f in await mbx.folders()}
        assert kinds.get("calendar") == "caldav" and kinds.get("contacts") == "carddav"
    finally:
        await mbx.close()
        await dav.stop()
        db.close()
