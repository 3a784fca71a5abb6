"""Item XML <-> MAPI properties: one field table per item class (MS-OXWSCORE ItemType, MS-OXWSMSG MessageType).

A ``Field`` knows its FieldURI, its element name, its place in the schema sequence, whether
Default shape includes it, whether a contents-table row (FindItem) can fill it, and how to
write it from an ``ItemView`` and read it back into properties. ``MESSAGE`` is ItemType's
fields followed by MessageType's; CalendarItem/Contact/Task become one more table each
(``ItemClassTable("CalendarItem", ITEM_FIELDS + CALENDAR_FIELDS, ...)``) and are picked by
``table_for_class`` / ``table_for_element``.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from protocols.mapi.props import core as P
from protocols.mapi.props.named import NamedProp, PidLidReminderSet, PidNameKeywords

from .attachments import w_attachments
from .ns import child, children, local, sub, t, text
from .shapes import Shape
from .values import (PathError, format_datetime, lookup, parse_bool, parse_datetime, read_extended_property,
                     write_extended_property)

SENSITIVITY = {0: "Normal", 1: "Personal", 2: "Private", 3: "Confidential"}
IMPORTANCE = {0: "Low", 1: "Normal", 2: "High"}
FLAG_STATUS = {0: "NotFlagged", 1: "Complete", 2: "Flagged"}
RECIPIENT_TYPES = {"ToRecipients": P.MAPI_TO, "CcRecipients": P.MAPI_CC, "BccRecipients": 3}


@dataclass
class ItemView:
    """What a handler hands the writer: ids, the property bag, and what only a full read gives."""

    item_id: str
    change_key: str
    props: dict
    parent_id: str | None = None
    parent_change_key: str | None = None
    recipients: list | None = None       # rows with ``.props`` (None in table rows: not known)
    mime: bytes | None = None            # when MimeContent was asked for
    full: bool = False                   # a whole item (GetItem) rather than a contents-table row
    extra: dict = field(default_factory=dict)  # what other item classes need (attachments, recurrence ...)


@dataclass
class ItemInput:
    """What a client sent in an item element (CreateItem, SetItemField, AppendToItemField)."""

    props: dict = field(default_factory=dict)
    recipients: dict[int, list[tuple[str | None, str]]] = field(default_factory=dict)  # type -> (name, email)
    mime: bytes | None = None
    is_read: bool | None = None
    element: str = "Message"
    extra: dict = field(default_factory=dict)  # parts with no property of their own (recurrence, time zone ...)


Writer = Callable[[object, "ItemView", "Field", Shape], None]
Reader = Callable[[object, ItemInput], None]


@dataclass(frozen=True)
class Field:
    uri: str
    element: str
    write: Writer | None
    read: Reader | None = None
    prop: object = None
    default: bool = False
    table: bool = True                  # a contents-table row can fill it (FindItem)
    removes: tuple = ()                 # property keys DeleteItemField removes


# ---------------------------------------------------------------- generic writers/readers

def _get(view: ItemView, key):
    """``lookup`` for the writers: a miss would scan the bag, and a Default-shape row asks for a
    dozen properties it does not have, so the view indexes its bag by property id once."""
    props = view.props
    if key in props:
        return props[key]
    index = view.__dict__.get("_by_id")
    if index is None or index[0] != len(props):
        by_id = {}
        for k in props:
            if isinstance(k, NamedProp):
                by_id.setdefault(k.key, k)
            elif isinstance(k, int):
                by_id.setdefault(k >> 16, k)
        index = view.__dict__["_by_id"] = (len(props), by_id)
    found = index[1].get(key.key if isinstance(key, NamedProp) else key >> 16)
    return None if found is None else props[found]


def w_text(parent, view, f, shape):
    v = _get(view, f.prop)
    if v is not None and v != "":
        sub(parent, t(f.element), v if isinstance(v, str) else str(v))


def w_bool(parent, view, f, shape):
    v = _get(view, f.prop)
    if v is not None:
        sub(parent, t(f.element), bool(v))


def w_int(parent, view, f, shape):
    v = _get(view, f.prop)
    if v is not None:
        sub(parent, t(f.element), int(v))


def w_time(parent, view, f, shape):
    v = _get(view, f.prop)
    if isinstance(v, datetime):
        sub(parent, t(f.element), format_datetime(v))


def w_enum(mapping: dict, default: int):
    def write(parent, view, f, shape):
        v = _get(view, f.prop)
        sub(parent, t(f.element), mapping.get(v if v is not None else default, mapping[default]))
    return write


def w_msgflag(bit: int):
    def write(parent, view, f, shape):
        sub(parent, t(f.element), bool((_get(view, P.PidTagMessageFlags) or 0) & bit))
    return write


def r_text(el, inp: ItemInput, f: Field):
    inp.props[f.prop] = el.text or ""


def r_bool(el, inp, f):
    inp.props[f.prop] = parse_bool(el.text or "")


def r_time(el, inp, f):
    inp.props[f.prop] = parse_datetime(el.text or "")


def r_enum(mapping: dict):
    back = {v: k for k, v in mapping.items()}

    def read(el, inp, f):
        v = (el.text or "").strip()
        if v not in back:
            raise PathError(f"bad {f.element} value {v!r}")
        inp.props[f.prop] = back[v]
    return read


def _bind(reader):
    """Readers get the field too; Field.read takes (el, inp)."""
    return reader


# ---------------------------------------------------------------- special fields

def w_mime(parent, view, f, shape):
    if view.mime is not None:
        sub(parent, t("MimeContent"), base64.b64encode(view.mime).decode("ascii"), CharacterSet="UTF-8")


def r_mime(el, inp, f):
    try:
        inp.mime = base64.b64decode((el.text or "").strip())
    except ValueError as exc:
        raise PathError("MimeContent is not base64") from exc


def w_item_id(parent, view, f, shape):
    sub(parent, t("ItemId"), Id=view.item_id, ChangeKey=view.change_key)


def w_parent(parent, view, f, shape):
    if view.parent_id:
        sub(parent, t("ParentFolderId"), Id=view.parent_id, ChangeKey=view.parent_change_key)


def text_to_html(plain: str) -> str:
    return "<html><body>" + html.escape(plain).replace("\r\n", "\n").replace("\n", "<br>\n") + "</body></html>"


def body_of(props: dict) -> tuple[str | None, str | None]:
    """(html, text) of a property bag, decoding PidTagHtml with its code page."""
    raw = props.get(P.PidTagHtml)
    markup = None
    if isinstance(raw, (bytes, bytearray)):
        cp = props.get(P.PidTagInternetCodepage) or 65001
        enc = {65001: "utf-8", 1252: "cp1252", 28591: "latin-1", 20127: "ascii"}.get(cp, "utf-8")
        markup = bytes(raw).decode(enc, "replace")
    elif isinstance(raw, str):
        markup = raw
    plain = props.get(P.PidTagBody)
    return markup, plain if isinstance(plain, str) else None


def w_body(parent, view, f, shape):
    markup, plain = body_of(view.props)
    if markup is None and plain is None:
        if view.full:
            sub(parent, t("Body"), "", BodyType="Text")
        return
    want = shape.body_type
    # The text of an HTML-only item is the store's to derive (gateway.store.convert.text, one rule for
    # every front end): a view arrives with PidTagBody filled; without one the HTML is written as it is.
    if plain is not None and (want == "Text" or (want == "Best" and markup is None)):
        sub(parent, t("Body"), plain, BodyType="Text")
    else:
        sub(parent, t("Body"), markup if markup is not None else text_to_html(plain), BodyType="HTML")


def r_body(el, inp, f):
    kind = el.get("BodyType", "Text")
    if kind == "HTML":
        inp.props[P.PidTagHtml] = (el.text or "").encode("utf-8")
        inp.props[P.PidTagInternetCodepage] = 65001   # PidTagBody: derived by the store (convert.text)
    else:
        inp.props[P.PidTagBody] = el.text or ""


def w_preview(parent, view, f, shape):
    plain = body_of(view.props)[1]
    if plain:
        sub(parent, t("Preview"), " ".join(plain.split())[:255])


def w_categories(parent, view, f, shape):
    cats = _get(view, PidNameKeywords)
    if cats:
        el = sub(parent, t("Categories"))
        for c in cats:
            sub(el, t("String"), c)


def r_categories(el, inp, f):
    inp.props[PidNameKeywords] = [c.text or "" for c in children(el, "String")]


def w_headers(parent, view, f, shape):
    raw = _get(view, P.PidTagTransportMessageHeaders)
    if not raw:
        return
    wanted = {p.index.lower() for p in shape.additional if p.uri == "item:InternetMessageHeader" and p.index}
    el = sub(parent, t("InternetMessageHeaders"))
    unfolded = re.sub(r"\r?\n[ \t]+", " ", raw)
    for line in unfolded.splitlines():
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        if shape.base != "AllProperties" and not shape.wants_uri("item:InternetMessageHeaders") and wanted \
                and name.strip().lower() not in wanted:
            continue
        sub(el, t("InternetMessageHeader"), value.strip(), HeaderName=name.strip())


def w_created(parent, view, f, shape):
    v = _get(view, P.PidTagCreationTime) or _get(view, P.PidTagMessageDeliveryTime) \
        or _get(view, P.PidTagLastModificationTime)
    if isinstance(v, datetime):
        sub(parent, t("DateTimeCreated"), format_datetime(v))


def w_rights(parent, view, f, shape):
    el = sub(parent, t("EffectiveRights"))
    for name, value in (("CreateAssociated", False), ("CreateContents", False), ("CreateHierarchy", False),
                        ("Delete", True), ("Modify", True), ("Read", True), ("ViewPrivateItems", True)):
        sub(el, t(name), value)


def w_flag(parent, view, f, shape):
    status = _get(view, P.PidTagFlagStatus) or 0
    el = sub(parent, t("Flag"))
    sub(el, t("FlagStatus"), FLAG_STATUS.get(status, "NotFlagged"))
    done = _get(view, P.PidTagFlagCompleteTime)
    if status == 1 and isinstance(done, datetime):
        sub(el, t("CompleteDate"), format_datetime(done))


def r_flag(el, inp, f):
    status = (text(el, "FlagStatus") or "NotFlagged").strip()
    back = {v: k for k, v in FLAG_STATUS.items()}
    if status not in back:
        raise PathError(f"bad FlagStatus {status!r}")
    inp.props[P.PidTagFlagStatus] = back[status]
    if back[status] == 2:
        inp.props[P.PidTagFollowupIcon] = 6
    else:
        inp.props[P.PidTagFollowupIcon] = 0
    done = text(el, "CompleteDate")
    if done:
        inp.props[P.PidTagFlagCompleteTime] = parse_datetime(done)


def w_bool_const(value: bool):
    def write(parent, view, f, shape):
        sub(parent, t(f.element), value)
    return write


def w_associated(parent, view, f, shape):
    sub(parent, t("IsAssociated"), bool(_get(view, P.PidTagAssociated)))


def write_mailbox(parent, name: str | None, email: str | None, routing: str = "SMTP", mtype: str | None = None):
    mb = sub(parent, t("Mailbox"))
    if name:
        sub(mb, t("Name"), name)
    if email:
        sub(mb, t("EmailAddress"), email)
    sub(mb, t("RoutingType"), routing)
    if mtype:
        sub(mb, t("MailboxType"), mtype)
    return mb


def read_mailbox(el) -> tuple[str | None, str]:
    mb = el if local(el) == "Mailbox" else child(el, "Mailbox")
    name = text(mb, "Name")
    email = (text(mb, "EmailAddress") or "").strip()
    return (name.strip() if name else None), email


def w_person(name_key, smtp_key, email_key):
    def write(parent, view, f, shape):
        name = _get(view, name_key)
        email = _get(view, smtp_key) or _get(view, email_key)
        if not (name or email):
            return
        el = sub(parent, t(f.element))
        write_mailbox(el, name, email, mtype="OneOff")
    return write


def r_person(name_key, smtp_key, email_key, type_key):
    def read(el, inp, f):
        name, email = read_mailbox(el)
        inp.props[name_key] = name or email
        inp.props[smtp_key] = email
        inp.props[email_key] = email
        inp.props[type_key] = "SMTP"
    return read


def recipient_address(props: dict) -> tuple[str | None, str | None]:
    name = props.get(P.PidTagDisplayName) or props.get(P.PidTagRecipientDisplayName)
    email = props.get(P.PidTagSmtpAddress)
    if not email and str(props.get(P.PidTagAddressType, "SMTP")).upper() == "SMTP":
        email = props.get(P.PidTagEmailAddress)
    return name, email


def w_recipients(rtype: int):
    def write(parent, view, f, shape):
        if view.recipients is None:
            return
        rows = [r for r in view.recipients if (r.props.get(P.PidTagRecipientType, 1) & 0xF) == rtype]
        if not rows:
            return
        el = sub(parent, t(f.element))
        for r in rows:
            name, email = recipient_address(r.props)
            write_mailbox(el, name, email, mtype="OneOff")
    return write


def r_recipients(rtype: int):
    def read(el, inp, f):
        inp.recipients[rtype] = [read_mailbox(mb) for mb in children(el, "Mailbox")]
    return read


def w_reply_to(parent, view, f, shape):
    names = _get(view, P.PidTagReplyRecipientNames)
    if names:
        el = sub(parent, t("ReplyTo"))
        for n in str(names).split(";"):
            if n.strip():
                write_mailbox(el, None, n.strip())


def w_is_read(parent, view, f, shape):
    sub(parent, t("IsRead"), bool((_get(view, P.PidTagMessageFlags) or 0) & P.MSGFLAG_READ))


def r_is_read(el, inp, f):
    inp.is_read = parse_bool(el.text or "")


def w_references(parent, view, f, shape):
    v = _get(view, P.PidTagInternetReferences)
    if v:
        sub(parent, t("References"), v)


def _f(uri, element, write, read=None, prop=None, default=False, table=True, removes=None):
    rd = (lambda el, inp, _r=read, _uri=uri: _r(el, inp, FIELD_BY_URI_ALL[_uri])) if read else None
    return Field(uri, element, write, rd, prop, default, table,
                 tuple(removes) if removes is not None else ((prop,) if prop is not None else ()))


FIELD_BY_URI_ALL: dict[str, Field] = {}

# ItemType, in schema order (MS-OXWSCORE 2.2.4.24). ExtendedProperty sits after HasAttachments.
ITEM_FIELDS: list[Field] = [
    _f("item:MimeContent", "MimeContent", w_mime, r_mime, table=False),
    _f("item:ItemId", "ItemId", w_item_id, default=True),
    _f("item:ParentFolderId", "ParentFolderId", w_parent, default=True),
    _f("item:ItemClass", "ItemClass", w_text, r_text, P.PidTagMessageClass, default=True),
    _f("item:Subject", "Subject", w_text, r_text, P.PidTagSubject, default=True,
       removes=(P.PidTagSubject, P.PidTagNormalizedSubject, P.PidTagSubjectPrefix)),
    _f("item:Sensitivity", "Sensitivity", w_enum(SENSITIVITY, 0), r_enum(SENSITIVITY), P.PidTagSensitivity,
       default=True),
    _f("item:Body", "Body", w_body, r_body, default=True, table=False,
       removes=(P.PidTagBody, P.PidTagHtml, P.PidTagRtfCompressed)),
    _f("item:Attachments", "Attachments", w_attachments, default=True, table=False),
    _f("item:DateTimeReceived", "DateTimeReceived", w_time, None, P.PidTagMessageDeliveryTime, default=True),
    _f("item:Size", "Size", w_int, None, P.PidTagMessageSize, default=True),
    _f("item:Categories", "Categories", w_categories, r_categories, PidNameKeywords, default=True),
    _f("item:Importance", "Importance", w_enum(IMPORTANCE, 1), r_enum(IMPORTANCE), P.PidTagImportance,
       default=True),
    _f("item:InReplyTo", "InReplyTo", w_text, r_text, P.PidTagInReplyToId),
    _f("item:IsSubmitted", "IsSubmitted", w_msgflag(P.MSGFLAG_SUBMITTED), default=True),
    _f("item:IsDraft", "IsDraft", w_msgflag(P.MSGFLAG_UNSENT), default=True),
    _f("item:IsFromMe", "IsFromMe", w_msgflag(P.MSGFLAG_FROMME), default=True),
    _f("item:IsResend", "IsResend", w_msgflag(P.MSGFLAG_RESEND), default=True),
    _f("item:IsUnmodified", "IsUnmodified", w_msgflag(P.MSGFLAG_UNMODIFIED), default=True),
    _f("item:InternetMessageHeaders", "InternetMessageHeaders", w_headers, table=False),
    _f("item:DateTimeSent", "DateTimeSent", w_time, r_time, P.PidTagClientSubmitTime, default=True),
    _f("item:DateTimeCreated", "DateTimeCreated", w_created, default=True),
    _f("item:ReminderIsSet", "ReminderIsSet", w_bool, r_bool, PidLidReminderSet),
    _f("item:DisplayCc", "DisplayCc", w_text, None, P.PidTagDisplayCc, default=True),
    _f("item:DisplayTo", "DisplayTo", w_text, None, P.PidTagDisplayTo, default=True),
    _f("item:HasAttachments", "HasAttachments", w_bool, None, P.PidTagHasAttachments, default=True),
    Field("@ExtendedProperty", "ExtendedProperty", None),
    _f("item:EffectiveRights", "EffectiveRights", w_rights),
    _f("item:LastModifiedName", "LastModifiedName", w_text, None, P.PidTagLastModifierName, default=True),
    _f("item:LastModifiedTime", "LastModifiedTime", w_time, None, P.PidTagLastModificationTime, default=True),
    _f("item:IsAssociated", "IsAssociated", w_associated, default=True),
    _f("item:Flag", "Flag", w_flag, r_flag, P.PidTagFlagStatus,
       removes=(P.PidTagFlagStatus, P.PidTagFollowupIcon, P.PidTagFlagCompleteTime)),
    _f("item:Preview", "Preview", w_preview, table=False),
]

# MessageType (MS-OXWSMSG 2.2.4.3), after ItemType's fields.
MESSAGE_FIELDS: list[Field] = [
    _f("message:Sender", "Sender",
       w_person(P.PidTagSenderName, P.PidTagSenderSmtpAddress, P.PidTagSenderEmailAddress),
       r_person(P.PidTagSenderName, P.PidTagSenderSmtpAddress, P.PidTagSenderEmailAddress,
                P.PidTagSenderAddressType), P.PidTagSenderName, default=True),
    _f("message:ToRecipients", "ToRecipients", w_recipients(P.MAPI_TO), r_recipients(P.MAPI_TO), default=True,
       table=False),
    _f("message:CcRecipients", "CcRecipients", w_recipients(P.MAPI_CC), r_recipients(P.MAPI_CC), default=True,
       table=False),
    _f("message:BccRecipients", "BccRecipients", w_recipients(3), r_recipients(3), table=False),
    _f("message:IsReadReceiptRequested", "IsReadReceiptRequested", w_bool, r_bool, P.PidTagReadReceiptRequested,
       default=True),
    _f("message:IsDeliveryReceiptRequested", "IsDeliveryReceiptRequested", w_bool, r_bool,
       P.PidTagOriginatorDeliveryReportRequested),
    _f("message:ConversationTopic", "ConversationTopic", w_text, None, P.PidTagConversationTopic, default=True),
    _f("message:From", "From",
       w_person(P.PidTagSentRepresentingName, P.PidTagSentRepresentingSmtpAddress,
                P.PidTagSentRepresentingEmailAddress),
       r_person(P.PidTagSentRepresentingName, P.PidTagSentRepresentingSmtpAddress,
                P.PidTagSentRepresentingEmailAddress, P.PidTagSentRepresentingAddressType),
       P.PidTagSentRepresentingName, default=True),
    _f("message:InternetMessageId", "InternetMessageId", w_text, r_text, P.PidTagInternetMessageId, default=True),
    _f("message:IsRead", "IsRead", w_is_read, r_is_read, default=True),
    _f("message:IsResponseRequested", "IsResponseRequested", w_bool, r_bool, P.PidTagResponseRequested),
    _f("message:References", "References", w_references, r_text, P.PidTagInternetReferences, default=True),
    _f("message:ReplyTo", "ReplyTo", w_reply_to, None, P.PidTagReplyRecipientNames),
]

for _fld in ITEM_FIELDS + MESSAGE_FIELDS:
    FIELD_BY_URI_ALL[_fld.uri] = _fld
# Aliases clients use for the same data
FIELD_BY_URI_ALL["item:InternetMessageHeader"] = FIELD_BY_URI_ALL["item:InternetMessageHeaders"]


@dataclass(frozen=True)
class ItemClassTable:
    element: str                              # "Message", "CalendarItem", ...
    fields: tuple[Field, ...]
    classes: tuple[str, ...]                  # PidTagMessageClass prefixes that use this table

    @property
    def by_uri(self) -> dict[str, Field]:
        return {f.uri: f for f in self.fields}


MESSAGE = ItemClassTable("Message", tuple(ITEM_FIELDS + MESSAGE_FIELDS), ("IPM.Note", "IPM", "REPORT", ""))
# "Item" is how EWS shows anything it has no better type for.
GENERIC = ItemClassTable("Item", tuple(ITEM_FIELDS), ())
TABLES: list[ItemClassTable] = [MESSAGE]


def table_for_class(message_class: str | None) -> ItemClassTable:
    cls = (message_class or "IPM.Note").upper()
    best, best_len = None, -1
    for tb in TABLES:
        for prefix in tb.classes:
            p = prefix.upper()
            if (cls == p or cls.startswith(p + ".") or p == "") and len(p) > best_len:
                best, best_len = tb, len(p)
    return best or GENERIC


def table_for_element(name: str) -> ItemClassTable | None:
    for tb in TABLES + [GENERIC]:
        if tb.element == name:
            return tb
    return None


def field_for_uri(uri: str) -> Field | None:
    return FIELD_BY_URI_ALL.get(uri)


# ---------------------------------------------------------------- writing

def selected_fields(table: ItemClassTable, shape: Shape, *, table_row: bool) -> set[str]:
    if shape.base == "IdOnly":
        chosen = {"item:ItemId"}
    elif shape.base == "AllProperties":
        chosen = {f.uri for f in table.fields}
    else:
        chosen = {f.uri for f in table.fields if f.default}
    if shape.include_mime:
        chosen.add("item:MimeContent")
    for p in shape.additional:
        if p.uri:
            f = FIELD_BY_URI_ALL.get(p.uri)
            if f is not None:
                chosen.add(f.uri)
    if table_row:
        chosen = {u for u in chosen if FIELD_BY_URI_ALL[u].table or u == "item:MimeContent" and False}
    chosen.discard("@ExtendedProperty")
    return chosen


def write_item(parent, view: ItemView, shape: Shape, *, table_row: bool = False,
               table: ItemClassTable | None = None):
    """Append ``t:Message`` (or the table's element) with the fields the shape asks for."""
    table = table or table_for_class(view.props.get(P.PidTagMessageClass))
    el = sub(parent, t(table.element))
    chosen = selected_fields(table, shape, table_row=table_row)
    for f in table.fields:
        if f.uri == "@ExtendedProperty":
            for ext in shape.extended:
                key, value = lookup(view.props, ext.key)
                if key is not None and value is not None:
                    write_extended_property(el, ext, value)
            continue
        if f.uri in chosen and f.write is not None:
            f.write(el, view, f, shape)
    return el


def needs_full_item(shape: Shape, table: ItemClassTable = MESSAGE) -> bool:
    """Whether a contents-table row is not enough for this shape."""
    chosen = selected_fields(table, shape, table_row=False)
    return any(not FIELD_BY_URI_ALL[u].table for u in chosen) or bool(shape.extended)


# ---------------------------------------------------------------- reading

def read_item(el) -> ItemInput:
    """An item element of CreateItem (Message, Item, ...) -> properties and recipients."""
    inp = ItemInput(element=local(el))
    table = table_for_element(inp.element) or MESSAGE
    by_element = {f.element: f for f in table.fields if f.read is not None}
    for c in children(el):
        name = local(c)
        if name == "ExtendedProperty":
            ext, value = read_extended_property(c)
            inp.props[ext.key] = value
            continue
        if name == "ItemId":
            continue
        f = by_element.get(name)
        if f is None:
            continue  # read-only or not mapped yet: Exchange ignores read-only fields on create
        try:
            f.read(c, inp)
        except ValueError as exc:
            raise PathError(f"{name}: {exc}") from exc
    return inp


# ---------------------------------------------------------------- other item classes

def register_table(table: ItemClassTable, aliases: dict[str, str] | None = None) -> None:
    """Item classes beyond Message (calendar.py, contacts.py, tasks.py) add their table here."""
    TABLES.append(table)
    for f in table.fields:
        FIELD_BY_URI_ALL.setdefault(f.uri, f)
    for alias, uri in (aliases or {}).items():
        FIELD_BY_URI_ALL[alias] = FIELD_BY_URI_ALL[uri]


from . import calendar as _calendar, contacts as _contacts, tasks as _tasks  # noqa: E402,F401  (they register)
