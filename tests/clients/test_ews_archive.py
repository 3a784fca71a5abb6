"""ArchiveItem moves mail into the user's Archive folder, seen there over plain IMAP."""
from __future__ import annotations

import asyncio
import imaplib
import uuid

import pytest

from protocols.ews.ns import child, text

from .test_ews_soap import call, codes, messages


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def _imap_subjects(host, port, folder):
    conn = imaplib.IMAP4(host, port)
    try:
        conn.login("alice", "alicepw")
        typ, _ = conn.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            return []
        _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [p[1].decode(errors="replace") for p in data if isinstance(p, tuple)]
    finally:
        conn.logout()


async def test_archive_item(gw):
    subject = f"archive me {uuid.uuid4().hex[:8]}"
    _, p = await call(gw, '<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>'
                          '<t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId><m:Items><t:Message>'
                          f'<t:Subject>{subject}</t:Subject><t:Body BodyType="Text">x</t:Body></t:Message>'
                          '</m:Items></m:CreateItem>')
    item_id = child(child(messages(p)[0], "Items")[0], "ItemId").get("Id")
    _, p = await call(gw, '<m:ArchiveItem><m:ArchiveSourceFolderId><t:DistinguishedFolderId Id="inbox"/>'
                          f'</m:ArchiveSourceFolderId><m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds>'
                          '</m:ArchiveItem>')
    assert codes(p) == ["NoError"]
    moved = child(child(messages(p)[0], "Items")[0], "ItemId").get("Id")
    _, p = await call(gw, f'<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>'
                          f'<m:ItemIds><t:ItemId Id="{moved}"/></m:ItemIds></m:GetItem>')
    assert codes(p) == ["NoError"]
    _, f = await call(gw, '<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape>'
                          '</m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/>'
                          '</m:ParentFolderIds></m:FindFolder>')
    assert b"<t:DisplayName>Archive</t:DisplayName>" in __import__("lxml.etree", fromlist=["tostring"]).tostring(f)
    imap = gw.state.config.imap
    subjects = await asyncio.to_thread(_imap_subjects, imap.host, imap.port, "Archive")
    assert any(subject in s for s in subjects)
    # an unknown id is an error message of its own, not a failed request
    _, p = await call(gw, '<m:ArchiveItem><m:ArchiveSourceFolderId><t:DistinguishedFolderId Id="inbox"/>'
                          '</m:ArchiveSourceFolderId><m:ItemIds><t:ItemId Id="bm90IGFuIGlk"/></m:ItemIds>'
                          '</m:ArchiveItem>')
    assert codes(p)[0].startswith("Error") and text(messages(p)[0], "MessageText")


async def _folder_names(gw, user) -> set[str]:
    _, f = await call(gw, '<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape>'
                          '</m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/>'
                          '</m:ParentFolderIds></m:FindFolder>', user=user)
    return {e.text for e in f.iter("{*}DisplayName")}


async def test_denied_archive_item_creates_no_folder(gw):
    # carol asks to archive alice's item and a malformed id: two errors, and no Archive folder for carol
    _, p = await call(gw, '<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>'
                          '<t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId><m:Items><t:Message>'
                          '<t:Subject>not yours</t:Subject></t:Message></m:Items></m:CreateItem>')
    alices = child(child(messages(p)[0], "Items")[0], "ItemId").get("Id")
    carol = ("carol@example.test", "carolpw")
    before = await _folder_names(gw, carol)
    _, p = await call(gw, '<m:ArchiveItem><m:ArchiveSourceFolderId><t:DistinguishedFolderId Id="inbox"/>'
                          f'</m:ArchiveSourceFolderId><m:ItemIds><t:ItemId Id="{alices}"/><t:ItemId Id="AAAA"/>'
                          '</m:ItemIds></m:ArchiveItem>', user=carol)
    assert codes(p) == ["ErrorAccessDenied", "ErrorInvalidIdMalformed"], codes(p)
    after = await _folder_names(gw, carol)
    assert ("Archive" in after) == ("Archive" in before)
