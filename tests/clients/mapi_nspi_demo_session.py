"""The session recorded in captures/sessions/mapi-nspi-demo.jsonl: the project's scripted MAPI and NSPI clients
through `exgate record` in front of a fresh `exgate demo`.

1. /mapi/emsmdb: Connect, RopLogon, RopRegisterNotification on the store, a NotificationWait that nothing
   wakes (the client gives up after WAIT_GIVE_UP seconds, as a client whose user closes it does; the
   recorder writes it when the next PENDING finds the client gone), PING, Disconnect;
2. the mailbox session of tests/clients/test_record_replay_mapi.py (Inbox table, a message opened by
   the MID the table gave, a folder created and deleted by the FID the server gave), tag "demo";
3. the address book session of the same test (Bind, GAL pages, ResolveNames, GetProps of the MId,
   Unbind), then a PING of /mapi/nspi.

Run ``python -m tests.clients.mapi_nspi_demo_session OUT.jsonl`` to record it again (about a minute:
the NotificationWait line waits for the server's next PENDING, 30 s).
"""
from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from protocols import mapihttp as M
from protocols.rops import notify as N
from protocols.rops.common import RegisterNotificationRequest

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_nspi import NspiClient
from .test_record_replay import demo, recorder
from .test_record_replay_mapi import mapi_session, nspi_session

WAIT_GIVE_UP = 2.0
TAG = "demo"


def _recorded(out: Path, request_type: str) -> bool:
    for line in out.read_text().splitlines():
        obj = json.loads(line)
        if any(k.lower() == "x-requesttype" and v == request_type for k, v in obj.get("request_headers", [])):
            return True
    return False


async def held_wait_and_ping(base_url: str, out: Path) -> None:
    c = MapiClient(SimpleNamespace(base_url=base_url))
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([RegisterNotificationRequest(LOGON_ID, 0, 1, N.OBJECT_DELETED, None, 0,
                                                       lr.folder("deleted_items"), 0)], [logon_h, NO])
    assert got.rops[0].return_value == 0
    try:
        await asyncio.wait_for(c.post("NotificationWait", M.NotificationWaitRequest().encode()), WAIT_GIVE_UP)
        raise AssertionError("the NotificationWait was answered: something woke it")
    except asyncio.TimeoutError:
        pass
    deadline = time.monotonic() + 90
    while not _recorded(out, "NotificationWait"):           # keep the file in the order things were sent
        assert time.monotonic() < deadline, "the recorder never wrote the NotificationWait"
        await asyncio.sleep(0.5)
    status, headers, body = await c.post("PING", b"")
    assert status == 200 and headers["X-ResponseCode"] == "0", (status, headers, body)
    status, headers, _ = await c.post("Disconnect", M.DisconnectRequest().encode())
    assert status == 200 and headers["X-ResponseCode"] == "0"


async def nspi_ping(base_url: str) -> None:
    c = NspiClient(SimpleNamespace(base_url=base_url))
    status, headers, body = await c.post("PING", b"")
    assert status == 200 and headers["X-ResponseCode"] == "0", (status, headers, body)


def record(out: Path) -> None:
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="exgate-record-") as tmp:
        with demo(Path(tmp) / "demo") as gw:
            with recorder(gw, out) as proxy:
                asyncio.run(held_wait_and_ping(proxy, out))
                asyncio.run(mapi_session(proxy, TAG))
                asyncio.run(nspi_session(proxy))
                asyncio.run(nspi_ping(proxy))


if __name__ == "__main__":
    record(Path(sys.argv[1]))
