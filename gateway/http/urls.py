"""The gateway's public base URL: what clients are told (Autodiscover, NSPI's GetMailboxUrl)."""
from __future__ import annotations

from aiohttp import web


def public_base_url(request: web.Request) -> str:
    """``[http] public_url`` when set (a proxy or a port mapping in front), else this request's scheme and host."""
    from .keys import GATEWAY
    state = request.app.get(GATEWAY)
    public = getattr(getattr(getattr(state, "config", None), "http", None), "public_url", None)
    if public:
        return public.rstrip("/")
    return f"{request.scheme}://{request.host}"
