"""Configuration checks for `exgate serve` (before anything is created) and `exgate check`.

Every problem is one line naming the file, the section and the key, so an
administrator can fix the file without reading a traceback. `exgate serve`
runs ``settings_problems`` and ``backend_problems`` and starts only when both
are empty; `exgate check` prints the same findings as a table, plus a sign-in
and a folder listing for one user.
"""
from __future__ import annotations

import os
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from gateway.config import Config
from gateway.store.health import Finding, backend_findings, is_postgres

__all__ = ["Finding", "backend_findings", "settings_findings", "problems", "problem_lines", "listen_problem",
           "user_findings", "table"]


# ---------------------------------------------------------------- settings (no network, nothing created)

def settings_findings(cfg: Config) -> list[Finding]:
    out: list[Finding] = []

    def bad(key: str, detail: str) -> None:
        out.append(Finding(key, False, detail, key))

    hc = cfg.http
    if not 0 <= hc.port <= 65535:
        bad("[http] port", f"{hc.port} is not a TCP port")
    if hc.tls:
        if bool(hc.cert_file) != bool(hc.key_file):
            bad("[http] cert_file" if not hc.cert_file else "[http] key_file",
                "set both cert_file and key_file, or neither (a self-signed pair is then generated)")
        elif hc.cert_file:
            problem = _tls_pair_problem(hc.cert_file, hc.key_file)
            if problem:
                bad(*problem)
            else:
                out.append(Finding("[http] TLS certificate", True, hc.cert_file))
    unknown = [s for s in hc.auth_schemes if s not in ("Negotiate", "NTLM", "Basic")]
    if unknown or not hc.auth_schemes:
        bad("[http] auth_schemes", f"{unknown or 'empty'}: list some of \"Negotiate\", \"NTLM\", \"Basic\"")
    if hc.public_url and urlsplit(hc.public_url).scheme not in ("http", "https"):
        bad("[http] public_url", f"{hc.public_url!r} should start with https://")
    from gateway.workers import WorkersError, sqlite_refusal, worker_count
    try:
        if (refusal := sqlite_refusal(worker_count(hc.workers), cfg.state.dsn)) is not None:
            bad("[http] workers", refusal)
    except WorkersError as exc:
        bad("[http] workers", str(exc))

    dsn = cfg.state.dsn
    if is_postgres(dsn):
        try:
            import psycopg  # noqa: F401  (the postgres extra)
        except ImportError:
            bad("[state] dsn", "a PostgreSQL DSN needs the postgres extra: pip install 'exgate[postgres]'")
    else:
        path = Path(dsn)
        parent = path.parent if str(path.parent) else Path(".")
        if path.exists() and not path.is_file():
            bad("[state] dsn", f"{dsn} exists and is not a file")
        elif not path.exists() and not parent.is_dir():
            bad("[state] dsn", f"the folder {parent} does not exist (create it, or choose another path)")
        elif not os.access(path if path.exists() else parent, os.W_OK):
            bad("[state] dsn", f"{path if path.exists() else parent} is not writable by this user")

    ic = cfg.imap
    if ic.auth not in ("user", "master"):
        bad("[imap] auth", f"{ic.auth!r}: use \"user\" or \"master\"")
    elif ic.auth == "master" and not (ic.master_user and ic.master_password):
        bad("[imap] master_user" if not ic.master_user else "[imap] master_password",
            "auth = \"master\" needs master_user and master_password")
    if ic.tls and ic.starttls:
        bad("[imap] starttls", "tls (implicit, port 993) and starttls exclude each other")
    if not ic.host:
        bad("[imap] host", "no IMAP server named: mail needs one")

    dc = cfg.dav
    if dc.url:
        u = urlsplit(dc.url)
        if u.scheme not in ("http", "https") or not u.hostname:
            bad("[dav] url", f"{dc.url!r} is not an http:// or https:// URL")
        if dc.auth not in ("user", "proxy"):
            bad("[dav] auth", f"{dc.auth!r}: use \"user\" or \"proxy\"")
        elif dc.auth == "proxy":
            for key in ("service_user", "service_password", "proxy_header"):
                if not getattr(dc, key):
                    bad(f"[dav] {key}", "auth = \"proxy\" needs service_user, service_password and proxy_header")
                    break

    lc = cfg.ldap
    if lc.url:
        from gateway.backends.ldap import parse_ldap_url
        try:
            parse_ldap_url(lc.url)
        except ValueError as exc:
            bad("[ldap] url", str(exc))
        if not lc.base_dn:
            bad("[ldap] base_dn", "users are searched under base_dn: set it (e.g. \"dc=example,dc=com\")")
        if bool(lc.bind_dn) != bool(lc.bind_password):
            bad("[ldap] bind_password" if lc.bind_dn else "[ldap] bind_dn",
                "the service bind needs both bind_dn and bind_password (or neither, for anonymous search)")
    elif lc.directory_file:
        if not Path(lc.directory_file).is_file():
            bad("[ldap] directory_file", f"{lc.directory_file}: no such file")
    else:
        bad("[ldap] url", "no directory: set url (an LDAP server) or directory_file (an LDIF file)")

    sc = cfg.smtp
    if sc.auth not in ("none", "user"):
        bad("[smtp] auth", f"{sc.auth!r}: use \"none\" or \"user\"")
    if sc.tls and sc.starttls:
        bad("[smtp] starttls", "tls (implicit, port 465) and starttls exclude each other")
    if not sc.retry_schedule or any(d <= 0 for d in sc.retry_schedule):
        bad("[smtp] retry_schedule", "list the seconds between tries, each above 0 (e.g. [60, 120, 300])")
    if sc.retry_window <= 0:
        bad("[smtp] retry_window", "seconds a queued message is tried for: above 0 (default 86400)")
    return out


def _tls_pair_problem(cert_file: str, key_file: str) -> tuple[str, str] | None:
    for key, path in (("[http] cert_file", cert_file), ("[http] key_file", key_file)):
        p = Path(path)
        if not p.is_file():
            return key, f"{path}: no such file"
        if not os.access(p, os.R_OK):
            return key, f"{path} is not readable by this user"
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        return "[http] cert_file", f"{cert_file} with {key_file} is not a usable PEM pair ({exc.reason or exc})"
    return None


def listen_problem(host: str, port: int) -> str | None:
    """Why the gateway could not listen on host:port, in one line; None when it can."""
    import errno
    import socket

    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"{host}: cannot be resolved ({exc.strerror})"
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the server binds: TIME_WAIT is fine
        sock.bind(addr)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"{host}:{port} is already in use by another program; choose another with --port"
        if exc.errno == errno.EACCES:
            return f"{host}:{port}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{host} is not an address of this machine"
        return f"{host}:{port}: {exc.strerror}"
    finally:
        sock.close()
    return None


def problem_lines(path: str, findings: list[Finding]) -> list[str]:
    """``FILE: [section] key: what is wrong``, one line per problem."""
    return [f"{path}: {f.key or f.what}: {f.detail}" for f in findings if not f.ok]


async def problems(cfg: Config, path: str) -> list[str]:
    """What `exgate serve` checks before it creates anything; empty when it may start."""
    found = settings_findings(cfg)
    if any(not f.ok for f in found):
        return problem_lines(path, found)     # no point reaching servers with a broken file
    return problem_lines(path, await backend_findings(cfg))


# ---------------------------------------------------------------- `exgate check`: one user end to end

async def user_findings(cfg: Config, login: str, password: str | None) -> list[Finding]:
    """Sign in as the user (when a password is given) and list their folders, in a throwaway state database."""
    from gateway.store.factory import Credentials, directory_from_config, open_mailbox
    from gateway.store.state.db import StateDB

    out: list[Finding] = []
    directory = directory_from_config(cfg)
    try:
        if password is not None:
            entry = await directory.authenticate(login, password)
            out.append(Finding(f"sign-in {login}", entry is not None,
                               entry.dn if entry else "the directory refused this user name and password"))
        else:
            entry = await directory.get_user(login)
            out.append(Finding(f"directory {login}", entry is not None,
                               entry.dn if entry else "no such user in the directory"))
    except Exception as exc:
        out.append(Finding(f"sign-in {login}", False, f"directory: {exc}"))
        entry = None
    finally:
        await directory.close()
    if entry is None:
        return out
    cred = Credentials(entry.uid or login, entry.email or login, entry.display_name, password)
    db = StateDB.open(":memory:")   # a check leaves no ids behind
    try:
        mbx = await open_mailbox(db, cfg, cred)
    except Exception as exc:   # StoreError, or anything a broken backend raises: report it
        out.append(Finding(f"mailbox {cred.email}", False, str(exc)))
        db.close()
        return out
    try:
        folders = await mbx.folders()
        inbox = await mbx.folder_by_role("inbox")
        rows = await mbx.list_items(inbox.fid)
        by_kind: dict[str, int] = {}
        for f in folders:
            by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items()))
        out.append(Finding(f"mailbox {cred.email}", True,
                           f"{len(folders)} folders ({kinds}); Inbox holds {len(rows)} items"))
    except Exception as exc:
        out.append(Finding(f"mailbox {cred.email}", False, f"listing failed: {exc}"))
    finally:
        await mbx.close()
        db.close()
    return out


def table(findings: list[Finding]) -> str:
    width = max([len(f.what) for f in findings] + [4])
    lines = [f"{'what':<{width}}  result  detail"]
    for f in findings:
        lines.append(f"{f.what:<{width}}  {'ok' if f.ok else 'FAILED':<6}  {f.detail}")
    return "\n".join(lines)
