"""What the store needs from each kind of backend.

Each interface is a typing.Protocol so a second implementation (another IMAP
library, a JMAP client, a test double for pure unit tests) can be dropped in.
Backends never know MAPI: they speak IMAP, WebDAV, LDAP and SMTP terms.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncIterator, Protocol, Sequence, runtime_checkable


class BackendError(Exception):
    """A backend refused or failed an operation; ``kind`` says which way."""

    def __init__(self, message: str, kind: str = "failed"):
        super().__init__(message)
        self.kind = kind  # "auth", "notfound", "conflict", "denied", "unavailable", "failed"


# ---------------------------------------------------------------- IMAP

@dataclass(frozen=True)
class ImapFolderInfo:
    """One LIST answer (RFC 3501 7.2.2, RFC 6154 SPECIAL-USE)."""

    name: str                     # decoded (modified UTF-7 -> str) full name
    delimiter: str | None
    flags: frozenset[str]         # e.g. {"\\HasChildren", "\\Noselect"}
    special_use: str | None       # "\\Sent", "\\Trash", "\\Drafts", "\\Junk", "\\Archive", ... or None


@dataclass(frozen=True)
class ImapFolderStatus:
    """SELECT/STATUS facts that decide whether cached ids are still valid."""

    uidvalidity: int
    uidnext: int
    exists: int
    unseen: int | None = None
    highestmodseq: int | None = None   # CONDSTORE (RFC 7162) when offered
    mailboxid: str | None = None       # OBJECTID (RFC 8474) when offered


@dataclass(frozen=True)
class ImapAddress:
    name: str | None
    mailbox: str | None   # local part
    host: str | None

    @property
    def email(self) -> str:
        if self.mailbox and self.host:
            return f"{self.mailbox}@{self.host}"
        return self.mailbox or ""


@dataclass(frozen=True)
class ImapEnvelope:
    """ENVELOPE (RFC 3501 7.4.2), header words already decoded (RFC 2047)."""

    date: datetime | None
    subject: str | None
    from_: tuple[ImapAddress, ...] = ()
    sender: tuple[ImapAddress, ...] = ()
    reply_to: tuple[ImapAddress, ...] = ()
    to: tuple[ImapAddress, ...] = ()
    cc: tuple[ImapAddress, ...] = ()
    bcc: tuple[ImapAddress, ...] = ()
    in_reply_to: str | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class ImapMessageSummary:
    """What a contents table needs without downloading bodies."""

    uid: int
    flags: frozenset[str]          # system flags and keywords as sent, e.g. "\\Seen", "$Forwarded"
    size: int                      # RFC822.SIZE
    internaldate: datetime         # aware
    envelope: ImapEnvelope | None = None
    modseq: int | None = None      # CONDSTORE
    emailid: str | None = None     # OBJECTID
    has_attachments: bool | None = None  # from BODYSTRUCTURE when fetched
    content_type: str | None = None      # top-level type/subtype from BODYSTRUCTURE
    headers: bytes | None = None         # SUMMARY_HEADERS as sent (with the envelope), for table columns


@dataclass(frozen=True)
class ImapChanges:
    """Result of a change query since a known state (QRESYNC/CONDSTORE or full diff)."""

    status: ImapFolderStatus
    changed: tuple[ImapMessageSummary, ...]   # new or flag-changed messages
    vanished: tuple[int, ...]                 # UIDs gone since the known state
    full_resync: bool = False                 # UIDVALIDITY changed: every cached id is void


@dataclass(frozen=True)
class ImapEvent:
    """Something changed in a folder; the store then asks for changes."""

    folder: str
    kind: str = "changed"  # "exists", "expunge", "flags", "changed"


class ImapClient(Protocol):
    """One user's IMAP access (pooled connections inside)."""

    capabilities: frozenset[str]   # upper-case, post-authentication

    async def list_folders(self) -> list[ImapFolderInfo]: ...
    async def status(self, folder: str) -> ImapFolderStatus: ...
    async def uids(self, folder: str) -> list[int]: ...
    async def fetch_summaries(self, folder: str, uids: str = "1:*", *, envelope: bool = True,
                              bodystructure: bool = False) -> list[ImapMessageSummary]: ...
    async def fetch_message(self, folder: str, uid: int) -> bytes: ...
    async def fetch_part(self, folder: str, uid: int, section: str) -> bytes: ...
    async def append(self, folder: str, message: bytes, flags: Sequence[str] = (),
                     date: datetime | None = None) -> tuple[int, int | None]:
        """Returns (uidvalidity, uid); uid None only when the server lacks UIDPLUS and it could not be found."""
    async def store_flags(self, folder: str, uids: Sequence[int], flags: Sequence[str], *,
                          mode: str = "+", unchangedsince: int | None = None) -> list[int]:
        """mode "+", "-" or "" (replace); returns UIDs refused by UNCHANGEDSINCE ([MODIFIED])."""
    async def copy(self, folder: str, uids: Sequence[int], dest: str) -> dict[int, int]:
        """Returns {source uid: destination uid} from COPYUID."""
    async def move(self, folder: str, uids: Sequence[int], dest: str) -> dict[int, int]: ...
    async def expunge(self, folder: str, uids: Sequence[int]) -> None:
        """Mark \\Deleted and UID EXPUNGE exactly these UIDs."""
    async def create_folder(self, name: str, special_use: str | None = None) -> None: ...
    async def rename_folder(self, old: str, new: str) -> None: ...
    async def delete_folder(self, name: str) -> None: ...
    async def changes_since(self, folder: str, uidvalidity: int, modseq: int | None,
                            known_uids: Sequence[int] | None = None) -> ImapChanges:
        """QRESYNC/CONDSTORE when offered; else a full UID FETCH (FLAGS) diff against known_uids."""
    def watch(self, folders: Sequence[str]) -> AsyncIterator[ImapEvent]:
        """NOTIFY, else IDLE on each folder, else polling; runs until the iterator is closed."""
    async def close(self) -> None: ...


# ---------------------------------------------------------------- CalDAV / CardDAV

@dataclass(frozen=True)
class DavCollection:
    href: str                      # absolute path, ends with "/"
    display_name: str | None
    kind: str                      # "calendar" or "addressbook"
    components: frozenset[str] = frozenset()  # {"VEVENT"}, {"VTODO"}, ... for calendars
    ctag: str | None = None        # getctag when offered
    sync_token: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class DavResource:
    href: str
    etag: str | None
    data: bytes | None = None      # iCalendar or vCard text when asked for


@dataclass(frozen=True)
class DavSyncResult:
    sync_token: str
    changed: tuple[DavResource, ...]   # etag set, data None unless asked
    deleted: tuple[str, ...]           # hrefs answered 404


class DavClient(Protocol):
    """One user's CalDAV+CardDAV access (RFC 4791, RFC 6352, RFC 6578)."""

    async def discover(self) -> tuple[list[DavCollection], list[DavCollection]]:
        """(calendars, addressbooks) from current-user-principal and the home sets."""
    async def list_resources(self, collection: str) -> list[DavResource]: ...
    async def calendar_query(self, collection: str, start: datetime | None, end: datetime | None,
                             component: str = "VEVENT", expand: bool = False) -> list[DavResource]: ...
    async def multiget(self, collection: str, hrefs: Sequence[str]) -> list[DavResource]: ...
    async def get(self, href: str) -> DavResource: ...
    async def put(self, href: str, data: bytes, content_type: str, *, etag: str | None = None,
                  create_only: bool = False) -> str | None:
        """If-Match etag / If-None-Match *; returns the new etag (None if the server sent none).
        Raises BackendError(kind="conflict") on 412."""
    async def delete(self, href: str, *, etag: str | None = None) -> None: ...
    async def sync_collection(self, collection: str, token: str | None) -> DavSyncResult:
        """RFC 6578; a token the server no longer knows raises BackendError(kind="conflict")."""
    async def make_calendar(self, href: str, display_name: str, components: Sequence[str] = ("VEVENT",)) -> None: ...
    async def make_addressbook(self, href: str, display_name: str) -> None: ...
    async def free_busy(self, collection: str, start: datetime, end: datetime) -> bytes:
        """free-busy-query REPORT; the VFREEBUSY text."""
    async def close(self) -> None: ...


# ---------------------------------------------------------------- directory

@dataclass(frozen=True)
class DirectoryEntry:
    """A person, group or resource in the directory (the GAL)."""

    dn: str
    kind: str                         # "user", "group", "room", "equipment"
    uid: str | None                   # login name
    display_name: str
    email: str | None
    attributes: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)
    members: tuple[str, ...] = ()     # DNs for groups


class DirectoryClient(Protocol):
    async def authenticate(self, login: str, password: str) -> DirectoryEntry | None: ...
    async def get_user(self, login_or_email: str) -> DirectoryEntry | None: ...
    async def search(self, text: str, limit: int = 100) -> list[DirectoryEntry]:
        """Prefix match on names and addresses (ResolveNames, NSPI ResolveNames)."""
    async def list_all(self, kinds: Sequence[str] = ("user", "group")) -> list[DirectoryEntry]: ...
    async def expand_group(self, dn_or_email: str) -> list[DirectoryEntry]: ...
    async def ping(self) -> None:
        """Raises BackendError when the directory cannot answer (`exgate check`, start-up)."""
    async def close(self) -> None: ...


# ---------------------------------------------------------------- SMTP

class SubmissionClient(Protocol):
    async def send(self, message: bytes, mail_from: str, rcpt_to: Sequence[str]) -> None:
        """Raises BackendError with the server's reply on refusal; nothing is retried silently."""
