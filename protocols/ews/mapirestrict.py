"""EWS restrictions and sort orders compiled onto MAPI ones (MS-OXWSSRCH onto MS-OXCDATA 2.12/2.13).

Exchange runs an EWS SearchExpression as the MAPI restriction it names, so the store evaluates one
kind of tree for both fronts. A FieldURI is the property its item field maps to; the computed fields
(IsRead, From, DateTimeCreated ...) become the restriction on the properties behind them. What MAPI
cannot say exactly (ContainmentMode PrefixOnWords) becomes the nearest wider test (a substring).
"""
from __future__ import annotations

from datetime import datetime

from protocols.mapi import restrictions as R
from protocols.mapi.props import core as P
from protocols.mapi.props.named import NamedProp

from .restrict import COMPARE_OPS, Node, SortKey
from .values import FieldPath, text_to_value

TRUE = R.AndRestriction(())
FALSE = R.OrRestriction(())
RELOPS = dict(zip(COMPARE_OPS, (R.RELOP_EQ, R.RELOP_NE, R.RELOP_GT, R.RELOP_GE, R.RELOP_LT, R.RELOP_LE)))
_FLAG_FIELDS = {"message:IsRead": P.MSGFLAG_READ, "item:IsDraft": P.MSGFLAG_UNSENT,
                "item:IsSubmitted": P.MSGFLAG_SUBMITTED, "item:IsFromMe": P.MSGFLAG_FROMME}
# fields that read one property, falling back to a second when the first is missing
_EITHER = {
    "message:From": (P.PidTagSentRepresentingSmtpAddress, P.PidTagSentRepresentingName),
    "message:Sender": (P.PidTagSenderSmtpAddress, P.PidTagSenderName),
    "item:DateTimeCreated": (P.PidTagCreationTime, P.PidTagMessageDeliveryTime),
}
# what a sort on a computed field sorts by
_SORT_KEYS = {"message:IsRead": P.PidTagMessageFlags, "message:From": P.PidTagSentRepresentingName,
              "message:Sender": P.PidTagSenderName, "item:DateTimeCreated": P.PidTagCreationTime}


# FindFolder's fields (MS-OXWSFOLD FolderType)
_FOLDER_FIELDS = {"folder:DisplayName": P.PidTagDisplayName, "folder:FolderClass": P.PidTagContainerClass,
                  "folder:TotalCount": P.PidTagContentCount, "folder:UnreadCount": P.PidTagContentUnreadCount,
                  "folder:ChildFolderCount": P.PidTagFolderChildCount}


def key_of(path: FieldPath | None):
    """The property key (tag or NamedProp) a FieldURI or ExtendedFieldURI reads, or None."""
    if path is None:
        return None
    if path.extended is not None:
        return path.extended.key
    if path.uri in _FOLDER_FIELDS:
        return _FOLDER_FIELDS[path.uri]
    from .items import FIELD_BY_URI_ALL
    f = FIELD_BY_URI_ALL.get(path.uri or "")
    return f.prop if f is not None else None


def _ptype(key) -> int:
    return key.type if isinstance(key, NamedProp) else key & 0xFFFF


def _const(op: str, truth: bool):
    return TRUE if truth else FALSE


def _compare(op: str, a, b) -> bool:
    try:
        return {"IsEqualTo": a == b, "IsNotEqualTo": a != b}.get(op) if op in ("IsEqualTo", "IsNotEqualTo") else \
            {"IsGreaterThan": a > b, "IsGreaterThanOrEqualTo": a >= b, "IsLessThan": a < b,
             "IsLessThanOrEqualTo": a <= b}[op]
    except TypeError:
        return op == "IsNotEqualTo"


def _leaf(node: Node, key):
    """One comparison/containment on one property."""
    if node.op == "Exists":
        return R.ExistRestriction(key)
    if node.op == "Excludes":
        try:
            return R.BitMaskRestriction(R.BMR_EQZ, key, int(node.constant or "0", 0))
        except ValueError:
            return FALSE
    if node.op == "Contains":
        fuzzy = {"FullString": R.FL_FULLSTRING, "ExactPhrase": R.FL_FULLSTRING, "Prefixed": R.FL_PREFIX}.get(
            node.mode, R.FL_SUBSTRING)
        if "IgnoreCase" in node.comparison:
            fuzzy |= R.FL_IGNORECASE
        if "Loose" in node.comparison:
            fuzzy |= R.FL_LOOSE | R.FL_IGNORECASE
        if "IgnoreNonSpacingCharacters" in node.comparison:
            fuzzy |= R.FL_IGNORENONSPACE
        return R.ContentRestriction(fuzzy, key, node.constant or "")
    relop = RELOPS[node.op]
    if node.other is not None:
        other = key_of(node.other)
        return R.ComparePropertiesRestriction(relop, key, other) if other is not None else FALSE
    try:
        value = text_to_value(_ptype(key), node.constant or "")
    except (ValueError, TypeError):
        return _const(node.op, node.op == "IsNotEqualTo")   # a constant the property can never hold
    if isinstance(value, datetime) and value.tzinfo is None:
        return FALSE
    return R.PropertyRestriction(relop, key, value)


def to_mapi(node: Node | None):
    """An EWS restriction tree -> a protocols.mapi.restrictions tree (None stays None)."""
    if node is None:
        return None
    if node.op == "And":
        return R.AndRestriction(tuple(to_mapi(c) for c in node.children))
    if node.op == "Or":
        return R.OrRestriction(tuple(to_mapi(c) for c in node.children))
    if node.op == "Not":
        return R.NotRestriction(to_mapi(node.children[0]))
    uri = node.path.uri if node.path is not None and node.path.extended is None else None
    if uri in _FLAG_FIELDS and node.op in ("IsEqualTo", "IsNotEqualTo", "Exists"):
        if node.op == "Exists":
            return TRUE
        try:
            from .values import parse_bool
            want = parse_bool(node.constant or "")
        except ValueError:
            return _const(node.op, node.op == "IsNotEqualTo")
        if node.op == "IsNotEqualTo":
            want = not want
        return R.BitMaskRestriction(R.BMR_NEZ if want else R.BMR_EQZ, P.PidTagMessageFlags, _FLAG_FIELDS[uri])
    if uri in _EITHER:
        first, second = _EITHER[uri]
        return R.OrRestriction((R.AndRestriction((R.ExistRestriction(first), _leaf(node, first))),
                                R.AndRestriction((R.NotRestriction(R.ExistRestriction(first)), _leaf(node, second)))))
    if uri == "item:Importance" and node.op in RELOPS and node.other is None:
        # an item without PidTagImportance is of normal importance (1)
        leaf = _leaf(node, P.PidTagImportance)
        try:
            missing = _compare(node.op, 1, int(node.constant or ""))
        except ValueError:
            missing = node.op == "IsNotEqualTo"
        return R.OrRestriction((R.AndRestriction((R.ExistRestriction(P.PidTagImportance), leaf)),
                                R.AndRestriction((R.NotRestriction(R.ExistRestriction(P.PidTagImportance)),
                                                  _const(node.op, missing)))))
    key = key_of(node.path)
    if key is None:
        # a field no property backs: it has no value on any item
        return _const(node.op, node.op == "IsNotEqualTo")
    return _leaf(node, key)


def sorts_to_mapi(keys: list[SortKey]) -> tuple:
    """FieldOrders -> SortOrder keys (those naming no property are left out)."""
    out = []
    for k in keys:
        uri = k.path.uri if k.path.extended is None else None
        key = _SORT_KEYS.get(uri or "") or key_of(k.path)
        if key is not None:
            out.append(R.SortOrder(key, R.ORDER_ASCENDING if k.ascending else R.ORDER_DESCENDING))
    return tuple(out)
