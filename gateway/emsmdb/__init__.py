"""EMSMDB front end: MAPI over HTTP's mailbox endpoint ``/mapi/emsmdb/`` (MS-OXCMAPIHTTP), ROPs on the store.

``register(app)`` adds the route (any letter case, as IIS matches paths; Autodiscover publishes
``<base>/mapi/emsmdb/?MailboxId=<address>``). The pieces:

- ``endpoint``: the HTTP handler: header validation (``protocols.mapihttp.validate_request``; a
  rejection is HTTP 200 with its X-ResponseCode), the session cookies and their sequence check, the
  PROCESSING/PENDING/DONE framing; Connect, Execute, Disconnect, NotificationWait and PING.
- ``sessions``: the Session Contexts of this process (bounded per user, expired when idle); each holds
  its server object handle table (``objects``).
- ``execute``: one Execute's RopBuffer: the RPC_HEADER_EXT chain, each ROP through the handler table,
  the response buffer (MaxRopOut, RopBufferTooSmall).
- ``rops``: the ROP handler table, one module per family, one handler per ROP (RopId -> handler).
"""
from __future__ import annotations

from aiohttp import web

EMSMDB_PATH = "/mapi/emsmdb/"


def register(app: web.Application) -> None:
    from gateway.http.keys import GATEWAY
    from .endpoint import SESSIONS, handle_emsmdb, shutdown
    from .sessions import SessionTable
    table = app[SESSIONS] = SessionTable()
    # a user's mailbox stays open while their notification feed reads its change source
    app[GATEWAY].mailboxes.in_use.append(lambda email: email in table.feeds)
    app.router.add_route("POST", r"/{emsmdb_path:(?i:mapi/emsmdb/?)}", handle_emsmdb)
    app[GATEWAY].endpoints.setdefault("mapi-emsmdb", EMSMDB_PATH)
    app.on_cleanup.append(shutdown)
