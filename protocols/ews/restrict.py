"""Restrictions and sort orders (MS-OXWSSRCH 2.2.4.x SearchExpressionType, FieldOrderType).

A restriction is parsed to a small tree and evaluated against a property bag with a getter
``value_of(path, props)`` so the same code serves FindItem and FindFolder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from protocols.mapi.props import core as P

from .ns import child, children, local, sub, t
from .values import FieldPath, find_path, lookup, parse_bool, parse_datetime

COMPARE_OPS = ("IsEqualTo", "IsNotEqualTo", "IsGreaterThan", "IsGreaterThanOrEqualTo", "IsLessThan",
               "IsLessThanOrEqualTo")


class RestrictionError(ValueError):
    pass


@dataclass
class Node:
    op: str                                   # And, Or, Not, IsEqualTo..., Contains, Exists, Excludes
    path: FieldPath | None = None
    constant: str | None = None
    other: FieldPath | None = None            # FieldURIOrConstant holding a path
    mode: str = "Substring"                   # Contains: ContainmentMode
    comparison: str = "Exact"                 # Contains: ContainmentComparison
    children: list["Node"] = field(default_factory=list)


def parse_restriction(el) -> Node | None:
    """``m:Restriction`` element (or None) -> tree."""
    if el is None:
        return None
    exprs = children(el)
    if not exprs:
        return None
    return _parse(exprs[0])


def _parse(el) -> Node:
    op = local(el)
    if op in ("And", "Or"):
        return Node(op, children=[_parse(c) for c in children(el)])
    if op == "Not":
        inner = children(el)
        if len(inner) != 1:
            raise RestrictionError("Not takes one expression")
        return Node(op, children=[_parse(inner[0])])
    path = find_path(el)
    if path is None:
        raise RestrictionError(f"{op} needs a property path")
    if op in COMPARE_OPS:
        foc = child(el, "FieldURIOrConstant")
        const = child(foc, "Constant")
        if const is not None:
            return Node(op, path, constant=const.get("Value", ""))
        other = find_path(foc)
        if other is None:
            raise RestrictionError(f"{op} needs FieldURIOrConstant")
        return Node(op, path, other=other)
    if op == "Contains":
        const = child(el, "Constant")
        return Node(op, path, constant=const.get("Value", "") if const is not None else "",
                    mode=el.get("ContainmentMode", "Substring"), comparison=el.get("ContainmentComparison", "Exact"))
    if op == "Exists":
        return Node(op, path)
    if op == "Excludes":
        bm = child(el, "Bitmask")
        return Node(op, path, constant=bm.get("Value", "0") if bm is not None else "0")
    raise RestrictionError(f"unsupported restriction {op}")


def to_xml(node: Node, parent):
    """Encode back (used by round-trip tests)."""
    el = sub(parent, t(node.op))
    if node.op in ("And", "Or", "Not"):
        for c in node.children:
            to_xml(c, el)
        return el
    node.path.to_xml(el)
    if node.op in COMPARE_OPS:
        foc = sub(el, t("FieldURIOrConstant"))
        if node.other is not None:
            node.other.to_xml(foc)
        else:
            sub(foc, t("Constant"), Value=node.constant)
    elif node.op == "Contains":
        el.set("ContainmentMode", node.mode)
        el.set("ContainmentComparison", node.comparison)
        sub(el, t("Constant"), Value=node.constant)
    elif node.op == "Excludes":
        sub(el, t("Bitmask"), Value=node.constant)
    return el


def _coerce(sample, text: str):
    if isinstance(sample, bool):
        return parse_bool(text)
    if isinstance(sample, int):
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    if isinstance(sample, float):
        return float(text)
    if isinstance(sample, datetime):
        return parse_datetime(text)
    return text


def _norm(v):
    return v.lower() if isinstance(v, str) else v


def evaluate(node: Node | None, props: dict, value_of: Callable[[FieldPath, dict], object]) -> bool:
    if node is None:
        return True
    if node.op == "And":
        return all(evaluate(c, props, value_of) for c in node.children)
    if node.op == "Or":
        return any(evaluate(c, props, value_of) for c in node.children)
    if node.op == "Not":
        return not evaluate(node.children[0], props, value_of)
    value = value_of(node.path, props)
    if node.op == "Exists":
        return value is not None
    if node.op == "Contains":
        if value is None:
            return False
        hay = " ".join(value) if isinstance(value, (list, tuple)) else str(value)
        needle = node.constant or ""
        if "Ignore" in node.comparison or "Loose" in node.comparison:
            hay, needle = hay.lower(), needle.lower()
        if node.mode == "FullString":
            return hay == needle
        if node.mode == "Prefixed":
            return hay.startswith(needle)
        if node.mode == "PrefixOnWords":
            return any(w.startswith(needle) for w in hay.split())
        return needle in hay
    if node.op == "Excludes":
        try:
            return value is not None and not (int(value) & int(node.constant, 0))
        except (TypeError, ValueError):
            return False
    if value is None:
        return node.op == "IsNotEqualTo"
    try:
        other = value_of(node.other, props) if node.other is not None else _coerce(value, node.constant or "")
    except ValueError:
        return node.op == "IsNotEqualTo"
    if isinstance(value, (list, tuple)):  # multi-valued: any value matches (categories)
        return any(_cmp(node.op, _norm(v), _norm(other)) for v in value)
    return _cmp(node.op, _norm(value), _norm(other))


def _cmp(op: str, a, b) -> bool:
    try:
        return {"IsEqualTo": lambda: a == b, "IsNotEqualTo": lambda: a != b, "IsGreaterThan": lambda: a > b,
                "IsGreaterThanOrEqualTo": lambda: a >= b, "IsLessThan": lambda: a < b,
                "IsLessThanOrEqualTo": lambda: a <= b}[op]()
    except TypeError:
        return op == "IsNotEqualTo"


@dataclass(frozen=True)
class SortKey:
    path: FieldPath
    ascending: bool


def parse_sort(el) -> list[SortKey]:
    out = []
    for fo in children(el, "FieldOrder"):
        path = find_path(fo)
        if path is not None:
            out.append(SortKey(path, fo.get("Order", "Ascending") != "Descending"))
    return out


def sort_items(rows: list, keys: list[SortKey], props_of: Callable, value_of: Callable) -> list:
    """Stable multi-key sort; missing values sort first ascending (as Exchange does)."""
    out = list(rows)
    for key in reversed(keys):
        def k(row, _key=key):
            v = value_of(_key.path, props_of(row))
            if isinstance(v, (list, tuple)):
                v = v[0] if v else None
            if v is None:
                return (0, 0)
            return (1, _norm(v) if not isinstance(v, datetime) else v.timestamp())
        try:
            out.sort(key=k, reverse=not key.ascending)
        except TypeError:
            out.sort(key=lambda r, _k=k: str(_k(r)), reverse=not key.ascending)
    return out


# ---------------------------------------------------------------- values of FieldURIs for search and sort

def _flag(bit):
    return lambda props: bool((props.get(P.PidTagMessageFlags) or 0) & bit)


SEARCH_VALUES: dict[str, Callable[[dict], object]] = {
    "message:IsRead": _flag(P.MSGFLAG_READ),
    "item:IsDraft": _flag(P.MSGFLAG_UNSENT),
    "item:IsSubmitted": _flag(P.MSGFLAG_SUBMITTED),
    "item:IsFromMe": _flag(P.MSGFLAG_FROMME),
    "message:From": lambda p: p.get(P.PidTagSentRepresentingSmtpAddress) or p.get(P.PidTagSentRepresentingName),
    "message:Sender": lambda p: p.get(P.PidTagSenderSmtpAddress) or p.get(P.PidTagSenderName),
    "item:DateTimeCreated": lambda p: p.get(P.PidTagCreationTime) or p.get(P.PidTagMessageDeliveryTime),
    "folder:DisplayName": lambda p: p.get(P.PidTagDisplayName),
    "folder:FolderClass": lambda p: p.get(P.PidTagContainerClass),
    "folder:TotalCount": lambda p: p.get(P.PidTagContentCount),
    "folder:UnreadCount": lambda p: p.get(P.PidTagContentUnreadCount),
    "folder:ChildFolderCount": lambda p: p.get(P.PidTagFolderChildCount),
}


def value_of(path: FieldPath | None, props: dict):
    """The comparable value of a path in a property bag (FieldURI via the item table, or by tag)."""
    if path is None:
        return None
    if path.extended is not None:
        return lookup(props, path.extended.key)[1]
    fn = SEARCH_VALUES.get(path.uri or "")
    if fn is not None:
        return fn(props)
    from .items import FIELD_BY_URI_ALL
    f = FIELD_BY_URI_ALL.get(path.uri or "")
    if f is None or f.prop is None:
        return None
    v = lookup(props, f.prop)[1]
    if f.uri == "item:Importance" and v is None:
        return 1
    return v
