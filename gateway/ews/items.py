"""Item operations on mail (MS-OXWSCORE, MS-OXWSMSG): FindItem, GetItem, CreateItem, UpdateItem,
DeleteItem, MoveItem, CopyItem, SendItem, MarkAsJunk."""
from __future__ import annotations

from datetime import datetime, timezone

from gateway.store import conversions as conv
from gateway.store import errors as se
from gateway.store.model import MessageContent, Recipient
from gateway.store.objects import Item
from protocols.ews import ids as ewsids
from protocols.ews.folders import read_folder_refs
from protocols.ews.mapirestrict import sorts_to_mapi, to_mapi
from gateway.store.convert.text import complete_body, split_subject
from protocols.ews import items as ewsitems
from protocols.ews.items import ItemInput, ItemView, field_for_uri, table_for_class, write_item
from protocols.ews.ns import child, children, first_child, local, m, sub, t
from protocols.ews.responses import ResponseError
from protocols.ews.restrict import SortKey, parse_restriction, parse_sort
from protocols.ews.shapes import parse_shape
from protocols.ews.values import FieldPath, PathError, find_path
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PidNameKeywords

from . import pending
from .context import EwsContext, for_each
from .folders import page, window_of

DEFAULT_SORT = [SortKey(FieldPath(uri="item:DateTimeReceived"), False)]

# Other item families plug in here; calendar.py, contacts.py, tasks.py and attachments.py register at import.
VIEW_HOOKS: list = []     # async (ctx, item, view) -> None: fill view.extra (attachments, recurrence ...)
FIND_VIEWS: dict = {}     # FindItem view element (CalendarView, ContactsView) -> async (ctx, view_el) -> response
ID_HOOKS: list = []       # GetItem: async (ctx, id_el, el, shape, wants_mime) -> bool (True: answered)
CREATE_HOOKS: dict = {}   # CreateItem element (CalendarItem, AcceptItem ...) -> async (ctx, el_in, el) -> None
UPDATE_HOOKS: list = []   # UpdateItem: async (ctx, change, el) -> bool (True: answered)
DELETE_HOOKS: list = []   # DeleteItem: async (ctx, id_el) -> bool (True: done)


def item_shape(ctx: EwsContext):
    try:
        return parse_shape(child(ctx.req.body, "ItemShape"))
    except (ValueError, PathError) as exc:
        raise ResponseError("ErrorInvalidRequest", str(exc))


def change_key_of(item: Item) -> str:
    return ewsids.encode_change_key(item.props[P.PidTagChangeKey], "item")


def read_item(el) -> ItemInput:
    """``protocols.ews.items.read_item`` with the text body of an HTML-only body derived by the store."""
    inp = ewsitems.read_item(el)
    if P.PidTagHtml in inp.props:
        complete_body(inp.props)
    return inp


def view_props(props: dict) -> dict:
    """A bag to show: HTML-only items get their PidTagBody (a copy; the item's own bag stays as read)."""
    if P.PidTagHtml in props and P.PidTagBody not in props:
        return complete_body(dict(props))
    return props


async def item_view(ctx: EwsContext, item: Item, *, mime: bool = False, full: bool = False) -> ItemView:
    content = item.content if full else None
    mime_bytes = None
    if mime and content is not None:
        # Exchange's export form: iCalendar for calendar items and tasks, vCard for contacts, RFC 822 for mail
        mime_bytes = await ctx.mbx.mime_of(item)
    view = ItemView(ctx.item_id(item.mid), change_key_of(item), view_props(item.props), ctx.folder_id(item.fid),
                    await ctx.folder_change_key_of(item.fid),
                    recipients=content.recipients if content is not None else None, mime=mime_bytes, full=full)
    for hook in VIEW_HOOKS:
        await hook(ctx, item, view)
    return view


def write_item_id(parent, ctx: EwsContext, item_or_mid, change_key: str | None = None, element: str = "Message"):
    mid = item_or_mid.mid if isinstance(item_or_mid, Item) else item_or_mid
    ck = change_key or (change_key_of(item_or_mid) if isinstance(item_or_mid, Item) else None)
    el = sub(parent, t(element))
    sub(el, t("ItemId"), Id=ctx.item_id(mid), ChangeKey=ck)
    return el


def current_change_key(ctx: EwsContext, mid: int) -> str:
    return ewsids.encode_change_key(ctx.mbx.change_key_of(mid), "item")


def element_for(props: dict) -> str:
    return table_for_class(props.get(P.PidTagMessageClass)).element


# ---------------------------------------------------------------- FindItem

async def find_item(ctx: EwsContext):
    body = ctx.req.body
    shape = item_shape(ctx)
    traversal = body.get("Traversal", "Shallow")
    try:
        restriction = parse_restriction(child(body, "Restriction"))
        sort = parse_sort(child(body, "SortOrder")) or DEFAULT_SORT
    except ValueError as exc:
        raise ResponseError("ErrorInvalidRestriction", str(exc))
    for name, handler in FIND_VIEWS.items():
        special = child(body, name)
        if special is not None:
            return await handler(ctx, special)
    view_el = first_child(body, "IndexedPageItemView", "FractionalPageItemView")
    refs = read_folder_refs(child(body, "ParentFolderIds"))

    async def one(ref, el):
        folder = await ctx.folder(ref)
        if traversal == "SoftDeleted":
            window, attrs = page([], view_el)
        else:
            # the folder's contents table: restriction and sort run in the store, only the page is read
            view = await ctx.mbx.contents_view(folder.fid, to_mapi(restriction), sorts_to_mapi(sort),
                                               associated=(traversal == "Associated"))
            start, end, attrs = window_of(view.count(), view_el)
            window = view.rows(start, end - start)
        root = sub(el, m("RootFolder"), **attrs)
        items = sub(root, t("Items"))
        for item in window:
            write_item(items, await item_view(ctx, item), shape, table_row=True)
    return await for_each(ctx, refs, one, what="folder")


# ---------------------------------------------------------------- GetItem

def item_id_elements(container) -> list:
    return [c for c in children(container) if local(c) in ("ItemId", "OccurrenceItemId", "RecurringMasterItemId")]


async def get_item(ctx: EwsContext):
    shape = item_shape(ctx)
    wants_mime = shape.include_mime or shape.wants_uri("item:MimeContent")

    async def one(id_el, el):
        for hook in ID_HOOKS:
            if await hook(ctx, id_el, el, shape, wants_mime):
                return
        if local(id_el) != "ItemId":
            raise ResponseError("ErrorInvalidOperation", "Occurrences are not supported for mail items.")
        mid = ctx.mid_of(id_el.get("Id"))
        item = await ctx.mbx.get_item(mid)
        items = sub(el, m("Items"))
        write_item(items, await item_view(ctx, item, mime=wants_mime, full=True), shape)
    return await for_each(ctx, item_id_elements(child(ctx.req.body, "ItemIds")), one)


# ---------------------------------------------------------------- CreateItem

def recipients_of(inp: ItemInput) -> list[Recipient]:
    out = []
    for rtype, rows in inp.recipients.items():
        for name, email in rows:
            out.append(Recipient({P.PidTagRecipientType: rtype, P.PidTagDisplayName: name or email,
                                  P.PidTagEmailAddress: email, P.PidTagSmtpAddress: email,
                                  P.PidTagAddressType: "SMTP"}))
    return out


def content_from_input(inp: ItemInput) -> MessageContent:
    if inp.mime is not None:
        content = conv.mime_to_content(inp.mime)
        content.props.update(inp.props)
    else:
        content = MessageContent(dict(inp.props))
        content.props.setdefault(P.PidTagMessageClass, "IPM.Note")
        # Exchange: an item made by CreateItem is unsent (IsDraft) unless the client set PR_MESSAGE_FLAGS
        content.props.setdefault(P.PidTagMessageFlags, P.MSGFLAG_UNSENT | P.MSGFLAG_READ)
    if inp.recipients:
        content.recipients = recipients_of(inp)
    if inp.is_read is not None:
        flags = content.props.get(P.PidTagMessageFlags, 0) or 0
        content.props[P.PidTagMessageFlags] = flags | P.MSGFLAG_READ if inp.is_read else flags & ~P.MSGFLAG_READ
    now = datetime.now(timezone.utc).replace(microsecond=0)
    content.props.setdefault(P.PidTagCreationTime, now)
    return content


async def _send(ctx: EwsContext, mid: int, disposition: str, saved_ref) -> None:
    """Send a saved message; SendOnly keeps no copy, SendAndSaveCopy keeps it in Sent Items or ``saved_ref``."""
    if disposition == "SendOnly":
        await ctx.mbx.update_item(mid, {P.PidTagDeleteAfterSubmit: True})
    response_of = pending.pending_of(ctx.mbx, mid)   # a reply/forward saved earlier as a draft
    save_in = (await ctx.folder(saved_ref)).fid if saved_ref is not None else None
    # queued in the Outbox when the mail server cannot take it now: a success, as in Exchange
    await ctx.mbx.submit(mid, save_in=save_in)
    if response_of is not None:
        await pending.mark_original(ctx.mbx, *response_of)
        pending.forget(ctx.mbx, mid)


async def create_item(ctx: EwsContext):
    body = ctx.req.body
    disposition = body.get("MessageDisposition", "SaveOnly")
    saved = read_folder_refs(child(body, "SavedItemFolderId"))
    saved_ref = saved[0] if saved else None
    elements = children(child(body, "Items"))

    async def one(el_in, el):
        hook = CREATE_HOOKS.get(local(el_in))
        if hook is not None:
            return await hook(ctx, el_in, el)
        inp = read_item(el_in)
        if inp.element not in ("Message", "Item"):
            raise ResponseError("ErrorInvalidOperation", f"Creating a {inp.element} is not supported yet.")
        content = content_from_input(inp)
        if disposition == "SaveOnly":
            folder = await ctx.folder(saved_ref) if saved_ref is not None else await ctx.mbx.folder_by_role("drafts")
            item = await ctx.mbx.create_item(folder.fid, content)
            items = sub(el, m("Items"))
            write_item_id(items, ctx, item, element=element_for(item.props))
            return
        if disposition not in ("SendOnly", "SendAndSaveCopy"):
            raise ResponseError("ErrorInvalidRequest", f"Bad MessageDisposition {disposition!r}.")
        drafts = await ctx.mbx.folder_by_role("drafts")
        item = await ctx.mbx.create_item(drafts.fid, content)
        await _send(ctx, item.mid, disposition, saved_ref)
        sub(el, m("Items"))
    return await for_each(ctx, elements, one)


# ---------------------------------------------------------------- UpdateItem

def _updates(ctx: EwsContext, change, item: Item | None):
    """SetItemField/AppendToItemField/DeleteItemField -> (props, remove, is_read)."""
    props, remove, is_read = {}, [], None
    for upd in children(child(change, "Updates")):
        kind = local(upd)
        path = find_path(upd)
        if path is None:
            raise ResponseError("ErrorInvalidRequest", f"{kind} without a property path.")
        if kind == "DeleteItemField":
            if path.extended is not None:
                remove.append(path.extended.key)
                continue
            f = field_for_uri(path.uri or "")
            if f is None or not f.removes:
                raise ResponseError("ErrorInvalidPropertyDelete", f"{path.uri} cannot be deleted.")
            remove.extend(f.removes)
            continue
        holder = next((c for c in children(upd) if local(c) not in ("FieldURI", "IndexedFieldURI",
                                                                     "ExtendedFieldURI")), None)
        if holder is None:
            raise ResponseError("ErrorInvalidRequest", f"{kind} without an item element.")
        if path.extended is None and path.uri not in (None,):
            f = field_for_uri(path.uri)
            if f is None or f.read is None:
                raise ResponseError("ErrorInvalidPropertySet", f"{path.uri} cannot be set on this server.")
            if path.uri in ("message:ToRecipients", "message:CcRecipients", "message:BccRecipients"):
                raise ResponseError("ErrorInvalidPropertySet", "Changing recipients is not supported yet.")
        inp = read_item(holder)
        if kind == "AppendToItemField" and item is not None:
            if PidNameKeywords in inp.props:
                inp.props[PidNameKeywords] = list(item.props.get(PidNameKeywords) or []) + \
                    [c for c in inp.props[PidNameKeywords] if c not in (item.props.get(PidNameKeywords) or [])]
            if P.PidTagBody in inp.props and P.PidTagHtml not in inp.props:
                inp.props[P.PidTagBody] = (item.props.get(P.PidTagBody) or "") + inp.props[P.PidTagBody]
        props.update(inp.props)
        if inp.is_read is not None:
            is_read = inp.is_read
    if P.PidTagSubject in props:
        prefix, normalized = split_subject(props[P.PidTagSubject])
        props[P.PidTagSubjectPrefix] = prefix
        props[P.PidTagNormalizedSubject] = normalized
    return props, remove, is_read


async def update_item(ctx: EwsContext):
    body = ctx.req.body
    resolution = body.get("ConflictResolution", "AutoResolve")
    disposition = body.get("MessageDisposition", "SaveOnly")
    saved = read_folder_refs(child(body, "SavedItemFolderId"))
    changes = children(child(body, "ItemChanges"), "ItemChange")

    async def one(change, el):
        for hook in UPDATE_HOOKS:
            if await hook(ctx, change, el):
                return
        id_el = next((c for c in children(change) if local(c) in ("ItemId", "OccurrenceItemId",
                                                                   "RecurringMasterItemId")), None)
        if id_el is None or local(id_el) != "ItemId":
            raise ResponseError("ErrorInvalidRequest", "ItemChange needs an ItemId.")
        mid = ctx.mid_of(id_el.get("Id"))
        ck = None if resolution == "AlwaysOverwrite" else ctx.change_key_xid(id_el.get("ChangeKey"))
        needs_item = any(local(u) == "AppendToItemField" for u in children(child(change, "Updates")))
        item = await ctx.mbx.get_item(mid) if needs_item else None
        props, remove, is_read = _updates(ctx, change, item)
        await ctx.mbx.update_item(mid, props, remove, change_key=ck)
        if is_read is not None:
            await ctx.mbx.set_read([mid], is_read)
        if disposition in ("SendOnly", "SendAndSaveCopy"):
            await _send(ctx, mid, disposition, saved[0] if saved else None)
            sub(el, m("Items"))
        else:
            items = sub(el, m("Items"))
            write_item_id(items, ctx, mid, current_change_key(ctx, mid))
        cr = sub(el, m("ConflictResults"))
        sub(cr, t("Count"), 0)
    return await for_each(ctx, changes, one)


# ---------------------------------------------------------------- DeleteItem, MoveItem, CopyItem

async def delete_item(ctx: EwsContext):
    body = ctx.req.body
    mode = body.get("DeleteType", "HardDelete")
    deleted_folder = None

    async def one(id_el, el):
        nonlocal deleted_folder
        for hook in DELETE_HOOKS:
            if await hook(ctx, id_el):
                return
        mid = ctx.mid_of(id_el.get("Id"))
        ctx.mbx.item_folder(mid)  # NotFound before anything else
        if mode == "MoveToDeletedItems":
            if deleted_folder is None:
                deleted_folder = await ctx.mbx.folder_by_role("deleted")
            if ctx.mbx.item_folder(mid) != deleted_folder.fid:
                await ctx.mbx.move_items([mid], deleted_folder.fid)
                return
        # SoftDelete goes to the recoverable-items dumpster on Exchange; the backends have none
        await ctx.mbx.delete_items([mid])
    return await for_each(ctx, item_id_elements(child(body, "ItemIds")), one)


async def move_item(ctx: EwsContext, *, copy: bool = False):
    body = ctx.req.body
    dest_ref = read_folder_refs(child(body, "ToFolderId"))

    async def one(id_el, el):
        if not dest_ref:
            raise ResponseError("ErrorInvalidRequest", "ToFolderId is missing.")
        mid = ctx.mid_of(id_el.get("Id"))
        dest = await ctx.folder(dest_ref[0])
        if copy:   # through notifications, so subscribers get a CopiedEvent rather than a CreatedEvent
            from .notifications import copy_items
            moved = await copy_items(ctx, [mid], dest.fid)
        else:
            moved = await ctx.mbx.move_items([mid], dest.fid)
        new = moved.get(mid, mid)
        items = sub(el, m("Items"))
        write_item_id(items, ctx, new, current_change_key(ctx, new))
    return await for_each(ctx, item_id_elements(child(body, "ItemIds")), one)


async def copy_item(ctx: EwsContext):
    return await move_item(ctx, copy=True)


async def send_item(ctx: EwsContext):
    body = ctx.req.body
    save = body.get("SaveItemToFolder", "true").lower() in ("true", "1")
    saved = read_folder_refs(child(body, "SavedItemFolderId"))

    async def one(id_el, el):
        mid = ctx.mid_of(id_el.get("Id"))
        ck = ctx.change_key_xid(id_el.get("ChangeKey"))
        if ck is not None:
            await ctx.mbx.update_item(mid, {}, [], change_key=ck)
        await _send(ctx, mid, "SendAndSaveCopy" if save else "SendOnly", saved[0] if saved and save else None)
    return await for_each(ctx, item_id_elements(child(body, "ItemIds")), one)


async def mark_as_junk(ctx: EwsContext):
    body = ctx.req.body
    junk = body.get("IsJunk", "true").lower() in ("true", "1")
    move = body.get("MoveItem", "true").lower() in ("true", "1")

    async def one(id_el, el):
        mid = ctx.mid_of(id_el.get("Id"))
        ctx.mbx.item_folder(mid)  # NotFound before anything else
        new = mid
        if move:
            dest = await ctx.mbx.folder_by_role("junk" if junk else "inbox")
            new = (await ctx.mbx.move_items([mid], dest.fid)).get(mid, mid)
        sub(el, m("MovedItemId"), Id=ctx.item_id(new), ChangeKey=current_change_key(ctx, new))
    return await for_each(ctx, item_id_elements(child(body, "ItemIds")), one)
