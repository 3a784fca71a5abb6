"""Mailbox: one user's backends shown as one Exchange mailbox.

The single API every front end uses (EMSMDB ROPs, NSPI, EWS). Folders and
items carry MAPI property bags; ids (FID/MID, EntryIDs, SourceKeys, change
keys) come from the state database and survive restarts and moves.

Work per folder kind is done by an adapter (adapters/imap.py, dav.py,
local.py); this module owns the id maps, the hierarchy and change numbers.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import AsyncIterator, Iterable

from gateway.backends.base import BackendError, DavClient, DirectoryClient, ImapClient, SubmissionClient
from protocols.mapi import ids as wire
from protocols.mapi.props import core as P
from protocols.mapi.values import encode_value

from . import folders as layout, searchfolders
from .errors import FolderExists, InvalidOperation, NotFound, StoreError, WellKnownFolder
from .ids import FIRST_FREE_GLOBCNT, Counter, MailboxIdentity
from .model import MessageContent
from .namedmap import NamedPropMap
from .objects import Folder, FolderChanges, Item
from .state.db import StateDB, is_unique_violation
from .state import wakeups
from .state.pglock import exclusive

log = logging.getLogger(__name__)
DAV_RETRY_SECONDS = 30.0       # while CalDAV/CardDAV is down, how often folder listings try it again


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class MailboxBackends:
    """The clients through which this user's data is reached (already authenticated)."""

    imap: ImapClient
    dav: DavClient | None = None
    smtp: SubmissionClient | None = None
    directory: DirectoryClient | None = None


class Mailbox:
    def __init__(self, db: StateDB, ident: MailboxIdentity, backends: MailboxBackends, *,
                 display_name: str | None = None, email: str | None = None,
                 imap_names: dict | None = None):
        self.db = db
        self.ident = ident
        self.backends = backends
        self.display_name = display_name or ident.owner
        self.email = email or ident.owner
        self.counter = Counter(db, ident.mailbox_id)
        self.names = NamedPropMap(db, ident.mailbox_id)
        self.imap_names = imap_names
        self.login = self.email          # the directory login it was opened as (factory.open_mailbox sets it)
        self.submit_retry = None         # outbox.RetryPolicy for sends the SMTP server cannot take now
        self._dav_retry_at: float | None = None    # set while the DAV server is down (sync_hierarchy)
        # called (no arguments) after any folder row changes: change sources wake up (changes.py)
        self.hierarchy_listeners: set = set()
        from .adapters.dav import DavAdapter
        from .adapters.imap import ImapAdapter
        from .adapters.local import LocalAdapter
        self._adapters = {"imap": ImapAdapter(self), "caldav": DavAdapter(self), "carddav": DavAdapter(self),
                          "local": LocalAdapter(self), "root": LocalAdapter(self)}

    # ------------------------------------------------------------ opening
    @classmethod
    async def open(cls, db: StateDB, owner: str, backends: MailboxBackends, *, display_name: str | None = None,
                   email: str | None = None, imap_names: dict | None = None) -> "Mailbox":
        # several workers (gateways) opening one mailbox at once: one provisions it and makes its folders
        async with exclusive(db, f"exgate-mailbox:{owner.lower()}"):
            ident = provision(db, owner, display_name)
            mbx = cls(db, ident, backends, display_name=display_name, email=email, imap_names=imap_names)
            await mbx.sync_hierarchy()
        return mbx

    async def close(self) -> None:
        for client in (self.backends.imap, self.backends.dav):
            if client is not None:
                await client.close()

    # ------------------------------------------------------------ ids
    @property
    def mailbox_id(self) -> int:
        return self.ident.mailbox_id

    def new_cn(self) -> int:
        return self.counter.allocate()

    def _pcl_with(self, pcl: bytes | None, cn: int) -> bytes:
        return wire.merge_pcl(pcl or b"", self.ident.change_key(cn))

    # ------------------------------------------------------------ hierarchy
    def _folder_rows(self, where: str = "", params: tuple = ()) -> list[tuple]:
        return self.db.all(
            "SELECT fid, parent, role, kind, ref, display_name, container_class, cn FROM folders "
            f"WHERE mailbox_id = ? AND deleted = 0 {where} ORDER BY fid", (self.mailbox_id, *params))

    def _folder_from_row(self, row) -> Folder:
        g, parent, role, kind, ref, name, cls, cn = row
        return Folder(self.ident.fid(g), g, self.ident.fid(parent) if parent is not None else None, role, kind, ref,
                      name, cls, cn)

    async def sync_hierarchy(self) -> None:
        """Match backend collections to folders; new ones get FIDs, vanished ones become tombstones.

        A DAV server that does not answer does not stop mail: its folders stay as they were (none on a
        first open) and are looked for again every DAV_RETRY_SECONDS by folder listings. One process at a
        time per mailbox (the other workers on the state database wait): two would create the same
        folders twice, on the backend and in the folder rows."""
        async with exclusive(self.db, f"exgate-mailbox:{self.ident.owner}"):
            await self._sync_hierarchy()

    async def _sync_hierarchy(self) -> None:
        imap_folders = await self.backends.imap.list_folders()
        calendars, books, dav_down = [], [], False
        if self.backends.dav is not None:
            try:
                calendars, books = await self.backends.dav.discover()
                if self._dav_retry_at is not None:
                    log.info("%s: the CalDAV/CardDAV server answers again", self.email)
                self._dav_retry_at = None
            except BackendError as exc:
                dav_down = True
                self._dav_retry_at = time.monotonic() + DAV_RETRY_SECONDS
                log.warning("%s: CalDAV/CardDAV unavailable (%s); mail works, calendars and contacts come back "
                            "when it answers", self.email, exc)
        plan = layout.plan_hierarchy(imap_folders, calendars, books, names=self.imap_names)
        for role, name in plan.create_imap:
            special = {"sent": "\\Sent", "deleted": "\\Trash", "drafts": "\\Drafts", "junk": "\\Junk"}.get(role)
            await self.backends.imap.create_folder(name, special_use=special)
        if dav_down:
            self._apply_plan(plan, keep_kinds=("caldav", "carddav"))
            return
        if plan.create_dav and self.backends.dav is not None:
            created = await self._adapters["caldav"].create_missing(plan.create_dav, calendars, books)
            if created:
                calendars, books = await self.backends.dav.discover()
                plan = layout.plan_hierarchy(imap_folders, calendars, books, names=self.imap_names)
        self._apply_plan(plan)

    async def _dav_comeback(self) -> None:
        """While the DAV server was down, try it again now and then (one try at a time)."""
        if self._dav_retry_at is None or time.monotonic() < self._dav_retry_at:
            return
        self._dav_retry_at = time.monotonic() + DAV_RETRY_SECONDS
        try:
            await self.sync_hierarchy()
        except (BackendError, StoreError) as exc:
            log.info("%s: hierarchy resync failed: %s", self.email, exc)

    def _apply_plan(self, plan: layout.HierarchyPlan, keep_kinds: tuple[str, ...] = ()) -> None:
        now = now_iso()
        with self.db.transaction():
            rows = self.db.all("SELECT fid, role, kind, ref FROM folders WHERE mailbox_id = ? AND deleted = 0",
                               (self.mailbox_id,))
            by_role = {role: fid for fid, role, kind, ref in rows if role}
            by_ref = {(kind, ref): fid for fid, role, kind, ref in rows if ref is not None}
            seen: set[int] = set()
            pending = list(plan.folders)
            # parents first: a child's parent may be another planned folder
            for _ in range(len(pending) + 1):
                if not pending:
                    break
                later = []
                for pf in pending:
                    parent = self._resolve_parent(pf.parent, by_role, by_ref)
                    if parent is None:
                        later.append(pf)
                        continue
                    fid = by_role.get(pf.role) if pf.role else by_ref.get((pf.kind, pf.ref))
                    if fid is None:
                        fid = by_ref.get((pf.kind, pf.ref))
                    if fid is None:
                        fid = layout.BY_ROLE[pf.role].globcnt if pf.role else self.counter.allocate()
                        self.db.execute(
                            "INSERT INTO folders (mailbox_id, fid, parent, role, kind, ref, display_name, "
                            "container_class, cn, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (self.mailbox_id, fid, parent, pf.role, pf.kind, pf.ref, pf.display_name,
                             pf.container_class, self.new_cn(), now, now))
                        self._bump_hierarchy()
                    else:
                        cur = self.db.one("SELECT parent, ref, display_name FROM folders WHERE mailbox_id = ? "
                                          "AND fid = ?", (self.mailbox_id, fid))
                        if cur != (parent, pf.ref, cur[2] if pf.role else pf.display_name):
                            self.db.execute("UPDATE folders SET parent = ?, ref = ?, display_name = ?, cn = ?, "
                                            "modified = ? WHERE mailbox_id = ? AND fid = ?",
                                            (parent, pf.ref, cur[2] if pf.role else pf.display_name, self.new_cn(),
                                             now, self.mailbox_id, fid))
                            self._bump_hierarchy()
                    by_ref[(pf.kind, pf.ref)] = fid
                    if pf.role:
                        by_role[pf.role] = fid
                    seen.add(fid)
                pending = later
            for fid, role, kind, ref in rows:
                if kind in ("imap", "caldav", "carddav") and fid not in seen and not role and kind not in keep_kinds:
                    self._tombstone_folder(fid)

    def _resolve_parent(self, parent: tuple[str, str], by_role: dict, by_ref: dict) -> int | None:
        kind, key = parent
        if kind == "role":
            return by_role.get(key)
        return by_ref.get((kind, key))

    def _tombstone_folder(self, globcnt: int) -> None:
        self.db.execute("UPDATE folders SET deleted = 1, cn = ?, modified = ? WHERE mailbox_id = ? AND fid = ?",
                        (self.new_cn(), now_iso(), self.mailbox_id, globcnt))
        for (mid,) in self.db.all("SELECT mid FROM messages WHERE mailbox_id = ? AND fid = ?",
                                  (self.mailbox_id, globcnt)):
            self.tombstone_message(mid)
        self._bump_hierarchy()

    def _bump_hierarchy(self) -> None:
        self.db.execute("UPDATE mailboxes SET hierarchy_cn = hierarchy_cn + 1 WHERE id = ?", (self.mailbox_id,))
        wakeups.changed(self.db, self.mailbox_id, wakeups.HIERARCHY)     # the other workers' change sources
        for listener in list(self.hierarchy_listeners):
            listener()

    async def folders(self) -> list[Folder]:
        await self._dav_comeback()
        await self.refresh_counts()
        return [self._with_folder_props(self._folder_from_row(r)) for r in self._folder_rows()]

    async def refresh_counts(self, max_age: float = 5.0, fids: list[int] | None = None) -> None:
        """Item counts as the backends see them now: IMAP STATUS; DAV folders are synced."""
        now = time.time()
        rows = self.db.all("SELECT fid, kind, ref, counted_at FROM folders WHERE mailbox_id = ? AND deleted = 0 "
                           "AND kind IN ('imap', 'caldav', 'carddav')", (self.mailbox_id,))
        todo = [(g, kind, ref) for g, kind, ref, at in rows
                if (fids is None or g in fids) and (at is None or now - at > max_age)]

        async def one(g: int, kind: str, ref: str) -> None:
            try:
                if kind == "imap":
                    st = await self.backends.imap.status(ref)
                    self.db.execute("UPDATE folders SET total_count = ?, unread_count = ?, counted_at = ? "
                                    "WHERE mailbox_id = ? AND fid = ?",
                                    (st.exists, st.unseen, now, self.mailbox_id, g))
                else:
                    await self._adapters[kind].sync(self._folder_from_row(self._folder_rows("AND fid = ?", (g,))[0]))
                    self.db.execute("UPDATE folders SET counted_at = ? WHERE mailbox_id = ? AND fid = ?",
                                    (now, self.mailbox_id, g))
            except StoreError:
                pass  # a folder that vanished is noticed by the next hierarchy sync
            except BackendError:
                pass
        await asyncio.gather(*(one(*t) for t in todo))

    async def get_folder(self, fid: int, *, counts: bool = False) -> Folder:
        if counts:
            await self.refresh_counts(fids=[self.ident.globcnt_of(fid)])
        row = self._folder_rows("AND fid = ?", (self.ident.globcnt_of(fid),))
        if not row:
            raise NotFound(f"no folder 0x{fid:016x}")
        return self._with_folder_props(self._folder_from_row(row[0]))

    async def folder_by_role(self, role: str) -> Folder:
        await self._dav_comeback()
        row = self._folder_rows("AND role = ?", (role,))
        if not row:
            raise NotFound(f"no {role} folder")
        return self._with_folder_props(self._folder_from_row(row[0]))

    async def child_folders(self, fid: int) -> list[Folder]:
        rows = self._folder_rows("AND parent = ?", (self.ident.globcnt_of(fid),))
        return [self._with_folder_props(self._folder_from_row(r)) for r in rows]

    def _with_folder_props(self, f: Folder) -> Folder:
        ident = self.ident
        pcl = self.db.one("SELECT pcl FROM folders WHERE mailbox_id = ? AND fid = ?", (self.mailbox_id, f.globcnt))[0]
        props = {
            P.PidTagFolderId: f.fid,
            P.PidTagDisplayName: f.display_name,
            P.PidTagEntryId: ident.folder_entryid(f.globcnt),
            P.PidTagRecordKey: ident.folder_entryid(f.globcnt),
            P.PidTagSourceKey: ident.source_key(f.globcnt),
            P.PidTagChangeKey: ident.change_key(f.cn),
            P.PidTagChangeNumber: ident.change_number(f.cn),
            P.PidTagPredecessorChangeList: self._pcl_with(pcl, f.cn),
            P.PidTagFolderType: layout.FOLDER_TYPE_ROOT if f.kind == "root" else
            layout.FOLDER_TYPE_SEARCH if searchfolders.is_search(f) else 1,
            P.PidTagObjectType: P.MAPI_FOLDER,
            P.PidTagAttributeHidden: f.role is not None and layout.BY_ROLE[f.role].parent == "root",
        }
        if f.container_class:
            props[P.PidTagContainerClass] = f.container_class
        if f.parent_fid is not None:
            pg = self.ident.globcnt_of(f.parent_fid)
            props[P.PidTagParentFolderId] = f.parent_fid
            props[P.PidTagParentEntryId] = ident.folder_entryid(pg)
            props[P.PidTagParentSourceKey] = ident.source_key(pg)
        # each count reads a partial index of the few rows it counts (schema INDEX_INDEXES), never the
        # folder's mail rows: GetFolder costs the same at 50,000 messages as at 10
        assoc = self.db.one("SELECT COUNT(*) FROM messages WHERE mailbox_id = ? AND fid = ? AND associated = 1",
                            (self.mailbox_id, f.globcnt))[0] or 0
        own = "messages INDEXED BY messages_own" if self.db.dialect == "sqlite" else "messages"  # no statistics
        others = self.db.one(f"SELECT COUNT(*) FROM {own} WHERE mailbox_id = ? AND fid = ? AND kind <> 'imap' "
                             "AND associated = 0", (self.mailbox_id, f.globcnt))[0] or 0
        total = assoc + others      # outside IMAP folders every row is the gateway's or the DAV server's
        backend_total, backend_unread = self.db.one(
            "SELECT total_count, unread_count FROM folders WHERE mailbox_id = ? AND fid = ?",
            (self.mailbox_id, f.globcnt))
        if f.kind == "imap" and backend_total is not None:
            # STATUS is the truth for mail; items the gateway keeps in this folder add to it
            props[P.PidTagContentCount] = backend_total + others
        else:
            props[P.PidTagContentCount] = total - assoc
        props[P.PidTagAssociatedContentCount] = assoc
        if f.kind == "imap" and backend_unread is not None:
            props[P.PidTagContentUnreadCount] = backend_unread
        elif f.kind == "imap":
            props[P.PidTagContentUnreadCount] = self.db.one(
                "SELECT COUNT(*) FROM messages WHERE mailbox_id = ? AND fid = ? AND associated = 0 AND kind = 'imap' "
                "AND (flags IS NULL OR LOWER(flags) NOT LIKE ?)", (self.mailbox_id, f.globcnt, "%seen%"))[0]
        else:
            props[P.PidTagContentUnreadCount] = 0
        children = self.db.one("SELECT COUNT(*) FROM folders WHERE mailbox_id = ? AND parent = ? AND deleted = 0",
                               (self.mailbox_id, f.globcnt))[0]
        props[P.PidTagSubfolders] = children > 0
        props[P.PidTagFolderChildCount] = children
        props.update(self._overlay("f", f.globcnt))
        f.props = props
        return f

    async def create_folder(self, parent_fid: int, name: str, container_class: str = "IPF.Note") -> Folder:
        parent = await self.get_folder(parent_fid)
        for child in await self.child_folders(parent_fid):
            if child.display_name.lower() == name.lower():
                raise FolderExists(f"a folder named {name!r} already exists here")  # ecDuplicateName
        cls = container_class or "IPF.Note"
        if cls.startswith("IPF.Note") or cls == "IPF" and parent.kind in ("imap", "local"):
            kind = "imap" if parent.kind == "imap" or parent.role == "ipm_subtree" else "local"
        elif cls.startswith(("IPF.Appointment", "IPF.Task")) and self.backends.dav is not None:
            kind = "caldav"
        elif cls.startswith("IPF.Contact") and self.backends.dav is not None:
            kind = "carddav"
        else:
            kind = "local"
        globcnt = await self._adapters[kind].create_folder(parent, name, cls)
        return await self.get_folder(self.ident.fid(globcnt))

    def insert_folder(self, parent_globcnt: int, kind: str, ref: str | None, name: str, cls: str | None) -> int:
        globcnt = self.counter.allocate()
        now = now_iso()
        self.db.execute("INSERT INTO folders (mailbox_id, fid, parent, role, kind, ref, display_name, "
                        "container_class, cn, created, modified) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
                        (self.mailbox_id, globcnt, parent_globcnt, kind, ref, name, cls, self.new_cn(), now, now))
        self._bump_hierarchy()
        return globcnt

    async def rename_folder(self, fid: int, new_name: str) -> Folder:
        f = await self.get_folder(fid)
        if f.role:
            raise WellKnownFolder("well-known folders cannot be renamed", "rename")
        await self._adapters[f.kind].rename_folder(f, new_name, None)
        return await self.get_folder(fid)

    async def move_folder(self, fid: int, new_parent_fid: int, new_name: str | None = None) -> Folder:
        f = await self.get_folder(fid)
        parent = await self.get_folder(new_parent_fid)
        if f.role:
            raise WellKnownFolder("well-known folders cannot be moved", "move")
        await self._adapters[f.kind].rename_folder(f, new_name or f.display_name, parent)
        return await self.get_folder(fid)

    async def copy_folder(self, fid: int, dest_fid: int, new_name: str | None = None, *,
                          recursive: bool = True) -> Folder:
        """A copy of a folder (its messages, and its subfolders when ``recursive``) under ``dest_fid``
        (EWS CopyFolder, RopCopyFolder); a name already there raises FolderExists. -> the new folder."""
        src = await self.get_folder(fid)
        new = await self.create_folder(dest_fid, new_name or src.display_name, src.container_class or "IPF.Note")
        mids = [i.mid for i in (await self.contents_view(src.fid)).rows(0, None)]
        if mids:
            await self.move_items(mids, new.fid, copy=True)
        if recursive:
            for child in await self.child_folders(src.fid):
                await self.copy_folder(child.fid, new.fid)
        return await self.get_folder(new.fid)

    def update_folder_row(self, globcnt: int, **fields) -> None:
        if not fields:
            return
        fields["cn"] = self.new_cn()
        fields["modified"] = now_iso()
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE folders SET {cols} WHERE mailbox_id = ? AND fid = ?",
                        (*fields.values(), self.mailbox_id, globcnt))
        self._bump_hierarchy()

    async def delete_folder(self, fid: int) -> None:
        f = await self.get_folder(fid)
        if f.role:
            raise WellKnownFolder("well-known folders cannot be deleted", "delete")
        for child in await self.child_folders(fid):
            await self.delete_folder(child.fid)
        await self._adapters[f.kind].delete_folder(f)
        self._tombstone_folder(f.globcnt)

    async def set_folder_props(self, fid: int, props: dict) -> Folder:
        f = await self.get_folder(fid)
        name = props.get(P.PidTagDisplayName)
        rest = {k: v for k, v in props.items() if k != P.PidTagDisplayName}
        if name is not None and name != f.display_name:
            await self.rename_folder(fid, name)
        if rest:
            self.set_overlay("f", f.globcnt, rest)
            self.update_folder_row(f.globcnt)
        return await self.get_folder(fid)

    # ------------------------------------------------------------ overlay properties
    def _overlay(self, obj_kind: str, globcnt: int) -> dict:
        from .tables.rows import overlays
        return overlays(self, [globcnt], obj_kind).get(globcnt, {})

    def overlay(self, obj_kind: str, globcnt: int) -> dict:
        return self._overlay(obj_kind, globcnt)

    def set_overlay(self, obj_kind: str, globcnt: int, props: dict, remove: Iterable = ()) -> None:
        """Keep properties the backend cannot hold (never dropped)."""
        from .contentcodec import to_tagged
        tagged = to_tagged(props, self.names)
        with self.db.transaction():
            for tag, value in tagged.items():
                self.db.execute("DELETE FROM props WHERE mailbox_id = ? AND obj_kind = ? AND obj_id = ? AND tag = ?",
                                (self.mailbox_id, obj_kind, globcnt, tag))
                self.db.execute("INSERT INTO props (mailbox_id, obj_kind, obj_id, tag, value) VALUES (?, ?, ?, ?, ?)",
                                (self.mailbox_id, obj_kind, globcnt, tag,
                                 encode_value(tag & 0xFFFF, value, wide=True)))
            for key in remove:
                tag = to_tagged({key: None}, self.names)
                for t in tag:
                    self.db.execute("DELETE FROM props WHERE mailbox_id = ? AND obj_kind = ? AND obj_id = ? "
                                    "AND tag = ?", (self.mailbox_id, obj_kind, globcnt, t))
            if obj_kind == "m" and (tagged or remove):
                from .tables.rows import forget_decoded, reindex
                reindex(self, globcnt)      # an overlaid subject or importance sorts and restricts too
                forget_decoded(self, globcnt)

    def move_overlay(self, obj_kind: str, old: int, new: int) -> None:
        self.db.execute("UPDATE props SET obj_id = ? WHERE mailbox_id = ? AND obj_kind = ? AND obj_id = ?",
                        (new, self.mailbox_id, obj_kind, old))

    # ------------------------------------------------------------ message rows
    def message_row(self, globcnt: int) -> dict:
        row = self.db.one("SELECT mid, fid, kind, uidvalidity, uid, href, etag, emailid, modseq, flags, "
                          "associated, cn, pcl, modified FROM messages WHERE mailbox_id = ? AND mid = ?",
                          (self.mailbox_id, globcnt))
        if row is None:
            raise NotFound(f"no item {globcnt:#x}")
        keys = ("mid", "fid", "kind", "uidvalidity", "uid", "href", "etag", "emailid", "modseq", "flags",
                "associated", "cn", "pcl", "modified")
        return dict(zip(keys, row))

    def container_class_of_item(self, mid: int) -> tuple[bool, str | None]:
        """(the item's folder row exists, that folder's container class); NotFound for an unknown item."""
        from .state import itemmap
        row = self.message_row(self.ident.globcnt_of(mid))
        return itemmap.container_class(self.db, self.mailbox_id, row["fid"])

    # ------------------------------------------------------------ what front ends ask of an item's row
    # (front ends never read message rows or overlays themselves: tests/unit/test_layering.py)
    def item_folder(self, mid: int) -> int:
        """The FID of the folder an item is in now (NotFound for an unknown or deleted item)."""
        return self.ident.fid(self.message_row(self.ident.globcnt_of(mid))["fid"])

    def change_key_of(self, mid: int) -> bytes:
        """The item's current PidTagChangeKey (its last change number as an XID), without reading it."""
        return self.ident.change_key(self.message_row(self.ident.globcnt_of(mid))["cn"])

    def item_entryid(self, mid: int) -> bytes:
        """The item's PidTagEntryId (MS-OXCDATA 2.2.4.2: its folder's and its own ids)."""
        g = self.ident.globcnt_of(mid)
        return self.ident.message_entryid(self.message_row(g)["fid"], g)

    def remember(self, mid: int, props: dict) -> None:
        """Keep gateway-private notes on an item (named properties of the gateway's own set, e.g. the
        original of a reply saved as a draft): in the state database only, never on the backend and
        never among the item's properties."""
        self.set_overlay("message", self.ident.globcnt_of(mid), props)

    def remembered(self, mid: int) -> dict:
        """The notes ``remember`` kept on an item ({} when none)."""
        return self.overlay("message", self.ident.globcnt_of(mid))

    def forget(self, mid: int, keys: Iterable) -> None:
        """Drop notes ``remember`` kept on an item."""
        self.set_overlay("message", self.ident.globcnt_of(mid), {}, remove=keys)

    async def remove_folder_props(self, fid: int, keys: Iterable) -> Folder:
        """Remove properties the gateway keeps for a folder (EWS DeleteFolderField); -> the folder now."""
        f = await self.get_folder(fid)
        self.set_overlay("f", f.globcnt, {}, remove=keys)
        return await self.get_folder(fid)

    def insert_message(self, fid_globcnt: int, kind: str, *, uidvalidity=None, uid=None, href=None, etag=None,
                       emailid=None, modseq=None, flags=None, associated=False, summary=None,
                       globcnt: int | None = None, index_props: dict | None = None) -> int:
        """A new row; ``index_props`` (the row's properties, when the caller has them) saves decoding the
        summary again for the table index."""
        from .tables.columns import index_fields
        from .tables.rows import base_props
        keep = globcnt is not None
        globcnt = globcnt if globcnt is not None else self.counter.allocate()
        cn = self.new_cn()
        now = now_iso()
        self.stale_counts(fid_globcnt)
        if index_props is None:
            index_props = base_props(self, kind, summary, flags)
        index = index_fields(index_props)
        index["i_modified"] = datetime.fromisoformat(now).timestamp()
        try:
            with self.db.savepoint():
                self.db.execute(
                    "INSERT INTO messages (mailbox_id, mid, fid, kind, uidvalidity, uid, href, etag, emailid, modseq, "
                    f"flags, associated, cn, pcl, created, modified, summary, {', '.join(index)}) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?{', ?' * len(index)})",
                    (self.mailbox_id, globcnt, fid_globcnt, kind, uidvalidity, uid, href, etag, emailid, modseq,
                     flags, 1 if associated else 0, cn, self._pcl_with(None, cn), now, now, summary,
                     *index.values()))
        except Exception as exc:
            # another worker (a second gateway on the same PostgreSQL, or a sync that did not share our
            # folder lock) recorded this UID or href first
            existing = self._live_mid(fid_globcnt, uidvalidity, uid, href) if is_unique_violation(exc) else None
            if existing is None:
                raise
            if existing == globcnt or not keep:
                return existing  # a new message: the row already there is its identity (or it is ours)
            # a moved or sent message keeps the MID its client holds; the other worker's row for the same
            # UID goes, reported deleted to incremental sync
            with self.db.transaction():
                self.tombstone_message(existing)
                return self.insert_message(fid_globcnt, kind, uidvalidity=uidvalidity, uid=uid, href=href, etag=etag,
                                           emailid=emailid, modseq=modseq, flags=flags, associated=associated,
                                           summary=summary, globcnt=globcnt, index_props=index_props)
        return globcnt

    def _live_mid(self, fid_globcnt: int, uidvalidity, uid, href) -> int | None:
        """The MID of the live row holding this backend identity (the UNIQUE indexes of the schema)."""
        if uid is not None:
            row = self.db.one("SELECT mid FROM messages WHERE mailbox_id = ? AND fid = ? AND uidvalidity = ? "
                              "AND uid = ?", (self.mailbox_id, fid_globcnt, uidvalidity, uid))
            if row is not None:
                return row[0]
        if href is not None:
            row = self.db.one("SELECT mid FROM messages WHERE mailbox_id = ? AND href = ?", (self.mailbox_id, href))
            if row is not None:
                return row[0]
        return None

    def touch_message(self, globcnt: int, **fields) -> int:
        """Record a change: new change number, PCL extended, fields updated."""
        cn = self.new_cn()
        row = self.db.one("SELECT pcl, fid FROM messages WHERE mailbox_id = ? AND mid = ?",
                          (self.mailbox_id, globcnt))
        now = now_iso()
        reindex = "summary" in fields or "flags" in fields
        fields.update(cn=cn, pcl=self._pcl_with(row[0] if row else None, cn), modified=now,
                      i_modified=datetime.fromisoformat(now).timestamp())
        if row:
            self.stale_counts(row[1])
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE messages SET {cols} WHERE mailbox_id = ? AND mid = ?",
                        (*fields.values(), self.mailbox_id, globcnt))
        if reindex and row:
            from .tables.rows import reindex as reindex_row
            reindex_row(self, globcnt)
        return cn

    def stale_counts(self, fid_globcnt: int) -> None:
        """The folder's item counts must be asked for again (the gateway changed something); the change
        sources of this mailbox, in this worker and the others, re-read the folder (state/wakeups.py)."""
        self.db.execute("UPDATE folders SET counted_at = NULL WHERE mailbox_id = ? AND fid = ?",
                        (self.mailbox_id, fid_globcnt))
        wakeups.changed(self.db, self.mailbox_id, fid_globcnt)

    def tombstone_message(self, globcnt: int, *, keep_data: bool = False) -> None:
        """The item left its folder: drop its row, remember the removal for incremental sync."""
        row = self.db.one("SELECT fid, associated FROM messages WHERE mailbox_id = ? AND mid = ?",
                          (self.mailbox_id, globcnt))
        if row is None:
            return
        self.stale_counts(row[0])
        self.db.execute("DELETE FROM messages WHERE mailbox_id = ? AND mid = ?", (self.mailbox_id, globcnt))
        if not row[1]:
            self.db.execute("DELETE FROM tombstones WHERE mailbox_id = ? AND fid = ? AND mid = ?",
                            (self.mailbox_id, row[0], globcnt))
            self.db.execute("INSERT INTO tombstones (mailbox_id, fid, mid, cn) VALUES (?, ?, ?, ?)",
                            (self.mailbox_id, row[0], globcnt, self.new_cn()))
        if keep_data:
            return
        self.db.execute("DELETE FROM props WHERE mailbox_id = ? AND obj_kind = 'm' AND obj_id = ?",
                        (self.mailbox_id, globcnt))
        self.db.execute("DELETE FROM local_content WHERE mailbox_id = ? AND mid = ?", (self.mailbox_id, globcnt))

    def rekey_message(self, old: int, new: int) -> None:
        """Give the row ``old`` the MID ``new`` (a moved item keeps its identity)."""
        with self.db.transaction():
            self.db.execute("UPDATE messages SET mid = ? WHERE mailbox_id = ? AND mid = ?", (new, self.mailbox_id, old))
            self.move_overlay("m", old, new)
            self.db.execute("UPDATE local_content SET mid = ? WHERE mailbox_id = ? AND mid = ?",
                            (new, self.mailbox_id, old))
            self.touch_message(new)

    def id_props(self, row: dict) -> dict:
        ident = self.ident
        g, fg, cn = row["mid"], row["fid"], row["cn"]
        modified = datetime.fromisoformat(row["modified"])
        # PR_INTERNET_ARTICLE_NUMBER: a per-folder increasing number (MS-OXPROPS); for mail the IMAP
        # UID is exactly that, other items take their counter value (increasing in every folder). DavMail
        # keys its views by it, sorts FindItem on it and drops items without it (calendars too).
        if row.get("kind") == "imap" and row.get("uid"):
            extra = {P.PidTagInternetArticleNumber: int(row["uid"])}
        else:
            extra = {P.PidTagInternetArticleNumber: int(g) & 0x7FFFFFFF}
        return {**extra,
            P.PidTagMid: ident.mid(g),
            P.PidTagFolderId: ident.fid(fg),
            P.PidTagParentFolderId: ident.fid(fg),
            P.PidTagEntryId: ident.message_entryid(fg, g),
            P.PidTagRecordKey: ident.message_entryid(fg, g),
            P.PidTagParentEntryId: ident.folder_entryid(fg),
            P.PidTagSourceKey: ident.source_key(g),
            P.PidTagParentSourceKey: ident.source_key(fg),
            P.PidTagChangeKey: ident.change_key(cn),
            P.PidTagChangeNumber: ident.change_number(cn),
            P.PidTagPredecessorChangeList: bytes(row["pcl"]) if row["pcl"] else self._pcl_with(None, cn),
            P.PidTagLastModificationTime: modified,
            P.PidTagAssociated: bool(row["associated"]),
            P.PidTagObjectType: P.MAPI_MESSAGE,
        }

    def adapter_for(self, kind: str):
        return self._adapters["caldav" if kind == "dav" else kind]

    async def _folder_by_globcnt(self, globcnt: int) -> Folder:
        return await self.get_folder(self.ident.fid(globcnt))

    # ------------------------------------------------------------ items
    async def sync_folder(self, fid: int) -> None:
        """Bring the id map of one folder up to date with its backend."""
        f = await self.get_folder(fid)
        await self._adapters[f.kind].sync(f)

    async def list_items(self, fid: int, *, associated: bool = False, sync: bool = True) -> list[Item]:
        """Table rows: summary properties plus ids, in the backend's order."""
        f = await self.get_folder(fid)
        adapter = self._adapters[f.kind]
        if associated:
            return await self._adapters["local"].list_associated(f)
        return await adapter.list(f, sync=sync)

    async def contents_view(self, fid: int, restriction=None, sorts=(), *, associated: bool = False,
                            sync: bool = True):
        """The folder's contents table (tables.ContentsView), brought up to date with the backend first:
        ``restriction`` a protocols.mapi.restrictions tree, ``sorts`` SortOrder keys (property keys:
        tags, or NamedProp for named properties)."""
        from .tables import ContentsView
        f = await self.get_folder(fid)
        if searchfolders.is_search(f) and not associated:
            return await self._search_view(f, restriction, sorts, sync)
        self._index_own_rows(f)
        if sync and not associated:
            await self._adapters[f.kind].sync(f)
        return ContentsView(self, f, restriction, tuple(sorts), associated)

    async def categorized_view(self, fid: int, restriction=None, sorts=(), *, categories: int = 1,
                               expanded: int = 0, sync: bool = True):
        """A contents table grouped by its first ``categories`` sort keys (tables.CategorizedView), the
        first ``expanded`` levels open (MS-OXCTABL 3.2.5.3)."""
        from .tables.categories import CategorizedView
        return CategorizedView(await self.contents_view(fid, restriction, sorts, sync=sync), categories, expanded)

    # ------------------------------------------------------------ folder permissions (permissions.py)
    async def folder_permissions(self, fid: int) -> list:
        """The folder's members (permissions.Member): Default, Anonymous, then users with rights."""
        from . import permissions
        return await permissions.members(self, fid)

    async def change_folder_permissions(self, fid: int, *, set_rights: dict | None = None,
                                        remove: tuple = ()) -> None:
        """Set (identifier -> PidTagMemberRights) and remove members; NotSupported where the backend keeps
        no permissions."""
        from . import permissions
        await permissions.change(self, fid, set_rights=set_rights, remove=remove)

    # ------------------------------------------------------------ search folders
    async def create_search_folder(self, parent_fid: int, name: str, container_class: str = "IPF.Note") -> Folder:
        """A search folder (searchfolders.py), empty until it is given criteria."""
        for child in await self.child_folders(parent_fid):
            if child.display_name.lower() == name.lower():
                raise FolderExists(f"a folder named {name!r} already exists here")
        parent = await self.get_folder(parent_fid)
        globcnt = self.insert_folder(parent.globcnt, "local", searchfolders.PREFIX + "{}", name, container_class)
        return await self.get_folder(self.ident.fid(globcnt))

    async def set_search_criteria(self, fid: int, criteria: "searchfolders.SearchCriteria") -> None:
        f = await self.get_folder(fid)
        if not searchfolders.is_search(f):
            raise InvalidOperation("not a search folder")
        searchfolders.check_scope(criteria, fid)
        for scope_fid in criteria.scope:
            await self.get_folder(scope_fid)                    # NotFound for a folder not in the mailbox
        self.update_folder_row(f.globcnt, ref=searchfolders.encode(self, criteria))

    async def search_criteria(self, fid: int) -> "searchfolders.SearchCriteria | None":
        """The criteria of a search folder (None: never set); InvalidOperation for another folder."""
        f = await self.get_folder(fid)
        if not searchfolders.is_search(f):
            raise InvalidOperation("not a search folder")
        return searchfolders.decode(self, f.ref)

    async def _search_view(self, f: Folder, restriction, sorts, sync: bool):
        from protocols.mapi.restrictions import AndRestriction
        from .tables import ContentsView
        criteria = searchfolders.decode(self, f.ref)
        if criteria is None or criteria.stopped:
            return ContentsView(self, f, restriction, tuple(sorts), scope=(-1,))     # nothing
        folders = await searchfolders.scope_folders(self, criteria)
        for sf in folders:
            self._index_own_rows(sf)
            if sync:
                await self._adapters[sf.kind].sync(sf)
        both = [r for r in (criteria.restriction, restriction) if r is not None]
        where = both[0] if len(both) == 1 else (AndRestriction(tuple(both)) if both else None)
        return ContentsView(self, f, where, tuple(sorts), scope=tuple(sf.globcnt for sf in folders) or (-1,))

    def _index_own_rows(self, f: Folder) -> None:
        """A folder not indexed yet (a database from before the index, or one that gained index columns):
        the rows whose summaries the state database holds (DAV resources, the gateway's own items) get
        their index columns from them; IMAP rows are indexed by the folder's next sync."""
        row = self.db.one("SELECT indexed_at FROM folders WHERE mailbox_id = ? AND fid = ?",
                          (self.mailbox_id, f.globcnt))
        if row is None or row[0] is not None:
            return
        from .tables.rows import reindex
        with self.db.transaction():
            for (g,) in self.db.all("SELECT mid FROM messages WHERE mailbox_id = ? AND fid = ? AND kind <> 'imap'",
                                    (self.mailbox_id, f.globcnt)):
                reindex(self, g)
            if f.kind != "imap":
                self.db.execute("UPDATE folders SET indexed_at = ? WHERE mailbox_id = ? AND fid = ?",
                                (time.time(), self.mailbox_id, f.globcnt))

    async def hierarchy_view(self, fid: int, *, deep: bool = False, restriction=None, sorts=()):
        """The folders under a folder as a table (tables.HierarchyView): children, or all descendants with
        PidTagDepth; ``restriction``/``sorts`` as for contents_view."""
        from .tables.hierarchy import HierarchyView, descendants
        await self._dav_comeback()
        return HierarchyView.of(await descendants(self, fid, deep), restriction, sorts)

    def table_rows(self, mids: list[int]) -> list[Item]:
        """The table rows (summary properties and ids) of some items, in the order given; items no longer
        in a folder's contents (deleted, associated, moved without a new UID yet) are left out."""
        from .tables.rows import read_rows
        return read_rows(self, [self.ident.globcnt_of(m) for m in mids], visible=True)

    async def get_item(self, mid: int) -> Item:
        row = self.message_row(self.ident.globcnt_of(mid))
        f = await self._folder_by_globcnt(row["fid"])
        kind = "local" if row["kind"] == "local" else f.kind
        return await self._adapters[kind].get(f, row)

    async def create_item(self, fid: int, content: MessageContent, *, associated: bool = False) -> Item:
        f = await self.get_folder(fid)
        kind = "local" if associated or f.kind in ("local", "root") else f.kind
        kind = self._adapters[kind].accepts(f, content)
        if associated:
            content = MessageContent({**content.props, P.PidTagAssociated: True}, content.recipients,
                                     content.attachments)
        globcnt = await self._adapters[kind].create(f, content)
        return await self.get_item(self.ident.mid(globcnt))

    async def update_item(self, mid: int, set_props: dict | None = None, remove: Iterable = (), *,
                          change_key: bytes | None = None) -> Item:
        """Set/remove properties; a stale ``change_key`` raises Conflict (EWS ErrorIrresolvableConflict)."""
        row, f, adapter = await self._for_write(mid, change_key)
        await adapter.update(f, row, dict(set_props or {}), list(remove))
        return await self.get_item(mid)

    async def _for_write(self, mid: int, change_key: bytes | None):
        """(row, folder, adapter) of an item about to change; a stale change key raises Conflict."""
        from .errors import Conflict
        row = self.message_row(self.ident.globcnt_of(mid))
        if change_key is not None and change_key != self.ident.change_key(row["cn"]):
            raise Conflict("the item was changed since its change key was read")
        f = await self._folder_by_globcnt(row["fid"])
        return row, f, self._adapters["local" if row["kind"] == "local" else f.kind]

    async def get_mime(self, mid: int) -> bytes:
        """The item as one exportable object: what EWS MimeContent carries (see ``mime_of``)."""
        return await self.mime_of(await self.get_item(mid))

    async def mime_of(self, item: Item) -> bytes:
        """An item as Exchange exports it in EWS MimeContent: appointments and meeting-less
        calendar items as iCalendar (MS-OXCICAL), tasks as iCalendar VTODO, contacts and
        distribution lists as vCard (MS-OXVCARD); mail as the backend holds it (IMAP bytes,
        CRLF), or rebuilt from its properties (MS-OXCMAIL) for mail kept elsewhere.
        ``item`` must come from ``get_item`` (with its content)."""
        from . import conversions as conv
        cls = str(item.props.get(P.PidTagMessageClass) or "")
        dav_class = conv.dav_class_of(cls)
        content = item.content or MessageContent(dict(item.props))
        if dav_class is not None:
            return conv.content_to_export(content, dav_class)
        if item.kind == "imap":
            row = self.message_row(item.globcnt)
            return await self._adapters["imap"]._fetch_raw(await self._folder_by_globcnt(row["fid"]), row)
        return conv.content_to_mime(content)

    async def replace_content(self, mid: int, content: MessageContent, *, change_key: bytes | None = None) -> Item:
        """Replace a whole item (properties, recipients, attachments); the MID stays.

        IMAP: the new MIME is appended and the old copy expunged (Exchange lets a
        client change any message, IMAP only by replacing it). DAV: a PUT with
        If-Match. Gateway-kept items: rewritten in the state database."""
        row, f, adapter = await self._for_write(mid, change_key)
        await adapter.replace(f, row, content)
        return await self.get_item(mid)

    async def set_read(self, mids: Iterable[int], read: bool = True) -> None:
        for mid in mids:
            item_row = self.message_row(self.ident.globcnt_of(mid))
            f = await self._folder_by_globcnt(item_row["fid"])
            if item_row["kind"] == "imap":
                await self._adapters["imap"].set_flags(f, [item_row], ["\\Seen"], "+" if read else "-")
            else:
                cur = (await self.get_item(mid)).props.get(P.PidTagMessageFlags, 0)
                new = cur | P.MSGFLAG_READ if read else cur & ~P.MSGFLAG_READ
                await self.update_item(mid, {P.PidTagMessageFlags: new})

    async def delete_items(self, mids: Iterable[int]) -> None:
        """Hard delete (EWS HardDelete, RopDeleteMessages); soft delete is a move to Deleted Items."""
        groups: dict[tuple[int, str], list[dict]] = {}
        for mid in mids:
            row = self.message_row(self.ident.globcnt_of(mid))
            groups.setdefault((row["fid"], row["kind"]), []).append(row)
        for (fg, kind), rows in groups.items():
            f = await self._folder_by_globcnt(fg)
            await self._adapters["local" if kind == "local" else f.kind].delete(f, rows)
            for row in rows:
                self.tombstone_message(row["mid"])

    async def move_items(self, mids: Iterable[int], dest_fid: int, *, copy: bool = False) -> dict[int, int]:
        """Move (or copy) items; a moved item keeps its MID where the backends allow. Returns {old: new}."""
        dest = await self.get_folder(dest_fid)
        result: dict[int, int] = {}
        groups: dict[int, list[dict]] = {}
        for mid in mids:
            row = self.message_row(self.ident.globcnt_of(mid))
            groups.setdefault(row["fid"], []).append(row)
        for fg, rows in groups.items():
            src = await self._folder_by_globcnt(fg)
            same_backend = [r for r in rows if r["kind"] == "imap" and src.kind == "imap" and dest.kind == "imap"]
            if same_backend:
                moved = await self._adapters["imap"].move(src, dest, same_backend, copy=copy)
                result.update({self.ident.mid(k): self.ident.mid(v) for k, v in moved.items()})
            for row in rows:
                if row in same_backend:
                    continue
                item = await self.get_item(self.ident.mid(row["mid"]))
                content = item.content or MessageContent(dict(item.props))
                new = await self.create_item(dest_fid, content, associated=bool(row["associated"]))
                if copy:
                    result[item.mid] = new.mid
                    continue
                await self.delete_items([item.mid])
                self.rekey_message(new.globcnt, row["mid"])
                result[item.mid] = item.mid
        return result

    async def submit(self, mid: int, *, save_in: int | None = None) -> Item | None:
        """Send a message (Outbox/Drafts) over SMTP; on success it moves to Sent Items (or ``save_in``).

        Returns the sent copy, or None when PidTagDeleteAfterSubmit deleted it. When the SMTP server
        cannot be reached or refuses for now (4xx), the message waits in the Outbox and is retried
        (outbox.py): the returned item is then the one in the Outbox. A permanent refusal raises
        SubmitFailed and leaves the message where it was."""
        from .submit import submit_message
        return await submit_message(self, mid, save_in=save_in)

    def changes_since(self, fid: int, cn: int = 0) -> FolderChanges:
        """Items created, changed or deleted in a folder after change number ``cn``."""
        g = self.ident.globcnt_of(fid)
        rows = self.db.all("SELECT mid, cn, 0 FROM messages WHERE mailbox_id = ? AND fid = ? AND cn > ? "
                           "AND associated = 0 UNION ALL SELECT mid, cn, 1 FROM tombstones WHERE mailbox_id = ? "
                           "AND fid = ? AND cn > ? ORDER BY 2", (self.mailbox_id, g, cn, self.mailbox_id, g, cn))
        out = FolderChanges(fid, last_cn=cn)
        for mid, mcn, deleted in rows:
            (out.deleted if deleted else out.changed).append(self.ident.mid(mid))
            out.ordered.append((mcn, self.ident.mid(mid), bool(deleted)))
            out.last_cn = max(out.last_cn, mcn)
        return out

    def moved_from(self, mid: int) -> int | None:
        """The folder an item most recently left (it keeps its MID on a move), if any."""
        g = self.ident.globcnt_of(mid)
        row = self.db.one("SELECT t.fid FROM tombstones t JOIN messages m ON m.mailbox_id = t.mailbox_id "
                          "AND m.mid = t.mid WHERE t.mailbox_id = ? AND t.mid = ? AND t.fid <> m.fid "
                          "ORDER BY t.cn DESC LIMIT 1", (self.mailbox_id, g))
        return self.ident.fid(row[0]) if row else None

    def hierarchy_changes_since(self, cn: int = 0) -> tuple[list[int], list[int], int]:
        """(changed FIDs, deleted FIDs, last cn) for SyncFolderHierarchy / ICS hierarchy sync."""
        rows = self.db.all("SELECT fid, cn, deleted FROM folders WHERE mailbox_id = ? AND cn > ? ORDER BY cn",
                           (self.mailbox_id, cn))
        changed, deleted, last = [], [], cn
        for g, fcn, gone in rows:
            (deleted if gone else changed).append(self.ident.fid(g))
            last = max(last, fcn)
        return changed, deleted, last

    def item_locations(self) -> dict[int, int]:
        """MID -> FID of every normal item, as the id map holds them (the change feed tells moves by it)."""
        from .state import itemmap
        return {self.ident.mid(m): self.ident.fid(f) for m, f in itemmap.item_locations(self.db, self.mailbox_id)}

    def unindexed_folders(self) -> set[int]:
        """FIDs whose contents were never listed into the index: their first sync reports every item
        there as changed, which a change feed must not take for new mail."""
        return {self.ident.fid(g) for (g,) in self.db.all(
            "SELECT fid FROM folders WHERE mailbox_id = ? AND indexed_at IS NULL", (self.mailbox_id,))}

    def item_counts(self, fid: int | None = None) -> dict[int, tuple[int, int]]:
        """FID -> (items, unread mail) as the id map holds them (fresh after the folder's sync)."""
        from .state import itemmap
        g = self.ident.globcnt_of(fid) if fid is not None else None
        return {self.ident.fid(f): (total, unread)
                for f, total, unread in itemmap.item_counts(self.db, self.mailbox_id, g)}

    # ------------------------------------------------------------ automatic replies (oof.py)
    def oof_settings(self, owner: str | None = None):
        """The stored automatic-reply settings (gateway/store/oof.py OofSettings) of ``owner``
        (default: this mailbox's owner)."""
        from . import oof
        return oof.load(self.db, owner or self.email)

    def save_oof_settings(self, owner: str | None, settings) -> None:
        """Store them (ValueError when they are not valid)."""
        from . import oof
        oof.save(self.db, owner or self.email, settings)

    async def watch(self) -> AsyncIterator[FolderChanges]:
        """The change source: yields per-folder changes as backends report them."""
        from .changes import watch_mailbox
        async for change in watch_mailbox(self):
            yield change

    # ------------------------------------------------------------ entry ids
    def resolve_entryid(self, data: bytes) -> tuple[str, int]:
        """EntryID -> ("folder", FID) or ("message", MID)."""
        kind, fg, mg = self.ident.parse_entryid(data)
        return (kind, self.ident.fid(fg)) if kind == "folder" else (kind, self.ident.mid(mg))


def provision(db: StateDB, owner: str, display_name: str | None = None) -> MailboxIdentity:
    """The mailbox row and its gateway-kept folders; idempotent."""
    owner = owner.lower()
    with db.transaction():
        row = db.one("SELECT id, mailbox_guid, replica_guid FROM mailboxes WHERE owner = ?", (owner,))
        if row is None:
            db.execute("INSERT INTO mailboxes (owner, display_name, mailbox_guid, replica_guid, next_globcnt, "
                       "created) VALUES (?, ?, ?, ?, ?, ?)",
                       (owner, display_name, str(uuid.uuid4()), str(uuid.uuid4()), FIRST_FREE_GLOBCNT, now_iso()))
            row = db.one("SELECT id, mailbox_guid, replica_guid FROM mailboxes WHERE owner = ?", (owner,))
        ident = MailboxIdentity(int(row[0]), owner, uuid.UUID(row[1]), uuid.UUID(row[2]))
        counter = Counter(db, ident.mailbox_id)
        now = now_iso()
        for wk in layout.WELL_KNOWN:
            if wk.kind not in ("root", "local"):
                continue
            exists = db.one("SELECT 1 FROM folders WHERE mailbox_id = ? AND fid = ?", (ident.mailbox_id, wk.globcnt))
            if exists:
                continue
            parent = layout.BY_ROLE[wk.parent].globcnt if wk.parent else None
            db.execute("INSERT INTO folders (mailbox_id, fid, parent, role, kind, ref, display_name, container_class, "
                       "cn, created, modified) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
                       (ident.mailbox_id, wk.globcnt, parent, wk.role, wk.kind, wk.display_name, wk.container_class,
                        counter.allocate(), now, now))
    return ident
