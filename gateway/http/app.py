"""The one aiohttp application: routes, limits, and the shared gateway state.

Front ends (EWS, Autodiscover, MAPI/HTTP, RPC/HTTP) register their routes
here as they are built; paths are matched case-insensitively as IIS does.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.config import Config
from gateway.store.state.db import StateDB

if TYPE_CHECKING:
    from .auth import AuthSettings

from .keys import GATEWAY  # noqa: F401 - the key lives in keys.py so front ends need not import the app


@dataclass
class GatewayState:
    config: Config
    db: StateDB
    started: float = field(default_factory=time.time)
    endpoints: dict[str, str] = field(default_factory=dict)  # name -> path, for the demo's listing
    mailboxes: "MailboxCache | None" = None
    directory: object | None = None   # DirectoryClient for sign-in, the GAL and ResolveNames
    health: "HealthCache | None" = None
    outbox: object | None = None      # gateway.store.outbox.OutboxWorker while the app runs
    data_dir: "Path | None" = None    # where the gateway keeps files (the offline address book's)

    def __post_init__(self):
        from .sessions import MailboxCache
        if self.mailboxes is None:
            self.mailboxes = MailboxCache(self.db, self.config)

    @property
    def store_directory(self):
        """The directory as front ends see it (gateway/store/directory.py): GAL, names, groups, photos,
        other users' free/busy; never the directory client itself."""
        from gateway.store.directory import Directory
        return Directory(self.directory, self.db, self.config)




class HealthCache:
    """Backend probes (gateway/store/health.py), at most once per ``max_age`` seconds however often
    a load balancer asks."""

    NEEDED = ("[imap]", "[ldap]")     # without these nobody signs in or reads mail: 503

    def __init__(self, config: Config, max_age: float = 5.0):
        self.config = config
        self.max_age = max_age
        self._at = 0.0
        self._findings: list = []
        self._lock = asyncio.Lock()

    async def findings(self) -> list:
        async with self._lock:
            if time.monotonic() - self._at > self.max_age:
                from gateway.store.health import backend_findings
                self._findings = await backend_findings(self.config)
                self._at = time.monotonic()
            return self._findings


async def health(request: web.Request) -> web.Response:
    """Each backend's state; 503 when IMAP or the directory is down, "degraded" when another one is."""
    state: GatewayState = request.app[GATEWAY]
    if state.health is None:
        state.health = HealthCache(state.config)
    found = await state.health.findings()
    backends = {f.what.split("]", 1)[0].lstrip("["): {"ok": f.ok, "detail": f.detail} for f in found}
    needed_down = [f for f in found if not f.ok and f.what.startswith(HealthCache.NEEDED)]
    status = "down" if needed_down else "degraded" if any(not f.ok for f in found) else "ok"
    return web.json_response({"status": status, "uptime_s": round(time.time() - state.started, 1),
                              "backends": backends, "endpoints": state.endpoints},
                             status=503 if needed_down else 200)


async def root(request: web.Request) -> web.Response:
    state: GatewayState = request.app[GATEWAY]
    lines = ["exgate: Exchange protocols in front of IMAP, CalDAV/CardDAV, LDAP and SMTP", ""]
    lines += [f"{name}: {path}" for name, path in state.endpoints.items()]
    return web.Response(text="\n".join(lines) + "\n")


async def whoami(request: web.Request) -> web.Response:
    """Who this request is signed in as; with ?mailbox=ADDR, open that mailbox if it is the user's own (403 if not)."""
    from .auth import require_own_mailbox
    from .sessions import current_user
    user = current_user(request)
    body = {"login": user.login, "email": user.email, "display_name": user.display_name, "method": user.method}
    wanted = request.query.get("mailbox")
    if wanted is not None:
        # Refused before any backend is touched; then opened as the user (checks the backend path).
        require_own_mailbox(request, wanted)
        from gateway.store.errors import AccessDenied, BackendUnavailable
        from .sessions import mailbox_for
        try:
            mbx = await mailbox_for(request)
            body.update(mailbox=wanted, folders=len(await mbx.folders()))
        except AccessDenied as exc:
            raise web.HTTPForbidden(reason="access denied", text=f"403 Forbidden: {exc}\n") from None
        except BackendUnavailable as exc:
            raise web.HTTPBadGateway(text=f"502 Bad Gateway: {exc}\n") from None
    return web.json_response(body)


async def _close_mailboxes(app: web.Application) -> None:
    task = app.get(_IDLE_CLOSER)
    if task is not None:
        task.cancel()
    await app[GATEWAY].mailboxes.close()


_IDLE_CLOSER = web.AppKey("idle_closer", asyncio.Task)


async def _start_idle_closer(app: web.Application) -> None:
    app[_IDLE_CLOSER] = asyncio.get_running_loop().create_task(app[GATEWAY].mailboxes.close_idle_forever())


async def _start_outbox(app: web.Application) -> None:
    """The store's Outbox queue worker (gateway/store/outbox.py): retries sends the SMTP server could not take."""
    from gateway.store.outbox import OutboxWorker, RetryPolicy, mailbox_opener
    state: GatewayState = app[GATEWAY]
    policy = RetryPolicy.from_config(state.config)
    state.outbox = OutboxWorker(state.db, mailbox_opener(state.db, state.config, state.mailboxes.peek), policy,
                                poll=min(30.0, min(policy.schedule)))
    state.outbox.start()


async def _stop_outbox(app: web.Application) -> None:
    state: GatewayState = app[GATEWAY]
    if state.outbox is not None:
        await state.outbox.stop()


def build_app(state: GatewayState, auth_settings: "AuthSettings | None" = None) -> web.Application:
    from .auth import install_auth
    from .auth.redact import install_log_redaction
    from .guard import GUARD, ConnectionGuard, guard_middleware
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[GATEWAY] = state
    # stalled connections are cut (gateway/http/guard.py); outermost, so it sees every request
    app[GUARD] = ConnectionGuard()
    app.middlewares.append(guard_middleware)
    # a request another worker forwarded is signed in as that worker says, on its private socket only
    from . import forward
    app.middlewares.append(forward.middleware)
    # Every route, including ones front ends add later, runs behind sign-in (gateway/http/auth).
    install_auth(app, state, auth_settings)
    install_log_redaction()
    app.on_startup.append(_start_outbox)
    app.on_startup.append(_start_idle_closer)
    app.on_cleanup.append(_stop_outbox)       # before the mailboxes it may be using are closed
    app.on_cleanup.append(_close_mailboxes)
    app.router.add_get("/", root)
    app.router.add_get("/healthz", health)
    app.router.add_get("/exgate/whoami", whoami)
    state.endpoints.setdefault("health", "/healthz")
    from gateway import autodiscover, emsmdb, ews, nspi, oab
    ews.register(app), autodiscover.register(app), emsmdb.register(app), nspi.register(app), oab.register(app)
    return app
