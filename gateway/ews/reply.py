"""Response objects of CreateItem: ReplyToItem, ReplyAllToItem, ForwardItem (MS-OXWSMSG 3.1.4.1, MS-OXWSCORE
2.2.4.x "ResponseObjects").

The new message is built from the original named by ReferenceItemId: recipients, a prefixed subject, the
client's NewBodyContent above the quoted original, In-Reply-To/References from the original's Message-ID
(RFC 5322 3.6.4) and, for a forward, the original's attachments. After a send the original gets
PidTagLastVerbExecuted (MS-OXOMSG 2.2.1.29), which the IMAP adapter stores as \\Answered / $Forwarded;
a response saved as a draft gets it when sent later (pending.py).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone

from protocols.mapi.entryids import decode_flat_entry_list, decode_one_off
from gateway.store.convert.text import html_to_text, split_subject
from gateway.store.model import MessageContent, Recipient
from gateway.store.objects import Item
from protocols.ews.folders import read_folder_refs
from protocols.ews.items import body_of
from protocols.ews.ns import child, m, sub
from protocols.ews.responses import ResponseError
from protocols.mapi.props import core as P

from . import items as ews_items
from . import pending
from .context import EwsContext


@dataclass(frozen=True)
class ResponseKind:
    element: str
    prefix: str          # subject prefix Exchange adds (English client strings)
    verb: int            # PidTagLastVerbExecuted value set on the original


KINDS = {
    "ReplyToItem": ResponseKind("ReplyToItem", "RE: ", P.NOTEIVERB_REPLYTOSENDER),
    "ReplyAllToItem": ResponseKind("ReplyAllToItem", "RE: ", P.NOTEIVERB_REPLYTOALL),
    "ForwardItem": ResponseKind("ForwardItem", "FW: ", P.NOTEIVERB_FORWARD),
}

_PREFIXES = ("re:", "fw:", "fwd:", "aw:", "wg:", "sv:", "vs:", "tr:")


def prefixed_subject(subject: str, prefix: str) -> str:
    """"RE: x" unless the subject already starts with a reply/forward prefix of the same kind."""
    low = subject.lower().lstrip()
    wanted = ("re:", "aw:", "sv:") if prefix.lower().startswith("re") else ("fw:", "fwd:", "wg:", "tr:")
    if low.startswith(wanted):
        return subject
    return prefix + subject


def _address(name: str | None, email: str | None, rtype: int) -> Recipient | None:
    if not email:
        return None
    return Recipient({P.PidTagRecipientType: rtype, P.PidTagDisplayName: name or email,
                      P.PidTagEmailAddress: email, P.PidTagSmtpAddress: email, P.PidTagAddressType: "SMTP"})


def sender_of(props: dict) -> tuple[str | None, str | None]:
    """(name, address) the original came from: Sent-Representing (From) before Sender."""
    for name_tag, addr_tags in ((P.PidTagSentRepresentingName, (P.PidTagSentRepresentingSmtpAddress,
                                                                P.PidTagSentRepresentingEmailAddress)),
                                (P.PidTagSenderName, (P.PidTagSenderSmtpAddress, P.PidTagSenderEmailAddress))):
        for tag in addr_tags:
            addr = props.get(tag)
            if isinstance(addr, str) and "@" in addr:
                return props.get(name_tag), addr
    return None, None


def reply_targets(props: dict) -> list[tuple[str | None, str]]:
    """Reply-To (PidTagReplyRecipientEntries, a FlatEntryList of one-offs) or else the sender."""
    raw = props.get(P.PidTagReplyRecipientEntries)
    out = []
    if isinstance(raw, (bytes, bytearray)):
        try:
            for eid in decode_flat_entry_list(bytes(raw)):
                one = decode_one_off(eid)
                if one is not None and one.email_address:
                    out.append((one.display_name, one.email_address))
        except (ValueError, IndexError):
            out = []
    if out:
        return out
    name, addr = sender_of(props)
    return [(name, addr)] if addr else []


def default_recipients(kind: str, original: Item, me: str) -> list[Recipient]:
    """Recipients when the client named none: reply -> Reply-To/sender; reply all -> that plus the
    original To and Cc, without the user (MS-OXWSMSG 3.1.4.1.3)."""
    if kind == "ForwardItem":
        return []
    out: list[Recipient] = []
    seen = {me.lower()}

    def add(name, email, rtype):
        if email and email.lower() not in seen:
            seen.add(email.lower())
            r = _address(name, email, rtype)
            if r is not None:
                out.append(r)
    for name, email in reply_targets(original.props):
        add(name, email, P.MAPI_TO)
    if kind == "ReplyAllToItem" and original.content is not None:
        for r in original.content.recipients:
            rtype = r.props.get(P.PidTagRecipientType)
            if rtype in (P.MAPI_TO, P.MAPI_CC):
                add(r.props.get(P.PidTagDisplayName),
                    r.props.get(P.PidTagSmtpAddress) or r.props.get(P.PidTagEmailAddress), rtype)
    return out


def _names(content: MessageContent | None, rtype: int) -> str:
    if content is None:
        return ""
    return "; ".join(r.props.get(P.PidTagDisplayName) or r.props.get(P.PidTagSmtpAddress) or ""
                     for r in content.recipients if r.props.get(P.PidTagRecipientType) == rtype)


def header_lines(original: Item) -> list[tuple[str, str]]:
    """The "From/Sent/To/Cc/Subject" block Outlook puts above a quoted original."""
    name, addr = sender_of(original.props)
    sent = original.props.get(P.PidTagClientSubmitTime) or original.props.get(P.PidTagMessageDeliveryTime)
    lines = [("From", f"{name} <{addr}>" if name and addr and name != addr else (addr or name or ""))]
    if isinstance(sent, datetime):
        lines.append(("Sent", sent.strftime("%A, %B %d, %Y %H:%M")))
    lines.append(("To", _names(original.content, P.MAPI_TO)))
    cc = _names(original.content, P.MAPI_CC)
    if cc:
        lines.append(("Cc", cc))
    lines.append(("Subject", original.props.get(P.PidTagSubject) or ""))
    return lines


def compose_body(new_el, original: Item) -> dict:
    """NewBodyContent above the quoted original, as text or HTML (whichever the client wrote)."""
    new_text = (new_el.text or "") if new_el is not None else ""
    is_html = new_el is not None and new_el.get("BodyType", "Text") == "HTML"
    o_html, o_text = body_of(original.props)
    heads = header_lines(original)
    if is_html:
        quoted = o_html if o_html is not None else \
            "<pre>" + html.escape(o_text or "") + "</pre>"
        head = "<br>".join(f"<b>{html.escape(k)}:</b> {html.escape(v)}" for k, v in heads)
        markup = (f"<html><body>{_inner(new_text)}<hr><div>{head}</div><br>{_inner(quoted)}</body></html>")
        return {P.PidTagHtml: markup.encode("utf-8"), P.PidTagInternetCodepage: 65001,
                P.PidTagBody: html_to_text(markup)}
    original_text = o_text if o_text is not None else (html_to_text(o_html) if o_html else "")
    head = "\r\n".join(f"{k}: {v}" for k, v in heads)
    return {P.PidTagBody: f"{new_text}\r\n\r\n-----Original Message-----\r\n{head}\r\n\r\n{original_text}"}


def _inner(markup: str) -> str:
    """The inside of <body> when ``markup`` is a whole document."""
    low = markup.lower()
    start = low.find("<body")
    if start >= 0:
        start = low.find(">", start) + 1
        end = low.rfind("</body>")
        return markup[start:end if end >= 0 else len(markup)]
    return markup


def references_of(props: dict) -> dict:
    """In-Reply-To and References of the new message (RFC 5322 3.6.4)."""
    msg_id = props.get(P.PidTagInternetMessageId)
    if not isinstance(msg_id, str) or not msg_id.strip():
        return {}
    msg_id = msg_id.strip()
    refs = props.get(P.PidTagInternetReferences)
    chain = (refs.split() if isinstance(refs, str) else [])
    if not chain and isinstance(props.get(P.PidTagInReplyToId), str):
        chain = props[P.PidTagInReplyToId].split()
    if msg_id not in chain:
        chain.append(msg_id)
    return {P.PidTagInReplyToId: msg_id, P.PidTagInternetReferences: " ".join(chain)}


def build_response(kind: str, el_in, original: Item, me: str) -> MessageContent:
    inp = ews_items.read_item(el_in)  # Subject, To/Cc/Bcc, Body, ExtendedProperty via the Message field table
    spec = KINDS[kind]
    if P.PidTagSubject in inp.props:
        subject = inp.props[P.PidTagSubject]
    else:
        subject = prefixed_subject(original.props.get(P.PidTagSubject) or "", spec.prefix)
    props = {k: v for k, v in inp.props.items() if k not in (P.PidTagBody, P.PidTagHtml)}
    props[P.PidTagMessageClass] = "IPM.Note"
    props[P.PidTagMessageFlags] = P.MSGFLAG_UNSENT | P.MSGFLAG_READ
    props[P.PidTagSubject] = subject
    prefix, normalized = split_subject(subject)
    props[P.PidTagSubjectPrefix] = prefix
    props[P.PidTagNormalizedSubject] = normalized
    topic = original.props.get(P.PidTagConversationTopic) or split_subject(original.props.get(P.PidTagSubject)
                                                                            or "")[1]
    props[P.PidTagConversationTopic] = topic
    if child(el_in, "NewBodyContent") is not None or P.PidTagBody not in inp.props:
        props.update(compose_body(child(el_in, "NewBodyContent"), original))
    else:  # the client wrote the whole body (Body) itself
        props.update({k: v for k, v in inp.props.items() if k in (P.PidTagBody, P.PidTagHtml)})
    props.update(references_of(original.props))
    props[P.PidTagCreationTime] = datetime.now(timezone.utc).replace(microsecond=0)
    content = MessageContent(props)
    content.recipients = ews_items.recipients_of(inp) if inp.recipients else \
        default_recipients(kind, original, me)
    if kind == "ForwardItem" and original.content is not None:
        content.attachments = list(original.content.attachments)
    return content


async def create_response(ctx: EwsContext, el_in, el) -> None:
    """CREATE_HOOKS entry for the three response objects."""
    from protocols.ews.ns import local
    kind = local(el_in)
    body = ctx.req.body
    disposition = body.get("MessageDisposition", "SaveOnly")
    saved = read_folder_refs(child(body, "SavedItemFolderId"))
    saved_ref = saved[0] if saved else None
    ref = child(el_in, "ReferenceItemId")
    if ref is None or not ref.get("Id"):
        raise ResponseError("ErrorInvalidRequest", f"{kind} needs a ReferenceItemId.")
    omid = ctx.mid_of(ref.get("Id"))
    original = await ctx.mbx.get_item(omid)
    content = build_response(kind, el_in, original, ctx.user.email)
    if not content.recipients and disposition != "SaveOnly":
        raise ResponseError("ErrorInvalidRecipients", "The response has no recipients.")
    if disposition == "SaveOnly":
        folder = await ctx.folder(saved_ref) if saved_ref is not None else await ctx.mbx.folder_by_role("drafts")
        item = await ctx.mbx.create_item(folder.fid, content)
        pending.remember(ctx.mbx, item.mid, omid, KINDS[kind].verb)
        items = sub(el, m("Items"))
        ews_items.write_item_id(items, ctx, item)
        return
    if disposition not in ("SendOnly", "SendAndSaveCopy"):
        raise ResponseError("ErrorInvalidRequest", f"Bad MessageDisposition {disposition!r}.")
    drafts = await ctx.mbx.folder_by_role("drafts")
    item = await ctx.mbx.create_item(drafts.fid, content)
    pending.remember(ctx.mbx, item.mid, omid, KINDS[kind].verb)
    await ews_items._send(ctx, item.mid, disposition, saved_ref)   # marks the original
    sub(el, m("Items"))


for _name in KINDS:
    ews_items.CREATE_HOOKS[_name] = create_response
