"""What an NSPI handler is given: the session, the directory (through the store) and the request."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.store.directory import Directory
from protocols.nspi.codec import FailureResponse, Stat

from .. import rows as R
from ..book import AddressBook
from ..session import NspiSession


@dataclass
class Call:
    name: str                   # the NSPI call (codec name: "QueryRows", ...)
    session: NspiSession | None  # None for Bind (it makes the session)
    directory: Directory
    user: Any                   # the signed-in user
    base_url: str               # https://host[:port], as Autodiscover publishes it

    async def book(self, max_age: float = 0.0) -> AddressBook:
        """The address book of this call. The directory's GAL snapshot is checked for changes first, unless
        ``max_age`` allows one checked that recently (``Directory.gal``); the session keeps the book built
        on a snapshot (MIds, lookups) for as long as the snapshot is the directory's."""
        return await AddressBook.load(self.directory, self.session, max_age)

    def fail(self, code: int) -> FailureResponse:
        return FailureResponse(self.name, code)


def unicode_wanted(stat: Stat | None) -> bool:
    return stat is not None and stat.code_page == R.CP_WINUNICODE


def with_stat(stat: Stat, **changes) -> Stat:
    from dataclasses import replace
    return replace(stat, **changes)
