"""An NSPI Session Context (one per Bind): the MAPI/HTTP session plus the Minimal Entry IDs it handed out.

MIds (MS-OXNSPI 2.2.9.1) are this server's short names for address-book objects. They are stable for
the session: the first time a LegacyExchangeDN is seen it gets the next number, and keeps it until
Unbind. Numbers below ``FIRST_ENTRY_MID`` are reserved (0..0xF by the spec; the containers after it).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from gateway.http.mapihttp import MapiSession
from gateway.http.mapihttp import SessionTable as _Table

FIRST_ENTRY_MID = 0x1000


@dataclass(eq=False)
class NspiSession(MapiSession):
    server_guid: uuid.UUID = field(default_factory=uuid.uuid4)
    bind_code_page: int = 1252
    _mid_of: dict[str, int] = field(default_factory=dict)
    _dn_of: dict[int, str] = field(default_factory=dict)
    book: Any = None            # the AddressBook last built for this session (book.py AddressBook.load)

    def mid(self, dn: str) -> int:
        """The MId of an object's DN: the same one for as long as the session lives."""
        key = dn.lower()
        m = self._mid_of.get(key)
        if m is None:
            m = FIRST_ENTRY_MID + len(self._mid_of)
            self._mid_of[key] = m
            self._dn_of[m] = key
        return m

    def dn(self, mid: int) -> str | None:
        """The (lower-cased) DN a MId was given for, None for a MId this session never gave out."""
        return self._dn_of.get(mid)

    def close(self) -> None:
        super().close()
        self._mid_of.clear()
        self._dn_of.clear()
        self.book = None


class NspiSessionTable(_Table):
    def __init__(self, **kw):
        super().__init__(session_class=NspiSession, **kw)
