"""SyncFolderHierarchy and SyncFolderItems (MS-OXWSSYNC) on the store's change numbers.

The SyncState is (scope FID, change number): everything up to that CN was delivered. FIDs,
MIDs and CNs come from one counter per mailbox, so an object whose GLOBCNT is above the
state's CN was created after the last sync: that decides Create versus Update.
"""
from __future__ import annotations

from protocols.ews.folders import read_folder_refs, write_folder
from protocols.ews.ids import SyncState, SyncStateInvalid, decode_sync_state
from protocols.ews.items import write_item
from protocols.ews.ns import child, children, m, sub, t, text
from protocols.ews.responses import ResponseError
from protocols.mapi.props import core as P

from .context import EwsContext, for_each
from .folders import _descendants, _shape
from .items import item_shape, item_view


async def sync_folder_hierarchy(ctx: EwsContext):
    body = ctx.req.body
    shape = _shape(ctx)
    refs = read_folder_refs(child(body, "SyncFolderId"))
    state_text = text(body, "SyncState")

    async def one(ref, el):
        from protocols.ews.folders import FolderRef
        scope = await ctx.folder(ref or FolderRef(distinguished="msgfolderroot"))
        try:
            state = decode_sync_state(state_text, "hierarchy", scope.fid)
        except SyncStateInvalid as exc:
            raise ResponseError("ErrorInvalidSyncStateData", str(exc))
        inside = {f.fid: f for f in await _descendants(ctx, scope.fid, True)}
        changed, deleted, last = ctx.mbx.hierarchy_changes_since(state.cn)
        sub(el, m("SyncState"), SyncState("hierarchy", scope.fid, max(last, state.cn)).encode())
        sub(el, m("IncludesLastFolderInRange"), True)
        changes = sub(el, m("Changes"))
        # parents before children: Evolution files a folder under its parent as it reads them
        ordered = [f for f in inside.values() if f.fid in set(changed)]
        for f in ordered:
            kind = "Create" if state.cn == 0 or ctx.mbx.ident.globcnt_of(f.fid) > state.cn else "Update"
            write_folder(sub(changes, t(kind)), await ctx.folder_view(f), shape)
        if state.cn:
            for fid in deleted:
                if ctx.mbx.ident.globcnt_of(fid) <= state.cn:
                    d = sub(changes, t("Delete"))
                    sub(d, t("FolderId"), Id=ctx.folder_id(fid))
    return await for_each(ctx, [refs[0] if refs else None], one, what="folder")


async def sync_folder_items(ctx: EwsContext):
    body = ctx.req.body
    shape = item_shape(ctx)
    refs = read_folder_refs(child(body, "SyncFolderId"))
    state_text = text(body, "SyncState")
    try:
        max_changes = int(text(body, "MaxChangesReturned") or "512")
    except ValueError:
        raise ResponseError("ErrorInvalidRequest", "MaxChangesReturned is not a number.")
    max_changes = max(1, min(max_changes, 512))
    ignore = {i.get("Id") for i in children(child(body, "Ignore"))}

    async def one(ref, el):
        if ref is None:
            raise ResponseError("ErrorInvalidRequest", "SyncFolderId is missing.")
        folder = await ctx.folder(ref)
        try:
            state = decode_sync_state(state_text, "items", folder.fid)
        except SyncStateInvalid as exc:
            raise ResponseError("ErrorInvalidSyncStateData", str(exc))
        await ctx.mbx.sync_folder(folder.fid)      # the folder's changes since it was last seen
        changes = ctx.mbx.changes_since(folder.fid, state.cn)
        # only the rows of this page are read, whatever the folder's size
        rows: dict[int, object] = {}
        for start in range(0, len(changes.changed), max_changes + 1):
            for item in ctx.mbx.table_rows(changes.changed[start:start + max_changes + 1]):
                rows[item.mid] = item
            if len(rows) > max_changes:
                break
        page = list(rows)[:max_changes]
        complete = len(rows) <= max_changes
        still_here = set(changes.changed)
        if complete:
            new_cn = max(changes.last_cn, state.cn)
        else:
            new_cn = ctx.mbx.ident.globcnt_of(rows[page[-1]].props[P.PidTagChangeNumber])
        sub(el, m("SyncState"), SyncState("items", folder.fid, new_cn).encode())
        sub(el, m("IncludesLastItemInRange"), complete)
        out = sub(el, m("Changes"))
        for mid in page:
            item = rows[mid]
            if ctx.item_id(mid) in ignore:
                continue
            kind = "Create" if state.cn == 0 or item.globcnt > state.cn else "Update"
            write_item(sub(out, t(kind)), await item_view(ctx, item), shape, table_row=True)
        if complete and state.cn:
            for mid in changes.deleted:
                if mid in still_here:
                    continue  # deleted and back (moved out and in again): it was reported as a change
                if ctx.mbx.ident.globcnt_of(mid) <= state.cn:
                    d = sub(out, t("Delete"))
                    sub(d, t("ItemId"), Id=ctx.item_id(mid))
    return await for_each(ctx, [refs[0] if refs else None], one, what="folder")
