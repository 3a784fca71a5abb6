"""Integration tests use the shared fixtures of tests/stacks.py (loaded as a plugin by tests/conftest.py)."""
from tests.stacks import USERS, embedded_config, real_config  # noqa: F401  (helpers tests import from here)

import urllib.parse
import uuid

import psycopg
import pytest


@pytest.fixture
def fresh_pg(postgres_dsn):
    """A PostgreSQL database of the test's own on the test server (the session's one holds other tests'
    mailboxes); dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(postgres_dsn)
    yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
