"""Radicale (GPL-3.0) CalDAV/CardDAV server as a CHILD PROCESS.

Radicale is never imported here: it runs as ``python -m radicale`` with every
setting on the command line, so the gateway and Radicale only share HTTP.

Settings (backends.md section 3):
  --config (no files)        ignore /etc/radicale/config and ~/.config
  auth htpasswd, sha512      SHA-512-crypt; verified by Radicale's own passlib
                             dependency with no extra package (bcrypt and argon2
                             need extras; 3.9's default auth is denyall)
  auth cache_logins          a login is verified once, not on every request
  rights owner_write         users write their own collections and can read
                             others' (the gateway assembles free/busy itself:
                             Radicale has no RFC 6638 scheduling)
  storage under data_dir     absolute path: relative ones resolve against the CWD
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Sequence

from .trusted import GatewayTrust
from .users import DemoUser

# Well above glibc's default of 5000; passlib's pure-Python backend needs
# ~65 ms per verify at this count and Radicale caches the result.
SHA512_ROUNDS = 100_000
STOP_TIMEOUT = 5.0
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)   # backoff while the child keeps dying
STABLE_SECONDS = 60.0          # up this long: the next death starts the backoff again

log = logging.getLogger(__name__)


def _sha512_crypt(password: str) -> str:
    # passlib (libpass, BSD) is installed with Radicale; the hash format is
    # the one htpasswd -5 writes.
    from passlib.hash import sha512_crypt
    return sha512_crypt.using(rounds=SHA512_ROUNDS).hash(password)


def _sha512_verify(password: str, digest: str) -> bool:
    from passlib.hash import sha512_crypt
    try:
        return bool(sha512_crypt.verify(password, digest))
    except ValueError:
        return False


def write_htpasswd(path: Path, users: Sequence[DemoUser]) -> list[str]:
    """Keep entries that still verify, (re)hash the rest; returns the logins
    rewritten. Never stores a plain password."""
    old: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            login, sep, digest = line.partition(":")
            if sep:
                old[login] = digest
    changed = []
    out = dict(old)
    for user in users:
        digest = old.get(user.login)
        if digest is None or not _sha512_verify(user.password, digest):
            out[user.login] = _sha512_crypt(user.password)
            changed.append(user.login)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(f"{login}:{digest}\n" for login, digest in out.items())
    os.replace(tmp, path)
    return changed


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux
    prctl PR_SET_PDEATHSIG), so a killed gateway leaves no Radicale behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass


class EmbeddedDav:
    """Radicale child process serving ``users`` from ``base_dir``."""

    def __init__(self, base_dir: Path, users: Sequence[DemoUser], host: str = "127.0.0.1",
                 port: int = 0, log_path: Path | None = None, start_timeout: float = 15.0,
                 trust: "GatewayTrust | None" = None):
        self.base_dir = Path(base_dir).resolve()
        self.trust = trust     # the gateway's proxy path (trusted.py, radicale_auth.py)
        self.users = list(users)
        self.host = host
        self.port = port
        self.log_path = log_path or self.base_dir / "radicale.log"
        self.start_timeout = start_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.state = "stopped"          # "up", "restarting", "stopped"
        self.restarts = 0
        self._supervisor: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def htpasswd_path(self) -> Path:
        return self.base_dir / "htpasswd"

    @property
    def collections_path(self) -> Path:
        return self.base_dir / "collections"

    def prepare(self) -> None:
        """Files only; safe to run in a worker thread."""
        self.collections_path.mkdir(parents=True, exist_ok=True)
        write_htpasswd(self.htpasswd_path, self.users)

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "radicale",
            "--config",  # no value: read no config file at all
            "--server-hosts", f"{self.host}:{port}",
            "--auth-type", "gateway.backends.embedded.radicale_auth" if self.trust else "htpasswd",
            "--auth-htpasswd-filename", str(self.htpasswd_path),
            "--auth-htpasswd-encryption", "sha512",
            "--auth-cache-logins", "True",
            "--auth-cache-successful-logins-expiry", "300",
            "--rights-type", "owner_write",
            "--storage-filesystem-folder", str(self.collections_path),
            "--logging-level", "warning",
        ]

    async def start(self) -> None:
        # Radicale cannot report the port of a port-0 bind, so a free port is
        # picked here; if another process takes it first, the child exits and
        # we try again with a new one.
        attempts = 1 if self.port else 3
        last_error = ""
        for _ in range(attempts):
            port = self.port or _free_port(self.host)
            if await self._spawn(port):
                self.port = port
                self.state = "up"
                if self._supervisor is None or self._supervisor.done():
                    self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
                return
            last_error = f"exit code {self.proc.returncode}" if self.proc.returncode is not None else "timeout"
            await self._kill()
        raise RuntimeError(f"Radicale did not start ({last_error}); see {self.log_path}")

    async def _spawn(self, port: int) -> bool:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = None
        if self.trust is not None:
            from .trusted import SECRET_ENV, USER_ENV
            env = {**os.environ, SECRET_ENV: self.trust.secret, USER_ENV: self.trust.user}
        with open(self.log_path, "ab") as log_file:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command(port), stdin=asyncio.subprocess.DEVNULL, env=env,
                stdout=log_file, stderr=log_file, start_new_session=True,
                preexec_fn=_die_with_parent)
        return await self._wait_ready(port)

    async def _supervise(self) -> None:
        """Restart the child when it dies, on the same port (clients hold the URL), with backoff."""
        failures = 0
        while True:
            proc = self.proc
            if proc is None:
                return
            started = time.monotonic()
            code = await proc.wait()
            if self.proc is not proc or self.state == "stopped":
                return                          # stop() ended it
            if time.monotonic() - started > STABLE_SECONDS:
                failures = 0
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            self.state = "restarting"
            log.error("embedded Radicale (CalDAV/CardDAV) exited with code %s; restarting in %.0f s (see %s)",
                      code, delay, self.log_path)
            await asyncio.sleep(delay)
            if self.state == "stopped":
                return
            if await self._spawn(self.port):
                self.restarts += 1
                self.state = "up"
                log.warning("embedded Radicale restarted on %s (restart %d)", self.url, self.restarts)
            else:
                failures += 1
                await self._kill()
                self.proc = proc            # still dead: the next round waits on it at once

    async def _wait_ready(self, port: int) -> bool:
        """Ready when an HTTP request gets any answer (401 without credentials)."""
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                return False
            try:
                reader, writer = await asyncio.open_connection(self.host, port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            try:
                writer.write(b"OPTIONS / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), timeout=5)
            except (OSError, asyncio.TimeoutError):
                status = b""
            finally:
                writer.close()
            if status.startswith(b"HTTP/"):
                return True
            await asyncio.sleep(0.02)
        return False

    async def stop(self) -> None:
        self.state = "stopped"
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        await self._kill()

    async def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        # The child leads its own session (start_new_session): signal the group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            await asyncio.wait_for(proc.wait(), timeout=STOP_TIMEOUT)
        except asyncio.TimeoutError:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()
