"""One adapter per folder kind (imap, dav, local); the Mailbox dispatches to them."""
from __future__ import annotations

from protocols.mapi.props import core as P

from ..model import MessageContent


def edited(content: MessageContent, set_props: dict, remove: list) -> MessageContent:
    """``content`` with properties set and removed (in place; returned for chaining)."""
    props = content.props
    props.update(set_props)
    for key in remove:
        props.pop(key, None)
    # PidTagSubject and its two parts (MS-OXCMSG 2.2.1.46) must agree; a write names one side, the
    # other is derived again, else a stale NormalizedSubject would win when MIME or iCal is written
    parts = (P.PidTagSubjectPrefix, P.PidTagNormalizedSubject)
    if (P.PidTagSubject in set_props or P.PidTagSubject in remove) and not any(k in set_props for k in parts):
        for key in parts:
            props.pop(key, None)
    elif any(k in set_props for k in parts) and P.PidTagSubject not in set_props:
        props[P.PidTagSubject] = (props.get(P.PidTagSubjectPrefix) or "") + (props.get(P.PidTagNormalizedSubject) or "")
    return content
