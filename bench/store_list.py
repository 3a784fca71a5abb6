"""Listing 1,000 messages' summary properties: through the store vs. a direct IMAP UID FETCH.

Starts a real slapd + Dovecot on 127.0.0.1 (as the tests do), appends N
messages to alice's INBOX, then times:
  direct  - imaplib, one `UID FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)`
  client  - the gateway's IMAP client, fetch_summaries (same fields, parsed into dataclasses)
  store   - Mailbox.list_items: every row of the folder from the table index (the folder's changes
            asked of IMAP first; the first round indexes it), MAPI summary properties and ids for each.
            A client's page of a folder costs far less: see bench/tables.py
and prints each time and the ratio to direct. Timings are printed, never asserted.

    python bench/store_list.py [--messages 1000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import imaplib
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.backends.imap import connect  # noqa: E402
from gateway.config import Config, ImapConfig, StateConfig  # noqa: E402
from gateway.store import StateDB  # noqa: E402
from gateway.store.factory import Credentials, open_mailbox  # noqa: E402
from tests.servers import start_dovecot, start_slapd, start_with_retry  # noqa: E402

FIELDS = "(FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"


def seed(host: str, port: int, n: int) -> None:
    conn = imaplib.IMAP4(host, port)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.login("alice", "alicepw")
    for i in range(n):
        msg = (f"From: Sender {i % 37} <sender{i % 37}@example.org>\r\nTo: Alice Archer <alice@example.test>\r\n"
               f"Cc: Bob Baker <bob@example.test>\r\nSubject: =?utf-8?q?Bench_message_{i}_=C3=A9t=C3=A9?=\r\n"
               f"Date: Mon, 23 Nov 2026 09:{i % 60:02d}:00 +0000\r\nMessage-ID: <bench-{i}@example.org>\r\n"
               "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "line of text\r\n" * 20)
        conn.append("INBOX", "(\\Seen)" if i % 3 else None, None, msg.encode())
    conn.logout()


def direct_fetch(host: str, port: int) -> int:
    conn = imaplib.IMAP4(host, port)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.login("alice", "alicepw")
    conn.select("INBOX", readonly=True)
    typ, data = conn.uid("FETCH", "1:*", FIELDS)
    conn.logout()
    return sum(1 for d in data if d and d != b")")


def best(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:8.1f} ms  (min {min(times) * 1000:.1f})"


async def run(n: int, rounds: int) -> None:
    slapd = start_with_retry(start_slapd)
    dovecot = start_with_retry(lambda: start_dovecot(slapd.info))
    try:
        host, port = dovecot.info.host, dovecot.info.imap_port
        t = time.perf_counter()
        await asyncio.to_thread(seed, host, port, n)
        print(f"seeded {n} messages in {time.perf_counter() - t:.1f} s")

        direct = []
        for _ in range(rounds):
            t = time.perf_counter()
            count = await asyncio.to_thread(direct_fetch, host, port)
            direct.append(time.perf_counter() - t)
        assert count >= n, count

        client = await connect(host, port, "alice", "alicepw")
        via_client = []
        for _ in range(rounds):
            t = time.perf_counter()
            rows = await client.fetch_summaries("INBOX", "1:*", envelope=True, bodystructure=True)
            via_client.append(time.perf_counter() - t)
        assert len(rows) == n
        await client.close()

        with tempfile.TemporaryDirectory() as tmp:
            cfg = Config(state=StateConfig(dsn=str(Path(tmp) / "state.sqlite3")),
                         imap=ImapConfig(host=host, port=port))
            db = StateDB.open(cfg.state.dsn)
            mbx = await open_mailbox(db, cfg, Credentials("alice", "alice@example.test", "Alice Archer", "alicepw"))
            inbox = await mbx.folder_by_role("inbox")
            t = time.perf_counter()
            items = await mbx.list_items(inbox.fid)
            first = time.perf_counter() - t
            assert len(items) == n
            via_store = []
            for _ in range(rounds):
                t = time.perf_counter()
                items = await mbx.list_items(inbox.fid)
                via_store.append(time.perf_counter() - t)
            await mbx.close()
            db.close()

        d = statistics.median(direct)
        print(f"\nlist {n} messages' summary fields, {rounds} rounds, Dovecot on loopback")
        print(f"  direct IMAP (imaplib UID FETCH)     {best(direct)}   1.00x")
        print(f"  gateway IMAP client fetch_summaries {best(via_client)}   {statistics.median(via_client) / d:.2f}x")
        print(f"  store list_items (first, ids made)  {first * 1000:8.1f} ms                  {first / d:.2f}x")
        print(f"  store list_items (warm)             {best(via_store)}   {statistics.median(via_store) / d:.2f}x")
    finally:
        dovecot.stop()
        slapd.stop()


def cli(run_fn) -> None:
    """The command line both message-count benches share: --messages N --rounds R."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    asyncio.run(run_fn(args.messages, args.rounds))


def main() -> None:
    cli(run)


if __name__ == "__main__":
    main()
