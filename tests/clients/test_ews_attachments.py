"""exchangelib attachment sessions: file and item attachments on a draft (create, list, get back
byte-equal, delete)."""
from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from exchangelib import FileAttachment, ItemAttachment, Mailbox, Message

from .test_ews_exchangelib import account


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def _attachments(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    m = Message(account=a, folder=a.drafts, subject=f"att {tag}", body="see attached",
                to_recipients=[Mailbox(email_address="bob@example.test")])
    m.save()
    data = os.urandom(3000) + b"\x00\xff end"
    fa = FileAttachment(name="blob.bin", content=data, content_type="application/octet-stream")
    m.attach(fa)
    assert fa.attachment_id is not None
    inner = Message(account=a, subject=f"inner {tag}", body="the embedded one",
                    to_recipients=[Mailbox(email_address="carol@example.test")])
    ia = ItemAttachment(name="forwarded", item=inner)
    m.attach(ia)
    got = a.drafts.get(id=m.id)
    assert got.has_attachments
    names = sorted(x.name for x in got.attachments)
    # IMAP keeps an embedded message as a message/rfc822 part, named after its subject
    assert names[0] == "blob.bin" and names[1] in ("forwarded", f"inner {tag}"), names
    f = [x for x in got.attachments if x.name == "blob.bin"][0]
    assert isinstance(f, FileAttachment) and f.content == data          # GetAttachment, byte-equal
    it = [x for x in got.attachments if x.name != "blob.bin"][0]
    assert isinstance(it, ItemAttachment) and it.item.subject == f"inner {tag}"
    assert "embedded" in (it.item.body or "")
    got.detach(f)
    again = a.drafts.get(id=m.id)
    assert [x.name for x in again.attachments] == [it.name]
    again.delete()


async def test_file_and_item_attachments(gw):
    await asyncio.to_thread(_attachments, gw)
