"""`exgate serve --workers N`: N worker processes on one port, and the parent that keeps them running.

The gateway is one asyncio loop per process; it scales over cores by running several. The parent checks
the configuration and the servers once, migrates the state database, makes the self-signed certificate
(so the workers do not race to write it), then starts N copies of `exgate serve ... --worker i`. Each
worker runs the whole app and listens on the same host:port with SO_REUSEPORT: the kernel spreads new
connections over the workers, and a connection stays on the worker that accepted it.

The parent supervises: a worker that exits is started again (after 0.5 s, longer when it keeps dying
at once); SIGTERM or SIGINT to the parent sends SIGTERM to every worker, waits for them (SIGKILL after
STOP_SECONDS) and exits 0.

What is shared and what is not:
- Ids, change numbers, the table index, the Outbox queue: the PostgreSQL state database. Several workers
  need it: `[state] dsn = "postgresql://..."`. With SQLite they are refused: SQLite would work across
  processes, but one file lock serializes every worker's writes (a folder sync of one user stalls the
  writes of all the others), and it has no LISTEN/NOTIFY, so a change written through one worker would
  not wake the notification subscribers held by another (gateway/store/state/wakeups.py).
- MAPI/HTTP Session Contexts live in the worker that answered Connect/Bind; their MapiContext cookie
  names it (``w<n>-...``), and each worker also listens on a private Unix socket,
  ``<data dir>/run/worker-<n>.sock``, where the other workers forward the requests for its sessions
  (gateway/http/forward.py). A dead worker's sessions are gone: Context Not Found, Outlook connects again.
- EWS subscriptions live in the worker that created them. A request for a subscription that another
  worker holds answers ErrorSubscriptionNotFound; clients subscribe again (README, "Several workers and
  several gateways").
- Jobs of their own in each worker: the Outbox retry worker (every worker runs one; a queued message is
  claimed by one of them and locked for its whole try, gateway/store/outbox.py), the expired-subscription
  sweep and the stalled-connection sweep (both about the worker's own subscriptions and connections).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("exgate.workers")

STOP_SECONDS = 15.0
READY_SECONDS = 120.0
QUICK_EXIT_SECONDS = 5.0       # a worker that dies sooner than this after its start is restarted more slowly
MAX_BACKOFF = 30.0
READY_LINE = "exgate is serving at "


class WorkersError(ValueError):
    pass


def worker_count(value) -> int:
    """``[http] workers`` / ``--workers``: a number >= 0, or "auto"; 0 and "auto" mean one per CPU."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v == "auto":
            value = 0
        else:
            try:
                value = int(v)
            except ValueError:
                raise WorkersError(f"should be a number or \"auto\", not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WorkersError(f"should be a number >= 0 or \"auto\", not {value!r}")
    if value == 0:
        try:
            value = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            value = os.cpu_count() or 1
    return value


def sqlite_refusal(workers: int, dsn: str) -> str | None:
    if workers > 1 and not str(dsn).startswith(("postgresql://", "postgres://", "host=")):
        return (f"{workers} workers need a PostgreSQL state database: set [state] dsn = \"postgresql://...\" "
                "(SQLite would serialize every worker's writes on one file lock, and could not wake one "
                "worker's notification subscribers of a change made through another)")
    return None


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the worker, before it runs: SIGTERM when the parent dies, even by SIGKILL (Linux prctl)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)    # PR_SET_PDEATHSIG
    except (OSError, AttributeError):   # pragma: no cover - not Linux
        pass


@dataclass
class Worker:
    number: int
    proc: asyncio.subprocess.Process | None = None
    started: float = 0.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    backoff: float = 0.5
    reader: asyncio.Task | None = None


class Supervisor:
    def __init__(self, argv: list[str], count: int):
        self.argv = argv              # the worker's command line, without "--worker N"
        self.workers = [Worker(i + 1) for i in range(count)]
        self.stopping = asyncio.Event()
        self.restarts = 0

    async def _spawn(self, w: Worker) -> None:
        w.ready = asyncio.Event()
        w.proc = await asyncio.create_subprocess_exec(*self.argv, "--worker", str(w.number),
                                                      stdout=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent)
        w.started = time.monotonic()
        w.reader = asyncio.create_task(self._read(w, w.proc))

    async def _read(self, w: Worker, proc) -> None:
        """The worker's standard output, passed on; its ready line sets ``ready``."""
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\n")
            if text.startswith(READY_LINE):
                w.ready.set()
                continue
            print(f"[worker {w.number}] {text}", flush=True)

    async def start(self) -> str | None:
        """Start every worker and wait until each listens; a problem text when one ended first."""
        for w in self.workers:
            await self._spawn(w)
        for w in self.workers:
            waiter = asyncio.create_task(w.ready.wait())
            ended = asyncio.create_task(w.proc.wait())
            done, _ = await asyncio.wait([waiter, ended], timeout=READY_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            ended.cancel()
            if not w.ready.is_set():
                code = w.proc.returncode
                return (f"worker {w.number} ended with code {code} before it listened" if code is not None
                        else f"worker {w.number} did not listen within {READY_SECONDS:.0f} s")
        return None

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc is not None]

    async def supervise(self) -> None:
        """Restart workers that exit, until ``stopping`` is set."""
        waits = {asyncio.create_task(w.proc.wait()): w for w in self.workers}
        stop = asyncio.create_task(self.stopping.wait())
        while True:
            done, _ = await asyncio.wait([stop, *waits], return_when=asyncio.FIRST_COMPLETED)
            if stop in done:
                for t in waits:
                    t.cancel()
                return
            for t in done:
                w = waits.pop(t)
                code = w.proc.returncode
                quick = time.monotonic() - w.started < QUICK_EXIT_SECONDS
                w.backoff = min(w.backoff * 2, MAX_BACKOFF) if quick else 0.5
                log.warning("worker %d (pid %d) exited with code %s; starting it again in %.1f s",
                            w.number, w.proc.pid, code, w.backoff)
                try:
                    await asyncio.wait_for(self.stopping.wait(), w.backoff)
                    return
                except asyncio.TimeoutError:
                    pass
                await self._spawn(w)
                self.restarts += 1
                print(f"exgate: worker {w.number} restarted as pid {w.proc.pid}", flush=True)
                waits[asyncio.create_task(w.proc.wait())] = w

    async def stop(self) -> None:
        procs = [w.proc for w in self.workers if w.proc is not None and w.proc.returncode is None]
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        if procs:
            _, pending = await asyncio.wait([asyncio.create_task(p.wait()) for p in procs], timeout=STOP_SECONDS)
            for p in procs:
                if p.returncode is None:
                    log.warning("worker pid %d did not stop in %.0f s: killed", p.pid, STOP_SECONDS)
                    try:
                        p.kill()
                    except ProcessLookupError:
                        pass
            if pending:
                await asyncio.wait(pending, timeout=5)
        for w in self.workers:
            if w.reader is not None:
                await asyncio.wait([w.reader], timeout=2)


def prepare(cfg, data_dir: Path) -> None:
    """What the workers would otherwise race for: the state schema and the self-signed certificate."""
    from gateway.http import tls
    from gateway.store.state.db import StateDB
    StateDB.open(cfg.state.dsn).close()
    hc = cfg.http
    if hc.tls and not hc.cert_file:
        tls.ensure_self_signed(data_dir / "tls" / "exgate.crt", data_dir / "tls" / "exgate.key",
                               tls.names_for(hc.host, hc.public_url))


async def run(cfg, args, count: int) -> int:
    """The parent of ``count`` workers (the configuration and the servers are already checked)."""
    data_dir = Path(args.data_dir).resolve()
    prepare(cfg, data_dir)
    port = cfg.http.port or free_port(cfg.http.host)
    argv = [sys.executable, "-m", "gateway.cli", *(["-v"] if args.verbose else []), "serve", "-c", args.config,
            "--host", cfg.http.host, "--port", str(port), "--data-dir", str(data_dir)]
    sup = Supervisor(argv, count)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, sup.stopping.set)
        except NotImplementedError:  # pragma: no cover - non-Unix
            pass
    try:
        problem = await sup.start()
        if problem is not None:
            print(f"exgate: not started: {problem}", file=sys.stderr, flush=True)
            return 2
        scheme = "https" if cfg.http.tls else "http"
        print(f"exgate is serving at {scheme}://{cfg.http.host}:{port} with {count} workers "
              f"(pids {' '.join(map(str, sup.pids()))})", flush=True)
        await sup.supervise()
        return 0
    finally:
        await sup.stop()
