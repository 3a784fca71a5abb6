"""Session fixtures that start REAL servers on 127.0.0.1, only when a test asks.

Each server gets a free port and its own temp dir, starts once per session on
first use and is stopped by pid at the end (tests/servers/). A server that
fails to start makes every test that needs it error with the server's log.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.servers import (
    DovecotInfo,
    PostfixInfo,
    PostgresInfo,
    RadicaleInfo,
    RealStack,
    SlapdInfo,
    start_dovecot,
    start_postfix,
    start_postgres,
    start_radicale,
    start_slapd,
    start_with_retry,
)
from tests.servers.common import reap_stale_roots
from tests.servers.dovecot import connect_submission

# Backend sets and a running gateway, shared by integration and client tests.
pytest_plugins = ("tests.stacks",)

SERVER_FIXTURES = frozenset({"slapd", "dovecot", "radicale", "postfix", "postgres", "postgres_dsn", "real_stack"})


def pytest_sessionstart(session: pytest.Session) -> None:
    # Servers whose test session was SIGKILLed (so no teardown ran) are
    # stopped by their recorded pids before new ones start.
    reap_stale_roots()


def pytest_configure(config: pytest.Config) -> None:
    # A CI timeout sends SIGTERM; turn it into a normal exit so the atexit
    # hook in tests/servers stops every server that is still running.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that uses a real server is an integration test, wherever it lives.
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def slapd() -> Iterator[SlapdInfo]:
    running = start_with_retry(start_slapd)
    try:
        yield running.info
    finally:
        running.stop()


@pytest.fixture(scope="session")
def dovecot(slapd: SlapdInfo) -> Iterator[DovecotInfo]:
    running = start_with_retry(lambda: start_dovecot(slapd))
    try:
        yield running.info
    finally:
        running.stop()


@pytest.fixture(scope="session")
def radicale(slapd: SlapdInfo) -> Iterator[RadicaleInfo]:
    running = start_with_retry(lambda: start_radicale(slapd))
    try:
        yield running.info
    finally:
        running.stop()


@pytest.fixture(scope="session")
def postfix(dovecot: DovecotInfo) -> Iterator[PostfixInfo]:
    running = start_with_retry(lambda: start_postfix(dovecot))
    # Sieve vacation replies leave Dovecot through this Postfix
    connect_submission(dovecot, running.info.host, running.info.port)
    try:
        yield running.info
    finally:
        running.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresInfo]:
    running = start_with_retry(start_postgres)
    try:
        yield running.info
    finally:
        running.stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres: PostgresInfo) -> str:
    return postgres.dsn


@pytest.fixture(scope="session")
def real_stack(
    slapd: SlapdInfo, dovecot: DovecotInfo, radicale: RadicaleInfo, postfix: PostfixInfo, postgres_dsn: str
) -> RealStack:
    return RealStack(slapd=slapd, dovecot=dovecot, radicale=radicale, postfix=postfix, postgres_dsn=postgres_dsn)
