"""Shared fixtures (a pytest plugin, loaded by tests/conftest.py): backend sets and a running gateway.

- ``embedded``: the `exgate demo` backends (pymap, Radicale child, aiosmtpd), seeded once per session.
- ``backend``: (kind, Config) for "dovecot" (real Dovecot + Radicale + Postfix + slapd) and "embedded".
- ``demo_gateway`` / ``real_gateway``: the gateway's HTTPS server in this process, on a free port,
  in front of the embedded stack / the real servers (``RunningGateway.base_url``, self-signed TLS).
- ``real_gateway_ntlm``: the real servers as an NTLM deployment reaches them (Dovecot master user,
  ``radicale_behind_gateway``: the test Radicale's collections behind a proxy-header listener).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import replace

import pytest

from gateway.backends.embedded import EmbeddedStack, load_demo_users, seed
from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.config import (Config, DavConfig, HttpConfig, ImapConfig, LdapConfig, SieveConfig, SmtpConfig,
                            StateConfig)

USERS = {u.login: u for u in load_demo_users()}


@pytest.fixture(scope="session")
async def embedded(tmp_path_factory):
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
        # a service bind, as a deployment has: the test slapd refuses anonymous searches
        ldap=LdapConfig(url=slapd.url, base_dn=slapd.base_dn, bind_dn=slapd.admin_dn,
                        bind_password=slapd.admin_password),
        smtp=SmtpConfig(host=postfix.host, port=postfix.port),
        # Out of Office as a Sieve vacation script that Dovecot's LMTP runs
        sieve=SieveConfig(host=dovecot.host, port=dovecot.sieve_port),
    )


def embedded_config(stack: EmbeddedStack, state_dsn: str) -> Config:
    """As `exgate demo` runs it (EmbeddedStack.gateway_config)."""
    return stack.gateway_config(state_dsn, DIRECTORY_LDIF)


@pytest.fixture(params=["dovecot", "embedded"])
def backend(request, tmp_path):
    dsn = str(tmp_path / "state.sqlite3")
    if request.param == "dovecot":
        cfg = real_config(request.getfixturevalue("dovecot"), request.getfixturevalue("radicale"),
                          request.getfixturevalue("postfix"), request.getfixturevalue("slapd"), dsn)
    else:
        cfg = embedded_config(request.getfixturevalue("embedded"), dsn)
    return request.param, cfg


async def _gateway(cfg: Config, data_dir):
    from dataclasses import replace
    from gateway.http.server import start_gateway
    cfg = replace(cfg, http=HttpConfig(host="127.0.0.1", port=0, tls=True))
    return await start_gateway(cfg, data_dir)


@pytest.fixture(scope="session")
async def demo_gateway(embedded, tmp_path_factory):
    d = tmp_path_factory.mktemp("gw-demo")
    gw = await _gateway(embedded_config(embedded, str(d / "state.sqlite3")), d)
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture(scope="session")
async def real_gateway(dovecot, radicale, postfix, slapd, tmp_path_factory):
    d = tmp_path_factory.mktemp("gw-real")
    gw = await _gateway(real_config(dovecot, radicale, postfix, slapd, str(d / "state.sqlite3")), d)
    try:
        yield gw
    finally:
        await gw.stop()


# ------------------------------------------------------------------ an NTLM deployment of the real servers

@pytest.fixture(scope="session")
async def radicale_behind_gateway(radicale, tmp_path_factory):
    """The test Radicale's collections served a second time, the way README's NTLM deployment runs
    Radicale: a listener that trusts the gateway's service login plus X-Remote-User (the demo's auth
    plugin). The test Radicale itself only checks passwords, which a gateway never has after NTLM."""
    from gateway.backends.embedded.dav import EmbeddedDav
    from gateway.backends.embedded.trusted import GatewayTrust

    class SharedCollections(EmbeddedDav):
        @property
        def collections_path(self):
            return radicale.root / "collections"
    dav = SharedCollections(tmp_path_factory.mktemp("radicale-proxy"), load_demo_users(), trust=GatewayTrust())
    dav.prepare()
    await dav.start()
    try:
        yield dav
    finally:
        await dav.stop()


@pytest.fixture(scope="session")
async def real_gateway_ntlm(dovecot, radicale_behind_gateway, postfix, slapd, radicale, tmp_path_factory):
    """The real servers as an NTLM deployment runs them: IMAP through the Dovecot master user, DAV
    through the proxy-header listener."""
    d = tmp_path_factory.mktemp("gw-real-ntlm")
    trust = radicale_behind_gateway.trust
    cfg = real_config(dovecot, radicale, postfix, slapd, str(d / "state.sqlite3"))
    cfg = replace(cfg, imap=replace(cfg.imap, auth="master", master_user=dovecot.master_user,
                                    master_password=dovecot.master_password),
                  dav=DavConfig(url=radicale_behind_gateway.url, auth="proxy", service_user=trust.user,
                                service_password=trust.secret, proxy_header="X-Remote-User"))
    gw = await _gateway(cfg, d)
    try:
        yield gw
    finally:
        await gw.stop()


def require_program(program: str, why: str) -> None:
    """Inside a test: skip it when ``program`` is not on PATH, on a developer's machine only; under CI
    (CI=true) `.ci/install.sh` installs it, so its absence fails the test instead of skipping."""
    if shutil.which(program):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{program} is not installed ({why}); .ci/install.sh must install it", pytrace=False)
    pytest.skip(f"{program} is not installed ({why})")


def needs_installed(missing: str | None, what: str) -> pytest.MarkDecorator:
    """Skip a module whose real program is not installed, on a developer's machine only: under CI
    (CI=true) `.ci/install.sh` installs it, so its absence fails the run instead of skipping."""
    if missing is not None and os.environ.get("CI"):
        pytest.fail(f"{what} is not installed ({missing}); .ci/install.sh must install it", pytrace=False)
    return pytest.mark.skipif(missing is not None, reason=f"{what} not installed: {missing} "
                                                          "(.ci/install.sh installs it)")
