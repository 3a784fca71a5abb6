"""The store's own IMAP writes against the change source's sync of the same folders.

The change source (changes.watch_mailbox: IDLE/NOTIFY events -> ``Mailbox.sync_folder``) runs
beside the operations of EWS and MAPI clients on the same Mailbox. An operation changes the IMAP
server first and the id map after it (APPEND then the message row; MOVE, a STATUS of the
destination, then the tombstone and the row under the same MID). A sync that ran in between found
the server changed and the id map not yet: it tombstoned a moved message as gone (the feed said
DeletedEvent, and no MovedEvent ever came) and gave the moved, copied or appended message a second
MID for the same UID. These tests hold each operation right after its IMAP command, sync the
folders meanwhile, and check what the change source saw.
"""
from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.store import NotFound

from .test_store import note, open_for

pytestmark = pytest.mark.integration


def _hold_after(mbx, method: str):
    """Wrap ``mbx.backends.imap.<method>``: once the server carried it out, wait for ``go``."""
    imap = mbx.backends.imap
    orig = getattr(imap, method)
    done, go = asyncio.Event(), asyncio.Event()

    async def held(*args, **kwargs):
        result = await orig(*args, **kwargs)
        done.set()
        await go.wait()
        return result
    setattr(imap, method, held)
    return done, go


def _rows_in(mbx, fid: int) -> list[tuple[int, int]]:
    """(MID globcnt, UID) of the message rows of a folder."""
    return mbx.db.all("SELECT mid, uid FROM messages WHERE mailbox_id = ? AND fid = ? ORDER BY mid",
                      (mbx.mailbox_id, mbx.ident.globcnt_of(fid)))


@pytest.mark.parametrize("op", ["move", "copy", "create"])
async def test_sync_during_an_imap_write_keeps_one_mid(backend, op):
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        ipm = await mbx.folder_by_role("ipm_subtree")
        inbox = await mbx.folder_by_role("inbox")
        dest = await mbx.create_folder(ipm.fid, f"race-{op}-{uuid.uuid4().hex[:6]}")
        item = None
        if op != "create":
            item = await mbx.create_item(inbox.fid, note(f"race {op} {uuid.uuid4().hex[:6]}"))
        for f in (inbox, dest):
            await mbx.sync_folder(f.fid)
        target = inbox if op == "create" else dest
        before = _rows_in(mbx, target.fid)

        done, go = _hold_after(mbx, {"move": "move", "copy": "copy", "create": "append"}[op])
        if op == "create":
            writer = asyncio.create_task(mbx.create_item(inbox.fid, note(f"race create {uuid.uuid4().hex[:6]}")))
        else:
            writer = asyncio.create_task(mbx.move_items([item.mid], dest.fid, copy=op == "copy"))
        await asyncio.wait_for(done.wait(), 30)

        # the change source, woken by the server's IDLE/NOTIFY news, syncs meanwhile; like the
        # EWS feed it looks at the item right after its folder's sync
        seen: dict[str, object] = {}

        async def change_source():
            await mbx.sync_folder(inbox.fid)
            if item is not None:
                try:
                    seen["after source sync"] = mbx.message_row(item.globcnt)["fid"]
                except NotFound:
                    seen["after source sync"] = None
            await mbx.sync_folder(dest.fid)
        syncing = asyncio.create_task(change_source())
        await asyncio.wait([syncing], timeout=2.0)      # without the folder lock it is done by now
        go.set()
        result = await asyncio.wait_for(writer, 30)
        await asyncio.wait_for(syncing, 30)
        await mbx.sync_folder(target.fid)

        new_rows = [r for r in _rows_in(mbx, target.fid) if r not in before]
        if op == "move":
            assert result == {item.mid: item.mid}
            # the source's sync saw the item in its new folder: a MovedEvent, not a DeletedEvent
            assert seen["after source sync"] == dest.globcnt
            assert [g for g, _ in new_rows] == [item.globcnt]
            assert item.mid in mbx.changes_since(inbox.fid, 0).deleted
            assert mbx.moved_from(item.mid) == inbox.fid
            assert (await mbx.get_item(item.mid)).fid == dest.fid
        elif op == "copy":
            assert seen["after source sync"] == inbox.globcnt
            copy_mid = result[item.mid]
            assert copy_mid != item.mid
            assert [mbx.ident.mid(g) for g, _ in new_rows] == [copy_mid]   # one row for the copy, its MID
        else:
            created = result
            assert [mbx.ident.mid(g) for g, _ in new_rows] == [created.mid]
        assert len({uid for _, uid in _rows_in(mbx, target.fid)}) == len(_rows_in(mbx, target.fid))
        await mbx.delete_folder(dest.fid)
    finally:
        await mbx.close()


async def test_folder_created_while_the_change_source_starts_is_reported(backend):
    """The change source used to read its starting point after the folder counts (a STATUS of every
    stale folder): a folder the client created right after Subscribe, while those were under way, was
    in the starting point and never reported (no CreatedEvent), its listener not yet registered."""
    from gateway.store.changes import HierarchyChanges, watch_mailbox
    kind, cfg = backend
    mbx = await open_for(cfg)
    imap = mbx.backends.imap
    orig_status = imap.status

    async def slow_status(*args, **kwargs):      # a busy server
        await asyncio.sleep(1.5)
        return await orig_status(*args, **kwargs)
    try:
        ipm = await mbx.folder_by_role("ipm_subtree")
        for f in await mbx.folders():
            mbx.stale_counts(f.globcnt)
        imap.status = slow_status
        seen: list = []
        got = asyncio.Event()

        async def consume():
            async for ch in watch_mailbox(mbx, hierarchy=True):
                if isinstance(ch, HierarchyChanges):
                    seen.extend(ch.events)
                    got.set()
        watcher = asyncio.create_task(consume())
        await asyncio.sleep(0)                    # the change source takes its first step
        created = await mbx.create_folder(ipm.fid, f"early-{uuid.uuid4().hex[:6]}")
        try:
            await asyncio.wait_for(got.wait(), 15)
        except asyncio.TimeoutError:
            pass
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        imap.status = orig_status
        assert [(e.kind, e.fid) for e in seen if e.fid == created.fid] == [("created", created.fid)]
        await mbx.delete_folder(created.fid)
    finally:
        imap.status = orig_status
        await mbx.close()


# ------------------------------------------------------------------ stopping and restarting the watcher
# A watcher restart (the folder list changed) cancels the reader of the old IMAP watcher and closes it. On
# Python 3.11 ``asyncio.wait_for`` returns normally when it is cancelled just as its awaitable completes:
# the reader, cancelled as the watcher became ready, watched on, and the restart waited for it (the feed
# stood still: a folder's DeletedEvent came only when the subscription ended). Feed.stop() cancelling a
# feed at that moment was swallowed, and the feed went on, publishing every event twice beside its successor.


async def test_watcher_ready_gives_way_to_a_cancellation(backend):
    kind, cfg = backend
    mbx = await open_for(cfg)
    watcher = mbx.backends.imap.watch(["INBOX"])
    try:
        waiting = asyncio.create_task(watcher.ready(30))
        await asyncio.sleep(0)
        watcher._ready.set()        # ready just as the reader is told to stop
        waiting.cancel()
        await asyncio.wait([waiting], timeout=5)
        assert waiting.cancelled()
    finally:
        await watcher.aclose()
        await mbx.close()


def _stubborn_reader(started: list):
    async def reader(watcher, refs):
        started.append(watcher)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass                    # missed, as wait_for on 3.11 missed it
        async for _ in watcher:
            pass
    return reader


async def test_watcher_restart_is_not_held_up_by_its_old_reader(backend):
    from gateway.store.changes import _ImapWatching
    kind, cfg = backend
    mbx = await open_for(cfg)
    try:
        inbox = await mbx.folder_by_role("inbox")
        started: list = []
        watching = _ImapWatching(mbx, _stubborn_reader(started))
        watching._start({inbox.ref: inbox})
        while not started:
            await asyncio.sleep(0.05)
        await asyncio.wait_for(watching.start({inbox.ref: inbox}), 15)   # the old watcher is closed
        while len(started) < 2:
            await asyncio.sleep(0.05)
        # the one stopping the watcher is cancelled meanwhile (Feed.stop): that goes on, not swallowed
        stopping = asyncio.create_task(watching.stop())
        await asyncio.sleep(0.2)
        stopping.cancel()
        await asyncio.wait([stopping], timeout=15)
        assert stopping.cancelled()
        await asyncio.wait_for(watching.stop(), 15)
        assert watching.task.done()
    finally:
        await mbx.close()
