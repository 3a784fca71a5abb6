"""EntryID layouts that carry an address (MS-OXCDATA): the one-off EntryID (2.2.5.1), the
FlatEntryList of EntryIDs (2.3.3), the address search key (MS-OXCMAIL 2.2.3.2.3) and the WrappedEntryId
of contacts and distribution lists (MS-OXOCNTC 2.2.2.2.4.1.1).

One-off EntryID (MS-OXCDATA 2.2.5.1)::

    Flags (4, zero) | ProviderUID (16, 812B1FA4 BEA31019 9D6E00DD 010F5402)
    | Version (2, zero) | bit fields (2) | DisplayName | AddressType | EmailAddress

The two bytes of bit fields are, most significant bit first in wire order:
Pad(1) MAE(2) Format(4) M(1) | U(1) R(2) L(1) Pad(4). We write M=1 (send
MIME, not TNEF), U=1 (strings are UTF-16LE), L=1 (do not look the address up):
bytes 0x01 0x90, the value Outlook writes for SMTP one-offs.

FlatEntryList (MS-OXCDATA 2.3.3): Count (4) | Size (4, bytes of FlatEntries)
| FlatEntry* where FlatEntry = Size (4) | EntryID, each padded to 4 bytes.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from protocols.mapi.props import contact as C

ONE_OFF_PROVIDER_UID = bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
_ONE_OFF_FLAGS_UNICODE = 0x80  # U bit, second flag byte
_ONE_OFF_FLAGS_NO_LOOKUP = 0x10  # L bit, second flag byte
_ONE_OFF_FLAGS_MIME = 0x01  # M bit, first flag byte


@dataclass(frozen=True)
class OneOff:
    display_name: str
    address_type: str
    email_address: str


def encode_one_off(display_name: str, email_address: str, address_type: str = "SMTP") -> bytes:
    """A Unicode one-off EntryID (MS-OXCDATA 2.2.5.1)."""
    def z(s: str) -> bytes:
        return (s or "").encode("utf-16-le", "surrogatepass") + b"\x00\x00"

    return (
        b"\x00\x00\x00\x00" + ONE_OFF_PROVIDER_UID + b"\x00\x00"
        + bytes([_ONE_OFF_FLAGS_MIME, _ONE_OFF_FLAGS_UNICODE | _ONE_OFF_FLAGS_NO_LOOKUP])
        + z(display_name or email_address) + z(address_type) + z(email_address)
    )


def decode_one_off(data: bytes) -> OneOff | None:
    """Read a one-off EntryID (Unicode or 8-bit); None if it is not one."""
    if len(data) < 24 or data[4:20] != ONE_OFF_PROVIDER_UID:
        return None
    unicode = bool(data[23] & _ONE_OFF_FLAGS_UNICODE)
    pos = 24
    fields = []
    for _ in range(3):
        if unicode:
            end = pos
            while end + 1 < len(data) and not (data[end] == 0 and data[end + 1] == 0):
                end += 2
            fields.append(data[pos:end].decode("utf-16-le", "replace"))
            pos = end + 2
        else:
            end = data.find(b"\x00", pos)
            if end < 0:
                end = len(data)
            fields.append(data[pos:end].decode("cp1252", "replace"))
            pos = end + 1
    return OneOff(*fields)


def encode_flat_entry_list(entry_ids: list[bytes]) -> bytes:
    body = bytearray()
    for eid in entry_ids:
        body += struct.pack("<I", len(eid)) + eid
        body += b"\x00" * (-len(body) % 4)
    return struct.pack("<II", len(entry_ids), len(body)) + bytes(body)


def decode_flat_entry_list(data: bytes) -> list[bytes]:
    """FlatEntryList -> EntryIDs; stops quietly at a short buffer."""
    out: list[bytes] = []
    if len(data) < 8:
        return out
    count, _size = struct.unpack_from("<II", data, 0)
    pos = 8
    for _ in range(count):
        if pos + 4 > len(data):
            break
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        out.append(bytes(data[pos:pos + n]))
        pos += n
        pos += -pos % 4
    return out


# MS-OXCDATA 2.2.5.2 Address Book EntryID (MS-OXNSPI 2.2.9.3 calls it PermanentEntryID): Flags (4, 0),
# ProviderUID {C840A7DC-42C0-1A10-B4B9-08002B2FE182}, Version (4, 1), Type (4, the display type),
# X500DN (8-bit, NUL-terminated)
ADDRESS_BOOK_PROVIDER = uuid.UUID("C840A7DC-42C0-1A10-B4B9-08002B2FE182")


def encode_address_book(dn: str, display_type: int = 0) -> bytes:
    return (b"\0\0\0\0" + ADDRESS_BOOK_PROVIDER.bytes_le + struct.pack("<II", 1, display_type)
            + dn.encode("ascii", "replace") + b"\0")


def decode_address_book(data: bytes) -> tuple[str, int] | None:
    """(X500 DN, display type) of an Address Book EntryID; None for another kind of EntryID."""
    if len(data) <= 28 or data[:4] != b"\0\0\0\0" or data[4:20] != ADDRESS_BOOK_PROVIDER.bytes_le:
        return None
    (display_type,) = struct.unpack_from("<I", data, 24)
    return data[28:].split(b"\0", 1)[0].decode("ascii", "replace"), display_type


def search_key(address_type: str, email_address: str) -> bytes:
    """PidTagSearchKey: "ADDRTYPE:ADDRESS" in upper case, NUL-terminated (MS-OXCMAIL 2.2.3.2.3)."""
    return (f"{address_type}:{email_address}".upper()).encode("ascii", "replace") + b"\x00"


# --- header text --------------------------------------------------------------


# WrappedEntryId (MS-OXOCNTC 2.2.2.2.4.1.1): Flags(4) ProviderUID(16) Type(1) EntryID
WRAPPED_PROVIDER_UID = bytes.fromhex("c091add3519dcf11a4a900aa0047faa4")


def wrap_entryid(embedded: bytes, kind: int = C.WRAPPED_TYPE_ONE_OFF, email_index: int = 0) -> bytes:
    """Type byte: low nibble ``kind``; for a one-off the rest is 0, otherwise
    bit 0x80 is set and bits 0x70 hold the Email1-3 index (contacts) or 3."""
    if kind == C.WRAPPED_TYPE_ONE_OFF:
        type_byte = 0
    else:
        index = email_index if kind == C.WRAPPED_TYPE_CONTACT else 3
        type_byte = 0x80 | ((index & 0x7) << 4) | (kind & 0x0F)
    return b"\x00\x00\x00\x00" + WRAPPED_PROVIDER_UID + bytes([type_byte]) + embedded


def unwrap_entryid(data: bytes) -> tuple[int, bytes] | None:
    """-> (kind, embedded EntryID), or None if ``data`` is not a WrappedEntryId."""
    if len(data) < 21 or data[4:20] != WRAPPED_PROVIDER_UID:
        return None
    return data[20] & 0x0F, bytes(data[21:])
