"""Connection-bound sign-in state, as IIS keeps it for NTLM and Negotiate.

The NTLM CHALLENGE/AUTHENTICATE round trip must happen on one keep-alive
connection, and after it succeeds the rest of that connection is signed in
(MS-NLMP is connection-oriented over HTTP; clients rely on it and send no
header on later requests). State is keyed by the connection's transport in a
WeakKeyDictionary, so it disappears with the connection; a transport that is
closing is never trusted.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.http.sessions import AuthenticatedUser


@dataclass
class ConnectionState:
    user: AuthenticatedUser | None = None
    pending: Any = None          # a handshake in progress (ntlm.NtlmServerContext / negotiate state)
    scheme: str | None = None


class ConnectionTable:
    def __init__(self, max_entries: int = 10_000):
        self.max_entries = max_entries
        self._states: "weakref.WeakKeyDictionary[object, ConnectionState]" = weakref.WeakKeyDictionary()

    @staticmethod
    def _key(request: web.Request):
        transport = request.transport
        if transport is None or transport.is_closing():
            return None
        return transport

    def get(self, request: web.Request, create: bool = False) -> ConnectionState | None:
        key = self._key(request)
        if key is None:
            return None
        st = self._states.get(key)
        if st is None and create:
            if len(self._states) >= self.max_entries and not self._evict_oldest():
                return None
            st = self._states[key] = ConnectionState()
        return st

    def _evict_oldest(self) -> bool:
        """Make room: the oldest connection with a handshake still pending (not a signed-in one)
        loses its state, so idle half-finished handshakes cannot lock NTLM out for everyone."""
        for key, st in self._states.items():      # insertion order: oldest first
            if st.user is None:
                del self._states[key]
                if not key.is_closing():
                    key.close()
                return True
        return False

    def user_for(self, request: web.Request) -> AuthenticatedUser | None:
        st = self.get(request)
        return st.user if st is not None else None

    def forget(self, request: web.Request) -> None:
        key = self._key(request)
        if key is not None:
            self._states.pop(key, None)

    def __len__(self) -> int:
        return len(self._states)
