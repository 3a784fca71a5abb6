"""exgate configuration (TOML), as typed dataclasses.

See fixtures/config/exgate.example.toml for a Dovecot + Radicale + OpenLDAP + Postfix setup.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints


@dataclass
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True
    cert_file: str | None = None     # PEM; a self-signed pair is generated when both are unset
    key_file: str | None = None
    public_url: str | None = None    # what clients are told (Autodiscover); defaults to scheme://host:port
    allow_basic_over_http: bool = False
    # what a 401 offers, in order (clients take the first they support; all three are always accepted).
    # DavMail takes Basic whenever it is offered: ["Negotiate", "NTLM"] makes it sign in with NTLM.
    auth_schemes: list[str] = field(default_factory=lambda: ["Negotiate", "NTLM", "Basic"])
    # worker processes sharing the port (`exgate serve --workers`): a number, 0 or "auto" = one per CPU.
    # More than one needs a PostgreSQL [state] dsn (gateway/workers.py).
    workers: int | str = 1


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
    # the change source without NOTIFY: IDLE on INBOX, a STATUS of every other folder this often
    watch_poll_seconds: float = 5.0


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
    # A send the server cannot take now (down, or a 4xx answer) waits in the Outbox and is tried again
    # after these many seconds (the last one repeats), until retry_window seconds after it was sent; then
    # it goes back to Drafts with a non-delivery report in the Inbox (gateway/store/outbox.py).
    retry_schedule: list[float] = field(default_factory=lambda: [60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0])
    retry_window: float = 24 * 3600.0


@dataclass
class EwsConfig:
    # Push subscriptions make the gateway POST to a URL a signed-in user chose (an SSRF vector). The hosts
    # allowed: exact names, "*.example.com" for subdomains, "*" for any (the default, as Exchange does);
    # narrow it where the gateway can reach internal services the users should not.
    push_allowed_hosts: list[str] = field(default_factory=lambda: ["*"])
    push_verify_tls: bool = True     # check the callback's certificate (https URLs)
    push_allowed_ports: list[int] = field(default_factory=lambda: [80, 443, 8080, 8443])
    push_max_per_user: int = 10      # push subscriptions one user may hold at once


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
class OabConfig:
    """The offline address book (gateway/store/oab.py): rebuilt every ``interval_hours`` and, when
    ``oab.xml`` is asked for, if the directory changed (looked at most every ``recheck_seconds``).
    ``directory``: where its files go (default: ``oab/`` in the gateway's data directory)."""
    interval_hours: float = 8.0
    recheck_seconds: float = 60.0
    directory: str | None = None


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
    oab: OabConfig = field(default_factory=OabConfig)

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        """Read a TOML file; every problem is a ConfigError whose text is one line naming the file and key."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        return _build(cls, data, str(path), "")


class ConfigError(ValueError):
    pass


def _where(path: str, section: str, key: str) -> str:
    return f"{path}: [{section}] {key}" if section else f"{path}: {key}"


def _type_ok(hint: Any, value: Any) -> bool:
    """Whether a TOML value fits a field's annotation (the simple types config fields use)."""
    if hint is Any:
        return True
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        return any(_type_ok(h, value) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        return isinstance(value, list) and all(_type_ok(item, v) for v in value)
    if origin is dict:
        _, item = get_args(hint) or (Any, Any)
        return isinstance(value, dict) and all(_type_ok(item, v) for v in value.values())
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    if get_origin(hint) in (Union, UnionType):
        return " or ".join(_type_name(h) for h in get_args(hint) if h is not type(None))
    if get_origin(hint) is list:
        return f"a list of {_type_name(get_args(hint)[0])}"
    if get_origin(hint) is dict:
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(hint, str(hint))


def _build(kind, data: dict[str, Any], path: str, section: str):
    known = {f.name: f for f in fields(kind)}
    hints = get_type_hints(kind)
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{_where(path, section, key)}: unknown setting (known: {', '.join(sorted(known))})")
        default = known[key].default_factory() if callable(known[key].default_factory) else None  # type: ignore
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{_where(path, section, key)}: should be a [{key}] section")
            kwargs[key] = _build(type(default), value, path, key)
        elif not _type_ok(hints[key], value):
            raise ConfigError(f"{_where(path, section, key)}: should be {_type_name(hints[key])}, not {value!r}")
        else:
            kwargs[key] = value
    return kind(**kwargs)
