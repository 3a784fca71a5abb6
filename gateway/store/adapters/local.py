"""Items and folders kept only by the gateway: Notes, Journal, the system
folders, associated (FAI) messages such as views and IPM.Configuration.*, and
items of another kind dropped into a backend folder (an appointment in
Deleted Items)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from protocols.mapi.props import core as P
from protocols.mapi.values import decode_bag, encode_bag

from ..contentcodec import decode_content, encode_content, from_tagged, to_tagged
from ..model import MessageContent
from . import edited
from ..objects import Folder, Item

if TYPE_CHECKING:
    from ..mailbox import Mailbox

BIG = {P.PidTagBody, P.PidTagHtml, P.PidTagRtfCompressed}
ROW_KEYS = ("mid", "fid", "kind", "uidvalidity", "uid", "href", "etag", "emailid", "modseq", "flags",
            "associated", "cn", "pcl", "modified", "summary")


class LocalAdapter:
    def __init__(self, mbx: "Mailbox"):
        self.mbx = mbx

    def accepts(self, folder: Folder, content: MessageContent) -> str:
        return "local"

    async def sync(self, folder: Folder) -> None:
        return None

    def _select(self, folder: Folder, associated: bool) -> list[dict]:
        return [dict(zip(ROW_KEYS, r)) for r in self.mbx.db.all(
            "SELECT mid, fid, kind, uidvalidity, uid, href, etag, emailid, modseq, flags, associated, cn, pcl, "
            "modified, summary FROM messages WHERE mailbox_id = ? AND fid = ? AND kind = 'local' AND associated = ? "
            "ORDER BY mid", (self.mbx.mailbox_id, folder.globcnt, 1 if associated else 0))]

    async def list(self, folder: Folder, *, sync: bool = True) -> list[Item]:
        return await self.list_rows(folder, self._select(folder, False))

    async def list_associated(self, folder: Folder) -> list[Item]:
        return await self.list_rows(folder, self._select(folder, True))

    async def list_rows(self, folder: Folder, rows: list[dict]) -> list[Item]:
        mbx = self.mbx
        out = []
        for row in rows:
            summary = row.get("summary")
            if summary is None:
                summary = mbx.db.one("SELECT summary FROM messages WHERE mailbox_id = ? AND mid = ?",
                                     (mbx.mailbox_id, row["mid"]))[0]
            props = from_tagged(decode_bag(bytes(summary)), mbx.names) if summary else {}
            props.update(mbx.id_props(row))
            out.append(Item(mbx.ident.mid(row["mid"]), row["mid"], folder.fid, "local", bool(row["associated"]),
                            props))
        return out

    async def get(self, folder: Folder, row: dict) -> Item:
        mbx = self.mbx
        blob = mbx.db.one("SELECT content FROM local_content WHERE mailbox_id = ? AND mid = ?",
                          (mbx.mailbox_id, row["mid"]))
        content = decode_content(bytes(blob[0]), mbx.names) if blob else MessageContent()
        content.props[P.PidTagHasAttachments] = bool(content.attachments)
        content.props.update(mbx.id_props(row))
        return Item(mbx.ident.mid(row["mid"]), row["mid"], folder.fid, "local", bool(row["associated"]),
                    content.props, content)

    def _summary(self, content: MessageContent) -> bytes:
        summary = {k: v for k, v in content.props.items() if k not in BIG}
        return encode_bag(to_tagged(summary, self.mbx.names))

    def _strip(self, content: MessageContent) -> MessageContent:
        from ..conversions import DERIVED
        props = {k: v for k, v in content.props.items() if k not in DERIVED or k == P.PidTagMessageFlags}
        return MessageContent(props, content.recipients, content.attachments)

    async def create(self, folder: Folder, content: MessageContent) -> int:
        mbx = self.mbx
        associated = bool(content.props.get(P.PidTagAssociated))
        content = self._strip(content)
        with mbx.db.transaction():
            g = mbx.insert_message(folder.globcnt, "local", associated=associated, summary=self._summary(content))
            mbx.db.execute("INSERT INTO local_content (mailbox_id, mid, content) VALUES (?, ?, ?)",
                           (mbx.mailbox_id, g, encode_content(content, mbx.names)))
        return g

    async def update(self, folder: Folder, row: dict, set_props: dict, remove: list) -> None:
        await self.replace(folder, row, edited((await self.get(folder, row)).content, set_props, remove))

    async def replace(self, folder: Folder, row: dict, content: MessageContent) -> None:
        mbx = self.mbx
        content = self._strip(content)
        with mbx.db.transaction():
            mbx.db.execute("UPDATE local_content SET content = ? WHERE mailbox_id = ? AND mid = ?",
                           (encode_content(content, mbx.names), mbx.mailbox_id, row["mid"]))
            mbx.touch_message(row["mid"], summary=self._summary(content))

    async def delete(self, folder: Folder, rows: list[dict]) -> None:
        return None  # the rows and content go with the tombstone

    async def create_folder(self, parent: Folder, name: str, cls: str) -> int:
        return self.mbx.insert_folder(parent.globcnt, "local", None, name, cls)

    async def rename_folder(self, folder: Folder, new_name: str, new_parent: Folder | None) -> None:
        fields = {"display_name": new_name}
        if new_parent is not None:
            fields["parent"] = new_parent.globcnt
        self.mbx.update_folder_row(folder.globcnt, **fields)

    async def delete_folder(self, folder: Folder) -> None:
        return None
