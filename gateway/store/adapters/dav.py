"""Calendar, Tasks and Contacts folders on CalDAV/CardDAV.

Identity: a row holds the resource href; change numbers advance when the ETag
changes, found through sync-collection (RFC 6578) with a full listing as the
fallback. Summary properties for tables are cached per row, keyed by ETag, so
a contents table needs no download when nothing changed.
"""
from __future__ import annotations

import posixpath
import uuid
from typing import TYPE_CHECKING

from gateway.backends.base import BackendError, DavResource
from protocols.mapi.props import core as P
from protocols.mapi.props.contact import PidNameExgateVCardUid
from protocols.mapi.values import decode_bag, encode_bag

from .. import conversions as conv
from ..contentcodec import from_tagged, to_tagged
from ..errors import BackendUnavailable, Conflict, InvalidOperation, NotFound
from ..model import MessageContent
from . import edited
from ..folderlock import folder_lock
from ..objects import Folder, Item

if TYPE_CHECKING:
    from ..mailbox import Mailbox

BIG = {P.PidTagBody, P.PidTagHtml, P.PidTagRtfCompressed, P.PidTagBodyHtml}
CLASS_PREFIX = {"IPF.Appointment": ("IPM.Appointment",), "IPF.Task": ("IPM.Task",),
                "IPF.Contact": ("IPM.Contact", "IPM.DistList")}


def _parent_href(href: str) -> str:
    return posixpath.dirname(href.rstrip("/")) + "/"


class DavAdapter:
    def __init__(self, mbx: "Mailbox"):
        self.mbx = mbx

    @property
    def dav(self):
        if self.mbx.backends.dav is None:
            raise BackendUnavailable("no CalDAV/CardDAV server is configured")
        return self.mbx.backends.dav

    def accepts(self, folder: Folder, content: MessageContent) -> str:
        """Items of the folder's own kind go to the DAV server; others are kept by the gateway."""
        cls = str(content.props.get(P.PidTagMessageClass) or "")
        fcls = folder.container_class or ""
        for prefix, classes in CLASS_PREFIX.items():
            if fcls.startswith(prefix):
                if not cls:
                    content.props[P.PidTagMessageClass] = classes[0]
                    return folder.kind
                if cls.startswith(classes):
                    return folder.kind
        return "local"

    # ------------------------------------------------------------ provisioning
    async def home(self, kind: str) -> str:
        attr = "calendar_home" if kind == "caldav" else "addressbook_home"
        home = getattr(self.dav, attr, None)
        if home:
            return home
        cals, books = await self.dav.discover()
        for col in (cals if kind == "caldav" else books) or (cals + books):
            return _parent_href(col.href)
        raise BackendUnavailable(f"cannot find the {kind} home collection")

    async def create_missing(self, wanted, calendars, books) -> bool:
        for role, kind, comps in wanted:
            home = await self.home(kind)
            href = f"{home}{role}/"
            name = {"calendar": "Calendar", "tasks": "Tasks", "contacts": "Contacts"}[role]
            try:
                if kind == "caldav":
                    await self.dav.make_calendar(href, name, comps)
                else:
                    await self.dav.make_addressbook(href, name)
            except BackendError as exc:
                raise BackendUnavailable(f"could not create the {name} collection: {exc}") from exc
        return bool(wanted)

    # ------------------------------------------------------------ sync
    def _rows(self, folder: Folder) -> dict[str, tuple]:
        return {r[1]: r for r in self.mbx.db.all(
            "SELECT mid, href, etag FROM messages WHERE mailbox_id = ? AND fid = ? AND kind = 'dav'",
            (self.mbx.mailbox_id, folder.globcnt))}

    async def sync(self, folder: Folder) -> None:
        """Under the folder's lock: two syncs of one folder would each record a new href under its own MID."""
        async with folder_lock(self.mbx, folder.globcnt):
            await self._sync(folder)

    async def _sync(self, folder: Folder) -> None:
        mbx, db = self.mbx, self.mbx.db
        token = db.one("SELECT sync_token FROM folders WHERE mailbox_id = ? AND fid = ?",
                       (mbx.mailbox_id, folder.globcnt))[0]
        try:
            try:
                res = await self.dav.sync_collection(folder.ref, token)
            except BackendError as exc:
                if exc.kind != "conflict" or token is None:
                    raise
                token = None  # the server forgot our token: start over
                res = await self.dav.sync_collection(folder.ref, None)
        except BackendError as exc:
            if exc.kind == "notfound":
                raise NotFound(f"collection {folder.ref} is gone") from exc
            raise BackendUnavailable(str(exc)) from exc
        rows = self._rows(folder)
        todo = [r for r in res.changed if r.href not in rows or rows[r.href][2] != r.etag]
        fetched = await self.dav.multiget(folder.ref, [r.href for r in todo]) if todo else []
        with db.transaction():
            for res_item in fetched:
                self._record(folder, res_item, rows.get(res_item.href))
            gone = set(res.deleted)
            if token is None:  # initial sync: anything not listed is gone
                gone |= set(rows) - {r.href for r in res.changed}
            for href in gone:
                if href in rows:
                    mbx.tombstone_message(rows[href][0])
            db.execute("UPDATE folders SET sync_token = ? WHERE mailbox_id = ? AND fid = ?",
                       (res.sync_token, mbx.mailbox_id, folder.globcnt))

    def _summary_blob(self, content: MessageContent) -> bytes:
        summary = {k: v for k, v in content.props.items() if k not in BIG}
        summary[P.PidTagHasAttachments] = bool(content.attachments)
        return encode_bag(to_tagged(summary, self.mbx.names))

    def _record(self, folder: Folder, res: DavResource, row) -> int:
        try:
            content = conv.dav_to_content(res.data or b"", folder.container_class or "IPF.Appointment", owner=self.mbx.email)
        except Exception as exc:  # a resource we cannot read still shows up, as an error item
            content = MessageContent({P.PidTagMessageClass: "IPM.Note", P.PidTagSubject: f"(unreadable: {exc})"})
        blob = self._summary_blob(content)
        if row is None:
            return self.mbx.insert_message(folder.globcnt, "dav", href=res.href, etag=res.etag, summary=blob)
        self._server_changed(row[0], row[2], res.etag)
        self.mbx.touch_message(row[0], etag=res.etag, summary=blob)
        return row[0]

    def _server_changed(self, globcnt: int, known_etag: str | None, etag: str | None) -> None:
        """Another client rewrote the resource: what the gateway kept beside it (properties iCalendar or
        vCard could not carry) described the version it wrote, so it goes; the server's copy is the
        truth. Without an ETag from our own PUT there is no telling whose change it is: keep it."""
        if known_etag and etag and etag != known_etag:
            stale = self.mbx.overlay("m", globcnt)
            if stale:
                self.mbx.set_overlay("m", globcnt, {}, remove=list(stale))

    # ------------------------------------------------------------ reading
    async def list(self, folder: Folder, *, sync: bool = True) -> list[Item]:
        if sync:
            await self.sync(folder)
        mbx = self.mbx
        keys = ("mid", "fid", "kind", "uidvalidity", "uid", "href", "etag", "emailid", "modseq", "flags",
                "associated", "cn", "pcl", "modified", "summary")
        items = []
        local_rows = []
        for r in mbx.db.all("SELECT mid, fid, kind, uidvalidity, uid, href, etag, emailid, modseq, flags, "
                            "associated, cn, pcl, modified, summary FROM messages WHERE mailbox_id = ? AND fid = ? "
                            "AND associated = 0 ORDER BY mid", (mbx.mailbox_id, folder.globcnt)):
            row = dict(zip(keys, r))
            if row["kind"] != "dav":
                local_rows.append(row)
                continue
            props = from_tagged(decode_bag(bytes(row["summary"])), mbx.names) if row["summary"] else {}
            props.update(mbx.overlay("m", row["mid"]))
            props.update(mbx.id_props(row))
            items.append(Item(mbx.ident.mid(row["mid"]), row["mid"], folder.fid, "dav", False, props))
        items += await mbx.adapter_for("local").list_rows(folder, local_rows)
        return items

    async def get(self, folder: Folder, row: dict) -> Item:
        try:
            res = await self.dav.get(row["href"])
        except BackendError as exc:
            if exc.kind == "notfound":
                raise NotFound(f"{row['href']} is gone") from exc
            raise BackendUnavailable(str(exc)) from exc
        content = conv.dav_to_content(res.data or b"", folder.container_class or "IPF.Appointment", owner=self.mbx.email)
        if res.etag and res.etag != row["etag"]:
            self._server_changed(row["mid"], row["etag"], res.etag)
            self.mbx.touch_message(row["mid"], etag=res.etag, summary=self._summary_blob(content))
            row = self.mbx.message_row(row["mid"])
        content.props.update(self.mbx.overlay("m", row["mid"]))
        content.props[P.PidTagHasAttachments] = bool(content.attachments)
        content.props.update(self.mbx.id_props(row))
        return Item(self.mbx.ident.mid(row["mid"]), row["mid"], folder.fid, "dav", False, content.props, content)

    # ------------------------------------------------------------ writing
    async def create(self, folder: Folder, content: MessageContent) -> int:
        name = uuid.uuid4()
        if (folder.container_class or "").startswith("IPF.Contact") and not content.props.get(PidNameExgateVCardUid):
            # CardDAV servers (Radicale) refuse cards without a UID; the resource name doubles as it
            content = MessageContent({**content.props, PidNameExgateVCardUid: str(name)}, content.recipients,
                                     content.attachments)
        data, ctype, ext = conv.content_to_dav(content, folder.container_class or "IPF.Appointment")
        href = f"{folder.ref}{name}{ext}"
        kept = conv.dav_to_content(data, folder.container_class or "IPF.Appointment", owner=self.mbx.email)
        async with folder_lock(self.mbx, folder.globcnt):     # the row before a sync can see the resource
            try:
                etag = await self.dav.put(href, data, ctype, create_only=True)
            except BackendError as exc:
                raise BackendUnavailable(f"the DAV server refused the new item: {exc}") from exc
            g = self.mbx.insert_message(folder.globcnt, "dav", href=href, etag=etag,
                                        summary=self._summary_blob(kept))
        lost = conv.lost_props(content.props, kept.props)
        if lost:
            self.mbx.set_overlay("m", g, lost)
        return g

    async def update(self, folder: Folder, row: dict, set_props: dict, remove: list) -> None:
        await self.replace(folder, row, edited((await self.get(folder, row)).content, set_props, remove))

    async def replace(self, folder: Folder, row: dict, content: MessageContent) -> None:
        row = self.mbx.message_row(row["mid"])
        content = MessageContent({k: v for k, v in content.props.items() if k not in conv.DERIVED},
                                 content.recipients, content.attachments)
        data, ctype, _ = conv.content_to_dav(content, folder.container_class or "IPF.Appointment")
        try:
            etag = await self.dav.put(row["href"], data, ctype, etag=row["etag"])
        except BackendError as exc:
            if exc.kind == "conflict":
                raise Conflict("the item changed on the server meanwhile") from exc
            raise BackendUnavailable(str(exc)) from exc
        kept = conv.dav_to_content(data, folder.container_class or "IPF.Appointment", owner=self.mbx.email)
        self.mbx.touch_message(row["mid"], etag=etag, summary=self._summary_blob(kept))
        overlay = self.mbx.overlay("m", row["mid"])
        self.mbx.set_overlay("m", row["mid"], {}, remove=list(overlay))
        lost = conv.lost_props(content.props, kept.props)
        if lost:
            self.mbx.set_overlay("m", row["mid"], lost)

    async def delete(self, folder: Folder, rows: list[dict]) -> None:
        for r in rows:
            if r["kind"] != "dav":
                continue
            try:
                await self.dav.delete(r["href"])
            except BackendError as exc:
                if exc.kind != "notfound":
                    raise BackendUnavailable(str(exc)) from exc

    # ------------------------------------------------------------ folders
    async def create_folder(self, parent: Folder, name: str, cls: str) -> int:
        kind = "carddav" if cls.startswith("IPF.Contact") else "caldav"
        home = await self.home(kind)
        href = f"{home}{uuid.uuid4()}/"
        if kind == "caldav":
            comps = ("VTODO",) if cls.startswith("IPF.Task") else ("VEVENT",)
            await self.dav.make_calendar(href, name, comps)
        else:
            await self.dav.make_addressbook(href, name)
        return self.mbx.insert_folder(parent.globcnt, kind, href, name, cls)

    async def rename_folder(self, folder: Folder, new_name: str, new_parent: Folder | None) -> None:
        # DAV collections keep their href; the name and place in the tree are the gateway's.
        fields = {"display_name": new_name}
        if new_parent is not None:
            if not (new_parent.container_class or "").startswith((folder.container_class or "IPF").split(".")[0]):
                raise InvalidOperation("a calendar or address book can only move within its own kind")
            fields["parent"] = new_parent.globcnt
        self.mbx.update_folder_row(folder.globcnt, **fields)

    async def delete_folder(self, folder: Folder) -> None:
        try:
            await self.dav.delete(folder.ref)
        except BackendError as exc:
            if exc.kind != "notfound":
                raise BackendUnavailable(str(exc)) from exc
