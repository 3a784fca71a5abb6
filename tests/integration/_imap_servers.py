"""Throwaway IMAP servers for the IMAP client tests: Dovecot 2.3 and pymap.

Self-contained on purpose (the shared fixtures in tests/conftest.py can replace
it later): each server gets a temp dir and a free port on 127.0.0.1, and is
stopped by the PID we started. Settings follow shared/reference/backends.md.
"""
from __future__ import annotations

import atexit
import ctypes
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

USERS = {"alice": "alicepw", "bob": "bobpw"}
MASTER = ("postmaster", "masterpw")


@dataclass
class ImapServer:
    kind: str                  # "dovecot" or "pymap"
    host: str
    port: int
    root: Path
    users: dict[str, str]
    master: tuple[str, str] | None
    proc: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        if self in _RUNNING:
            _RUNNING.remove(self)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)


_RUNNING: list["ImapServer"] = []


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


def _die_with_parent() -> None:
    # Linux prctl(PR_SET_PDEATHSIG, SIGTERM): a server whose test process was
    # killed without teardown stops too, instead of lingering.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_greeting(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no IMAP greeting on port {port}")


_DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
auth_master_user_separator = *
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 0
first_valid_gid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/master.passwd
  master = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users.passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%n
}}
mail_location = maildir:~/Maildir
mail_attribute_dict = file:%h/dovecot-attributes
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}
protocol imap {{
  imap_metadata = yes
  mail_max_userip_connections = 100
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
"""


def start_dovecot(users: dict[str, str] = USERS, master: tuple[str, str] = MASTER) -> ImapServer:
    """Start `dovecot -F` in a temp dir; as root, everything runs as nobody."""
    root = Path(tempfile.mkdtemp(prefix="exgate-imapclient-dovecot-"))
    if os.geteuid() == 0:
        user, group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
    else:
        user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    for sub in ("run", "state", "home"):
        (root / sub).mkdir()
    (root / "users.passwd").write_text("".join(f"{u}:{p}::::::\n" for u, p in users.items()))
    (root / "master.passwd").write_text(f"{master[0]}:{master[1]}::::::\n")
    last_error: Exception | None = None
    for _ in range(3):
        port = free_port()
        (root / "dovecot.conf").write_text(_DOVECOT_CONF.format(root=root, user=user, group=group, port=port))
        if os.geteuid() == 0:
            uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
            for dirpath, _dirs, files in os.walk(root):
                os.chown(dirpath, uid, gid)
                for f in files:
                    os.chown(os.path.join(dirpath, f), uid, gid)
            os.chmod(root, 0o755)
        log = open(root / "stderr.log", "wb")
        proc = subprocess.Popen(["dovecot", "-F", "-c", str(root / "dovecot.conf")],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                preexec_fn=_die_with_parent)
        log.close()
        try:
            _wait_greeting(port, proc)
        except RuntimeError as exc:
            last_error = exc
            if proc.poll() is None:
                proc.terminate()
                proc.wait(5)
            continue
        server = ImapServer("dovecot", "127.0.0.1", port, root, dict(users), master, proc)
        _RUNNING.append(server)
        return server
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"dovecot did not start: {last_error}")


def start_pymap(users: dict[str, str] = USERS) -> ImapServer:
    """Start pymap (maildir backend) as a child process in a temp dir."""
    from pysasl.hashing import BuiltinHash  # pymap's own dependency

    root = Path(tempfile.mkdtemp(prefix="exgate-imapclient-pymap-"))
    hasher = BuiltinHash()
    (root / "pymap-etc-passwd").write_text(
        "".join(f"{u}:x:1000:1000::{u}:\n" for u in users))
    (root / "pymap-etc-shadow").write_text(
        "".join(f"{u}:{hasher.hash(p)}:::::::\n" for u, p in users.items()))
    (root / "pymap-etc-group").write_text("")
    env = dict(os.environ, FQDN="localhost")
    last_error: Exception | None = None
    for _ in range(3):
        port = free_port()
        log = open(root / "pymap.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from pymap.main import main; sys.exit(main())",
             "--host", "127.0.0.1", "--port", str(port), "--no-tls", "--no-service", "admin",
             "maildir", str(root)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, preexec_fn=_die_with_parent)
        log.close()
        try:
            _wait_greeting(port, proc, timeout=20)
        except RuntimeError as exc:
            last_error = exc
            if proc.poll() is None:
                proc.terminate()
                proc.wait(5)
            continue
        server = ImapServer("pymap", "127.0.0.1", port, root, dict(users), None, proc)
        _RUNNING.append(server)
        return server
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"pymap did not start: {last_error}")


if __name__ == "__main__":  # manual use: print ports until Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # atexit then stops both
    servers = [start_dovecot(), start_pymap()]
    for s in servers:
        print(s.kind, s.host, s.port, s.root, flush=True)
    while True:
        time.sleep(3600)
