"""The Address Book EntryID (MS-OXCDATA 2.2.5.2, MS-OXNSPI's PermanentEntryID), laid out field by field."""
from __future__ import annotations

import struct
import uuid

from protocols.mapi.entryids import decode_address_book, encode_address_book, encode_one_off

DN = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=bob"


def test_layout_and_round_trip():
    raw = encode_address_book(DN, 1)
    provider = uuid.UUID("C840A7DC-42C0-1A10-B4B9-08002B2FE182").bytes_le
    assert raw == b"\0\0\0\0" + provider + struct.pack("<II", 1, 1) + DN.encode() + b"\0"
    assert provider.hex() == "dca740c8c042101ab4b908002b2fe182"
    assert decode_address_book(raw) == (DN, 1)


def test_other_entry_ids_are_not_address_book_ones():
    assert decode_address_book(encode_one_off("Bob", "bob@example.test")) is None
    assert decode_address_book(b"\0" * 28) is None and decode_address_book(b"") is None
