"""The store's change classification (gateway/store/events.py), which EWS and MAPI notifications share.

A stub mailbox holds the id map's view (where each item is, its flags, the tombstones' move sources,
the folder counts); the classifier gets the change source's batches and must tell created, new mail,
modified, moved, copied and deleted apart, and send a folder's own MODIFIED when its counts change.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gateway.store import errors as se
from gateway.store import events as ev
from gateway.store.changes import FolderEvent, HierarchyChanges
from gateway.store.events import EventClassifier, MailboxEvent
from gateway.store.objects import FolderChanges

ROOT, INBOX, SENT, ARCHIVE, CAL = 1, 10, 11, 12, 13


@dataclass
class StubFolder:
    fid: int
    parent_fid: int | None
    role: str | None
    kind: str = "imap"


class StubIdent:
    @staticmethod
    def globcnt_of(x: int) -> int:
        return x

    @staticmethod
    def fid(g: int) -> int:
        return g


@dataclass
class StubMailbox:
    rows: dict = field(default_factory=dict)            # mid -> {"fid": ..., "flags": ...}
    moved_sources: dict = field(default_factory=dict)   # mid -> FID it last left
    unread: dict = field(default_factory=dict)          # fid -> unread count
    ident: StubIdent = field(default_factory=StubIdent)
    folders: dict = field(default_factory=lambda: {
        ROOT: StubFolder(ROOT, None, None), INBOX: StubFolder(INBOX, ROOT, "inbox"),
        SENT: StubFolder(SENT, ROOT, "sent"), ARCHIVE: StubFolder(ARCHIVE, ROOT, None),
        CAL: StubFolder(CAL, ROOT, "calendar", "caldav")})

    def item_locations(self):
        return {mid: r["fid"] for mid, r in self.rows.items()}

    def item_counts(self, fid=None):
        out = {}
        for r in self.rows.values():
            n, _ = out.get(r["fid"], (0, 0))
            out[r["fid"]] = (n + 1, self.unread.get(r["fid"], 0))
        return out if fid is None else {fid: out.get(fid, (0, 0))}

    def message_row(self, g):
        if g not in self.rows:
            raise se.NotFound(f"no item {g}")
        return dict(self.rows[g], mid=g)

    def moved_from(self, mid):
        return self.moved_sources.get(mid)

    async def get_folder(self, fid):
        if fid not in self.folders:
            raise se.NotFound(f"no folder {fid}")
        return self.folders[fid]


def batch(fid: int, *changes: tuple[int, bool]) -> FolderChanges:
    ch = FolderChanges(fid)
    for cn, (mid, deleted) in enumerate(changes, 1):
        ch.ordered.append((cn, mid, deleted))
    return ch


def run(coro):
    return asyncio.run(coro)


def test_delivery_is_created_and_new_mail_then_modified():
    mbx = StubMailbox(rows={100: {"fid": INBOX, "flags": ""}})
    c = EventClassifier(mbx)
    mbx.rows[101] = {"fid": INBOX, "flags": ""}
    mbx.unread[INBOX] = 1
    got = run(c.folder_changes(batch(INBOX, (101, False))))
    assert got == [MailboxEvent(ev.CREATED, INBOX, 101), MailboxEvent(ev.NEW_MAIL, INBOX, 101),
                   MailboxEvent(ev.MODIFIED, ROOT, fid=INBOX, unread_count=1)]
    assert all(not e.is_folder for e in got[:2]) and got[2].is_folder
    # the same item changed again, counts unchanged: one MODIFIED, no folder event
    assert run(c.folder_changes(batch(INBOX, (101, False)))) == [MailboxEvent(ev.MODIFIED, INBOX, 101)]


def test_no_new_mail_for_drafts_sent_or_dav_folders():
    mbx = StubMailbox()
    c = EventClassifier(mbx)
    mbx.rows.update({1: {"fid": INBOX, "flags": "\\Draft \\Seen"}, 2: {"fid": SENT, "flags": ""},
                     3: {"fid": CAL, "flags": None}})
    kinds = [e.kind for e in run(c.folder_changes(batch(INBOX, (1, False)))) if not e.is_folder]
    kinds += [e.kind for e in run(c.folder_changes(batch(SENT, (2, False)))) if not e.is_folder]
    kinds += [e.kind for e in run(c.folder_changes(batch(CAL, (3, False)))) if not e.is_folder]
    assert kinds == [ev.CREATED] * 3


def test_move_seen_from_either_side_is_one_moved_event():
    # the destination's batch first: the item turns up elsewhere; the source's tombstone is skipped
    mbx = StubMailbox(rows={5: {"fid": INBOX, "flags": ""}})
    c = EventClassifier(mbx)
    mbx.rows[5]["fid"] = ARCHIVE
    got = run(c.folder_changes(batch(ARCHIVE, (5, False))))
    assert got[0] == MailboxEvent(ev.MOVED, ARCHIVE, 5, old_parent_fid=INBOX)
    assert [e for e in run(c.folder_changes(batch(INBOX, (5, True)))) if not e.is_folder] == []
    # the source's tombstone first: MOVED at once, and the arrival batch adds nothing
    mbx = StubMailbox(rows={6: {"fid": INBOX, "flags": ""}})
    c = EventClassifier(mbx)
    mbx.rows[6]["fid"] = ARCHIVE
    assert run(c.folder_changes(batch(INBOX, (6, True))))[0] == MailboxEvent(ev.MOVED, ARCHIVE, 6,
                                                                              old_parent_fid=INBOX)
    assert [e for e in run(c.folder_changes(batch(ARCHIVE, (6, False)))) if not e.is_folder] == []


def test_moved_before_the_classifier_knew_it():
    mbx = StubMailbox()
    c = EventClassifier(mbx)
    mbx.rows[7] = {"fid": ARCHIVE, "flags": ""}
    mbx.moved_sources[7] = INBOX
    assert run(c.folder_changes(batch(ARCHIVE, (7, False))))[0] == MailboxEvent(ev.MOVED, ARCHIVE, 7,
                                                                                 old_parent_fid=INBOX)


def test_deleted_and_copied():
    mbx = StubMailbox(rows={8: {"fid": INBOX, "flags": ""}})
    c = EventClassifier(mbx)
    del mbx.rows[8]
    got = run(c.folder_changes(batch(INBOX, (8, True))))
    assert got == [MailboxEvent(ev.DELETED, INBOX, 8), MailboxEvent(ev.MODIFIED, ROOT, fid=INBOX, unread_count=0)]
    mbx.rows[9] = {"fid": ARCHIVE, "flags": ""}
    hints = {9: (4, INBOX)}
    got = run(c.folder_changes(batch(ARCHIVE, (9, False)), copy_of=hints.pop))
    assert got[0] == MailboxEvent(ev.COPIED, ARCHIVE, 9, old_parent_fid=INBOX, old_mid=4)
    assert not hints


def test_hierarchy_events():
    mbx = StubMailbox()
    c = EventClassifier(mbx)
    hc = HierarchyChanges([FolderEvent("created", 20, ROOT), FolderEvent("moved", 21, ARCHIVE, ROOT),
                           FolderEvent("modified", 1, None), FolderEvent("deleted", INBOX, ROOT)])
    assert c.hierarchy(hc) == [MailboxEvent(ev.CREATED, ROOT, fid=20),
                               MailboxEvent(ev.MOVED, ARCHIVE, fid=21, old_parent_fid=ROOT),
                               MailboxEvent(ev.DELETED, ROOT, fid=INBOX)]


def test_ews_maps_every_kind():
    from gateway.ews.notifications import EWS_KIND
    assert set(EWS_KIND) == {ev.CREATED, ev.NEW_MAIL, ev.MODIFIED, ev.MOVED, ev.COPIED, ev.DELETED}
