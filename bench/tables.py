"""A 50-row page of the inbox at 1,000, 10,000 and 50,000 messages: the store's contents table next to
Dovecot serving the same page directly. Printed side by side; nothing is asserted.

Starts a real slapd + Dovecot on 127.0.0.1 (as the tests do) and the gateway in this process. alice's
INBOX grows to each size in turn (maildir files written straight into Dovecot's store, which it indexes
on the first SELECT, timed apart as "Dovecot's own first SELECT"). For each size, with a fresh state
database (so the store indexes the folder from nothing):

  direct page     imaplib on a connection holding INBOX selected: UID SORT (REVERSE ARRIVAL) UTF-8 ALL, then
                  UID FETCH of the first 50 UIDs' (FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)
  direct all      one UID FETCH 1:* of the same fields (what a first indexing has to read)
  index build     the store's first open of the folder (Mailbox.contents_view: every summary fetched in
                  chunks, rows and index written), and the process's RSS before and after; meanwhile a
                  small GetItem (a draft, from IMAP) runs again and again: its latency shows whether
                  the build holds the event loop
  view page       contents_view + count + rows(0, 50), newest first (warm: the folder's changes only)
  view restricted the same with a case-insensitive subject restriction matching 1 in 10 messages
  FindItem page   EWS FindItem over HTTPS (Basic), IndexedPageItemView MaxEntriesReturned=50, Default shape
  FindItem restr. the same with <Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase">

    python bench/tables.py [--sizes 1000,10000,50000] [--rounds 15]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import imaplib
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench.soak import ENVELOPE  # noqa: E402
from gateway.config import Config, HttpConfig, ImapConfig, LdapConfig, StateConfig  # noqa: E402
from gateway.http.server import start_gateway  # noqa: E402
from gateway.store import StateDB  # noqa: E402
from gateway.store.factory import Credentials, open_mailbox  # noqa: E402
from protocols.mapi import restrictions as R  # noqa: E402
from protocols.mapi.props import core as P  # noqa: E402
from tests.servers import start_dovecot, start_slapd, start_with_retry  # noqa: E402

FIELDS = "(FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"
PAGE = 50
FIND = ('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>'
        '<m:IndexedPageItemView MaxEntriesReturned="50" Offset="0" BasePoint="Beginning"/>{restriction}'
        '<m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:DateTimeReceived"/>'
        '</t:FieldOrder></m:SortOrder>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>')
SUBJECT = ('<m:Restriction><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase">'
           '<t:FieldURI FieldURI="item:Subject"/><t:Constant Value="[topic-7]"/></t:Contains></m:Restriction>')


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def grow(maildir: Path, start: int, end: int, owner: tuple[int, int]) -> None:
    """Messages start..end-1 as maildir files in INBOX's cur/ (2 in 3 read)."""
    cur = maildir / "cur"
    cur.mkdir(parents=True, exist_ok=True)
    base = 1_700_000_000
    for i in range(start, end):
        msg = (f"From: Sender {i % 37} <sender{i % 37}@example.org>\r\nTo: Alice Archer <alice@example.test>\r\n"
               f"Subject: Bench message {i} [topic-{i % 10}] news\r\nDate: {email_date(base + i * 60)}\r\n"
               f"Message-ID: <bench-{i}@example.org>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "line of text\r\n" * 20)
        name = cur / f"{base + i}.M{i}P1.bench,S={len(msg)}:2,{'S' if i % 3 else ''}"
        name.write_bytes(msg.encode())
        os.utime(name, (base + i * 60, base + i * 60))
        os.chown(name, *owner)


def email_date(ts: float) -> str:
    from email.utils import formatdate
    return formatdate(ts, usegmt=True)


def imap(host: str, port: int) -> imaplib.IMAP4:
    conn = imaplib.IMAP4(host, port)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.login("alice", "alicepw")
    return conn


def direct_page(conn: imaplib.IMAP4) -> int:
    """On a connection already logged in with INBOX selected, as a client holding the folder open."""
    typ, data = conn.uid("SORT", "(REVERSE ARRIVAL)", "UTF-8", "ALL")
    uids = data[0].split()[:PAGE]
    typ, data = conn.uid("FETCH", b",".join(uids).decode(), FIELDS)
    return sum(1 for d in data if isinstance(d, tuple))


def direct_all(host: str, port: int) -> int:
    conn = imap(host, port)
    try:
        conn.select("INBOX", readonly=True)
        typ, data = conn.uid("FETCH", "1:*", FIELDS)
        return sum(1 for d in data if isinstance(d, tuple))
    finally:
        conn.logout()


async def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


def ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


async def one_size(n: int, have: int, rounds: int, slapd, dovecot, tmp: Path, rows: list) -> None:
    host, port = dovecot.info.host, dovecot.info.imap_port
    maildir = dovecot.info.maildir("alice")
    if not maildir.exists():
        await asyncio.to_thread(direct_all, host, port)      # the first login makes the maildir
    st = maildir.stat()
    t = time.perf_counter()
    await asyncio.to_thread(grow, maildir, have, n, (st.st_uid, st.st_gid))
    wrote = time.perf_counter() - t
    t = time.perf_counter()
    await asyncio.to_thread(direct_all, host, port)        # Dovecot indexes the new files
    dovecot_first = time.perf_counter() - t
    held = imap(host, port)
    held.select("INBOX", readonly=True)
    direct = await timed(lambda: asyncio.to_thread(direct_page, held), rounds)
    held.logout()
    whole = await timed(lambda: asyncio.to_thread(direct_all, host, port), max(3, rounds // 5))

    state = tmp / f"state-{n}.sqlite3"
    cfg = Config(http=HttpConfig(host="127.0.0.1", port=0, tls=True), state=StateConfig(dsn=str(state)),
                 imap=ImapConfig(host=host, port=port),
                 ldap=LdapConfig(url=slapd.info.url, base_dn=slapd.info.base_dn, bind_dn=slapd.info.admin_dn,
                                 bind_password=slapd.info.admin_password))
    db = StateDB.open(state)
    mbx = await open_mailbox(db, cfg, Credentials("alice", "alice@example.test", "Alice Archer", "alicepw"))
    inbox = await mbx.folder_by_role("inbox")
    newest = [R.SortOrder(P.PidTagMessageDeliveryTime, R.ORDER_DESCENDING)]
    drafts = await mbx.folder_by_role("drafts")
    from gateway.store import MessageContent
    small = await mbx.create_item(drafts.fid, MessageContent({P.PidTagMessageClass: "IPM.Note",
                                                              P.PidTagSubject: "small", P.PidTagBody: "hi"}))
    quiet = await timed(lambda: mbx.get_item(small.mid), 10)
    before = rss_mib()
    t = time.perf_counter()
    building = asyncio.ensure_future(mbx.contents_view(inbox.fid, None, newest))
    during: list[float] = []
    while not building.done():       # a small GetItem on another IMAP connection, again and again
        during += await timed(lambda: mbx.get_item(small.mid), 1)
    view = building.result()
    build = time.perf_counter() - t
    after = rss_mib()
    assert view.count() >= n, view.count()

    async def page(restriction=None):
        v = await mbx.contents_view(inbox.fid, restriction, newest)
        v.count()
        assert len(v.rows(0, PAGE)) == PAGE
    topic = R.ContentRestriction(R.FL_SUBSTRING | R.FL_IGNORECASE, P.PidTagSubject, "[topic-7]")
    view_page = await timed(page, rounds)
    view_restricted = await timed(lambda: page(topic), rounds)
    await mbx.close()
    db.close()

    gw = await start_gateway(cfg, tmp / f"gw-{n}")
    try:
        auth = "Basic " + base64.b64encode(b"alice@example.test:alicepw").decode()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
            async def find(restriction=""):
                body = ENVELOPE.format(FIND.format(restriction=restriction)).encode()
                async with http.post(gw.base_url + "/EWS/Exchange.asmx", data=body, headers={
                        "Authorization": auth, "Content-Type": "text/xml; charset=utf-8"}) as resp:
                    text = await resp.read()
                    assert resp.status == 200 and text.count(b"<t:Message>") == PAGE, text[:400]
            await find()
            finditem = await timed(find, rounds)
            finditem_r = await timed(lambda: find(SUBJECT), rounds)
    finally:
        await gw.stop()
    d = ms(direct)
    rows.append((n, wrote, dovecot_first, d, ms(whole), build * 1000, before, after, ms(view_page),
                 ms(view_restricted), ms(finditem), ms(finditem_r), ms(quiet), ms(during), max(during) * 1000,
                 len(during)))
    print(f"  {n:>6} messages done", flush=True)


async def run(sizes: list[int], rounds: int) -> None:
    slapd = start_with_retry(start_slapd)
    dovecot = start_with_retry(lambda: start_dovecot(slapd.info))
    tmp = Path(tempfile.mkdtemp(prefix="bench-tables-"))
    rows: list = []
    try:
        have = 0
        for n in sizes:
            await one_size(n, have, rounds, slapd, dovecot, tmp, rows)
            have = n
    finally:
        dovecot.stop()
        slapd.stop()
    print(f"\nOne {PAGE}-row page of alice's INBOX, newest first; Dovecot on loopback; medians of {rounds} "
          "rounds (warm); ratio = against the direct IMAP page")
    head = ("messages", "direct page", "view page", "ratio", "view restr.", "ratio", "FindItem", "ratio",
            "FindItem restr.", "ratio")
    print("  " + " | ".join(f"{h:>12}" for h in head))
    for n, _, _, d, _, _, _, _, vp, vr, fi, fr, *_ in rows:
        cells = (f"{n}", f"{d:.1f} ms", f"{vp:.1f} ms", f"{vp / d:.2f}x", f"{vr:.1f} ms", f"{vr / d:.2f}x",
                 f"{fi:.1f} ms", f"{fi / d:.2f}x", f"{fr:.1f} ms", f"{fr / d:.2f}x")
        print("  " + " | ".join(f"{c:>12}" for c in cells))
    print("\nFirst open of the folder (the store's index build) against reading the same fields directly")
    head = ("messages", "direct 1:*", "index build", "ratio", "RSS before", "RSS after", "Dovecot 1st SELECT")
    print("  " + " | ".join(f"{h:>12}" for h in head))
    for n, _, first, _, whole, build, before, after, *_ in rows:
        cells = (f"{n}", f"{whole:.0f} ms", f"{build:.0f} ms", f"{build / whole:.2f}x", f"{before:.0f} MiB",
                 f"{after:.0f} MiB", f"{first * 1000:.0f} ms")
        print("  " + " | ".join(f"{c:>12}" for c in cells))
    print("\nA small GetItem (a draft, fetched from IMAP) while the folder is indexed, against the same when idle")
    head = ("messages", "idle median", "during median", "during max", "GetItems done")
    print("  " + " | ".join(f"{h:>13}" for h in head))
    for n, *rest in rows:
        quiet, during, worst, count = rest[-4:]
        cells = (f"{n}", f"{quiet:.1f} ms", f"{during:.1f} ms", f"{worst:.1f} ms", f"{count}")
        print("  " + " | ".join(f"{c:>13}" for c in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    asyncio.run(run(sorted(int(s) for s in a.sizes.split(",")), a.rounds))


if __name__ == "__main__":
    main()
