"""One adapter per folder kind (imap, dav, local); the Mailbox dispatches to them."""
from __future__ import annotations

from ..model import MessageContent


def edited(content: MessageContent, set_props: dict, remove: list) -> MessageContent:
    """``content`` with properties set and removed (in place; returned for chaining)."""
    content.props.update(set_props)
    for key in remove:
        content.props.pop(key, None)
    return content
