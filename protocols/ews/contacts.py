"""Contact and DistributionList in EWS XML (MS-OXWSCONT 2.2.4.3, MS-OXWSDLIST 2.2.4.1).

Contact fields map to the MS-OXOCNTC properties the vCard conversion reads and writes, so a
contact made through EWS comes out of CardDAV with the same data. Dictionary fields
(EmailAddresses, PhoneNumbers, PhysicalAddresses, ImAddresses) are ``Entry Key=...`` lists;
their IndexedFieldURIs (``contacts:PhoneNumber`` + ``BusinessPhone`` ...) resolve to the same
field, and a SetItemField holder sets only the entries it carries.

Distribution list members are EntryIDs in the store (PidLidDistributionListMembers); the handler
turns them into ``extra["members"]`` = [(name, email, mailbox type)], and reading a list puts
the members the client sent in ``ItemInput.extra["members"]``.
"""
from __future__ import annotations

from protocols.mapi.props import contact as C
from protocols.mapi.props import core as P
from protocols.mapi.props.appointment import PidLidCompanies

from . import items as I
from .ns import children, sub, t, text
from .values import PathError, parse_datetime

EMAIL_KEYS = {
    "EmailAddress1": (C.PidLidEmail1EmailAddress, C.PidLidEmail1AddressType, C.PidLidEmail1DisplayName,
                      C.PidLidEmail1OriginalDisplayName),
    "EmailAddress2": (C.PidLidEmail2EmailAddress, C.PidLidEmail2AddressType, C.PidLidEmail2DisplayName,
                      C.PidLidEmail2OriginalDisplayName),
    "EmailAddress3": (C.PidLidEmail3EmailAddress, C.PidLidEmail3AddressType, C.PidLidEmail3DisplayName,
                      C.PidLidEmail3OriginalDisplayName),
}
# PhoneNumberKeyType (MS-OXWSCDATA 2.2.5.26) -> MS-OXOCNTC 2.2.1.4 properties
PHONE_KEYS = {
    "AssistantPhone": P.PidTagAssistantTelephoneNumber, "BusinessFax": P.PidTagBusinessFaxNumber,
    "BusinessPhone": P.PidTagBusinessTelephoneNumber, "BusinessPhone2": P.PidTagBusiness2TelephoneNumber,
    "Callback": C.PidTagCallbackTelephoneNumber, "CarPhone": P.PidTagCarTelephoneNumber,
    "CompanyMainPhone": C.PidTagCompanyMainTelephoneNumber, "HomeFax": P.PidTagHomeFaxNumber,
    "HomePhone": P.PidTagHomeTelephoneNumber, "HomePhone2": P.PidTagHome2TelephoneNumber,
    "Isdn": C.PidTagIsdnNumber, "MobilePhone": P.PidTagMobileTelephoneNumber,
    "OtherFax": C.PidTagPrimaryFaxNumber, "OtherTelephone": C.PidTagOtherTelephoneNumber,
    "Pager": P.PidTagPagerTelephoneNumber, "PrimaryPhone": P.PidTagPrimaryTelephoneNumber,
    "RadioPhone": C.PidTagRadioTelephoneNumber, "Telex": C.PidTagTelexNumber,
    "TtyTddPhone": C.PidTagTelecommunicationsDeviceForDeafTelephoneNumber,
}
# PhysicalAddressKeyType -> (Street, City, State, CountryOrRegion, PostalCode) properties (MS-OXOCNTC 2.2.1.3)
ADDRESS_KEYS = {
    "Business": (C.PidLidWorkAddressStreet, C.PidLidWorkAddressCity, C.PidLidWorkAddressState,
                 C.PidLidWorkAddressCountry, C.PidLidWorkAddressPostalCode),
    "Home": (P.PidTagHomeAddressStreet, P.PidTagHomeAddressCity, P.PidTagHomeAddressStateOrProvince,
             P.PidTagHomeAddressCountry, P.PidTagHomeAddressPostalCode),
    "Other": (P.PidTagOtherAddressStreet, P.PidTagOtherAddressCity, P.PidTagOtherAddressStateOrProvince,
              P.PidTagOtherAddressCountry, P.PidTagOtherAddressPostalCode),
}
ADDRESS_PARTS = ("Street", "City", "State", "CountryOrRegion", "PostalCode")
POSTAL_INDEX = {C.POSTAL_ADDRESS_NONE: "None", C.POSTAL_ADDRESS_HOME: "Home", C.POSTAL_ADDRESS_WORK: "Business",
                C.POSTAL_ADDRESS_OTHER: "Other"}


def _get(view, key):
    return I._get(view, key)


def w_emails(parent, view, f, shape):
    rows = []
    for key, (addr, atype, _dn, odn) in EMAIL_KEYS.items():
        v = _get(view, addr)
        if v and str(_get(view, atype) or "SMTP").upper() != "SMTP":
            v = _get(view, odn) or v   # an EX address: the original SMTP form is what clients can use
        if v:
            rows.append((key, v))
    if rows:
        el = sub(parent, t("EmailAddresses"))
        for key, v in rows:
            sub(el, t("Entry"), v, Key=key)


def r_emails(el, inp, f):
    for e in children(el, "Entry"):
        key = e.get("Key")
        if key not in EMAIL_KEYS:
            raise PathError(f"bad EmailAddresses key {key!r}")
        addr, atype, dn, odn = EMAIL_KEYS[key]
        value = (e.text or "").strip()
        if value.lower().startswith("smtp:"):
            value = value[5:]
        inp.props[addr] = value
        inp.props[atype] = "SMTP"
        inp.props[odn] = value
        inp.extra.setdefault("email_display", []).append((dn, value))


def w_phones(parent, view, f, shape):
    rows = [(k, _get(view, tag)) for k, tag in PHONE_KEYS.items()]
    rows = [(k, v) for k, v in rows if v]
    if rows:
        el = sub(parent, t("PhoneNumbers"))
        for k, v in rows:
            sub(el, t("Entry"), v, Key=k)


def r_phones(el, inp, f):
    for e in children(el, "Entry"):
        key = e.get("Key")
        if key not in PHONE_KEYS:
            raise PathError(f"bad PhoneNumbers key {key!r}")
        inp.props[PHONE_KEYS[key]] = (e.text or "").strip()


def w_addresses(parent, view, f, shape):
    el = None
    for key, tags in ADDRESS_KEYS.items():
        vals = [_get(view, tag) for tag in tags]
        if not any(vals):
            continue
        if el is None:
            el = sub(parent, t("PhysicalAddresses"))
        entry = sub(el, t("Entry"), Key=key)
        for part, v in zip(ADDRESS_PARTS, vals):
            if v:
                sub(entry, t(part), v)


def r_addresses(el, inp, f):
    for e in children(el, "Entry"):
        key = e.get("Key")
        if key not in ADDRESS_KEYS:
            raise PathError(f"bad PhysicalAddresses key {key!r}")
        for part, tag in zip(ADDRESS_PARTS, ADDRESS_KEYS[key]):
            v = text(e, part)
            if v is not None:
                inp.props[tag] = v


def w_im(parent, view, f, shape):
    v = _get(view, C.PidLidInstantMessagingAddress)
    if v:
        sub(sub(parent, t("ImAddresses")), t("Entry"), v, Key="ImAddress1")


def r_im(el, inp, f):
    for e in children(el, "Entry"):
        if e.get("Key") == "ImAddress1":
            inp.props[C.PidLidInstantMessagingAddress] = (e.text or "").strip()


def w_complete_name(parent, view, f, shape):
    parts = [("Title", P.PidTagDisplayNamePrefix), ("FirstName", P.PidTagGivenName),
             ("MiddleName", P.PidTagMiddleName), ("LastName", P.PidTagSurname), ("Suffix", P.PidTagGeneration),
             ("Initials", P.PidTagInitials), ("FullName", P.PidTagDisplayName), ("Nickname", P.PidTagNickname)]
    vals = [(n, _get(view, tag)) for n, tag in parts]
    if any(v for _, v in vals):
        el = sub(parent, t("CompleteName"))
        for n, v in vals:
            if v:
                sub(el, t(n), v)


def w_strings(parent, view, f, shape):
    v = _get(view, f.prop)
    if v:
        el = sub(parent, t(f.element))
        for s in v:
            sub(el, t("String"), s)


def r_strings(el, inp, f):
    inp.props[f.prop] = [c.text or "" for c in children(el, "String")]


def r_birthday(local_key):
    def read(el, inp, f):
        v = parse_datetime(el.text or "")
        inp.props[f.prop] = v
        inp.props[local_key] = v
    return read


def w_postal_index(parent, view, f, shape):
    v = _get(view, C.PidLidPostalAddressId)
    if v is not None:
        sub(parent, t("PostalAddressIndex"), POSTAL_INDEX.get(v, "None"))


def r_postal_index(el, inp, f):
    back = {v: k for k, v in POSTAL_INDEX.items()}
    v = (el.text or "").strip()
    if v not in back:
        raise PathError(f"bad PostalAddressIndex {v!r}")
    inp.props[C.PidLidPostalAddressId] = back[v]


def w_file_as(parent, view, f, shape):
    v = _get(view, C.PidLidFileUnder)
    if v:
        sub(parent, t("FileAs"), v)


_f = I._f
CONTACT_FIELDS = [
    _f("contacts:FileAs", "FileAs", w_file_as, I.r_text, C.PidLidFileUnder, default=True),
    _f("contacts:DisplayName", "DisplayName", I.w_text, I.r_text, P.PidTagDisplayName, default=True),
    _f("contacts:GivenName", "GivenName", I.w_text, I.r_text, P.PidTagGivenName, default=True),
    _f("contacts:Initials", "Initials", I.w_text, I.r_text, P.PidTagInitials, default=True),
    _f("contacts:MiddleName", "MiddleName", I.w_text, I.r_text, P.PidTagMiddleName, default=True),
    _f("contacts:Nickname", "Nickname", I.w_text, I.r_text, P.PidTagNickname, default=True),
    _f("contacts:CompleteName", "CompleteName", w_complete_name, default=True),
    _f("contacts:CompanyName", "CompanyName", I.w_text, I.r_text, P.PidTagCompanyName, default=True),
    _f("contacts:EmailAddresses", "EmailAddresses", w_emails, r_emails, default=True,
       removes=tuple(k for v in EMAIL_KEYS.values() for k in v)),
    _f("contacts:PhysicalAddresses", "PhysicalAddresses", w_addresses, r_addresses, default=True,
       removes=tuple(k for v in ADDRESS_KEYS.values() for k in v)),
    _f("contacts:PhoneNumbers", "PhoneNumbers", w_phones, r_phones, default=True,
       removes=tuple(PHONE_KEYS.values())),
    _f("contacts:AssistantName", "AssistantName", I.w_text, I.r_text, P.PidTagAssistant, default=True),
    _f("contacts:Birthday", "Birthday", I.w_time, r_birthday(C.PidLidBirthdayLocal), P.PidTagBirthday,
       default=True, removes=(P.PidTagBirthday, C.PidLidBirthdayLocal)),
    _f("contacts:BusinessHomePage", "BusinessHomePage", I.w_text, I.r_text, P.PidTagBusinessHomePage,
       default=True),
    _f("contacts:Children", "Children", w_strings, r_strings, C.PidTagChildrensNames, default=True),
    _f("contacts:Companies", "Companies", w_strings, r_strings, PidLidCompanies, default=True),
    _f("contacts:Department", "Department", I.w_text, I.r_text, P.PidTagDepartmentName, default=True),
    _f("contacts:Generation", "Generation", I.w_text, I.r_text, P.PidTagGeneration, default=True),
    _f("contacts:ImAddresses", "ImAddresses", w_im, r_im, C.PidLidInstantMessagingAddress, default=True),
    _f("contacts:JobTitle", "JobTitle", I.w_text, I.r_text, P.PidTagTitle, default=True),
    _f("contacts:Manager", "Manager", I.w_text, I.r_text, P.PidTagManagerName, default=True),
    _f("contacts:OfficeLocation", "OfficeLocation", I.w_text, I.r_text, P.PidTagOfficeLocation, default=True),
    _f("contacts:PostalAddressIndex", "PostalAddressIndex", w_postal_index, r_postal_index,
       C.PidLidPostalAddressId, default=True),
    _f("contacts:Profession", "Profession", I.w_text, I.r_text, P.PidTagProfession, default=True),
    _f("contacts:SpouseName", "SpouseName", I.w_text, I.r_text, P.PidTagSpouseName, default=True),
    _f("contacts:Surname", "Surname", I.w_text, I.r_text, P.PidTagSurname, default=True),
    _f("contacts:WeddingAnniversary", "WeddingAnniversary", I.w_time,
       r_birthday(C.PidLidWeddingAnniversaryLocal), P.PidTagWeddingAnniversary, default=True,
       removes=(P.PidTagWeddingAnniversary, C.PidLidWeddingAnniversaryLocal)),
    _f("contacts:HasPicture", "HasPicture", I.w_bool, None, C.PidLidHasPicture, default=True),
]
CONTACT_ALIASES = {"contacts:EmailAddress": "contacts:EmailAddresses", "contacts:PhoneNumber": "contacts:PhoneNumbers",
                   "contacts:ImAddress": "contacts:ImAddresses"}
for _part in ADDRESS_PARTS:
    CONTACT_ALIASES[f"contacts:PhysicalAddress:{_part}"] = "contacts:PhysicalAddresses"


# ---------------------------------------------------------------- distribution lists

def w_members(parent, view, f, shape):
    rows = view.extra.get("members")
    if rows is None:
        return
    el = sub(parent, t("Members"))
    for i, (name, email, mtype) in enumerate(rows):
        mem = sub(el, t("Member"), Key=str(i))
        I.write_mailbox(mem, name, email, mtype=mtype or "OneOff")
        sub(mem, t("Status"), "Normal")


def r_members(el, inp, f):
    out = []
    for mem in children(el, "Member"):
        name, email = I.read_mailbox(mem)
        out.append((name, email))
    inp.extra["members"] = out


def w_dl_name(parent, view, f, shape):
    v = _get(view, P.PidTagDisplayName) or _get(view, C.PidLidDistributionListName) or _get(view, P.PidTagSubject)
    if v:
        sub(parent, t("DisplayName"), v)


DL_FIELDS = [
    _f("contacts:DisplayName", "DisplayName", w_dl_name, I.r_text, P.PidTagDisplayName, default=True),
    _f("contacts:FileAs", "FileAs", w_file_as, I.r_text, C.PidLidFileUnder, default=True),
    _f("distributionlist:Members", "Members", w_members, r_members, C.PidLidDistributionListMembers,
       table=False, removes=(C.PidLidDistributionListMembers, C.PidLidDistributionListOneOffMembers)),
]

CONTACT = I.ItemClassTable("Contact", tuple(I.ITEM_FIELDS + CONTACT_FIELDS), ("IPM.Contact",))
DISTRIBUTION_LIST = I.ItemClassTable("DistributionList", tuple(I.ITEM_FIELDS + DL_FIELDS), ("IPM.DistList",))
I.register_table(CONTACT, CONTACT_ALIASES)
I.register_table(DISTRIBUTION_LIST)


def display_name_for(props: dict) -> str | None:
    """What Exchange shows when a client sends no DisplayName: "Given Middle Surname", else the company."""
    parts = [props.get(P.PidTagGivenName), props.get(P.PidTagMiddleName), props.get(P.PidTagSurname)]
    name = " ".join(p for p in parts if p)
    return name or props.get(P.PidTagCompanyName) or props.get(C.PidLidEmail1EmailAddress)
