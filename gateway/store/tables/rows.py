"""Table rows from the state database: a message row's summary, its flags and its overlay.

What every contents table shows of an item comes from here, whatever its backend: the summary bag kept
when the item was last seen (IMAP ENVELOPE/BODYSTRUCTURE, a DAV resource's properties, the gateway's own
items), the IMAP flags of the row (they change without the summary), the properties the gateway keeps
beside the backend (overlay) and the ids. Reading a window costs two queries, whatever the folder size.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Iterable

from protocols.mapi.props import core as P
from protocols.mapi.values import decode_bag, decode_value

from ..contentcodec import from_tagged
from ..convert.mail import apply_flags
from ..objects import Item
from .columns import index_fields
from .rowcache import drop_row, mailbox_lru

if TYPE_CHECKING:
    from ..mailbox import Mailbox

ROW_KEYS = ("mid", "fid", "kind", "uidvalidity", "uid", "href", "etag", "emailid", "modseq", "flags",
            "associated", "cn", "pcl", "modified", "summary")
ROW_SELECT = ", ".join(ROW_KEYS)


def base_props(mbx: "Mailbox", kind: str, summary, flags: str | None) -> dict:
    """The row's properties before overlay and ids."""
    props = from_tagged(decode_bag(bytes(summary)), mbx.names) if summary else {}
    if kind == "imap":
        apply_flags(props, (flags or "").split())   # the row's flags are newer than the summary's
        if props.get(P.PidTagHasAttachments):
            props[P.PidTagMessageFlags] = props.get(P.PidTagMessageFlags, 0) | P.MSGFLAG_HASATTACH
    return props


def overlays(mbx: "Mailbox", ids: Iterable[int], obj_kind: str = "m") -> dict[int, dict]:
    """{id: overlay} of some objects ("m" messages, "f" folders, ...), in one query per 500 ids."""
    ids = list(ids)
    out: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for obj, tag, blob in mbx.db.all(
                f"SELECT obj_id, tag, value FROM props WHERE mailbox_id = ? AND obj_kind = ? AND obj_id IN ({marks})",
                (mbx.mailbox_id, obj_kind, *chunk)):
            value, _ = decode_value(tag & 0xFFFF, bytes(blob), wide=True)
            out.setdefault(obj, {})[mbx.names.key_for_tag(tag)] = value
    return out


CACHE_ROWS = 256     # decoded rows kept per mailbox: the pages a client is reading now (a few KB each)


def _cache(mbx: "Mailbox") -> "OrderedDict[tuple[int, int, int], dict]":
    return mailbox_lru(mbx, "_table_rows")


def forget_decoded(mbx: "Mailbox", globcnt: int) -> None:
    """A row's overlay changed without a new change number: its decoded form is stale."""
    drop_row(mbx, "_table_rows", globcnt)
    from .fill import forget
    forget(mbx, globcnt)             # and the columns read from the message for it


def items_for(mbx: "Mailbox", rows: list[tuple]) -> list[Item]:
    """Items (table rows) for raw rows selected with ROW_SELECT, in the given order. A row read again at
    the same change number (the next page, the same page again) comes from a small per-mailbox cache."""
    cache = _cache(mbx)
    todo = [r[0] for r in rows if (r[0], r[11], r[1]) not in cache]
    over = overlays(mbx, todo) if todo else {}
    out = []
    for raw in rows:
        key = (raw[0], raw[11], raw[1])          # mid, cn, fid
        props = cache.get(key)
        if props is None:
            row = dict(zip(ROW_KEYS, raw))
            props = base_props(mbx, row["kind"], row["summary"], row["flags"])
            props.update(over.get(row["mid"], {}))
            props.update(mbx.id_props(row))
            cache[key] = props
            if len(cache) > CACHE_ROWS:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        out.append(Item(mbx.ident.mid(raw[0]), raw[0], mbx.ident.fid(raw[1]), raw[2], bool(raw[10]), dict(props)))
    return out


from ..state.schema import VISIBLE as _SHOWN

VISIBLE = f"associated = 0 AND ({_SHOWN})"   # a folder's contents table shows them


def read_rows(mbx: "Mailbox", mids: list[int], *, visible: bool = False) -> list[Item]:
    """Items for some MIDs (globcnts), in the order given; ids no longer present are skipped, and with
    ``visible`` also rows a contents table does not show (associated; a moved message without its UID)."""
    found: dict[int, tuple] = {}
    extra = f" AND {VISIBLE}" if visible else ""
    for start in range(0, len(mids), 500):
        chunk = mids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for r in mbx.db.all(f"SELECT {ROW_SELECT} FROM messages WHERE mailbox_id = ? AND mid IN ({marks}){extra}",
                            (mbx.mailbox_id, *chunk)):
            found[r[0]] = r
    return items_for(mbx, [found[m] for m in mids if m in found])


def reindex(mbx: "Mailbox", globcnt: int) -> None:
    """Recompute one row's index columns from its summary, flags, overlay and modification time."""
    raw = mbx.db.one("SELECT kind, summary, flags, modified FROM messages WHERE mailbox_id = ? AND mid = ?",
                     (mbx.mailbox_id, globcnt))
    if raw is None:
        return
    kind, summary, flags, modified = raw
    props = base_props(mbx, kind, summary, flags)
    props.update(overlays(mbx, [globcnt]).get(globcnt, {}))
    write_index(mbx, globcnt, props, modified)


def write_index(mbx: "Mailbox", globcnt: int, props: dict, modified: str | None) -> None:
    from datetime import datetime
    fields = index_fields(props)
    if modified:
        fields["i_modified"] = datetime.fromisoformat(modified).timestamp()
    cols = ", ".join(f"{k} = ?" for k in fields)
    mbx.db.execute(f"UPDATE messages SET {cols} WHERE mailbox_id = ? AND mid = ?",
                   (*fields.values(), mbx.mailbox_id, globcnt))
