"""MAPI over HTTP against the demo gateway: the store ROPs of a private logon (receive folders, store state,
per-user information), RopSetMessageReadFlag seen over IMAP, RopReloadCachedInformation, an embedded
message made with RopOpenEmbeddedMessage and found again (and in the MIME IMAP holds), RopGetValidAttachments,
RopTransportSend reaching bob, the spooler-only ROPs refused, RopOptionsData, and the permissions table
(changing it refused, not pretended)."""
from __future__ import annotations

import asyncio
import uuid

from protocols.mapi.props import core as P
from protocols.rops import copy as C, embedded as E, folder as F, logon as L, message as MSG, permissions as PM
from protocols.rops import property as PR, stream as S, table as T, transport as TR
from protocols.rops.rows import decode_rows

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_emsmdb_folderops import make_folder_with_messages
from .test_emsmdb_send import RECIPIENT_COLUMNS, _imap, imap_find, recipient, wait_for

EC_NOT_FOUND, EC_NO_SUPPORT = 0x8004010F, 0x80040102


async def test_store_rops_of_a_private_logon(demo_gateway):
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    inbox, sent = lr.folder("inbox"), lr.folder("sent_items")
    got = await c.execute([
        L.GetReceiveFolderTableRequest(LOGON_ID, 0),
        L.SetReceiveFolderRequest(LOGON_ID, 0, inbox, "IPM.Note"),
        L.SetReceiveFolderRequest(LOGON_ID, 0, sent, "IPM.Note"),
        L.GetStoreStateRequest(LOGON_ID, 0),
        L.GetPerUserLongTermIdsRequest(LOGON_ID, 0, uuid.uuid4()),
        L.GetPerUserGuidRequest(LOGON_ID, 0, L.LongTermId(uuid.uuid4(), 5)),
        L.ReadPerUserInformationRequest(LOGON_ID, 0, L.LongTermId(uuid.uuid4(), 5), 0, 0, 4096),
    ], [logon_h])
    table, ok, refused, state, ltids, guid, per_user = got.rops
    rows, _ = decode_rows(table.row_data, table.row_count, L.RECEIVE_FOLDER_COLUMNS)
    by_class = {r.values[1]: r.values[0] for r in rows}
    assert by_class[""] == inbox and by_class["IPM"] == inbox and by_class["IPC"] == lr.folder("root")
    assert ok.return_value == 0 and refused.return_value == EC_NO_SUPPORT
    assert state.return_value == 0 and state.store_state == 0
    assert ltids.long_term_ids == () and guid.return_value == EC_NOT_FOUND
    assert per_user.has_finished == 1 and per_user.data == b""


async def test_read_flag_reload_embedded_message_and_valid_attachments(demo_gateway):
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    subject = f"outer {tag}"
    _, folder_h, fid, (mid,) = await make_folder_with_messages(c, logon_h, lr, f"More {tag}", [subject])
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0x01, mid),
        MSG.SetMessageReadFlagRequest(LOGON_ID, 1, 1, 0x04),           # unread (a saved new message is read)
        MSG.SetMessageReadFlagRequest(LOGON_ID, 1, 1, 0x00),           # read
        MSG.SetMessageReadFlagRequest(LOGON_ID, 1, 1, 0x00),           # again: nothing changes
        MSG.ReloadCachedInformationRequest(LOGON_ID, 1, 0),
        MSG.CreateAttachmentRequest(LOGON_ID, 1, 2),
        E.OpenEmbeddedMessageRequest(LOGON_ID, 2, 3, 0x0FFF, 0x00),      # no message inside yet
        E.OpenEmbeddedMessageRequest(LOGON_ID, 2, 3, 0x0FFF, 0x02),      # Create
        PR.SetPropertiesRequest(LOGON_ID, 3, ((P.PidTagSubject, f"inner {tag}"), (P.PidTagBody, "inside"))),
        MSG.SaveChangesMessageRequest(LOGON_ID, 3, 3, 0x02),
        MSG.SaveChangesAttachmentRequest(LOGON_ID, 2, 2, 0x02),
        MSG.SaveChangesMessageRequest(LOGON_ID, 1, 1, 0x02),
        E.GetValidAttachmentsRequest(LOGON_ID, 1),
    ], [folder_h, NO, NO, NO])
    (opened, unread, first, second, reload, catt, missing, embedded, setp, save_inner, save_att, save_outer,
     valid) = got.rops
    assert opened.return_value == 0
    assert unread.read_status_changed == 1
    assert first.read_status_changed == 1 and second.read_status_changed == 0
    assert reload.normalized_subject.value == subject
    assert catt.return_value == 0 and missing.return_value == EC_NOT_FOUND
    assert embedded.return_value == 0 and setp.return_value == 0
    assert save_inner.return_value == 0 and save_att.return_value == 0
    assert save_outer.return_value == 0 and save_outer.message_id == mid
    assert valid.attachment_ids == (0,)

    def seen_and_parts():
        im = _imap(demo_gateway, "alice")
        try:
            im.select(f'"More {tag}"', readonly=True)
            _, data = im.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
            uid = data[0].split()[-1]
            _, got = im.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
            flags = got[0][0].decode()
            return "\\Seen" in flags, got[0][1]
        finally:
            im.logout()
    seen, raw = await asyncio.to_thread(seen_and_parts)
    assert seen and b"message/rfc822" in raw and f"inner {tag}".encode() in raw

    # opened again from the store: the attachment holds the inner message
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0x00, mid),
        MSG.OpenAttachmentRequest(LOGON_ID, 1, 2, 0, 0),
        E.OpenEmbeddedMessageRequest(LOGON_ID, 2, 3, 0x0FFF, 0x00),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 3, 0, 1, (P.PidTagSubject,)),
    ], [folder_h, NO, NO, NO])
    assert [r.return_value for r in got.rops] == [0, 0, 0, 0]
    assert got.rops[2].normalized_subject.value == f"inner {tag}"
    assert got.rops[3].row((P.PidTagSubject,)).values == (f"inner {tag}",)


async def test_transport_send_spooler_rops_options_and_permissions(demo_gateway):
    tag = uuid.uuid4().hex[:8]
    subject = f"transport send {tag}"
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    outbox = lr.folder("outbox")
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, outbox, 0),
        MSG.CreateMessageRequest(LOGON_ID, 1, 2, 0x0FFF, outbox, 0),
        PR.SetPropertiesRequest(LOGON_ID, 2, ((P.PidTagSubject, subject), (P.PidTagBody, "sent by TransportSend"))),
        MSG.ModifyRecipientsRequest(LOGON_ID, 2, RECIPIENT_COLUMNS, (recipient("Bob", "bob@example.test"),)),
        TR.TransportSendRequest(LOGON_ID, 2),
        TR.SpoolerLockMessageRequest(LOGON_ID, 0, 1, 1),
        TR.TransportNewMailRequest(LOGON_ID, 0, 1, outbox, "IPM.Note", 0),
        TR.OptionsDataRequest(LOGON_ID, 0, "SMTP", 1),
        PM.GetPermissionsTableRequest(LOGON_ID, 1, 3, 0),
        T.SetColumnsRequest(LOGON_ID, 3, 0, (P.PidTagMemberId, P.PidTagMemberName, P.PidTagMemberRights)),
        T.QueryRowsRequest(LOGON_ID, 3, 0, 1, 10),
        PM.ModifyPermissionsRequest(LOGON_ID, 1, 0, (PM.PermissionData(PM.ROW_MODIFY, (
            (P.PidTagMemberId, 0), (P.PidTagMemberRights, 0x7FB))),)),
    ], [logon_h, NO, NO, NO])
    (_, _, _, _, send, lock, newmail, options, perms, _, rows, modify) = got.rops
    assert send.return_value == 0 and send.no_properties_returned == 1
    assert lock.return_value == EC_NO_SUPPORT and newmail.return_value == EC_NO_SUPPORT
    assert options.return_value == 0 and options.help_file == b""
    assert perms.return_value == 0
    members = [r.values for r in rows.rows((P.PidTagMemberId, P.PidTagMemberName, P.PidTagMemberRights))]
    assert members == [(0, "", 0), (0xFFFFFFFFFFFFFFFF, "Anonymous", 0)]
    assert modify.return_value == EC_NO_SUPPORT
    assert await wait_for(imap_find, demo_gateway, "bob", subject), "TransportSend did not reach bob"


async def test_copy_properties_copy_to_and_streams(demo_gateway):
    """RopCopyProperties (with NoOverwrite and a missing tag), RopCopyTo with sub-objects into a new message
    saved and read back, RopCloneStream and RopCopyToStream, and ecDstNullObject for a destination not open."""
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    _, folder_h, fid, (mid,) = await make_folder_with_messages(c, logon_h, lr, f"Copy {tag}", [f"source {tag}"])
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0x01, mid),
        MSG.ModifyRecipientsRequest(LOGON_ID, 1, RECIPIENT_COLUMNS, (recipient("Bob", "bob@example.test"),)),
        MSG.CreateMessageRequest(LOGON_ID, 0, 2, 0x0FFF, fid, 0),
        PR.SetPropertiesRequest(LOGON_ID, 2, ((P.PidTagSubject, f"target {tag}"),)),
        C.CopyPropertiesRequest(LOGON_ID, 1, 2, 0, C.COPY_NO_OVERWRITE, (P.PidTagSubject, P.PidTagBody,
                                                                         P.PidTagComment)),
        C.CopyToRequest(LOGON_ID, 1, 2, 0, 1, C.COPY_NO_OVERWRITE, (P.PidTagBody,)),
        MSG.SaveChangesMessageRequest(LOGON_ID, 2, 2, 0x02),
        C.CopyPropertiesRequest(LOGON_ID, 1, 9, 0, 0, (P.PidTagSubject,)),
    ], [folder_h, NO, NO])
    (_, _, _, _, props, copyto, saved, null) = got.rops
    assert props.return_value == 0 and [(p.index, p.error_code) for p in props.property_problems] == [(2, EC_NOT_FOUND)]
    assert copyto.return_value == 0 and saved.return_value == 0
    assert null.return_value == C.EC_DST_NULL_OBJECT and null.dest_handle_index == 9
    new_mid = saved.message_id
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, fid, 0x01, new_mid),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, (P.PidTagSubject, P.PidTagBody)),
        S.OpenStreamRequest(LOGON_ID, 1, 2, P.PidTagBody, 0x00),
        S.CloneStreamRequest(LOGON_ID, 2, 3),
        S.OpenStreamRequest(LOGON_ID, 1, 4, P.PidTagComment, 0x02),
        C.CopyToStreamRequest(LOGON_ID, 3, 4, 1000),
        S.CommitStreamRequest(LOGON_ID, 4),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, (P.PidTagComment,)),
    ], [folder_h, NO, NO, NO, NO])
    opened, values, stream, clone, target, copied, commit, comment = got.rops
    # the subject stayed (NoOverwrite), the body came; the recipient came with the sub-objects
    assert values.row((P.PidTagSubject, P.PidTagBody)).values[0] == f"target {tag}"
    assert opened.recipient_count == 1
    body = values.row((P.PidTagSubject, P.PidTagBody)).values[1]
    assert clone.return_value == 0 and copied.read_byte_count == copied.written_byte_count == len(body) * 2
    assert comment.row((P.PidTagComment,)).values == (body,)


async def test_folder_permissions_are_the_imap_acl(real_gateway):
    """On Dovecot with ACL: bob added as a member with read rights by his address book EntryID is bob's
    "lrs" in GETACL over plain IMAP; modified, then removed by his PidTagMemberId."""
    from gateway.nspi.rows import permanent_entry_id
    tag = uuid.uuid4().hex[:6]
    gw = real_gateway
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    _, folder_h, fid, _ = await make_folder_with_messages(c, logon_h, lr, f"Shared {tag}", [f"shared {tag}"])
    bob = permanent_entry_id("/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=bob", 0)
    cols = (P.PidTagMemberId, P.PidTagMemberName, P.PidTagMemberRights)
    READ, VISIBLE, CREATE = 0x1, 0x400, 0x2

    async def members():
        got = await c.execute([PM.GetPermissionsTableRequest(LOGON_ID, 0, 1, 0), T.SetColumnsRequest(LOGON_ID, 1, 0, cols),
                               T.QueryRowsRequest(LOGON_ID, 1, 0, 1, 20)], [folder_h, NO])
        return {r.values[1]: (r.values[0], r.values[2]) for r in got.rops[2].rows(cols)}

    def imap_acl():
        im = _imap(gw, "alice")
        try:
            typ, data = im.getacl(f'"Shared {tag}"')
            assert typ == "OK", data
            return data
        finally:
            im.logout()

    got = await c.execute([PM.ModifyPermissionsRequest(LOGON_ID, 0, 0, (PM.PermissionData(PM.ROW_ADD, (
        (P.PidTagEntryId, bob), (P.PidTagMemberRights, READ | VISIBLE))),))], [folder_h])
    assert got.rops[0].return_value == 0, hex(got.rops[0].return_value)
    table = await members()
    assert table["bob"][1] == READ | VISIBLE and table[""][1] == 0 and table["Anonymous"][1] == 0
    acl = b" ".join(x for x in await asyncio.to_thread(imap_acl) if x)
    assert b"bob lrs" in acl, acl
    got = await c.execute([PM.ModifyPermissionsRequest(LOGON_ID, 0, 0, (PM.PermissionData(PM.ROW_MODIFY, (
        (P.PidTagMemberId, table["bob"][0]), (P.PidTagMemberRights, READ | VISIBLE | CREATE))),))], [folder_h])
    assert got.rops[0].return_value == 0
    assert (await members())["bob"][1] == READ | VISIBLE | CREATE
    got = await c.execute([PM.ModifyPermissionsRequest(LOGON_ID, 0, 0, (PM.PermissionData(PM.ROW_REMOVE, (
        (P.PidTagMemberId, table["bob"][0]),)),))], [folder_h])
    assert got.rops[0].return_value == 0 and "bob" not in await members()
