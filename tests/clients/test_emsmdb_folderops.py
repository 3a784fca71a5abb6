"""MAPI over HTTP: moving, copying and deleting messages and folders (checked over IMAP, on both gateways),
table navigation (bookmarks, FindRow, fractional seek), and the smaller ROPs of writing and sending, each
checked for what a client sees."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from protocols.mapi.props import core as P
from protocols.mapi.props.named import PSETID
from protocols.mapi.restrictions import ContentRestriction, SortOrder, SortOrderSet
from protocols.rops import folder as F, message as MSG, property as PR, stream as S
from protocols.rops import table as T

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_emsmdb_send import _imap, recipient, RECIPIENT_COLUMNS

EC_NOT_FOUND = 0x8004010F


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def imap_subjects(gw, folder_part: str) -> list[str]:
    """Subjects in the first IMAP folder whose name contains ``folder_part``."""
    im = _imap(gw, "alice")
    try:
        names = [line.decode().rsplit(' "', 1)[-1].strip('"') for line in im.list()[1]]
        name = next((n for n in names if folder_part in n), None)
        if name is None or im.select(f'"{name}"', readonly=True)[0] != "OK":
            return []
        _, data = im.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return sorted(p[1].decode().split(":", 1)[1].strip() for p in data if isinstance(p, tuple))
    finally:
        im.logout()


async def make_folder_with_messages(c, logon_h, lr, name: str, subjects):
    """A top-level folder with saved messages; returns (top handle, folder handle, fid, [mids])."""
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("ipm_subtree"), 0),
                           F.CreateFolderRequest(LOGON_ID, 1, 2, 1, 1, 0, 0, name, "")], [logon_h, NO, NO])
    assert got.rops[1].return_value == 0
    inbox_h, folder_h, fid = got.handles[1], got.handles[2], got.rops[1].folder_id
    mids = []
    for subject in subjects:
        got = await c.execute([
            MSG.CreateMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0),
            PR.SetPropertiesRequest(LOGON_ID, 1, ((P.PidTagSubject, subject), (P.PidTagBody, "x"))),
            MSG.SaveChangesMessageRequest(LOGON_ID, 1, 1, 0x01),
        ], [folder_h, NO])
        assert all(r.return_value == 0 for r in got.rops)
        mids.append(got.rops[2].message_id)
    return inbox_h, folder_h, fid, mids


async def test_move_copy_delete_empty_seen_over_imap(gw):
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    subjects = [f"ops {tag} {n}" for n in range(4)]
    inbox_h, src_h, src_fid, mids = await make_folder_with_messages(c, logon_h, lr, f"Src {tag}", subjects)
    got = await c.execute([F.CreateFolderRequest(LOGON_ID, 0, 1, 1, 1, 0, 0, f"Dst {tag}", "")], [inbox_h, NO])
    dst_h, dst_fid = got.handles[1], got.rops[0].folder_id
    assert sorted(await asyncio.to_thread(imap_subjects, gw, f"Src {tag}")) == subjects

    got = await c.execute([
        F.MoveCopyMessagesRequest(LOGON_ID, 0, 1, (mids[0],), 0, 0),            # move
        F.MoveCopyMessagesRequest(LOGON_ID, 0, 1, (mids[1],), 0, 1),            # copy
        F.MoveCopyMessagesRequest(LOGON_ID, 0, 1, (mids[0], mids[2]), 0, 0),    # one already left: partial
        F.DeleteMessagesRequest(LOGON_ID, 0, 0, 0, (mids[3], 0x7777 << 16 | 1)),
    ], [src_h, dst_h])
    move, copy, partly, delete = got.rops
    assert move.return_value == 0 and not move.partial_completion
    assert copy.return_value == 0 and not copy.partial_completion
    assert partly.return_value == 0 and partly.partial_completion
    assert delete.return_value == 0 and delete.partial_completion
    assert await asyncio.to_thread(imap_subjects, gw, f"Src {tag}") == [subjects[1]]
    assert await asyncio.to_thread(imap_subjects, gw, f"Dst {tag}") == sorted([subjects[0], subjects[1], subjects[2]])

    # CopyFolder: Src copied beside itself under another name, with its message
    got = await c.execute([F.CopyFolderRequest(LOGON_ID, 0, 0, 0, 1, 1, src_fid, f"Copied {tag}")], [inbox_h])
    assert got.rops[0].return_value == 0, hex(got.rops[0].return_value)
    assert await asyncio.to_thread(imap_subjects, gw, f"Copied {tag}") == [subjects[1]]

    # EmptyFolder: the messages and a subfolder go; MoveFolder: Dst moves under Src
    got = await c.execute([F.CreateFolderRequest(LOGON_ID, 0, 1, 1, 1, 0, 0, f"Sub {tag}", "")], [src_h, NO])
    assert got.rops[0].return_value == 0
    got = await c.execute([F.EmptyFolderRequest(LOGON_ID, 0, 0, 0),
                           F.MoveFolderRequest(LOGON_ID, 1, 0, 0, 1, dst_fid, f"Moved {tag}")], [src_h, inbox_h])
    empty, moved = got.rops
    assert empty.return_value == 0 and not empty.partial_completion
    assert moved.return_value == 0, hex(moved.return_value)
    assert await asyncio.to_thread(imap_subjects, gw, f"Src {tag}") == []

    def folder_names():
        im = _imap(gw, "alice")
        try:
            return [line.decode() for line in im.list()[1]]
        finally:
            im.logout()
    names = await asyncio.to_thread(folder_names)
    assert not any(f"Sub {tag}" in n for n in names)
    assert any(f"Src {tag}" in n and f"Moved {tag}" in n for n in names), names
    assert await asyncio.to_thread(imap_subjects, gw, f"Moved {tag}") == sorted(subjects[:3])
    got = await c.execute([F.DeleteFolderRequest(LOGON_ID, 0, 0x05, src_fid)], [inbox_h])
    assert got.rops[0].return_value == 0 and not got.rops[0].partial_completion


async def test_bookmarks_find_row_and_fractional_seek(demo_gateway):
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    subjects = [f"nav {tag} {n}" for n in "abcde"]
    _, folder_h, _, mids = await make_folder_with_messages(c, logon_h, lr, f"Nav {tag}", subjects)
    cols = (P.PidTagSubject, P.PidTagMid)
    got = await c.execute([
        F.GetContentsTableRequest(LOGON_ID, 0, 1, 0),
        T.SetColumnsRequest(LOGON_ID, 1, 0, cols),
        T.SortTableRequest(LOGON_ID, 1, 0, SortOrderSet((SortOrder(P.PidTagSubject, 0),))),
        T.SeekRowRequest(LOGON_ID, 1, T.BOOKMARK_BEGINNING, 2, 1),
        T.CreateBookmarkRequest(LOGON_ID, 1),
        T.SeekRowFractionalRequest(LOGON_ID, 1, 4, 5),
        T.QueryRowsRequest(LOGON_ID, 1, 0, 1, 10),
        T.FindRowRequest(LOGON_ID, 1, 0, ContentRestriction(0x00010000, P.PidTagSubject, subjects[3]),
                         T.BOOKMARK_BEGINNING, b""),
        T.QueryPositionRequest(LOGON_ID, 1),
        T.FindRowRequest(LOGON_ID, 1, 0, ContentRestriction(0x00010000, P.PidTagSubject, "nope"),
                         T.BOOKMARK_BEGINNING, b""),
        T.AbortRequest(LOGON_ID, 1),
    ], [folder_h, NO])
    (_, _, _, seek, mark, frac, rows, found, pos, missing, abort) = got.rops
    assert seek.rows_sought == 2 and mark.return_value == 0 and mark.bookmark
    assert frac.return_value == 0
    assert [r.values[0] for r in rows.rows(cols)] == subjects[4:]
    assert found.return_value == 0 and found.has_row_data and not found.row_no_longer_visible
    assert pos.numerator == 3
    assert missing.return_value == EC_NOT_FOUND
    assert abort.return_value == 0x80040114
    table_h = got.handles[1]
    got = await c.execute([
        T.SetColumnsRequest(LOGON_ID, 0, 0, cols),
        T.SeekRowBookmarkRequest(LOGON_ID, 0, mark.bookmark, 1, 1),
        T.QueryRowsRequest(LOGON_ID, 0, 0, 1, 1),
        T.FreeBookmarkRequest(LOGON_ID, 0, mark.bookmark),
        T.FreeBookmarkRequest(LOGON_ID, 0, mark.bookmark),
    ], [table_h])
    _, sought, row, freed, again = got.rops
    assert sought.return_value == 0 and sought.rows_sought == 1 and not sought.row_no_longer_visible
    assert [r.values[0] for r in row.rows(cols)] == [subjects[3]]
    assert freed.return_value == 0 and again.return_value == 0x80040405


async def test_properties_names_status_and_small_send_rops(demo_gateway):
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    _, folder_h, fid, (mid,) = await make_folder_with_messages(c, logon_h, lr, f"Props {tag}", [f"props {tag}"])
    by_lid = PR.PropertyName(PR.KIND_LID, PSETID.Common, lid=0x8580)
    unknown = PR.PropertyName(PR.KIND_NAME, PSETID.Common, name=f"never-{tag}")
    got = await c.execute([
        PR.GetPropertyIdsFromNamesRequest(LOGON_ID, 0, 0x02, (by_lid,)),
        PR.GetPropertyIdsFromNamesRequest(LOGON_ID, 0, 0x00, (unknown,)),
    ], [logon_h])
    ids, none = got.rops
    pid = ids.property_ids[0]
    assert ids.return_value == 0 and pid >= 0x8000
    assert none.return_value == 0x00040380 and none.property_ids == (0,)
    got = await c.execute([
        PR.GetNamesFromPropertyIdsRequest(LOGON_ID, 0, (pid, 0x0037, 0xFFF0)),
        PR.QueryNamedPropertiesRequest(LOGON_ID, 0, 0x01, PSETID.Common),
        MSG.GetAddressTypesRequest(LOGON_ID, 0),
        MSG.SetSpoolerRequest(LOGON_ID, 0),
        MSG.GetTransportFolderRequest(LOGON_ID, 0),
    ], [logon_h])
    names, query, types, spooler, transport = got.rops
    assert names.return_value == 0x00040380
    assert names.property_names[0].lid == 0x8580 and names.property_names[1].lid == 0x0037
    assert names.property_names[2].kind == PR.KIND_NONE
    assert pid in query.property_ids and all(n.kind == PR.KIND_LID for n in query.property_names)
    assert types.address_types == ("SMTP", "EX") and spooler.return_value == 0
    assert transport.folder_id == lr.folder("outbox")

    named_tag = (pid << 16) | 0x0003
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0x01, mid),
        PR.SetPropertiesRequest(LOGON_ID, 1, ((named_tag, 42), (P.PidTagComment, "c"))),
        PR.DeletePropertiesRequest(LOGON_ID, 1, (P.PidTagComment, P.PidTagMid)),
        PR.GetPropertiesListRequest(LOGON_ID, 1),
        MSG.ModifyRecipientsRequest(LOGON_ID, 1, RECIPIENT_COLUMNS, (recipient("Bob", "bob@example.test"),)),
        MSG.RemoveAllRecipientsRequest(LOGON_ID, 1, 0),
        MSG.CreateAttachmentRequest(LOGON_ID, 1, 2),
        S.OpenStreamRequest(LOGON_ID, 2, 3, P.PidTagAttachDataBinary, 0x02),
        S.WriteAndCommitStreamRequest(LOGON_ID, 3, b"0123456789"),
        S.SetStreamSizeRequest(LOGON_ID, 3, 4),
        S.CommitStreamRequest(LOGON_ID, 3),
        MSG.SaveChangesAttachmentRequest(LOGON_ID, 2, 2, 0),
        MSG.DeleteAttachmentRequest(LOGON_ID, 1, 5),
        MSG.SaveChangesMessageRequest(LOGON_ID, 1, 1, 0x02),
        MSG.SubmitMessageRequest(LOGON_ID, 1, 0),                       # no recipients left
        MSG.AbortSubmitRequest(LOGON_ID, 0, fid, mid),
    ], [folder_h, NO, NO, NO])
    (opened, setp, delp, plist, modr, rall, catt, ostr, wc, size, commit, satt, datt, saved, submit,
     abort) = got.rops
    assert opened.return_value == 0 and setp.return_value == 0
    assert [(p.index, p.tag) for p in delp.property_problems] == [(1, P.PidTagMid)]
    assert named_tag in plist.property_tags and P.PidTagComment not in plist.property_tags
    assert modr.return_value == 0 and rall.return_value == 0
    assert wc.written_size == 10 and size.return_value == 0 and commit.return_value == 0
    assert satt.return_value == 0 and datt.return_value == EC_NOT_FOUND
    assert saved.return_value == 0 and saved.message_id == mid
    assert submit.return_value == 0x80040607 and abort.return_value == 0x80040114

    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0x00, mid),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, (named_tag, P.PidTagHasAttachments)),
        MSG.OpenAttachmentRequest(LOGON_ID, 1, 2, 0, 0),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 2, 0, 1, (P.PidTagAttachDataBinary,)),
        MSG.SetMessageStatusRequest(LOGON_ID, 0, mid, 0x1000, 0x1000),
        MSG.GetMessageStatusRequest(LOGON_ID, 0, mid),
    ], [folder_h, NO, NO])
    _, props, _, att, set_status, status = got.rops
    assert props.row((named_tag, P.PidTagHasAttachments)).values == (42, True)
    assert att.row((P.PidTagAttachDataBinary,)).values == (b"0123",)
    assert set_status.message_status_flags == 0 and status.message_status_flags == 0x1000


async def test_categorized_table_expand_collapse_and_state(demo_gateway):
    """RopSortTable with CCategories 1 (grouped by subject, collapsed): a header per subject; RopExpandRow
    adds its members with their rows, RopCollapseRow takes them away, the collapse state comes back."""
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    subjects = [f"cat {tag} a", f"cat {tag} a", f"cat {tag} b"]
    _, folder_h, _, mids = await make_folder_with_messages(c, logon_h, lr, f"Cat {tag}", subjects)
    cols = (P.PidTagInstID, P.PidTagRowType, P.PidTagDepth, P.PidTagSubject, P.PidTagContentCount)
    grouped = SortOrderSet((SortOrder(P.PidTagSubject, 0), SortOrder(P.PidTagMid, 0)), categorized=1, expanded=0)
    got = await c.execute([
        F.GetContentsTableRequest(LOGON_ID, 0, 1, 0),
        T.SetColumnsRequest(LOGON_ID, 1, 0, cols),
        T.SortTableRequest(LOGON_ID, 1, 0, grouped),
        T.QueryRowsRequest(LOGON_ID, 1, 0x01, 1, 50),                     # NoAdvance
    ], [folder_h, NO])
    assert all(r.return_value == 0 for r in got.rops), [hex(r.return_value) for r in got.rops]
    headers = [r.values for r in got.rops[3].rows(cols)]
    assert [(h[1], h[3], h[4]) for h in headers] == [(4, subjects[0], 2), (4, subjects[2], 1)]  # collapsed
    cat_a = headers[0][0]
    table_h = got.handles[1]
    got = await c.execute([
        T.SetColumnsRequest(LOGON_ID, 0, 0, cols),
        T.ExpandRowRequest(LOGON_ID, 0, 10, cat_a),
        T.QueryRowsRequest(LOGON_ID, 0, 0x01, 1, 50),
        T.GetCollapseStateRequest(LOGON_ID, 0, cat_a, 0),
        T.CollapseRowRequest(LOGON_ID, 0, cat_a),
        T.ExpandRowRequest(LOGON_ID, 0, 10, 12345),
    ], [table_h])
    _, expanded, rows, state, collapsed, missing = got.rops
    assert expanded.expanded_row_count == 2 and expanded.row_count == 2
    assert sorted(r.values[3] for r in expanded.rows(cols)) == [subjects[0], subjects[1]]
    assert [r.values[1] for r in rows.rows(cols)] == [3, 1, 1, 4]     # expanded header, 2 leaves, header
    assert state.return_value == 0
    assert collapsed.collapsed_row_count == 2 and missing.return_value == EC_NOT_FOUND
    got = await c.execute([T.SetColumnsRequest(LOGON_ID, 0, 0, cols),
                           T.SetCollapseStateRequest(LOGON_ID, 0, state.collapse_state),
                           T.QueryRowsRequest(LOGON_ID, 0, 0x01, 1, 50)], [table_h])
    assert got.rops[1].return_value == 0 and got.rops[1].bookmark
    assert len(got.rops[2].rows(cols)) == 2                              # the state had everything collapsed


async def test_hard_deletes_no_replicate_and_table_resets(demo_gateway):
    """RopHardDeleteMessages and RopHardDeleteMessagesAndSubfolders (seen over IMAP),
    RopSetPropertiesNoReplicate/RopDeletePropertiesNoReplicate on a folder, RopQueryColumnsAll and
    RopResetTable (back to all rows after a restriction)."""
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    subjects = [f"hard {tag} {n}" for n in range(3)]
    _, folder_h, fid, mids = await make_folder_with_messages(c, logon_h, lr, f"Hard {tag}", subjects)
    cols = (P.PidTagSubject, P.PidTagMid)
    got = await c.execute([
        F.GetContentsTableRequest(LOGON_ID, 0, 1, 0),
        T.SetColumnsRequest(LOGON_ID, 1, 0, cols),
        T.RestrictRequest(LOGON_ID, 1, 0, ContentRestriction(0x00010000, P.PidTagSubject, subjects[0])),
        T.QueryRowsRequest(LOGON_ID, 1, 0x01, 1, 10),
        T.ResetTableRequest(LOGON_ID, 1),
        T.SetColumnsRequest(LOGON_ID, 1, 0, cols),
        T.QueryRowsRequest(LOGON_ID, 1, 0x01, 1, 10),
        T.QueryColumnsAllRequest(LOGON_ID, 1),
        PR.SetPropertiesNoReplicateRequest(LOGON_ID, 0, ((P.PidTagComment, "kept"), (P.PidTagMid, 1))),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 0, 0, 1, (P.PidTagComment,)),
        PR.DeletePropertiesNoReplicateRequest(LOGON_ID, 0, (P.PidTagComment,)),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 0, 0, 1, (P.PidTagComment,)),
        F.HardDeleteMessagesRequest(LOGON_ID, 0, 0, 0, (mids[0],)),
    ], [folder_h, NO])
    (_, _, restricted, one, reset, _, rows, allcols, setp, comment, delp, gone, hard) = got.rops
    assert [r.values[0] for r in one.rows(cols)] == [subjects[0]]
    assert reset.return_value == 0 and len(rows.rows(cols)) == 3
    assert P.PidTagSubject in allcols.property_tags and P.PidTagMid in allcols.property_tags
    assert [(p.index, p.tag) for p in setp.property_problems] == [(1, P.PidTagMid)]
    assert comment.row((P.PidTagComment,)).values == ("kept",)
    assert delp.return_value == 0 and gone.row((P.PidTagComment,)).values[0].value == 0x8004010F
    assert hard.return_value == 0 and not hard.partial_completion
    assert sorted(await asyncio.to_thread(imap_subjects, demo_gateway, f"Hard {tag}")) == subjects[1:]
    got = await c.execute([F.CreateFolderRequest(LOGON_ID, 0, 1, 1, 1, 0, 0, f"Inner {tag}", ""),
                           F.HardDeleteMessagesAndSubfoldersRequest(LOGON_ID, 0, 0, 0)], [folder_h, NO])
    assert got.rops[1].return_value == 0 and not got.rops[1].partial_completion
    assert await asyncio.to_thread(imap_subjects, demo_gateway, f"Hard {tag}") == []
    gw = demo_gateway

    def names():
        im = _imap(gw, "alice")
        try:
            return [line.decode() for line in im.list()[1]]
        finally:
            im.logout()
    assert not any(f"Inner {tag}" in n for n in await asyncio.to_thread(names))


async def test_ids_of_another_replica_are_not_found(demo_gateway):
    """A FID or MID of another server's replica (as a replayed capture from Exchange sends them) is
    ecNotFound, not a server fault (the replay of ruler's Exchange session found ecError here)."""
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    foreign = (0x0005 | (0x1234 << 16))                    # ReplicaId 5
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, foreign, 0),
                           F.OpenFolderRequest(LOGON_ID, 0, 2, lr.folder("inbox"), 0),
                           MSG.OpenMessageRequest(LOGON_ID, 2, 3, 0x0FFF, lr.folder("inbox"), 0, foreign)],
                          [logon_h, NO, NO, NO])
    assert [r.return_value for r in got.rops] == [EC_NOT_FOUND, 0, EC_NOT_FOUND]
