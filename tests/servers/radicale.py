"""Radicale 3 (CalDAV/CardDAV) as a child process, authenticating against slapd.

Radicale 3.9 denies everyone by default, so auth is set explicitly. Relative
paths resolve against the CWD, hence the absolute paths on the command line
(backends.md section 3). Radicale is GPL-3.0: it runs as a separate process.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from .common import (
    HOST,
    Running,
    ServerStartError,
    free_port,
    make_root,
    record_pid,
    register,
    remove_root,
    spawn,
    stop_group,
    stop_process,
    wait_for_port,
)
from .slapd import DIRECTORY_USERS, SlapdInfo


@dataclass(frozen=True)
class RadicaleInfo:
    url: str
    users: dict[str, str] = field(default_factory=lambda: dict(DIRECTORY_USERS), hash=False)
    root: Path | None = None


def _radicale_conf(slapd: SlapdInfo) -> str:
    # Keys from radicale/config.py (3.9): [auth] ldap_*; the reader DN finds
    # the user's entry, then Radicale binds as that entry with the password.
    return f"""\
[server]
max_connections = 20

[auth]
type = ldap
ldap_uri = {slapd.url}
ldap_base = {slapd.people_dn}
ldap_reader_dn = {slapd.admin_dn}
ldap_secret = {slapd.admin_password}
ldap_filter = (uid={{0}})
# Wrong passwords are answered at once; the 1 s default only slows tests.
delay = 0

[rights]
type = owner_only

[storage]
type = multifilesystem

[logging]
level = info
mask_passwords = True
"""


def start_radicale(slapd: SlapdInfo) -> Running[RadicaleInfo]:
    root = make_root("radicale")
    collections = root / "collections"
    collections.mkdir()
    conf = root / "radicale.conf"
    conf.write_text(_radicale_conf(slapd))
    port = free_port()
    log = root / "radicale.log"
    cmd = [
        sys.executable,
        "-m",
        "radicale",
        "--config",
        str(conf),
        "--server-hosts",
        f"{HOST}:{port}",
        "--storage-filesystem-folder",
        str(collections),
    ]
    # Runs as the calling user: the interpreter may live where an
    # unprivileged account cannot read it (e.g. pyenv under /root).
    procs = [spawn(cmd, log=log, cwd=root)]
    record_pid(root, procs[0].pid)

    def stop() -> None:
        stop_process(procs[0])
        remove_root(root)

    def pause() -> None:
        stop_group(procs[0])

    def resume() -> None:
        procs[0] = spawn(cmd, log=log, cwd=root)
        record_pid(root, procs[0].pid)
        wait_for_port(port, what="radicale", log=log, proc=procs[0], timeout=30)

    running = register(Running(RadicaleInfo(url=f"http://{HOST}:{port}", root=root), stop,
                               _pause=pause, _resume=resume))
    try:
        wait_for_port(port, what="radicale", log=log, proc=procs[0], timeout=30)
    except ServerStartError:
        running.stop()
        raise
    return running
