"""Soak: N EWS clients against `exgate demo` for a while; memory, errors and latency, printed.

Starts `exgate demo` as a child process (its own data dir, a free port) and
runs N clients in this process, each signed in as one of the demo users with
Basic over HTTPS on its own keep-alive connection, looping over what a mail
client does: GetFolder of the inbox, a FindItem page, GetItem of one item,
and now and then CreateItem + DeleteItem of a draft. Every 10 s it samples
the resident memory of the gateway process and of its Radicale child (which
runs in a session of its own) and prints the counts so far.

At the end it prints requests, errors (HTTP status other than 200 or a
ResponseClass="Error" answer, with the first few shown), p50/p95/p99
latency, a table of each process's resident memory minute by minute, and the
change and least-squares slope of each over the first and the second half of
the run (the first half holds the warm-up growth: thread pools, caches,
allocator arenas filling; a leak shows as a second-half slope that stays
up). Nothing is asserted: the figures are for reading.

--probe runs the gateway under bench/memprobe.py, which logs malloc, heap,
thread, fd and task figures from inside it (printed at the end) and calls
malloc_trim(0) once shortly before the end (MEMPROBE_TRIM_AT=0: never), so
the last samples then show what trimming gave back.

    python bench/soak.py [--clients 50] [--seconds 600] [--probe]
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


def rss_by_process(root: int) -> dict[str, int]:
    """Resident memory (KiB) of the gateway process and of its descendants, by name: "gateway" (it runs
    the gateway, pymap and the SMTP server in-process) and "radicale" (a child in a session of its own,
    so not in the gateway's process group: found by parent pid)."""
    parent: dict[int, int] = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                parent[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    family, grew = {root}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in family} - family
        family |= more
        grew = bool(more)
    out: dict[str, int] = {}
    for pid in family:
        try:
            if pid == root:
                name = "gateway"
            else:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                name = "radicale" if any(b"radicale" in c for c in cmd) else f"child {pid}"
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[name] = out.get(name, 0) + int(line.split()[1])
        except (OSError, ValueError):
            continue
    return out


def slope_mib_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, KiB) samples, in MiB per minute."""
    if len(samples) < 2:
        return float("nan")
    mx = statistics.fmean(t for t, _ in samples)
    my = statistics.fmean(v for _, v in samples)
    den = sum((t - mx) ** 2 for t, _ in samples)
    return sum((t - mx) * (v - my) for t, v in samples) / den * 60 / 1024 if den else float("nan")


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


def print_probe(log: Path) -> None:
    """The gateway's own figures from bench/memprobe.py: malloc in use and free, the main heap, threads."""
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    recs = [r for r in recs if "malloc" in r]
    print(f"\ninside the gateway (bench/memprobe.py, {log}), MiB:")
    print("       s     rss    heap  malloc in use  malloc free  mmapped  threads  fds  tasks")
    for r in recs:
        m = r["malloc"]
        print(f"  {r['t']:6d}  {r['VmRSS'] / 1024:6.1f}  {r['heap'] / 1024:6.1f}  {m['uordblks'] / 1024:13.1f}  "
              f"{m['fordblks'] / 1024:11.1f}  {m['hblkhd'] / 1024:7.1f}  {r['Threads']:7d}  {r['fds']:3d}  "
              f"{r['tasks']:5d}")
        if "trim" in r:
            t = r["trim"]
            print(f"          malloc_trim(0): rss {t['before'] / 1024:.1f} -> {t['after'] / 1024:.1f} "
                  f"(the samples below are after it)")


async def main(clients: int, seconds: float, probe: bool) -> None:
    data = Path(tempfile.mkdtemp(prefix="exgate-soak-"))
    port = free_port()
    argv = ["demo", "--port", str(port), "--data-dir", str(data)]
    env = dict(os.environ)
    if probe:
        env.setdefault("MEMPROBE_LOG", str(data / "memprobe.jsonl"))
        env.setdefault("MEMPROBE_TRIM_AT", str(max(30.0, seconds + 20 - 45)))
        cmd = [sys.executable, str(ROOT / "bench" / "memprobe.py"), *argv]
    else:
        cmd = [sys.executable, "-m", "gateway.cli", *argv]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(data / "demo.log", "wb"),
                            start_new_session=True, env=env)
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
        samples: list[tuple[float, dict[str, int]]] = []
        start = time.monotonic()
        while time.monotonic() < until:
            await asyncio.sleep(10)
            if time.monotonic() > until:
                break           # the clients are closing their connections (and TLS buffers): not a sample
            elapsed = time.monotonic() - start
            rss = rss_by_process(proc.pid)
            samples.append((elapsed, rss))
            parts = "  ".join(f"{k} {v / 1024:6.1f}" for k, v in sorted(rss.items()))
            print(f"  {elapsed:6.0f} s  requests {stats.requests:7d}  errors {len(stats.errors):5d}  "
                  f"rss MiB: total {sum(rss.values()) / 1024:6.1f}  {parts}", flush=True)
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
            names = sorted({k for _, r in after for k in r})
            series = {k: [(t, r.get(k, 0)) for t, r in after] for k in names}
            series["total"] = [(t, sum(r.values())) for t, r in after]
            cols = [*names, "total"]
            print("\nresident memory, MiB, one line a minute (after the 20 s warm-up):")
            print("    min  " + "".join(f"{c:>10}" for c in cols))
            minute = -1
            for i, (t, _) in enumerate(after):
                m = int((t - after[0][0]) // 60)
                if m != minute or i == len(after) - 1:
                    minute = m
                    print(f"  {t / 60:5.1f}  " + "".join(f"{series[c][i][1] / 1024:10.1f}" for c in cols))
            half = after[0][0] + (after[-1][0] - after[0][0]) / 2
            print("\nchange and slope (least squares), MiB and MiB/min:")
            for c in cols:
                ser = series[c]
                first_half = [s for s in ser if s[0] <= half]
                second_half = [s for s in ser if s[0] >= half]
                print(f"  {c:>10}: {ser[0][1] / 1024:6.1f} -> {ser[-1][1] / 1024:6.1f} "
                      f"({(ser[-1][1] - ser[0][1]) / 1024:+.1f});  slope first half "
                      f"{slope_mib_per_min(first_half):+.3f}, second half {slope_mib_per_min(second_half):+.3f}")
        if probe:
            print_probe(Path(env["MEMPROBE_LOG"]))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--probe", action="store_true",
                    help="run the gateway under bench/memprobe.py, which logs its memory figures (malloc, heap, "
                         "threads, fds, tasks) to memprobe.jsonl in the data dir and calls malloc_trim(0) "
                         "once 10-40 s before the end")
    a = ap.parse_args()
    asyncio.run(main(a.clients, a.seconds, a.probe))
