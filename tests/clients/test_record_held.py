"""`exgate record` and a request the server holds (a MAPI/HTTP NotificationWait): when the client gives up, the
recorder still writes the exchange, with what the answer had sent so far (PROCESSING, PENDING) and a note that
the client went away, as captures/sessions/mapi-nspi-demo.jsonl holds it."""
from __future__ import annotations

import asyncio
import io

import aiohttp
from aiohttp import web

from gateway.replay.record import Recorder
from protocols.capture import read_jsonl
from protocols.mapihttp.framing import still_held


async def _held(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/mapi-http", "X-ResponseCode": "0"})
    await resp.prepare(request)
    await resp.write(b"PROCESSING\r\n")
    for _ in range(50):                     # PENDING every 0.2 s, as exgate's X-PendingPeriod would
        await asyncio.sleep(0.2)
        await resp.write(b"PENDING\r\n")
    await resp.write(b"DONE\r\n\r\n")
    return resp


async def _scenario() -> str:
    upstream = web.Application()
    upstream.router.add_post("/mapi/emsmdb/", _held)
    up_runner = web.AppRunner(upstream)
    await up_runner.setup()
    up_site = web.TCPSite(up_runner, "127.0.0.1", 0)
    await up_site.start()
    up_port = up_runner.addresses[0][1]
    out = io.StringIO()
    rec = Recorder(f"http://127.0.0.1:{up_port}", out, verify_tls=False)
    rec_runner = web.AppRunner(rec.app())
    await rec_runner.setup()
    await web.TCPSite(rec_runner, "127.0.0.1", 0).start()
    port = rec_runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"http://127.0.0.1:{port}/mapi/emsmdb/", data=b"\0" * 8,
                              headers={"X-RequestType": "NotificationWait"}) as r:
                got = await r.content.readuntil(b"PENDING\r\n")      # then the client gives up
                assert got.startswith(b"PROCESSING\r\n")
        for _ in range(50):                 # the recorder sees it at its next write
            if out.getvalue():
                break
            await asyncio.sleep(0.1)
        return out.getvalue()
    finally:
        await rec.close()
        await rec_runner.cleanup()
        await up_runner.cleanup()


def test_a_request_the_client_gave_up_on_is_recorded_with_what_came():
    text = asyncio.run(_scenario())
    (ex,) = read_jsonl(text).exchanges
    assert ex.status == 200 and ex.request_header("X-RequestType") == "NotificationWait"
    assert ex.response_body.startswith(b"PROCESSING\r\nPENDING\r\n") and still_held(ex.response_body)
    assert any(n.startswith("client went away") for n in ex.notes), ex.notes
