"""The default backends `exgate demo` starts after a plain `pip install`.

  IMAP      pymap maildir, in-process           (imap.py)
  CalDAV/   Radicale, child process             (dav.py)
  CardDAV
  SMTP      aiosmtpd, in-process                (smtp.py)

Everything lives under ``data_dir`` and survives a restart:
  data_dir/imap/       pymap users and maildirs
  data_dir/dav/        htpasswd and Radicale's collections
  data_dir/outbound/   mail for recipients outside the demo users
  data_dir/logs/       Radicale's log
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .dav import EmbeddedDav
from .imap import EmbeddedImap
from .smtp import EmbeddedSmtp
from .trusted import GatewayTrust
from .users import DemoUser

if TYPE_CHECKING:
    from gateway.config import Config

log = logging.getLogger(__name__)


class EmbeddedStack:
    """Start with ``await stack.start()`` (or ``async with``); ports 0 pick free ones."""

    def __init__(self, data_dir: Path, users: Sequence[DemoUser], host: str = "127.0.0.1",
                 imap_port: int = 0, dav_port: int = 0, smtp_port: int = 0,
                 fqdn: str = "localhost", trust: GatewayTrust | None = None):
        self.data_dir = Path(data_dir).resolve()
        # The gateway reaches both servers as any demo user with this per-run secret (trusted.py),
        # which is what sign-ins without a password (NTLM) need.
        self.trust = trust or GatewayTrust()
        self.users = list(users)
        self.host = host
        self.imap = EmbeddedImap(self.data_dir / "imap", self.users, host, imap_port, fqdn, trust=self.trust)
        self.dav = EmbeddedDav(self.data_dir / "dav", self.users, host, dav_port,
                               log_path=self.data_dir / "logs" / "radicale.log", trust=self.trust)
        self.smtp = EmbeddedSmtp(
            {u.email: self.imap.account(u.login).maildir for u in self.users},
            self.data_dir / "outbound", host, smtp_port, fqdn)
        self.started = False

    # Addresses, valid after start().
    @property
    def imap_host(self) -> str:
        return self.host

    @property
    def imap_port(self) -> int:
        return self.imap.port

    @property
    def dav_url(self) -> str:
        return self.dav.url

    @property
    def smtp_host(self) -> str:
        return self.host

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    def gateway_config(self, state_dsn: str, directory_file: Path | str | None = None) -> "Config":
        """The gateway's configuration in front of this stack, as `exgate demo` runs it: the backends are
        reached through the stack's per-run trusted login (trusted.py), so NTLM sign-ins, which bring no
        password, open mailboxes too; the directory is the LDIF file."""
        from gateway.config import Config, DavConfig, ImapConfig, LdapConfig, SmtpConfig, StateConfig

        from .users import DIRECTORY_LDIF
        return Config(
            domain=self.users[0].domain if self.users else "example.test",
            state=StateConfig(dsn=state_dsn),
            imap=ImapConfig(host=self.imap_host, port=self.imap_port, auth="master",
                            master_user=self.trust.user, master_password=self.trust.secret),
            dav=DavConfig(url=self.dav_url, auth="proxy", service_user=self.trust.user,
                          service_password=self.trust.secret, proxy_header="X-Remote-User"),
            ldap=LdapConfig(directory_file=str(directory_file or DIRECTORY_LDIF)),
            smtp=SmtpConfig(host=self.smtp_host, port=self.smtp_port),
        )

    @property
    def outbound_dir(self) -> Path:
        return self.data_dir / "outbound"

    def maildir(self, login: str) -> Path:
        return self.imap.account(login).maildir

    def user(self, login: str) -> DemoUser:
        for u in self.users:
            if u.login == login:
                return u
        raise KeyError(login)

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "outbound").mkdir(exist_ok=True)
        try:
            # Password hashing (files) runs in threads while Radicale boots.
            # Both halves finish before a failure is raised, so stop() below
            # never races a half that is still starting.
            results = await asyncio.gather(self._start_dav(), self._start_imap_smtp(),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        except BaseException:
            await self.stop()
            raise
        self.started = True
        log.info("embedded stack: imap %s:%d, dav %s, smtp %s:%d",
                 self.imap_host, self.imap_port, self.dav_url, self.smtp_host, self.smtp_port)

    async def _start_dav(self) -> None:
        await asyncio.to_thread(self.dav.prepare)
        await self.dav.start()

    async def _start_imap_smtp(self) -> None:
        await asyncio.to_thread(self.imap.prepare)
        await self.imap.start()
        await self.smtp.start()

    async def stop(self) -> None:
        self.started = False
        # Each stop is idempotent and safe on a part-started stack.
        for part in (self.smtp, self.imap, self.dav):
            try:
                await part.stop()
            except Exception:  # keep stopping the others
                log.exception("stopping %s failed", type(part).__name__)

    async def __aenter__(self) -> EmbeddedStack:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()
