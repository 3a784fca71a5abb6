"""An idle HTTPS connection must not hold asyncio's 256 KiB ciphertext buffer (290 KiB per idle
connection before; bench/workers.py prints the figure): the gateway asks for 64 KiB ones."""
from __future__ import annotations

import asyncio.sslproto

from gateway.http import tls


def test_tls_read_buffers_are_smaller(monkeypatch):
    monkeypatch.setattr(asyncio.sslproto.SSLProtocol, "max_size", 256 * 1024)
    tls.smaller_read_buffers()
    assert asyncio.sslproto.SSLProtocol.max_size == tls.TLS_READ_BUFFER == 64 * 1024
    loop = asyncio.new_event_loop()
    try:
        proto = asyncio.sslproto.SSLProtocol(loop, asyncio.Protocol(), tls.ssl.create_default_context(), None)
        assert len(proto._ssl_buffer) == 64 * 1024   # what each connection holds for its life
    finally:
        loop.close()
    tls.smaller_read_buffers(1 << 20)                 # never made larger than asyncio's own
    assert asyncio.sslproto.SSLProtocol.max_size == 64 * 1024
