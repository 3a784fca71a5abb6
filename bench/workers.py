"""GetItem throughput with 100 clients on one worker and on one worker per core, next to Dovecot's own
fetch rate of the same messages; and memory per idle keep-alive connection (plain and TLS) on one worker.
Printed; nothing is asserted.

Starts a real slapd, Dovecot, Postfix, Radicale and PostgreSQL on 127.0.0.1 (as the tests do) and
`exgate serve` as a child process (`--workers 1`, then `--workers <cores>`), on the PostgreSQL state.
alice's INBOX gets MESSAGES messages (IMAP APPEND, ~2 KB each).

  GetItem/s   --clients clients, each on its own keep-alive connection (HTTP, Basic; raw HTTP/1.1 on
              asyncio streams, the lightest client Python has), GetItem (Default shape: the body is fetched
              from IMAP) of a random one of the messages, for --seconds; the workers' CPU time over the
              run (100% = one core) and the load generator's own are printed beside
  Dovecot     imaplib on --imap-conns connections (threads), UID FETCH <uid> BODY.PEEK[] of a random
              one of the same messages, one per command, for --seconds
  idle memory 1,000 connections that each sent one signed-in request (GetFolder) and stay open:
              the worker's RSS after / before, per connection; over plain HTTP and over TLS
  streaming   --streams streaming subscriptions, each with its GetStreamingEvents held open on its own
              TLS connection: the worker's RSS per subscription

The load generator runs on the same machine (python, asyncio streams): on a 2-core box it takes CPU of its
own, so the "one per core" figure is what is left for the workers; the figures are for comparing.

    python bench/workers.py [--seconds 10] [--clients 100] [--messages 200] [--idle 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import imaplib
import os
import random
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from lxml import etree  # noqa: E402

from gateway.config import HttpConfig  # noqa: E402
from tests.integration.test_cli_check import _free_port, write_toml  # noqa: E402
from tests.servers import (start_dovecot, start_postfix, start_postgres, start_radicale,  # noqa: E402
                           start_slapd, start_with_retry)
from tests.stacks import USERS, real_config  # noqa: E402

ENVELOPE = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><s:Header>'
            '<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{}</s:Body></s:Envelope>')
FIND = ('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>'
        '<t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape>'
        '<m:IndexedPageItemView MaxEntriesReturned="1000" Offset="0" BasePoint="Beginning"/>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>')
GET = ('<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{}"/>'
       '</m:ItemIds></m:GetItem>')
GET_FOLDER = ('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>'
              '<t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
PASSWORD = USERS["alice"].password
AUTH = "Basic " + base64.b64encode(f"alice@example.test:{PASSWORD}".encode()).decode()
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "Authorization": AUTH}


def gateway_pids(parent: int) -> list[int]:
    """The serving processes: the workers of a supervising parent, else the process itself."""
    try:
        kids = [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    except OSError:
        kids = []
    return kids or [parent]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])      # utime + stime, clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Gateway:
    def __init__(self, toml: Path, data: Path, workers: int):
        self.log = (data / f"serve-{workers}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "-c", str(toml), "--workers",
                                      str(workers), "--data-dir", str(data)], cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, start_new_session=True)
        for line in self.proc.stdout:
            if "serving at" in line:
                self.url = re.search(r"(https?://\S+)", line).group(1)
                break
        else:
            raise SystemExit(f"exgate serve did not start; see {self.log.name}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def append(host: str, port: int, n: int) -> None:
    with imaplib.IMAP4(host, port) as im:
        im.login("alice", PASSWORD)
        for i in range(n):
            msg = (f"From: Sender {i % 7} <s{i % 7}@example.org>\r\nTo: Alice <alice@example.test>\r\n"
                   f"Subject: workers bench {i}\r\nMessage-ID: <{uuid.uuid4()}@example.org>\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                   + "a line of text in the body\r\n" * 70)
            im.append("INBOX", None, None, msg.encode())


async def item_ids(url: str) -> list[str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/EWS/Exchange.asmx", data=ENVELOPE.format(FIND), headers=HEADERS,
                             ssl=False) as r:
            root = etree.fromstring(await r.read())
    return [m.find(f"{T}ItemId").get("Id") for m in root.iter(f"{T}Message")
            if (m.findtext(f"{T}Subject") or "").startswith("workers bench")]


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    status = await reader.readline()
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while (size := int((await reader.readline()).split(b";")[0], 16)):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, headers, body


async def getitem_rate(url: str, ids: list[str], clients: int, seconds: float,
                       pids: list[int]) -> tuple[float, Counter, int, float, float]:
    """Raw HTTP/1.1 on asyncio streams (an aiohttp client of 100 sessions took a core of its own here)."""
    m = re.match(r"https?://([^:/]+):(\d+)", url)
    host, port = m.group(1), int(m.group(2))
    requests = []
    for i in ids:
        body = ENVELOPE.format(GET.format(i)).encode()
        requests.append((f"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {AUTH}\r\n"
                         f"Content-Type: text/xml; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                        + body)
    served: Counter = Counter()
    errors = 0
    done = 0

    async def client(until: float):
        nonlocal done, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < until:
                writer.write(random.choice(requests))
                status, headers, data = await _read_response(reader)
                if b" 200 " not in status or b'ResponseClass="Success"' not in data:
                    errors += 1
                    continue
                done += 1
                served[headers.get(b"x-exgate-worker", b"1").decode()] += 1
        finally:
            writer.close()
    # warm: every client's connection signed in once, the messages fetched once
    await asyncio.gather(*[client(time.perf_counter() + 1.0) for _ in range(clients)])
    done, errors, served = 0, 0, Counter()
    cpu0, own0 = cpu_seconds(pids), time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*[client(t0 + seconds) for _ in range(clients)])
    elapsed = time.perf_counter() - t0
    return done / elapsed, served, errors, cpu_seconds(pids) - cpu0, (time.process_time() - own0) / elapsed


def dovecot_rate(host: str, port: int, conns: int, seconds: float) -> float:
    counts = [0] * conns

    def one(k: int):
        im = imaplib.IMAP4(host, port)
        im.login("alice", PASSWORD)
        im.select("INBOX", readonly=True)
        uids = im.uid("SEARCH", "SUBJECT", "\"workers bench\"")[1][0].split()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            typ, _ = im.uid("FETCH", random.choice(uids).decode(), "BODY.PEEK[]")
            assert typ == "OK"
            counts[k] += 1
        im.logout()
    threads = [threading.Thread(target=one, args=(k,)) for k in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def _target(url: str) -> tuple[str, int, ssl.SSLContext | None]:
    """host, port and (for https, trusting any certificate on loopback) the TLS context of a base URL."""
    m = re.match(r"(https?)://([^:/]+):(\d+)", url)
    ctx = None
    if m.group(1) == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return m.group(2), int(m.group(3)), ctx


async def idle_memory(url: str, pid: int, n: int) -> tuple[int, int]:
    """(RSS before, RSS with n idle connections open) of the worker, KiB."""
    host, port, ctx = _target(url)
    body = ENVELOPE.format(GET_FOLDER).encode()
    head = (f"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {AUTH}\r\n"
            f"Content-Type: text/xml; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n").encode()

    async def open_one():
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
        writer.write(head + body)
        await writer.drain()
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        assert b" 200 " in status, status
        return writer

    warm = await asyncio.gather(*[open_one() for _ in range(20)])
    for w in warm:
        w.close()
    before, after, _ = await _rss_with(pid, n, open_one)
    return before, after


async def _rss_with(pid: int, n: int, open_one) -> tuple[int, int, list]:
    """(RSS before, RSS with n connections from ``open_one`` open, their writers), KiB; then closed."""
    await asyncio.sleep(1.0)
    before = rss_kib(pid)
    sem = asyncio.Semaphore(50)

    async def limited():
        async with sem:
            return await open_one()
    writers = await asyncio.gather(*[limited() for _ in range(n)])
    await asyncio.sleep(2.0)
    after = rss_kib(pid)
    for w in writers:
        if w is not None:
            w.close()
    return before, after, writers


SUBSCRIBE_STREAMING = ('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId '
                       'Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType>'
                       '</t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>')
GET_STREAMING = ('<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sid}</t:SubscriptionId>'
                 '</m:SubscriptionIds><m:ConnectionTimeout>10</m:ConnectionTimeout></m:GetStreamingEvents>')


async def streaming_memory(url: str, pid: int, n: int) -> tuple[int, int, int]:
    """(RSS before, RSS with n streaming subscriptions each holding its GetStreamingEvents connection
    open, how many were refused) of the worker, KiB."""
    host, port, ctx = _target(url)

    def request(soap: str) -> bytes:
        body = ENVELOPE.format(soap).encode()
        return (f"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {AUTH}\r\n"
                f"Content-Type: text/xml; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    async def open_one():
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
        writer.write(request(SUBSCRIBE_STREAMING))
        await writer.drain()
        await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        answer = await reader.readexactly(length)
        sid = re.search(rb"<m:SubscriptionId>([^<]+)</m:SubscriptionId>", answer)
        if sid is None:
            writer.close()
            return None
        writer.write(request(GET_STREAMING.format(sid=sid.group(1).decode())))
        await writer.drain()
        await reader.readline()                    # the chunked answer has begun: the subscription is live
        return writer

    before, after, writers = await _rss_with(pid, n, open_one)
    return before, after, sum(1 for w in writers if w is None)


async def run(a) -> None:
    cores = len(os.sched_getaffinity(0))
    servers = []
    try:
        slapd = start_with_retry(start_slapd)
        servers.append(slapd)
        dovecot = start_with_retry(lambda: start_dovecot(slapd.info))
        servers.append(dovecot)
        radicale = start_with_retry(lambda: start_radicale(slapd.info))
        servers.append(radicale)
        postfix = start_with_retry(lambda: start_postfix(dovecot.info))
        servers.append(postfix)
        pg = start_with_retry(start_postgres)
        servers.append(pg)
        tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
        d = dovecot.info
        append(d.host, d.imap_port, a.messages)
        cfg = real_config(d, radicale.info, postfix.info, slapd.info, pg.info.dsn)

        def toml(tls: bool) -> Path:
            c = replace(cfg, http=HttpConfig(host="127.0.0.1", port=_free_port(), tls=tls,
                                             allow_basic_over_http=not tls))
            return write_toml(c, tmp / f"exgate-{'tls' if tls else 'plain'}.toml")

        rates = {}
        for workers in (1, cores):
            gw = Gateway(toml(False), tmp, workers)
            try:
                ids = await item_ids(gw.url)
                rate, served, errors, cpu, gen = await getitem_rate(gw.url, ids, a.clients, a.seconds,
                                                                    gateway_pids(gw.proc.pid))
                rates[workers] = (rate, served, errors, cpu, gen)
            finally:
                gw.stop()
        direct = dovecot_rate(d.host, d.imap_port, a.imap_conns, a.seconds)

        idle = {}
        streams = None
        for tls in (False, True):
            gw = Gateway(toml(tls), tmp, 1)
            try:
                idle["TLS" if tls else "plain"] = await idle_memory(gw.url, gw.proc.pid, a.idle)
            finally:
                gw.stop()
        gw = Gateway(toml(True), tmp, 1)     # a fresh worker: no room left by the idle connections to reuse
        try:
            streams = await streaming_memory(gw.url, gw.proc.pid, a.streams)
        finally:
            gw.stop()
    finally:
        for s in reversed(servers):
            s.stop()

    print(f"\nGetItem (Default shape, body from IMAP) of {a.messages} messages, {a.clients} clients on keep-alive "
          f"connections, {a.seconds:.0f} s; {cores} cores, load generator on the same machine")
    print(f"  {'':<28} {'per second':>12} {'vs Dovecot':>11} {'gateway CPU':>12} {'per CPU-s':>10} "
          f"{'loadgen CPU':>12}  served by worker (errors)")
    for workers, (rate, served, errors, cpu, gen) in rates.items():
        share = ", ".join(f"{k}: {v}" for k, v in sorted(served.items()))
        print(f"  {'exgate, ' + str(workers) + ' worker' + ('s' if workers > 1 else ''):<28} {rate:>12.0f} "
              f"{rate / direct:>10.2f}x {cpu / a.seconds:>11.0%} {rate * a.seconds / max(cpu, 0.01):>10.0f} "
              f"{gen:>11.0%}  {share} ({errors})")
    print(f"  {'Dovecot UID FETCH BODY.PEEK[]':<28} {direct:>12.0f} {1:>10.2f}x {'':>11} {'':>10}  "
          f"({a.imap_conns} connections)")
    if len(rates) == 2:
        (r1, *_), (rn, *_) = rates.values()
        print(f"  {cores} workers / 1 worker: {rn / r1:.2f}x (gateway CPU = the workers' user+system time over "
              "the run, 100% = one core)")
    print(f"\nMemory per idle keep-alive connection (one signed-in GetFolder each), {a.idle} connections, one worker")
    for kind, (before, after) in idle.items():
        print(f"  {kind:<6} RSS {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB: "
              f"{(after - before) / a.idle:.1f} KiB per connection")
    if streams is not None:
        before, after, refused = streams
        live = max(1, a.streams - refused)
        print(f"\nMemory per streaming subscription (Subscribe + GetStreamingEvents held open on its own TLS "
              f"connection), {a.streams} asked, {refused} refused, one worker")
        print(f"  RSS {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB: {(after - before) / live:.1f} KiB per "
              "subscription (its connection included)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--imap-conns", type=int, default=4)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--streams", type=int, default=200)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
