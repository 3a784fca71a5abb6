"""Which properties the contents-table index keeps as columns, and their values for a row.

The state database holds each row's summary (a property bag) plus these columns, so a view can sort and
restrict in SQL and read only the rows of its window. Everything else a client asks for comes from the
summary blob of those rows, or from the backend for the window only.
"""
from __future__ import annotations

from datetime import datetime

from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as P
from protocols.mapi.props.named import NamedProp
from protocols.mapi.types import PropType, prop_id

# PropKey -> (column, kind); kind says how a value is stored and compared: "time" (epoch seconds),
# "text" (case-folded), "int", "bool".
INDEXED: dict[int, tuple[str, str]] = {
    P.PidTagMessageDeliveryTime: ("i_received", "time"),
    P.PidTagClientSubmitTime: ("i_sent", "time"),
    P.PidTagCreationTime: ("i_created", "time"),
    P.PidTagLastModificationTime: ("i_modified", "time"),
    P.PidTagSubject: ("i_subject", "text"),
    P.PidTagNormalizedSubject: ("i_norm_subject", "text"),
    P.PidTagSenderName: ("i_sender", "text"),
    P.PidTagSentRepresentingName: ("i_from", "text"),
    P.PidTagDisplayTo: ("i_to", "text"),
    P.PidTagMessageClass: ("i_class", "text"),
    P.PidTagMessageSize: ("i_size", "int"),
    P.PidTagMessageFlags: ("i_flags", "int"),
    P.PidTagImportance: ("i_importance", "int"),
    P.PidTagFlagStatus: ("i_flag_status", "int"),
    P.PidTagHasAttachments: ("i_attach", "bool"),
}
# Named properties (typed NamedProp keys, as the store's property bags hold them)
INDEXED_NAMED = {
    A.PidLidAppointmentStartWhole: ("i_start", "time"),
    A.PidLidAppointmentEndWhole: ("i_end", "time"),
    A.PidLidRecurring: ("i_recur", "bool"),
}
_NAMED_BY_KEY = {np.key: entry for np, entry in INDEXED_NAMED.items()}
# The same property asked for with a string type of the other width (PT_STRING8 vs PT_UNICODE) or by id.
_BY_ID = {prop_id(tag): entry for tag, entry in INDEXED.items()}


def column_of(key) -> tuple[str, str] | None:
    """(column, kind) for a property key, or None if the index does not keep it."""
    if isinstance(key, NamedProp):
        return _NAMED_BY_KEY.get(key.key)
    if not isinstance(key, int):
        return None
    found = INDEXED.get(key)
    if found is not None:
        return found
    if (key & 0xFFFF) in (PropType.String8, PropType.String):
        entry = _BY_ID.get(prop_id(key))
        if entry is not None and entry[1] == "text":
            return entry
    return None


def stored(kind: str, value):
    """A property value as its index column holds it (None when absent or of an unexpected type)."""
    if value is None:
        return None
    if kind == "time":
        return value.timestamp() if isinstance(value, datetime) else None
    if kind == "text":
        return value.casefold() if isinstance(value, str) else None
    if kind == "bool":
        return 1 if value else 0
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, int) else None


def index_fields(props: dict) -> dict[str, object]:
    """{column: value} of a row's properties (all columns, None for absent properties)."""
    out = {col: stored(kind, props.get(tag)) for tag, (col, kind) in INDEXED.items()}
    for np, (col, kind) in INDEXED_NAMED.items():
        out[col] = stored(kind, props.get(np))
    return out


COLUMNS = tuple(col for col, _ in INDEXED.values()) + tuple(col for col, _ in INDEXED_NAMED.values())
