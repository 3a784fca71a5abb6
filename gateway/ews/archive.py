"""ArchiveItem (EWS 2013): exgate has no archive mailbox, so "archive" means the user's Archive mail
folder — IMAP's \\Archive (Dovecot's special-use "Archive") or one created beside Inbox, which is also
where Thunderbird's archive button puts mail. The items keep their ids (a store move)."""
from __future__ import annotations

from gateway.store.mailbox import Mailbox
from gateway.store.objects import Folder
from protocols.ews.folders import read_folder_refs
from protocols.ews.ns import child, m, sub, t

from .context import EwsContext, for_each
from .items import current_change_key, item_id_elements

ARCHIVE_NAME = "Archive"


async def archive_folder(mbx: Mailbox) -> Folder:
    ipm = await mbx.folder_by_role("ipm_subtree")
    for f in await mbx.child_folders(ipm.fid):
        if f.display_name.lower() == ARCHIVE_NAME.lower() and f.kind == "imap":
            return f
    return await mbx.create_folder(ipm.fid, ARCHIVE_NAME, "IPF.Note")


async def archive_item(ctx: EwsContext):
    body = ctx.req.body
    source = child(body, "ArchiveSourceFolderId")
    if source is not None:
        for ref in read_folder_refs(source):
            await ctx.folder(ref)  # the source must exist and be the user's own (ErrorAccessDenied otherwise)
    dest: Folder | None = None

    async def one(id_el, el):
        nonlocal dest
        mid = ctx.mid_of(id_el.get("Id"))       # the user's own, well-formed id: else an error, nothing made
        await ctx.mbx.get_item(mid)             # and an item that exists
        if dest is None:                        # the Archive folder is made only for an item that will go there
            dest = await archive_folder(ctx.mbx)
        new = (await ctx.mbx.move_items([mid], dest.fid)).get(mid, mid)
        item = sub(sub(el, m("Items")), t("Message"))
        sub(item, t("ItemId"), Id=ctx.item_id(new), ChangeKey=current_change_key(ctx, new))
    return await for_each(ctx, item_id_elements(child(body, "ItemIds")), one)
