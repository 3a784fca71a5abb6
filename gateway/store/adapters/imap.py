"""Mail folders on IMAP.

Identity: a message row holds (folder, UIDVALIDITY, UID) and, when the server
offers OBJECTID (RFC 8474), its EMAILID, which lets a message moved by another
client keep its MID. Change numbers advance when FLAGS or MODSEQ change.
Bodies are immutable on IMAP, so property changes other than flags are kept as
overlay properties in the state database; a draft is rewritten (APPEND the new
MIME, expunge the old one) under the same MID.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from gateway.backends.base import BackendError, ImapMessageSummary
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PidNameKeywords
from protocols.mapi.values import encode_bag

from .. import conversions as conv
from ..errors import BackendUnavailable, InvalidOperation, NotFound
from ..model import MessageContent
from . import edited
from ..folderlock import folder_lock
from ..objects import Folder, Item
from ..state.db import is_unique_violation
from ..convert.mail import apply_flags
from ..contentcodec import to_tagged
from ..summary import flag_props, summary_props

if TYPE_CHECKING:
    from ..mailbox import Mailbox

FLAG_KEYS = {P.PidTagMessageFlags, P.PidTagFlagStatus, P.PidTagFollowupIcon, P.PidTagLastVerbExecuted,
             PidNameKeywords}
OFF_LOOP_BYTES = 256 * 1024   # messages bigger than this are converted in a worker thread
BUILD_CHUNK = 100     # summaries fetched and parsed per step of a folder's first indexing (~20 ms of the loop)
MAIL_CLASSES = ("IPM.Note", "REPORT.", "IPM.Schedule.Meeting", "IPM.Post", "IPM.Outlook.Recall", "IPM.Sharing")


def norm_flags(flags) -> str:
    """Flags as stored: the server's spelling, sorted, \\Recent dropped (it is per-session)."""
    return " ".join(sorted({f for f in flags if f.lower() != "\\recent"}))



def flags_for_props(props: dict, current: set[str]) -> tuple[set[str], set[str]]:
    """(flags to add, flags to remove) so that IMAP holds what ``props`` say; only the
    properties present in ``props`` are considered."""
    from ..convert.mail import IGNORED_KEYWORDS, apply_flags, props_to_flags
    merged = apply_flags({}, current)
    merged.update(props)
    desired = props_to_flags(merged)
    managed = {"\\seen", "\\flagged", "\\answered", "$forwarded"}
    if P.PidTagMessageFlags in props:
        managed.add("\\draft")
    have = {f.lower(): f for f in current}

    def is_managed(flag: str) -> bool:
        low = flag.lower()
        if low in managed:
            return True
        return PidNameKeywords in props and not low.startswith("\\") and low not in IGNORED_KEYWORDS
    add = {f for f in desired if f.lower() not in have and is_managed(f)}
    want = {f.lower() for f in desired}
    remove = {orig for low, orig in have.items() if is_managed(orig) and low not in want}
    return add, remove


class ImapAdapter:
    def __init__(self, mbx: "Mailbox"):
        self.mbx = mbx
        self._delimiter: str | None = None

    @property
    def imap(self):
        from .unavailable import Reachable
        return Reachable(self.mbx.backends.imap)   # a server that is down is BackendUnavailable, never NotFound

    async def delimiter(self) -> str:
        if self._delimiter is None:
            folders = await self.imap.list_folders()
            self._delimiter = next((f.delimiter for f in folders if f.delimiter), "/")
        return self._delimiter

    def accepts(self, folder: Folder, content: MessageContent) -> str:
        """Non-mail items (a deleted appointment in Deleted Items) live in the state database."""
        cls = str(content.props.get(P.PidTagMessageClass) or "IPM.Note")
        return "imap" if cls.startswith(MAIL_CLASSES) else "local"

    # ------------------------------------------------------------ sync
    async def sync(self, folder: Folder) -> None:
        """Bring the folder's rows and their table index up to date with IMAP. A folder indexed before
        costs only its changes (QRESYNC/CONDSTORE, else one FLAGS listing); the first time, or after
        UIDVALIDITY changed, every message's summary is fetched, in chunks.
        Under the folder's lock: a write of this gateway is either all seen or not yet begun."""
        async with folder_lock(self.mbx, folder.globcnt):
            frow = self.mbx.db.one("SELECT uidvalidity, highestmodseq, indexed_at FROM folders WHERE mailbox_id = ? "
                                   "AND fid = ?", (self.mbx.mailbox_id, folder.globcnt))
            if frow is None or frow[0] is None or frow[2] is None:
                return await self._build(folder)
            return await self._changes(folder, int(frow[0]), frow[1])

    async def _status(self, folder: Folder):
        try:
            return await self.imap.status(folder.ref)
        except BackendError as exc:
            if exc.kind == "notfound":
                raise NotFound(f"IMAP folder {folder.ref!r} is gone") from exc
            raise BackendUnavailable(str(exc)) from exc

    async def _build(self, folder: Folder) -> None:
        """Index the whole folder: UIDs and flags first, then the summaries in chunks (the event loop
        parses one chunk at a time), matched to the rows already known by UID or EMAILID."""
        mbx, db = self.mbx, self.mbx.db
        st = await self._status(folder)
        uids = await self.imap.uids(folder.ref) if st.exists else []
        rows = db.all("SELECT mid, uidvalidity, uid, emailid FROM messages WHERE mailbox_id = ? AND fid = ? "
                      "AND kind = 'imap'", (mbx.mailbox_id, folder.globcnt))
        known = {r[2]: r[0] for r in rows if r[1] == st.uidvalidity and r[2] is not None}
        stale = [r for r in rows if r[1] != st.uidvalidity or r[2] is None]  # UIDs that mean nothing now
        stale_by_emailid = {r[3]: r[0] for r in stale if r[3]}
        seen: set[int] = set()
        for start in range(0, len(uids), BUILD_CHUNK):
            chunk = await self.imap.fetch_summaries(folder.ref, uids[start:start + BUILD_CHUNK], envelope=True,
                                                    bodystructure=True)
            with db.transaction():
                for s in chunk:
                    seen.add(self._record(folder, s, st.uidvalidity, known.get(s.uid), stale_by_emailid))
            await asyncio.sleep(0)
        with db.transaction():
            for r in rows:
                if r[0] not in seen:
                    mbx.tombstone_message(r[0])
            self._folder_state(folder, st, indexed=True)

    async def _changes(self, folder: Folder, uidvalidity: int, modseq) -> None:
        mbx, db = self.mbx, self.mbx.db
        imap = self.mbx.backends.imap
        qresync = modseq is not None and "QRESYNC" in getattr(imap, "enabled", ())
        known_uids = known_flags = None
        if not qresync:
            # rows without a summary (a message appended by an older version) come back as new
            rows = db.all("SELECT uid, flags FROM messages WHERE mailbox_id = ? AND fid = ? AND kind = 'imap' "
                          "AND uidvalidity = ? AND uid IS NOT NULL AND summary IS NOT NULL",
                          (mbx.mailbox_id, folder.globcnt, uidvalidity))
            known_uids = [r[0] for r in rows]
            known_flags = {r[0]: frozenset((r[1] or "").split()) for r in rows}
        try:
            ch = await self.imap.changes_since(folder.ref, uidvalidity, modseq, known_uids, known_flags=known_flags)
        except BackendError as exc:
            if exc.kind == "notfound":
                raise NotFound(f"IMAP folder {folder.ref!r} is gone") from exc
            raise BackendUnavailable(str(exc)) from exc
        if ch.full_resync:
            db.execute("UPDATE folders SET indexed_at = NULL WHERE mailbox_id = ? AND fid = ?",
                       (mbx.mailbox_id, folder.globcnt))
            return await self._build(folder)
        with db.transaction():
            for s in ch.changed:
                row = db.one("SELECT mid, flags, modseq, summary IS NULL FROM messages WHERE mailbox_id = ? "
                             "AND fid = ? AND uidvalidity = ? AND uid = ?",
                             (mbx.mailbox_id, folder.globcnt, uidvalidity, s.uid))
                if row is None or (row[3] and s.envelope is not None):
                    self._record(folder, s, uidvalidity, row[0] if row else None, {})
                elif row[1] != norm_flags(s.flags) or (s.modseq is not None and row[2] != s.modseq):
                    mbx.touch_message(row[0], flags=norm_flags(s.flags), modseq=s.modseq)
            for uid in ch.vanished:
                row = db.one("SELECT mid FROM messages WHERE mailbox_id = ? AND fid = ? AND uidvalidity = ? "
                             "AND uid = ?", (mbx.mailbox_id, folder.globcnt, uidvalidity, uid))
                if row is not None:
                    mbx.tombstone_message(row[0])
            self._folder_state(folder, ch.status, indexed=True)

    def _record(self, folder: Folder, s: ImapMessageSummary, uidvalidity: int, mid: int | None,
                stale_by_emailid: dict) -> int:
        """One message's row and summary: the known row (by UID), a row of the old UIDVALIDITY with the
        same EMAILID, a message another client moved here (EMAILID in another folder), or a new row."""
        mbx = self.mbx
        fl = norm_flags(s.flags)
        props = summary_props(s)
        blob = encode_bag(to_tagged(props, mbx.names))
        if mid is None and s.emailid and s.emailid in stale_by_emailid:
            mid = stale_by_emailid.pop(s.emailid)
        if mid is not None:
            mbx.touch_message(mid, uidvalidity=uidvalidity, uid=s.uid, flags=fl, modseq=s.modseq, summary=blob,
                              emailid=s.emailid)
            return mid
        moved = self._find_moved(s, folder.globcnt)
        if moved is not None:
            mbx.tombstone_message(moved, keep_data=True)
        return mbx.insert_message(folder.globcnt, "imap", uidvalidity=uidvalidity, uid=s.uid, emailid=s.emailid,
                                  modseq=s.modseq, flags=fl, summary=blob, globcnt=moved, index_props=props)

    def _folder_state(self, folder: Folder, st, *, indexed: bool) -> None:
        """What the server said of the folder: its sync point and its counts (MESSAGES, UNSEEN)."""
        self.mbx.db.execute(
            "UPDATE folders SET uidvalidity = ?, highestmodseq = ?, uidnext = ?, total_count = ?, unread_count = ?, "
            "counted_at = ?, indexed_at = COALESCE(indexed_at, ?) WHERE mailbox_id = ? AND fid = ?",
            (st.uidvalidity, st.highestmodseq, st.uidnext, st.exists, st.unseen, time.time(),
             time.time() if indexed else None, self.mbx.mailbox_id, folder.globcnt))

    async def summarize(self, folder: Folder, mid: int, uid: int | None) -> None:
        """Fill a row's summary right after this gateway wrote the message (APPEND, MOVE without a
        summary to carry): the table shows it at once, and no sync has to find it."""
        if uid is None:
            return
        found = await self.imap.fetch_summaries(folder.ref, str(uid), envelope=True, bodystructure=True)
        if found:
            props = summary_props(found[0])
            self.mbx.touch_message(mid, summary=encode_bag(to_tagged(props, self.mbx.names)),
                                   flags=norm_flags(found[0].flags), modseq=found[0].modseq)

    def _find_moved(self, s: ImapMessageSummary, fid: int) -> int | None:
        """A message another client moved here: same EMAILID in another folder of this mailbox."""
        if not s.emailid:
            return None
        row = self.mbx.db.one("SELECT mid FROM messages WHERE mailbox_id = ? AND emailid = ? AND fid <> ? "
                              "AND kind = 'imap'", (self.mbx.mailbox_id, s.emailid, fid))
        return row[0] if row else None

    # ------------------------------------------------------------ reading
    async def list(self, folder: Folder, *, sync: bool = True) -> list[Item]:
        """Every row of the folder from the index (mail in UID order, then items kept by the gateway)."""
        from ..tables.rows import ROW_SELECT, items_for
        if sync:
            await self.sync(folder)
        rows = self.mbx.db.all(
            f"SELECT {ROW_SELECT} FROM messages WHERE mailbox_id = ? AND fid = ? AND associated = 0 AND "
            "((kind = 'imap' AND uid IS NOT NULL) OR kind = 'local') "
            "ORDER BY CASE kind WHEN 'imap' THEN 0 ELSE 1 END, uid, mid", (self.mbx.mailbox_id, folder.globcnt))
        return items_for(self.mbx, rows)

    async def _fetch_raw(self, folder: Folder, row: dict) -> bytes:
        try:
            raw = await self.imap.fetch_message(folder.ref, row["uid"])
        except BackendError as exc:
            raise NotFound(f"message {row['uid']} is no longer in {folder.ref!r}") from exc
        if b"\r\n" not in raw[:2000] and b"\n" in raw:
            raw = raw.replace(b"\n", b"\r\n")  # pymap's maildir serves LF line endings
        return raw

    async def get(self, folder: Folder, row: dict) -> Item:
        raw = await self._fetch_raw(folder, row)
        if len(raw) > OFF_LOOP_BYTES:
            # a big message's conversion (base64 attachments, long HTML) would hold every other request
            content = await asyncio.to_thread(conv.mime_to_content, raw, owner=self.mbx.email)
        else:
            content = conv.mime_to_content(raw, owner=self.mbx.email)
        flags = set((row["flags"] or "").split())
        overlay = self.mbx.overlay("m", row["mid"])
        content.props.update(overlay)
        apply_flags(content.props, flags)  # IMAP flags are the truth for read state, follow-up and verbs
        if PidNameKeywords in overlay:  # categories the server could not keep live in the overlay
            content.props[PidNameKeywords] = overlay[PidNameKeywords]
        # the conversion's paper clip (what a reader sees: not a meeting's own iCalendar part, not an HTML
        # body's pictures), kept should an overlay have brought flags without it
        if content.props.get(P.PidTagHasAttachments):
            content.props[P.PidTagMessageFlags] |= P.MSGFLAG_HASATTACH
        content.props[P.PidTagMessageSize] = len(raw)
        if P.PidTagMessageDeliveryTime not in content.props:
            # no Received header: the time the server took the message (INTERNALDATE), as its table row shows
            summary = self._summary(row["mid"])
            if summary.get(P.PidTagMessageDeliveryTime) is not None:
                content.props[P.PidTagMessageDeliveryTime] = summary[P.PidTagMessageDeliveryTime]
        content.props.update(self.mbx.id_props(row))
        return Item(self.mbx.ident.mid(row["mid"]), row["mid"], folder.fid, "imap", False, content.props, content)

    def _summary(self, mid: int) -> dict:
        """The row's summary properties as the last sync stored them ({} when none)."""
        from ..tables.rows import read_rows
        rows = read_rows(self.mbx, [mid])
        return rows[0].props if rows else {}

    # ------------------------------------------------------------ writing
    async def create(self, folder: Folder, content: MessageContent) -> int:
        mime = conv.content_to_mime(content)
        flags = set()
        add, _ = flags_for_props(content.props, set())
        flags |= add
        msgflags = content.props.get(P.PidTagMessageFlags, 0) or 0
        if msgflags & P.MSGFLAG_UNSENT or folder.role in ("drafts", "outbox"):
            flags.add("\\Draft")
        date = content.props.get(P.PidTagMessageDeliveryTime) or content.props.get(P.PidTagClientSubmitTime)
        async with folder_lock(self.mbx, folder.globcnt):     # the row before a sync can see the message
            uidvalidity, uid = await self.imap.append(folder.ref, mime, sorted(flags), date)
            if uid is None:
                raise BackendUnavailable("the IMAP server did not report the new message's UID (no UIDPLUS)")
            g = self.mbx.insert_message(folder.globcnt, "imap", uidvalidity=uidvalidity, uid=uid,
                                        flags=norm_flags(flags))
            await self.summarize(folder, g, uid)
        await self._keep_lost(g, content, mime, flags, folder)
        return g

    async def _keep_lost(self, g: int, content: MessageContent, mime: bytes, flags: set[str], folder: Folder) -> None:
        """Whatever MIME and flags cannot carry goes to the overlay, so nothing is dropped."""
        kept = conv.mime_to_content(mime).props
        kept.update({k: v for k, v in flag_props(flags).items()})
        lost = conv.lost_props({k: v for k, v in content.props.items() if k not in FLAG_KEYS}, kept)
        if PidNameKeywords in content.props and content.props[PidNameKeywords]:
            from ..convert.mail import category_to_keyword
            row = self.mbx.message_row(g)
            stored = await self.imap.fetch_summaries(folder.ref, str(row["uid"]), envelope=False)
            have = {f.lower() for f in stored[0].flags} if stored else set()
            if not {category_to_keyword(c).lower() for c in content.props[PidNameKeywords]} <= have:
                # the server dropped the keywords (pymap keeps only predefined ones)
                lost[PidNameKeywords] = list(content.props[PidNameKeywords])
        if lost:
            self.mbx.set_overlay("m", g, lost)

    async def set_flags(self, folder: Folder, rows: list[dict], flags: list[str], mode: str) -> None:
        uids = [r["uid"] for r in rows]
        await self.imap.store_flags(folder.ref, uids, flags, mode=mode)
        low = {f.lower() for f in flags}
        for r in rows:
            cur = set((r["flags"] or "").split())
            if mode == "+":
                new = cur | set(flags)
            elif mode == "-":
                new = {f for f in cur if f.lower() not in low}
            else:
                new = set(flags)
            self.mbx.touch_message(r["mid"], flags=norm_flags(new))

    async def update(self, folder: Folder, row: dict, set_props: dict, remove: list) -> None:
        mbx = self.mbx
        flag_part = {k: v for k, v in set_props.items() if k in FLAG_KEYS}
        rest = {k: v for k, v in set_props.items() if k not in FLAG_KEYS and k not in conv.DERIVED}
        if flag_part:
            summaries = await self.imap.fetch_summaries(folder.ref, str(row["uid"]), envelope=False)
            if not summaries:
                raise NotFound("the message is no longer on the server")
            current = set(summaries[0].flags)
            add, drop = flags_for_props(flag_part, current)
            if add:
                await self.imap.store_flags(folder.ref, [row["uid"]], sorted(add), mode="+")
            if drop:
                await self.imap.store_flags(folder.ref, [row["uid"]], sorted(drop), mode="-")
            new = (current | add) - drop
            mbx.touch_message(row["mid"], flags=norm_flags(new))
            if PidNameKeywords in flag_part:
                from ..convert.mail import category_to_keyword
                after = await self.imap.fetch_summaries(folder.ref, str(row["uid"]), envelope=False)
                wanted = list(flag_part[PidNameKeywords] or [])
                kept = {f.lower() for f in after[0].flags} if after else set()
                if after and not {category_to_keyword(w).lower() for w in wanted} <= kept:
                    mbx.set_overlay("m", row["mid"], {PidNameKeywords: wanted})
                else:
                    mbx.set_overlay("m", row["mid"], {}, remove=[PidNameKeywords])
        is_draft = "\\draft" in (row["flags"] or "").lower() or folder.role in ("drafts", "outbox")
        if (rest or remove) and is_draft:
            await self._rewrite(folder, row, rest, remove)
        elif rest or remove:
            mbx.set_overlay("m", row["mid"], rest, remove=remove)
            mbx.touch_message(row["mid"])

    async def _rewrite(self, folder: Folder, row: dict, set_props: dict, remove: list) -> None:
        """Drafts change content: append the new MIME, then expunge the old copy; the MID stays."""
        await self.replace(folder, row, edited((await self.get(folder, row)).content, set_props, remove))

    async def replace(self, folder: Folder, row: dict, content: MessageContent) -> None:
        """A new MIME for the same MID: append first, expunge the old copy only once the new one is in."""
        row = self.mbx.message_row(row["mid"])   # the flags as they are now (an update may have just set some)
        content = MessageContent({k: v for k, v in content.props.items() if k not in conv.DERIVED},
                                 content.recipients, content.attachments)
        mime = conv.content_to_mime(content)
        flags = set((row["flags"] or "").split())
        if "\\draft" in (row["flags"] or "").lower() or folder.role in ("drafts", "outbox"):
            flags.add("\\Draft")
        async with folder_lock(self.mbx, folder.globcnt):     # a sync sees the old copy or the new one
            uidvalidity, uid = await self.imap.append(folder.ref, mime, sorted(_restore_case(flags)), None)
            await self.imap.expunge(folder.ref, [row["uid"]])
            try:
                with self.mbx.db.savepoint():
                    self.mbx.touch_message(row["mid"], uidvalidity=uidvalidity, uid=uid)
            except Exception as exc:
                # another gateway's sync recorded the new copy under a MID of its own: the MID stays ours
                other = self.mbx._live_mid(folder.globcnt, uidvalidity, uid, None) if is_unique_violation(exc) \
                    else None
                if other is None or other == row["mid"]:
                    raise
                self.mbx.tombstone_message(other)
                self.mbx.touch_message(row["mid"], uidvalidity=uidvalidity, uid=uid)
            await self.summarize(folder, row["mid"], uid)
        self.mbx.set_overlay("m", row["mid"], {}, remove=list(self.mbx.overlay("m", row["mid"]).keys()))
        await self._keep_lost(row["mid"], content, mime, flags, folder)

    async def delete(self, folder: Folder, rows: list[dict]) -> None:
        imap_rows = [r for r in rows if r["kind"] == "imap"]
        if imap_rows:
            await self.imap.expunge(folder.ref, [r["uid"] for r in imap_rows])

    async def move(self, src: Folder, dest: Folder, rows: list[dict], *, copy: bool) -> dict[int, int]:
        """IMAP MOVE/COPY with COPYUID; a moved message keeps its MID, a copy gets a new one. Both folders
        are locked until the rows are written: a sync in between would take a moved message for deleted."""
        async with folder_lock(self.mbx, src.globcnt, dest.globcnt):
            return await self._move(src, dest, rows, copy=copy)

    async def _move(self, src: Folder, dest: Folder, rows: list[dict], *, copy: bool) -> dict[int, int]:
        uids = [r["uid"] for r in rows]
        mapping = await (self.imap.copy if copy else self.imap.move)(src.ref, uids, dest.ref)
        st = await self.imap.status(dest.ref)
        out: dict[int, int] = {}
        for r in rows:
            new_uid = mapping.get(r["uid"])
            # the summary goes along: the same message, the same table row in its new folder
            summary = self.mbx.db.one("SELECT summary FROM messages WHERE mailbox_id = ? AND mid = ?",
                                      (self.mbx.mailbox_id, r["mid"]))
            summary = summary[0] if summary else None
            if copy:
                g = self.mbx.insert_message(dest.globcnt, "imap", uidvalidity=st.uidvalidity, uid=new_uid,
                                            flags=r["flags"], emailid=None, summary=summary)
                for k, v in [(k, v) for k, v in self.mbx.overlay("m", r["mid"]).items()]:
                    self.mbx.set_overlay("m", g, {k: v})
                out[r["mid"]] = g
            else:
                self.mbx.tombstone_message(r["mid"], keep_data=True)
                # another gateway's sync of dest may have recorded the UID first: insert_message keeps our MID
                out[r["mid"]] = self.mbx.insert_message(dest.globcnt, "imap", uidvalidity=st.uidvalidity,
                                                        uid=new_uid, flags=r["flags"], emailid=r["emailid"],
                                                        globcnt=r["mid"], summary=summary)
            if new_uid is None:
                # no COPYUID: the next sync of dest re-associates by EMAILID or gives a new id
                self.mbx.db.execute("UPDATE messages SET uid = NULL WHERE mailbox_id = ? AND mid = ?",
                                    (self.mbx.mailbox_id, out[r["mid"]]))
        return out

    # ------------------------------------------------------------ folders
    async def create_folder(self, parent: Folder, name: str, cls: str) -> int:
        delim = await self.delimiter()
        if delim in name:
            raise InvalidOperation(f"folder names cannot contain {delim!r} on this server")
        full = name if parent.kind != "imap" else f"{parent.ref}{delim}{name}"
        await self.imap.create_folder(full)
        return self.mbx.insert_folder(parent.globcnt, "imap", full, name, cls)

    async def rename_folder(self, folder: Folder, new_name: str, new_parent: Folder | None) -> None:
        delim = await self.delimiter()
        if delim in new_name:
            raise InvalidOperation(f"folder names cannot contain {delim!r} on this server")
        parent_ref = None
        if new_parent is not None:
            if new_parent.kind not in ("imap",) and new_parent.role != "ipm_subtree":
                raise InvalidOperation("a mail folder can only move under a mail folder")
            parent_ref = new_parent.ref if new_parent.kind == "imap" else None
        else:
            parent_ref = folder.ref.rsplit(delim, 1)[0] if delim in folder.ref else None
        new_ref = f"{parent_ref}{delim}{new_name}" if parent_ref else new_name
        await self.imap.rename_folder(folder.ref, new_ref)
        fields = {"ref": new_ref, "display_name": new_name}
        if new_parent is not None:
            fields["parent"] = new_parent.globcnt
        self.mbx.update_folder_row(folder.globcnt, **fields)
        # children's IMAP names carry the parent's name
        old_prefix = folder.ref + delim
        for g, ref in self.mbx.db.all("SELECT fid, ref FROM folders WHERE mailbox_id = ? AND kind = 'imap' "
                                      "AND deleted = 0", (self.mbx.mailbox_id,)):
            if ref and ref.startswith(old_prefix):
                self.mbx.db.execute("UPDATE folders SET ref = ? WHERE mailbox_id = ? AND fid = ?",
                                    (new_ref + delim + ref[len(old_prefix):], self.mbx.mailbox_id, g))

    async def delete_folder(self, folder: Folder) -> None:
        await self.imap.delete_folder(folder.ref)


def _restore_case(flags: set[str]) -> set[str]:
    """Flags are stored lower-cased; IMAP system flags want their canonical spelling."""
    canon = {"\\seen": "\\Seen", "\\answered": "\\Answered", "\\flagged": "\\Flagged", "\\draft": "\\Draft",
             "\\deleted": "\\Deleted"}
    return {canon.get(f.lower(), f) for f in flags}
