"""The store's changes classified into mailbox events, for every front end's notifications.

EWS notifications (MS-OXWSNTIF: Created/Modified/Moved/Copied/Deleted/NewMail events) and MAPI
notifications (MS-OXCNOTIF: ObjectCreated/Modified/Moved/Copied/Deleted, NewMail, table events) tell
a client the same facts about a mailbox. The change source (``changes.watch_mailbox``) reports
per-folder batches of changed and deleted MIDs and hierarchy events; ``EventClassifier`` turns them
into ``MailboxEvent`` records, remembering where each item was so that:

- an item id not seen before -> CREATED (and NEW_MAIL in a mail folder a message is delivered to,
  i.e. not Sent/Drafts/Outbox/Deleted, unless it is a draft);
- a new item the caller knows as a copy (``copy_of``: the gateway's own CopyItem/RopCopyMessages
  leave a hint) -> COPIED (``mid`` the copy, ``old_mid``/``old_parent_fid`` the original). A copy
  made by another IMAP client is indistinguishable from a delivery and stays CREATED;
- a known item changed in the same folder -> MODIFIED;
- the store keeps an item's id on a move, so an id that turns up in another folder, or whose
  tombstone in one folder comes with a live row in another, -> MOVED;
- a tombstone with no live row anywhere -> DELETED;
- after a batch changed a folder's item or unread count -> MODIFIED for the folder itself
  (``fid``, ``parent_fid``, ``unread_count``);
- folders created, renamed, moved or deleted -> CREATED/MODIFIED/MOVED/DELETED with ``fid``.

A front end keeps only its own specifics (EWS: watermarks, subscriptions and their folder filters,
the XML).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from . import errors as se
from .changes import HierarchyChanges

if TYPE_CHECKING:
    from .mailbox import Mailbox
    from .objects import FolderChanges

__all__ = ["CREATED", "NEW_MAIL", "MODIFIED", "MOVED", "COPIED", "DELETED", "NOT_NEW_MAIL_ROLES",
           "MailboxEvent", "EventClassifier"]

CREATED = "created"
NEW_MAIL = "new_mail"
MODIFIED = "modified"
MOVED = "moved"
COPIED = "copied"
DELETED = "deleted"

# a message appearing in these is not new mail (MS-OXCNOTIF NewMail: delivery, not a save or a send)
NOT_NEW_MAIL_ROLES = frozenset({"sent", "drafts", "outbox", "deleted"})


@dataclass(frozen=True)
class MailboxEvent:
    """One thing that happened. An item event has ``mid``; a folder event has ``fid`` and no ``mid``."""

    kind: str                           # CREATED, NEW_MAIL, MODIFIED, MOVED, COPIED, DELETED
    parent_fid: int                     # the item's folder (for DELETED: where it was) / the folder's parent
    mid: int | None = None              # an item event's item (the copy, for COPIED)
    fid: int | None = None              # a folder event's folder
    old_parent_fid: int | None = None   # MOVED, COPIED: where it was / where the original is
    old_mid: int | None = None          # COPIED: the original
    unread_count: int | None = None     # a folder's MODIFIED after its counts changed

    @property
    def is_folder(self) -> bool:
        return self.mid is None


_FOLDER_KINDS = {"created": CREATED, "modified": MODIFIED, "moved": MOVED, "deleted": DELETED}


class EventClassifier:
    """One mailbox's changes -> events; holds where each item is now (MID -> FID) and each folder's
    (items, unread) counts, as of its creation and the batches it has classified since."""

    def __init__(self, mbx: "Mailbox"):
        self.mbx = mbx
        self.location: dict[int, int] = mbx.item_locations()
        self.moved: set[int] = set()          # reported as moved before their arrival batch came
        self.counts: dict[int, tuple[int, int]] = mbx.item_counts()

    # ---- what the store knows of one item now
    def _row(self, mid: int) -> dict | None:
        try:
            return self.mbx.message_row(self.mbx.ident.globcnt_of(mid))
        except se.StoreError:
            return None

    async def _folder(self, fid: int):
        try:
            return await self.mbx.get_folder(fid)
        except se.StoreError:
            return None

    # ---- folders
    def hierarchy(self, hc: HierarchyChanges) -> list[MailboxEvent]:
        out = []
        for fe in hc.events:
            if fe.parent_fid is None:
                continue                          # the root: it has no parent to name
            out.append(MailboxEvent(_FOLDER_KINDS[fe.kind], fe.parent_fid, fid=fe.fid,
                                    old_parent_fid=fe.old_parent_fid))
            if fe.kind == "deleted":
                self.counts.pop(fe.fid, None)
        return out

    # ---- items of one folder
    async def folder_changes(self, ch: "FolderChanges", *,
                             copy_of: Callable[[int], tuple[int, int] | None] | None = None) -> list[MailboxEvent]:
        """``copy_of(mid)`` -> (original MID, its FID) when ``mid`` is a copy the caller made (it is
        asked once per new item and may forget the hint)."""
        out: list[MailboxEvent] = []
        folder = await self._folder(ch.fid)
        role, kind = (folder.role, folder.kind) if folder is not None else (None, "")
        for _cn, mid, deleted in ch.ordered:
            prev = self.location.get(mid)
            if deleted:
                if prev is not None and prev != ch.fid:
                    continue                      # already reported as moved out of here
                row = self._row(mid)
                if row is not None and self.mbx.ident.fid(row["fid"]) != ch.fid:
                    dest = self.mbx.ident.fid(row["fid"])
                    out.append(MailboxEvent(MOVED, dest, mid, old_parent_fid=ch.fid))
                    self.location[mid] = dest
                    self.moved.add(mid)
                else:
                    out.append(MailboxEvent(DELETED, ch.fid, mid))
                    self.location.pop(mid, None)
                continue
            if prev is None:
                moved_from = self.mbx.moved_from(mid)
                if moved_from is not None:
                    # moved before this classifier saw it where it was: still a move (the source's
                    # tombstone batch, if it comes later, is skipped above)
                    self.location[mid] = ch.fid
                    out.append(MailboxEvent(MOVED, ch.fid, mid, old_parent_fid=moved_from))
                    continue
                self.location[mid] = ch.fid
                copied = copy_of(mid) if copy_of is not None else None
                if copied is not None:
                    out.append(MailboxEvent(COPIED, ch.fid, mid, old_parent_fid=copied[1], old_mid=copied[0]))
                    continue
                out.append(MailboxEvent(CREATED, ch.fid, mid))
                row = self._row(mid)
                draft = row is not None and "\\draft" in (row.get("flags") or "").lower()
                if kind == "imap" and role not in NOT_NEW_MAIL_ROLES and not draft:
                    out.append(MailboxEvent(NEW_MAIL, ch.fid, mid))
            elif prev != ch.fid:
                self.location[mid] = ch.fid
                out.append(MailboxEvent(MOVED, ch.fid, mid, old_parent_fid=prev))
            elif mid in self.moved:
                self.moved.discard(mid)           # the arrival of an item already reported as moved
            else:
                out.append(MailboxEvent(MODIFIED, ch.fid, mid))
        # the folder's own MODIFIED when its counts moved (Exchange sends it with the unread count)
        counts = self.mbx.item_counts(ch.fid).get(ch.fid, (0, 0))
        if folder is not None and folder.parent_fid is not None and counts != self.counts.get(ch.fid):
            out.append(MailboxEvent(MODIFIED, folder.parent_fid, fid=ch.fid, unread_count=counts[1]))
        self.counts[ch.fid] = counts
        return out
