"""MAPI over HTTP, writing as Outlook's online mode does, on both gateways (demo and the real servers), each
step checked against the backends over plain IMAP:

- compose and send: RopCreateMessage in the Outbox, RopSetProperties (with a named property mapped by
  RopGetPropertyIdsFromNames), RopModifyRecipients, an attachment whose bytes go by stream
  (RopCreateAttachment, RopOpenStream Create, RopWriteStream, RopCommitStream, RopSaveChangesAttachment),
  RopSaveChangesMessage, RopSubmitMessage: the message with its attachment is in bob's IMAP inbox, the
  copy in alice's Sent folder, nothing left in the Outbox;
- a folder created, renamed with RopSetProperties(PidTagDisplayName) and deleted, seen over IMAP;
- a message saved in a folder and read back with its attachment table and the attachment's stream.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import os
import uuid

import pytest

from protocols.mapi.props import core as P
from protocols.mapi.props.named import PSETID
from protocols.rops import folder as F, message as MSG, property as PR, stream as S, table as T
from protocols.rops.recipients import TYPE_SMTP, RecipientRow, encode_recipient_row
from protocols.rops.rows import ROW_STANDARD, PropertyRow

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon

RECIPIENT_COLUMNS = (P.PidTagObjectType, P.PidTagDisplayType, P.PidTagRecipientDisplayName, P.PidTagSmtpAddress)
KEEP_OPEN_READ_WRITE = 0x02
OPEN_CREATE = 0x02
MAPI_CREATE = 0x02


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def _imap(gw, login):
    cfg = gw.state.config.imap
    im = imaplib.IMAP4(cfg.host, cfg.port)
    im.login(login, f"{login}pw")
    return im


def imap_find(gw, login: str, subject: str, *, folder_hint: str = "INBOX"):
    """(folder, parsed message) of the first message with ``subject`` in folders whose name has
    ``folder_hint`` (case-insensitive), or None."""
    im = _imap(gw, login)
    try:
        _, lines = im.list()
        names = []
        for line in lines:
            name = line.decode().rsplit(' "', 1)[-1].rstrip('"') if line.decode().endswith('"') \
                else line.decode().split(" ")[-1]
            if folder_hint.lower() in name.lower():
                names.append(name)
        for name in names:
            if im.select(f'"{name}"', readonly=True)[0] != "OK":
                continue
            _, data = im.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
            uids = data[0].split()
            if uids:
                _, got = im.uid("FETCH", uids[-1], "(BODY.PEEK[])")
                raw = next(p[1] for p in got if isinstance(p, tuple))
                return name, email.message_from_bytes(raw, policy=email.policy.default)
        return None
    finally:
        im.logout()


async def wait_for(fn, *args, seconds=20.0, **kw):
    for _ in range(int(seconds * 4)):
        got = await asyncio.to_thread(fn, *args, **kw)
        if got:
            return got
        await asyncio.sleep(0.25)
    return None


def recipient(name: str, address: str) -> MSG.ModifyRecipientRow:
    row = RecipientRow.build(type=TYPE_SMTP, email_address=address, display_name=name,
                             transmittable_display_name=name, column_count=len(RECIPIENT_COLUMNS),
                             properties=PropertyRow(ROW_STANDARD, (6, 0, name, address)))
    return MSG.ModifyRecipientRow(0, 1, encode_recipient_row(row, RECIPIENT_COLUMNS, codepage="cp1252"))


async def test_compose_and_send_with_an_attachment(gw):
    tag = uuid.uuid4().hex[:8]
    subject = f"mapi send {tag}"
    payload = os.urandom(5000) + b"\x00 the end"
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    outbox = lr.folder("outbox")
    keyword = PR.PropertyName(PR.KIND_NAME, PSETID.Common, name=f"exgate-test-{tag}")

    # the named property's id, then the message with its properties and recipient
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, outbox, 0),
        MSG.CreateMessageRequest(LOGON_ID, 1, 2, 0x0FFF, outbox, 0),
        PR.GetPropertyIdsFromNamesRequest(LOGON_ID, 2, MAPI_CREATE, (keyword,)),
    ], [logon_h, NO, NO])
    opened, created, ids = got.rops
    assert opened.return_value == 0 and created.return_value == 0 and created.message_id is None
    assert ids.return_value == 0 and ids.property_ids[0] >= 0x8000
    named_tag = (ids.property_ids[0] << 16) | 0x001F
    msg_h = got.handles[2]
    got = await c.execute([
        PR.SetPropertiesRequest(LOGON_ID, 0, ((P.PidTagSubject, subject), (P.PidTagMessageClass, "IPM.Note"),
                                              (P.PidTagBody, f"hello bob, {tag}"), (named_tag, "kept"),
                                              (P.PidTagMid, 7))),
        MSG.ModifyRecipientsRequest(LOGON_ID, 0, RECIPIENT_COLUMNS, (recipient("Bob", "bob@example.test"),)),
        MSG.CreateAttachmentRequest(LOGON_ID, 0, 1),
        PR.SetPropertiesRequest(LOGON_ID, 1, ((P.PidTagAttachLongFilename, "data.bin"), (P.PidTagAttachMethod, 1),
                                              (P.PidTagAttachMimeTag, "application/octet-stream"))),
        S.OpenStreamRequest(LOGON_ID, 1, 2, P.PidTagAttachDataBinary, OPEN_CREATE),
        S.WriteStreamRequest(LOGON_ID, 2, payload[:3000]),
        S.WriteStreamRequest(LOGON_ID, 2, payload[3000:]),
        S.CommitStreamRequest(LOGON_ID, 2),
        MSG.SaveChangesAttachmentRequest(LOGON_ID, 1, 1, KEEP_OPEN_READ_WRITE),
        MSG.GetAttachmentTableRequest(LOGON_ID, 0, 3, 0),
        T.SetColumnsRequest(LOGON_ID, 3, 0, (P.PidTagAttachNumber, P.PidTagAttachLongFilename, P.PidTagAttachSize)),
        T.QueryRowsRequest(LOGON_ID, 3, 0, 1, 10),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 0, 0, 1, (P.PidTagSubject, named_tag, P.PidTagHasAttachments)),
    ], [msg_h, NO, NO, NO])
    (setp, modr, catt, setatt, ostream, w1, w2, commit, satt, atable, _, arows, props) = got.rops
    # PidTagMid is the store's: a PropertyProblem for it, the other values set
    assert setp.return_value == 0 and [(p.index, p.tag) for p in setp.property_problems] == [(4, P.PidTagMid)]
    assert modr.return_value == 0 and catt.return_value == 0 and catt.attachment_id == 0
    assert setatt.return_value == 0 and not setatt.property_problems
    assert ostream.return_value == 0 and ostream.stream_size == 0
    assert (w1.written_size, w2.written_size) == (3000, len(payload) - 3000)
    assert commit.return_value == 0 and satt.return_value == 0
    assert atable.return_value == 0
    assert [r.values for r in arows.rows((P.PidTagAttachNumber, P.PidTagAttachLongFilename, P.PidTagAttachSize))] \
        == [(0, "data.bin", len(payload))]
    values = props.row((P.PidTagSubject, named_tag, P.PidTagHasAttachments)).values
    assert values == (subject, "kept", True)

    # saved: it has a MID; then submitted
    got = await c.execute([MSG.SaveChangesMessageRequest(LOGON_ID, 0, 0, KEEP_OPEN_READ_WRITE),
                           MSG.SubmitMessageRequest(LOGON_ID, 0, 0)], [msg_h])
    saved, submitted = got.rops
    assert saved.return_value == 0 and saved.message_id
    assert submitted.return_value == 0, hex(submitted.return_value)

    found = await wait_for(imap_find, gw, "bob", subject)
    assert found, "the message never reached bob's IMAP inbox"
    _, mail = found
    assert "alice@example.test" in str(mail["From"]) and "bob@example.test" in str(mail["To"])
    assert mail.get_body(preferencelist=("plain",)).get_content().strip() == f"hello bob, {tag}"
    atts = list(mail.iter_attachments())
    assert [a.get_filename() for a in atts] == ["data.bin"]
    assert atts[0].get_content() == payload
    sent = await wait_for(imap_find, gw, "alice", subject, folder_hint="sent")
    assert sent, "no copy in alice's Sent folder"
    assert await asyncio.to_thread(imap_find, gw, "alice", subject, folder_hint="outbox") is None


async def test_submit_without_recipients_is_refused_and_kept(gw):
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    outbox = lr.folder("outbox")
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, outbox, 0),
        MSG.CreateMessageRequest(LOGON_ID, 1, 2, 0x0FFF, outbox, 0),
        PR.SetPropertiesRequest(LOGON_ID, 2, ((P.PidTagSubject, "nobody to send to"),)),
        MSG.SubmitMessageRequest(LOGON_ID, 2, 0),
        S.OpenStreamRequest(LOGON_ID, 2, 3, P.PidTagBody, 0x07),
    ], [logon_h, NO, NO, NO])
    submitted, bad_mode = got.rops[3], got.rops[4]
    assert submitted.return_value == 0x80040607          # MAPI_E_NO_RECIPIENTS, and the session goes on
    assert bad_mode.return_value == 0x80070057


async def test_folder_created_renamed_deleted_seen_over_imap(gw):
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0),
        F.CreateFolderRequest(LOGON_ID, 1, 2, 1, 1, 0, 0, f"Projects {tag}", ""),
    ], [logon_h, NO, NO])
    created = got.rops[1]
    assert created.return_value == 0
    inbox_h, folder_h = got.handles[1], got.handles[2]
    got = await c.execute([PR.SetPropertiesRequest(LOGON_ID, 0, ((P.PidTagDisplayName, f"Renamed {tag}"),))],
                          [folder_h])
    assert got.rops[0].return_value == 0 and not got.rops[0].property_problems

    def names():
        im = _imap(gw, "alice")
        try:
            return [line.decode() for line in im.list()[1]]
        finally:
            im.logout()
    listed = await asyncio.to_thread(names)
    assert any(f"Renamed {tag}" in n for n in listed) and not any(f"Projects {tag}" in n for n in listed)
    got = await c.execute([F.DeleteFolderRequest(LOGON_ID, 0, 0x05, created.folder_id)], [inbox_h])
    assert got.rops[0].return_value == 0 and not got.rops[0].partial_completion
    assert not any(f"Renamed {tag}" in n for n in await asyncio.to_thread(names))


async def test_saved_message_reopened_with_its_attachment(gw):
    """Save (not send) into a folder, then open it again as another object: the attachment table and the
    attachment's bytes come back from the store, and IMAP has the message."""
    tag = uuid.uuid4().hex[:8]
    subject = f"mapi saved {tag}"
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("ipm_subtree"), 0),
                           F.CreateFolderRequest(LOGON_ID, 1, 2, 1, 1, 0, 0, f"Saved {tag}", "")], [logon_h, NO, NO])
    assert got.rops[1].return_value == 0
    inbox = got.rops[1].folder_id            # a folder of its own: other tests read the Inbox's newest
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, inbox, 0),
        MSG.CreateMessageRequest(LOGON_ID, 1, 2, 0x0FFF, inbox, 0),
        PR.SetPropertiesRequest(LOGON_ID, 2, ((P.PidTagSubject, subject), (P.PidTagBody, "note to self"))),
        MSG.CreateAttachmentRequest(LOGON_ID, 2, 3),
        PR.SetPropertiesRequest(LOGON_ID, 3, ((P.PidTagAttachLongFilename, "notes.txt"),
                                              (P.PidTagAttachDataBinary, b"line one\r\nline two\r\n"),
                                              (P.PidTagAttachMimeTag, "text/plain"))),
        MSG.SaveChangesAttachmentRequest(LOGON_ID, 3, 3, 0),
        MSG.SaveChangesMessageRequest(LOGON_ID, 2, 2, 0x01),
    ], [logon_h, NO, NO, NO])
    assert all(r.return_value == 0 for r in got.rops), [hex(r.return_value) for r in got.rops]
    mid = got.rops[-1].message_id
    found = await wait_for(imap_find, gw, "alice", subject, folder_hint=f"Saved {tag}")
    assert found and [a.get_filename() for a in found[1].iter_attachments()] == ["notes.txt"]

    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, inbox, 0x00, mid),
        MSG.GetAttachmentTableRequest(LOGON_ID, 1, 2, 0),
        T.SetColumnsRequest(LOGON_ID, 2, 0, (P.PidTagAttachNumber, P.PidTagAttachLongFilename)),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, 10),
    ], [got.handles[1], NO, NO])
    assert all(r.return_value == 0 for r in got.rops)
    rows = [r.values for r in got.rops[3].rows((P.PidTagAttachNumber, P.PidTagAttachLongFilename))]
    assert [name for _, name in rows] == ["notes.txt"]
    msg_h = got.handles[1]
    got = await c.execute([
        MSG.OpenAttachmentRequest(LOGON_ID, 0, 1, 0, rows[0][0]),
        S.OpenStreamRequest(LOGON_ID, 1, 2, P.PidTagAttachDataBinary, 0),
        S.ReadStreamRequest(LOGON_ID, 2, 0x1000),
        S.WriteStreamRequest(LOGON_ID, 2, b"x"),
        MSG.OpenAttachmentRequest(LOGON_ID, 0, 3, 0, 99),
    ], [msg_h, NO, NO, NO])
    opened, stream, read, write, missing = got.rops
    assert opened.return_value == 0 and stream.return_value == 0
    assert read.data == b"line one\r\nline two\r\n"
    assert write.return_value == 0x80030005               # the stream of a read-only attachment
    assert missing.return_value == 0x8004010F
