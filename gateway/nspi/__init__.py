"""NSPI front end: MAPI over HTTP's address book endpoint ``/mapi/nspi/`` (MS-OXNSPI, MS-OXCMAPIHTTP 2.2.5).

``register(app)`` adds the route (any letter case, as IIS matches paths; Autodiscover publishes
``<base>/mapi/nspi/?MailboxId=<address>``). The pieces:

- ``endpoint``: the HTTP handler on the shared MAPI/HTTP transport (``gateway.http.mapihttp``).
- ``session``: the Session Context of a Bind, with the MIds it handed out (stable until Unbind).
- ``book``: the address book one call sees: the store's GAL (``gateway.store.directory``), the
  containers, STAT positions, each entry's properties with this session's ids.
- ``rows``: return codes, entry ids, rows and value lists in the types the client asks for.
- ``calls``: the handler table, one handler per NSPI call.
"""
from __future__ import annotations

from aiohttp import web

NSPI_PATH = "/mapi/nspi/"


def register(app: web.Application) -> None:
    from gateway.http.keys import GATEWAY
    from .endpoint import SESSIONS, handle_nspi, shutdown
    from .session import NspiSessionTable
    app[SESSIONS] = NspiSessionTable()
    app.router.add_route("POST", r"/{nspi_path:(?i:mapi/nspi/?)}", handle_nspi)
    app[GATEWAY].endpoints.setdefault("mapi-nspi", NSPI_PATH)
    app.on_cleanup.append(shutdown)
