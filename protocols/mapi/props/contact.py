"""Contact and personal distribution list properties (MS-OXOCNTC 2.2, MS-OXPROPS).

Named properties live in PSETID_Address; the tagged ones that core.py does not
define yet are added here. Two PS_PUBLIC_STRINGS names are exgate's own (see
gateway/store/convert/docs/vcard.md): they keep the vCard UID and the vCard lines that have
no MAPI property, so a CardDAV item survives a round trip through Outlook.
"""
from __future__ import annotations

import uuid

from ..types import PropType as T, make_tag as _t
from .named import PSETID, PS_PUBLIC_STRINGS, lid, name

_A = PSETID.Address

# --- tagged contact properties missing from core.py (MS-OXOCNTC 2.2.1, MS-OXOABK 2.2.4) ---
PidTagOtherTelephoneNumber = _t(0x3A1F, T.String)
PidTagCallbackTelephoneNumber = _t(0x3A02, T.String)
PidTagCompanyMainTelephoneNumber = _t(0x3A57, T.String)
PidTagRadioTelephoneNumber = _t(0x3A1D, T.String)
PidTagTelecommunicationsDeviceForDeafTelephoneNumber = _t(0x3A4B, T.String)
PidTagIsdnNumber = _t(0x3A2D, T.String)
PidTagTelexNumber = _t(0x3A2C, T.String)
PidTagPrimaryFaxNumber = _t(0x3A23, T.String)
PidTagHomeAddressPostOfficeBox = _t(0x3A5E, T.String)
PidTagOtherAddressPostOfficeBox = _t(0x3A64, T.String)
PidTagPostalAddress = _t(0x3A15, T.String)
PidTagChildrensNames = _t(0x3A58, T.MultipleString)
PidTagHobbies = _t(0x3A43, T.String)
PidTagReferredByName = _t(0x3A47, T.String)
# MS-OXOCNTC 2.2.1.8.2: TRUE on the one attachment that is the contact's photo.
PidTagAttachmentContactPhoto = _t(0x7FFF, T.Boolean)

# --- PSETID_Address: names and filing (MS-OXOCNTC 2.2.1.1) ---
PidLidFileUnder = lid(_A, 0x8005, T.String)
PidLidFileUnderId = lid(_A, 0x8006, T.Integer32)
PidLidContactItemData = lid(_A, 0x8007, T.MultipleInteger32)
PidLidFileUnderList = lid(_A, 0x8026, T.MultipleInteger32)
PidLidYomiFirstName = lid(_A, 0x802C, T.String)
PidLidYomiLastName = lid(_A, 0x802D, T.String)
PidLidYomiCompanyName = lid(_A, 0x802E, T.String)
PidLidDepartment = lid(_A, 0x8010, T.String)
PidLidHasPicture = lid(_A, 0x8015, T.Boolean)
PidLidHtml = lid(_A, 0x802B, T.String)
PidLidInstantMessagingAddress = lid(_A, 0x8062, T.String)
PidLidFreeBusyLocation = lid(_A, 0x80D8, T.String)
PidLidBirthdayLocal = lid(_A, 0x80DE, T.Time)
PidLidWeddingAnniversaryLocal = lid(_A, 0x80DF, T.Time)
PidLidReferredBy = lid(_A, 0x800E, T.String)

# --- electronic addresses (MS-OXOCNTC 2.2.1.2) ---
PidLidEmail1DisplayName = lid(_A, 0x8080, T.String)
PidLidEmail1AddressType = lid(_A, 0x8082, T.String)
PidLidEmail1EmailAddress = lid(_A, 0x8083, T.String)
PidLidEmail1OriginalDisplayName = lid(_A, 0x8084, T.String)
PidLidEmail1OriginalEntryId = lid(_A, 0x8085, T.Binary)
PidLidEmail2DisplayName = lid(_A, 0x8090, T.String)
PidLidEmail2AddressType = lid(_A, 0x8092, T.String)
PidLidEmail2EmailAddress = lid(_A, 0x8093, T.String)
PidLidEmail2OriginalDisplayName = lid(_A, 0x8094, T.String)
PidLidEmail2OriginalEntryId = lid(_A, 0x8095, T.Binary)
PidLidEmail3DisplayName = lid(_A, 0x80A0, T.String)
PidLidEmail3AddressType = lid(_A, 0x80A2, T.String)
PidLidEmail3EmailAddress = lid(_A, 0x80A3, T.String)
PidLidEmail3OriginalDisplayName = lid(_A, 0x80A4, T.String)
PidLidEmail3OriginalEntryId = lid(_A, 0x80A5, T.Binary)
PidLidFax1AddressType = lid(_A, 0x80B2, T.String)
PidLidFax1EmailAddress = lid(_A, 0x80B3, T.String)
PidLidFax1OriginalDisplayName = lid(_A, 0x80B4, T.String)
PidLidFax1OriginalEntryId = lid(_A, 0x80B5, T.Binary)
PidLidFax2AddressType = lid(_A, 0x80C2, T.String)
PidLidFax2EmailAddress = lid(_A, 0x80C3, T.String)
PidLidFax2OriginalDisplayName = lid(_A, 0x80C4, T.String)
PidLidFax2OriginalEntryId = lid(_A, 0x80C5, T.Binary)
PidLidFax3AddressType = lid(_A, 0x80D2, T.String)
PidLidFax3EmailAddress = lid(_A, 0x80D3, T.String)
PidLidFax3OriginalDisplayName = lid(_A, 0x80D4, T.String)
PidLidFax3OriginalEntryId = lid(_A, 0x80D5, T.Binary)
# MS-OXOCNTC 2.2.1.2.11/12: which of Email1-3 / faxes are set, as a list and a bit field.
PidLidAddressBookProviderEmailList = lid(_A, 0x8028, T.MultipleInteger32)
PidLidAddressBookProviderArrayType = lid(_A, 0x8029, T.Integer32)

# --- physical addresses (MS-OXOCNTC 2.2.1.3) ---
PidLidHomeAddress = lid(_A, 0x801A, T.String)
PidLidWorkAddress = lid(_A, 0x801B, T.String)
PidLidOtherAddress = lid(_A, 0x801C, T.String)
PidLidPostalAddressId = lid(_A, 0x8022, T.Integer32)
PidLidWorkAddressStreet = lid(_A, 0x8045, T.String)
PidLidWorkAddressCity = lid(_A, 0x8046, T.String)
PidLidWorkAddressState = lid(_A, 0x8047, T.String)
PidLidWorkAddressPostalCode = lid(_A, 0x8048, T.String)
PidLidWorkAddressCountry = lid(_A, 0x8049, T.String)
PidLidWorkAddressPostOfficeBox = lid(_A, 0x804A, T.String)
PidLidHomeAddressCountryCode = lid(_A, 0x80DA, T.String)
PidLidWorkAddressCountryCode = lid(_A, 0x80DB, T.String)
PidLidOtherAddressCountryCode = lid(_A, 0x80DC, T.String)
PidLidAddressCountryCode = lid(_A, 0x80DD, T.String)

# --- personal distribution lists (MS-OXOCNTC 2.2.2.2) ---
PidLidDistributionListChecksum = lid(_A, 0x804C, T.Integer32)
PidLidDistributionListName = lid(_A, 0x8053, T.String)
PidLidDistributionListOneOffMembers = lid(_A, 0x8054, T.MultipleBinary)
PidLidDistributionListMembers = lid(_A, 0x8055, T.MultipleBinary)
PidLidDistributionListStream = lid(_A, 0x8064, T.Binary)

# --- exgate's own, PS_PUBLIC_STRINGS (documented in gateway/store/convert/docs/vcard.md) ---
# The vCard UID (RFC 6350 6.7.6), kept verbatim so the CardDAV identity survives.
PidNameExgateVCardUid = name(PS_PUBLIC_STRINGS, "urn:exgate:vcard:uid", T.String)
# vCard content lines with no MAPI mapping, unfolded, one per line (LF-separated).
PidNameExgateVCardExtra = name(PS_PUBLIC_STRINGS, "urn:exgate:vcard:extra", T.String)
# Per distribution-list member, the vCard reference (urn:uuid:... or mailto:...),
# in the same order as PidLidDistributionListMembers.
PidNameExgateVCardMemberRefs = name(PS_PUBLIC_STRINGS, "urn:exgate:vcard:member-refs", T.MultipleString)

# --- values ---
# PidLidFileUnderId (MS-OXOCNTC 2.2.1.1.12)
FILE_UNDER_EMPTY = 0x00000000
FILE_UNDER_DISPLAY_NAME = 0x00003001
FILE_UNDER_GIVEN_NAME = 0x00003A06
FILE_UNDER_SURNAME = 0x00003A11
FILE_UNDER_COMPANY = 0x00003A16
FILE_UNDER_SURNAME_COMMA_GIVEN_MIDDLE = 0x00008017
FILE_UNDER_COMPANY_SURNAME_GIVEN = 0x00008018
FILE_UNDER_SURNAME_GIVEN_COMPANY = 0x00008019
FILE_UNDER_CUSTOM = 0xFFFFFFFF  # not in the table: clients keep the string as it is

# PidLidPostalAddressId (MS-OXOCNTC 2.2.1.3.9)
POSTAL_ADDRESS_NONE = 0
POSTAL_ADDRESS_HOME = 1
POSTAL_ADDRESS_WORK = 2
POSTAL_ADDRESS_OTHER = 3

# PidTagGender (MS-OXOCNTC 2.2.1.10.5)
GENDER_UNSPECIFIED = 0
GENDER_FEMALE = 1
GENDER_MALE = 2

# PidTagSensitivity (MS-OXCMSG 2.2.1.13)
SENSITIVITY_NORMAL = 0
SENSITIVITY_PERSONAL = 1
SENSITIVITY_PRIVATE = 2
SENSITIVITY_CONFIDENTIAL = 3

# WrappedEntryId (MS-OXOCNTC 2.2.2.2.4.1.1)
WRAPPED_ENTRYID_PROVIDER = uuid.UUID(bytes=bytes.fromhex("c091add3519dcf11a4a900aa0047faa4"))
WRAPPED_TYPE_ONE_OFF = 0x00
WRAPPED_TYPE_CONTACT = 0x03
WRAPPED_TYPE_PDL = 0x04
WRAPPED_TYPE_GAL_USER = 0x05
WRAPPED_TYPE_GAL_DL = 0x06
