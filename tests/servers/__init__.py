"""Real servers for integration tests, each on 127.0.0.1 on a free port in a temp dir.

One module per server; tests/conftest.py turns them into session fixtures.
Each `start_*` returns a `Running[Info]`: `.info` is a frozen dataclass with
what a test needs to connect, `.stop()` stops the server by pid and removes
its temp dir.
"""

from __future__ import annotations

from dataclasses import dataclass

from .common import Running, ServerStartError, free_port, start_with_retry, wait_for_port
from .dovecot import DovecotInfo, start_dovecot
from .postfix import PostfixInfo, start_postfix
from .postgres import PostgresInfo, start_postgres
from .radicale import RadicaleInfo, start_radicale
from .slapd import DIRECTORY_USERS, SlapdInfo, start_slapd


@dataclass(frozen=True)
class RealStack:
    """Every real backend at once, wired together as a deployment would be."""

    slapd: SlapdInfo
    dovecot: DovecotInfo
    radicale: RadicaleInfo
    postfix: PostfixInfo
    postgres_dsn: str


__all__ = [
    "DIRECTORY_USERS",
    "DovecotInfo",
    "PostfixInfo",
    "PostgresInfo",
    "RadicaleInfo",
    "RealStack",
    "Running",
    "ServerStartError",
    "SlapdInfo",
    "free_port",
    "start_dovecot",
    "start_postfix",
    "start_postgres",
    "start_radicale",
    "start_slapd",
    "start_with_retry",
    "wait_for_port",
]
