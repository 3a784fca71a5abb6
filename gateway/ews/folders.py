"""Folder operations (MS-OXWSFOLD): GetFolder, FindFolder, CreateFolder, UpdateFolder, DeleteFolder,
MoveFolder, CopyFolder, EmptyFolder; SyncFolderHierarchy (MS-OXWSSYNC) is in sync.py."""
from __future__ import annotations

from protocols.ews.folders import read_folder, read_folder_ref, read_folder_refs, write_folder
from protocols.ews.ns import child, children, first_child, local, m, sub, t, text
from protocols.ews.responses import ResponseError
from protocols.ews.mapirestrict import to_mapi
from protocols.ews.restrict import parse_restriction
from protocols.ews.shapes import parse_shape
from protocols.ews.values import find_path, read_extended_property
from protocols.mapi.props import core as P

from .context import EwsContext, for_each


def _shape(ctx: EwsContext, name: str = "FolderShape"):
    try:
        return parse_shape(child(ctx.req.body, name))
    except ValueError as exc:
        raise ResponseError("ErrorInvalidRequest", str(exc))


def wants_counts(shape) -> bool:
    return shape.base != "IdOnly" or any(p.uri in ("folder:TotalCount", "folder:UnreadCount")
                                         for p in shape.additional)


async def fresh(ctx: EwsContext, f, shape):
    """Counts come from the id map: bring a mail folder's map up to date before reporting them."""
    if f.kind == "imap" and wants_counts(shape):
        await ctx.mbx.sync_folder(f.fid)
        return await ctx.mbx.get_folder(f.fid)
    return f


async def get_folder(ctx: EwsContext):
    shape = _shape(ctx)
    refs = read_folder_refs(child(ctx.req.body, "FolderIds"))

    async def one(ref, el):
        f = await fresh(ctx, await ctx.folder(ref), shape)
        write_folder(sub(el, m("Folders")), await ctx.folder_view(f), shape)
    return await for_each(ctx, refs, one, what="folder")


async def _descendants(ctx: EwsContext, fid: int, deep: bool) -> list:
    out = []
    for c in await ctx.mbx.child_folders(fid):
        out.append(c)
        if deep:
            out.extend(await _descendants(ctx, c.fid, deep))
    return out


def _count(view_el, name: str, default: int | None, code: str, least: int = 0) -> int | None:
    """A paging attribute as a whole number >= least (xs:int in MS-OXWSSRCH); a request error otherwise."""
    raw = view_el.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ResponseError(code, f"{name} must be a whole number, not {raw[:20]!r}.") from None
    if value < least:
        raise ResponseError(code, f"{name} must be at least {least}.")
    return value


def page(rows: list, view_el) -> tuple[list, dict]:
    """IndexedPage*View / FractionalPage*View (MS-OXWSSRCH 2.2.4.x) -> (window, RootFolder attributes)."""
    start, end, attrs = window_of(len(rows), view_el)
    return rows[start:end], attrs


def window_of(total: int, view_el) -> tuple[int, int, dict]:
    """(first row, end row, RootFolder attributes) of a paged view over ``total`` rows: a table reads
    only rows[first:end]."""
    if view_el is None:
        return 0, total, {"TotalItemsInView": str(total), "IncludesLastItemInRange": "true"}
    max_n = _count(view_el, "MaxEntriesReturned", None, "ErrorInvalidPagingMaxRows", least=1)
    name = local(view_el)
    if name.startswith("FractionalPage"):
        code = "ErrorInvalidFractionalPagingParameters"
        num = _count(view_el, "Numerator", 0, code)
        den = _count(view_el, "Denominator", 1, code, least=1)
        if num > den:
            raise ResponseError(code, "Numerator must not be greater than Denominator.")
        offset = total * num // den
    else:
        offset = _count(view_el, "Offset", 0, "ErrorInvalidIndexedPagingParameters")
    if view_el.get("BasePoint", "Beginning") == "End":
        start = max(total - offset - (max_n or total), 0)
        end = max(total - offset, 0)
    else:
        start = min(offset, total)
        end = total if max_n is None else min(start + max_n, total)
    attrs = {"TotalItemsInView": str(total),
             "IncludesLastItemInRange": "true" if end >= total else "false"}
    if name.startswith("FractionalPage"):
        attrs["NumeratorOffset"] = str(end)
        attrs["AbsoluteDenominator"] = str(total)
    else:
        attrs["IndexedPagingOffset"] = str(end)
    return start, end, attrs


async def find_folder(ctx: EwsContext):
    body = ctx.req.body
    shape = _shape(ctx)
    traversal = body.get("Traversal", "Shallow")
    restriction = parse_restriction(child(body, "Restriction"))
    view_el = first_child(body, "IndexedPageFolderView", "FractionalPageFolderView")
    refs = read_folder_refs(child(body, "ParentFolderIds"))

    async def one(ref, el):
        parent = await ctx.folder(ref)
        if traversal == "SoftDeleted":
            window, attrs = page([], view_el)
        else:
            # the store's hierarchy table, restricted there
            view = await ctx.mbx.hierarchy_view(parent.fid, deep=traversal == "Deep", restriction=to_mapi(restriction))
            start, end, attrs = window_of(view.count(), view_el)
            window = view.rows(start, end - start)
        root = sub(el, m("RootFolder"), **attrs)
        folders = sub(root, t("Folders"))
        for f in window:
            write_folder(folders, await ctx.folder_view(await fresh(ctx, f, shape)), shape)
    return await for_each(ctx, refs, one, what="folder")


async def create_folder(ctx: EwsContext):
    body = ctx.req.body
    parent_ref = read_folder_refs(child(body, "ParentFolderId"))
    new = [c for c in children(child(body, "Folders"))]

    async def one(el_in, el):
        if not parent_ref:
            raise ResponseError("ErrorInvalidRequest", "ParentFolderId is missing.")
        parent = await ctx.folder(parent_ref[0])
        spec = read_folder(el_in)
        if not spec.display_name:
            raise ResponseError("ErrorInvalidRequest", "A folder needs a DisplayName.")
        f = await ctx.mbx.create_folder(parent.fid, spec.display_name, spec.folder_class or "IPF.Note")
        if spec.props:
            f = await ctx.mbx.set_folder_props(f.fid, spec.props)
        folders = sub(el, m("Folders"))
        out = sub(folders, t(local(el_in) if local(el_in) in ("Folder", "CalendarFolder", "ContactsFolder",
                                                               "TasksFolder", "SearchFolder") else "Folder"))
        sub(out, t("FolderId"), Id=ctx.folder_id(f.fid), ChangeKey=ctx.folder_change_key(f))
    return await for_each(ctx, new, one, what="folder")


async def update_folder(ctx: EwsContext):
    changes = children(child(ctx.req.body, "FolderChanges"), "FolderChange")

    async def one(change, el):
        ref_el = next((c for c in children(change) if local(c) in ("FolderId", "DistinguishedFolderId")), None)
        if ref_el is None:
            raise ResponseError("ErrorInvalidRequest", "FolderChange without a folder id.")
        f = await ctx.folder(read_folder_ref(ref_el))
        props, remove = {}, []
        for upd in children(child(change, "Updates")):
            kind = local(upd)
            path = find_path(upd)
            if path is None:
                raise ResponseError("ErrorInvalidRequest", f"{kind} without a property path.")
            folder_el = next((c for c in children(upd) if local(c).endswith("Folder")), None)
            if kind == "DeleteFolderField":
                if path.extended is not None:
                    remove.append(path.extended.key)
                continue
            if path.uri == "folder:DisplayName":
                props[P.PidTagDisplayName] = text(folder_el, "DisplayName") or ""
            elif path.uri == "folder:FolderClass":
                props[P.PidTagContainerClass] = text(folder_el, "FolderClass") or ""
            elif path.extended is not None:
                ep = child(folder_el, "ExtendedProperty")
                ext, value = read_extended_property(ep)
                props[ext.key] = value
            else:
                raise ResponseError("ErrorInvalidPropertySet", f"{path.uri} cannot be changed on this server.")
        if props:
            f = await ctx.mbx.set_folder_props(f.fid, props)
        if remove:
            f = await ctx.mbx.remove_folder_props(f.fid, remove)
        folders = sub(el, m("Folders"))
        out = sub(folders, t("Folder"))
        sub(out, t("FolderId"), Id=ctx.folder_id(f.fid), ChangeKey=ctx.folder_change_key(f))
    return await for_each(ctx, changes, one, what="folder")


async def delete_folder(ctx: EwsContext):
    body = ctx.req.body
    mode = body.get("DeleteType", "HardDelete")
    refs = read_folder_refs(child(body, "FolderIds"))

    async def one(ref, el):
        f = await ctx.folder(ref)
        if f.role:
            raise ResponseError("ErrorDeleteDistinguishedFolder", None)
        if mode == "MoveToDeletedItems":
            deleted = await ctx.mbx.folder_by_role("deleted")
            if f.parent_fid != deleted.fid:
                await ctx.mbx.move_folder(f.fid, deleted.fid)
                return
        await ctx.mbx.delete_folder(f.fid)
    return await for_each(ctx, refs, one, what="folder")


async def move_folder(ctx: EwsContext, *, copy: bool = False):
    body = ctx.req.body
    dest_ref = read_folder_refs(child(body, "ToFolderId"))
    refs = read_folder_refs(child(body, "FolderIds"))

    async def one(ref, el):
        if not dest_ref:
            raise ResponseError("ErrorInvalidRequest", "ToFolderId is missing.")
        f = await ctx.folder(ref)
        dest = await ctx.folder(dest_ref[0])
        if copy:
            new = await ctx.mbx.copy_folder(f.fid, dest.fid)
        else:
            if f.role:
                raise ResponseError("ErrorMoveDistinguishedFolder", "Distinguished folders cannot be moved.")
            for sib in await ctx.mbx.child_folders(dest.fid):
                if sib.display_name.lower() == f.display_name.lower() and sib.fid != f.fid:
                    raise ResponseError("ErrorFolderExists", None)
            new = await ctx.mbx.move_folder(f.fid, dest.fid)
        folders = sub(el, m("Folders"))
        out = sub(folders, t("Folder"))
        sub(out, t("FolderId"), Id=ctx.folder_id(new.fid), ChangeKey=ctx.folder_change_key(new))
    return await for_each(ctx, refs, one, what="folder")


async def copy_folder(ctx: EwsContext):
    return await move_folder(ctx, copy=True)


async def empty_folder(ctx: EwsContext):
    body = ctx.req.body
    mode = body.get("DeleteType", "HardDelete")
    subfolders = (body.get("DeleteSubFolders", "false").lower() in ("true", "1"))
    refs = read_folder_refs(child(body, "FolderIds"))

    async def one(ref, el):
        f = await ctx.folder(ref)
        items = await ctx.mbx.list_items(f.fid)
        mids = [i.mid for i in items]
        if mids:
            if mode == "MoveToDeletedItems" and f.role != "deleted":
                deleted = await ctx.mbx.folder_by_role("deleted")
                await ctx.mbx.move_items(mids, deleted.fid)
            else:
                await ctx.mbx.delete_items(mids)
        if subfolders:
            for c in await ctx.mbx.child_folders(f.fid):
                await ctx.mbx.delete_folder(c.fid)
    return await for_each(ctx, refs, one, what="folder")
