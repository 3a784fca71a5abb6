"""Address-book values as NSPI returns them: return codes, reserved MIds, entry ids, rows and value lists.

Property values come from the store as {tag: value} with each tag's own type. A client names the type it
wants in each column: the same type, PtypUnspecified (the value then carries its own), or PtypString8
for a PtypString (and the multi-valued pair). A value the entry lacks, or cannot give in that type,
is PtypErrorCode NotFound: in a row that makes the row a flagged one (MS-OXCMAPIHTTP 2.2.1.5/2.2.1.7,
Flag 0xA), in a value list a tag of type PtypErrorCode (MS-OXNSPI 3.1.4.1.7).
"""
from __future__ import annotations

import struct
import uuid

from protocols.mapi.entryids import decode_address_book, encode_address_book

from protocols.mapi.types import MV_FLAG, PropType as T
from protocols.nspi.codec import PropertyRow, PropValue, RowSet, TaggedValue

# MS-OXNSPI 2.2.1.2 return codes
SUCCESS = 0x00000000
UNBIND_SUCCESS = 0x00000001
ERRORS_RETURNED = 0x00040380
GENERAL_FAILURE = 0x80004005
NOT_SUPPORTED = 0x80040102
NOT_FOUND = 0x8004010F
INVALID_BOOKMARK = 0x80040405
INVALID_PARAMETER = 0x80070057
ACCESS_DENIED = 0x80070005
TOO_COMPLEX = 0x80040117
INVALID_CODEPAGE = 0x8004011E
INVALID_LOCALE = 0x8004011F

# MS-OXNSPI 2.2.1.8 / 2.2.1.9: positions and ResolveNames answers in the MId space
MID_BEGINNING_OF_TABLE = 0x0
MID_CURRENT = 0x1
MID_END_OF_TABLE = 0x2
MID_UNRESOLVED = 0x0
MID_AMBIGUOUS = 0x1
MID_RESOLVED = 0x2

# MS-OXNSPI 2.2.1.1 flags
F_SKIP_OBJECTS = 0x1
F_EPH_ID = 0x2
NSPI_UNICODE_STRINGS = 0x4            # GetSpecialTable
NSPI_ADDRESS_CREATION_TEMPLATES = 0x2  # GetSpecialTable
CP_WINUNICODE = 1200

# MS-OXNSPI 2.2.1.3 display types
DT_MAILUSER, DT_DISTLIST, DT_CONTAINER = 0x0, 0x1, 0x100

# MS-OXNSPI 2.2.1.7: the ProviderUID of every PermanentEntryID, {C840A7DC-42C0-1A10-B4B9-08002B2FE182}
GUID_NSPI = uuid.UUID("C840A7DC-42C0-1A10-B4B9-08002B2FE182")
_U32 = struct.Struct("<I")


def permanent_entry_id(dn: str, display_type: int) -> bytes:
    """PermanentEntryID, MS-OXNSPI 2.2.9.3 (MS-OXCDATA's Address Book EntryID)."""
    return encode_address_book(dn, display_type)


def ephemeral_entry_id(server_guid: uuid.UUID, mid: int, display_type: int) -> bytes:
    """EphemeralEntryID, MS-OXNSPI 2.2.9.2: 0x87, three reserved bytes, the server's GUID (Bind's), R4 = 1,
    the display type and the MId."""
    return b"\x87\0\0\0" + server_guid.bytes_le + _U32.pack(1) + _U32.pack(display_type) + _U32.pack(mid)


def parse_entry_id(eid: bytes) -> tuple[str, int | str] | None:
    """("mid", MId) of an EphemeralEntryID, ("dn", DN) of a PermanentEntryID, None for anything else."""
    if len(eid) == 32 and eid[0] == 0x87:
        return "mid", _U32.unpack_from(eid, 28)[0]
    book = decode_address_book(eid)
    return ("dn", book[0]) if book is not None else None


def search_key(address_type: str, address: str) -> bytes:
    """PidTagSearchKey, MS-OXCDATA 2.2 (MS-OXOABK 2.2.3.x): "TYPE:ADDRESS" upper case, null-terminated."""
    return f"{address_type}:{address}".upper().encode("ascii", "replace") + b"\0"


def _fit(tag: int, props: dict) -> PropValue | None:
    """The value of ``props`` for a requested tag, in the requested type; None when it has none."""
    pid, want = tag >> 16, tag & 0xFFFF
    for have_tag, value in props.items():
        if have_tag >> 16 != pid or value is None:
            continue
        have = have_tag & 0xFFFF
        if want in (have, T.Unspecified):
            return PropValue(have, value)
        if want == T.String8 and have == T.String:
            return PropValue(want, value)
        if want == T.MultipleString8 and have == T.MultipleString:
            return PropValue(want, list(value))
        if want == T.Binary and have == T.Binary:
            return PropValue(want, value)
    return None


def make_row(props: dict, columns) -> PropertyRow:
    values = [_fit(tag, props) for tag in columns]
    if all(v is not None for v in values):
        return PropertyRow(0, tuple(values))
    out = []
    for tag, v in zip(columns, values):
        if v is None:
            ptype = tag & 0xFFFF
            out.append(PropValue(T.ErrorCode if ptype == T.Unspecified else ptype, NOT_FOUND, 0xA))
        else:
            out.append(PropValue(v.ptype, v.value, 0))
    return PropertyRow(1, tuple(out))


def make_rowset(props_list, columns) -> RowSet:
    cols = tuple(columns)
    return RowSet(cols, tuple(make_row(p, cols) for p in props_list))


def value_list(props: dict, tags) -> tuple[tuple[TaggedValue, ...], bool]:
    """AddressBookPropertyValueList for GetProps and friends, and whether any tag had no value."""
    out, missing = [], False
    for tag in tags:
        v = _fit(tag, props)
        if v is None:
            missing = True
            out.append(TaggedValue((tag & 0xFFFF0000) | T.ErrorCode, PropValue(T.ErrorCode, NOT_FOUND)))
        else:
            out.append(TaggedValue((tag & 0xFFFF0000) | v.ptype, v))
    return tuple(out), missing


def tags_of(props: dict, *, unicode: bool = True) -> tuple[int, ...]:
    """The tags of the values an entry has, strings as PtypString8 when the client wants no Unicode."""
    out = []
    for tag in props:
        t = tag & 0xFFFF
        if not unicode and t == T.String:
            tag = (tag & 0xFFFF0000) | T.String8
        elif not unicode and t == T.MultipleString:
            tag = (tag & 0xFFFF0000) | T.MultipleString8
        out.append(tag)
    return tuple(out)


def mv(ptype: int) -> bool:
    return bool(ptype & MV_FLAG)
