"""Postfix with a private `-c` config dir: SMTP in on 127.0.0.1, LMTP out to Dovecot.

Only example.test is delivered (virtual mailbox domain -> Dovecot LMTP);
every other destination goes to the `error:` transport, so nothing leaves the
machine. Postfix's master must run as root. backends.md section 5.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .common import (
    HOST,
    Running,
    ServerStartError,
    free_port,
    is_root,
    log_tail,
    make_root,
    pid_alive,
    record_pid,
    register,
    remove_root,
    stop_pid,
    wait_for_port,
)
from .dovecot import DovecotInfo

MAIL_DOMAIN = "example.test"


@dataclass(frozen=True)
class PostfixInfo:
    host: str
    port: int
    root: Path | None = None

    @property
    def maillog(self) -> Path:
        assert self.root is not None
        return self.root / "maillog"


def _main_cf(root: Path, lmtp_port: int) -> str:
    return f"""\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
# maillog_file outside /var needs its prefix allowed, else postfix is fatal.
maillog_file = {root}/maillog
maillog_file_prefixes = {root}

myhostname = mx.{MAIL_DOMAIN}
mydomain = {MAIL_DOMAIN}
myorigin = $mydomain
inet_interfaces = {HOST}
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
smtputf8_enable = no

virtual_mailbox_domains = {MAIL_DOMAIN}
virtual_transport = lmtp:inet:{HOST}:{lmtp_port}
# Nothing may leave this machine.
default_transport = error:outbound mail is disabled in tests
relay_transport = error:outbound mail is disabled in tests
local_transport = error:local delivery is disabled in tests

# Deliver at once; tests wait seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximum_backoff_time = 2s
"""


def _master_cf(smtp_port: int) -> str:
    # Written from scratch rather than copied: no chroot (the queue lives in a
    # temp dir), smtpd on our port only, and only the services we use.
    # service type private unpriv chroot wakeup maxproc command
    return f"""\
{HOST}:{smtp_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def start_postfix(dovecot: DovecotInfo) -> Running[PostfixInfo]:
    if not is_root():
        raise ServerStartError("postfix: the master daemon must be started as root")
    postfix = shutil.which("postfix") or "/usr/sbin/postfix"
    root = make_root("postfix")
    etc = root / "etc"
    for d in (etc, root / "spool", root / "data"):
        d.mkdir()
    port = free_port()
    (etc / "main.cf").write_text(_main_cf(root, dovecot.lmtp_port))
    (etc / "master.cf").write_text(_master_cf(port))
    log = root / "maillog"
    pidfile = root / "spool" / "pid" / "master.pid"
    logs = [log]
    info = PostfixInfo(host=HOST, port=port, root=root)

    def pf(*args: str, timeout: float = 60.0) -> None:
        cmd = [postfix, "-c", str(etc), *args]
        status, output = _run_on_pty(cmd, timeout)
        if status != 0:
            raise ServerStartError(f"postfix {args[0]}: {' '.join(cmd)} exited {status}\n{output}\n{log_tail(logs)}")

    def halt() -> None:
        pid = _master_pid(pidfile)
        try:
            subprocess.run(
                [postfix, "-c", str(etc), "stop"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
            )
        except subprocess.TimeoutExpired:
            pass
        if pid is not None:
            # `postfix stop` returns before the master has gone.
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            stop_pid(pid, timeout=5)

    def stop() -> None:
        halt()
        remove_root(root)

    def resume() -> None:
        pf("start")
        master = _master_pid(pidfile)
        if master is not None:
            record_pid(root, master)
        wait_for_port(port, what="postfix smtpd", log=logs, timeout=30)

    running = register(Running(info, stop, _pause=halt, _resume=resume))
    try:
        # set-permissions creates the queue tree with postfix/postdrop owners;
        # check then fails loudly on config errors (into the maillog, not stderr).
        pf("set-permissions", timeout=120)
        pf("check")
        pf("start")
        master = _master_pid(pidfile)
        if master is not None:
            record_pid(root, master)
        wait_for_port(port, what="postfix smtpd", log=logs, timeout=30)
    except ServerStartError:
        running.stop()
        raise
    return running


def _master_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _run_on_pty(cmd: list[str], timeout: float) -> tuple[int, str]:
    """Run a postfix command with a terminal as stdout/stderr.

    postfix(1) writes its fatal errors only to a tty or to the maillog
    (backends.md section 5); when the maillog itself is the problem, a pipe
    would get nothing. A pty gets the message either way.
    """
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, start_new_session=True)
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every writer has closed the terminal
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break  # exited and nothing left to read (a daemon may hold the pty)
            elif time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                chunks.append(f"\n(timed out after {timeout}s)".encode())
                break
    finally:
        os.close(master)
    return proc.wait(), b"".join(chunks).decode(errors="replace").replace("\r\n", "\n").strip()
