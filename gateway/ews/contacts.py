"""Contacts and distribution lists (MS-OXWSCONT, MS-OXWSDLIST) on the store's CardDAV folders.

CreateItem Contact / DistributionList, FindItem with ContactsView, the members of a personal
distribution list in GetItem, and ExpandDL of such a list (ExpandDL of directory groups stays in
people.py).
"""
from __future__ import annotations

from datetime import datetime, timezone

from protocols.mapi.entryids import decode_one_off, encode_one_off, unwrap_entryid, wrap_entryid
from gateway.store.model import MessageContent
from gateway.store.objects import Item
from protocols.ews import contacts as ecn
from protocols.ews.folders import read_folder_refs
from protocols.ews.items import ItemView, needs_full_item, write_item, write_mailbox
from protocols.ews.ns import child, m, sub, t
from protocols.ews.responses import ResponseError, message, response_root
from protocols.ews.values import PathError
from protocols.mapi.props import contact as C
from protocols.mapi.props import core as P

from . import items as ews_items
from .context import EwsContext, for_each, store_error


def members_of(props: dict) -> list[tuple[str | None, str | None, str]]:
    """PidLidDistributionListOneOffMembers (or the wrapped members) -> (name, email, MailboxType)."""
    out = []
    one_offs = props.get(C.PidLidDistributionListOneOffMembers) or []
    wrapped = props.get(C.PidLidDistributionListMembers) or []
    for i in range(max(len(one_offs), len(wrapped))):
        decoded = decode_one_off(one_offs[i]) if i < len(one_offs) else None
        if decoded is None and i < len(wrapped):
            w = unwrap_entryid(wrapped[i])
            decoded = decode_one_off(w[1]) if w is not None else None
        if decoded is not None:
            out.append((decoded.display_name, decoded.email_address, "OneOff"))
    return out


async def dl_members_extra(ctx: EwsContext, item: Item, view: ItemView) -> None:
    if str(item.props.get(P.PidTagMessageClass) or "").startswith("IPM.DistList"):
        view.extra["members"] = members_of(item.props)


ews_items.VIEW_HOOKS.append(dl_members_extra)


def contact_content(ctx: EwsContext, el_in) -> MessageContent:
    try:
        inp = ews_items.read_item(el_in)
    except PathError as exc:
        raise ResponseError("ErrorInvalidRequest", str(exc))
    props = dict(inp.props)
    if inp.mime is not None:
        # a vCard in MimeContent (DavMail): the store's MS-OXVCARD import, then the client's fields
        from gateway.store.convert import vcard
        try:
            card = vcard.vcard_to_distlist(inp.mime) if vcard.is_group_vcard(inp.mime) \
                else vcard.vcard_to_contact(inp.mime)
        except Exception as exc:  # noqa: BLE001 - a card the converter cannot read
            raise ResponseError("ErrorInvalidRequest", f"MimeContent is not a usable vCard: {exc}")
        props = {**card.props, **props}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    props.setdefault(P.PidTagCreationTime, now)
    props[P.PidTagMessageFlags] = P.MSGFLAG_READ
    if inp.element == "DistributionList" or str(props.get(P.PidTagMessageClass) or "").startswith("IPM.DistList"):
        props[P.PidTagMessageClass] = "IPM.DistList"
        name = props.get(P.PidTagDisplayName) or props.get(P.PidTagSubject) or ""
        props[P.PidTagDisplayName] = name
        props.setdefault(P.PidTagSubject, name)
        props[C.PidLidDistributionListName] = name
        props.setdefault(C.PidLidFileUnder, name)
        props[C.PidLidFileUnderId] = C.FILE_UNDER_CUSTOM
        if "members" in inp.extra or C.PidLidDistributionListOneOffMembers not in props:
            one_offs = [encode_one_off(n or e, e) for n, e in inp.extra.get("members", [])]
            props[C.PidLidDistributionListOneOffMembers] = one_offs
            props[C.PidLidDistributionListMembers] = [wrap_entryid(o) for o in one_offs]
    else:
        props[P.PidTagMessageClass] = "IPM.Contact"
        name = props.get(P.PidTagDisplayName) or ecn.display_name_for(props) or ""
        props[P.PidTagDisplayName] = name
        props.setdefault(P.PidTagSubject, name)
        for dn_key, addr in inp.extra.get("email_display", []):
            props[dn_key] = f"{name} ({addr})" if name else addr
    props[P.PidTagNormalizedSubject] = props.get(P.PidTagSubject, "")
    return MessageContent(props)  # the store gives a new card its UID (RFC 6352 5.1)


async def create_contact(ctx: EwsContext, el_in, el) -> None:
    content = contact_content(ctx, el_in)
    saved = read_folder_refs(child(ctx.req.body, "SavedItemFolderId"))
    folder = await ctx.folder(saved[0]) if saved else await ctx.mbx.folder_by_role("contacts")
    item = await ctx.mbx.create_item(folder.fid, content)
    items = sub(el, m("Items"))
    ews_items.write_item_id(items, ctx, item, element=ews_items.element_for(item.props))


ews_items.CREATE_HOOKS["Contact"] = create_contact
ews_items.CREATE_HOOKS["DistributionList"] = create_contact


# ---------------------------------------------------------------- FindItem ContactsView

def _sort_name(props: dict) -> str:
    return str(props.get(C.PidLidFileUnder) or props.get(P.PidTagDisplayName) or props.get(P.PidTagSubject) or "")


async def contacts_view(ctx: EwsContext, view_el):
    """ContactsView (MS-OXWSSRCH 2.2.4.x): items whose name sorts within [InitialName, FinalName]."""
    shape = ews_items.item_shape(ctx)
    initial = (view_el.get("InitialName") or "").lower()
    final = (view_el.get("FinalName") or "").lower()
    limit = view_el.get("MaxEntriesReturned")
    refs = read_folder_refs(child(ctx.req.body, "ParentFolderIds"))

    async def one(ref, el):
        folder = await ctx.folder(ref)
        rows = await ctx.mbx.list_items(folder.fid)
        rows = [i for i in rows if (not initial or _sort_name(i.props).lower() >= initial)
                and (not final or _sort_name(i.props).lower()[:len(final)] <= final)]
        rows.sort(key=lambda i: _sort_name(i.props).lower())
        total = len(rows)
        if limit and limit.isdigit():
            rows = rows[:int(limit)]
        root = sub(el, m("RootFolder"), TotalItemsInView=total, IncludesLastItemInRange=len(rows) == total)
        items = sub(root, t("Items"))
        full = needs_full_item(shape, ecn.CONTACT)
        for item in rows:
            if full:
                item = await ctx.mbx.get_item(item.mid)
            write_item(items, await ews_items.item_view(ctx, item, full=item.content is not None),
                       shape, table_row=item.content is None)
    return await for_each(ctx, refs, one, what="folder")


ews_items.FIND_VIEWS["ContactsView"] = contacts_view


# ---------------------------------------------------------------- ExpandDL of a personal list

async def expand_private_dl(ctx: EwsContext, fallback):
    """ExpandDL with an ItemId (a personal distribution list in Contacts); else people.expand_dl."""
    mb = child(ctx.req.body, "Mailbox")
    item_id_el = child(mb, "ItemId") if mb is not None else None
    if item_id_el is None:
        return await fallback(ctx)
    root, messages = response_root(ctx.operation)
    try:
        item = await ctx.mbx.get_item(ctx.mid_of(item_id_el.get("Id")))
        if not str(item.props.get(P.PidTagMessageClass) or "").startswith("IPM.DistList"):
            raise ResponseError("ErrorNameResolutionNoResults", "The item is not a distribution list.")
        members = members_of(item.props)
        el = message(messages, ctx.operation)
        dl = sub(el, m("DLExpansion"), TotalItemsInView=len(members), IncludesLastItemInRange=True)
        for name, email, mtype in members:
            write_mailbox(dl, name, email, mtype=mtype)
    except Exception as exc:  # noqa: BLE001
        err = store_error(exc)
        message(messages, ctx.operation, err.code, err.message)
    return root


async def expand_dl(ctx: EwsContext):
    """The ExpandDL table entry: personal lists here, directory groups in people.py."""
    from . import people
    return await expand_private_dl(ctx, people.expand_dl)
