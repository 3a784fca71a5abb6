"""exgate configuration (TOML), as typed dataclasses.

See fixtures/config/exgate.example.toml for a Dovecot + Radicale + OpenLDAP + Postfix setup.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any


@dataclass
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True
    cert_file: str | None = None     # PEM; a self-signed pair is generated when both are unset
    key_file: str | None = None
    public_url: str | None = None    # what clients are told (Autodiscover); defaults to scheme://host:port
    allow_basic_over_http: bool = False


@dataclass
class StateConfig:
    # SQLite path, or a PostgreSQL DSN (postgresql://...) when several gateways share the load
    dsn: str = "exgate-state.sqlite3"


@dataclass
class ImapConfig:
    host: str = "127.0.0.1"
    port: int = 143
    tls: bool = False                # implicit TLS (993)
    starttls: bool = False
    # "user": log in with the user's own password (pass-through);
    # "master": log in as master_user with authzid=<user> (Dovecot master users, Cyrus admins)
    auth: str = "user"
    master_user: str | None = None
    master_password: str | None = None
    login_format: str = "{login}"    # e.g. "{email}" when the IMAP server wants full addresses
    folder_names: dict[str, list[str]] = field(default_factory=dict)  # role -> names, when no SPECIAL-USE


@dataclass
class DavConfig:
    url: str | None = None           # base URL of the CalDAV/CardDAV server; None disables calendars/contacts
    auth: str = "user"               # "user" (pass-through) or "proxy" (service account + proxy_header)
    service_user: str | None = None
    service_password: str | None = None
    proxy_header: str | None = None  # e.g. "X-Remote-User" for Radicale's http_x_remote_user auth


@dataclass
class LdapConfig:
    url: str | None = None           # None: use directory_file instead
    base_dn: str = ""
    bind_dn: str | None = None
    bind_password: str | None = None
    directory_file: str | None = None   # LDIF, for setups without an LDAP server (the demo)


@dataclass
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 587
    starttls: bool = False
    tls: bool = False
    auth: str = "none"               # "none" (trusted relay) or "user" (the user's own credentials)


@dataclass
class EwsConfig:
    # Push subscriptions make the gateway POST to a URL a signed-in user chose (an SSRF vector). The hosts
    # allowed: exact names, "*.example.com" for subdomains, "*" for any (the default, as Exchange does);
    # narrow it where the gateway can reach internal services the users should not.
    push_allowed_hosts: list[str] = field(default_factory=lambda: ["*"])
    push_verify_tls: bool = True     # check the callback's certificate (https URLs)


@dataclass
class SieveConfig:
    """ManageSieve (RFC 5804), where automatic replies become a Sieve vacation script.

    No host: Out of Office settings stay in the state database and nothing replies.
    The login is the one [imap] uses (auth, master_user/master_password, login_format)."""
    host: str | None = None
    port: int = 4190
    starttls: bool = False
    timeout: float = 15.0


@dataclass
class Config:
    domain: str = "example.test"
    http: HttpConfig = field(default_factory=HttpConfig)
    state: StateConfig = field(default_factory=StateConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    dav: DavConfig = field(default_factory=DavConfig)
    ldap: LdapConfig = field(default_factory=LdapConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    ews: EwsConfig = field(default_factory=EwsConfig)
    sieve: SieveConfig = field(default_factory=SieveConfig)

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return _build(cls, data, str(path))


class ConfigError(ValueError):
    pass


def _build(kind, data: dict[str, Any], where: str):
    known = {f.name: f for f in fields(kind)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        default = known[key].default_factory() if callable(known[key].default_factory) else None  # type: ignore
        if is_dataclass(default) and isinstance(value, dict):
            kwargs[key] = _build(type(default), value, f"{where}[{key}]")
        else:
            kwargs[key] = value
    return kind(**kwargs)
