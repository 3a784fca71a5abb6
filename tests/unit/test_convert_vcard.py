"""vCard <-> contact / distribution list properties (gateway/store/convert/vcard.py)."""
from __future__ import annotations

import base64
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest
import vobject

from protocols.mapi.entryids import decode_one_off, unwrap_entryid, wrap_entryid
from gateway.store.convert.vcard import (
    ContentLine, contact_to_vcard, distlist_to_vcard, is_group_vcard, parse_vcard,
    vcard_to_contact, vcard_to_distlist,
)
from gateway.store.model import Attachment, MessageContent
from protocols.mapi.props import by_name, contact as C, core as P
from protocols.mapi.props.named import PidNameKeywords

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "vcard"
CONTACTS = ["outlook-2.1.vcf", "outlook-3.0.vcf", "apple-3.0.vcf", "google-3.0.vcf", "nextcloud-4.0.vcf",
            "evolution-3.0.vcf"]
GROUPS = ["nextcloud-group-4.0.vcf", "apple-group-3.0.vcf"]
UTC = timezone.utc


def load(name: str) -> bytes:
    return (FIX / name).read_bytes()


def unfolded(vcf: bytes) -> list[str]:
    return [ln.format() for ln in parse_vcard(vcf)]


def assert_same(m1: MessageContent, m2: MessageContent) -> None:
    diff = {k: (m1.props.get(k), m2.props.get(k)) for k in set(m1.props) | set(m2.props)
            if m1.props.get(k) != m2.props.get(k)}
    assert diff == {}
    assert [a.props for a in m1.attachments] == [a.props for a in m2.attachments]


# --------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("name", CONTACTS)
def test_contact_round_trip_keeps_every_property(name, version):
    m1 = vcard_to_contact(load(name))
    out = contact_to_vcard(m1, version)
    assert out.startswith(b"BEGIN:VCARD\r\nVERSION:" + version.encode() + b"\r\n")
    assert out.endswith(b"END:VCARD\r\n")
    m2 = vcard_to_contact(out)
    assert_same(m1, m2)
    # and a second lap is stable byte for byte
    assert contact_to_vcard(m2, version) == out


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("name", GROUPS)
def test_distlist_round_trip(name, version):
    m1 = vcard_to_distlist(load(name))
    out = distlist_to_vcard(m1, version)
    assert is_group_vcard(out)
    m2 = vcard_to_distlist(out)
    assert_same(m1, m2)


def _built_contact() -> MessageContent:
    """A contact as Outlook would create it, with no vCard behind it."""
    dn = "María José O'Neil"
    props = {
        P.PidTagMessageClass: "IPM.Contact",
        P.PidTagDisplayName: dn, P.PidTagSubject: dn, P.PidTagNormalizedSubject: dn,
        P.PidTagGivenName: "María José", P.PidTagSurname: "O'Neil", P.PidTagDisplayNamePrefix: "Ms.",
        P.PidTagGeneration: "Jr.", P.PidTagMiddleName: "Q",
        C.PidLidFileUnder: "Fabrikam; Inc.", C.PidLidFileUnderId: C.FILE_UNDER_COMPANY,
        P.PidTagNickname: "MJ, the boss", P.PidTagCompanyName: "Fabrikam; Inc.", P.PidTagDepartmentName: "R&D",
        P.PidTagTitle: "CTO", P.PidTagProfession: "Engineer",
        P.PidTagBusinessTelephoneNumber: "+1 1", P.PidTagBusiness2TelephoneNumber: "+1 2",
        P.PidTagHomeTelephoneNumber: "+1 3", P.PidTagHome2TelephoneNumber: "+1 4",
        P.PidTagMobileTelephoneNumber: "+1 5", P.PidTagPagerTelephoneNumber: "+1 6",
        P.PidTagBusinessFaxNumber: "+1 7", P.PidTagHomeFaxNumber: "+1 8", C.PidTagPrimaryFaxNumber: "+1 9",
        P.PidTagCarTelephoneNumber: "+1 10", P.PidTagPrimaryTelephoneNumber: "+1 11",
        P.PidTagAssistantTelephoneNumber: "+1 12", C.PidTagCompanyMainTelephoneNumber: "+1 13",
        C.PidTagCallbackTelephoneNumber: "+1 14", C.PidTagRadioTelephoneNumber: "+1 15",
        C.PidTagTelecommunicationsDeviceForDeafTelephoneNumber: "+1 16", C.PidTagIsdnNumber: "+1 17",
        C.PidTagOtherTelephoneNumber: "+1 18", C.PidTagTelexNumber: "+1 19",
        C.PidLidWorkAddressStreet: "1 Main St\r\nSuite 5", C.PidLidWorkAddressCity: "Redmond",
        C.PidLidWorkAddressState: "WA", C.PidLidWorkAddressPostalCode: "98052",
        C.PidLidWorkAddressCountry: "USA", C.PidLidWorkAddressPostOfficeBox: "PO 1",
        C.PidLidWorkAddressCountryCode: "us",
        C.PidLidWorkAddress: "Fabrikam\r\n1 Main St\r\nRedmond WA",
        P.PidTagHomeAddressStreet: "2 Home Rd", P.PidTagHomeAddressCity: "Seattle",
        P.PidTagHomeAddressCountry: "USA",
        C.PidLidHomeAddress: "2 Home Rd\r\nSeattle\r\nUSA",
        P.PidTagOtherAddressStreet: "3 Other Ave", P.PidTagOtherAddressCity: "Tacoma",
        C.PidLidOtherAddress: "3 Other Ave\r\nTacoma",
        C.PidLidPostalAddressId: C.POSTAL_ADDRESS_HOME,
        P.PidTagStreetAddress: "2 Home Rd", P.PidTagLocality: "Seattle", P.PidTagCountry: "USA",
        C.PidTagPostalAddress: "2 Home Rd\r\nSeattle\r\nUSA",
        C.PidLidHtml: "http://web.example", P.PidTagBusinessHomePage: "http://work.example",
        P.PidTagPersonalHomePage: "http://home.example",
        P.PidTagBirthday: datetime(1980, 2, 29, tzinfo=UTC), C.PidLidBirthdayLocal: datetime(1980, 2, 29, tzinfo=UTC),
        P.PidTagWeddingAnniversary: datetime(2010, 10, 10, tzinfo=UTC),
        C.PidLidWeddingAnniversaryLocal: datetime(2010, 10, 10, tzinfo=UTC),
        P.PidTagBody: "Line one, with comma; and semicolon\r\nLine two \\ backslash",
        PidNameKeywords: ["Red, dark", "Blue"],
        C.PidNameExgateVCardUid: "3c2a1b00-0000-4000-8000-1234567890ab",
        C.PidLidInstantMessagingAddress: "sip:mj@fabrikam.example",
        P.PidTagGender: C.GENDER_FEMALE,
        P.PidTagManagerName: "The Boss", P.PidTagAssistant: "Helper", P.PidTagSpouseName: "Partner",
        C.PidTagChildrensNames: ["Kid One", "Kid Two"],
        P.PidTagLastModificationTime: datetime(2024, 2, 1, 8, 9, 10, tzinfo=UTC),
        P.PidTagSensitivity: C.SENSITIVITY_PERSONAL,
        C.PidLidHasPicture: True,
    }
    for i, addr in enumerate(["mj@fabrikam.example", "mj@home.example", "mj@third.example"]):
        k_dn, k_type, k_addr, k_odn, k_eid = (
            by_name(f"PidLidEmail{i + 1}{s}") for s in
            ("DisplayName", "AddressType", "EmailAddress", "OriginalDisplayName", "OriginalEntryId"))
        label = f"{dn} ({addr})"
        props.update({k_dn: label, k_type: "SMTP", k_addr: addr, k_odn: addr,
                      k_eid: vcard_to_contact(
                          f"BEGIN:VCARD\r\nFN:{dn}\r\nEMAIL:{addr}\r\nEND:VCARD\r\n".encode()).props[
                          C.PidLidEmail1OriginalEntryId]})
    props[C.PidLidAddressBookProviderEmailList] = [0, 1, 2]
    props[C.PidLidAddressBookProviderArrayType] = 7
    photo = Attachment(props={
        P.PidTagAttachMethod: P.ATTACH_BY_VALUE,
        P.PidTagAttachDataBinary: base64.b64decode("/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJ"),
        P.PidTagAttachExtension: ".jpg", P.PidTagAttachFilename: "ContactPicture.jpg",
        P.PidTagAttachLongFilename: "ContactPicture.jpg", P.PidTagDisplayName: "ContactPicture.jpg",
        P.PidTagAttachMimeTag: "image/jpeg", P.PidTagAttachmentHidden: True, P.PidTagRenderingPosition: -1,
        C.PidTagAttachmentContactPhoto: True})
    return MessageContent(props=props, attachments=[photo])


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_props_to_vcard_to_props_keeps_every_mapped_property(version):
    m1 = _built_contact()
    m2 = vcard_to_contact(contact_to_vcard(m1, version))
    assert_same(m1, m2)


def test_vobject_reads_our_3_0_output():
    out = contact_to_vcard(_built_contact(), "3.0")
    card = vobject.readOne(out.decode("utf-8"))
    assert card.fn.value == "María José O'Neil"
    assert card.n.value.family == "O'Neil" and card.n.value.given == "María José"
    assert [e.value for e in card.email_list] == ["mj@fabrikam.example", "mj@home.example", "mj@third.example"]
    assert card.note.value == "Line one, with comma; and semicolon\nLine two \\ backslash"
    assert card.org.value == ["Fabrikam; Inc.", "R&D"]


# --------------------------------------------------------------------------- producers

def test_outlook_21_quoted_printable_and_windows_1252():
    m = vcard_to_contact(load("outlook-2.1.vcf"))
    p = m.props
    assert p[P.PidTagMessageClass] == "IPM.Contact"
    assert (p[P.PidTagSurname], p[P.PidTagGivenName], p[P.PidTagDisplayNamePrefix]) == ("Müller", "Jürgen", "Dr.")
    assert p[P.PidTagDisplayName] == p[P.PidTagSubject] == p[P.PidTagNormalizedSubject] == "Dr. Jürgen Müller"
    # QP soft line break joined, =0D=0A decoded, MAPI line ends are CRLF
    assert p[P.PidTagBody] == ("Erstes Treffen auf der CeBIT in Hannover, Halle 9, Stand C42.\r\n"
                               "Mag Kaffee mit Milch; kein Zucker.")
    assert p[P.PidTagDepartmentName] == "Vertrieb Süd"
    assert p[C.PidLidWorkAddressStreet] == "Hauptstraße 1"
    assert p[C.PidLidWorkAddress] == "Hauptstraße 1\r\n10115 Berlin\r\nDeutschland"  # from LABEL
    assert p[C.PidLidPostalAddressId] == C.POSTAL_ADDRESS_WORK
    assert p[P.PidTagStreetAddress] == "Hauptstraße 1" and p[C.PidTagPostalAddress] == p[C.PidLidWorkAddress]
    assert p[P.PidTagBusinessTelephoneNumber] == "+49 30 1234567"
    assert p[P.PidTagHomeTelephoneNumber] == "+49 30 7654321"
    assert p[P.PidTagMobileTelephoneNumber] == "+49 171 1234567"
    assert p[P.PidTagBusinessFaxNumber] == "+49 30 1234599"
    assert p[P.PidTagBusinessHomePage] == "http://www.contoso.de/"
    assert p[P.PidTagProfession] == "Vertrieb"
    assert p[P.PidTagBirthday] == datetime(1970, 5, 17, tzinfo=UTC)
    assert p[C.PidLidInstantMessagingAddress] == "jmueller@im.contoso.de"
    assert p[P.PidTagLastModificationTime] == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert p[C.PidLidFileUnder] == "Müller, Jürgen"
    assert p[C.PidLidFileUnderId] == C.FILE_UNDER_SURNAME_COMMA_GIVEN_MIDDLE
    # the 2.1 base64 photo (indented, ended by a blank line)
    (att,) = m.attachments
    assert att.props[P.PidTagAttachDataBinary][:3] == b"\xff\xd8\xff"
    assert att.props[P.PidTagAttachDataBinary][-2:] == b"\xff\xd9"
    assert att.props[C.PidTagAttachmentContactPhoto] is True
    assert att.props[P.PidTagAttachFilename] == att.props[P.PidTagDisplayName] == "ContactPicture.jpg"
    assert p[C.PidLidHasPicture] is True
    # unmapped X-MS-OL-DESIGN is kept (without the 2.1 CHARSET parameter)
    assert p[C.PidNameExgateVCardExtra].startswith('X-MS-OL-DESIGN:<card xmlns="http://schemas.microsoft.com')


def test_outlook_30_x_ms_extensions_and_email_overflow():
    m = vcard_to_contact(load("outlook-3.0.vcf"))
    p = m.props
    assert p[P.PidTagCompanyName] == "Contoso, Ltd." and p[P.PidTagDepartmentName] == "Sales"
    assert p[C.PidTagCompanyMainTelephoneNumber] == "+1-206-555-0100"
    assert p[P.PidTagAssistantTelephoneNumber] == "+1-206-555-0188"
    assert p[P.PidTagAssistant] == "Jeff Price" and p[P.PidTagManagerName] == "Pat Coleman"
    assert p[P.PidTagSpouseName] == "Kim Fennell"
    assert p[P.PidTagWeddingAnniversary] == datetime(2001, 9, 15, tzinfo=UTC)
    assert p[P.PidTagSensitivity] == C.SENSITIVITY_PRIVATE
    assert p[PidNameKeywords] == ["Customers", "Key accounts"]
    assert p[P.PidTagBody] == "Prefers calls before 10 a.m. \u2013 not after.\r\nLikes café."
    assert p[C.PidNameExgateVCardUid] == "040000008200E00074C5B7101A82E00800000000D0C3A1B2C3D4"
    # three addresses map, the fourth stays a vCard line
    assert [p[by_name(f"PidLidEmail{i}EmailAddress")] for i in (1, 2, 3)] == [
        "dan.fennell@contoso.com", "dfennell@fabrikam.com", "dan@fennell.example"]
    assert p[C.PidLidEmail1DisplayName] == "Dan Fennell (dan.fennell@contoso.com)"
    assert p[C.PidLidEmail2AddressType] == "SMTP"
    assert p[C.PidLidEmail3OriginalDisplayName] == "dan@fennell.example"
    assert p[C.PidLidAddressBookProviderEmailList] == [0, 1, 2]
    assert p[C.PidLidAddressBookProviderArrayType] == 0b111
    assert "EMAIL;TYPE=internet:dan.f@overflow.example" in p[C.PidNameExgateVCardExtra].split("\n")
    # work is pref -> mailing address
    assert p[C.PidLidPostalAddressId] == C.POSTAL_ADDRESS_WORK
    assert p[C.PidLidWorkAddress] == "7890 Elm Street\r\nBoulder, CO 33041\r\nU.S."


def test_apple_groups_labels_and_photo():
    m = vcard_to_contact(load("apple-3.0.vcf"))
    p = m.props
    assert p[C.PidTagOtherTelephoneNumber] == "+1 (408) 555-0199"  # item1 _$!<Other>!$_
    assert p[P.PidTagMobileTelephoneNumber] == "+1 (408) 555-0101"
    assert p[P.PidTagHomeAddressCity] == "Cupertino"
    assert p[C.PidLidHomeAddressCountryCode] == "us"  # item2.X-ABADR
    assert p[C.PidLidPostalAddressId] == C.POSTAL_ADDRESS_HOME
    assert p[C.PidLidHtml] == "https://www.apple.example/johnny"
    assert p[P.PidTagWeddingAnniversary] == datetime(2004, 6, 12, tzinfo=UTC)  # X-ABDATE + Anniversary label
    assert p[P.PidTagSpouseName] == "Jane Appleseed" and p[P.PidTagManagerName] == "Tim"
    assert p[P.PidTagBirthday] == datetime(1604, 3, 21, tzinfo=UTC)  # X-APPLE-OMIT-YEAR
    assert p[P.PidTagBody] == "Met at WWDC, 2019.\r\nLikes apples."
    assert p[PidNameKeywords] == ["Work", "VIP"]
    (att,) = m.attachments
    assert att.props[P.PidTagAttachMimeTag] == "image/jpeg"
    extra = p[C.PidNameExgateVCardExtra].split("\n")
    # a second mobile number, a custom-labelled group and Apple's own lines survive
    assert "TEL;TYPE=IPHONE;TYPE=CELL;TYPE=VOICE:+1 (408) 555-0102" in extra
    assert "item7.X-ABRELATEDNAMES:Pat Buddy" in extra and "item7.X-ABLabel:buddy" in extra
    assert "X-ABUID:6B29FC40-CA47-1067-B31D-00DD010662DA:ABPerson" in extra
    assert not any("item1." in x or "item2." in x for x in extra)  # consumed groups leave no orphans


def test_google_second_numbers_and_lf_line_ends():
    data = load("google-3.0.vcf")
    assert b"\r\n" not in data
    p = vcard_to_contact(data).props
    assert p[P.PidTagBusinessTelephoneNumber] == "+1 202-555-0112"
    assert p[P.PidTagBusiness2TelephoneNumber] == "+1 202-555-0113"
    assert p[P.PidTagHomeTelephoneNumber] == "+1 202-555-0114"
    assert p[P.PidTagHome2TelephoneNumber] == "+1 202-555-0115"
    assert p[P.PidTagHomeFaxNumber] == "+1 202-555-0116"  # TYPE=HOME,FAX
    assert p[P.PidTagPrimaryTelephoneNumber] == "+1 202-555-0118"  # TYPE=MAIN
    assert p[P.PidTagHomeAddressStreet] == "Apt 4\r\n200 Ocean Ave"  # extended address joins the street
    assert p[P.PidTagOtherAddressStreet] == "PO Box 5"
    assert C.PidLidPostalAddressId not in p  # three addresses, none preferred
    assert p[P.PidTagDisplayNamePrefix] == "RAdm." and p[P.PidTagMiddleName] == "Brewster Murray"
    assert p[C.PidLidHtml] == "http://blog.example/grace"
    assert C.PidNameExgateVCardUid not in p
    assert p[C.PidNameExgateVCardExtra] == "EMAIL;TYPE=INTERNET:fourth@example.org"


def test_nextcloud_40_uri_values_and_data_photo():
    m = vcard_to_contact(load("nextcloud-4.0.vcf"))
    p = m.props
    assert p[P.PidTagBusinessTelephoneNumber] == "+44-20-7946-0958"  # TYPE="work,voice";VALUE=uri:tel:
    assert p[P.PidTagMobileTelephoneNumber] == "+44-7700-900123"
    assert p[P.PidTagHomeTelephoneNumber] == "+44 20 7946 0000"  # TYPE=home;TYPE=voice
    assert p[C.PidLidEmail1EmailAddress] == "ada@analytical.example"  # PREF=1 goes first
    assert p[C.PidLidEmail2EmailAddress] == "ada@home.example"
    assert p[P.PidTagGender] == C.GENDER_FEMALE
    assert p[C.PidLidInstantMessagingAddress] == "xmpp:ada@jabber.example"
    assert p[P.PidTagBirthday] == datetime(1815, 12, 10, tzinfo=UTC)
    assert p[C.PidLidBirthdayLocal] == p[P.PidTagBirthday]
    assert p[P.PidTagWeddingAnniversary] == datetime(1835, 7, 8, tzinfo=UTC)
    assert p[P.PidTagSpouseName] == "William King"
    assert p[C.PidLidWorkAddress] == "12 St James's Square\r\nLondon SW1Y 4JH\r\nUnited Kingdom"
    assert p[C.PidLidWorkAddressCountryCode] == "gb"
    assert p[C.PidNameExgateVCardUid] == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    (att,) = m.attachments
    assert att.props[P.PidTagAttachDataBinary].startswith(b"\x89PNG\r\n\x1a\n")
    assert att.props[P.PidTagAttachMimeTag] == "image/png"
    extra = p[C.PidNameExgateVCardExtra].split("\n")
    assert "RELATED;TYPE=friend:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af" in extra
    assert "CLIENTPIDMAP:1;urn:uuid:3df403f4-5924-4bb7-b077-3c711d9eb34b" in extra
    assert not any(x.startswith("KIND") for x in extra)


def test_evolution_fields():
    p = vcard_to_contact(load("evolution-3.0.vcf")).props
    assert p[C.PidLidFileUnder] == "Torvalds, Linus"
    assert p[C.PidLidFileUnderId] == C.FILE_UNDER_CUSTOM  # not one of MS-OXOCNTC's formulas
    assert p[P.PidTagSpouseName] == "Tove Torvalds"
    assert p[P.PidTagManagerName] == "Nobody In Particular"
    assert p[P.PidTagAssistant] == "Greg"
    assert p[P.PidTagWeddingAnniversary] == datetime(1995, 6, 1, tzinfo=UTC)
    assert p[P.PidTagAssistantTelephoneNumber] == "+1 503 555 0101"
    assert p[C.PidTagCompanyMainTelephoneNumber] == "+1 503 555 0102"
    assert p[P.PidTagCarTelephoneNumber] == "+1 503 555 0103"
    assert p[C.PidTagCallbackTelephoneNumber] == "+1 503 555 0104"
    assert p[C.PidTagIsdnNumber] == "+1 503 555 0105"
    assert p[P.PidTagPrimaryTelephoneNumber] == "+1 503 555 0106"
    assert p[C.PidTagRadioTelephoneNumber] == "+1 503 555 0107"
    assert p[C.PidTagTelecommunicationsDeviceForDeafTelephoneNumber] == "+1 503 555 0108"
    assert p[C.PidTagTelexNumber] == "+1 503 555 0109"
    assert p[C.PidTagOtherTelephoneNumber] == "+1 503 555 0110"
    assert p[P.PidTagHomeFaxNumber] == "+1 503 555 0111"
    assert p[P.PidTagDepartmentName] == "Kernel, Maintainers"
    assert p[C.PidLidWorkAddress] == "1 Linux Foundation Way\r\nPortland, OR 97201\r\nUSA"  # LABEL
    assert p[P.PidTagOtherAddressCity] == "Helsinki"
    extra = p[C.PidNameExgateVCardExtra].split("\n")
    for line in ("X-EVOLUTION-BLOG-URL:http://blog.example/linus", "CALURI:http://cal.example/linus",
                 "FBURL:http://fb.example/linus", "X-MOZILLA-HTML:FALSE",
                 "TEL;TYPE=X-EVOLUTION-MMS:+1 503 555 0112",
                 "X-JABBER;X-EVOLUTION-UI-SLOT=1;TYPE=HOME:linus@jabber.example"):
        assert line in extra


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("name", CONTACTS)
def test_unmapped_lines_survive_export(name, version):
    m = vcard_to_contact(load(name))
    kept = m.props.get(C.PidNameExgateVCardExtra, "").split("\n")
    lines = unfolded(contact_to_vcard(m, version))
    for line in kept:
        if line:
            assert line in lines


# --------------------------------------------------------------------------- syntax

def test_type_param_forms_are_equivalent():
    a = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nTEL;TYPE=work,voice:1\r\nTEL;TYPE=home;TYPE=fax:2\r\nEND:VCARD\r\n"
    b = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nTEL;TYPE=work;TYPE=voice:1\r\nTEL;TYPE=\"home,fax\":2\r\nEND:VCARD\r\n"
    c = b"BEGIN:VCARD\r\nVERSION:2.1\r\nFN:X\r\nTEL;WORK;VOICE:1\r\nTEL;HOME;FAX:2\r\nEND:VCARD\r\n"
    props = [vcard_to_contact(x).props for x in (a, b, c)]
    for p in props:
        assert p[P.PidTagBusinessTelephoneNumber] == "1" and p[P.PidTagHomeFaxNumber] == "2"


def test_folding_with_space_or_tab_and_lf_only():
    data = b"BEGIN:VCARD\nVERSION:3.0\nFN:Very Long\n\tName\nNOTE:a\n  b\nEND:VCARD\n"
    p = vcard_to_contact(data).props
    assert p[P.PidTagDisplayName] == "Very LongName"
    assert p[P.PidTagBody] == "a b"


def test_output_is_folded_at_75_octets_without_splitting_utf8():
    m = MessageContent(props={P.PidTagDisplayName: "ä" * 100, P.PidTagBody: "€" * 80})
    out = contact_to_vcard(m, "4.0")
    for raw in out.split(b"\r\n"):
        assert len(raw) <= 75
        raw.decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert vcard_to_contact(out).props[P.PidTagBody] == "€" * 80


def test_quoted_printable_soft_break_and_charset():
    data = ("BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Gr=FC=\r\n"
            "n;Hans\r\nFN;CHARSET=ISO-8859-1:Hans Grün\r\nEND:VCARD\r\n").encode("latin-1")
    p = vcard_to_contact(data).props
    assert p[P.PidTagSurname] == "Grün" and p[P.PidTagDisplayName] == "Hans Grün"


def test_content_line_parameters():
    (ln,) = parse_vcard(b'BEGIN:VCARD\r\nitem3.ADR;TYPE="work,pref";LABEL="a^nb: c";X-Q=^\'x^\':;;st\r\nEND:VCARD\r\n')
    assert isinstance(ln, ContentLine)
    assert ln.group == "item3" and ln.name == "ADR"
    assert ln.types == {"work", "pref"}
    assert ln.param("LABEL") == "a\nb: c"
    assert ln.param("X-Q") == '"x"'
    assert ln.components() == ["", "", "st"]


def test_year_less_birthday_and_shifted_times():
    p = vcard_to_contact(b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nBDAY:--0321\r\nEND:VCARD\r\n").props
    assert p[P.PidTagBirthday] == datetime(1604, 3, 21, tzinfo=UTC)
    assert b"BDAY:--0321\r\n" in contact_to_vcard(MessageContent(props=dict(p)), "4.0")
    assert b"BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-21\r\n" in contact_to_vcard(MessageContent(props=dict(p)), "3.0")
    # a client east of UTC stored local midnight as the previous evening in UTC
    east = MessageContent(props={P.PidTagDisplayName: "B", P.PidTagBirthday: datetime(1970, 5, 16, 22, 0, tzinfo=UTC)})
    assert b"BDAY:1970-05-17\r\n" in contact_to_vcard(east, "3.0")
    west = MessageContent(props={P.PidTagDisplayName: "B", P.PidTagBirthday: datetime(1970, 5, 17, 7, 0, tzinfo=UTC)})
    assert b"BDAY:19700517\r\n" in contact_to_vcard(west, "4.0")


def test_rev_and_class_forms():
    p = vcard_to_contact(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nREV:2024-01-15T11:30:00+01:00\r\n"
                         b"CLASS:CONFIDENTIAL\r\nEND:VCARD\r\n").props
    assert p[P.PidTagLastModificationTime] == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert p[P.PidTagSensitivity] == C.SENSITIVITY_CONFIDENTIAL
    assert b"X-CLASS:CONFIDENTIAL\r\n" in contact_to_vcard(MessageContent(props=p), "4.0")
    assert b"CLASS:CONFIDENTIAL\r\n" in contact_to_vcard(MessageContent(props=p), "3.0")


def test_exchange_address_type_exports_the_smtp_form():
    m = MessageContent(props={P.PidTagDisplayName: "Ex", C.PidLidEmail1AddressType: "EX",
                              C.PidLidEmail1EmailAddress: "/o=Contoso/ou=First/cn=Recipients/cn=ex",
                              C.PidLidEmail1OriginalDisplayName: "ex@contoso.com"})
    assert b"EMAIL;TYPE=INTERNET,PREF:ex@contoso.com\r\n" in contact_to_vcard(m, "3.0")


def test_url_photo_is_kept_not_fetched():
    data = b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nPHOTO:https://example.org/a.jpg\r\nEND:VCARD\r\n"
    m = vcard_to_contact(data)
    assert m.attachments == [] and C.PidLidHasPicture not in m.props
    assert m.props[C.PidNameExgateVCardExtra] == "PHOTO:https://example.org/a.jpg"


def test_no_vcard_raises():
    with pytest.raises(ValueError):
        vcard_to_contact(b"hello")


# --------------------------------------------------------------------------- EntryIDs

def test_one_off_entryid_layout():
    """MS-OXCDATA 2.2.5.1 One-Off EntryID as stored in PidLidEmail1OriginalEntryId."""
    p = vcard_to_contact(load("nextcloud-4.0.vcf")).props
    eid = p[C.PidLidEmail1OriginalEntryId]
    assert eid[0:4] == b"\x00\x00\x00\x00"  # Flags
    assert eid[4:20] == bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")  # ProviderUID
    assert eid[20:22] == b"\x00\x00"  # Version
    (le_word,) = struct.unpack_from("<H", eid, 22)
    (be_word,) = struct.unpack_from(">H", eid, 22)
    assert le_word & 0x8000  # MAPI_ONE_OFF_UNICODE (mapidefs.h, Intel byte order)
    assert be_word & 0x0100  # no rich info / send MIME: the 0x0100 position in the spec's bit drawing
    assert le_word & 0x0001 == be_word >> 8 & 0x01
    rest = eid[24:]
    name = "Ada Lovelace (ada@analytical.example)".encode("utf-16-le") + b"\x00\x00"
    assert rest == name + "SMTP".encode("utf-16-le") + b"\x00\x00" + \
        "ada@analytical.example".encode("utf-16-le") + b"\x00\x00"
    oo = decode_one_off(eid)
    assert (oo.display_name, oo.address_type, oo.email_address) == (
        "Ada Lovelace (ada@analytical.example)", "SMTP", "ada@analytical.example")


def test_wrapped_entryid_layout():
    w = wrap_entryid(b"EMBEDDED")
    assert w[:4] == b"\x00\x00\x00\x00"
    assert w[4:20] == bytes.fromhex("C091ADD3519DCF11A4A900AA0047FAA4")  # MS-OXOCNTC 2.2.2.2.4.1.1
    assert w[20] == 0x00 and w[21:] == b"EMBEDDED"
    assert unwrap_entryid(w) == (0, b"EMBEDDED")
    assert wrap_entryid(b"X", C.WRAPPED_TYPE_CONTACT, email_index=1)[20] == 0x80 | 0x10 | 0x03
    assert unwrap_entryid(b"junk") is None


# --------------------------------------------------------------------------- distribution lists

def test_nextcloud_group_to_distlist():
    m = vcard_to_distlist(load("nextcloud-group-4.0.vcf"))
    p = m.props
    assert p[P.PidTagMessageClass] == "IPM.DistList"
    assert p[P.PidTagDisplayName] == p[C.PidLidDistributionListName] == "Analytical Engine Team"
    assert p[C.PidLidFileUnderId] == 0xFFFFFFFF
    members, oneoffs = p[C.PidLidDistributionListMembers], p[C.PidLidDistributionListOneOffMembers]
    assert len(members) == len(oneoffs) == 3
    for w, o in zip(members, oneoffs):
        assert unwrap_entryid(w) == (C.WRAPPED_TYPE_ONE_OFF, o)
    charles = decode_one_off(oneoffs[1])
    assert (charles.address_type, charles.email_address) == ("SMTP", "charles@babbage.example")
    assert p[C.PidNameExgateVCardMemberRefs][0] == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    assert p[P.PidTagBody] == "People who worked on the engine"
    assert p[C.PidNameExgateVCardExtra] == "X-NEXTCLOUD-GROUP-COLOR:#0082c9"


def test_member_resolver_fills_names_and_addresses():
    book = {"urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1": ("Ada Lovelace", "ada@analytical.example")}
    m = vcard_to_distlist(load("nextcloud-group-4.0.vcf"), resolve_member=book.get)
    ada = decode_one_off(m.props[C.PidLidDistributionListOneOffMembers][0])
    assert (ada.display_name, ada.email_address) == ("Ada Lovelace", "ada@analytical.example")
    unknown = decode_one_off(m.props[C.PidLidDistributionListOneOffMembers][2])
    assert unknown.email_address == ""
    # the export writes the card reference back, not the resolved address
    out = distlist_to_vcard(m, "4.0")
    assert b"MEMBER:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n" in out
    assert b"MEMBER:mailto:charles@babbage.example\r\n" in out


def test_apple_group_forms():
    m = vcard_to_distlist(load("apple-group-3.0.vcf"))
    assert m.props[P.PidTagDisplayName] == "Book Club"
    assert len(m.props[C.PidLidDistributionListMembers]) == 2
    out = distlist_to_vcard(m, "3.0")
    assert b"X-ADDRESSBOOKSERVER-KIND:group\r\n" in out
    assert b"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:6B29FC40-CA47-1067-B31D-00DD010662DA\r\n" in out
    assert b"N:Book Club;;;;\r\n" in out
    out4 = distlist_to_vcard(m, "4.0")
    assert b"KIND:group\r\n" in out4 and b"MEMBER:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n" in out4


def test_distlist_from_outlook_members_without_refs():
    """A list Outlook made: only the EntryIDs, no vCard references."""
    from protocols.mapi.entryids import encode_one_off
    o1 = encode_one_off("Ann", "ann@example.org", "SMTP")
    o2 = encode_one_off("Bob", "bob@example.org", "SMTP")
    m = MessageContent(props={P.PidTagMessageClass: "IPM.DistList", P.PidTagDisplayName: "Friends",
                              C.PidLidDistributionListName: "Friends",
                              C.PidLidDistributionListMembers: [wrap_entryid(o1), wrap_entryid(b"\x00" * 8, 3)],
                              C.PidLidDistributionListOneOffMembers: [o1, o2]})
    out = distlist_to_vcard(m)
    assert b"MEMBER:mailto:ann@example.org\r\n" in out
    assert b"MEMBER:mailto:bob@example.org\r\n" in out  # the contact member, named by its one-off twin


def test_is_group_vcard():
    assert is_group_vcard(load("nextcloud-group-4.0.vcf"))
    assert is_group_vcard(load("apple-group-3.0.vcf"))
    assert not is_group_vcard(load("nextcloud-4.0.vcf"))


def test_contact_area_registered():
    assert by_name("PidLidEmail1EmailAddress") == C.PidLidEmail1EmailAddress
    assert by_name("PidTagAttachmentContactPhoto") == 0x7FFF000B
