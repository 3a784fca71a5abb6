"""RecipientRow (MS-OXCDATA 2.8.3): one recipient of RopOpenMessage, RopReadRecipients and
RopModifyRecipients.

RecipientFlags (2.8.3.1), a little-endian 16-bit field; in the spec's MSB-first diagram the low
byte is R S T D E Type(3) and the high byte O Reserved(4) I U N:

- ``Type`` (0x0007): 0 none, 1 X500DN, 2 MsMail, 3 SMTP, 4 Fax, 5 ProfessionalOfficeSystem,
  6 and 7 personal distribution lists;
- E 0x0008 EmailAddress present, D 0x0010 DisplayName present, T 0x0020
  TransmittableDisplayName present, S 0x0040 SendNoRichInfo, R 0x0080 Responsible;
- N 0x0100 NonRichInfo, U 0x0200 the strings are UTF-16LE (else 8-bit), I 0x0400
  SimpleDisplayName present, O 0x8000 a non-standard address type (AddressType present).

The fields (2.8.3.2), each only when its condition holds: AddressPrefixUsed (1), DisplayType (1)
and X500DN (8-bit, NUL-terminated) for Type X500DN; EntryIdSize/EntryId and
SearchKeySize/SearchKey (2-byte sizes) for the two distribution-list types; AddressType (8-bit)
for Type none with O set; then EmailAddress, DisplayName, SimpleDisplayName,
TransmittableDisplayName; then RecipientColumnCount (2) and a PropertyRow over the first
RecipientColumnCount recipient columns.

8-bit strings are read as latin-1 so every byte round-trips.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import Reader, put_asciiz, put_u8, put_u16, put_utf16z
from .errors import RopFormatError
from .rows import PropertyRow, decode_row, encode_row

TYPE_MASK = 0x0007
TYPE_NONE, TYPE_X500DN, TYPE_MSMAIL, TYPE_SMTP, TYPE_FAX, TYPE_PROFS, TYPE_PDL1, TYPE_PDL2 = range(8)
F_EMAIL = 0x0008
F_DISPLAY = 0x0010
F_TRANSMITTABLE = 0x0020
F_SEND_NO_RICH_INFO = 0x0040
F_RESPONSIBLE = 0x0080
F_NON_RICH_INFO = 0x0100
F_UNICODE = 0x0200
F_SIMPLE = 0x0400
F_NONSTANDARD = 0x8000

# RecipientType of OpenRecipientRow/ReadRecipientRow/ModifyRecipientRow (MS-OXCROPS 2.2.6.1.2.1):
# the PidTagRecipientType values
RECIP_TO, RECIP_CC, RECIP_BCC = 1, 2, 3


@dataclass(frozen=True)
class RecipientRow:
    flags: int
    address_prefix_used: int | None = None
    display_type: int | None = None
    x500dn: str | None = None
    entry_id: bytes | None = None
    search_key: bytes | None = None
    address_type: str | None = None
    email_address: str | None = None
    display_name: str | None = None
    simple_display_name: str | None = None
    transmittable_display_name: str | None = None
    column_count: int = 0
    properties: PropertyRow | None = None

    @property
    def type(self) -> int:
        return self.flags & TYPE_MASK

    @property
    def unicode(self) -> bool:
        return bool(self.flags & F_UNICODE)

    @classmethod
    def build(cls, *, type: int = TYPE_NONE, unicode: bool = True, address_type: str | None = None,
              email_address: str | None = None, display_name: str | None = None,
              simple_display_name: str | None = None, transmittable_display_name: str | None = None,
              extra_flags: int = 0, **rest) -> "RecipientRow":
        """A row whose flags say what is there: the presence bits follow the strings given."""
        flags = (type & TYPE_MASK) | extra_flags
        flags |= F_UNICODE if unicode else 0
        flags |= F_EMAIL if email_address is not None else 0
        flags |= F_DISPLAY if display_name is not None else 0
        flags |= F_SIMPLE if simple_display_name is not None else 0
        flags |= F_TRANSMITTABLE if transmittable_display_name is not None else 0
        flags |= F_NONSTANDARD if (address_type is not None and type == TYPE_NONE) else 0
        return cls(flags, address_type=address_type, email_address=email_address, display_name=display_name,
                   simple_display_name=simple_display_name,
                   transmittable_display_name=transmittable_display_name, **rest)


def _has_address_type(flags: int) -> bool:
    return flags & TYPE_MASK == TYPE_NONE and bool(flags & F_NONSTANDARD)


def decode_recipient_row(buf, off: int, columns, *, end: int | None = None,
                         codepage: str = "cp1252") -> tuple[RecipientRow, int]:
    """A RecipientRow at ``off`` for the recipient ``columns``; returns it and where it ends."""
    r = Reader(buf, off, end)
    flags = r.u16()
    rtype = flags & TYPE_MASK
    kw: dict = {}
    if rtype == TYPE_X500DN:
        kw["address_prefix_used"] = r.u8()
        kw["display_type"] = r.u8()
        kw["x500dn"] = r.asciiz()
    if rtype in (TYPE_PDL1, TYPE_PDL2):
        kw["entry_id"] = r.take(r.u16())
        kw["search_key"] = r.take(r.u16())
    if _has_address_type(flags):
        kw["address_type"] = r.asciiz()
    s = r.utf16z if flags & F_UNICODE else r.asciiz
    if flags & F_EMAIL:
        kw["email_address"] = s()
    if flags & F_DISPLAY:
        kw["display_name"] = s()
    if flags & F_SIMPLE:
        kw["simple_display_name"] = s()
    if flags & F_TRANSMITTABLE:
        kw["transmittable_display_name"] = s()
    count = r.u16()
    if count > len(columns):
        raise RopFormatError(f"RecipientColumnCount {count} but {len(columns)} recipient columns")
    props, off = decode_row(r.buf[:r.end], r.off, tuple(columns)[:count], codepage=codepage)
    return RecipientRow(flags, column_count=count, properties=props, **kw), off


def encode_recipient_row(row: RecipientRow, columns, *, codepage: str = "cp1252") -> bytes:
    out = bytearray()
    flags, rtype = row.flags, row.flags & TYPE_MASK

    def need(v, what):
        if v is None:
            raise RopFormatError(f"RecipientFlags 0x{flags:04X} ask for {what}")
        return v

    put_u16(out, flags)
    if rtype == TYPE_X500DN:
        put_u8(out, need(row.address_prefix_used, "AddressPrefixUsed"))
        put_u8(out, need(row.display_type, "DisplayType"))
        put_asciiz(out, need(row.x500dn, "X500DN"))
    if rtype in (TYPE_PDL1, TYPE_PDL2):
        for v, what in ((row.entry_id, "EntryId"), (row.search_key, "SearchKey")):
            v = need(v, what)
            put_u16(out, len(v))
            out += v
    if _has_address_type(flags):
        put_asciiz(out, need(row.address_type, "AddressType"))
    put_s = put_utf16z if flags & F_UNICODE else put_asciiz
    for bit, v, what in ((F_EMAIL, row.email_address, "EmailAddress"), (F_DISPLAY, row.display_name, "DisplayName"),
                         (F_SIMPLE, row.simple_display_name, "SimpleDisplayName"),
                         (F_TRANSMITTABLE, row.transmittable_display_name, "TransmittableDisplayName")):
        if flags & bit:
            put_s(out, need(v, what))
    count = row.column_count
    if count > len(columns):
        raise RopFormatError(f"RecipientColumnCount {count} but {len(columns)} recipient columns")
    put_u16(out, count)
    out += encode_row(need(row.properties, "a PropertyRow"), tuple(columns)[:count], codepage=codepage)
    return bytes(out)
