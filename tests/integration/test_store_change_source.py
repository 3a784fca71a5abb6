"""The change source's IMAP connections: bounded per mailbox, whatever the number of folders.

Without NOTIFY (pymap, the demo's server) the change source used to IDLE on every mail folder, one
connection each, and pymap's IDLE takes a worker of its small I/O pool for every one-second check:
one user's subscription on a mailbox with a dozen folders made every other user's commands wait.
Now the watcher IDLEs on INBOX and polls the other folders with STATUS on one more connection
(two at most); with NOTIFY (Dovecot) it keeps its single connection. A change in a folder that is
only polled is still seen within the poll interval.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

from gateway.store.changes import watch_mailbox
from gateway.store.objects import FolderChanges

from .test_store import open_for, plain_imap

pytestmark = pytest.mark.integration

EXTRA_FOLDERS = 10
POLL = 1.0        # the watcher's STATUS poll interval in these tests (the default is 5 s)
MARGIN = 6.0      # a sync and a busy 2-core machine


def watcher_connections(mbx) -> tuple[int, int]:
    """(IMAP watchers of this mailbox's client, live connections they hold)."""
    watchers = list(mbx.backends.imap._watchers)
    return len(watchers), sum(1 for w in watchers for c in w._conns if not c.closed)


async def _until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.1)
    return pred()


async def test_change_source_connections_are_bounded_and_polled_folders_are_seen(backend):
    kind, cfg = backend
    mbx = await open_for(cfg)
    mbx.backends.imap.poll_interval = POLL
    ipm = await mbx.folder_by_role("ipm_subtree")
    tag = uuid.uuid4().hex[:6]
    made = [await mbx.create_folder(ipm.fid, f"bounded-{tag}-{i}") for i in range(EXTRA_FOLDERS)]
    target = made[-1]
    seen: list[FolderChanges] = []

    async def consume():
        async for ch in watch_mailbox(mbx):
            if isinstance(ch, FolderChanges):
                seen.append(ch)
    task = asyncio.create_task(consume())
    try:
        imap_folders = [f for f in await mbx.folders() if f.kind == "imap"]
        assert len(imap_folders) > EXTRA_FOLDERS
        assert await _until(lambda: any(w._ready.is_set() for w in mbx.backends.imap._watchers), 20)
        await asyncio.sleep(1.0)
        watchers, conns = watcher_connections(mbx)
        print(f"\n{kind}: {len(imap_folders)} IMAP folders, {watchers} watcher(s), {conns} watcher connection(s)")
        assert watchers == 1
        if kind == "dovecot":
            assert conns == 1              # NOTIFY: one connection for every folder, as before
        else:
            assert conns <= 2              # IDLE on INBOX + one STATUS poller (was one IDLE per folder)

        # another IMAP client appends to a folder that is only polled: seen within the interval
        seen.clear()
        conn = await asyncio.to_thread(plain_imap, cfg)     # pymap runs on this loop
        try:
            t0 = time.monotonic()
            typ, _ = await asyncio.to_thread(
                conn.append, f'"{target.ref}"', None, None,
                b"Subject: polled " + tag.encode() + b"\r\nFrom: a@example.test\r\n\r\nbody\r\n")
            assert typ == "OK"
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(conn.logout)
        got = await _until(lambda: any(ch.fid == target.fid and ch.changed for ch in seen), POLL + MARGIN)
        print(f"{kind}: append to a non-INBOX folder seen after {time.monotonic() - t0:.2f} s")
        assert got, [(ch.fid, ch.changed) for ch in seen]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for f in made:
            with contextlib.suppress(Exception):
                await mbx.delete_folder(f.fid)
        await mbx.close()
