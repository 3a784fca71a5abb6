"""MessageContent <-> bytes for items that live only in the state database.

Layout (ours, not a spec's): b"EXC1", the message's property bag, a u32
recipient count and their bags, a u32 attachment count and for each its bag,
a flag byte and, if set, the embedded message recursively. Bags use the
PropertyValue encoding of protocols.mapi.values with named properties
stored under the mailbox's named ids.
"""
from __future__ import annotations

import struct

from protocols.mapi.props.named import NamedProp
from protocols.mapi.values import decode_bag, encode_bag

from .model import Attachment, MessageContent, Recipient
from .namedmap import NamedPropMap

MAGIC = b"EXC1"


def to_tagged(bag: dict, names: NamedPropMap) -> dict[int, object]:
    out: dict[int, object] = {}
    for key, value in bag.items():
        if isinstance(key, NamedProp):
            out[names.tag_for(key)] = value
        else:
            out[key] = value
    return out


def from_tagged(bag: dict[int, object], names: NamedPropMap) -> dict:
    return {names.key_for_tag(tag): value for tag, value in bag.items()}


def _bag_bytes(bag: dict, names: NamedPropMap) -> bytes:
    data = encode_bag(to_tagged(bag, names))
    return struct.pack("<I", len(data)) + data


def encode_content(msg: MessageContent, names: NamedPropMap) -> bytes:
    out = [MAGIC, _encode_body(msg, names)]
    return b"".join(out)


def _encode_body(msg: MessageContent, names: NamedPropMap) -> bytes:
    parts = [_bag_bytes(msg.props, names), struct.pack("<I", len(msg.recipients))]
    parts += [_bag_bytes(r.props, names) for r in msg.recipients]
    parts.append(struct.pack("<I", len(msg.attachments)))
    for att in msg.attachments:
        parts.append(_bag_bytes(att.props, names))
        if att.embedded is not None:
            parts.append(b"\x01" + _encode_body(att.embedded, names))
        else:
            parts.append(b"\x00")
    return b"".join(parts)


def decode_content(data: bytes, names: NamedPropMap) -> MessageContent:
    if data[:4] != MAGIC:
        raise ValueError("not a stored item")
    msg, _ = _decode_body(memoryview(data), 4, names)
    return msg


def _read_bag(buf, off: int, names: NamedPropMap) -> tuple[dict, int]:
    (size,) = struct.unpack_from("<I", buf, off)
    off += 4
    bag = from_tagged(decode_bag(bytes(buf[off:off + size])), names)
    return bag, off + size


def _decode_body(buf, off: int, names: NamedPropMap) -> tuple[MessageContent, int]:
    props, off = _read_bag(buf, off, names)
    (nrecip,) = struct.unpack_from("<I", buf, off)
    off += 4
    recips = []
    for _ in range(nrecip):
        bag, off = _read_bag(buf, off, names)
        recips.append(Recipient(bag))
    (natt,) = struct.unpack_from("<I", buf, off)
    off += 4
    atts = []
    for _ in range(natt):
        bag, off = _read_bag(buf, off, names)
        flag = buf[off]
        off += 1
        embedded = None
        if flag:
            embedded, off = _decode_body(buf, off, names)
        atts.append(Attachment(bag, embedded))
    return MessageContent(props, recips, atts), off
