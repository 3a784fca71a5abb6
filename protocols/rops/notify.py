"""RopNotify (MS-OXCROPS 2.2.14.2): the response-only ROP that carries one notification, and its
NotificationData (MS-OXCNOTIF 2.2.1.4.1.2).

NotificationData is one structure whose fields are there or not by the NotificationFlags (the low 12 bits
the type, the high 4 bits flags T 0x1000, U 0x2000, S 0x4000, M 0x8000) and, for TableModified, the
TableEventType. In wire order:

- NotificationFlags (2); TableEventType (2) for TableModified (0x0100);
- TableRowFolderID (8) for table events 3/4/5; TableRowMessageID (8) and TableRowInstance (4) when M and
  3/4/5; InsertAfterTableRowFolderID (8) for 3/5; InsertAfterTableRowID (8) and
  InsertAfterTableRowInstance (4) when M and 3/5; TableRowDataSize (2) + TableRowData for 3/5;
- FolderId (8) for every type but TableModified; MessageId (8) when M;
- ParentFolderId (8) for Created/Deleted/Moved/Copied of a folder (neither S nor M), or with S and M;
- OldFolderId (8) for Moved/Copied; OldMessageId (8) for Moved/Copied with M; OldParentFolderId (8)
  for Moved/Copied without M;
- TagCount (2) for Created/Modified, then TagCount tags unless it is 0 or 0xFFFF;
- TotalMessageCount (4) with T; UnreadMessageCount (4) with U;
- MessageFlags (4), UnicodeFlag (1), MessageClass (NUL-terminated, UTF-16 or 8-bit) for NewMail.

(The spec's conditions for ParentFolderId name "a message in a search folder" or "a folder"; a message
event in an ordinary folder has none, which is how Exchange sends them.)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ._wire import Reader, put_asciiz, put_u8, put_u16, put_u32, put_u64, put_utf16z
from .errors import RopFormatError

NEW_MAIL, OBJECT_CREATED, OBJECT_DELETED, OBJECT_MODIFIED = 0x0002, 0x0004, 0x0008, 0x0010
OBJECT_MOVED, OBJECT_COPIED, SEARCH_COMPLETE, TABLE_MODIFIED, EXTENDED = 0x0020, 0x0040, 0x0080, 0x0100, 0x0400
FLAG_TOTAL, FLAG_UNREAD, FLAG_SEARCH, FLAG_MESSAGE = 0x1000, 0x2000, 0x4000, 0x8000
TABLE_CHANGED, TABLE_ROW_ADDED, TABLE_ROW_DELETED, TABLE_ROW_MODIFIED, TABLE_RESTRICTION_CHANGED = 1, 3, 4, 5, 7


@dataclass(frozen=True)
class NotificationData:
    flags: int
    table_event_type: int | None = None
    table_row_folder_id: int | None = None
    table_row_message_id: int | None = None
    table_row_instance: int | None = None
    insert_after_folder_id: int | None = None
    insert_after_row_id: int | None = None
    insert_after_instance: int | None = None
    table_row_data: bytes | None = None
    folder_id: int | None = None
    message_id: int | None = None
    parent_folder_id: int | None = None
    old_folder_id: int | None = None
    old_message_id: int | None = None
    old_parent_folder_id: int | None = None
    tag_count: int | None = None
    tags: tuple = ()
    total_message_count: int | None = None
    unread_message_count: int | None = None
    message_flags: int | None = None
    unicode: int | None = None
    message_class: str | None = None

    @property
    def type(self) -> int:
        return self.flags & 0x0FFF


def _has(flags: int):
    """Which optional fields a NotificationData with these flags (and TableEventType) carries."""
    ntype, on_message = flags & 0x0FFF, bool(flags & FLAG_MESSAGE)
    search = bool(flags & FLAG_SEARCH)

    def fields(tet):
        table = ntype == TABLE_MODIFIED
        row_event = table and tet in (TABLE_ROW_ADDED, TABLE_ROW_DELETED, TABLE_ROW_MODIFIED)
        with_row = table and tet in (TABLE_ROW_ADDED, TABLE_ROW_MODIFIED)
        moved = ntype in (OBJECT_MOVED, OBJECT_COPIED)
        return {
            "table_row_folder_id": row_event,
            "table_row_message_id": row_event and on_message,
            "table_row_instance": row_event and on_message,
            "insert_after_folder_id": with_row,
            "insert_after_row_id": with_row and on_message,
            "insert_after_instance": with_row and on_message,
            "table_row_data": with_row,
            "folder_id": not table and ntype != EXTENDED,
            "message_id": not table and ntype != EXTENDED and on_message,
            "parent_folder_id": ntype in (OBJECT_CREATED, OBJECT_DELETED, OBJECT_MOVED, OBJECT_COPIED)
            and (search and on_message or not (search or on_message)),
            "old_folder_id": moved,
            "old_message_id": moved and on_message,
            "old_parent_folder_id": moved and not on_message,
            "tag_count": ntype in (OBJECT_CREATED, OBJECT_MODIFIED),
            "total_message_count": bool(flags & FLAG_TOTAL),
            "unread_message_count": bool(flags & FLAG_UNREAD),
            "new_mail": ntype == NEW_MAIL,
        }
    return fields


def decode_notification_data(r: Reader) -> NotificationData:
    flags = r.u16()
    tet = r.u16() if flags & 0x0FFF == TABLE_MODIFIED else None
    has = _has(flags)(tet)
    kw: dict = {"flags": flags, "table_event_type": tet}
    for name, size in (("table_row_folder_id", 8), ("table_row_message_id", 8), ("table_row_instance", 4),
                       ("insert_after_folder_id", 8), ("insert_after_row_id", 8), ("insert_after_instance", 4)):
        if has[name]:
            kw[name] = r.u64() if size == 8 else r.u32()
    if has["table_row_data"]:
        kw["table_row_data"] = r.take(r.u16())
    for name in ("folder_id", "message_id", "parent_folder_id", "old_folder_id", "old_message_id",
                 "old_parent_folder_id"):
        if has[name]:
            kw[name] = r.u64()
    if has["tag_count"]:
        n = kw["tag_count"] = r.u16()
        if n not in (0, 0xFFFF):
            kw["tags"] = struct.unpack(f"<{n}I", r.take(4 * n))
    if has["total_message_count"]:
        kw["total_message_count"] = r.u32()
    if has["unread_message_count"]:
        kw["unread_message_count"] = r.u32()
    if has["new_mail"]:
        kw["message_flags"] = r.u32()
        kw["unicode"] = r.u8()
        kw["message_class"] = r.utf16z() if kw["unicode"] else r.asciiz()
    return NotificationData(**kw)


def encode_notification_data(d: NotificationData, out: bytearray) -> None:
    has = _has(d.flags)(d.table_event_type)

    def need(name):
        v = getattr(d, name)
        if v is None:
            raise RopFormatError(f"NotificationFlags 0x{d.flags:04X} need {name}")
        return v
    put_u16(out, d.flags)
    if d.flags & 0x0FFF == TABLE_MODIFIED:
        put_u16(out, need("table_event_type"))
    for name, size in (("table_row_folder_id", 8), ("table_row_message_id", 8), ("table_row_instance", 4),
                       ("insert_after_folder_id", 8), ("insert_after_row_id", 8), ("insert_after_instance", 4)):
        if has[name]:
            (put_u64 if size == 8 else put_u32)(out, need(name))
    if has["table_row_data"]:
        data = need("table_row_data")
        put_u16(out, len(data))
        out += data
    for name in ("folder_id", "message_id", "parent_folder_id", "old_folder_id", "old_message_id",
                 "old_parent_folder_id"):
        if has[name]:
            put_u64(out, need(name))
    if has["tag_count"]:
        n = need("tag_count")
        put_u16(out, n)
        if n not in (0, 0xFFFF):
            if len(d.tags) != n:
                raise RopFormatError("TagCount does not match the tags")
            out += struct.pack(f"<{n}I", *d.tags)
    if has["total_message_count"]:
        put_u32(out, need("total_message_count"))
    if has["unread_message_count"]:
        put_u32(out, need("unread_message_count"))
    if has["new_mail"]:
        put_u32(out, need("message_flags"))
        put_u8(out, need("unicode"))
        (put_utf16z if d.unicode else put_asciiz)(out, need("message_class"))


@dataclass
class NotifyResponse:
    """RopId 0x2A, NotificationHandle (4), LogonId (1), NotificationData."""

    ROP_ID = 0x2A
    notification_handle: int = 0
    logon_id: int = 0
    data: NotificationData | None = None

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        return cls(r.u32(), r.u8(), decode_notification_data(r))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        put_u32(out, self.notification_handle)
        put_u8(out, self.logon_id)
        encode_notification_data(self.data, out)


REQUESTS: dict = {}
RESPONSES = {0x2A: NotifyResponse}
NAMES = {0x2A: "RopNotify"}
