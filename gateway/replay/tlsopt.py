"""The client side's TLS choice, shared by the replay driver and the recording proxy."""
from __future__ import annotations

import ssl


def client_ssl(verify_tls: bool) -> ssl.SSLContext | bool:
    """aiohttp's ``ssl=``: the default verification, or none (a gateway's self-signed certificate)."""
    if verify_tls:
        return True
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
