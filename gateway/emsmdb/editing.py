"""The working copy of a message or attachment a session changes, and saving it to the store.

MAPI changes a message piece by piece (RopSetProperties, RopModifyRecipients, attachments, streams) and
only RopSaveChangesMessage makes the changes real (MS-OXCMSG 3.2.5.3); until then nothing reaches the
store and another client sees the message as it was. The working copy is a ``MessageContent`` made from
the store's item on the first change. Saving:

- a new message (RopCreateMessage): ``Mailbox.create_item`` in its folder;
- an existing message whose recipients and attachments stayed: ``Mailbox.update_item`` with the changed
  properties (so a flag stays an IMAP flag and a received message keeps its MIME);
- otherwise ``Mailbox.replace_content`` (on IMAP: the new MIME appended, the old copy expunged; the MID
  stays).

Tags of named properties (0x8000 and up) are the mailbox's named-property map's; the store keeps the
names, so a tag is turned into its ``NamedProp`` key before it is put into a bag.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone

from gateway.store.model import Attachment, MessageContent, Recipient
from protocols.mapi.props import core as P

from .call import EC_ACCESS_DENIED, RopError
from .objects import AttachmentObj, MessageObj

# what the store computes: a client cannot set these (Exchange answers ecAccessDenied in the problem row)
READ_ONLY = frozenset({
    P.PidTagMid, P.PidTagFolderId, P.PidTagParentFolderId, P.PidTagEntryId, P.PidTagRecordKey,
    P.PidTagParentEntryId, P.PidTagSourceKey, P.PidTagParentSourceKey, P.PidTagChangeKey,
    P.PidTagChangeNumber, P.PidTagInstID, P.PidTagInstanceNum, P.PidTagMessageSize, P.PidTagHasAttachments,
    P.PidTagAccess, P.PidTagAccessLevel, P.PidTagObjectType, P.PidTagDisplayTo, P.PidTagDisplayCc,
    P.PidTagDisplayBcc, P.PidTagInstanceKey,
})
# properties of the message's recipient and attachment tables, never of its own bag
_NEVER_ON_MESSAGE = frozenset({P.PidTagAttachNumber})


def key_of(mbx, tag: int):
    """The store's key for a wire tag: the tag, or the NamedProp of a mapped named id."""
    return mbx.names.key_for_tag(tag) if tag >> 16 >= 0x8000 else tag


def tagged(mbx, props: dict) -> dict:
    """A store bag with named properties under the mailbox's tags (what MAPI clients see)."""
    out = {}
    for key, v in props.items():
        if isinstance(key, int):
            out[key] = v
        else:
            tag = mbx.names.tag_for(key)
            if tag is not None:
                out[tag] = v
    return out


def working_copy(obj: MessageObj) -> MessageContent:
    """The message's working copy, made from the store's item on first use."""
    if obj.draft is None:
        content = getattr(obj.item, "content", None)
        if content is None:
            content = MessageContent(dict(getattr(obj.item, "props", {}) or {}))
        obj.draft = copy.deepcopy(content)
    return obj.draft


def need_writable(obj) -> None:
    if not obj.writable:
        raise RopError(EC_ACCESS_DENIED, "the object was opened read-only")


def set_message_props(mbx, obj: MessageObj, values) -> list[tuple[int, int, int]]:
    """Set (tag, value) pairs on the working copy; returns PropertyProblems (index, tag, code)."""
    need_writable(obj)
    draft = working_copy(obj)
    problems = []
    for n, (tag, v) in enumerate(values):
        if tag in READ_ONLY or tag in _NEVER_ON_MESSAGE:
            problems.append((n, tag, EC_ACCESS_DENIED))
            continue
        key = key_of(mbx, tag)
        _drop_other_string_type(draft.props, tag)
        draft.props[key] = v
        obj.set_props[key] = v
        obj.removed.discard(key)
    return problems


def delete_message_props(mbx, obj: MessageObj, tags) -> list[tuple[int, int, int]]:
    need_writable(obj)
    draft = working_copy(obj)
    problems = []
    for n, tag in enumerate(tags):
        if tag in READ_ONLY:
            problems.append((n, tag, EC_ACCESS_DENIED))
            continue
        key = key_of(mbx, tag)
        draft.props.pop(key, None)
        _drop_other_string_type(draft.props, tag)
        obj.set_props.pop(key, None)
        obj.removed.add(key)
    return problems


def _drop_other_string_type(props: dict, tag: int) -> None:
    """A string set as PtypString8 replaces the PtypString one (and the other way round): one property."""
    ptype = tag & 0xFFFF
    if ptype in (0x001E, 0x001F):
        props.pop((tag & 0xFFFF0000) | (0x001F if ptype == 0x001E else 0x001E), None)


def set_recipients(obj: MessageObj, rows: dict[int, dict | None]) -> None:
    """RopModifyRecipients: RowId -> the recipient's properties, or None to remove that row."""
    need_writable(obj)
    draft = working_copy(obj)
    current = {n: r for n, r in enumerate(draft.recipients)}
    for row_id, props in rows.items():
        if props is None:
            current.pop(row_id, None)
        else:
            current[row_id] = Recipient(props)
    draft.recipients = [current[n] for n in sorted(current)]
    obj.reshaped = True


def remove_all_recipients(obj: MessageObj) -> None:
    need_writable(obj)
    working_copy(obj).recipients = []
    obj.reshaped = True


# ------------------------------------------------------------------ attachments

def attachment_number(att: Attachment, index: int) -> int:
    n = att.props.get(P.PidTagAttachNumber)
    return n if isinstance(n, int) else index


def attachments_of(obj: MessageObj) -> list[Attachment]:
    content = obj.draft if obj.draft is not None else getattr(obj.item, "content", None)
    return list(content.attachments) if content is not None else []


def find_attachment(obj: MessageObj, number: int) -> Attachment | None:
    for n, att in enumerate(attachments_of(obj)):
        if attachment_number(att, n) == number:
            return att
    return None


def new_attachment(obj: MessageObj) -> AttachmentObj:
    need_writable(obj)
    taken = [attachment_number(a, n) for n, a in enumerate(attachments_of(obj))]
    number = max(taken, default=-1) + 1
    return AttachmentObj(obj.logon_id, obj, number, {P.PidTagAttachNumber: number, P.PidTagAttachMethod: 1,
                                                      P.PidTagRenderingPosition: -1}, writable=True)


def save_attachment(att: AttachmentObj) -> None:
    """RopSaveChangesAttachment: the attachment goes into the message's working copy (the message itself
    is saved by RopSaveChangesMessage)."""
    need_writable(att)
    msg = att.message
    draft = working_copy(msg)
    props = dict(att.props)
    props[P.PidTagAttachNumber] = att.number
    data = props.get(P.PidTagAttachDataBinary)
    if isinstance(data, (bytes, bytearray)):
        props[P.PidTagAttachSize] = len(data)
    new = Attachment(props, att.embedded)
    for n, a in enumerate(draft.attachments):
        if attachment_number(a, n) == att.number:
            draft.attachments[n] = new
            break
    else:
        draft.attachments.append(new)
    msg.reshaped = True


def delete_attachment(obj: MessageObj, number: int) -> bool:
    need_writable(obj)
    draft = working_copy(obj)
    for n, a in enumerate(draft.attachments):
        if attachment_number(a, n) == number:
            del draft.attachments[n]
            obj.reshaped = True
            return True
    return False


# ------------------------------------------------------------------ saving

async def save(mbx, obj: MessageObj) -> int:
    """Write the working copy to the store; returns the message's MID."""
    need_writable(obj)
    if obj.embedded_in is not None:         # saved into its attachment; the outer message's save keeps it
        obj.embedded_in.embedded = working_copy(obj)
        obj.set_props, obj.removed, obj.reshaped = {}, set(), False
        return 0
    if obj.new:
        content = working_copy(obj)
        content.props.setdefault(P.PidTagMessageClass, "IPM.Note")
        content.props.setdefault(P.PidTagCreationTime, datetime.now(timezone.utc).replace(microsecond=0))
        # a message made by RopCreateMessage is unsent and read until the client says otherwise
        content.props.setdefault(P.PidTagMessageFlags, P.MSGFLAG_UNSENT | P.MSGFLAG_READ)
        item = await mbx.create_item(obj.fid, content, associated=obj.associated)
    elif obj.reshaped:
        item = await mbx.replace_content(obj.mid, working_copy(obj))
    elif obj.set_props or obj.removed:
        item = await mbx.update_item(obj.mid, obj.set_props, list(obj.removed))
    else:
        return obj.mid
    obj.mid, obj.fid, obj.item = item.mid, item.fid, item
    obj.draft, obj.set_props, obj.removed, obj.reshaped = None, {}, set(), False
    return obj.mid
