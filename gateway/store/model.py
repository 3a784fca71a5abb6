"""The store's item model: a message as MAPI property bags.

A property key is either a tag int (fixed ids below 0x8000, MS-OXPROPS) or a
``NamedProp`` (set GUID + LID/name + type). Conversions produce and consume
this shape without knowing any mailbox; the store maps NamedProps to the
mailbox's 0x8000+ ids (its named-property map) only at the edge where a front
end asks for tags.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from protocols.mapi.props.named import NamedProp

PropKey = Union[int, NamedProp]
PropBag = dict  # dict[PropKey, Any]


@dataclass
class Recipient:
    """One row of a message's recipient table (MS-OXCMSG 2.2.1.5 / 2.2.3)."""

    props: PropBag = field(default_factory=dict)


@dataclass
class Attachment:
    """One attachment (MS-OXCMSG 2.2.2); ``embedded`` is set for ATTACH_EMBEDDED_MSG."""

    props: PropBag = field(default_factory=dict)
    embedded: "MessageContent | None" = None


@dataclass
class MessageContent:
    """A whole message: its properties, recipients and attachments."""

    props: PropBag = field(default_factory=dict)
    recipients: list[Recipient] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    def get(self, key: PropKey, default: Any = None) -> Any:
        return self.props.get(key, default)
