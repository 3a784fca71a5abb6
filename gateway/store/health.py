"""Can each backend be reached now? Used by `exgate serve`/`exgate check` before start and by /healthz.

Cheap probes, nothing written: the IMAP and SMTP greetings, an HTTP OPTIONS to
the DAV server, the directory's service bind, ManageSieve's greeting, a
PostgreSQL connection. Each gives a ``Finding`` (ok or not, with a one-line
reason).
"""
from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from gateway.config import Config

TIMEOUT = 5.0


@dataclass(frozen=True)
class Finding:
    what: str          # e.g. "[imap] 127.0.0.1:143"
    ok: bool
    detail: str
    key: str = ""      # "[section] key" the problem is about ("" for a whole check)


def is_postgres(dsn: str) -> bool:
    return dsn.startswith(("postgresql://", "postgres://", "host="))


async def _greeting(host: str, port: int, *, use_tls: bool, expect: tuple[bytes, ...]) -> str:
    """Connect, read the server's first line; raise OSError/ValueError/TimeoutError on anything else."""
    ctx = None
    if use_tls:
        ctx = ssl.create_default_context()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), TIMEOUT)
    try:
        line = await asyncio.wait_for(reader.readline(), TIMEOUT)
    finally:
        writer.close()
    text = line.decode("utf-8", "replace").strip()
    if not line.startswith(expect):
        raise ValueError(f"answered {text[:60]!r}, not a greeting")
    return text[:60]


def _reason(exc: BaseException) -> str:
    exc = getattr(exc, "os_error", None) or exc    # aiohttp wraps the socket's error
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"no answer within {TIMEOUT:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


async def _check_greeting(section: str, label: str, host: str, port: int, *, use_tls: bool,
                          expect: tuple[bytes, ...], ok_text: str | None = None) -> Finding:
    what = f"[{section}] {host}:{port}"
    try:
        greeting = await _greeting(host, port, use_tls=use_tls, expect=expect)
        return Finding(what, True, ok_text or greeting)
    except Exception as exc:
        return Finding(what, False, f"{label}: {_reason(exc)}", f"[{section}] host")


def _check_imap(cfg: Config):
    ic = cfg.imap
    return _check_greeting("imap", "IMAP server", ic.host, ic.port, use_tls=ic.tls, expect=(b"* OK", b"* PREAUTH"))


def _check_smtp(cfg: Config):
    sc = cfg.smtp
    return _check_greeting("smtp", "SMTP server", sc.host, sc.port, use_tls=sc.tls, expect=(b"220",))


def _check_sieve(cfg: Config):
    # ManageSieve opens with its capability lines ("IMPLEMENTATION" ...), ending in OK
    sc = cfg.sieve
    return _check_greeting("sieve", "ManageSieve server", sc.host, sc.port, use_tls=False, expect=(b'"',),
                           ok_text="ManageSieve answers")


async def _check_dav(cfg: Config) -> Finding:
    import aiohttp

    url = cfg.dav.url or ""
    what = f"[dav] {url}"
    try:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.request("OPTIONS", url) as resp:
                dav = resp.headers.get("DAV", "")
                if resp.status >= 500:
                    return Finding(what, False, f"CalDAV/CardDAV server answered HTTP {resp.status}", "[dav] url")
                detail = f"HTTP {resp.status}" + (f", DAV: {dav[:40]}" if dav else "")
                return Finding(what, True, detail)
    except Exception as exc:
        return Finding(what, False, f"CalDAV/CardDAV server: {_reason(exc)}", "[dav] url")


async def _check_directory(cfg: Config) -> Finding:
    from gateway.backends.base import BackendError
    from .factory import directory_from_config

    lc = cfg.ldap
    what = f"[ldap] {lc.url}" if lc.url else f"[ldap] {lc.directory_file}"
    try:
        directory = directory_from_config(cfg)
        try:
            await directory.ping()
        finally:
            await directory.close()
    except (BackendError, ValueError, OSError) as exc:
        key = "[ldap] bind_dn" if getattr(exc, "kind", "") == "auth" else "[ldap] url"
        return Finding(what, False, f"directory: {exc}", key)
    bound = f"service bind as {lc.bind_dn}" if lc.url and lc.bind_dn else "anonymous" if lc.url else "LDIF read"
    return Finding(what, True, bound)


async def _check_postgres(cfg: Config) -> Finding:
    dsn = cfg.state.dsn

    def connect() -> None:
        import psycopg
        with psycopg.connect(dsn, connect_timeout=int(TIMEOUT)) as conn:
            conn.execute("SELECT 1")
    try:
        await asyncio.to_thread(connect)
        return Finding("[state] PostgreSQL", True, "connected")
    except Exception as exc:
        return Finding("[state] PostgreSQL", False, f"cannot connect: {str(exc).strip().splitlines()[0]}",
                       "[state] dsn")


async def backend_findings(cfg: Config) -> list[Finding]:
    checks = [_check_imap(cfg), _check_directory(cfg), _check_smtp(cfg)]
    if cfg.dav.url:
        checks.append(_check_dav(cfg))
    if cfg.sieve.host:
        checks.append(_check_sieve(cfg))
    if is_postgres(cfg.state.dsn):
        checks.append(_check_postgres(cfg))
    return list(await asyncio.gather(*checks))


