"""Named-property ROPs (MS-OXCROPS 2.2.8, MS-OXCPRPT 3.2.5.8-3.2.5.10): RopGetPropertyIdsFromNames,
RopGetNamesFromPropertyIds, RopQueryNamedProperties, on the mailbox's named-property map.

The map is the mailbox's (a named property has one id in the whole mailbox, kept forever, as Outlook
caches it), whichever object the request names. An id below 0x8000 is its own name in PS_MAPI.
"""
from __future__ import annotations

import uuid

from gateway.store.errors import QuotaExceeded
from protocols.mapi.props.named import NamedProp
from protocols.rops import property as PR

from ..call import RopError

MAPI_CREATE = 0x02                       # RopGetPropertyIdsFromNames Flags
EC_WARN_WITH_ERRORS = PR.EC_WARN_WITH_ERRORS
EC_NP_QUOTA = 0x8004060A                 # ecNPQuotaExceeded
PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046")
QUERY_NO_STRINGS, QUERY_NO_IDS = 0x01, 0x02


def _named(name: PR.PropertyName) -> NamedProp | None:
    if name.kind == PR.KIND_LID:
        return NamedProp(name.guid, lid=name.lid)
    if name.kind == PR.KIND_NAME and name.name:
        return NamedProp(name.guid, name=name.name)
    return None


def _wire(np: NamedProp) -> PR.PropertyName:
    if np.lid is not None:
        return PR.PropertyName(PR.KIND_LID, np.guid, lid=np.lid)
    return PR.PropertyName(PR.KIND_NAME, np.guid, name=np.name)


async def get_property_ids_from_names(call, req: PR.GetPropertyIdsFromNamesRequest):
    call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
    names = call.mbx.names
    create = bool(req.flags & MAPI_CREATE)
    ids, missing = [], False
    for name in req.property_names:
        np = _named(name)
        if name.kind == PR.KIND_LID and name.guid == PS_MAPI and name.lid < 0x8000:
            ids.append(name.lid)                 # PS_MAPI names the fixed ids themselves
            continue
        try:
            pid = names.get_id(np, create) if np is not None else None
        except QuotaExceeded as exc:           # all 32767 named ids of the mailbox are taken
            raise RopError(EC_NP_QUOTA, str(exc)) from exc
        ids.append(pid or 0)
        missing = missing or not pid
    return PR.GetPropertyIdsFromNamesResponse(handle_index=req.input_handle_index,
                                              return_value=EC_WARN_WITH_ERRORS if missing else 0,
                                              property_ids=tuple(ids))


async def get_names_from_property_ids(call, req: PR.GetNamesFromPropertyIdsRequest):
    call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
    names = call.mbx.names
    out, missing = [], False
    for pid in req.property_ids:
        if pid < 0x8000:
            out.append(PR.PropertyName(PR.KIND_LID, PS_MAPI, lid=pid))
            continue
        np = names.get_name(pid)
        if np is None:
            out.append(PR.PropertyName(PR.KIND_NONE, uuid.UUID(int=0)))
            missing = True
        else:
            out.append(_wire(np))
    return PR.GetNamesFromPropertyIdsResponse(handle_index=req.input_handle_index,
                                              return_value=EC_WARN_WITH_ERRORS if missing else 0,
                                              property_names=tuple(out))


async def query_named_properties(call, req: PR.QueryNamedPropertiesRequest):
    call.obj(req.input_handle_index, "logon", "folder", "message", "attachment")
    ids, names = [], []
    for pid, np in call.mbx.names.mapped():
        if req.property_guid is not None and np.guid != req.property_guid:
            continue
        if (np.name is not None and req.query_flags & QUERY_NO_STRINGS) or \
                (np.lid is not None and req.query_flags & QUERY_NO_IDS):
            continue
        ids.append(pid)
        names.append(_wire(np))
    return PR.QueryNamedPropertiesResponse(handle_index=req.input_handle_index, return_value=0,
                                           property_ids=tuple(ids), property_names=tuple(names))


HANDLERS = {0x56: get_property_ids_from_names, 0x55: get_names_from_property_ids, 0x5F: query_named_properties}
