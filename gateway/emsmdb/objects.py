"""Server objects of a session and their handles (MS-OXCROPS 1.3.1: the server object handle table).

A handle is ``(LogonId << 24) | n`` with ``n`` counting up per session from 0, as Exchange hands them
out and as real clients (ruler, Outlook) expect: the logon of LogonId 12 is 0x0C000000, the folder
opened next 0x0C000001, and so on. 0xFFFFFFFF is never a handle (it marks an empty slot).
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_OBJECTS = 4096          # per session: what one client may hold open
NO_HANDLE = 0xFFFFFFFF


@dataclass(eq=False)
class LogonObj:
    logon_id: int
    private: bool = True
    kind = "logon"


@dataclass(eq=False)
class FolderObj:
    logon_id: int
    fid: int
    kind = "folder"


@dataclass(eq=False)
class MessageObj:
    """An opened or new message: the store's Item as RopOpenMessage read it (with its content) and, once a
    ROP changes it, the working copy the changes go to until RopSaveChangesMessage (``editing``).

    ``set_props``/``removed`` record property changes so that saving an existing message whose recipients
    and attachments stayed is a property update (flags on IMAP stay flags); ``reshaped`` says a save has
    to replace the whole message."""

    logon_id: int
    fid: int
    mid: int | None
    item: object = None              # gateway.store Item
    draft: object = None             # gateway.store MessageContent being edited
    set_props: dict = field(default_factory=dict)
    removed: set = field(default_factory=set)
    reshaped: bool = False
    associated: bool = False
    writable: bool = False
    embedded_in: object = None       # the AttachmentObj of an embedded message (RopOpenEmbeddedMessage)
    kind = "message"

    @property
    def new(self) -> bool:
        return self.mid is None

    @property
    def dirty(self) -> bool:
        return self.new or bool(self.set_props or self.removed or self.reshaped)


@dataclass(eq=False)
class AttachmentObj:
    """An attachment opened or created on a message object: its properties (and embedded message) are a
    copy until RopSaveChangesAttachment puts them into the message's working copy."""

    logon_id: int
    message: MessageObj
    number: int
    props: dict = field(default_factory=dict)
    embedded: object = None
    writable: bool = False
    kind = "attachment"


@dataclass(eq=False)
class StreamObj:
    """A property opened as a stream (RopOpenStream): its bytes, the seek pointer and, when opened for
    writing, the object the bytes go back to on RopCommitStream (or on release)."""

    logon_id: int
    tag: int
    data: bytes | bytearray = b""
    position: int = 0
    owner: object = None             # MessageObj / AttachmentObj / FolderObj, when writable
    changed: bool = False
    kind = "stream"

    @property
    def writable(self) -> bool:
        return self.owner is not None


@dataclass(eq=False)
class NotifyObj:
    """A notification subscription (RopRegisterNotification): the event types (MS-OXCNOTIF 2.2.1.2.1.1)
    and the scope, the whole mailbox or one folder (or one message in it)."""

    logon_id: int
    types: int
    whole_store: bool = True
    fid: int | None = None
    mid: int | None = None
    kind = "notify"


@dataclass(eq=False)
class TableObj:
    """A contents or hierarchy table: the folder it lists, its columns, restriction and sort order, and
    the store's view (built on first use and rebuilt when the restriction or sort order changes)."""

    logon_id: int
    fid: int
    hierarchy: bool = False
    message: object = None           # the MessageObj of an attachment table
    fixed_rows: tuple | None = None  # a table of the gateway's own rows (permissions)
    associated: bool = False
    deep: bool = False
    columns: tuple | None = None
    restriction: object = None
    sorts: tuple = ()
    categories: int = 0              # SortOrderSet CCategories / CExpanded: a categorized table
    expanded: int = 0
    view: object = None              # gateway.store.tables ContentsView / CategorizedView / HierarchyView
    position: int = 0                # the cursor of a hierarchy table (a ContentsView keeps its own)
    synced: bool = False
    bookmarks: dict = field(default_factory=dict)
    notify: bool = True              # TableFlags NoNotifications (0x10) turns table notifications off
    kind = "table"


class HandleTable:
    def __init__(self, limit: int = MAX_OBJECTS):
        self.limit = limit
        self._objs: dict[int, object] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._objs)

    def add(self, logon_id: int, obj) -> int | None:
        """A new handle for ``obj``; None when the session holds ``limit`` objects already."""
        if len(self._objs) >= self.limit:
            return None
        while True:
            h = ((logon_id & 0xFF) << 24) | (self._next & 0xFFFFFF)
            self._next = (self._next + 1) & 0xFFFFFF
            if h not in self._objs and h != NO_HANDLE:
                self._objs[h] = obj
                return h

    def get(self, handle: int):
        return self._objs.get(handle)

    def items(self) -> list[tuple[int, object]]:
        return list(self._objs.items())

    def release(self, handle: int) -> None:
        obj = self._objs.pop(handle, None)
        if isinstance(obj, LogonObj):       # a logon takes everything opened through it along
            for h, o in list(self._objs.items()):
                if getattr(o, "logon_id", None) == obj.logon_id:
                    del self._objs[h]

    def logon(self, logon_id: int) -> LogonObj | None:
        for o in self._objs.values():
            if isinstance(o, LogonObj) and o.logon_id == logon_id:
                return o
        return None

    def clear(self) -> None:
        self._objs.clear()
