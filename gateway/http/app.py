"""The one aiohttp application: routes, limits, and the shared gateway state.

Front ends (EWS, Autodiscover, MAPI/HTTP, RPC/HTTP) register their routes
here as they are built; paths are matched case-insensitively as IIS does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web

from gateway.config import Config
from gateway.store.state.db import StateDB

GATEWAY = web.AppKey("gateway", object)


@dataclass
class GatewayState:
    config: Config
    db: StateDB
    started: float = field(default_factory=time.time)
    endpoints: dict[str, str] = field(default_factory=dict)  # name -> path, for the demo's listing
    mailboxes: "MailboxCache | None" = None
    directory: object | None = None   # DirectoryClient for sign-in, the GAL and ResolveNames

    def __post_init__(self):
        from .sessions import MailboxCache
        if self.mailboxes is None:
            self.mailboxes = MailboxCache(self.db, self.config)




async def health(request: web.Request) -> web.Response:
    state: GatewayState = request.app[GATEWAY]
    return web.json_response({"status": "ok", "uptime_s": round(time.time() - state.started, 1),
                              "endpoints": state.endpoints})


async def root(request: web.Request) -> web.Response:
    state: GatewayState = request.app[GATEWAY]
    lines = ["exgate: Exchange protocols in front of IMAP, CalDAV/CardDAV, LDAP and SMTP", ""]
    lines += [f"{name}: {path}" for name, path in state.endpoints.items()]
    return web.Response(text="\n".join(lines) + "\n")


async def _close_mailboxes(app: web.Application) -> None:
    await app[GATEWAY].mailboxes.close()


def build_app(state: GatewayState) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[GATEWAY] = state
    app.on_cleanup.append(_close_mailboxes)
    app.router.add_get("/", root)
    app.router.add_get("/healthz", health)
    state.endpoints.setdefault("health", "/healthz")
    return app
