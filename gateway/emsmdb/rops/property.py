"""Property ROPs (MS-OXCROPS 2.2.8): RopGetPropertiesSpecific on a logon (the store), a folder or a message."""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.rops import property as PR

from ..props import property_row


async def object_props(call, obj) -> dict:
    mbx = call.mbx
    if obj.kind == "folder":
        return dict((await mbx.get_folder(obj.fid)).props)
    if obj.kind == "message":
        item = await mbx.get_item(obj.mid)
        props = dict(item.props)
        props.setdefault(P.PidTagMid, item.mid)
        props.setdefault(P.PidTagFolderId, item.fid)
        return props
    ident = mbx.ident
    return {P.PidTagDisplayName: mbx.display_name, P.PidTagStoreRecordKey: ident.mailbox_guid.bytes_le,
            P.PidTagMailboxOwnerName: mbx.display_name}


async def get_properties_specific(call, req: PR.GetPropertiesSpecificRequest):
    obj = call.obj(req.input_handle_index, "logon", "folder", "message")
    props = await object_props(call, obj)
    row = property_row(props, req.property_tags, codepage=call.codepage, table=False)
    return PR.GetPropertiesSpecificResponse(handle_index=req.input_handle_index, return_value=0, row_data=row)


HANDLERS = {0x07: get_properties_specific}
