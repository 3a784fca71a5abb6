"""Throwaway Radicale, OpenLDAP slapd and aiosmtpd servers for the backend client tests.

Self-contained on purpose (the shared fixtures in tests/conftest.py may replace
it later): each server gets a temp dir and a free 127.0.0.1 port, is started by
us and stopped by its own pid.

Radicale is GPL-3.0, so it only ever runs as a child process (`python -m
radicale`); nothing here imports it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIRECTORY_LDIF = REPO / "fixtures" / "directory.ldif"

DAV_USERS = {"alice": "alicepw", "bob": "bobpw"}

LDAP_BASE = "dc=example,dc=test"
LDAP_ADMIN_DN = "cn=admin,dc=example,dc=test"
LDAP_ADMIN_PW = "adminpw"


def free_port() -> int:
    """A port the kernel just handed out; the tiny race with other tests is accepted."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


# ---------------------------------------------------------------- Radicale

@dataclass
class RadicaleServer:
    root: Path
    port: int
    proc: subprocess.Popen
    users: dict[str, str] = field(default_factory=lambda: dict(DAV_USERS))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_radicale(users: dict[str, str] | None = None) -> RadicaleServer:
    users = dict(users or DAV_USERS)
    root = Path(tempfile.mkdtemp(prefix="exgate-radicale-"))
    (root / "collections").mkdir()
    htpasswd = root / "users"
    htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    # Radicale 3.9 defaults to auth "denyall"; relative paths resolve against the
    # CWD, so every path goes on the command line as an absolute path.
    config = root / "radicale.conf"
    config.write_text(
        "[auth]\ntype = htpasswd\nhtpasswd_encryption = plain\ndelay = 0\n"
        "[rights]\ntype = owner_only\n"
        "[storage]\ntype = multifilesystem\n"
        "[logging]\nlevel = warning\n"
    )
    port = free_port()
    cmd = [
        sys.executable, "-m", "radicale",
        "--config", str(config),
        "--server-hosts", f"127.0.0.1:{port}",
        "--auth-htpasswd-filename", str(htpasswd),
        "--storage-filesystem-folder", str(root / "collections"),
    ]
    log = open(root / "radicale.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        wait_port(port, proc)
    except Exception:
        proc.kill()
        proc.wait()
        print((root / "radicale.log").read_text(errors="replace"), file=sys.stderr)
        raise
    return RadicaleServer(root, port, proc, users)


# ---------------------------------------------------------------- OpenLDAP slapd

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema

pidfile {root}/slapd.pid
argsfile {root}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
sizelimit unlimited

database mdb
maxsize 33554432
suffix "{base}"
rootdn "{admin}"
rootpw {adminpw}
directory {root}/data
index objectClass eq
index uid,mail,cn eq,sub
overlay memberof

# users may read everything except passwords, and bind with their own
access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
access to *
    by * read
"""


@dataclass
class SlapdServer:
    root: Path
    port: int
    base_dn: str = LDAP_BASE
    admin_dn: str = LDAP_ADMIN_DN
    admin_password: str = LDAP_ADMIN_PW

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        try:
            return int((self.root / "slapd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def start_slapd(ldif: Path = DIRECTORY_LDIF) -> SlapdServer:
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    root = Path(tempfile.mkdtemp(prefix="exgate-slapd-"))
    (root / "data").mkdir()
    conf = root / "slapd.conf"
    conf.write_text(SLAPD_CONF.format(root=root, base=LDAP_BASE, admin=LDAP_ADMIN_DN,
                                      adminpw=LDAP_ADMIN_PW))
    port = free_port()
    server = SlapdServer(root, port)
    # slapd forks into the background and writes its pid file.
    subprocess.run([slapd, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/"],
                   check=True, capture_output=True, timeout=30)
    try:
        wait_port(port)
        # Loaded online (not slapadd) so the memberof overlay computes memberOf.
        subprocess.run(["ldapadd", "-x", "-H", server.url, "-D", LDAP_ADMIN_DN,
                        "-w", LDAP_ADMIN_PW, "-f", str(ldif)],
                       check=True, capture_output=True, timeout=30)
    except Exception:
        server.stop()
        raise
    return server


# ---------------------------------------------------------------- aiosmtpd sink

@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class SinkHandler:
    """Keeps every message; refuses recipients in refused domains like a real MTA."""

    def __init__(self, refused_domain: str = "refused.test", tempfail_domain: str = "later.test"):
        self.messages: list[ReceivedMail] = []
        self.refused_domain = refused_domain
        self.tempfail_domain = tempfail_domain

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        if domain == self.refused_domain:
            return "550 5.7.1 Relaying denied for " + address
        if domain == self.tempfail_domain:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    controller: object
    handler: SinkHandler
    port: int

    def stop(self) -> None:
        self.controller.stop()


def start_smtp_sink(*, auth: dict[str, str] | None = None) -> SmtpSink:
    from aiosmtpd.controller import Controller

    handler = SinkHandler()
    port = free_port()
    kwargs: dict = {}
    if auth:
        def authenticator(server, session, envelope, mechanism, auth_data):
            from aiosmtpd.smtp import AuthResult, LoginPassword
            ok = (isinstance(auth_data, LoginPassword)
                  and auth.get(auth_data.login.decode()) == auth_data.password.decode())
            # handled=False: let aiosmtpd send its 535 (the default True means "already answered")
            return AuthResult(success=ok, handled=False)
        kwargs.update(authenticator=authenticator, auth_require_tls=False)
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return SmtpSink(controller, handler, port)
