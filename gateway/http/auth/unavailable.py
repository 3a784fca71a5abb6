"""The answer to a sign-in the directory could not check (both the Basic path in middleware.py and
the NTLM/Negotiate handshake in handshake.py give it; kept here so neither imports the other)."""
from __future__ import annotations

import logging

from aiohttp import web

log = logging.getLogger("exgate.auth")


def directory_unavailable(exc: Exception) -> web.HTTPServiceUnavailable:
    """The directory could not answer: not the user's fault, so no 401 and no throttling."""
    log.warning("directory unavailable during sign-in: %s", exc)
    return web.HTTPServiceUnavailable(reason="directory unavailable",
                                      text="503 Service Unavailable: the directory could not check the sign-in\n")
