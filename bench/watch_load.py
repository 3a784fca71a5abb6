"""What one user's change source costs everybody else on the demo's pymap.

Starts the embedded stack (pymap in this process, as `exgate demo` runs it) in a temp dir, gives
alice ``--folders`` extra mail folders (12 in all by default) and starts her change source (``watch_mailbox``, what an EWS
subscription runs), then times bob's requests: an IMAP STATUS of his inbox and the store's GetItem
path (``Mailbox.get_item`` of an inbox message, which fetches it from IMAP). Printed: the IMAP
connections alice's watcher holds, and bob's latency without and with her watcher running.
Nothing is asserted.

    python bench/watch_load.py [--folders 6] [--samples 40] [--io-workers 0]

``--io-workers N`` starts pymap with an I/O pool of N workers instead of the demo's (its own default
is CPUs + 4: the pool an IDLE per folder used to fill). Run it on a tree before and after a change
to the change source to compare.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.backends.embedded import EmbeddedStack, load_demo_users, seed  # noqa: E402
from gateway.backends.embedded import imap as embedded_imap  # noqa: E402
from gateway.backends.embedded.users import DIRECTORY_LDIF  # noqa: E402
from gateway.config import Config  # noqa: E402
from gateway.store import StateDB  # noqa: E402
from gateway.store.changes import watch_mailbox  # noqa: E402
from gateway.store.factory import Credentials, open_mailbox  # noqa: E402


def _config(stack: EmbeddedStack, dsn: str) -> Config:
    return stack.gateway_config(dsn, DIRECTORY_LDIF)


async def _times(fn, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.05)
    return out


def _fmt(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    return (f"{name:<22} p50 {statistics.median(ms):7.1f} ms   p95 {ms[int(len(ms) * 0.95) - 1]:7.1f} ms   "
            f"max {ms[-1]:7.1f} ms")


async def main(args) -> None:
    if args.io_workers:
        embedded_imap.IO_WORKERS = args.io_workers
    users = load_demo_users()
    by_login = {u.login: u for u in users}
    with tempfile.TemporaryDirectory(prefix="watch-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp) / "stack", users)
        await stack.start()
        try:
            await seed(stack)
            db = StateDB.open(str(Path(tmp) / "state.sqlite3"))
            cfg = _config(stack, str(Path(tmp) / "state.sqlite3"))

            def creds(login):
                u = by_login[login]
                return Credentials(u.login, u.email, u.display_name, u.password)
            alice = await open_mailbox(db, cfg, creds("alice"))
            bob = await open_mailbox(db, cfg, creds("bob"))
            ipm = await alice.folder_by_role("ipm_subtree")
            for i in range(args.folders):
                await alice.create_folder(ipm.fid, f"bench-{uuid.uuid4().hex[:6]}-{i}")
            inbox = await bob.folder_by_role("inbox")
            await bob.sync_folder(inbox.fid)
            rows = bob.db.all("SELECT mid FROM messages WHERE mailbox_id = ? AND fid = ? LIMIT 1",
                              (bob.mailbox_id, inbox.globcnt))
            mid = bob.ident.mid(rows[0][0]) if rows else None

            async def status():
                await bob.backends.imap.status("INBOX")

            async def get_item():
                await bob.get_item(mid)
            print(f"pymap I/O workers: {embedded_imap.IO_WORKERS}; alice has "
                  f"{len([f for f in await alice.folders() if f.kind == 'imap'])} IMAP folders")
            print("bob, nobody watching:")
            print("  " + _fmt("STATUS INBOX", await _times(status, args.samples)))
            if mid is not None:
                print("  " + _fmt("GetItem (store)", await _times(get_item, args.samples)))

            async def consume():
                async for _ in watch_mailbox(alice):
                    pass
            watcher = asyncio.create_task(consume())
            await asyncio.sleep(3.0)
            conns = sum(len(w._conns) for w in alice.backends.imap._watchers)
            print(f"bob, while alice's change source watches ({conns} IMAP connections):")
            print("  " + _fmt("STATUS INBOX", await _times(status, args.samples)))
            if mid is not None:
                print("  " + _fmt("GetItem (store)", await _times(get_item, args.samples)))
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await alice.close()
            await bob.close()
        finally:
            await stack.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folders", type=int, default=6, help="extra mail folders of alice (the demo has 6)")
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--io-workers", type=int, default=0, help="pymap I/O pool (0: the demo's)")
    asyncio.run(main(p.parse_args()))
