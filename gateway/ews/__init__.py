"""EWS front end: ``/EWS/Exchange.asmx`` (SOAP 1.1), one handler per operation on the store.

``register(app)`` adds the route (any letter case, as IIS matches paths); the operation table is
``dispatch.OPERATIONS`` (name -> handler). Handlers get an ``EwsContext`` and return the
``m:<Op>Response`` element; this module wraps it in the envelope with ServerVersionInfo.
"""
from __future__ import annotations

from aiohttp import web

EWS_PATH = "/EWS/Exchange.asmx"


def register(app: web.Application) -> None:
    from gateway.http.keys import GATEWAY
    from .endpoint import handle_ews, handle_ews_get
    from .notifications import shutdown
    route = r"/{ews_path:(?i:ews/exchange\.asmx)}"
    app.router.add_route("POST", route, handle_ews)
    app.router.add_route("GET", route, handle_ews_get)
    app[GATEWAY].endpoints.setdefault("ews", EWS_PATH)
    app.on_cleanup.append(shutdown)   # notification feeds and push tasks end with the gateway
    from .notifications import registry_for
    registry = registry_for(app[GATEWAY])
    # a user's mailbox stays open while one of their subscriptions' feeds works on it
    app[GATEWAY].mailboxes.in_use.append(lambda email: email in registry.feeds or bool(registry.of_owner(email)))
