"""Soak: N EWS clients against `exgate demo` for a while; memory, errors and latency, printed.

Starts `exgate demo` as a child process (its own data dir, a free port) and
runs N clients in this process, each signed in as one of the demo users with
Basic over HTTPS on its own keep-alive connection, looping over what a mail
client does: GetFolder of the inbox, a FindItem page, GetItem of one item,
and now and then CreateItem + DeleteItem of a draft. Every 10 s it samples
the gateway process's resident memory (its whole process group: the gateway
and the Radicale child) and prints the counts so far.

At the end it prints requests, errors (HTTP status other than 200 or a
ResponseClass="Error" answer, with the first few shown), p50/p95/p99
latency, and memory at the start (after warm-up), in the middle and at the
end. Nothing is asserted: the figures are for reading.

    python bench/soak.py [--clients 50] [--seconds 600]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]

ENVELOPE = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header>'
            '<t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header><soap:Body>{}</soap:Body>'
            '</soap:Envelope>')
GET_INBOX = ('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>'
             '<t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')
FIND_PAGE = ('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>'
             '<m:IndexedPageItemView MaxEntriesReturned="25" Offset="0" BasePoint="Beginning"/>'
             '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>')
GET_ITEM = ('<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds>'
            '<t:ItemId Id="{}"/></m:ItemIds></m:GetItem>')
CREATE_DRAFT = ('<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId '
                'Id="drafts"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>soak {}</t:Subject>'
                '<t:Body BodyType="Text">soak</t:Body></t:Message></m:Items></m:CreateItem>')
DELETE = ('<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:DeleteItem>')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pgid: int) -> int:
    """Resident memory of every process in the group (the gateway and its Radicale child)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


class Stats:
    def __init__(self):
        self.latencies: list[float] = []
        self.requests = 0
        self.errors: list[str] = []

    def error(self, what: str) -> None:
        self.errors.append(what)


async def client(n: int, base: str, users: list[dict], ctx: ssl.SSLContext, stats: Stats, until: float) -> None:
    user = users[n % len(users)]
    auth = "Basic " + base64.b64encode(f"{user['email']}:{user['password']}".encode()).decode()
    headers = {"Content-Type": "text/xml; charset=utf-8", "Authorization": auth}
    conn = aiohttp.TCPConnector(ssl=ctx, limit=1)
    rnd = random.Random(n)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as http:
        async def call(body: str, op: str) -> str:
            t0 = time.perf_counter()
            try:
                async with http.post(base + "/EWS/Exchange.asmx", data=ENVELOPE.format(body).encode(),
                                     headers=headers) as r:
                    text = await r.text()
                    status = r.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                stats.requests += 1
                stats.error(f"{op}: {type(exc).__name__} {exc}")
                return ""
            stats.latencies.append(time.perf_counter() - t0)
            stats.requests += 1
            if status != 200 or 'ResponseClass="Error"' in text:
                code = text.split("<m:ResponseCode>")[1].split("<")[0] if "<m:ResponseCode>" in text else ""
                stats.error(f"{op}: HTTP {status} {code}")
            return text

        while time.monotonic() < until:
            await call(GET_INBOX, "GetFolder")
            page = await call(FIND_PAGE, "FindItem")
            ids = [chunk.split('"')[0] for chunk in page.split('<t:ItemId Id="')[1:]]
            if ids:
                await call(GET_ITEM.format(rnd.choice(ids)), "GetItem")
            if rnd.random() < 0.1:
                made = await call(CREATE_DRAFT.format(n), "CreateItem")
                if '<t:ItemId Id="' in made:
                    await call(DELETE.format(made.split('<t:ItemId Id="')[1].split('"')[0]), "DeleteItem")
            await asyncio.sleep(rnd.uniform(0.2, 1.0))     # a person's pace, not a flood


async def main(clients: int, seconds: float) -> None:
    data = Path(tempfile.mkdtemp(prefix="exgate-soak-"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "demo", "--port", str(port), "--data-dir",
                             str(data)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(data / "demo.log", "wb"),
                            start_new_session=True)
    try:
        while not (data / "demo.json").exists():
            if proc.poll() is not None:
                raise SystemExit(f"exgate demo exited; see {data / 'demo.log'}")
            await asyncio.sleep(0.2)
        info = json.loads((data / "demo.json").read_text())
        ctx = ssl.create_default_context(cafile=info["tls_certificate"])
        stats = Stats()
        warmup = time.monotonic() + 20
        until = warmup + seconds
        tasks = [asyncio.create_task(client(i, info["base_url"], info["users"], ctx, stats, until))
                 for i in range(clients)]
        samples: list[tuple[float, int]] = []
        start = time.monotonic()
        while time.monotonic() < until:
            await asyncio.sleep(10)
            elapsed = time.monotonic() - start
            rss = rss_kib(proc.pid)
            samples.append((elapsed, rss))
            print(f"  {elapsed:6.0f} s  requests {stats.requests:7d}  errors {len(stats.errors):5d}  "
                  f"rss {rss / 1024:7.1f} MiB", flush=True)
        await asyncio.gather(*tasks)
        after = [s for s in samples if s[0] >= 20] or samples
        lat = sorted(stats.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
        print(f"\nsoak: {clients} clients, {seconds:.0f} s after a 20 s warm-up, exgate demo at {info['base_url']}")
        print(f"requests {stats.requests}, {stats.requests / (seconds + 20):.1f}/s; errors {len(stats.errors)}")
        for e in stats.errors[:10]:
            print(f"  error: {e}")
        print(f"latency ms: p50 {pct(0.5):.0f}, p95 {pct(0.95):.0f}, p99 {pct(0.99):.0f}, "
              f"mean {statistics.fmean(lat) * 1000 if lat else float('nan'):.0f}")
        if after:
            first, mid, last = after[0][1], after[len(after) // 2][1], after[-1][1]
            print(f"memory (gateway + Radicale child, RSS): after warm-up {first / 1024:.1f} MiB, middle "
                  f"{mid / 1024:.1f} MiB, end {last / 1024:.1f} MiB ({(last - first) / 1024:+.1f} MiB)")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=600.0)
    a = ap.parse_args()
    asyncio.run(main(a.clients, a.seconds))
