"""Integration tests use the shared fixtures of tests/stacks.py (loaded as a plugin by tests/conftest.py)."""
from tests.stacks import USERS, embedded_config, real_config  # noqa: F401  (helpers tests import from here)
