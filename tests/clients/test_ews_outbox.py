"""EWS while the SMTP server is down (raw SOAP, embedded stack): SendItem and CreateItem SendAndSaveCopy
answer NoError as Exchange does when it queues, the message waits in the Outbox, and a gateway started
again with the server back sends it (the queue is in the state database)."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from protocols.ews.ns import child, children, text
from tests.integration.test_outbox import closed_port
from tests.stacks import _gateway, embedded_config

from .test_ews_soap import call, codes, messages


async def subjects_in(gw, folder: str) -> list[str]:
    _, p = await call(gw, '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape>'
                          '</m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="200" Offset="0" '
                          f'BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/>'
                          '</m:ParentFolderIds></m:FindItem>')
    assert codes(p) == ["NoError"]
    return [text(i, "Subject") for i in children(child(child(messages(p)[0], "RootFolder"), "Items"))]


def message_xml(subject: str) -> str:
    return (f'<t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">hello</t:Body>'
            '<t:ToRecipients><t:Mailbox><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox>'
            '</t:ToRecipients></t:Message>')


async def test_send_while_smtp_is_down_is_queued_in_the_outbox(embedded, tmp_path):
    cfg = embedded_config(embedded, str(tmp_path / "state.sqlite3"))
    down = replace(cfg, smtp=replace(cfg.smtp, port=closed_port(), retry_schedule=[3.0]))
    first, second = f"outbox send {uuid.uuid4().hex[:8]}", f"outbox create {uuid.uuid4().hex[:8]}"
    gw = await _gateway(down, tmp_path)
    try:
        _, p = await call(gw, '<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>'
                              '<t:DistinguishedFolderId Id="drafts"/></m:SavedItemFolderId><m:Items>'
                              f'{message_xml(first)}</m:Items></m:CreateItem>')
        assert codes(p) == ["NoError"]
        item_id = child(child(messages(p)[0], "Items")[0], "ItemId")
        _, p = await call(gw, '<m:SendItem SaveItemToFolder="true"><m:ItemIds>'
                              f'<t:ItemId Id="{item_id.get("Id")}" ChangeKey="{item_id.get("ChangeKey")}"/>'
                              '</m:ItemIds><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/>'
                              '</m:SavedItemFolderId></m:SendItem>')
        assert codes(p) == ["NoError"], p
        _, p = await call(gw, '<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId>'
                              '<t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items>'
                              f'{message_xml(second)}</m:Items></m:CreateItem>')
        assert codes(p) == ["NoError"]
        outbox = await subjects_in(gw, "outbox")
        assert first in outbox and second in outbox
        assert first not in await subjects_in(gw, "drafts")
    finally:
        await gw.stop()

    # the gateway again, with the mail server back: its worker sends what waited
    gw = await _gateway(replace(cfg, smtp=replace(cfg.smtp, retry_schedule=[0.5])), tmp_path)
    try:
        for _ in range(100):
            sent = await subjects_in(gw, "sentitems")
            if first in sent and second in sent:
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail(f"the queued messages were not sent: {await subjects_in(gw, 'outbox')}")
        outbox = await subjects_in(gw, "outbox")
        assert first not in outbox and second not in outbox
    finally:
        await gw.stop()
