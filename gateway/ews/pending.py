"""A reply or forward saved as a draft remembers its original, so sending it later marks the original.

CreateItem ReplyToItem/ReplyAllToItem/ForwardItem with SaveOnly makes a draft; the client sends it
later with SendItem (Evolution and OWA do this). Exchange then sets PidTagLastVerbExecuted on the
original as for an immediate reply. The draft carries the link as notes the store keeps on it
(``Mailbox.remember``: in the state database, never on the backend), under gateway-private named
properties (nothing outside the gateway needs them), and the link is dropped
once the message is sent.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from gateway.store import errors as se
from protocols.mapi.props import core as P
from protocols.mapi.props.named import name
from protocols.mapi.types import PropType as T

PSETID_EXGATE = uuid.UUID("504e0a81-1dec-4cfc-a0fd-620d62eb4345")
PidNameExgatePendingVerb = name(PSETID_EXGATE, "PendingVerbOn", T.Integer64)
PidNameExgatePendingVerbValue = name(PSETID_EXGATE, "PendingVerb", T.Integer32)


def remember(mbx, draft_mid: int, original_mid: int, verb: int) -> None:
    mbx.remember(draft_mid, {PidNameExgatePendingVerb: original_mid, PidNameExgatePendingVerbValue: verb})


def pending_of(mbx, draft_mid: int) -> tuple[int, int] | None:
    over = mbx.remembered(draft_mid)
    omid, verb = over.get(PidNameExgatePendingVerb), over.get(PidNameExgatePendingVerbValue)
    return (int(omid), int(verb)) if omid is not None and verb is not None else None


async def mark_original(mbx, original_mid: int, verb: int) -> None:
    """Set the verb on the original; one deleted in the meantime is no reason to fail a sent message."""
    try:
        await mbx.update_item(original_mid, {P.PidTagLastVerbExecuted: verb,
                                             P.PidTagLastVerbExecutionTime: datetime.now(timezone.utc)
                                             .replace(microsecond=0)})
    except se.StoreError:
        pass


def forget(mbx, mid: int) -> None:
    try:
        mbx.forget(mid, (PidNameExgatePendingVerb, PidNameExgatePendingVerbValue))
    except se.StoreError:
        pass
