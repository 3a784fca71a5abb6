"""Per-folder locks of a Mailbox: a backend write and its id-map update against a sync of the same folder.

The store changes a backend first and its id map right after (APPEND, then the message row; MOVE and a
STATUS of the destination, then the tombstone and the row that keeps the MID). The change source syncs a
folder as soon as the server tells it something changed (IMAP IDLE/NOTIFY), which can be between the two:
that sync would take a moved message for deleted and give it (or a copy, or an appended message) a second
MID for the same UID. So both hold the folder's lock: ``ImapAdapter.sync`` for the whole sync, the writers
from their IMAP command until their rows are written.

``DavAdapter.sync`` and the DAV create hold it as well: two listings of a calendar at once each recorded
the new hrefs under MIDs of their own.

The locks are per Mailbox object: the change source and the front ends of one user share the mailbox
(one per user in the gateway's cache). Several gateway processes on one state database share no lock:
there the UNIQUE indexes of the state schema (one live row per folder+UIDVALIDITY+UID, per href) refuse a
second row, and ``Mailbox.insert_message`` takes the row the other process wrote first.
"""
from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import AsyncIterator

_LOCKS: "weakref.WeakKeyDictionary[object, dict[int, asyncio.Lock]]" = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def folder_lock(mbx, *globcnts: int) -> AsyncIterator[None]:
    """Hold the locks of these folders (by FID globcnt), taken in one order so two writers cannot deadlock."""
    locks = _LOCKS.setdefault(mbx, {})
    async with contextlib.AsyncExitStack() as stack:
        for g in sorted(set(globcnts)):
            await stack.enter_async_context(locks.setdefault(g, asyncio.Lock()))
        yield
