"""The details templates this address book offers (MS-OXOABKT), for NspiGetTemplateInfo.

Outlook asks for the template of a display type (pDN NULL: DT_MAILUSER for a person, DT_DISTLIST for a
group, ...) or of a template DN, in a code page and a locale, and builds its details dialog from the
answer (MS-OXOABKT 3.1.5.3). One set of templates, in English, serves every locale; the strings are
encoded in the code page asked for (MS-OXOABKT 2.2.2.1.3: never Unicode).

The controls only name properties the address book gives (``book.AddressBook.props``) or link tables
GetMatches answers (manager, owner, members, reports, member-of, MS-OXNSPI 3.1.4.1.10), so each field of
the dialog fills; as in Exchange's own templates, people are list boxes of link tables. Edit controls name
PtypString8 tags because the template is code-page data (Exchange's do the same); the client asks for them
as such. The directory is read-only through the gateway: no control is editable.
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.store.directory import ORG_DN
from protocols.mapi.props import core as P
from protocols.nspi import template as K

from .rows import DT_DISTLIST, DT_MAILUSER

DT_PRIVATE_DISTLIST, DT_REMOTE_MAILUSER = 0x5, 0x6

# tags the templates name (MS-OXPROPS), 8-bit strings and link tables
S8 = 0x001E


def _s8(tag: int) -> int:
    return (tag & 0xFFFF0000) | S8


PidTagAddressBookManager = 0x8005000D             # one-row link tables, as Exchange's templates show them
PidTagAddressBookOwner = 0x800C000D
PidTagAddressBookReports = 0x800E000D
PidTagAddressBookIsMemberOfDistributionList = 0x8008000D
PidTagAddressBookMember = 0x8009000D
PidTagAddressBookProxyAddresses_MV8 = 0x800F101E

# the dialog's grid, in dialog units
PAGE_W = 276
LABEL_X, LABEL_W, FIELD_X, FIELD_W, ROW_H, STEP = 6, 60, 70, 198, 12, 16


@dataclass(frozen=True)
class NamedTemplate:
    name: str
    specs: tuple[K.ControlSpec, ...]

    def dn(self, locale: int) -> str:
        return f"{ORG_DN}/cn=Address-Templates/cn={locale:x}/cn={self.name}"


def _page(title: str) -> K.ControlSpec:
    # a page has no position or size of its own: its controls place themselves (Exchange writes zeros)
    return K.ControlSpec(0, 0, 0, 0, K.DTCT_PAGE, title)


def _fields(rows, y: int = 8) -> list[K.ControlSpec]:
    """A label and a read-only edit control per (label, tag[, lines]) row, top to bottom."""
    out = []
    for row in rows:
        label, tag, lines = (row + (1,))[:3]
        h = ROW_H * lines
        out.append(K.ControlSpec(LABEL_X, y + 2, LABEL_W, 8, K.DTCT_LABEL, label))
        out.append(K.ControlSpec(FIELD_X, y, FIELD_W, h, K.DTCT_EDIT, "*", tag,
                                 K.DT_MULTILINE if lines > 1 else 0, 256))
        y += h + STEP - ROW_H
    return out


def _list(label: str, tag: int, y: int = 8, control: int = K.DTCT_LBX, rows: int = 10) -> list[K.ControlSpec]:
    """A label over a list box of a link table (or of a multivalued property)."""
    return [K.ControlSpec(LABEL_X, y, 200, 8, K.DTCT_LABEL, label),
            K.ControlSpec(LABEL_X, y + 12, PAGE_W - 2 * LABEL_X, 12 * rows, control, "*", tag)]


_MEMBER_OF = [_page("Member Of"), *_list("&Member of:", PidTagAddressBookIsMemberOfDistributionList)]
_ADDRESSES = [_page("E-mail Addresses"),
              *_list("E-mail &addresses:", PidTagAddressBookProxyAddresses_MV8, control=K.DTCT_MVLISTBOX)]

USER = NamedTemplate("User", tuple([
    _page("General"),
    *_fields((("&First:", _s8(P.PidTagGivenName)), ("&Last:", _s8(P.PidTagSurname)),
              ("Dis&play:", _s8(P.PidTagDisplayName)), ("Alias:", _s8(P.PidTagAccount)),
              ("&Title:", _s8(P.PidTagTitle)), ("Compan&y:", _s8(P.PidTagCompanyName)),
              ("&Department:", _s8(P.PidTagDepartmentName)), ("&Office:", _s8(P.PidTagOfficeLocation)),
              ("P&hone:", _s8(P.PidTagBusinessTelephoneNumber)), ("Mo&bile:", _s8(P.PidTagMobileTelephoneNumber)),
              ("Add&ress:", _s8(P.PidTagStreetAddress), 2), ("&City:", _s8(P.PidTagLocality)),
              ("&State:", _s8(P.PidTagStateOrProvince)), ("&Zip code:", _s8(P.PidTagPostalCode)),
              ("Co&untry/Region:", _s8(P.PidTagCountry)))),
    _page("Organization"),
    *_list("&Manager:", PidTagAddressBookManager, rows=2),
    *_list("Direct &reports:", PidTagAddressBookReports, y=48, rows=8),
    *_MEMBER_OF,
    *_ADDRESSES,
]))

DISTLIST = NamedTemplate("Distribution-List", tuple([
    _page("General"),
    *_fields((("Dis&play name:", _s8(P.PidTagDisplayName)), ("&Alias:", _s8(P.PidTagAccount)))),
    *_list("&Owner:", PidTagAddressBookOwner, y=44, rows=2),
    *_list("Mem&bers:", PidTagAddressBookMember, y=84, rows=8),
    *_MEMBER_OF,
    *_ADDRESSES,
]))

# anything else Outlook asks about (a folder, an agent, an organization): who it is and its address
OTHER = NamedTemplate("Other", tuple([
    _page("General"),
    *_fields((("Dis&play name:", _s8(P.PidTagDisplayName)), ("&Alias:", _s8(P.PidTagAccount)),
              ("E-&mail:", _s8(P.PidTagSmtpAddress)))),
    *_ADDRESSES,
]))

TEMPLATES = (USER, DISTLIST, OTHER)
_BY_TYPE = {DT_MAILUSER: USER, DT_REMOTE_MAILUSER: USER, DT_DISTLIST: DISTLIST, DT_PRIVATE_DISTLIST: DISTLIST}


def for_display_type(display_type: int) -> NamedTemplate:
    return _BY_TYPE.get(display_type, OTHER)


def for_dn(dn: str) -> NamedTemplate | None:
    """The template a DN names (``NamedTemplate.dn`` of any locale), None for any other DN."""
    low = dn.strip().lower()
    prefix = f"{ORG_DN}/cn=Address-Templates/cn=".lower()
    if not low.startswith(prefix):
        return None
    name = low.rsplit("/cn=", 1)[-1]
    return next((t for t in TEMPLATES if t.name.lower() == name), None)


def template_data(t: NamedTemplate, code_page: int) -> bytes:
    """PidTagTemplateData of ``t`` with its strings in ``code_page``."""
    return K.Template.build(t.specs, code_page).encode()
