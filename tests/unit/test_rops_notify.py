"""RopNotify's NotificationData (MS-OXCNOTIF 2.2.1.4.1.2): which fields each kind carries, byte for byte
against the field order of the spec, and round trips; RopRegisterNotification on Outlook 2007's bytes."""
from __future__ import annotations

import struct

import pytest

from protocols.rops import notify as N
from protocols.rops._wire import Reader
from protocols.rops.common import RegisterNotificationRequest
from protocols.rops.errors import RopFormatError

FID, MID, PARENT = 0x0001000000000A01, 0x0001000000001B01, 0x0001000000000301


def enc(d: N.NotificationData) -> bytes:
    out = bytearray()
    N.encode_notification_data(d, out)
    return bytes(out)


def test_new_mail_layout():
    d = N.NotificationData(N.NEW_MAIL | N.FLAG_MESSAGE, folder_id=FID, message_id=MID, message_flags=0x11,
                           unicode=1, message_class="IPM.Note")
    b = enc(d)
    # NotificationFlags, FolderId, MessageId, MessageFlags, UnicodeFlag, MessageClass (UTF-16, NUL)
    assert b == (struct.pack("<HQQIB", 0x8002, FID, MID, 0x11, 1) + "IPM.Note\0".encode("utf-16-le"))
    assert N.decode_notification_data(Reader(b)) == d


def test_table_changed_is_flags_and_event_type_only():
    d = N.NotificationData(N.TABLE_MODIFIED, table_event_type=N.TABLE_CHANGED)
    assert enc(d) == bytes.fromhex("00010100")
    assert N.decode_notification_data(Reader(enc(d))) == d


def test_table_row_added_with_row_data():
    d = N.NotificationData(N.TABLE_MODIFIED | N.FLAG_MESSAGE, table_event_type=N.TABLE_ROW_ADDED,
                           table_row_folder_id=FID, table_row_message_id=MID, table_row_instance=0,
                           insert_after_folder_id=FID, insert_after_row_id=0, insert_after_instance=0,
                           table_row_data=b"\x00abc")
    b = enc(d)
    assert b[:4] == bytes.fromhex("00810300") and b.endswith(b"\x04\x00\x00abc")
    assert len(b) == 4 + 8 + 8 + 4 + 8 + 8 + 4 + 2 + 4
    assert N.decode_notification_data(Reader(b)) == d


@pytest.mark.parametrize("d", [
    N.NotificationData(N.OBJECT_CREATED | N.FLAG_MESSAGE, folder_id=FID, message_id=MID, tag_count=0),
    N.NotificationData(N.OBJECT_CREATED, folder_id=FID, parent_folder_id=PARENT, tag_count=2,
                       tags=(0x3001001F, 0x36010003)),
    N.NotificationData(N.OBJECT_DELETED | N.FLAG_MESSAGE, folder_id=FID, message_id=MID),
    N.NotificationData(N.OBJECT_DELETED, folder_id=FID, parent_folder_id=PARENT),
    N.NotificationData(N.OBJECT_MOVED | N.FLAG_MESSAGE, folder_id=FID, message_id=MID, old_folder_id=PARENT,
                       old_message_id=MID),
    N.NotificationData(N.OBJECT_COPIED, folder_id=FID, parent_folder_id=PARENT, old_folder_id=FID,
                       old_parent_folder_id=PARENT),
    N.NotificationData(N.OBJECT_MODIFIED | N.FLAG_TOTAL | N.FLAG_UNREAD, folder_id=FID, tag_count=0xFFFF,
                       total_message_count=7, unread_message_count=2),
    N.NotificationData(N.OBJECT_MODIFIED | N.FLAG_MESSAGE | N.FLAG_SEARCH, folder_id=FID, message_id=MID,
                       tag_count=0),
    N.NotificationData(N.NEW_MAIL | N.FLAG_MESSAGE, folder_id=FID, message_id=MID, message_flags=0, unicode=0,
                       message_class="IPM.Note"),
])
def test_round_trip(d):
    b = enc(d)
    r = Reader(b)
    assert N.decode_notification_data(r) == d and r.off == len(b)
    resp = N.NotifyResponse(0x0C000003, 12, d)
    out = bytearray()
    resp.encode(out)
    assert out[:6] == b"\x2a\x03\x00\x00\x0c\x0c" and N.NotifyResponse.decode(Reader(bytes(out), 1)) == resp


def test_missing_field_is_a_format_error():
    with pytest.raises(RopFormatError):
        enc(N.NotificationData(N.NEW_MAIL | N.FLAG_MESSAGE, folder_id=FID, message_id=MID))


def test_register_notification_types_are_two_bytes():
    """Outlook 2007's Tables buffer: 29 00 02 05 | 78 00 | 00 | FolderId | MessageId (no Reserved byte
    without the Extended flag)."""
    raw = bytes.fromhex("29000205" "7800" "00" "010000000000273b" "0000000000000000")
    req = RegisterNotificationRequest.decode(Reader(raw, 1))
    assert (req.notification_types, req.reserved, req.want_whole_store) == (0x78, None, 0)
    assert req.folder_id == 0x3B27000000000001 and req.message_id == 0
    out = bytearray()
    req.encode(out)
    assert bytes(out) == raw
    table = RegisterNotificationRequest(0, 0, 1, 0x0100 | 0x0400, 0, 1)
    out = bytearray()
    table.encode(out)
    assert bytes(out) == bytes.fromhex("29000001" "0005" "00" "01")
    assert RegisterNotificationRequest.decode(Reader(bytes(out), 1)) == table
