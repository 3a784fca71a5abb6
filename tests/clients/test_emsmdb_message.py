"""MAPI over HTTP, reading a message as Outlook's online mode does, on both gateways (demo and the real
servers): the Inbox contents table gives a PidTagMid; RopOpenMessage (subject parts, recipient rows),
RopGetPropertiesSpecific and RopGetPropertiesAll on it (a value past PropertySizeLimit is
ecMAPI_E_NOT_ENOUGH_MEMORY), PidTagBody through RopOpenStream/RopReadStream compared with what IMAP holds,
RopReadRecipients, RopSeekStream, RopGetStreamSize, RopRelease; an unknown MID is ecNotFound."""
from __future__ import annotations

import asyncio
import email
import uuid
import email.policy
import imaplib

import pytest

from protocols.mapi.props import core as P
from protocols.mapi.restrictions import ORDER_DESCENDING, SortOrder, SortOrderSet
from protocols.rops import folder as F, message as MSG, property as PR, stream as S, table as T
from protocols.rops.common import ReleaseRequest
from protocols.rops.rows import FlaggedValue

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_ews_notifications import deliver

EC_NOT_FOUND = 0x8004010F
EC_NOT_ENOUGH_MEMORY = 0x8007000E
EC_NULL_OBJECT = 0x000004B9
PT_ERROR = 0x000A


def imap_messages(gw, login="alice"):
    """Subject -> the text/plain body IMAP holds (None for a message without one)."""
    out = {}
    with imaplib.IMAP4(gw.state.config.imap.host, gw.state.config.imap.port) as im:
        im.login(login, f"{login}pw")
        im.select("INBOX", readonly=True)
        _, data = im.fetch("1:*", "(BODY.PEEK[])")
    for d in data:
        if not isinstance(d, tuple):
            continue
        msg = email.message_from_bytes(d[1], policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",))
        out[str(msg["Subject"] or "")] = part.get_content() if part is not None else None
    return out


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


async def _read_all(c, handles, want=0x400):
    """ReadStream until a short read (several ROPs per Execute, as Outlook chains them)."""
    out = b""
    while True:
        got = await c.execute([S.ReadStreamRequest(LOGON_ID, 3, want), S.ReadStreamRequest(LOGON_ID, 3, want)],
                              handles)
        for r in got.rops:
            assert r.return_value == 0
            out += r.data
        if any(len(r.data) < want for r in got.rops):
            return out


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


async def test_open_message_read_body_stream(gw):
    await asyncio.to_thread(deliver, gw, "alice@example.test", f"emsmdb read {uuid.uuid4().hex[:8]}")
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    inbox = lr.folder("inbox")
    cols = (P.PidTagMid, P.PidTagSubject, P.PidTagMessageDeliveryTime)
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, inbox, 0),
        F.GetContentsTableRequest(LOGON_ID, 1, 2, 0),
        T.SetColumnsRequest(LOGON_ID, 2, 0, cols),
        T.SortTableRequest(LOGON_ID, 2, 0, SortOrderSet((SortOrder(P.PidTagMessageDeliveryTime, ORDER_DESCENDING),))),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, 100),
    ], [logon_h, NO, NO])
    rows = got.rops[4].rows(cols)
    folder_h = got.handles[1]
    imap = await asyncio.to_thread(imap_messages, gw)
    # the first Inbox message (newest first) whose IMAP copy has a text body
    mid, subject, delivered = next(r.values for r in rows if imap.get(r.values[1]))
    assert isinstance(mid, int) and mid

    tags = (P.PidTagSubject, P.PidTagSenderName, P.PidTagMessageDeliveryTime, P.PidTagMid, P.PidTagFolderId)
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, inbox, 0x00, mid),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, tags),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 16, 1, (P.PidTagSubject, P.PidTagBody)),
        PR.GetPropertiesAllRequest(LOGON_ID, 1, 16, 1),
        S.OpenStreamRequest(LOGON_ID, 1, 2, P.PidTagBody, 0x00),
    ], [logon_h, NO, NO])
    opened, props, small, allprops, stream = got.rops
    assert opened.return_value == 0 and opened.handle_index == 1
    assert got.handles[1] >> 24 == LOGON_ID
    full = (opened.subject_prefix.value or "") + (opened.normalized_subject.value or "")
    assert full == subject
    assert opened.recipient_count == len(opened.recipient_rows) >= 1
    to = opened.recipient_rows[0]
    assert to.recipient_type in (1, 2, 3) and to.recipient_row.display_name
    assert to.recipient_row.email_address or to.recipient_row.x500dn
    assert len(opened.recipient_columns) >= 1
    row = props.row(tags)
    assert row.values[0] == subject
    assert isinstance(row.values[1], str) and row.values[1]
    assert row.values[2] == delivered
    assert row.values[3] == mid and row.values[4] == inbox
    # PropertySizeLimit 16: the body does not fit and is an error cell the client reads by stream
    srow = small.row((P.PidTagSubject, P.PidTagBody))
    assert srow.flag == 1
    assert srow.values[1] == FlaggedValue(0xA, EC_NOT_ENOUGH_MEMORY)
    assert allprops.return_value == 0
    all_tags = dict(allprops.property_values)
    assert (P.PidTagBody & 0xFFFF0000) | PT_ERROR in all_tags
    assert all_tags[(P.PidTagBody & 0xFFFF0000) | PT_ERROR] == EC_NOT_ENOUGH_MEMORY
    assert all_tags.get(P.PidTagMid) == mid

    # the body through the stream, compared with IMAP's text/plain
    assert stream.return_value == 0 and stream.handle_index == 2
    handles = [logon_h, got.handles[1], NO, got.handles[2]]
    data = await _read_all(c, handles)
    assert len(data) == stream.stream_size
    body = data.decode("utf-16-le")
    assert _norm(body) == _norm(imap[subject])

    # size, seek from the end, read the tail again; then release the stream and the message
    got = await c.execute([
        S.GetStreamSizeRequest(LOGON_ID, 3),
        S.SeekStreamRequest(LOGON_ID, 3, 2, (1 << 64) - 4),
        S.ReadStreamRequest(LOGON_ID, 3, 100),
        S.SeekStreamRequest(LOGON_ID, 3, 0, 0),
        S.ReadStreamRequest(LOGON_ID, 3, S.BABE, 6),
        S.SeekStreamRequest(LOGON_ID, 3, 1, (1 << 64) - 1000000),
    ], handles)
    size, seek, tail, rewind, head, bad = got.rops
    assert size.stream_size == len(data)
    assert seek.new_position == len(data) - 4 and tail.data == data[-4:]
    assert rewind.new_position == 0 and head.data == data[:6]
    assert bad.return_value == 0x80030019

    got = await c.execute([MSG.ReadRecipientsRequest(LOGON_ID, 1, 0, 0),
                           MSG.ReadRecipientsRequest(LOGON_ID, 1, opened.recipient_count, 0)], handles)
    rr, past = got.rops
    assert rr.return_value == 0 and rr.recipient_rows[0].row_id == 0
    first = rr.recipient_rows[0].row(opened.recipient_columns)
    assert first.display_name == opened.recipient_rows[0].recipient_row.display_name
    assert past.return_value == EC_NOT_FOUND

    got = await c.execute([ReleaseRequest(LOGON_ID, 3), ReleaseRequest(LOGON_ID, 1),
                           S.ReadStreamRequest(LOGON_ID, 3, 10),
                           PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, (P.PidTagSubject,))], handles)
    assert [r.return_value for r in got.rops] == [EC_NULL_OBJECT, EC_NULL_OBJECT]

    # an unknown MID: ecNotFound, and no object in the output slot; a property the message lacks: ecNotFound
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, inbox, 0x00, (0xFFFFFF << 16) | 1),
        MSG.OpenMessageRequest(LOGON_ID, 0, 2, 0x0FFF, inbox, 0x00, mid),
        S.OpenStreamRequest(LOGON_ID, 2, 3, 0x7FFF001F, 0x00),
        S.OpenStreamRequest(LOGON_ID, 2, 3, P.PidTagBody, 0x01),
    ], [folder_h, NO, NO, NO])
    missing, again, nostream, rw = got.rops
    assert missing.return_value == EC_NOT_FOUND and missing.handle_index == 1
    assert got.handles[1] == NO
    assert again.return_value == 0
    assert nostream.return_value == EC_NOT_FOUND
    assert rw.return_value == 0x80070005          # writing a message opened read-only: ecAccessDenied


def imap_seen(gw, login="alice") -> dict[str, bool]:
    """Subject -> whether IMAP holds the message as read (\\Seen), as any mail program shows it."""
    out = {}
    with imaplib.IMAP4(gw.state.config.imap.host, gw.state.config.imap.port) as im:
        im.login(login, f"{login}pw")
        im.select("INBOX", readonly=True)
        _, data = im.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for d in data:
        if isinstance(d, tuple):
            msg = email.message_from_bytes(d[1], policy=email.policy.default)
            out[str(msg["Subject"] or "")] = b"\\Seen" in d[0]
    return out


async def test_set_read_flags_is_seen_over_imap(gw):
    """RopSetReadFlags marks a message read, then unread again: IMAP (any other mail program) sees both."""
    await asyncio.to_thread(deliver, gw, "alice@example.test", f"emsmdb seen {uuid.uuid4().hex[:8]}")
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    cols = (P.PidTagMid, P.PidTagSubject, P.PidTagMessageFlags)
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0),
        F.GetContentsTableRequest(LOGON_ID, 1, 2, 0),
        T.SetColumnsRequest(LOGON_ID, 2, 0, cols),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, 100),
    ], [logon_h, NO, NO])
    folder_h = got.handles[1]
    mid, subject, flags = next(r.values for r in got.rops[3].rows(cols) if r.values[1])
    for read in (not flags & P.MSGFLAG_READ, bool(flags & P.MSGFLAG_READ)):      # change it, then put it back
        got = await c.execute([MSG.SetReadFlagsRequest(LOGON_ID, 0, 0, 0x00 if read else 0x04, (mid,))],
                              [folder_h])
        assert got.rops[0].return_value == 0 and got.rops[0].partial_completion == 0
        assert (await asyncio.to_thread(imap_seen, gw))[subject] is read
    # an id that is not in the folder: the others are done, the answer says PartialCompletion
    got = await c.execute([MSG.SetReadFlagsRequest(LOGON_ID, 0, 0, 0x00, (mid, 0x7FFF_0000_0000_0001))], [folder_h])
    assert got.rops[0].return_value == 0 and got.rops[0].partial_completion == 1
    got = await c.execute([MSG.SetReadFlagsRequest(LOGON_ID, 0, 0, 0x04 if not flags & P.MSGFLAG_READ else 0x00,
                                                   (mid,))], [folder_h])
    assert got.rops[0].return_value == 0


def imap_folders(gw, login="alice") -> set[str]:
    with imaplib.IMAP4(gw.state.config.imap.host, gw.state.config.imap.port) as im:
        im.login(login, f"{login}pw")
        _, data = im.list()
    return {d.decode().rsplit(' "/" ', 1)[-1].strip('"') for d in data if d}


async def test_create_and_delete_a_folder(gw):
    """RopCreateFolder under the IPM subtree makes an IMAP folder another mail program sees; the same name
    again is ecDuplicateName, with OpenExisting the folder already there; RopDeleteFolder of a special folder
    is ecAccessDenied; of the new one, it is gone from IMAP."""
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    name = f"MAPI {uuid.uuid4().hex[:6]}"
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("ipm_subtree"), 0),
                           F.CreateFolderRequest(LOGON_ID, 1, 2, 1, 1, 0, 0, name, "")], [logon_h, NO, NO])
    created = got.rops[1]
    assert created.return_value == 0 and created.is_existing_folder == 0 and created.folder_id
    subtree_h = got.handles[1]
    assert name in await asyncio.to_thread(imap_folders, gw)
    again = await c.execute([F.CreateFolderRequest(LOGON_ID, 0, 1, 1, 1, 0, 0, name, "")], [subtree_h, NO])
    assert again.rops[0].return_value == 0x80040604                      # ecDuplicateName
    existing = await c.execute([F.CreateFolderRequest(LOGON_ID, 0, 1, 1, 1, 1, 0, name, "")], [subtree_h, NO])
    assert existing.rops[0].is_existing_folder == 1 and existing.rops[0].folder_id == created.folder_id
    special = await c.execute([F.DeleteFolderRequest(LOGON_ID, 0, 0x15, lr.folder("inbox"))], [subtree_h])
    assert special.rops[0].return_value == 0x80070005                    # ecAccessDenied
    gone = await c.execute([F.DeleteFolderRequest(LOGON_ID, 0, 0x15, created.folder_id)], [subtree_h])
    assert gone.rops[0].return_value == 0 and gone.rops[0].partial_completion == 0
    assert name not in await asyncio.to_thread(imap_folders, gw)
