"""Start the gateway's HTTP(S) server in the running loop (used by the CLI and by client tests)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.config import Config
from gateway.store.state.db import StateDB

from . import tls
from .app import GatewayState, build_app

log = logging.getLogger(__name__)


@dataclass
class RunningGateway:
    base_url: str
    state: GatewayState
    runner: web.AppRunner
    certificate: Path | None

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_gateway(cfg: Config, data_dir: Path, *, db: StateDB | None = None,
                        directory=None, worker: int | None = None) -> RunningGateway:
    """Open the state database, build the app and listen on cfg.http.host:port (0 = a free port).

    ``worker``: this process is worker number ``worker`` of `exgate serve --workers N` (gateway/workers.py):
    the port is shared with the other workers (SO_REUSEPORT; the kernel spreads new connections over
    them), every response says which worker answered (``X-Exgate-Worker: <n>``, a number, no pid), and the
    worker also listens on its private Unix socket for MAPI/HTTP requests the other workers forward to it
    (gateway/http/forward.py)."""
    if directory is None:
        from gateway.store.factory import directory_from_config
        try:
            directory = directory_from_config(cfg)
        except Exception as exc:   # sign-ins then answer 503 "directory unavailable", never a silent 401
            log.error("the directory cannot be used: %s (sign-ins will fail until the configuration is fixed)", exc)
            directory = None
    state = GatewayState(cfg, db or StateDB.open(cfg.state.dsn), directory=directory, data_dir=data_dir)
    hc = cfg.http
    app = build_app(state)
    if worker is not None:
        from . import forward       # MAPI sessions held by another worker are reached on its private socket
        sockets = forward.as_worker(app, worker, data_dir)
        async def _which_worker(request: web.Request, response: web.StreamResponse) -> None:
            response.headers["X-Exgate-Worker"] = str(worker)
        app.on_response_prepare.append(_which_worker)
    from .guard import GUARD, GuardedRunner
    runner = GuardedRunner(app, app[GUARD], access_log=None, keepalive_timeout=app[GUARD].settings.idle_seconds)
    await runner.setup()
    ssl_ctx, cert = None, None
    if hc.tls:
        cert = Path(hc.cert_file) if hc.cert_file else data_dir / "tls" / "exgate.crt"
        key = Path(hc.key_file) if hc.key_file else data_dir / "tls" / "exgate.key"
        if not hc.cert_file:
            tls.ensure_self_signed(cert, key, tls.names_for(hc.host, hc.public_url))
        ssl_ctx = tls.server_context(cert, key)
        tls.smaller_read_buffers()
    site = web.TCPSite(runner, hc.host, hc.port, ssl_context=ssl_ctx, reuse_port=worker is not None or None)
    await site.start()
    if worker is not None:
        await web.SockSite(runner, forward.bind_private_socket(sockets)).start()
    port = runner.addresses[0][1] if runner.addresses else hc.port
    scheme = "https" if hc.tls else "http"
    return RunningGateway(f"{scheme}://{hc.host}:{port}", state, runner, cert)
