"""gateway/http/forward.py in one process: cookies that name a worker, the private socket, the header that is
trusted there only, and a relay between two apps over Unix sockets (no TCP) whose answer streams through."""
from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.http import forward
from gateway.http.mapihttp import SessionTable
from gateway.http.sessions import USER, AuthenticatedUser

ALICE = AuthenticatedUser("alice", "alice@example.test", "Alice", password="pw", method="basic")


def _app(number: int | None, data_dir: Path) -> web.Application:
    app = web.Application(middlewares=[forward.middleware])
    if number is not None:
        forward.as_worker(app, number, data_dir)
    return app


def test_cookies_name_their_worker(tmp_path):
    alone, second = _app(None, tmp_path), _app(2, tmp_path)
    assert forward.cookie_prefix(alone) == "" and forward.cookie_prefix(second) == "w2-"
    table = SessionTable()
    table.prefix = forward.cookie_prefix(second)
    assert table.create("alice@example.test", "alice", "Alice").context.startswith("w2-")

    def owner(app, cookie):
        return forward.elsewhere(make_mocked_request("POST", "/mapi/emsmdb/", app=app), cookie)
    tok = "0" * 32
    assert owner(second, f"w1-{tok}") == 1 and owner(second, f"w13-{tok}") == 13
    assert owner(second, f"w2-{tok}") is None                       # its own
    assert owner(second, tok) is None and owner(second, None) is None and owner(second, "w1-x") is None
    assert owner(alone, f"w1-{tok}") is None                        # a gateway alone forwards nothing


def test_the_private_socket_replaces_a_stale_file(tmp_path):
    w = forward.WorkerSockets(3, forward.run_dir(tmp_path))
    w.run_dir.mkdir(mode=0o755)
    w.path(3).write_text("stale")
    s = forward.bind_private_socket(w)
    try:
        assert stat.S_IMODE(os.stat(w.run_dir).st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(w.path(3)).st_mode) and stat.S_IMODE(os.stat(w.path(3)).st_mode) == 0o600
    finally:
        s.close()
    long = tmp_path / ("x" * 120)
    assert len(str(forward.run_dir(long) / "worker-1.sock")) <= forward.MAX_SOCKET_PATH


async def test_the_header_is_dropped_when_not_on_the_private_socket(tmp_path):
    app = _app(1, tmp_path)
    seen = {}

    async def handler(request):
        seen.update(user=request.get(USER), header=request.headers.get(forward.HEADER))
        return web.Response()
    value = forward._encode_user(ALICE, make_mocked_request("GET", "/"))
    request = make_mocked_request("GET", "/exgate/whoami", headers={forward.HEADER: value}, app=app)
    await forward.middleware(request, handler)
    assert seen == {"user": None, "header": None}


async def test_a_relay_between_two_workers_streams_the_owners_answer(tmp_path):
    go_on = asyncio.Event()
    seen = {}

    async def owner_handler(request):
        seen.update(user=request[USER], auth=request.headers.get("Authorization"), body=await request.read(),
                    path=request.path_qs, host=request.host)
        resp = web.StreamResponse(headers={"X-ResponseCode": "0"})
        resp.headers.add("Set-Cookie", "MapiContext=w2-abc; path=/mapi/emsmdb/")
        resp.headers.add("Set-Cookie", "MapiSequence=def; path=/mapi/emsmdb/")
        await resp.prepare(request)
        await resp.write(b"PROCESSING\r\n")
        await go_on.wait()
        await resp.write(b"DONE\r\n")
        return resp

    owner = _app(2, tmp_path)
    owner.router.add_post("/mapi/emsmdb/", owner_handler)

    async def relay_handler(request):
        relayed = await forward.relay(request, 2, ALICE, await request.read())
        return relayed if relayed is not None else web.Response(text="gone")
    front = _app(1, tmp_path)
    front.router.add_post("/mapi/emsmdb/", relay_handler)

    runners = []
    for app in (owner, front):
        r = web.AppRunner(app)
        await r.setup()
        runners.append(r)
    owner_site = web.SockSite(runners[0], forward.bind_private_socket(owner[forward.WORKER]))
    await owner_site.start()
    front_path = tmp_path / "front.sock"
    await web.UnixSite(runners[1], str(front_path)).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(front_path))) as http:
            headers = {"Authorization": "Basic xyz", "Host": "mail.example.test", forward.HEADER: "forged"}
            async with http.post("http://x/mapi/emsmdb/?MailboxId=alice@example.test", data=b"body",
                                 headers=headers) as r:
                assert r.status == 200 and r.headers["X-ResponseCode"] == "0"
                assert r.headers.getall("Set-Cookie") == ["MapiContext=w2-abc; path=/mapi/emsmdb/",
                                                          "MapiSequence=def; path=/mapi/emsmdb/"]
                assert await asyncio.wait_for(r.content.readline(), 5) == b"PROCESSING\r\n"   # before the end
                go_on.set()
                assert await r.read() == b"DONE\r\n"
            assert seen == {"user": ALICE, "auth": None, "body": b"body", "host": "mail.example.test",
                            "path": "/mapi/emsmdb/?MailboxId=alice@example.test"}
            await owner_site.stop()         # the owner is gone: the caller answers Context Not Found
            async with http.post("http://x/mapi/emsmdb/", data=b"body") as r:
                assert await r.text() == "gone"
    finally:
        for r in runners:
            await r.cleanup()
