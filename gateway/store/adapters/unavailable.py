"""A backend client seen through the store: a server that cannot be reached comes out as the store's
BackendUnavailable (EWS ErrorMailboxStoreUnavailable, ROP ecNetwork...), whatever the adapter method.

Without it, an adapter path that does not catch BackendError itself (an APPEND, a FETCH of the
message) let the raw backend error through (EWS ErrorInternalServerError), or turned it into
NotFound ("the message is no longer in the folder") while the server was merely down."""
from __future__ import annotations

import functools
import inspect

from gateway.backends.base import BackendError

from ..errors import BackendUnavailable


class Reachable:
    """Wraps a backend client: its coroutine methods raise BackendUnavailable for a BackendError of
    kind "unavailable" (connection refused, reset, timed out); everything else passes unchanged."""

    __slots__ = ("_client",)

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        value = getattr(self._client, name)
        if not inspect.iscoroutinefunction(value):
            return value

        @functools.wraps(value)
        async def call(*args, **kwargs):
            try:
                return await value(*args, **kwargs)
            except BackendError as exc:
                if exc.kind == "unavailable":
                    raise BackendUnavailable(str(exc)) from exc
                raise
        return call
