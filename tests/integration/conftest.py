"""Store-level fixtures: a gateway Config pointing at real servers or at the embedded demo stack."""
from __future__ import annotations

import pytest

from gateway.config import Config, DavConfig, ImapConfig, LdapConfig, SmtpConfig, StateConfig
from gateway.backends.embedded import EmbeddedStack, load_demo_users, seed

USERS = {u.login: u for u in load_demo_users()}


@pytest.fixture(scope="session")
async def embedded(tmp_path_factory):
    """The `exgate demo` backends (pymap, Radicale child, aiosmtpd), seeded once per session."""
    stack = EmbeddedStack(tmp_path_factory.mktemp("embedded-store"), list(USERS.values()))
    await stack.start()
    await seed(stack)
    try:
        yield stack
    finally:
        await stack.stop()


def real_config(dovecot, radicale, postfix, slapd, state_dsn: str) -> Config:
    return Config(
        state=StateConfig(dsn=state_dsn),
        imap=ImapConfig(host=dovecot.host, port=dovecot.imap_port),
        dav=DavConfig(url=radicale.url),
        ldap=LdapConfig(url=slapd.url, base_dn=slapd.base_dn),
        smtp=SmtpConfig(host=postfix.host, port=postfix.port),
    )


def embedded_config(stack: EmbeddedStack, state_dsn: str) -> Config:
    return Config(
        state=StateConfig(dsn=state_dsn),
        imap=ImapConfig(host=stack.imap_host, port=stack.imap_port),
        dav=DavConfig(url=stack.dav_url),
        ldap=LdapConfig(directory_file=str(load_demo_users.__defaults__[0])),
        smtp=SmtpConfig(host=stack.smtp_host, port=stack.smtp_port),
    )


@pytest.fixture(params=["dovecot", "embedded"])
def backend(request, tmp_path):
    """(kind, Config with a fresh SQLite state db, imap (host, port)) for each backend set."""
    dsn = str(tmp_path / "state.sqlite3")
    if request.param == "dovecot":
        dovecot = request.getfixturevalue("dovecot")
        cfg = real_config(dovecot, request.getfixturevalue("radicale"), request.getfixturevalue("postfix"),
                          request.getfixturevalue("slapd"), dsn)
    else:
        stack = request.getfixturevalue("embedded")
        cfg = embedded_config(stack, dsn)
    return request.param, cfg
