"""Property ROPs (MS-OXCROPS 2.2.8): RopGetPropertiesSpecific and RopGetPropertiesAll on a logon (the store),
a folder or an opened message.

On an object (not a table) a value whose bytes pass PropertySizeLimit -- or, when the client sends 0,
DEFAULT_SIZE_LIMIT -- is answered ecMAPI_E_NOT_ENOUGH_MEMORY in its cell (MS-OXCPRPT 3.2.5.1, 3.2.5.2) and
the client reads it with RopOpenStream: that is how Outlook gets a long PidTagBody or PidTagHtml.
"""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.mapi.types import PropType
from protocols.rops import property as PR

from ..props import EC_NOT_ENOUGH_MEMORY, PT_ERROR, _fits, property_row, too_big

# the value size a server allows when the client leaves PropertySizeLimit at 0: a property row has to fit
# one ROP response with room for others, so bigger values go by stream
DEFAULT_SIZE_LIMIT = 0x1000


def message_props(obj) -> dict:
    item = obj.item
    props = dict(item.props)
    props.setdefault(P.PidTagMid, item.mid)
    props.setdefault(P.PidTagFolderId, item.fid)
    return props


async def object_props(call, obj) -> dict:
    mbx = call.mbx
    if obj.kind == "folder":
        return dict((await mbx.get_folder(obj.fid)).props)
    if obj.kind == "message":
        if obj.item is None:
            obj.item = await mbx.get_item(obj.mid)
        return message_props(obj)
    ident = mbx.ident
    return {P.PidTagDisplayName: mbx.display_name, P.PidTagStoreRecordKey: ident.mailbox_guid.bytes_le,
            P.PidTagMailboxOwnerName: mbx.display_name}


def size_limit(req, call) -> int:
    return min(req.property_size_limit or DEFAULT_SIZE_LIMIT, max(call.space - 64, 0))


async def get_properties_specific(call, req: PR.GetPropertiesSpecificRequest):
    obj = call.obj(req.input_handle_index, "logon", "folder", "message")
    props = await object_props(call, obj)
    row = property_row(props, req.property_tags, codepage=call.codepage, table=False,
                       size_limit=size_limit(req, call))
    return PR.GetPropertiesSpecificResponse(handle_index=req.input_handle_index, return_value=0, row_data=row)


def _wire_tag(tag: int, want_unicode: bool) -> int:
    """The tag a value is sent under: Unicode strings as 8-bit ones when the client does not want Unicode."""
    ptype = tag & 0xFFFF
    if not want_unicode and ptype & 0xFFF == PropType.String:
        return (tag & 0xFFFF0000) | (ptype & 0xF000) | PropType.String8
    return tag


async def get_properties_all(call, req: PR.GetPropertiesAllRequest):
    obj = call.obj(req.input_handle_index, "logon", "folder", "message")
    props = await object_props(call, obj)
    limit = size_limit(req, call)
    out = []
    for key, v in props.items():
        if not isinstance(key, int) or v is None:       # named properties go by their mapped ids (not yet)
            continue
        tag = _wire_tag(key, bool(req.want_unicode))
        ptype = tag & 0xFFFF
        if ptype == 0 or not _fits(ptype, v, call.codepage):
            continue
        if isinstance(v, bool) and ptype != PropType.Boolean:
            continue
        if too_big(ptype, v, call.codepage, limit):
            out.append(((tag & 0xFFFF0000) | PT_ERROR, EC_NOT_ENOUGH_MEMORY))
        else:
            out.append((tag, v))
    return PR.GetPropertiesAllResponse(handle_index=req.input_handle_index, return_value=0,
                                       property_values=tuple(out))


HANDLERS = {0x07: get_properties_specific, 0x08: get_properties_all}
