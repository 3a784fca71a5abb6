"""Property ROPs (MS-OXCROPS 2.2.8): RopGetPropertiesSpecific and RopGetPropertiesAll on a logon (the store),
a folder or an opened message.

On an object (not a table) a value whose bytes pass PropertySizeLimit -- or, when the client sends 0,
DEFAULT_SIZE_LIMIT -- is answered ecMAPI_E_NOT_ENOUGH_MEMORY in its cell (MS-OXCPRPT 3.2.5.1, 3.2.5.2) and
the client reads it with RopOpenStream: that is how Outlook gets a long PidTagBody or PidTagHtml.
"""
from __future__ import annotations

from gateway.store.oab import OAB_DN
from protocols.mapi.entryids import encode_address_book
from protocols.mapi.props import core as P
from protocols.mapi.types import PropType
from protocols.rops import property as PR

from .. import editing
from ..call import EC_ACCESS_DENIED
from ..editing import tagged
from ..props import EC_NOT_ENOUGH_MEMORY, PT_ERROR, _fits, property_row, too_big

# the value size a server allows when the client leaves PropertySizeLimit at 0: a property row has to fit
# one ROP response with room for others, so bigger values go by stream
DEFAULT_SIZE_LIMIT = 0x1000


def message_props(mbx, obj) -> dict:
    """A message's properties as a MAPI client sees them: the working copy's when it has one, named
    properties under the mailbox's tags."""
    props = tagged(mbx, obj.draft.props if obj.draft is not None else obj.item.props)
    if obj.mid is not None:
        props.setdefault(P.PidTagMid, obj.mid)
    props.setdefault(P.PidTagFolderId, obj.fid)
    if obj.draft is not None:
        props[P.PidTagHasAttachments] = bool(obj.draft.attachments)
    return props


async def object_props(call, obj) -> dict:
    mbx = call.mbx
    if obj.kind == "folder":
        folder = await mbx.get_folder(obj.fid)
        props = tagged(mbx, folder.props)
        if folder.role in ("root", "inbox"):
            props.update(await special_folder_entryids(mbx))
        return props
    if obj.kind == "message":
        if obj.item is None and obj.mid is not None:
            obj.item = await mbx.get_item(obj.mid)
        return message_props(mbx, obj)
    if obj.kind == "attachment":
        return tagged(mbx, obj.props)
    ident = mbx.ident
    return {P.PidTagDisplayName: mbx.display_name, P.PidTagStoreRecordKey: ident.mailbox_guid.bytes_le,
            P.PidTagMailboxOwnerName: mbx.display_name, PR_OFFLINE_ADDRBOOK_ENTRYID: OAB_ENTRY_ID}


# The store's pointer at the offline address book (edkmdb.h PR_OFFLINE_ADDRBOOK_ENTRYID, pidStoreMin+0x0B;
# MS-OXPROPS gives it no canonical name): the Address Book EntryID (MS-OXNSPI 2.2.9.3 PermanentEntryID) of
# the OAB's DN, the one oab.xml names in its OAL element's dn (MS-OXWOAB 2.2) under Autodiscover's OABUrl.
# A container, as the address lists GetSpecialTable lists.
PR_OFFLINE_ADDRBOOK_ENTRYID = 0x66230102
OAB_ENTRY_ID = encode_address_book(OAB_DN, 0x100)       # DT_CONTAINER (MS-OXNSPI 2.2.1.3)


# MS-OXOSFLD 2.2.1/2.2.4: where a client finds the special folders that are not among RopLogon's 13 ids,
# on the root folder and on the Inbox
SPECIAL_ENTRYIDS = {P.PidTagIpmAppointmentEntryId: "calendar", P.PidTagIpmContactEntryId: "contacts",
                    P.PidTagIpmJournalEntryId: "journal", P.PidTagIpmNoteEntryId: "notes",
                    P.PidTagIpmTaskEntryId: "tasks", P.PidTagIpmDraftsEntryId: "drafts"}


async def special_folder_entryids(mbx) -> dict:
    out = {}
    for tag, role in SPECIAL_ENTRYIDS.items():
        try:
            out[tag] = (await mbx.folder_by_role(role)).props[P.PidTagEntryId]
        except Exception:   # noqa: BLE001 - a folder the store lacks (no DAV) is left out
            continue
    return out


def size_limit(req, call) -> int:
    return min(req.property_size_limit or DEFAULT_SIZE_LIMIT, max(call.space - 64, 0))


async def get_properties_specific(call, req: PR.GetPropertiesSpecificRequest):
    obj = call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
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
    obj = call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
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


def _problems(found) -> tuple:
    return tuple(PR.PropertyProblem(n, tag, code) for n, tag, code in found)


async def _set_on(call, obj, values) -> list:
    mbx = call.mbx
    if obj.kind == "message":
        return editing.set_message_props(mbx, obj, values)
    if obj.kind == "attachment":
        editing.need_writable(obj)
        problems = []
        for n, (tag, v) in enumerate(values):
            if tag == P.PidTagAttachNumber:
                problems.append((n, tag, EC_ACCESS_DENIED))
            else:
                obj.props[editing.key_of(mbx, tag)] = v
        return problems
    if obj.kind == "folder":
        problems = [(n, tag, EC_ACCESS_DENIED) for n, (tag, _) in enumerate(values) if tag in editing.READ_ONLY]
        keep = {editing.key_of(mbx, tag): v for tag, v in values if tag not in editing.READ_ONLY}
        if keep:
            await mbx.set_folder_props(obj.fid, keep)    # PidTagDisplayName renames the folder
        return problems
    # the logon (store object): its properties are the gateway's, none is settable
    return [(n, tag, EC_ACCESS_DENIED) for n, (tag, _) in enumerate(values)]


async def set_properties(call, req: PR.SetPropertiesRequest):
    """RopSetProperties/RopSetPropertiesNoReplicate (MS-OXCPRPT 3.2.5.4): a message or attachment changes
    in its working copy (saved by RopSaveChanges*), a folder at once; a property that cannot be set is a
    PropertyProblem, the others are set."""
    obj = call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
    problems = await _set_on(call, obj, req.property_values)
    cls = PR.SetPropertiesResponse if req.ROP_ID == 0x0A else PR.SetPropertiesNoReplicateResponse
    return cls(handle_index=req.input_handle_index, return_value=0, property_problems=_problems(problems))


async def delete_properties(call, req: PR.DeletePropertiesRequest):
    obj = call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
    mbx = call.mbx
    if obj.kind == "message":
        problems = editing.delete_message_props(mbx, obj, req.property_tags)
    elif obj.kind == "attachment":
        editing.need_writable(obj)
        for tag in req.property_tags:
            obj.props.pop(editing.key_of(mbx, tag), None)
        problems = []
    elif obj.kind == "folder":
        problems = [(n, t, EC_ACCESS_DENIED) for n, t in enumerate(req.property_tags) if t in editing.READ_ONLY]
        keys = [editing.key_of(mbx, t) for t in req.property_tags if t not in editing.READ_ONLY]
        if keys:
            await mbx.remove_folder_props(obj.fid, keys)
    else:
        problems = [(n, t, EC_ACCESS_DENIED) for n, t in enumerate(req.property_tags)]
    cls = PR.DeletePropertiesResponse if req.ROP_ID == 0x0B else PR.DeletePropertiesNoReplicateResponse
    return cls(handle_index=req.input_handle_index, return_value=0, property_problems=_problems(problems))


async def get_properties_list(call, req: PR.GetPropertiesListRequest):
    obj = call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
    props = await object_props(call, obj)
    tags = tuple(t for t, v in props.items() if isinstance(t, int) and v is not None and t & 0xFFFF)
    return PR.GetPropertiesListResponse(handle_index=req.input_handle_index, return_value=0, property_tags=tags)


HANDLERS = {0x07: get_properties_specific, 0x08: get_properties_all, 0x09: get_properties_list,
            0x0A: set_properties, 0x79: set_properties, 0x0B: delete_properties, 0x7A: delete_properties}
