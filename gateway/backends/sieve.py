"""A small asyncio ManageSieve client (RFC 5804): list, read, write and activate Sieve scripts.

The gateway uses it for automatic replies (a vacation script, gateway/store/sieve_oof.py).
Only what that needs, plus the rest of the basic command set: CAPABILITY, STARTTLS,
AUTHENTICATE "PLAIN" (RFC 4616, with an authorization identity for Dovecot master
users), LISTSCRIPTS, GETSCRIPT, PUTSCRIPT, CHECKSCRIPT, SETACTIVE, DELETESCRIPT,
RENAMESCRIPT, HAVESPACE, NOOP, LOGOUT.
"""
from __future__ import annotations

import asyncio
import base64
import re
import ssl
from dataclasses import dataclass, field

from .base import BackendError

DEFAULT_PORT = 4190   # RFC 5804 section 1.8


class ManageSieveError(BackendError):
    """The server answered NO or BYE, or the connection failed.

    ``status`` is "NO", "BYE" or "" (no answer: connection or protocol failure);
    ``code`` the response code (RFC 5804 section 1.3) such as "NONEXISTENT",
    "ACTIVE", "QUOTA/MAXSIZE", "AUTH-TOO-WEAK"; ``text`` the server's reason."""

    def __init__(self, message: str, *, status: str = "", code: str | None = None, text: str = "",
                 kind: str | None = None):
        super().__init__(message, kind or _kind(status, code))
        self.status = status
        self.code = code
        self.text = text


def _kind(status: str, code: str | None) -> str:
    top = (code or "").split("/")[0].upper()
    if top == "NONEXISTENT":
        return "notfound"
    if top in ("ACTIVE", "ALREADYEXISTS"):
        return "conflict"
    if top in ("QUOTA",):
        return "denied"
    if status in ("", "BYE"):
        return "unavailable"
    return "failed"


@dataclass(frozen=True)
class SieveResponse:
    """A final OK/NO/BYE line (RFC 5804 section 1.2, response-oknobye)."""

    status: str                        # "OK", "NO" or "BYE"
    code: str | None = None            # e.g. "WARNINGS", "NONEXISTENT", "SASL"
    code_args: tuple[str, ...] = ()    # e.g. the challenge of (SASL "...") or the tag of (TAG "...")
    text: str = ""                     # human-readable, may be empty

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class SieveCapabilities:
    """The capability listing (RFC 5804 section 1.7), sent in the greeting and after STARTTLS."""

    implementation: str = ""
    sieve: frozenset[str] = frozenset()     # Sieve extensions, lower-case ("vacation", "include" ...)
    sasl: frozenset[str] = frozenset()      # upper-case mechanism names
    starttls: bool = False
    version: str = ""
    notify: frozenset[str] = frozenset()
    maxredirects: int | None = None
    owner: str | None = None
    language: str | None = None
    raw: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ScriptInfo:
    name: str
    active: bool = False


class _Literal:
    """A {n} string read from the server (kept apart from atoms)."""

    def __init__(self, data: bytes):
        self.data = data




def quote(value: str) -> bytes:
    """A ManageSieve string: quoted when it fits (RFC 5804 section 4, quoted), else a {n+} literal."""
    raw = value.encode("utf-8")
    if len(raw) <= 1024 and b"\r" not in raw and b"\n" not in raw and b"\0" not in raw:
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(raw)


def literal(data: bytes) -> bytes:
    # {n+}: the non-synchronizing literal every RFC 5804 server accepts (section 1.6)
    return b"{%d+}\r\n" % len(data) + data


def _tokens(line: bytes, out: list) -> int | None:
    """Split one line into tokens (atoms as str, quoted strings as str tagged by tuple,
    parentheses as "(" / ")"); returns n when the line ends with a {n}/{n+} literal announcement."""
    i, n = 0, len(line)
    while i < n:
        c = line[i:i + 1]
        if c == b" ":
            i += 1
        elif c in (b"(", b")"):
            out.append(c.decode())
            i += 1
        elif c == b'"':
            j, buf = i + 1, bytearray()
            while j < n and line[j:j + 1] != b'"':
                if line[j:j + 1] == b"\\" and j + 1 < n:
                    j += 1
                buf += line[j:j + 1]
                j += 1
            if j >= n:
                raise ManageSieveError(f"ManageSieve: unterminated string in {line[:200]!r}")
            out.append(("str", buf.decode("utf-8", "replace")))
            i = j + 1
        elif c == b"{":
            m = re.match(rb"\{(\d+)\+?\}$", line[i:])
            if not m:
                raise ManageSieveError(f"ManageSieve: bad literal in {line[:200]!r}")
            return int(m.group(1))
        else:
            j = i
            while j < n and line[j:j + 1] not in (b" ", b"(", b")", b'"', b"{"):
                j += 1
            out.append(line[i:j].decode("utf-8", "replace"))
            i = j
    return None


def _text(tok) -> str | None:
    if isinstance(tok, tuple):
        return tok[1]
    if isinstance(tok, _Literal):
        return tok.data.decode("utf-8", "replace")
    return None


def _final(tokens: list) -> SieveResponse | None:
    """tokens of a line -> SieveResponse when it is OK/NO/BYE."""
    if not tokens or not isinstance(tokens[0], str) or tokens[0].upper() not in ("OK", "NO", "BYE"):
        return None
    status, rest = tokens[0].upper(), tokens[1:]
    code, args = None, []
    if rest and rest[0] == "(":
        end = rest.index(")") if ")" in rest else len(rest)
        inside = rest[1:end]
        rest = rest[end + 1:]
        if inside and isinstance(inside[0], str):
            code = inside[0].upper()
            args = [_text(t) if _text(t) is not None else str(t) for t in inside[1:]]
    msg = _text(rest[0]) if rest else None
    return SieveResponse(status, code, tuple(args), msg or "")


class ManageSieveClient:
    """One authenticated ManageSieve session. Use ``await ManageSieveClient.connect(...)``,
    or ``async with`` to log out at the end."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, timeout: float = 30.0,
                 where: str = ""):
        self._reader = reader
        self._writer = writer
        self.timeout = timeout
        self.where = where
        self.capabilities = SieveCapabilities()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ session
    @classmethod
    async def connect(cls, host: str, port: int = DEFAULT_PORT, *, user: str | None = None,
                      password: str | None = None, authzid: str | None = None, starttls: bool = False,
                      ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0) -> "ManageSieveClient":
        """Connect, read the greeting, STARTTLS when ``starttls`` (refused if the server does not
        offer it) and, with ``user``, AUTHENTICATE PLAIN as user (for authzid when given)."""
        where = f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ManageSieveError(f"ManageSieve server {where}: {exc or 'timed out'}", kind="unavailable") from exc
        client = cls(reader, writer, timeout=timeout, where=where)
        try:
            await client._read_capabilities()
            if starttls:
                await client.starttls(ssl_context or ssl.create_default_context(), server_hostname=host)
            if user is not None:
                await client.authenticate_plain(user, password or "", authzid=authzid)
        except BaseException:
            client._close()
            raise
        return client

    async def __aenter__(self) -> "ManageSieveClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.logout()

    async def starttls(self, context: ssl.SSLContext, server_hostname: str | None = None) -> None:
        if not self.capabilities.starttls:
            raise ManageSieveError(f"ManageSieve server {self.where} does not offer STARTTLS", kind="unavailable")
        await self._check(b"STARTTLS")
        try:
            await asyncio.wait_for(self._writer.start_tls(context, server_hostname=server_hostname), self.timeout)
        except (OSError, asyncio.TimeoutError) as exc:   # ssl.SSLError is an OSError
            self._close()
            raise ManageSieveError(f"ManageSieve server {self.where}: TLS handshake failed: {exc}",
                                   kind="unavailable") from exc
        # RFC 5804 section 2.2: the server sends its capabilities again after the handshake
        await self._read_capabilities()

    async def authenticate_plain(self, user: str, password: str, *, authzid: str | None = None) -> None:
        """AUTHENTICATE "PLAIN" with the initial response (RFC 5804 section 2.1, RFC 4616)."""
        if self.capabilities.sasl and "PLAIN" not in self.capabilities.sasl:
            raise ManageSieveError(f"ManageSieve server {self.where} does not offer SASL PLAIN", kind="auth")
        blob = f"{authzid or ''}\0{user}\0{password}".encode("utf-8")
        initial = base64.b64encode(blob).decode("ascii")
        resp, _ = await self._command(b'AUTHENTICATE "PLAIN" ' + quote(initial))
        if not resp.ok:
            who = f"{user} for {authzid}" if authzid else user
            raise ManageSieveError(f"ManageSieve login of {who} refused: {resp.text or resp.code or resp.status}",
                                   status=resp.status, code=resp.code, text=resp.text, kind="auth")
        # a server may send new capabilities after authentication (section 2.1); Dovecot does not
        await self.capability()

    async def logout(self) -> None:
        try:
            if not self._writer.is_closing():
                await asyncio.wait_for(self._command(b"LOGOUT"), min(self.timeout, 5.0))
        except (ManageSieveError, OSError, asyncio.TimeoutError):
            pass
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - closing a broken transport
            pass

    # ------------------------------------------------------------ commands
    async def capability(self) -> SieveCapabilities:
        _, lines = await self._check(b"CAPABILITY")
        self.capabilities = _capabilities(lines)
        return self.capabilities

    async def noop(self) -> None:
        await self._check(b"NOOP")

    async def list_scripts(self) -> list[ScriptInfo]:
        _, lines = await self._check(b"LISTSCRIPTS")
        out = []
        for toks in lines:
            if not toks:
                continue
            name = _text(toks[0])
            if name is None:
                continue
            active = len(toks) > 1 and isinstance(toks[1], str) and toks[1].upper() == "ACTIVE"
            out.append(ScriptInfo(name, active))
        return out

    async def active_script(self) -> str | None:
        return next((s.name for s in await self.list_scripts() if s.active), None)

    async def get_script(self, name: str) -> str:
        _, lines = await self._check(b"GETSCRIPT " + quote(name))
        for toks in lines:
            if toks and _text(toks[0]) is not None:
                return _text(toks[0]) or ""
        raise ManageSieveError(f"ManageSieve: GETSCRIPT {name!r} returned no script")

    async def put_script(self, name: str, script: str) -> SieveResponse:
        """Store (compiling it first on the server); NO with the compiler's errors raises.
        The answer may carry (WARNINGS) and their text."""
        resp, _ = await self._check(b"PUTSCRIPT " + quote(name) + b" " + literal(script.encode("utf-8")))
        return resp

    async def check_script(self, script: str) -> SieveResponse:
        resp, _ = await self._check(b"CHECKSCRIPT " + literal(script.encode("utf-8")))
        return resp

    async def set_active(self, name: str | None) -> None:
        """Make ``name`` the active script; None or "" deactivates every script."""
        await self._check(b"SETACTIVE " + quote(name or ""))

    async def delete_script(self, name: str) -> None:
        await self._check(b"DELETESCRIPT " + quote(name))

    async def rename_script(self, old: str, new: str) -> None:
        await self._check(b"RENAMESCRIPT " + quote(old) + b" " + quote(new))

    async def have_space(self, name: str, size: int) -> bool:
        resp, _ = await self._command(b"HAVESPACE " + quote(name) + b" %d" % size)
        if resp.ok:
            return True
        if resp.code and resp.code.startswith("QUOTA"):
            return False
        raise _error(b"HAVESPACE", resp)

    # ------------------------------------------------------------ wire
    async def _check(self, line: bytes) -> tuple[SieveResponse, list[list]]:
        resp, lines = await self._command(line)
        if not resp.ok:
            raise _error(line, resp)
        return resp, lines

    async def _command(self, line: bytes) -> tuple[SieveResponse, list[list]]:
        async with self._lock:
            try:
                self._writer.write(line + b"\r\n")
                await asyncio.wait_for(self._writer.drain(), self.timeout)
                return await asyncio.wait_for(self._read_response(), self.timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                self._close()
                verb = line.split(b" ", 1)[0].decode(errors="replace")
                raise ManageSieveError(f"ManageSieve server {self.where}: {verb} failed: "
                                       f"{exc or type(exc).__name__}", kind="unavailable") from exc

    async def _read_capabilities(self) -> None:
        try:
            resp, lines = await asyncio.wait_for(self._read_response(), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
            raise ManageSieveError(f"ManageSieve server {self.where}: no greeting ({exc or type(exc).__name__})",
                                   kind="unavailable") from exc
        if not resp.ok:
            raise _error(b"greeting", resp)
        self.capabilities = _capabilities(lines)

    async def _read_line(self) -> list:
        """One response line, literals included (they may continue the line)."""
        toks: list = []
        while True:
            raw = await self._reader.readuntil(b"\r\n")
            n = _tokens(raw[:-2], toks)
            if n is None:
                return toks
            toks.append(_Literal(await self._reader.readexactly(n)))

    async def _read_response(self) -> tuple[SieveResponse, list[list]]:
        lines: list[list] = []
        while True:
            toks = await self._read_line()
            final = _final(toks)
            if final is not None:
                if final.status == "BYE":
                    self._close()
                return final, lines
            lines.append(toks)


def _error(command: bytes, resp: SieveResponse) -> ManageSieveError:
    verb = command.split(b" ", 1)[0].decode(errors="replace")
    code = f" ({resp.code})" if resp.code else ""
    return ManageSieveError(f"ManageSieve {verb}: {resp.status}{code} {resp.text}".rstrip(),
                            status=resp.status, code=resp.code, text=resp.text)


def _capabilities(lines: list[list]) -> SieveCapabilities:
    raw: dict[str, str | None] = {}
    for toks in lines:
        if not toks or _text(toks[0]) is None:
            continue
        raw[(_text(toks[0]) or "").upper()] = _text(toks[1]) if len(toks) > 1 else None
    words = lambda key: (raw.get(key) or "").split()  # noqa: E731
    maxredirects = raw.get("MAXREDIRECTS")
    return SieveCapabilities(
        implementation=raw.get("IMPLEMENTATION") or "",
        sieve=frozenset(w.lower() for w in words("SIEVE")),
        sasl=frozenset(w.upper() for w in words("SASL")),
        starttls="STARTTLS" in raw,
        version=raw.get("VERSION") or "",
        notify=frozenset(w.lower() for w in words("NOTIFY")),
        maxredirects=int(maxredirects) if maxredirects and maxredirects.isdigit() else None,
        owner=raw.get("OWNER"),
        language=raw.get("LANGUAGE"),
        raw=raw,
    )
