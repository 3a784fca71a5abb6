"""Autodiscover front end: POX (``/autodiscover/autodiscover.xml``, MS-OXDSCLI), SOAP
(``/autodiscover/autodiscover.svc``, MS-OXWSADISC GetUserSettings) and JSON
(``/autodiscover/autodiscover.json/v1.0/<address>?Protocol=...``). ``register(app)`` adds the routes."""
from __future__ import annotations

from aiohttp import web


def register(app: web.Application) -> None:
    from gateway.http.keys import GATEWAY
    from .handlers import ANONYMOUS_LIMIT, AnonymousLimit, handle_json, handle_pox, handle_soap
    app[ANONYMOUS_LIMIT] = AnonymousLimit()
    app.router.add_route("POST", r"/{ad_path:(?i:autodiscover/autodiscover\.xml)}", handle_pox)
    app.router.add_route("GET", r"/{ad_path:(?i:autodiscover/autodiscover\.xml)}", handle_pox)
    app.router.add_route("POST", r"/{ad_path:(?i:autodiscover/autodiscover\.svc)}", handle_soap)
    app.router.add_route("GET", r"/{ad_path:(?i:autodiscover/autodiscover\.json)}{rest:(/.*)?}", handle_json)
    eps = app[GATEWAY].endpoints
    eps.setdefault("autodiscover", "/autodiscover/autodiscover.xml")
    eps.setdefault("autodiscover-soap", "/autodiscover/autodiscover.svc")
    eps.setdefault("autodiscover-json", "/autodiscover/autodiscover.json/v1.0/<address>?Protocol=EWS")
