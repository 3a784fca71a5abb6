"""Attachments in EWS XML (MS-OXWSATT 2.2.4): AttachmentId, FileAttachment, ItemAttachment.

AttachmentId (exgate's own, opaque to clients): base64 of
    b"XA" | version 0x01 | the 28 raw bytes of the owning ItemId | attach number (uint32 LE)
so GetAttachment/DeleteAttachment find the item without any lookup table. The attach number
is the attachment's position in the item's attachment table (MS-OXCMSG 2.2.2: PidTagAttachNumber
is per open message; here it is the index the store returns).
"""
from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from datetime import datetime

from . import ids as ewsids
from .ns import child, children, local, sub, t, text
from .values import format_datetime, parse_bool

MAGIC = b"XA\x01"


def encode_attachment_id(item_id: str, number: int) -> str:
    raw = ewsids.b64decode(item_id)
    return base64.b64encode(MAGIC + raw + struct.pack("<I", number)).decode("ascii")


def decode_attachment_id(value: str) -> tuple[str, int]:
    """AttachmentId -> (owning ItemId, attach number); IdMalformed for anything else."""
    raw = ewsids.b64decode(value)
    if len(raw) < 3 + 28 + 4 or raw[:3] != MAGIC:
        raise ewsids.IdMalformed("Id is malformed.")
    item = base64.b64encode(raw[3:-4]).decode("ascii")
    return item, struct.unpack("<I", raw[-4:])[0]


@dataclass
class AttachmentView:
    """One row of an item's attachment table as EWS shows it."""

    attachment_id: str
    root_item_id: str
    root_change_key: str
    name: str
    kind: str = "file"                   # "file" (FileAttachment) or "item" (ItemAttachment)
    content_type: str | None = None
    content_id: str | None = None
    content_location: str | None = None
    size: int | None = None
    last_modified: datetime | None = None
    is_inline: bool = False
    is_contact_photo: bool = False
    content: bytes | None = None         # FileAttachment content (GetAttachment only)
    item_writer: object = None           # callable(parent) writing the embedded item (GetAttachment)


def write_attachment(parent, a: AttachmentView, *, full: bool = False):
    """``t:FileAttachment`` / ``t:ItemAttachment`` (MS-OXWSCORE 2.2.4.1 AttachmentType order)."""
    el = sub(parent, t("FileAttachment" if a.kind == "file" else "ItemAttachment"))
    sub(el, t("AttachmentId"), Id=a.attachment_id, RootItemId=a.root_item_id, RootItemChangeKey=a.root_change_key)
    sub(el, t("Name"), a.name or "")
    if a.content_type:
        sub(el, t("ContentType"), a.content_type)
    if a.content_id:
        sub(el, t("ContentId"), a.content_id)
    if a.content_location:
        sub(el, t("ContentLocation"), a.content_location)
    if a.size is not None:
        sub(el, t("Size"), int(a.size))
    if a.last_modified is not None:
        sub(el, t("LastModifiedTime"), format_datetime(a.last_modified).rstrip("Z"))
    sub(el, t("IsInline"), bool(a.is_inline))
    if a.kind == "file":
        sub(el, t("IsContactPhoto"), bool(a.is_contact_photo))
        if full and a.content is not None:
            sub(el, t("Content"), base64.b64encode(a.content).decode("ascii"))
    elif full and a.item_writer is not None:
        a.item_writer(el)
    return el


def w_attachments(parent, view, f, shape):
    """ItemType's Attachments: the rows a handler put in ``view.extra["attachments"]``."""
    rows = getattr(view, "extra", {}).get("attachments")
    if rows:
        el = sub(parent, t("Attachments"))
        for a in rows:
            write_attachment(el, a)


@dataclass
class AttachmentInput:
    """A FileAttachment or ItemAttachment of a CreateAttachment request."""

    kind: str
    name: str = ""
    content_type: str | None = None
    content_id: str | None = None
    content_location: str | None = None
    is_inline: bool = False
    content: bytes = b""
    item: object = None                  # the embedded item element (Message, CalendarItem, ...)
    extra: dict = field(default_factory=dict)


def read_attachment(el) -> AttachmentInput:
    name = local(el)
    if name not in ("FileAttachment", "ItemAttachment", "ReferenceAttachment"):
        raise ValueError(f"{name} is not an attachment")
    a = AttachmentInput("file" if name == "FileAttachment" else "item" if name == "ItemAttachment" else "reference")
    a.name = text(el, "Name") or ""
    a.content_type = text(el, "ContentType")
    a.content_id = text(el, "ContentId")
    a.content_location = text(el, "ContentLocation")
    inline = text(el, "IsInline")
    a.is_inline = parse_bool(inline) if inline else False
    if a.kind == "file":
        raw = text(el, "Content")
        try:
            a.content = base64.b64decode((raw or "").strip())
        except ValueError as exc:
            raise ValueError("Content is not base64") from exc
    elif a.kind == "item":
        known = {"AttachmentId", "Name", "ContentType", "ContentId", "ContentLocation", "Size", "LastModifiedTime",
                 "IsInline"}
        a.item = next((c for c in children(el) if local(c) not in known), None)
    return a


def read_attachment_ids(container) -> list[str]:
    return [c.get("Id") or "" for c in children(container) if local(c) == "AttachmentId"]


@dataclass
class AttachmentShape:
    """AttachmentShape (MS-OXWSATT 2.2.4.2): only what changes the answer here."""

    include_mime: bool = False
    body_type: str = "Best"
    additional: list = field(default_factory=list)


def parse_attachment_shape(el) -> AttachmentShape:
    if el is None:
        return AttachmentShape()
    from .shapes import parse_shape
    sh = parse_shape(el)
    return AttachmentShape(sh.include_mime, sh.body_type, sh.additional)


__all__ = ["AttachmentView", "AttachmentInput", "AttachmentShape", "encode_attachment_id", "decode_attachment_id",
           "write_attachment", "w_attachments", "read_attachment", "read_attachment_ids", "parse_attachment_shape",
           "child"]
