"""MAPI over HTTP (/mapi/emsmdb/, issue 12): figures printed side by side. Nothing is asserted on time.

1. QueryRows of an N-message Inbox (default 1,000) through MAPI/HTTP next to a direct IMAP fetch of the
   same fields. One read is what Outlook's message list does: Connect, then Execute with RopLogon, then
   RopOpenFolder + RopGetContentsTable + RopSetColumns (subject, sender name, delivery time, size, flags,
   importance, has attachments, message class, PidTagMid) + RopSortTable (delivery time, newest first)
   + RopQueryRows, then RopQueryRows in further Executes until the table is read, then Disconnect. The
   direct read is imaplib's `UID FETCH 1:* (ENVELOPE FLAGS RFC822.SIZE BODYSTRUCTURE INTERNALDATE)` with
   its connect, login and SELECT (bench/store_list.py's direct_fetch). Cold: the first read of each
   (Dovecot's first fetch builds its cache; the gateway's first read opens the mailbox, lists the folders
   and indexes the Inbox from nothing). Warm: medians of the repeated reads. "Held" is the same without
   the sign-in: the table re-opened on a session kept open, against UID FETCH on a connection kept
   selected.
1b. One 50-row page (newest first) on an open session with those columns, and with three columns no row
   summary holds (PidTagBody, PidTagInternetReferences, PidTagSenderEntryId: read from the page's
   messages): its first read and warm, against direct IMAP UID FETCH of the same 50 messages with and
   without BODY.PEEK[] on a selected connection.
2. The ROP codec on an N-row table, in MB of ROP buffer per second: the RopQueryRows response buffers
   of those columns (split as the server splits them, at most 64 KB each) encoded (protocols/rops/rows.py
   encode_rows + encode_buffer) and decoded (decode_response_buffer + QueryRowsResponse.rows, what a
   client does); the gateway's own row building from property bags (gateway.emsmdb.props.property_row);
   and the request buffers of the read above (encode_buffer / decode_request_buffer), which are a few
   dozen bytes each, so their MB/s is mostly per-buffer overhead (buffers/s is printed too).
   --profile prints where the time goes (cProfile) for every path below the 50 MB/s goal, and in the
   gateway process over more held reads of part 1 (after the timed ones).
3. Memory per idle session: S sessions (default 200) each Connect + RopLogon + RopRegisterNotification
   + an open Inbox contents table (columns set, sorted, a 50-row page read) and a NotificationWait in
   flight on its own connection (the server holds it up to app[NOTIFICATION_WAIT], default 300 s). The
   gateway runs in a child process for this whole bench (so its RSS is its own); the resident memory
   (/proc/<pid>/status VmRSS) and the Python heap (tracemalloc, started in the child just before the
   second batch of S sessions opens, so its own bookkeeping is not in the RSS figure) are read before
   and after each batch, after one warm-up session, and divided by S. All sessions are alice's, so
   this is the cost of a session, not of a mailbox (one per user, shared by its sessions); the
   per-user session cap (16) is raised for it.

The backend is a real slapd + Dovecot on 127.0.0.1 when they are installed (tests/servers, as the
tests start them), else the embedded demo backend (pymap). The gateway listens on HTTPS.

    python bench/emsmdb.py [--messages 1000] [--rounds 5] [--sessions 200] [--backend auto|dovecot|embedded]
                           [--port 27480] [--profile]
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pickle
import pstats
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench.store_list import direct_fetch, seed  # noqa: E402
from bench.tables import imap  # noqa: E402
from protocols import mapihttp as M  # noqa: E402
from protocols.mapi.props import core as P  # noqa: E402
from protocols.mapi.restrictions import ORDER_DESCENDING, SortOrder, SortOrderSet  # noqa: E402
from protocols.rops import (decode_request_buffer, decode_response_buffer, encode_buffer,  # noqa: E402
                            folder as F, notify as N, table as T)
from protocols.rops.common import RegisterNotificationRequest, ReleaseRequest  # noqa: E402
from protocols.rops.rows import encode_rows, standard_row  # noqa: E402
from tests.clients.test_emsmdb import LOGON_ID, NO, MapiClient, logon  # noqa: E402

FIELDS = "(ENVELOPE FLAGS RFC822.SIZE BODYSTRUCTURE INTERNALDATE)"
# what Outlook's message list asks for
COLUMNS = (P.PidTagSubject, P.PidTagSenderName, P.PidTagMessageDeliveryTime, P.PidTagMessageSize,
           P.PidTagMessageFlags, P.PidTagImportance, P.PidTagHasAttachments, P.PidTagMessageClass, P.PidTagMid)
NEWEST_FIRST = SortOrderSet((SortOrder(P.PidTagMessageDeliveryTime, ORDER_DESCENDING),))
UNICODE = 0x40                 # TableFlags UseUnicode
MAX_ROWS = 0xFFFF              # RowCount asked per RopQueryRows: as many as fit the answer
MAX_OUT = 0x10008              # MaxRopOut of the Execute requests (the test client's, Outlook's)
ALL_EVENTS = N.NEW_MAIL | N.OBJECT_CREATED | N.OBJECT_DELETED | N.OBJECT_MODIFIED | N.OBJECT_MOVED | N.OBJECT_COPIED
GOAL_MB = 50.0
PAGE = 50


def _ssl_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE          # the gateway's self-signed certificate, on loopback
    return ctx


def http_session(connections: int = 0) -> aiohttp.ClientSession:
    """Kept-alive connections for BenchClients; cookies are each client's own (DummyCookieJar)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_ssl_context(), limit=connections),
                                 cookie_jar=aiohttp.DummyCookieJar())


class BenchClient(MapiClient):
    """tests/clients' scripted MAPI/HTTP client (Connect, Execute, its cookies and codecs) with its requests
    on a shared kept-alive aiohttp session, as Outlook keeps its connections open: the test client opens a
    new connection, TLS handshake and SSL context for every request, which is not what is measured here."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession, login: str = "alice", password: str = "alicepw"):
        super().__init__(SimpleNamespace(base_url=base_url), login, password)
        self.http = http

    async def post(self, request_type: str, body: bytes, *, headers=None, drop=()):
        self.n += 1
        h = {"Authorization": self.auth, "Content-Type": "application/mapi-http", "X-RequestType": request_type,
             "X-RequestId": f"{self.client_info}:{self.n}", "X-ClientInfo": self.client_info,
             "X-ClientApplication": "Outlook/16.0.0.0"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        async with self.http.post(self.gw.base_url + "/mapi/emsmdb/?MailboxId=alice@example.test", data=body,
                                  headers=h) as r:
            for name, morsel in r.cookies.items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
            return r.status, dict(r.headers), await r.read()


# ------------------------------------------------------------------------------------------- 1. QueryRows

async def open_inbox_table(c: BenchClient, logon_h: int, inbox: int, first_rows: int = MAX_ROWS):
    """OpenFolder + GetContentsTable + SetColumns + SortTable + QueryRows in one Execute: (folder handle,
    table handle, the QueryRows response)."""
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, inbox, 0),
        F.GetContentsTableRequest(LOGON_ID, 1, 2, UNICODE),
        T.SetColumnsRequest(LOGON_ID, 2, 0, COLUMNS),
        T.SortTableRequest(LOGON_ID, 2, 0, NEWEST_FIRST),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, first_rows),
    ], [logon_h, NO, NO], MAX_OUT)
    opened, table, cols, sort, rows = got.rops
    bad = [r for r in got.rops if r.return_value]
    if bad:
        raise RuntimeError(f"opening the Inbox table failed: {bad}")
    return got.handles[1], got.handles[2], rows


async def read_table(c: BenchClient, logon_h: int, inbox: int, *, check: int | None = None) -> tuple[int, int]:
    """The whole Inbox contents table, newest first; the table released after. Returns (rows, Executes)."""
    folder_h, table_h, first = await open_inbox_table(c, logon_h, inbox)
    answers = [first]
    c.columns[0] = COLUMNS
    while answers[-1].row_count and answers[-1].origin != T.BOOKMARK_END:
        got = await c.execute([T.QueryRowsRequest(LOGON_ID, 0, 0, 1, MAX_ROWS)], [table_h], MAX_OUT)
        answers.append(got.rops[0])
    await c.execute([ReleaseRequest(LOGON_ID, 0), ReleaseRequest(LOGON_ID, 1)], [table_h, folder_h], MAX_OUT)
    total = sum(a.row_count for a in answers)
    if check is not None:            # the rows are the folder's, newest first (checked once, not timed)
        rows = [row for a in answers for row in a.rows(COLUMNS)]
        times = [r.values[2] for r in rows]
        if total < check or times != sorted(times, reverse=True) or not all(r.values[8] for r in rows):
            raise RuntimeError(f"the table read is wrong: {total} rows for {check} messages")
    return total, len(answers) + 1


async def mapi_read(base_url: str, http, *, check: int | None = None) -> tuple[int, int]:
    """Connect, Logon, the whole table, Disconnect."""
    c = BenchClient(base_url, http)
    await c.connect()
    lr, logon_h = await logon(c)
    n, executes = await read_table(c, logon_h, lr.folder("inbox"), check=check)
    status, headers, _ = await c.post("Disconnect", M.DisconnectRequest().encode())
    assert status == 200 and headers["X-ResponseCode"] == "0", headers
    return n, executes + 2


def held_fetch(conn) -> int:
    """UID FETCH 1:* on a connection with INBOX selected; the number of messages answered."""
    typ, data = conn.uid("FETCH", "1:*", FIELDS)
    return sum(1 for d in data if re.match(rb"\d+ \(", d[0] if isinstance(d, tuple) else d or b""))


async def _timed(fn):
    t = time.perf_counter()
    out = await fn()
    return time.perf_counter() - t, out


async def queryrows(base_url: str, imap_host: str, imap_port: int, n: int, rounds: int,
                    child: "GatewayChild | None" = None) -> dict:
    """Part 1 against a gateway at ``base_url`` in front of the IMAP server holding alice's n messages (none
    read through the gateway or fetched yet). Times in seconds. With ``child``, the gateway process is
    profiled (cProfile) over ``rounds`` more held reads, after the timed ones: ``out["gateway_profile"]``."""
    out: dict = {"messages": n, "rounds": rounds}
    out["direct_cold"], _ = await _timed(lambda: asyncio.to_thread(direct_fetch, imap_host, imap_port))
    async with http_session() as http:
        out["mapi_cold"], (rows, executes) = await _timed(lambda: mapi_read(base_url, http, check=n))
        out["rows"], out["executes"] = rows, executes
        direct, mapi = [], []
        for _ in range(rounds):            # interleaved, so both see the same machine
            direct.append((await _timed(lambda: asyncio.to_thread(direct_fetch, imap_host, imap_port)))[0])
            mapi.append((await _timed(lambda: mapi_read(base_url, http)))[0])
        out["direct_warm"], out["mapi_warm"] = statistics.median(direct), statistics.median(mapi)

        held = await asyncio.to_thread(imap, imap_host, imap_port)
        c = BenchClient(base_url, http)
        try:
            await asyncio.to_thread(held.select, "INBOX", True)
            out["fetched"] = await asyncio.to_thread(held_fetch, held)
            await c.connect()
            lr, logon_h = await logon(c)
            inbox = lr.folder("inbox")
            hd, hm = [], []
            for _ in range(rounds):
                hd.append((await _timed(lambda: asyncio.to_thread(held_fetch, held)))[0])
                hm.append((await _timed(lambda: read_table(c, logon_h, inbox)))[0])
            out["direct_held"], out["mapi_held"] = statistics.median(hd), statistics.median(hm)
            if child is not None:
                await asyncio.to_thread(child.ask, "prof-start")
                for _ in range(rounds):
                    await read_table(c, logon_h, inbox)
                out["gateway_profile"] = (await asyncio.to_thread(child.ask, "prof-stop"))["text"]
        finally:
            await asyncio.to_thread(held.logout)
            await c.post("Disconnect", M.DisconnectRequest().encode())
    return out


def print_queryrows(r: dict) -> None:
    d = r["direct_warm"]
    print(f"\n1. QueryRows of alice's {r['messages']}-message Inbox through MAPI/HTTP against a direct IMAP fetch of "
          f"the same fields\n   ({r['rows']} rows in {r['executes']} requests; IMAP returned {r['fetched']}; "
          f"warm = median of {r['rounds']} rounds; ratio against direct warm; goal: MAPI warm within 2x)")
    lines = [
        ("direct IMAP UID FETCH 1:*, cold (Dovecot's first fetch)", r["direct_cold"]),
        ("direct IMAP UID FETCH 1:*, warm (connect, login, SELECT)", d),
        ("MAPI/HTTP read, cold (mailbox opened, Inbox indexed)", r["mapi_cold"]),
        ("MAPI/HTTP read, warm (Connect, Logon .. QueryRows, Disconnect)", r["mapi_warm"]),
    ]
    for label, t in lines:
        print(f"   {label:<66} {t * 1000:9.1f} ms  {t / d:6.2f}x")
    h = r["direct_held"]
    print(f"   held: IMAP UID FETCH on a selected connection {h * 1000:9.1f} ms; the table re-read on an open MAPI "
          f"session {r['mapi_held'] * 1000:9.1f} ms  {r['mapi_held'] / h:6.2f}x")


# ---------------------------------------------------------------- 1b. a page with columns the index lacks

# Columns Outlook may ask that no row summary holds (the body preview, the references, the sender's entry
# id): QueryRows reads them from the page's messages (gateway/store/tables/fill.py).
EXTRA = (P.PidTagBody, P.PidTagInternetReferences, P.PidTagSenderEntryId)


async def page_read(c: BenchClient, logon_h: int, inbox: int, cols: tuple, skip: int = 0) -> int:
    """One page of the Inbox, newest first, ``skip`` rows down: OpenFolder .. SetColumns, SortTable, SeekRow,
    QueryRows(PAGE), Release."""
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, inbox, 0),
        F.GetContentsTableRequest(LOGON_ID, 1, 2, UNICODE),
        T.SetColumnsRequest(LOGON_ID, 2, 0, cols),
        T.SortTableRequest(LOGON_ID, 2, 0, NEWEST_FIRST),
        T.SeekRowRequest(LOGON_ID, 2, T.BOOKMARK_BEGINNING, skip, False),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, PAGE),
    ], [logon_h, NO, NO], MAX_OUT)
    if any(r.return_value for r in got.rops):
        raise RuntimeError(f"the page read failed: {got.rops}")
    await c.execute([ReleaseRequest(LOGON_ID, 0), ReleaseRequest(LOGON_ID, 1)], [got.handles[2], got.handles[1]],
                    MAX_OUT)
    return got.rops[-1].row_count


def held_page_fetch(conn, whole: bool) -> int:
    """The newest PAGE messages (highest UIDs: seeded in date order) by UID FETCH on a selected connection:
    the summary fields, and with ``whole`` the messages too (what the gateway reads for the extra columns)."""
    typ, data = conn.uid("SEARCH", None, "ALL")
    uids = data[0].split()[-PAGE:]
    items = FIELDS[:-1] + " BODY.PEEK[])" if whole else FIELDS
    typ, data = conn.uid("FETCH", b",".join(uids).decode(), items)
    return sum(1 for d in data if isinstance(d, tuple) and re.match(rb"\d+ \(", d[0]))


async def extra_columns(base_url: str, imap_host: str, imap_port: int, rounds: int) -> dict:
    """A 50-row page with the summary columns only, and with EXTRA as well: first reads (the median over
    pages 2, 3 ... each read once: their messages read from IMAP), then the first page warm (medians; the
    store keeps what it read by row and change number); against direct IMAP of the same page on a selected
    connection."""
    out: dict = {"page": PAGE, "rounds": rounds, "extra": len(EXTRA)}
    async with http_session() as http:
        c = BenchClient(base_url, http)
        held = await asyncio.to_thread(imap, imap_host, imap_port)
        try:
            await asyncio.to_thread(held.select, "INBOX", True)
            await c.connect()
            lr, logon_h = await logon(c)
            inbox = lr.folder("inbox")
            await page_read(c, logon_h, inbox, COLUMNS)                  # the Inbox indexed, warm
            summary = [(await _timed(lambda: page_read(c, logon_h, inbox, COLUMNS)))[0] for _ in range(rounds)]
            # first reads: a page never read with EXTRA each time (pages 2, 3 ...), then the first page warm
            cold = []
            for k in range(1, rounds + 1):
                cold.append((await _timed(lambda: page_read(c, logon_h, inbox, COLUMNS + EXTRA, k * PAGE)))[0])
            out["extra_cold"] = statistics.median(cold)
            out["rows"] = await page_read(c, logon_h, inbox, COLUMNS + EXTRA)
            extra = [(await _timed(lambda: page_read(c, logon_h, inbox, COLUMNS + EXTRA)))[0] for _ in range(rounds)]
            direct = [(await _timed(lambda: asyncio.to_thread(held_page_fetch, held, False)))[0]
                      for _ in range(rounds)]
            whole = [(await _timed(lambda: asyncio.to_thread(held_page_fetch, held, True)))[0] for _ in range(rounds)]
            out["fetched"] = await asyncio.to_thread(held_page_fetch, held, True)
            out["summary_warm"], out["extra_warm"] = statistics.median(summary), statistics.median(extra)
            out["direct_summary"], out["direct_whole"] = statistics.median(direct), statistics.median(whole)
        finally:
            await asyncio.to_thread(held.logout)
            await c.post("Disconnect", M.DisconnectRequest().encode())
    return out


def print_extra(r: dict) -> None:
    d = r["direct_whole"]
    print(f"\n1b. One {r['page']}-row page of the Inbox (newest first) on an open MAPI session, summary columns only "
          f"and with {r['extra']} columns the index does not hold\n   (body, references, sender entry id: read from "
          f"the page's messages; {r['rows']} rows; warm = median of {r['rounds']} rounds; ratio against direct IMAP "
          f"of the same {r['fetched']} messages with their bodies on a selected connection)")
    for label, t in (("direct IMAP UID FETCH of the page, summary fields", r["direct_summary"]),
                     ("direct IMAP UID FETCH of the page, summary fields + BODY.PEEK[]", d),
                     ("MAPI page, summary columns, warm", r["summary_warm"]),
                     ("MAPI page, + extra columns, first read (median over pages 2, 3 ...)", r["extra_cold"]),
                     ("MAPI page, + extra columns, warm (read before, same change numbers)", r["extra_warm"])):
        print(f"   {label:<70} {t * 1000:9.1f} ms  {t / d:6.2f}x")


# ------------------------------------------------------------------------------------------- 2. the codec

def table_rows(n: int) -> list:
    """n rows of COLUMNS as the gateway answers them (the subjects and senders of bench/store_list.py's seed)."""
    base = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    return [standard_row(f"Bench message {i} été", f"Sender {i % 37}", base - timedelta(minutes=i),
                         1200 + i % 300, 1 if i % 3 else 0, 1, i % 7 == 0, "IPM.Note", (i + 1) << 16 | 1)
            for i in range(n)]


def bags(rows) -> list[dict]:
    return [dict(zip(COLUMNS, r.values)) for r in rows]


def response_buffers(rows, room: int = MAX_OUT - 8 - 16) -> list[bytes]:
    """The RopQueryRows response buffers of the table, each as full as the server fills them."""
    out, chunk, used = [], [], 0
    for r in rows:
        size = len(encode_rows([r], COLUMNS))
        if chunk and used + size > room:
            out.append(_response_buffer(chunk, False))
            chunk, used = [], 0
        chunk.append(r)
        used += size
    out.append(_response_buffer(chunk, True))
    return out


def _response_buffer(chunk, last: bool) -> bytes:
    resp = T.QueryRowsResponse(handle_index=0, return_value=0, origin=T.BOOKMARK_END if last else T.BOOKMARK_CURRENT,
                               row_count=len(chunk), row_data=encode_rows(chunk, COLUMNS))
    return encode_buffer([resp], [0x0C000002])


def _chunks(rows, buffers) -> list:
    """The rows of each response buffer, in order."""
    out, i = [], 0
    for buf in buffers:
        count = decode_response_buffer(buf, [T.QueryRowsRequest(LOGON_ID, 0, 0, 1, MAX_ROWS)], {0: COLUMNS}).rops[0].row_count
        out.append(rows[i:i + count])
        i += count
    return out


def request_buffers() -> list[bytes]:
    first = [F.OpenFolderRequest(LOGON_ID, 0, 1, 0x0000000000010001, 0), F.GetContentsTableRequest(LOGON_ID, 1, 2, UNICODE),
             T.SetColumnsRequest(LOGON_ID, 2, 0, COLUMNS), T.SortTableRequest(LOGON_ID, 2, 0, NEWEST_FIRST),
             T.QueryRowsRequest(LOGON_ID, 2, 0, 1, MAX_ROWS)]
    more = [T.QueryRowsRequest(LOGON_ID, 0, 0, 1, MAX_ROWS)]
    return [encode_buffer(first, [LOGON_ID << 24, NO, NO]), encode_buffer(more, [0x0C000002])]


def _rate(fn, nbytes: int, seconds: float) -> tuple[float, float]:
    """(MB/s, calls/s) of fn over at least ``seconds``."""
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return nbytes * calls / elapsed / 1e6, calls / elapsed


def codec_paths(n: int):
    """name -> (function, bytes it handles per call, buffers per call)."""
    from gateway.emsmdb.props import property_row
    rows = table_rows(n)
    props = bags(rows)
    buffers = response_buffers(rows)
    chunks = _chunks(rows, buffers)
    size = sum(len(b) for b in buffers)
    qr = [T.QueryRowsRequest(LOGON_ID, 0, 0, 1, MAX_ROWS)]
    reqs = request_buffers()
    decoded_reqs = [decode_request_buffer(b) for b in reqs]
    req_size = sum(len(b) for b in reqs)

    def encode():
        for i, chunk in enumerate(chunks):
            _response_buffer(chunk, i == len(chunks) - 1)

    def decode():
        for buf in buffers:
            decode_response_buffer(buf, qr, {0: COLUMNS}).rops[0].rows(COLUMNS)

    def build():
        for p in props:
            property_row(p, COLUMNS)

    def encode_requests():
        for d in decoded_reqs:
            encode_buffer(d.rops, d.handles)

    def decode_requests():
        for b in reqs:
            decode_request_buffer(b)

    rows_bytes = sum(len(encode_rows([r], COLUMNS)) for r in rows)
    return {
        "response encode": (encode, size, len(buffers)),
        "response decode": (decode, size, len(buffers)),
        "gateway property_row": (build, rows_bytes, 0),
        "request encode": (encode_requests, req_size, len(reqs)),
        "request decode": (decode_requests, req_size, len(reqs)),
    }, size, len(buffers), req_size


def codec(n: int, seconds: float = 1.0) -> dict:
    paths, size, nbuf, req_size = codec_paths(n)
    out = {"rows": n, "bytes": size, "buffers": nbuf, "request_bytes": req_size, "paths": {}}
    for name, (fn, nbytes, buffers) in paths.items():
        mb, calls = _rate(fn, nbytes, seconds)
        out["paths"][name] = {"mb_s": mb, "buffers_s": calls * buffers, "tables_s": calls}
    enc, dec = out["paths"]["response encode"]["mb_s"], out["paths"]["response decode"]["mb_s"]
    out["response round trip mb_s"] = 1 / (1 / enc + 1 / dec)
    renc, rdec = out["paths"]["request encode"]["mb_s"], out["paths"]["request decode"]["mb_s"]
    out["request round trip mb_s"] = 1 / (1 / renc + 1 / rdec)
    return out


def _top(prof: cProfile.Profile, top: int, order: str = "tottime") -> str:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats(order).print_stats(top)
    lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join("     " + ln for ln in lines[start:start + top + 1]) + "\n"


def profile(n: int, names, top: int = 8) -> str:
    """cProfile of the named codec paths, the functions with the most time of their own."""
    paths = codec_paths(n)[0]
    text = io.StringIO()
    for name in names:
        fn = paths[name][0]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(20):
            fn()
        prof.disable()
        text.write(f"\n   cProfile of {name} (20 tables), by own time:\n")
        text.write(_top(prof, top))
    return text.getvalue()


def print_codec(r: dict) -> None:
    print(f"\n2. The ROP codec on a {r['rows']}-row table of those columns: {r['buffers']} RopQueryRows response "
          f"buffers, {r['bytes']:,} bytes (goal: {GOAL_MB:.0f} MB/s)")
    for name, p in r["paths"].items():
        note = ""
        if name.startswith("request"):
            note = f"  ({p['buffers_s']:,.0f} buffers/s; the read's 2 request buffers, {r['request_bytes']} bytes)"
        elif name == "gateway property_row":
            note = f"  ({p['tables_s'] * r['rows']:,.0f} rows/s from property bags; row bytes only)"
        elif name == "response decode":
            note = (f"  ({p['tables_s']:,.1f} tables/s; the rows are decoded twice: decode_response_buffer "
                    "reads them to find the ROP's end, .rows() for the values)")
        else:
            note = f"  ({p['tables_s']:,.1f} tables/s)"
        print(f"   {name:<22} {p['mb_s']:8.1f} MB/s  {p['mb_s'] / GOAL_MB:5.2f}x goal{note}")
    print(f"   {'response encode+decode':<22} {r['response round trip mb_s']:8.1f} MB/s  "
          f"{r['response round trip mb_s'] / GOAL_MB:5.2f}x goal  (bytes / (encode time + decode time))")
    print(f"   {'request encode+decode':<22} {r['request round trip mb_s']:8.1f} MB/s  "
          f"{r['request round trip mb_s'] / GOAL_MB:5.2f}x goal")


# ------------------------------------------------------------------------------------------- 3. sessions

class GatewayChild:
    """The gateway in a child process (this file with --child): its RSS is its own. Commands on stdin,
    one JSON answer a line on stdout."""

    def __init__(self, cfg, data_dir: Path, port: int):
        data_dir.mkdir(parents=True, exist_ok=True)
        cfg_file = data_dir / "config.pickle"
        cfg_file.write_bytes(pickle.dumps(cfg))
        self.log = open(data_dir / "gateway.log", "wb")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(cfg_file),
                                      str(data_dir), str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        first = self._read()
        self.base_url, self.pid = first["url"], first["pid"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise RuntimeError(f"the gateway child ended (exit {self.proc.returncode}); see {self.log.name}")
        return json.loads(line)

    def ask(self, cmd: str) -> dict:
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
                self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.log.close()


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


async def _child(cfg_file: str, data_dir: str, port: int) -> None:
    from gateway.config import HttpConfig
    from gateway.emsmdb.endpoint import SESSIONS
    from gateway.http.server import start_gateway
    cfg = pickle.loads(Path(cfg_file).read_bytes())
    cfg = replace(cfg, http=HttpConfig(host="127.0.0.1", port=port, tls=True))
    gw = await start_gateway(cfg, Path(data_dir))
    table = gw.runner.app[SESSIONS]
    table.per_user = table.total          # many sessions of one user for the memory figure
    print(json.dumps({"url": gw.base_url, "pid": os.getpid()}), flush=True)
    try:
        while True:
            cmd = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if cmd in ("", "quit"):
                break
            if cmd == "trace":
                tracemalloc.start()
                answer: dict = {}
            elif cmd == "prof-start":
                prof = cProfile.Profile()
                prof.enable()
                answer = {}
            elif cmd == "prof-stop":
                prof.disable()
                answer = {"text": _top(prof, 25, "cumulative") + _top(prof, 15, "tottime")}
            else:       # "mem"
                gc.collect()
                answer = {"rss_kib": _status_kib("VmRSS"), "sessions": len(table),
                          "waiting": sum(1 for s in table._by_context.values() if getattr(s.wake, "_waiters", None))}
                if tracemalloc.is_tracing():
                    answer["traced_kib"] = tracemalloc.get_traced_memory()[0] / 1024
                    answer["tracemalloc_kib"] = tracemalloc.get_tracemalloc_memory() / 1024
            print(json.dumps(answer), flush=True)
    finally:
        table.clear()              # every held NotificationWait answers now, so the server stops at once
        await gw.stop()


async def idle_session(base_url: str, http) -> tuple[BenchClient, asyncio.Task]:
    """A session as Outlook leaves it between two clicks: logged on, notifications registered, the Inbox's
    table open with its first page read, a NotificationWait in flight."""
    c = BenchClient(base_url, http)
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([RegisterNotificationRequest(LOGON_ID, 0, 1, ALL_EVENTS, None, 1)], [logon_h, NO], MAX_OUT)
    assert got.rops[0].return_value == 0, got.rops
    await open_inbox_table(c, logon_h, lr.folder("inbox"), PAGE)
    wait = asyncio.create_task(c.post("NotificationWait", M.NotificationWaitRequest().encode()))
    return c, wait


async def _all_waiting(child: GatewayChild, want: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        mem = await asyncio.to_thread(child.ask, "mem")
        if mem["waiting"] >= want or time.monotonic() > deadline:
            return mem
        await asyncio.sleep(0.2)


async def sessions(child: GatewayChild, count: int) -> dict:
    """Part 3: memory of ``count`` idle sessions with a NotificationWait pending, in the child gateway. The
    RSS figure is taken without tracemalloc (its bookkeeping is resident memory too); then tracemalloc is
    started and ``count`` more sessions open for the Python heap figure."""
    waits = []

    async def open_batch(n: int) -> None:
        for _ in range(n):
            c, w = await idle_session(child.base_url, http)
            waits.append(w)
        await asyncio.sleep(0.5)
    # one connection per session for its NotificationWait, as Outlook holds one; the others are reused
    async with http_session() as http:
        try:
            await open_batch(1)                                     # warm-up: first-time costs out
            before = await _all_waiting(child, 1)
            await open_batch(count)
            after = await _all_waiting(child, count + 1)
            await asyncio.to_thread(child.ask, "trace")
            traced_before = await _all_waiting(child, count + 1)
            await open_batch(count)
            traced_after = await _all_waiting(child, 2 * count + 1)
        finally:
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
    return {"sessions": count, "waiting": after["waiting"] - before["waiting"],
            "rss_before_kib": before["rss_kib"], "rss_after_kib": after["rss_kib"],
            "rss_per_session_kib": (after["rss_kib"] - before["rss_kib"]) / count,
            "traced_per_session_kib": (traced_after["traced_kib"] - traced_before["traced_kib"]) / count,
            "traced_waiting": traced_after["waiting"] - traced_before["waiting"]}


def print_sessions(r: dict) -> None:
    print(f"\n3. Memory per idle session with a pending NotificationWait: {r['sessions']} sessions "
          f"({r['waiting']} NotificationWaits held), gateway child process (goal: under 200 KB)")
    print(f"   gateway RSS {r['rss_before_kib'] / 1024:.1f} MiB -> {r['rss_after_kib'] / 1024:.1f} MiB "
          f"(without tracemalloc; then {r['sessions']} more sessions, {r['traced_waiting']} waits held, under it)")
    print(f"   RSS per session                  {r['rss_per_session_kib']:8.1f} KB  {r['rss_per_session_kib'] / 200:5.2f}x goal")
    print(f"   Python heap per session (traced) {r['traced_per_session_kib']:8.1f} KB  "
          f"{r['traced_per_session_kib'] / 200:5.2f}x goal")


# ------------------------------------------------------------------------------------------- the run

class Backend:
    """alice's IMAP server and the gateway configuration in front of it: real slapd + Dovecot, or the
    embedded demo stack."""

    def __init__(self, kind: str, tmp: Path):
        self.kind, self.tmp, self._stops = kind, tmp, []

    async def start(self) -> None:
        from gateway.config import Config, ImapConfig, LdapConfig, StateConfig
        state = StateConfig(dsn=str(self.tmp / "state.sqlite3"))
        if self.kind in ("auto", "dovecot") and shutil.which("dovecot") and shutil.which("slapd"):
            from tests.servers import start_dovecot, start_slapd, start_with_retry
            try:
                slapd = start_with_retry(start_slapd)
                self._stops.append(slapd.stop)
                dovecot = start_with_retry(lambda: start_dovecot(slapd.info))
                self._stops.append(dovecot.stop)
            except Exception as exc:
                if self.kind == "dovecot":
                    raise
                print(f"real Dovecot not started ({exc}); the embedded backend instead")
                await self.stop()
            else:
                self.kind = "dovecot"
                self.host, self.port = dovecot.info.host, dovecot.info.imap_port
                self.cfg = Config(state=state, imap=ImapConfig(host=self.host, port=self.port),
                                  ldap=LdapConfig(url=slapd.info.url, base_dn=slapd.info.base_dn,
                                                  bind_dn=slapd.info.admin_dn, bind_password=slapd.info.admin_password))
                return
        if self.kind == "dovecot":
            raise RuntimeError("dovecot or slapd is not installed")
        from gateway.backends.embedded import EmbeddedStack, load_demo_users
        stack = EmbeddedStack(self.tmp / "embedded", load_demo_users())
        await stack.start()
        self._stops.append(stack.stop)
        self.kind = "embedded"
        self.host, self.port = stack.imap_host, stack.imap_port
        self.cfg = stack.gateway_config(state.dsn)

    async def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            got = stop()
            if asyncio.iscoroutine(got):
                await got


async def run(messages: int, rounds: int, session_count: int, backend: str = "auto", port: int = 0,
              seconds: float = 1.0, tmp: Path | None = None, quiet: bool = False, profile_gateway: bool = False) -> dict:
    """Every part; returns the figures (and prints them unless ``quiet``)."""
    tmp = Path(tmp or tempfile.mkdtemp(prefix="bench-emsmdb-"))
    be = Backend(backend, tmp)
    await be.start()
    child = None
    try:
        t = time.perf_counter()
        await asyncio.to_thread(seed, be.host, be.port, messages)
        if not quiet:
            print(f"{be.kind} backend: seeded {messages} messages into alice's Inbox in {time.perf_counter() - t:.1f} s")
        child = await asyncio.to_thread(GatewayChild, be.cfg, tmp / "gateway", port)
        figures = {"backend": be.kind}
        figures["queryrows"] = await queryrows(child.base_url, be.host, be.port, messages, rounds,
                                               child if profile_gateway else None)
        figures["extra"] = await extra_columns(child.base_url, be.host, be.port, rounds)
        figures["codec"] = codec(messages, seconds)
        figures["sessions"] = await sessions(child, session_count)
    finally:
        if child is not None:
            await asyncio.to_thread(child.stop)
        await be.stop()
    if not quiet:
        print(f"\nexgate MAPI/HTTP bench, {be.kind} backend on loopback, gateway over HTTPS in its own process")
        print_queryrows(figures["queryrows"])
        print_extra(figures["extra"])
        print_codec(figures["codec"])
        print_sessions(figures["sessions"])
    return figures


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.run(_child(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--backend", choices=("auto", "dovecot", "embedded"), default="auto")
    ap.add_argument("--port", type=int, default=0, help="the gateway's port (0: a free one)")
    ap.add_argument("--seconds", type=float, default=1.0, help="how long each codec path is timed")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the gateway over the held reads, and the codec paths below the goal")
    a = ap.parse_args()
    figures = asyncio.run(run(a.messages, a.rounds, a.sessions, a.backend, a.port, a.seconds,
                              profile_gateway=a.profile))
    if a.profile:
        print(f"\n   cProfile of the gateway process over {a.rounds} held table reads (its event loop's thread):\n"
              + figures["queryrows"]["gateway_profile"])
        slow = [k for k, v in figures["codec"]["paths"].items() if v["mb_s"] < GOAL_MB]
        print(profile(a.messages, slow) if slow else "\n   every codec path is over the goal")


if __name__ == "__main__":
    main()
