"""PtypRuleAction (MS-OXCDATA 2.11.1, MS-OXORULE 2.2.5) and PtypRestriction as property values.

A RuleAction is NoOfActions then that many ActionBlocks. In ROP buffers (standard rules) the counts and
lengths are 2 bytes; in extended rules and FastTransfer streams 4 (``count_width=4``, MS-OXORULE 2.2.4).

ActionBlock (2.2.5.1): ActionLength (the bytes after it), ActionType (1), ActionFlavor (4), ActionFlags (4),
ActionData, laid out per type (2.2.5.1.2):
- OP_MOVE/OP_COPY (2.2.5.1.2.1): FolderInThisStore (1), StoreEIDSize + StoreEID, FolderEIDSize + FolderEID;
  the FolderEID is a ServerEid (2.2.5.1.2.1.1: Ours (1) = 1, FolderId (8), MessageId (8), Instance (4)) when
  FolderInThisStore is 1, a Folder EntryID otherwise (kept as bytes, as the StoreEID).
- OP_REPLY/OP_OOF_REPLY (2.2.5.1.2.2): ReplyTemplateFID (8), ReplyTemplateMID (8), ReplyTemplateGUID (16).
- OP_DEFER_ACTION (2.2.5.1.2.3): opaque to the server, the rest of the block.
- OP_BOUNCE (2.2.5.1.2.5): BounceCode (4).
- OP_FORWARD/OP_DELEGATE (2.2.5.1.2.4): RecipientCount, then RecipientBlockData each Reserved (1),
  NoOfProperties, TaggedPropertyValues. The requirement list gives these counts as 4 bytes; in ROP buffers they
  follow the buffer's count width (2) as the other counts do (and as Exchange and the open implementations
  write them).
- OP_TAG (2.2.5.1.2.6): one TaggedPropertyValue.
- OP_DELETE, OP_MARK_AS_READ: no ActionData.
A block whose type is unknown keeps its data as bytes, so it round-trips.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

OP_MOVE, OP_COPY, OP_REPLY, OP_OOF_REPLY, OP_DEFER_ACTION = 0x01, 0x02, 0x03, 0x04, 0x05
OP_BOUNCE, OP_FORWARD, OP_DELEGATE, OP_TAG, OP_DELETE, OP_MARK_AS_READ = 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B
ACTION_NAMES = {OP_MOVE: "OP_MOVE", OP_COPY: "OP_COPY", OP_REPLY: "OP_REPLY", OP_OOF_REPLY: "OP_OOF_REPLY",
                OP_DEFER_ACTION: "OP_DEFER_ACTION", OP_BOUNCE: "OP_BOUNCE", OP_FORWARD: "OP_FORWARD",
                OP_DELEGATE: "OP_DELEGATE", OP_TAG: "OP_TAG", OP_DELETE: "OP_DELETE",
                OP_MARK_AS_READ: "OP_MARK_AS_READ"}

PtypRestriction = 0x00FD
PtypRuleAction = 0x00FE


class RuleActionError(ValueError):
    """A RuleAction that does not parse or does not encode."""


@dataclass(frozen=True)
class ServerEid:
    """MS-OXORULE 2.2.5.1.2.1.1: a folder of the store the rule lives in."""

    folder_id: int
    message_id: int = 0
    instance: int = 0
    ours: int = 1


@dataclass(frozen=True)
class MoveCopy:
    folder_in_this_store: int
    store_eid: bytes
    folder_eid: object          # ServerEid when folder_in_this_store, else the Folder EntryID bytes


@dataclass(frozen=True)
class ReplyTemplate:
    fid: int
    mid: int
    guid: uuid.UUID


@dataclass(frozen=True)
class RecipientBlock:
    properties: tuple = ()      # ((tag, value), ...)
    reserved: int = 0


@dataclass(frozen=True)
class ActionBlock:
    """``data``: MoveCopy, ReplyTemplate, a BounceCode int, a tuple of RecipientBlock, a (tag, value) pair
    for OP_TAG, None for OP_DELETE/OP_MARK_AS_READ, bytes for OP_DEFER_ACTION and unknown types."""

    action_type: int
    data: object = None
    flavor: int = 0
    flags: int = 0


@dataclass(frozen=True)
class RuleAction:
    actions: tuple = ()


class _R:
    __slots__ = ("buf", "off", "end", "cw")

    def __init__(self, buf, off: int, end: int, cw: int):
        self.buf, self.off, self.end, self.cw = buf, off, end, cw

    def take(self, n: int) -> bytes:
        if n < 0 or self.off + n > self.end:
            raise RuleActionError(f"RuleAction too short: need {n} bytes at {self.off}")
        b = bytes(self.buf[self.off:self.off + n])
        self.off += n
        return b

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "little")

    def count(self) -> int:
        return self.int(self.cw)


def _put(n: int, v: int) -> bytes:
    try:
        return int(v).to_bytes(n, "little")
    except (OverflowError, TypeError, ValueError) as exc:
        raise RuleActionError(f"{v!r} does not fit {n} bytes") from exc


def _tagged_decode(buf, off: int, end: int, wide: bool):
    from .values import PropValueError, decode_tagged
    try:
        tag, value, off2 = decode_tagged(bytes(buf[:end]), off, wide=wide)
    except (PropValueError, struct.error, ValueError) as exc:
        raise RuleActionError(f"bad TaggedPropertyValue: {exc}") from exc
    return (tag, value), off2


def _tagged_encode(pair, wide: bool) -> bytes:
    from .values import PropValueError, encode_tagged
    tag, value = pair
    try:
        return encode_tagged(tag, value, wide=wide)
    except PropValueError as exc:
        raise RuleActionError(str(exc)) from exc


def _decode_data(t: int, r: _R):
    wide = r.cw == 4
    if t in (OP_MOVE, OP_COPY):
        in_store = r.int(1)
        store_eid = r.take(r.count())
        folder = r.take(r.count())
        if in_store and len(folder) == 21 and folder[0] == 1:
            folder = ServerEid(int.from_bytes(folder[1:9], "little"), int.from_bytes(folder[9:17], "little"),
                               int.from_bytes(folder[17:21], "little"), folder[0])
        return MoveCopy(in_store, store_eid, folder)
    if t in (OP_REPLY, OP_OOF_REPLY):
        return ReplyTemplate(r.int(8), r.int(8), uuid.UUID(bytes_le=r.take(16)))
    if t == OP_BOUNCE:
        return r.int(4)
    if t in (OP_FORWARD, OP_DELEGATE):
        blocks = []
        for _ in range(r.count()):
            reserved = r.int(1)
            props = []
            for _ in range(r.count()):
                pair, r.off = _tagged_decode(r.buf, r.off, r.end, wide)
                props.append(pair)
            blocks.append(RecipientBlock(tuple(props), reserved))
        return tuple(blocks)
    if t == OP_TAG:
        pair, r.off = _tagged_decode(r.buf, r.off, r.end, wide)
        return pair
    if t in (OP_DELETE, OP_MARK_AS_READ):
        return None
    return r.take(r.end - r.off)          # OP_DEFER_ACTION and unknown types: opaque


def _encode_data(a: ActionBlock, cw: int) -> bytes:
    t, d = a.action_type, a.data
    wide = cw == 4
    if t in (OP_MOVE, OP_COPY):
        folder = d.folder_eid
        if isinstance(folder, ServerEid):
            folder = (_put(1, folder.ours) + _put(8, folder.folder_id) + _put(8, folder.message_id)
                      + _put(4, folder.instance))
        store = bytes(d.store_eid)
        return (_put(1, d.folder_in_this_store) + _put(cw, len(store)) + store + _put(cw, len(folder))
                + bytes(folder))
    if t in (OP_REPLY, OP_OOF_REPLY):
        return _put(8, d.fid) + _put(8, d.mid) + d.guid.bytes_le
    if t == OP_BOUNCE:
        return _put(4, d)
    if t in (OP_FORWARD, OP_DELEGATE):
        out = bytearray(_put(cw, len(d)))
        for block in d:
            out += _put(1, block.reserved) + _put(cw, len(block.properties))
            for pair in block.properties:
                out += _tagged_encode(pair, wide)
        return bytes(out)
    if t == OP_TAG:
        return _tagged_encode(d, wide)
    if t in (OP_DELETE, OP_MARK_AS_READ):
        return b""
    return bytes(d or b"")


def decode_rule_action(buf, off: int = 0, *, count_width: int = 2) -> tuple[RuleAction, int]:
    """The RuleAction at ``off``; returns (value, offset after it)."""
    if count_width not in (2, 4):
        raise ValueError("count_width is 2 or 4")
    r = _R(buf, off, len(buf), count_width)
    actions = []
    for _ in range(r.count()):
        length = r.count()
        if length < 9 or r.off + length > r.end:
            raise RuleActionError(f"ActionLength {length} does not fit")
        block = _R(buf, r.off, r.off + length, count_width)
        t, flavor, flags = block.int(1), block.int(4), block.int(4)
        data = _decode_data(t, block)
        if block.off != block.end:
            raise RuleActionError(f"{ACTION_NAMES.get(t, hex(t))}: {block.end - block.off} bytes left in the block")
        actions.append(ActionBlock(t, data, flavor, flags))
        r.off = block.end
    return RuleAction(tuple(actions)), r.off


def encode_rule_action(value: RuleAction, *, count_width: int = 2) -> bytes:
    if count_width not in (2, 4):
        raise ValueError("count_width is 2 or 4")
    try:
        out = bytearray(_put(count_width, len(value.actions)))
        for a in value.actions:
            body = _put(1, a.action_type) + _put(4, a.flavor) + _put(4, a.flags) + _encode_data(a, count_width)
            out += _put(count_width, len(body)) + body
    except (AttributeError, TypeError) as exc:
        raise RuleActionError(f"cannot encode {value!r}: {exc}") from exc
    return bytes(out)


# ---- the hooks values.py calls for the two types (kept here so values.py stays small) ----

def encode_value(ptype: int, value, *, wide: bool = False) -> bytes:
    cw = 4 if wide else 2
    if ptype == PtypRuleAction:
        return encode_rule_action(value, count_width=cw)
    from .restrictions import encode_restriction
    return encode_restriction(value, count_width=cw)


def decode_value(ptype: int, buf, off: int, *, wide: bool = False):
    cw = 4 if wide else 2
    if ptype == PtypRuleAction:
        return decode_rule_action(buf, off, count_width=cw)
    from .restrictions import decode_restriction
    return decode_restriction(buf, off, count_width=cw)
