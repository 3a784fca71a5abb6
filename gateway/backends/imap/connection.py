"""One IMAP connection on asyncio streams.

Why not aioimaplib: it was tried first and is a dependency already, but the
gateway needs (a) AUTHENTICATE PLAIN with an authorization identity for master
users, which aioimaplib does not offer, (b) the raw bytes of every response,
literals included, to feed our own parser (aioimaplib splits responses into
lines and literal chunks, so a FETCH with several literals has to be glued back
together), (c) NOTIFY, whose unsolicited STATUS responses arrive with no
command running, and (d) one place to set TCP_NODELAY and send a command with
its literals in a single write (LITERAL+). The protocol part is small, so this
module is our own client: a reader task frames responses (a line, and for each
trailing {n} the literal and the next line) and queues them; ``command``
writes one command and collects responses until its tagged completion.

One command runs at a time per connection (pipelining would gain little for a
gateway that pools connections).
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import re
import socket
import ssl
from dataclasses import dataclass, field
from typing import Callable, Sequence

from gateway.backends.base import BackendError
from gateway.backends.imap import parse
from gateway.backends.imap.parse import Literal, Response, SelectState

_LITERAL_TAIL = re.compile(rb"~?\{(\d+)\}\r?\n$")
_STREAM_LIMIT = 64 * 1024 * 1024   # longest single response line we accept

# Response-code -> BackendError.kind (RFC 5530 codes).
_CODE_KIND = {
    "AUTHENTICATIONFAILED": "auth", "AUTHORIZATIONFAILED": "auth", "EXPIRED": "auth",
    "PRIVACYREQUIRED": "auth", "NONEXISTENT": "notfound", "TRYCREATE": "notfound",
    "ALREADYEXISTS": "conflict", "NOPERM": "denied", "UNAVAILABLE": "unavailable",
    "INUSE": "unavailable",
}
# Dovecot 2.3 answers SELECT/STATUS of a missing mailbox without [NONEXISTENT].
_NOTFOUND_TEXT = re.compile(r"doesn't exist|does not exist|no such mailbox|unknown mailbox|not found", re.I)


class ImapError(BackendError):
    """A tagged NO or BAD; ``response`` is what the server said."""

    def __init__(self, command: str, response: Response, kind: str | None = None):
        if kind is None:
            kind = _CODE_KIND.get(response.code or "", "")
            if not kind:
                kind = "notfound" if _NOTFOUND_TEXT.search(response.text) else "failed"
        code = f"[{response.code}] " if response.code else ""
        super().__init__(f"{command}: {response.kind} {code}{response.text}".strip(), kind)
        self.response = response


class ConnectionLost(BackendError):
    """The connection dropped or the server said BYE; the pool reconnects."""

    def __init__(self, message: str):
        super().__init__(message, "unavailable")


class ServerBye(ConnectionLost):
    """The server said BYE instead of the command's tagged answer (RFC 3501 7.1.5). Whether the
    command was carried out is unknown: Dovecot, finding the selected mailbox deleted by another
    session, may finish an APPEND and then leave."""


@dataclass
class CommandResult:
    tagged: Response
    untagged: list[Response] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Response]:
        return [r for r in self.untagged if r.kind == kind]

    def codes(self, code: str) -> list[Response]:
        """Responses (untagged then tagged) that carry response code ``code``."""
        return [r for r in (*self.untagged, self.tagged) if r.code == code]


Arg = bytes | str | Literal


class ImapConnection:
    """A logged-in (after ``login``) IMAP session; not safe to share between tasks
    except through the internal lock, which serialises commands."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, timeout: float = 60.0):
        self._reader = reader
        self._writer = writer
        self.timeout = timeout
        self._queue: asyncio.Queue[Response | BaseException] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._tags = itertools.count(1)
        self._closed = False
        self.capabilities: frozenset[str] = frozenset()
        self.enabled: frozenset[str] = frozenset()
        self.selected: SelectState | None = None
        self.greeting: Response | None = None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    # ------------------------------------------------------------ setup

    @classmethod
    async def open(cls, host: str, port: int, *, tls: bool = False, starttls: bool = False,
                   ssl_context: ssl.SSLContext | None = None, timeout: float = 60.0) -> "ImapConnection":
        """Connect and read the greeting. ``tls`` is implicit TLS (port 993);
        ``starttls`` upgrades a plain connection (RFC 3501 6.2.1)."""
        ctx = ssl_context or (ssl.create_default_context() if (tls or starttls) else None)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=ctx if tls else None, limit=_STREAM_LIMIT,
                                        server_hostname=host if tls else None),
                timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise BackendError(f"IMAP connect to {host}:{port} failed: {exc!r}", "unavailable") from exc
        _nodelay(writer)
        conn = cls(reader, writer, timeout=timeout)
        greeting = await conn._next(timeout)
        conn.greeting = greeting
        if greeting.kind == "BYE" or greeting.tag != "*":
            await conn.close()
            raise BackendError(f"IMAP server refused the connection: {greeting.text}", "unavailable")
        conn._learn_capabilities(greeting)
        if starttls and not tls:
            await conn.command("STARTTLS")
            await conn._upgrade_tls(ctx, host)  # type: ignore[arg-type]
            conn.capabilities = frozenset()
        return conn

    async def _upgrade_tls(self, ctx: ssl.SSLContext, host: str) -> None:
        self._reader_task.cancel()
        try:
            await self._reader_task
        except (asyncio.CancelledError, Exception):
            pass
        await self._writer.start_tls(ctx, server_hostname=host)
        _nodelay(self._writer)
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    async def login(self, user: str, password: str, authzid: str | None = None) -> None:
        """LOGIN, or AUTHENTICATE PLAIN (RFC 4616) when offered or when acting
        for another user: authcid=``user`` (e.g. a Dovecot master user),
        authzid=the mailbox owner."""
        if not self.capabilities:
            await self.refresh_capabilities()
        try:
            if "AUTH=PLAIN" in self.capabilities or authzid:
                blob = (authzid or "").encode() + b"\0" + user.encode() + b"\0" + password.encode()
                b64 = base64.b64encode(blob)
                if "SASL-IR" in self.capabilities:  # RFC 4959: initial response on the command line
                    result = await self.command("AUTHENTICATE", b"PLAIN", b64)
                else:
                    result = await self.command("AUTHENTICATE", b"PLAIN", _Continuation(b64))
            elif "LOGINDISABLED" in self.capabilities:
                raise BackendError("server offers neither LOGIN nor AUTH=PLAIN", "auth")
            else:
                result = await self.command("LOGIN", parse.astring(user), parse.astring(password))
        except ImapError as exc:
            raise ImapError("login", exc.response, "auth") from None
        self.capabilities = frozenset()
        self._learn_capabilities(result.tagged)
        if not self.capabilities:
            await self.refresh_capabilities()

    async def refresh_capabilities(self) -> frozenset[str]:
        result = await self.command("CAPABILITY")
        for r in result.of_kind("CAPABILITY"):
            self.capabilities = frozenset(str(t).upper() for t in r.data if isinstance(t, str))
        return self.capabilities

    def _learn_capabilities(self, resp: Response) -> None:
        if resp.code == "CAPABILITY":
            self.capabilities = frozenset(str(t).upper() for t in resp.code_data if isinstance(t, str))

    async def enable(self, *extensions: str) -> frozenset[str]:
        """ENABLE (RFC 5161); returns what the server enabled."""
        result = await self.command("ENABLE", *(e.encode() for e in extensions))
        got = set(self.enabled)
        for r in result.of_kind("ENABLED"):
            got.update(str(t).upper() for t in r.data if isinstance(t, str))
        if "QRESYNC" in got:
            got.add("CONDSTORE")  # RFC 7162 3.2.3: QRESYNC implies CONDSTORE
        self.enabled = frozenset(got)
        return self.enabled

    # ------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        return self._closed or self._writer.is_closing()

    async def close(self) -> None:
        """LOGOUT (best effort) and close the socket."""
        if not self._closed and not self._writer.is_closing():
            try:
                await asyncio.wait_for(self.command("LOGOUT"), 2.0)
            except (BackendError, asyncio.TimeoutError, OSError):
                pass
        self._closed = True
        self._reader_task.cancel()
        try:
            await self._reader_task
        except (asyncio.CancelledError, Exception):
            pass
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass

    def abort(self) -> None:
        """Drop the socket now (used when a task is cancelled mid-command)."""
        self._closed = True
        self._reader_task.cancel()
        self._writer.close()

    # ------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        reader = self._reader
        try:
            while True:
                raw = await reader.readuntil(b"\n")
                # A line ending in {n} is followed by n bytes of literal and
                # the rest of the response (RFC 3501 4.3).
                while (m := _LITERAL_TAIL.search(raw[-32:])) is not None:
                    raw += await reader.readexactly(int(m.group(1)))
                    raw += await reader.readuntil(b"\n")
                try:
                    resp = parse.parse_response(raw)
                except parse.ParseError:
                    resp = Response("*", kind="?", raw=raw)  # keep the session alive
                await self._queue.put(resp)
        except asyncio.CancelledError:
            raise
        except (asyncio.IncompleteReadError, ConnectionError, OSError, asyncio.LimitOverrunError,
                ValueError) as exc:
            self._closed = True
            await self._queue.put(ConnectionLost(f"IMAP connection lost: {exc!r}"))

    async def _get(self, timeout: float | None) -> Response | BaseException:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
        # cancellation that races with the result, and a watcher task that
        # ignores aclose() would then IDLE on for 25 minutes.
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    async def _next(self, timeout: float | None) -> Response:
        try:
            item = await self._get(timeout)
        except TimeoutError:
            self.abort()
            raise ConnectionLost("IMAP server did not answer in time") from None
        if isinstance(item, BaseException):
            self._queue.put_nowait(item)  # every later reader sees it too
            raise item
        return item

    async def unsolicited(self, timeout: float) -> Response | None:
        """The next response sent with no command running (NOTIFY), or None on timeout."""
        async with self._lock:
            try:
                item = await self._get(timeout)
            except TimeoutError:
                return None
            if isinstance(item, BaseException):
                self._queue.put_nowait(item)
                raise item
            return item

    # ------------------------------------------------------------ commands

    async def command(self, name: str, *args: Arg | "_Continuation", timeout: float | None = None) -> CommandResult:
        """Send ``name args`` and return its responses; NO/BAD raise ImapError.

        ``bytes`` args go as they are, ``str`` args are encoded as UTF-8 atoms
        (the caller quotes), ``Literal`` args go as literals."""
        if self.closed:
            raise ConnectionLost("IMAP connection is closed")
        async with self._lock:
            try:
                return await self._command(name, args, timeout if timeout is not None else self.timeout)
            except asyncio.CancelledError:
                self.abort()   # the session state is unknown now
                raise

    async def _command(self, name: str, args: Sequence[object], timeout: float) -> CommandResult:
        tag = f"X{next(self._tags)}"
        segments = self._build(tag, name, args)
        untagged: list[Response] = []
        for i, segment in enumerate(segments):
            self._writer.write(segment)
            try:
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                self.abort()
                raise ConnectionLost(f"IMAP write failed: {exc!r}") from exc
            if i == len(segments) - 1:
                break
            # A synchronising literal or SASL step: wait for "+" (RFC 3501 7.5).
            while True:
                resp = await self._next(timeout)
                if resp.tag == "+":
                    break
                if resp.tag == tag:
                    raise ImapError(name, resp)
                self._untagged(resp, untagged)
                if resp.kind == "BYE" and resp.tag == "*" and name != "LOGOUT":
                    raise ServerBye(f"{name}: the server said BYE: {resp.text}")
        while True:
            resp = await self._next(timeout)
            if resp.tag == tag:
                if resp.kind in ("NO", "BAD"):
                    err = ImapError(name, resp)
                    err.untagged = untagged  # type: ignore[attr-defined]
                    raise err
                self._learn_capabilities(resp)
                return CommandResult(resp, untagged)
            if resp.tag == "+":
                continue  # stray continuation (e.g. a server that asked for a LITERAL+ literal)
            self._untagged(resp, untagged)
            if resp.kind == "BYE" and resp.tag == "*" and name != "LOGOUT":
                raise ServerBye(f"{name}: the server said BYE: {resp.text}")

    def _untagged(self, resp: Response, into: list[Response]) -> None:
        if resp.kind == "BYE" and resp.tag == "*":
            self._closed = True
        if resp.kind == "CAPABILITY":
            self.capabilities = frozenset(str(t).upper() for t in resp.data if isinstance(t, str))
        into.append(resp)

    def _build(self, tag: str, name: str, args: Sequence[object]) -> list[bytes]:
        """The command as write segments; a new segment starts after each
        place where the server must first send a continuation."""
        nonsync = "LITERAL+" in self.capabilities or "LITERAL-" in self.capabilities
        segments: list[bytes] = []
        buf = bytearray(f"{tag} {name}".encode())
        for arg in args:
            buf += b" "
            if isinstance(arg, _Continuation):
                buf[-1:] = b"\r\n"  # the SASL response goes on its own line
                segments.append(bytes(buf))
                buf = bytearray(arg.data)
            elif isinstance(arg, Literal):
                # LITERAL- (RFC 7888) only allows non-synchronising literals up to 4096 bytes.
                plus = nonsync and ("LITERAL+" in self.capabilities or len(arg.data) <= 4096)
                buf += b"{%d%s}\r\n" % (len(arg.data), b"+" if plus else b"")
                if not plus:
                    segments.append(bytes(buf))
                    buf = bytearray()
                buf += arg.data
            elif isinstance(arg, str):
                buf += arg.encode("utf-8")
            else:
                buf += arg  # type: ignore[operator]
        buf += b"\r\n"
        segments.append(bytes(buf))
        return segments

    # ------------------------------------------------------------ mailbox helpers

    async def select(self, mailbox: str, *, readonly: bool = False, force: bool = False,
                     qresync: tuple[int, int, str | None] | None = None) -> SelectState:
        """SELECT/EXAMINE unless ``mailbox`` is already selected the same way."""
        cur = self.selected
        if cur is not None and not force and qresync is None and cur.name == mailbox \
                and (cur.readonly == readonly or not cur.readonly and readonly):
            return cur
        args: list[Arg] = [parse.mailbox_arg(mailbox)]  # type: ignore[list-item]
        if qresync is not None and "QRESYNC" in self.enabled:
            uidvalidity, modseq, known = qresync
            inner = f"{uidvalidity} {modseq}" + (f" {known}" if known else "")
            args.append(f"(QRESYNC ({inner}))".encode())
        elif "CONDSTORE" in self.capabilities and not {"CONDSTORE", "QRESYNC"} & self.enabled:
            args.append(b"(CONDSTORE)")  # RFC 7162 3.1.8: turn on MODSEQ reporting
        self.selected = None
        result = await self.command("EXAMINE" if readonly else "SELECT", *args)
        state = SelectState(name=mailbox, readonly=readonly)
        for r in (*result.untagged, result.tagged):
            parse.apply_select_response(state, r)
        self.selected = state
        return state

    async def unselect(self) -> None:
        """Leave the selected mailbox without expunging (RFC 3691); else EXAMINE
        a mailbox that cannot vanish under us."""
        if self.selected is None:
            return
        if "UNSELECT" in self.capabilities:
            await self.command("UNSELECT")
            self.selected = None
        else:
            await self.select("INBOX", readonly=True, force=True)

    async def idle(self, timeout: float, settle: float = 0.2,
                   on_idle: Callable[[], None] | None = None) -> list[Response]:
        """IDLE (RFC 2177) until something arrives or ``timeout`` passes; returns
        the untagged responses. ``settle`` gathers responses that come in a burst;
        ``on_idle`` is called once the server has accepted IDLE."""
        async with self._lock:
            try:
                return await self._idle(timeout, settle, on_idle)
            except asyncio.CancelledError:
                self.abort()
                raise

    async def _idle(self, timeout: float, settle: float, on_idle: Callable[[], None] | None) -> list[Response]:
        tag = f"X{next(self._tags)}"
        self._writer.write(f"{tag} IDLE\r\n".encode())
        await self._writer.drain()
        got: list[Response] = []
        while True:
            resp = await self._next(self.timeout)
            if resp.tag == "+":
                break
            if resp.tag == tag:
                raise ImapError("IDLE", resp)
            self._untagged(resp, got)
        if on_idle is not None:
            on_idle()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if got:
                remaining = min(remaining, settle)
            if remaining <= 0:
                break
            try:
                item = await self._get(remaining)
            except TimeoutError:
                break
            if isinstance(item, BaseException):
                self._queue.put_nowait(item)
                raise item
            self._untagged(item, got)
            if item.kind == "BYE":
                raise ConnectionLost(f"server closed the connection: {item.text}")
        self._writer.write(b"DONE\r\n")
        await self._writer.drain()
        while True:
            resp = await self._next(self.timeout)
            if resp.tag == tag:
                if resp.kind in ("NO", "BAD"):
                    raise ImapError("IDLE", resp)
                return got
            self._untagged(resp, got)


@dataclass(frozen=True)
class _Continuation:
    """Data sent only after the server's "+" (a SASL response)."""

    data: bytes


def _nodelay(writer: asyncio.StreamWriter) -> None:
    # Without it an APPEND of literal + CRLF in two writes stalls ~40 ms on
    # Nagle + delayed ACK (backends.md, pymap section).
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
