"""A throwaway PostgreSQL cluster for the state database's PostgreSQL path.

initdb refuses to run as root, so as root the cluster belongs to the
`postgres` account (or nobody). Trust auth on 127.0.0.1 only; the unix
socket lives in the temp dir so it never meets a system cluster's.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from .common import (
    HOST,
    Running,
    ServerStartError,
    chown_tree,
    free_port,
    make_root,
    read_pidfile,
    record_pid,
    register,
    remove_root,
    run,
    service_account,
    stop_pid,
    wait_for_port,
)

DATABASE = "exgate_test"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresInfo:
    dsn: str
    host: str
    port: int
    database: str = DATABASE
    user: str = SUPERUSER
    root: Path | None = None


def find_pg_bin(name: str) -> str:
    """`name` from the newest /usr/lib/postgresql/*/bin, else from PATH."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if found is None:
        raise ServerStartError(f"postgres: {name} not found under /usr/lib/postgresql/*/bin or on PATH")
    return found


def start_postgres() -> Running[PostgresInfo]:
    initdb, pg_ctl, psql = find_pg_bin("initdb"), find_pg_bin("pg_ctl"), find_pg_bin("psql")
    root = make_root("postgres")
    account = service_account("postgres")
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    log = root / "postgres.log"
    log.touch()
    chown_tree(root, account)
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
    info = PostgresInfo(
        dsn=f"postgresql://{SUPERUSER}@{HOST}:{port}/{DATABASE}", host=HOST, port=port, root=root
    )
    pidfile = data / "postmaster.pid"

    def stop() -> None:
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is not None:
            # SIGQUIT is the postmaster's "immediate shutdown" (PostgreSQL
            # docs, 19.5 Shutting Down the Server): no shutdown checkpoint,
            # which is fine for a cluster that is deleted next.
            stop_pid(pid, sig=signal.SIGQUIT, timeout=15)
        remove_root(root)

    running = register(Running(info, stop))
    try:
        run(
            [initdb, "-D", str(data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
            what="initdb", log=log, account=account, env=env, timeout=120,
        )
        # fsync off: the cluster is thrown away, and it makes start/commits fast.
        opts = f"-h {HOST} -p {port} -k {sock} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run([pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
            what="pg_ctl start", log=log, account=account, env=env, timeout=90)
        record_pid(root, read_pidfile(pidfile))
        wait_for_port(port, what="postgres", log=log, timeout=30)
        run([psql, "-h", HOST, "-p", str(port), "-U", SUPERUSER, "-d", "postgres", "-v", "ON_ERROR_STOP=1",
             "-c", f"CREATE DATABASE {DATABASE}"],
            what="postgres: create database", log=log, env=env)
    except ServerStartError:
        running.stop()
        raise
    return running

