"""Stalled connections are cut (gateway/http/guard.py), and idle NTLM handshakes cannot lock others out.

Against the running demo gateway over TLS with raw sockets: a request head
that never completes, a TLS connection that sends nothing, and a body shorter
than its Content-Length are each closed (or answered 408) after the
configured time instead of being held; 30 connections left after NEGOTIATE do
not stop a new client's NTLM sign-in when the table holds 10.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import time
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlsplit

import requests
import urllib3
from requests_ntlm import HttpNtlmAuth

from gateway.http.auth import AUTH
from gateway.http.auth.credentials import NtHashStore
from gateway.http.guard import GUARD

urllib3.disable_warnings()


@contextmanager
def quick_guard(gw, **settings):
    guard = gw.runner.app[GUARD]
    before = guard.settings
    guard.settings = replace(before, sweep_seconds=0.2, **settings)
    try:
        yield guard
    finally:
        guard.settings = before


def tls_socket(gw) -> ssl.SSLSocket:
    u = urlsplit(gw.base_url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((u.hostname, u.port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname=u.hostname)


def closed_after(sock: ssl.SSLSocket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closed the connection (reading what it sent)."""
    start = time.monotonic()
    sock.settimeout(limit)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, ssl.SSLError, OSError):
        pass
    return time.monotonic() - start, got


async def test_partial_request_head_is_cut(demo_gateway):
    with quick_guard(demo_gateway, head_seconds=1.0, idle_seconds=60.0) as guard:
        before = guard.closed_count
        sock = await asyncio.to_thread(tls_socket, demo_gateway)
        await asyncio.to_thread(sock.sendall, b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n")
        took, _ = await asyncio.to_thread(closed_after, sock, 20)
        sock.close()
    assert took < 15, "a never-finished request head was held"
    assert guard.closed_count > before


async def test_idle_tls_connection_is_cut(demo_gateway):
    with quick_guard(demo_gateway, idle_seconds=1.0) as guard:
        before = guard.closed_count
        sock = await asyncio.to_thread(tls_socket, demo_gateway)        # handshake done, then nothing
        took, _ = await asyncio.to_thread(closed_after, sock, 20)
        sock.close()
    assert took < 15, "an idle connection was held"
    assert guard.closed_count > before


async def test_short_body_gets_408(demo_gateway):
    with quick_guard(demo_gateway, body_seconds=1.0):
        sock = await asyncio.to_thread(tls_socket, demo_gateway)
        await asyncio.to_thread(sock.sendall, b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Type: text/xml\r\nContent-Length: 500\r\n\r\n<Autodiscover>")
        took, got = await asyncio.to_thread(closed_after, sock, 20)
        sock.close()
    assert got.startswith(b"HTTP/1.1 408"), got[:200]
    assert took < 15


async def test_idle_ntlm_handshakes_do_not_lock_out_others(demo_gateway):
    auth = demo_gateway.runner.app[AUTH]
    NtHashStore(demo_gateway.state.db).set_password("alice", "alicepw")
    old_max = auth.connections.max_entries
    auth.connections.max_entries = 10
    held = []
    try:
        negotiate = "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="
        def negotiate_only():
            sock = tls_socket(demo_gateway)
            sock.sendall(b"GET /exgate/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: " + negotiate.encode()
                         + b"\r\n\r\n")
            sock.settimeout(10)
            assert b"401" in sock.recv(4096)
            return sock

        for _ in range(30):
            held.append(await asyncio.to_thread(negotiate_only))   # left after the CHALLENGE, never answered
        s = requests.Session()
        s.verify = False
        s.trust_env = False
        r = await asyncio.to_thread(s.get, demo_gateway.base_url + "/exgate/whoami",
                                    auth=HttpNtlmAuth("alice", "alicepw"))
        assert r.status_code == 200 and r.json()["method"] == "ntlm"
        assert len(auth.connections) <= 10
    finally:
        auth.connections.max_entries = old_max
        for sock in held:
            sock.close()


async def test_normal_keep_alive_requests_still_work(demo_gateway):
    path = "/EWS/Exchange.asmx"
    with quick_guard(demo_gateway, idle_seconds=30.0):
        s = requests.Session()
        s.verify = False
        s.trust_env = False
        for _ in range(3):
            r = await asyncio.to_thread(s.post, demo_gateway.base_url + path, data=b"<x/>",
                                        auth=("alice", "alicepw"), headers={"Content-Type": "text/xml"})
            assert r.status_code in (200, 400, 500) and r.status_code != 408
