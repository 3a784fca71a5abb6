"""A MAPI/HTTP request whose Session Context another worker holds, passed to that worker.

With `exgate serve --workers N` (gateway/workers.py) a Session Context lives in the memory of the worker
that answered Connect/Bind, and its MapiContext cookie says which one (``w3-<token>``). Each worker also
listens on a private Unix socket, ``<data dir>/run/worker-<n>.sock`` (the directory is 0700), for
forwarded requests only. ``gateway.http.mapihttp.accept`` asks ``elsewhere`` before it looks up a session;
``relay`` sends the request there (method, path and query, headers, body) and streams the answer back
chunk by chunk (PROCESSING, PENDING keep-alives, DONE as the owner writes them), status and headers
(Set-Cookie too) copied. An owner whose socket does not answer (restarted: its sessions are gone) is
``None``: the caller answers Context Not Found.

The forwarding worker has signed the user in (Basic, or NTLM bound to the client's connection, so the
forwarded request carries no Authorization header); it says who in ``X-Exgate-Forwarded-User``.
``middleware`` trusts that header only on a request that arrived on this worker's private socket, and
strips it from every other one; the owner then checks the session belongs to that user, as always.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import socket
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from .sessions import USER, AuthenticatedUser

log = logging.getLogger(__name__)

HEADER = "X-Exgate-Forwarded-User"
_COOKIE_RE = re.compile(r"w(\d{1,4})-[0-9a-f]+")
# not passed on to the owner / back to the client: hop-by-hop, re-made by aiohttp, or per worker
_NOT_FORWARDED = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
                  "content-length", "authorization", "proxy-authorization", HEADER.lower()}
_NOT_RETURNED = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server",
                 "x-exgate-worker"}
MAX_SOCKET_PATH = 100      # sun_path is 108 bytes on Linux


@dataclass(eq=False)
class WorkerSockets:
    number: int
    run_dir: Path
    _clients: dict[int, aiohttp.ClientSession] = field(default_factory=dict)

    def path(self, n: int) -> Path:
        return self.run_dir / f"worker-{n}.sock"

    def client(self, n: int) -> aiohttp.ClientSession:
        c = self._clients.get(n)
        if c is None or c.closed:
            # a new connection per request: nothing stale after the owner restarts
            c = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(self.path(n)), force_close=True),
                                      timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                                      auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
            self._clients[n] = c
        return c

    async def close(self) -> None:
        for c in self._clients.values():
            await c.close()
        self._clients.clear()


WORKER = web.AppKey("exgate_worker_sockets", WorkerSockets)
_FROM_WORKER = web.RequestKey("exgate_forwarded", bool)


def run_dir(data_dir: Path) -> Path:
    """``<data dir>/run``, or a 0700 directory under the temp dir named after it when that path is too long
    for a Unix socket."""
    d = Path(data_dir).resolve() / "run"
    if len(str(d / "worker-9999.sock")) > MAX_SOCKET_PATH:
        d = Path(tempfile.gettempdir()) / f"exgate-{os.getuid()}-{hashlib.sha256(str(d).encode()).hexdigest()[:12]}"
    return d


def as_worker(app: web.Application, number: int, data_dir: Path) -> WorkerSockets:
    """Before the app starts: this app is worker ``number``; its sessions' cookies name it."""
    w = WorkerSockets(number, run_dir(data_dir))
    app[WORKER] = w

    async def _close(app: web.Application) -> None:
        await w.close()
        w.path(number).unlink(missing_ok=True)
    app.on_cleanup.append(_close)
    return w


def bind_private_socket(w: WorkerSockets) -> socket.socket:
    """The worker's private socket, bound and listening (a stale file from a dead worker replaced)."""
    w.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if w.run_dir.stat().st_uid != os.getuid():
        raise PermissionError(f"{w.run_dir} belongs to another user: not a place for this worker's socket")
    os.chmod(w.run_dir, 0o700)
    path = w.path(w.number)
    if path.is_socket() or path.exists():
        path.unlink()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    os.chmod(path, 0o600)
    s.listen(128)
    return s


def cookie_prefix(app: web.Application) -> str:
    w = app.get(WORKER)
    return "" if w is None else f"w{w.number}-"


def elsewhere(request: web.Request, context: str | None) -> int | None:
    """The number of the other worker whose Session Context ``context`` names; None when it is this
    worker's (or this gateway runs alone, or the request was already forwarded)."""
    w = request.app.get(WORKER)
    if w is None or request.get(_FROM_WORKER) or not context:
        return None
    m = _COOKIE_RE.fullmatch(context)
    if m is None or int(m.group(1)) == w.number:
        return None
    return int(m.group(1))


def _encode_user(user: AuthenticatedUser, request: web.Request) -> str:
    data = {**asdict(user), "scheme": request.scheme, "remote": request.remote}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode("ascii")


def _decode_user(value: str) -> tuple[AuthenticatedUser, dict]:
    data = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))
    user = AuthenticatedUser(login=data["login"], email=data["email"], display_name=data["display_name"],
                             password=data.get("password"), method=data.get("method", "basic"))
    return user, data


async def relay(request: web.Request, owner: int, user: AuthenticatedUser, body: bytes) -> web.StreamResponse | None:
    """The owner's answer streamed to the client; None when the owner's socket does not answer."""
    w = request.app[WORKER]
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
    headers.append((HEADER, _encode_user(user, request)))
    try:
        upstream = await w.client(owner).request(request.method, f"http://worker-{owner}{request.rel_url}",
                                                 headers=headers, data=body, allow_redirects=False)
    except (aiohttp.ClientError, OSError) as exc:
        log.info("worker %d does not answer for a forwarded %s: %s", owner, request.path, exc)
        return None
    async with upstream:
        out = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for k, v in upstream.headers.items():
            if k.lower() not in _NOT_RETURNED:
                out.headers.add(k, v)
        if upstream.content_length is not None:
            out.content_length = upstream.content_length
        await out.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await out.write(chunk)
        except aiohttp.ClientError as exc:     # the owner or the client went away mid-answer: end both
            log.info("a forwarded answer from worker %d ended early: %s", owner, exc)
            if request.transport is not None:
                request.transport.close()
            return out
        await out.write_eof()
        return out


def _on_private_socket(request: web.Request) -> bool:
    w = request.app.get(WORKER)
    if w is None or request.transport is None:
        return False
    sock = request.transport.get_extra_info("socket")
    return (sock is not None and sock.family == socket.AF_UNIX
            and request.transport.get_extra_info("sockname") == str(w.path(w.number)))


@web.middleware
async def middleware(request: web.Request, handler):
    """Before sign-in: a request on the private socket is signed in as its forwarding worker says (and
    nothing else is accepted there); anywhere else the header is removed."""
    if _on_private_socket(request):
        value = request.headers.get(HEADER)
        if value is None:
            raise web.HTTPForbidden(text="403 Forbidden: forwarded requests only\n")
        try:
            user, data = _decode_user(value)
        except (ValueError, KeyError, TypeError) as exc:
            raise web.HTTPBadRequest(text=f"400 Bad Request: {HEADER}: {exc}\n") from None
        request = request.clone(scheme=data.get("scheme") or "http", remote=data.get("remote") or "")
        request[USER] = user
        request[_FROM_WORKER] = True
    elif HEADER in request.headers:
        log.warning("%s sent by a client from %s: ignored", HEADER, request.remote)
        headers = request.headers.copy()
        del headers[HEADER]
        request = request.clone(headers=headers)
    return await handler(request)
