"""FindItem with GroupBy or DistinguishedGroupBy (MS-OXWSSRCH 2.2.4.x, 3.1.4.2): items in groups.

A request without either goes to items.find_item unchanged. Groups are ordered by their aggregate
(AggregateOn Maximum/Minimum of a field, in the GroupBy Order); items inside a group keep the SortOrder.
Paging counts items, as Exchange does: the page window is cut from the grouped sequence, then regrouped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.store.summary import split_subject
from protocols.ews.folders import read_folder_refs
from protocols.ews.items import write_item
from protocols.ews.ns import child, m, sub, t
from protocols.ews.responses import ResponseError
from protocols.ews.mapirestrict import sorts_to_mapi, to_mapi
from protocols.ews.restrict import parse_restriction, parse_sort, value_of
from protocols.ews.values import FieldPath, find_path
from protocols.mapi.props import core as P

from . import items as ews_items
from .context import EwsContext, for_each
from .folders import page

RECEIVED = FieldPath(uri="item:DateTimeReceived")


@dataclass(frozen=True)
class Grouping:
    key: FieldPath | None        # None: the conversation topic (DistinguishedGroupBy ConversationTopic)
    aggregate: FieldPath
    maximum: bool                # AggregateOn Aggregate="Maximum"
    ascending: bool              # GroupBy Order


def parse_grouping(body) -> Grouping | None:
    gb = child(body, "GroupBy")
    if gb is not None:
        key = find_path(gb)
        agg_el = child(gb, "AggregateOn")
        if key is None or agg_el is None or find_path(agg_el) is None:
            raise ResponseError("ErrorInvalidRequest", "GroupBy needs a field and an AggregateOn field.")
        return Grouping(key, find_path(agg_el), agg_el.get("Aggregate", "Maximum") == "Maximum",
                        gb.get("Order", "Ascending") != "Descending")
    dg = child(body, "DistinguishedGroupBy")
    if dg is None:
        return None
    standard = (child(dg, "StandardGroupBy").text or "").strip() if child(dg, "StandardGroupBy") is not None else ""
    if standard != "ConversationTopic":
        raise ResponseError("ErrorInvalidRequest", f"Unknown StandardGroupBy {standard!r}.")
    # Exchange shows conversations newest first: the latest DateTimeReceived of each topic, descending
    return Grouping(None, RECEIVED, True, False)


def _comparable(v):
    if isinstance(v, (list, tuple)):
        v = v[0] if v else None
    if isinstance(v, datetime):
        return v.timestamp()
    if isinstance(v, str):
        return v.lower()
    return v


def group_key(g: Grouping, props: dict) -> str:
    """The GroupIndex text of an item."""
    if g.key is None:
        topic = props.get(P.PidTagConversationTopic)
        if not isinstance(topic, str):
            topic = split_subject(props.get(P.PidTagSubject) or "")[1]
        return topic
    v = value_of(g.key, props)
    if isinstance(v, (list, tuple)):
        v = v[0] if v else None
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(v)


def group_rows(g: Grouping, rows: list) -> list[tuple[str, list]]:
    """[(GroupIndex, items)] in group order; ``rows`` are already in SortOrder."""
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(group_key(g, r.props), []).append(r)

    def aggregate(members):
        vals = [_comparable(value_of(g.aggregate, r.props)) for r in members]
        vals = [v for v in vals if v is not None]
        if not vals:
            return (0, 0)
        try:
            return (1, max(vals) if g.maximum else min(vals))
        except TypeError:
            return (1, str(max(map(str, vals)) if g.maximum else min(map(str, vals))))
    ordered = list(groups.items())
    try:
        ordered.sort(key=lambda kv: aggregate(kv[1]), reverse=not g.ascending)
    except TypeError:
        ordered.sort(key=lambda kv: str(aggregate(kv[1])), reverse=not g.ascending)
    return ordered


async def find_item(ctx: EwsContext):
    body = ctx.req.body
    grouping = parse_grouping(body)
    if grouping is None:
        return await ews_items.find_item(ctx)
    shape = ews_items.item_shape(ctx)
    traversal = body.get("Traversal", "Shallow")
    try:
        restriction = parse_restriction(child(body, "Restriction"))
        sort = parse_sort(child(body, "SortOrder")) or ews_items.DEFAULT_SORT
    except ValueError as exc:
        raise ResponseError("ErrorInvalidRestriction", str(exc))
    view_el = next((c for c in body if isinstance(c.tag, str) and c.tag.split("}")[-1] in
                    ("IndexedPageItemView", "FractionalPageItemView")), None)
    refs = read_folder_refs(child(body, "ParentFolderIds"))

    async def one(ref, el):
        folder = await ctx.folder(ref)
        if traversal == "SoftDeleted":
            rows = []
        else:
            # restriction and order from the folder's contents table; the groups need every row of it
            view = await ctx.mbx.contents_view(folder.fid, to_mapi(restriction), sorts_to_mapi(sort),
                                               associated=(traversal == "Associated"))
            rows = view.rows(0, None)
        grouped = group_rows(grouping, rows)
        window, attrs = page([r for _, members in grouped for r in members], view_el)
        shown = {r.mid for r in window}
        root = sub(el, m("RootFolder"), **attrs)
        groups_el = sub(root, t("Groups"))
        for index, members in grouped:
            members = [r for r in members if r.mid in shown]
            if not members:
                continue
            ge = sub(groups_el, t("GroupedItems"))
            sub(ge, t("GroupIndex"), index)
            items_el = sub(ge, t("Items"))
            for item in members:
                write_item(items_el, await ews_items.item_view(ctx, item), shape, table_row=True)
    return await for_each(ctx, refs, one, what="folder")
