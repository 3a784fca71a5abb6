"""Attachments (MS-OXWSATT): GetAttachment, CreateAttachment, DeleteAttachment, and the attachment
rows GetItem lists in an item's XML.

The store has no per-attachment write: an attachment is added or removed by rewriting the whole
item with ``Mailbox.replace_content`` (same MID; IMAP append-then-expunge, DAV If-Match PUT).
An attachment's number is its position in the item's attachment table.
"""
from __future__ import annotations

import mimetypes
import posixpath
from datetime import datetime, timezone

from gateway.store import conversions as conv
from gateway.store.model import Attachment, MessageContent
from gateway.store.objects import Item
from protocols.ews import ids as ewsids
from protocols.ews.attachments import (AttachmentView, decode_attachment_id, encode_attachment_id,
                                       parse_attachment_shape, read_attachment, read_attachment_ids,
                                       write_attachment)
from protocols.ews.items import ItemView, write_item
from protocols.ews.ns import child, children, m, sub, t
from protocols.ews.responses import ResponseError, error_message, message, response_root
from protocols.ews.shapes import Shape
from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as P

from . import items as ews_items
from .context import EwsContext, store_error

ATT_MHTML_REF = 0x4          # PidTagAttachFlags: rendered inline (MS-OXCMSG 2.2.2.18)
PidTagAttachmentContactPhoto = (0x7FFF << 16) | 0x000B


def visible(att: Attachment) -> bool:
    """Calendar exception attachments (MS-OXOCAL 2.2.10.1) are the series' own, not the user's."""
    return not (att.props.get(P.PidTagAttachmentFlags, 0) or 0) & A.afException


def attachment_name(att: Attachment) -> str:
    p = att.props
    name = p.get(P.PidTagAttachLongFilename) or p.get(P.PidTagAttachFilename) or p.get(P.PidTagDisplayName)
    if not name and att.embedded is not None:
        name = att.embedded.props.get(P.PidTagSubject)
    return str(name or "")


def attachment_view(ctx: EwsContext, item_id: str, change_key: str, number: int, att: Attachment, *,
                    full: bool = False, shape: Shape | None = None) -> AttachmentView:
    p = att.props
    embedded = att.embedded is not None or p.get(P.PidTagAttachMethod) == P.ATTACH_EMBEDDED_MSG
    data = p.get(P.PidTagAttachDataBinary)
    size = p.get(P.PidTagAttachSize)
    if size is None and isinstance(data, (bytes, bytearray)):
        size = len(data)
    modified = p.get(P.PidTagLastModificationTime)
    view = AttachmentView(
        attachment_id=encode_attachment_id(item_id, number), root_item_id=item_id, root_change_key=change_key,
        name=attachment_name(att), kind="item" if embedded else "file",
        content_type=p.get(P.PidTagAttachMimeTag) or (None if embedded else "application/octet-stream"),
        content_id=p.get(P.PidTagAttachContentId), content_location=p.get(P.PidTagAttachContentLocation),
        size=size, last_modified=modified if isinstance(modified, datetime) else None,
        is_inline=bool((p.get(P.PidTagAttachFlags) or 0) & ATT_MHTML_REF),
        is_contact_photo=bool(p.get(PidTagAttachmentContactPhoto)))
    if full:
        if embedded and att.embedded is not None:
            emb, att_id = att.embedded, view.attachment_id
            wanted = shape or Shape(base="AllProperties")

            def write_embedded(parent, emb=emb, att_id=att_id, wanted=wanted):
                mime = conv.content_to_mime(emb) if wanted.include_mime else None
                ev = ItemView(att_id, change_key, emb.props, recipients=emb.recipients, mime=mime, full=True)
                ev.extra["attachments"] = [attachment_view(ctx, item_id, change_key, -1, a)
                                           for a in emb.attachments if visible(a)]
                write_item(parent, ev, wanted)
            view.item_writer = write_embedded
        elif isinstance(data, (bytes, bytearray)):
            view.content = bytes(data)
    return view


async def add_attachment_rows(ctx: EwsContext, item: Item, view: ItemView) -> None:
    """GetItem: the item's visible attachments in ``view.extra["attachments"]``."""
    if not view.full or item.content is None:
        return
    rows = [attachment_view(ctx, view.item_id, view.change_key, n, a)
            for n, a in enumerate(item.content.attachments) if visible(a)]
    if rows:
        view.extra["attachments"] = rows


ews_items.VIEW_HOOKS.append(add_attachment_rows)


# ---------------------------------------------------------------- GetAttachment

async def _load(ctx: EwsContext, attachment_id: str) -> tuple[Item, int, str]:
    try:
        item_id, number = decode_attachment_id(attachment_id)
    except ewsids.IdMalformed:
        raise ResponseError("ErrorInvalidIdMalformed", None)
    mid = ctx.mid_of(item_id)
    item = await ctx.mbx.get_item(mid)
    atts = item.content.attachments if item.content is not None else []
    if not 0 <= number < len(atts):
        raise ResponseError("ErrorItemNotFound", "The attachment was not found.")
    return item, number, item_id


async def get_attachment(ctx: EwsContext):
    body = ctx.req.body
    shape = parse_attachment_shape(child(body, "AttachmentShape"))
    item_shape = Shape(base="AllProperties", body_type=shape.body_type, include_mime=shape.include_mime,
                       additional=list(shape.additional))
    ids = read_attachment_ids(child(body, "AttachmentIds"))
    root, messages = response_root(ctx.operation)
    for att_id in ids:
        mark = len(messages)
        try:
            item, number, item_id = await _load(ctx, att_id)
            el = message(messages, ctx.operation)
            holder = sub(el, m("Attachments"))
            att = item.content.attachments[number]
            write_attachment(holder, attachment_view(ctx, item_id, ews_items.change_key_of(item), number, att,
                                                     full=True, shape=item_shape), full=True)
        except Exception as exc:  # noqa: BLE001 - each id answers on its own
            del messages[mark:]
            err_el = error_message(messages, ctx.operation, store_error(exc))
            sub(err_el, m("Attachments"))
    return root


# ---------------------------------------------------------------- CreateAttachment

def file_attachment(name: str, data: bytes, content_type: str | None = None, content_id: str | None = None,
                    inline: bool = False) -> Attachment:
    ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    props = {P.PidTagAttachMethod: P.ATTACH_BY_VALUE, P.PidTagAttachLongFilename: name,
             P.PidTagAttachFilename: name, P.PidTagDisplayName: name, P.PidTagAttachMimeTag: ctype,
             P.PidTagAttachDataBinary: data, P.PidTagAttachSize: len(data),
             P.PidTagAttachExtension: posixpath.splitext(name)[1],
             P.PidTagLastModificationTime: datetime.now(timezone.utc).replace(microsecond=0)}
    if content_id:
        props[P.PidTagAttachContentId] = content_id
    if inline:
        props[P.PidTagAttachFlags] = ATT_MHTML_REF
    return Attachment(props)


def item_attachment(name: str, content: MessageContent) -> Attachment:
    props = {P.PidTagAttachMethod: P.ATTACH_EMBEDDED_MSG, P.PidTagDisplayName: name or
             str(content.props.get(P.PidTagSubject) or ""),
             P.PidTagLastModificationTime: datetime.now(timezone.utc).replace(microsecond=0)}
    return Attachment(props, embedded=content)


def _built(ctx: EwsContext, el) -> Attachment:
    try:
        a = read_attachment(el)
    except ValueError as exc:
        raise ResponseError("ErrorInvalidRequest", str(exc))
    if a.kind == "file":
        return file_attachment(a.name, a.content, a.content_type, a.content_id, a.is_inline)
    if a.kind == "item":
        if a.item is None:
            raise ResponseError("ErrorInvalidRequest", "An ItemAttachment needs an item.")
        inp = ews_items.read_item(a.item)
        content = ews_items.content_from_input(inp)
        if inp.element == "CalendarItem":
            content.props[P.PidTagMessageClass] = A.CLASS_APPOINTMENT
        elif inp.element in ("Contact", "Task"):
            content.props[P.PidTagMessageClass] = "IPM." + inp.element
        content.props[P.PidTagMessageFlags] = P.MSGFLAG_READ | (
            content.props.get(P.PidTagMessageFlags, 0) & P.MSGFLAG_UNSENT)
        return item_attachment(a.name, content)
    raise ResponseError("ErrorInvalidOperation", "Reference attachments are not supported.")


async def create_attachment(ctx: EwsContext):
    body = ctx.req.body
    parent = child(body, "ParentItemId")
    elements = children(child(body, "Attachments"))
    root, messages = response_root(ctx.operation)
    try:
        item_id = parent.get("Id") if parent is not None else None
        mid = ctx.mid_of(item_id)
        ck = ctx.change_key_xid(parent.get("ChangeKey"))
        item = await ctx.mbx.get_item(mid)
        content = item.content or MessageContent(dict(item.props))
        base = len(content.attachments)
        built = [_built(ctx, el) for el in elements]
        content = MessageContent({k: v for k, v in content.props.items() if k not in conv.DERIVED},
                                 list(content.recipients), list(content.attachments) + built)
        item = await ctx.mbx.replace_content(mid, content, change_key=ck)
    except Exception as exc:  # noqa: BLE001
        err = store_error(exc)
        for _ in elements or [None]:
            sub(error_message(messages, ctx.operation, err), m("Attachments"))
        return root
    new_ck = ews_items.change_key_of(item)
    atts = item.content.attachments if item.content is not None else []
    for i, el in enumerate(elements):
        number = base + i
        msg = message(messages, ctx.operation)
        holder = sub(msg, m("Attachments"))
        if number < len(atts):
            view = attachment_view(ctx, item_id, new_ck, number, atts[number])
        else:  # the backend format folded it into something else; still name it
            view = attachment_view(ctx, item_id, new_ck, number, built[i])
        # the answer names the new attachment only (MS-OXWSATT 3.1.4.1.2.2)
        out = sub(holder, t("FileAttachment" if view.kind == "file" else "ItemAttachment"))
        sub(out, t("AttachmentId"), Id=view.attachment_id, RootItemId=item_id, RootItemChangeKey=new_ck)
    return root


# ---------------------------------------------------------------- DeleteAttachment

async def delete_attachment(ctx: EwsContext):
    ids = read_attachment_ids(child(ctx.req.body, "AttachmentIds"))
    root, messages = response_root(ctx.operation)
    # several attachments of one item: remove the highest numbers first so the others keep theirs
    decoded = []
    for att_id in ids:
        try:
            decoded.append(decode_attachment_id(att_id))
        except ewsids.IdMalformed:
            decoded.append(None)
    for n, att_id in enumerate(ids):
        mark = len(messages)
        try:
            if decoded[n] is None:
                raise ResponseError("ErrorInvalidIdMalformed", None)
            item_id, number = decoded[n]
            mid = ctx.mid_of(item_id)
            item = await ctx.mbx.get_item(mid)
            content = item.content or MessageContent(dict(item.props))
            if not 0 <= number < len(content.attachments):
                raise ResponseError("ErrorItemNotFound", "The attachment was not found.")
            atts = list(content.attachments)
            del atts[number]
            content = MessageContent({k: v for k, v in content.props.items() if k not in conv.DERIVED},
                                     list(content.recipients), atts)
            item = await ctx.mbx.replace_content(mid, content)
            el = message(messages, ctx.operation)
            sub(el, m("RootItemId"), RootItemId=item_id, RootItemChangeKey=ews_items.change_key_of(item))
        except Exception as exc:  # noqa: BLE001
            del messages[mark:]
            error_message(messages, ctx.operation, store_error(exc))
    return root
