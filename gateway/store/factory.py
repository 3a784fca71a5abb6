"""Open a user's mailbox: connect the backends as that user and hand them to the store."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.backends.base import BackendError, DirectoryClient
from gateway.config import Config

from .errors import AccessDenied, BackendUnavailable
from .mailbox import Mailbox, MailboxBackends
from .state.db import StateDB

if TYPE_CHECKING:
    from gateway.backends.sieve import ManageSieveClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credentials:
    login: str
    email: str
    display_name: str
    password: str | None = None    # None after NTLM: the backends are reached by master/proxy login


def directory_from_config(cfg: Config) -> DirectoryClient:
    if cfg.ldap.url:
        from gateway.backends.ldap import LdapDirectory
        return LdapDirectory(cfg.ldap.url, cfg.ldap.base_dn, bind_dn=cfg.ldap.bind_dn,
                             bind_password=cfg.ldap.bind_password)
    if cfg.ldap.directory_file:
        from gateway.backends.filedir import FileDirectory
        return FileDirectory(cfg.ldap.directory_file)
    raise BackendUnavailable("no directory configured: set [ldap] url or directory_file")


async def connect_backends(cfg: Config, cred: Credentials) -> MailboxBackends:
    from gateway.backends.dav import DavClient
    from gateway.backends.imap import connect as imap_connect
    from gateway.backends.smtp import SmtpSubmission

    ic = cfg.imap
    login = ic.login_format.format(login=cred.login, email=cred.email)
    try:
        if ic.auth == "master":
            imap = await imap_connect(ic.host, ic.port, ic.master_user, ic.master_password, tls=ic.tls,
                                      starttls=ic.starttls, authzid=login, poll_interval=ic.watch_poll_seconds)
        else:
            if cred.password is None:
                raise AccessDenied("IMAP pass-through needs the user's password; configure imap.auth = 'master'")
            imap = await imap_connect(ic.host, ic.port, login, cred.password, tls=ic.tls, starttls=ic.starttls,
                                      poll_interval=ic.watch_poll_seconds)
    except BackendError as exc:
        if exc.kind == "auth":
            raise AccessDenied(f"the IMAP server refused {login}: {exc}") from exc
        raise BackendUnavailable(f"IMAP server {ic.host}:{ic.port}: {exc}") from exc
    dav = None
    if cfg.dav.url and cfg.dav.auth != "proxy" and cred.password is None:
        # pass-through DAV needs the password NTLM never gives: mail works, calendars and contacts wait
        log.warning("%s signed in without a password; DAV pass-through is off for this session "
                    "(set [dav] auth = \"proxy\" to reach calendars and contacts)", cred.login)
    elif cfg.dav.url:
        if cfg.dav.auth == "proxy":
            headers = {cfg.dav.proxy_header: cred.login} if cfg.dav.proxy_header else {}
            dav = DavClient(cfg.dav.url, cfg.dav.service_user, cfg.dav.service_password, headers=headers)
        else:
            dav = DavClient(cfg.dav.url, cred.login, cred.password)
    sc = cfg.smtp
    if sc.auth == "user":
        smtp = SmtpSubmission(sc.host, sc.port, username=cred.login, password=cred.password, starttls=sc.starttls,
                              tls=sc.tls)
    else:
        smtp = SmtpSubmission(sc.host, sc.port, starttls=sc.starttls, tls=sc.tls)
    return MailboxBackends(imap=imap, dav=dav, smtp=smtp)


async def connect_sieve(cfg: Config, cred: Credentials) -> "ManageSieveClient | None":
    """A ManageSieve session as this user (logged in the way [imap] is), or None when no
    [sieve] host is configured. Opened per use: automatic-reply changes are rare."""
    from gateway.backends.sieve import ManageSieveClient

    sc, ic = cfg.sieve, cfg.imap
    if not sc.host:
        return None
    login = ic.login_format.format(login=cred.login, email=cred.email)
    if ic.auth == "master":
        user, password, authzid = ic.master_user, ic.master_password, login
    elif cred.password is None:
        raise AccessDenied("ManageSieve pass-through needs the user's password; configure imap.auth = 'master'")
    else:
        user, password, authzid = login, cred.password, None
    try:
        return await ManageSieveClient.connect(sc.host, sc.port, user=user, password=password, authzid=authzid,
                                               starttls=sc.starttls, timeout=sc.timeout)
    except BackendError as exc:
        if exc.kind == "auth":
            raise AccessDenied(f"the ManageSieve server refused {login}: {exc}") from exc
        raise BackendUnavailable(f"ManageSieve server {sc.host}:{sc.port}: {exc}") from exc


async def open_mailbox(db: StateDB, cfg: Config, cred: Credentials) -> Mailbox:
    backends = await connect_backends(cfg, cred)
    try:
        mbx = await Mailbox.open(db, cred.email, backends, display_name=cred.display_name, email=cred.email,
                                 imap_names=cfg.imap.folder_names or None)
    except BaseException as exc:
        await backends.imap.close()
        if backends.dav is not None:
            await backends.dav.close()
        if isinstance(exc, BackendError):   # front ends see store errors only
            raise BackendUnavailable(f"opening the mailbox of {cred.email} failed: {exc}") from exc
        raise
    from .retry import RetryPolicy
    mbx.login = cred.login
    mbx.submit_retry = RetryPolicy.from_config(cfg)
    mbx.sieve_account = (cfg, cred)      # server-side rules reach ManageSieve as this user (sieve_rules)
    return mbx
