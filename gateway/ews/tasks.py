"""Tasks (MS-OXWSTASK) on the store's CalDAV task list: CreateItem Task.

Reading, FindItem, UpdateItem (Status, PercentComplete ... through the Task field table) and
DeleteItem go through the common item handlers; the VTODO mapping is the store's
(``ical.task_to_ical``).
"""
from __future__ import annotations

from datetime import datetime, timezone

from gateway.store.model import MessageContent
from protocols.ews.folders import read_folder_refs
from protocols.ews.ns import child, m, sub
from protocols.ews.responses import ResponseError
from protocols.ews.values import PathError
from protocols.mapi.props import core as P
from protocols.mapi.props import task as K

from . import items as ews_items
from .context import EwsContext


def task_content(el_in) -> MessageContent:
    try:
        inp = ews_items.read_item(el_in)
    except PathError as exc:
        raise ResponseError("ErrorInvalidRequest", str(exc))
    props = dict(inp.props)
    props[P.PidTagMessageClass] = K.CLASS_TASK
    props[P.PidTagMessageFlags] = P.MSGFLAG_READ
    props.setdefault(P.PidTagCreationTime, datetime.now(timezone.utc).replace(microsecond=0))
    props.setdefault(K.PidLidTaskStatus, 0)
    props.setdefault(K.PidLidPercentComplete, 0.0)
    props.setdefault(K.PidLidTaskComplete, props.get(K.PidLidTaskStatus) == 2)
    if P.PidTagSubject in props:
        props[P.PidTagNormalizedSubject] = props[P.PidTagSubject]
    return MessageContent(props)


async def create_task(ctx: EwsContext, el_in, el) -> None:
    content = task_content(el_in)
    saved = read_folder_refs(child(ctx.req.body, "SavedItemFolderId"))
    folder = await ctx.folder(saved[0]) if saved else await ctx.mbx.folder_by_role("tasks")
    item = await ctx.mbx.create_item(folder.fid, content)
    ews_items.write_item_id(sub(el, m("Items")), ctx, item, element="Task")


ews_items.CREATE_HOOKS["Task"] = create_task
