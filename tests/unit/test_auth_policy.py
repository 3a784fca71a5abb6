"""Pure parts of sign-in: throttle, log redaction, Basic parsing, public paths, body limits, ownership."""
from __future__ import annotations

import asyncio

import base64
import io
import logging

import pytest

from gateway.http.auth import policy
from gateway.http.auth.access import owns_mailbox
from gateway.http.auth.basic import parse_basic, strip_domain
from gateway.http.auth.credentials import nt_hash
from gateway.http.auth.redact import RedactSecrets, redact
from gateway.http.auth.throttle import Throttle, ThrottleSettings
from gateway.http.sessions import AuthenticatedUser


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_throttle_grows_exponentially_and_is_bounded():
    clock = Clock()
    th = Throttle(ThrottleSettings(base_delay=0.5, max_delay=4.0, window=60), clock=clock)
    assert th.delay("alice", "10.0.0.1") == 0
    delays = []
    for _ in range(6):
        th.failure("alice", "10.0.0.1")
        delays.append(th.delay("alice", "10.0.0.1"))
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_throttle_per_user_and_per_address():
    th = Throttle(ThrottleSettings(base_delay=1, max_delay=100), clock=Clock())
    for _ in range(3):
        th.failure("alice", "10.0.0.1")
    assert th.delay("alice", "10.9.9.9") == 4      # same user from elsewhere: slowed
    assert th.delay("bob", "10.0.0.1") == 4        # another user from the same address: slowed
    assert th.delay("bob", "10.9.9.9") == 0
    assert th.delay("EXAMPLE\\ALICE", None) == 4   # one account however it is written


def test_throttle_success_clears_and_window_forgets():
    clock = Clock()
    th = Throttle(ThrottleSettings(base_delay=1, window=60), clock=clock)
    th.failure("alice", "a")
    th.success("alice", "a")
    assert th.delay("alice", "a") == 0
    th.failure("bob", "b")
    clock.t += 61
    assert th.delay("bob", "b") == 0


def test_throttle_table_is_bounded():
    th = Throttle(ThrottleSettings(max_entries=10), clock=Clock())
    for i in range(50):
        th.failure(f"user{i}", f"10.0.0.{i}")
    assert len(th._by_user) <= 10 and len(th._by_addr) <= 10


async def test_throttle_wait_sleeps():
    th = Throttle(ThrottleSettings(base_delay=0.05))
    th.failure("alice", None)
    assert await th.wait("alice", None) == pytest.approx(0.05)


async def test_parallel_guesses_are_checked_one_at_a_time_with_growing_delays():
    # 12 wrong passwords for one account sent at once: each check waits for the one before it and
    # for the delay the failures so far earned, so the delays grow as if they had come one by one.
    th = Throttle(ThrottleSettings(base_delay=0.001, max_delay=0.008))
    running, most, delays = 0, 0, []

    async def guess():
        nonlocal running, most
        async with th.attempt("carol", "10.0.0.9") as delay:
            running += 1
            most = max(most, running)
            delays.append(delay)
            await asyncio.sleep(0)
            th.failure("carol", "10.0.0.9")
            running -= 1

    await asyncio.gather(*(guess() for _ in range(12)))
    assert most == 1
    assert delays == [0.0, 0.001, 0.002, 0.004] + [0.008] * 8
    assert th.failures("carol") == 12 and th.in_flight() == 0


async def test_checks_from_one_address_are_bounded():
    th = Throttle(ThrottleSettings(per_address=4))
    running, most = 0, 0

    async def check(user):
        nonlocal running, most
        async with th.attempt(user, "10.0.0.7"):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(check(f"user{i}") for i in range(20)))
    assert most == 4 and th.in_flight() == 0


SECRETS_IN_LOGS = [
    ("Authorization: Basic YWxpY2U6YWxpY2Vwdw==", "YWxpY2U6YWxpY2Vwdw"),
    ("headers {'Authorization': 'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=='}", "TlRMTVNTUA"),
    ("WWW-Authenticate: Negotiate oRswGaADCgEAoxIEEAEAAAD3Cp40MGiX", "oRswGaADCgEAoxIE"),
    ("login alice password=alicepw ok", "alicepw"),
    ("dav service_password: s3cr3t!", "s3cr3t!"),
    (f"hash {nt_hash('alicepw').hex()} stored", nt_hash("alicepw").hex()),
    (f"hash {nt_hash('alicepw').hex().upper()} stored", nt_hash("alicepw").hex().upper()),
]


@pytest.mark.parametrize("line,secret", SECRETS_IN_LOGS)
def test_redact(line, secret):
    assert secret not in redact(line)


def test_log_filter_on_a_handler():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("test.auth.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("request headers: %s", {"Authorization": "Basic YWxpY2U6YWxpY2Vwdw=="})
        logger.warning("bind as %s with password=%s", "alice", "alicepw")
        try:
            raise ValueError("token=abcdef123456 leaked")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "YWxpY2U6YWxpY2Vwdw" not in out and "alicepw" not in out and "abcdef123456" not in out
    assert "alice" in out and "<redacted>" in out


def test_parse_basic():
    enc = lambda s: base64.b64encode(s.encode("utf-8")).decode()
    assert parse_basic(enc("alice:pw:with:colons")) == ("alice", "pw:with:colons")
    assert parse_basic(enc("jürgen:pässword")) == ("jürgen", "pässword")
    assert parse_basic(base64.b64encode("jürgen:x".encode("latin-1")).decode()) == ("jürgen", "x")
    assert parse_basic("!!!") is None
    assert parse_basic(enc("nocolon")) is None
    assert parse_basic(enc(":pw")) is None
    assert strip_domain("EXAMPLE\\alice") == "alice" and strip_domain("alice@example.test") == "alice@example.test"


def test_public_endpoints_are_exact():
    assert policy.is_public("GET", "/healthz")
    assert policy.is_public("post", "/Autodiscover/Autodiscover.xml")
    assert not policy.is_public("GET", "/autodiscover/autodiscover.xml")
    assert not policy.is_public("POST", "/EWS/Exchange.asmx")
    assert not policy.is_public("GET", "/healthz/../EWS/Exchange.asmx")
    assert not policy.is_public("GET", "/exgate/whoami")


def test_body_limits():
    assert policy.body_limit("/autodiscover/autodiscover.xml").max_bytes == 64 * 1024
    assert policy.body_limit("/EWS/Exchange.asmx").max_bytes >= 35 * 1024 * 1024
    assert policy.body_limit("/rpc/rpcproxy.dll").max_bytes is None
    assert policy.body_limit("/anything").max_bytes == 1024 * 1024


def test_owns_mailbox():
    alice = AuthenticatedUser("alice", "Alice@Example.test", "Alice")
    assert owns_mailbox(alice, "alice@example.test")
    assert owns_mailbox(alice, "SMTP:ALICE@example.test")
    assert owns_mailbox(alice, "<alice@example.test>")
    assert not owns_mailbox(alice, "bob@example.test")
    assert not owns_mailbox(alice, "")
