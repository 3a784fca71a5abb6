"""Reply, reply all and forward (CreateItem response objects, MS-OXWSMSG) and FindItem grouping (MS-OXWSSRCH),
with exchangelib and raw SOAP against both gateways (embedded demo stack and the real servers)."""
from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import imaplib
import ssl
import time
import uuid

import aiohttp
import pytest
from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials, Message
from exchangelib.items import ReplyAllToItem
from exchangelib.properties import ReferenceItemId
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter

from protocols.ews.envelope import parse_response
from protocols.ews.ns import child, children, local, text

BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter

T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"


def account(gw, login="alice") -> Account:
    addr = f"{login}@example.test"
    cfg = Configuration(service_endpoint=gw.base_url + "/EWS/Exchange.asmx",
                        credentials=Credentials(addr, f"{login}pw"), auth_type=BASIC)
    return Account(addr, config=cfg, autodiscover=False, access_type=DELEGATE)


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def original_mime(tag: str, *, attach: bool = False) -> bytes:
    head = (f"From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>, Carol <carol@example.test>\r\n"
            f"Cc: Dave <dave@example.test>\r\nSubject: plans {tag}\r\nMessage-ID: <orig-{tag}@example.test>\r\n"
            f"References: <root-{tag}@example.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")
    if not attach:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\noriginal words here\r\n").encode()
    return (head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\noriginal words here\r\n--b1\r\n"
            'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="notes.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"\x00\x01attached").decode()
            + "\r\n--b1--\r\n").encode()


def seed(a: Account, tag: str, **kw) -> Message:
    msg = Message(account=a, folder=a.inbox, mime_content=original_mime(tag, **kw))
    msg.save()
    return a.inbox.get(id=msg.id)


def wait_for(host, port, login, subject_tag, timeout=30) -> email.message.Message:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with imaplib.IMAP4(host, port) as im:
            im.login(login, f"{login}pw")
            im.select("INBOX")
            _, data = im.search(None, "SUBJECT", f'"{subject_tag}"')
            nums = data[0].split() if data and data[0] else []
            if nums:
                _, got = im.fetch(nums[-1], "(RFC822)")
                return email.message_from_bytes(got[0][1], policy=email.policy.default)
        time.sleep(0.5)
    raise AssertionError(f"{login} never got {subject_tag}")


def imap_flags(host, port, login, subject_tag) -> str:
    with imaplib.IMAP4(host, port) as im:
        im.login(login, f"{login}pw")
        im.select("INBOX")
        _, data = im.search(None, "SUBJECT", f'"{subject_tag}"')
        nums = data[0].split()
        assert nums, subject_tag
        _, got = im.fetch(nums[-1], "(FLAGS)")
        return got[0].decode() if isinstance(got[0], bytes) else str(got[0])


def _reply_and_forward(gw, host, port):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    orig = seed(a, tag)
    orig.reply(None, "thanks, sounds good")
    got = wait_for(host, port, "bob", f"plans {tag}")
    assert got["Subject"] == f"RE: plans {tag}"
    assert got["In-Reply-To"] == f"<orig-{tag}@example.test>"
    assert f"<root-{tag}@example.test>" in got["References"] and f"<orig-{tag}@example.test>" in got["References"]
    body = got.get_body(("plain", "html")).get_content()
    assert "thanks, sounds good" in body and "original words here" in body
    assert "\\Answered" in imap_flags(host, port, "alice", f"plans {tag}")
    # the sent copy is in Sent Items
    assert [m.subject for m in a.sent.filter(subject=f"RE: plans {tag}")] == [f"RE: plans {tag}"]

    # forward keeps the attachment and marks the original $Forwarded
    tag2 = uuid.uuid4().hex[:8]
    orig2 = seed(a, tag2, attach=True)
    assert [att.name for att in orig2.attachments] == ["notes.bin"]
    from exchangelib import Mailbox
    orig2.forward(None, "see below", [Mailbox(email_address="bob@example.test")])
    got2 = wait_for(host, port, "bob", f"plans {tag2}")
    assert got2["Subject"] == f"FW: plans {tag2}"
    names = [p.get_filename() for p in got2.iter_attachments()]
    assert "notes.bin" in names
    data = next(p for p in got2.iter_attachments() if p.get_filename() == "notes.bin").get_content()
    assert data == b"\x00\x01attached"
    assert "$Forwarded" in imap_flags(host, port, "alice", f"plans {tag2}")


async def test_reply_and_forward_reach_bob(gw):
    cfg = gw.state.config.imap
    await asyncio.to_thread(_reply_and_forward, gw, cfg.host, cfg.port)


def _reply_all_draft(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    orig = seed(a, tag)
    # no recipients and no subject: the server picks them (sender + To + Cc minus alice) and prefixes RE:
    ReplyAllToItem(account=a, reference_item_id=ReferenceItemId(id=orig.id, changekey=orig.changekey),
                   new_body="draft reply").save(a.drafts)
    drafts = list(a.drafts.filter(subject=f"RE: plans {tag}"))
    assert len(drafts) == 1
    d = drafts[0]
    assert sorted(r.email_address for r in d.to_recipients) == ["bob@example.test", "carol@example.test"]
    assert [r.email_address for r in d.cc_recipients or []] == ["dave@example.test"]
    assert "draft reply" in str(d.body) and "original words here" in str(d.body)
    assert d.in_reply_to == f"<orig-{tag}@example.test>"
    # a saved draft is not a reply yet: the original is unchanged
    again = a.inbox.get(id=orig.id)
    assert again.subject == f"plans {tag}"
    return tag, d


def _send_draft(gw, d):
    a = account(gw)
    d.account = a
    d.send()      # SendItem on the saved draft
    assert not list(a.drafts.filter(subject=d.subject))


async def test_reply_all_saved_as_draft(gw):
    cfg = gw.state.config.imap
    tag, d = await asyncio.to_thread(_reply_all_draft, gw)
    assert "\\Answered" not in await asyncio.to_thread(imap_flags, cfg.host, cfg.port, "alice", f"plans {tag}")
    await asyncio.to_thread(_send_draft, gw, d)
    got = await asyncio.to_thread(wait_for, cfg.host, cfg.port, "bob", f"RE: plans {tag}")
    assert got["In-Reply-To"] == f"<orig-{tag}@example.test>"
    # sending the draft later marks the original answered, as an immediate reply does
    assert "\\Answered" in await asyncio.to_thread(imap_flags, cfg.host, cfg.port, "alice", f"plans {tag}")


# ---------------------------------------------------------------- FindItem grouping (raw SOAP)

def envelope(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
            f' xmlns:t="{T}" xmlns:m="{M}"><s:Header><t:RequestServerVersion Version="Exchange2013_SP1"/>'
            f'</s:Header><s:Body>{body}</s:Body></s:Envelope>').encode()


async def call(gw, body: str, user=("alice@example.test", "alicepw")):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    auth = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    async with aiohttp.ClientSession() as s:
        async with s.post(gw.base_url + "/EWS/Exchange.asmx", data=envelope(body), ssl=ctx,
                          headers={"Content-Type": "text/xml; charset=utf-8", "Authorization": auth}) as r:
            data = await r.read()
    _, payload = parse_response(data)
    return payload


def _seed_topics(gw, tag):
    a = account(gw)
    for subject in (f"alpha {tag}", f"RE: alpha {tag}", f"beta {tag}", f"FW: alpha {tag}"):
        Message(account=a, folder=a.inbox, subject=subject, body="x").save()
        time.sleep(1.1)  # distinct DateTimeReceived seconds: the newest conversation is alpha


def groups_of(payload) -> tuple[dict, list[tuple[str, list[str]]]]:
    msg = children(child(payload, "ResponseMessages"))[0]
    assert text(msg, "ResponseCode") == "NoError", text(msg, "MessageText")
    root = child(msg, "RootFolder")
    out = []
    for ge in children(child(root, "Groups"), "GroupedItems"):
        subjects = [text(i, "Subject") for i in children(child(ge, "Items"))]
        out.append((text(ge, "GroupIndex"), subjects))
    return dict(root.attrib), out


def find_grouped(tag: str, grouping: str, paging: str = '<m:IndexedPageItemView BasePoint="Beginning" Offset="0"/>'):
    return (f'<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
            f'<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape>'
            f'{paging}{grouping}<m:Restriction><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase">'
            f'<t:FieldURI FieldURI="item:Subject"/><t:Constant Value="{tag}"/></t:Contains></m:Restriction>'
            f'<m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder>'
            f'</m:SortOrder><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>')


async def test_find_item_grouped_by_conversation_topic(gw):
    tag = uuid.uuid4().hex[:8]
    await asyncio.to_thread(_seed_topics, gw, tag)
    dg = "<m:DistinguishedGroupBy><t:StandardGroupBy>ConversationTopic</t:StandardGroupBy></m:DistinguishedGroupBy>"
    attrs, groups = groups_of(await call(gw, find_grouped(tag, dg)))
    assert attrs["TotalItemsInView"] == "4"
    # newest conversation first; inside a group the SortOrder (oldest first)
    assert groups == [(f"alpha {tag}", [f"alpha {tag}", f"RE: alpha {tag}", f"FW: alpha {tag}"]),
                      (f"beta {tag}", [f"beta {tag}"])]
    # GroupBy on a field with AggregateOn Minimum, ascending: alpha's oldest item is older than beta's
    gb = ('<m:GroupBy Order="Ascending"><t:FieldURI FieldURI="message:ConversationTopic"/>'
          '<t:AggregateOn Aggregate="Minimum"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:AggregateOn></m:GroupBy>')
    attrs, groups = groups_of(await call(gw, find_grouped(tag, gb)))
    assert [g for g, _ in groups] == [f"alpha {tag}", f"beta {tag}"]
    # paging counts items: the first two items are both in alpha
    attrs, groups = groups_of(await call(gw, find_grouped(
        tag, dg, '<m:IndexedPageItemView MaxEntriesReturned="2" BasePoint="Beginning" Offset="0"/>')))
    assert attrs["IncludesLastItemInRange"] == "false" and attrs["IndexedPagingOffset"] == "2"
    assert groups == [(f"alpha {tag}", [f"alpha {tag}", f"RE: alpha {tag}"])]
    # a plain FindItem still answers Items
    payload = await call(gw, find_grouped(tag, ""))
    root = child(children(child(payload, "ResponseMessages"))[0], "RootFolder")
    assert [local(c) for c in children(root)] == ["Items"]


# ---------------------------------------------------------------- pure pieces of the response builder

def test_subject_prefix_and_references():
    from gateway.ews.reply import prefixed_subject, references_of
    from protocols.mapi.props import core as P
    assert prefixed_subject("plans", "RE: ") == "RE: plans"
    assert prefixed_subject("Re: plans", "RE: ") == "Re: plans"
    assert prefixed_subject("RE: plans", "FW: ") == "FW: RE: plans"
    assert prefixed_subject("Fwd: plans", "FW: ") == "Fwd: plans"
    refs = references_of({P.PidTagInternetMessageId: "<b@x>", P.PidTagInternetReferences: "<a@x>"})
    assert refs == {P.PidTagInReplyToId: "<b@x>", P.PidTagInternetReferences: "<a@x> <b@x>"}
    assert references_of({}) == {}


def test_html_reply_body_quotes_the_original():
    from lxml import etree
    from gateway.ews.reply import compose_body
    from gateway.store.objects import Item
    from protocols.mapi.props import core as P
    original = Item(1, 1, 1, "imap", False, {P.PidTagSubject: "plans", P.PidTagSenderName: "Bob",
                                             P.PidTagSenderSmtpAddress: "bob@example.test",
                                             P.PidTagBody: "a < b"})
    el = etree.Element(f"{{{T}}}NewBodyContent", BodyType="HTML")
    el.text = "<html><body><p>yes</p></body></html>"
    props = compose_body(el, original)
    markup = props[P.PidTagHtml].decode()
    assert markup.count("<html>") == 1 and "<p>yes</p>" in markup and "a &lt; b" in markup
    assert "bob@example.test" in markup and "yes" in props[P.PidTagBody]
