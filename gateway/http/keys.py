"""Keys under which the web app keeps shared state, for the front ends to read.

This module imports no front end and nothing of the app: ``gateway/http/app.py`` (the composition
root) puts the ``GatewayState`` under ``GATEWAY`` and registers the front ends' routes; a front end
reads ``request.app[GATEWAY]`` without importing the app (tests/unit/test_layering.py)."""
from __future__ import annotations

from aiohttp import web

GATEWAY = web.AppKey("gateway", object)   # gateway.http.app.GatewayState
