"""The change source of a mailbox: backend events turned into per-folder changes.

IMAP: the client's watch() (NOTIFY, else IDLE, else polling). DAV: the
sync token is polled. Each event re-syncs that folder's id map; what got a
new change number since the last report is yielded. Notifications (MAPI) and
EWS subscriptions and incremental sync are fed from here.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, AsyncIterator

from .objects import FolderChanges

if TYPE_CHECKING:
    from .mailbox import Mailbox

DAV_POLL_SECONDS = 30.0


async def watch_mailbox(mbx: "Mailbox", *, dav_poll: float = DAV_POLL_SECONDS) -> AsyncIterator[FolderChanges]:
    folders = await mbx.folders()
    by_ref = {f.ref: f for f in folders if f.kind == "imap"}
    dav_folders = [f for f in folders if f.kind in ("caldav", "carddav")]
    last = {f.fid: mbx.changes_since(f.fid, 0).last_cn for f in folders}
    queue: asyncio.Queue = asyncio.Queue()

    watcher = mbx.backends.imap.watch(list(by_ref))

    async def imap_events():
        ready = getattr(watcher, "ready", None)
        if ready is not None:
            await ready()
        # whatever happened before the server was watching: one resync covers the gap
        for f in by_ref.values():
            queue.put_nowait(f)
        async for ev in watcher:
            if ev.folder in by_ref:
                queue.put_nowait(by_ref[ev.folder])

    async def dav_poll_loop():
        while True:
            await asyncio.sleep(dav_poll)
            for f in dav_folders:
                queue.put_nowait(f)

    tasks = [asyncio.create_task(imap_events())]
    if dav_folders and mbx.backends.dav is not None:
        tasks.append(asyncio.create_task(dav_poll_loop()))
    try:
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait([getter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                for t in done:
                    t.result()  # a watcher died: surface its error
                continue
            folder = getter.result()
            await mbx.sync_folder(folder.fid)
            ch = mbx.changes_since(folder.fid, last.get(folder.fid, 0))
            if ch.changed or ch.deleted:
                last[folder.fid] = ch.last_cn
                yield ch
    finally:
        for t in tasks:
            t.cancel()
            with contextlib.suppress(BaseException):
                await t
        closer = getattr(watcher, "aclose", None)
        if closer is not None:
            await closer()
