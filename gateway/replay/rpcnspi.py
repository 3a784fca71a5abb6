"""NSPI calls captured over DCE/RPC (MS-OXNSPI 3.1.4.1) as the /mapi/nspi requests that replace them
(MS-OXCMAPIHTTP 2.2.5), for gateway/replay/rpcreplay.py.

Each call's parameters map onto the request type of the same name: the STAT, the MId lists, the property
tags and the names as they are (NspiResolveNames' 8-bit names and NspiResolveNamesW's both become
ResolveNames, whose names are Unicode), the context handle replaced by the session cookie; the recorded
answer (its return value as ErrorCode) is rewritten as the MAPI/HTTP answer so the address book replay
(gateway/replay/nspireplay.py) pairs its MIds and compares it with the live one. A PropertyRowSet_r
becomes the Columns + AddressBookPropertyRows of 2.2.1.8: the columns are the requested tags (else the
first row's), a row holding an error value (PT_ERROR) or a value of another type than its column is
written flagged (2.2.1.5: Flag 0xA and the error code); a PropertyRow_r of NspiGetProps becomes an
AddressBookPropertyValueList. Values keep their meaning: a FILETIME becomes a time, a GUID a UUID.
"""
from __future__ import annotations

import uuid

from protocols.mapi import restrictions as R
from protocols.mapi.values import filetime_to_datetime
from protocols.nspi import codec as ab
from protocols.rpch import nspicalls as rpc

PT_ERROR = 0x000A
PT_TIME = 0x0040
PT_GUID = 0x0048
PT_BOOLEAN = 0x000B
STRINGS = (0x001E, 0x001F)          # PT_STRING8, PT_UNICODE: a str either way
MV = 0x1000
# NSPI calls MS-OXCMAPIHTTP 2.2.5 has no request type for
NO_COUNTERPART = ("GetNamesFromIDs", "GetIDsFromNames", "GetFirstRow", "GetHierarchyInfo")


class NotCarried(ValueError):
    """A call or value that has no MAPI/HTTP form here (said as the reason it is not replayed)."""


def _tags(a: rpc.PropTagArray | None) -> tuple | None:
    return None if a is None else tuple(a.tags)


def _value(ptype: int, value):
    base = ptype & ~MV
    if ptype & MV and isinstance(value, list):
        return [_value(base, v) for v in value]
    if base == PT_TIME and isinstance(value, int):
        return filetime_to_datetime(value)
    if base == PT_GUID and isinstance(value, str):
        return uuid.UUID(value)
    if base == PT_BOOLEAN:
        return bool(value)
    return value


def _rowset(rs: rpc.RowSet | None, asked: tuple | None) -> ab.RowSet | None:
    if rs is None:
        return None
    first = next((r.values for r in rs.rows if r.values), [])
    columns = tuple(asked) if asked else tuple(v.tag for v in first)
    if asked and any(len(r.values or []) != len(asked) for r in rs.rows):
        columns = tuple(v.tag for v in first)       # the server answered other columns than were asked
    rows = []
    for row in rs.rows:
        values = row.values or []
        if len(values) != len(columns):
            raise NotCarried(f"a row of {len(values)} values for {len(columns)} columns")
        flagged = any(v.tag & 0xFFFF == PT_ERROR or v.tag != col for v, col in zip(values, columns))
        out = []
        for v, col in zip(values, columns):
            ptype = col & 0xFFFF
            if v.tag & 0xFFFF == PT_ERROR:
                out.append(ab.PropValue(ptype, v.value, 0xA))
            elif v.tag & 0xFFFF != ptype and not (v.tag & 0xFFFF in STRINGS and ptype in STRINGS):
                raise NotCarried(f"a value of type 0x{v.tag & 0xFFFF:04X} in a column of type 0x{ptype:04X}")
            else:
                out.append(ab.PropValue(ptype, _value(ptype, v.value), 0 if flagged else None))
        rows.append(ab.PropertyRow(1 if flagged else 0, tuple(out)))
    return ab.RowSet(columns, tuple(rows))


def _pvlist(row: rpc.PropRow | None) -> tuple | None:
    if row is None or row.values is None:
        return None
    return tuple(ab.TaggedValue(v.tag, ab.PropValue(v.tag & 0xFFFF, _value(v.tag & 0xFFFF, v.value)))
                 for v in row.values)


def _restriction(x: rpc.Restriction | None):
    """A Restriction_r (MS-OXNSPI 2.2.2.5) as the MS-OXCDATA 2.12 restriction GetMatches' Filter carries."""
    if x is None:
        return None
    kids = tuple(_restriction(c) for c in x.children or ())

    def comparand():
        ptype = x.prop.tag & 0xFFFF
        return _value(ptype, x.prop.value), x.prop.tag
    if x.rt == 0:
        return R.AndRestriction(kids)
    if x.rt == 1:
        return R.OrRestriction(kids)
    if x.rt == 2:
        return R.NotRestriction(_restriction(x.child))
    if x.rt == 3:
        value, tag = comparand()
        return R.ContentRestriction(x.fuzzy_level, x.prop_tag, value, tag)
    if x.rt == 4:
        value, tag = comparand()
        return R.PropertyRestriction(x.relop, x.prop_tag, value, tag)
    if x.rt == 5:
        return R.ComparePropertiesRestriction(x.relop, x.prop_tag, x.prop_tag2)
    if x.rt == 6:
        return R.BitMaskRestriction(x.relop, x.prop_tag, x.mask)
    if x.rt == 7:
        return R.SizeRestriction(x.relop, x.prop_tag, x.size)
    if x.rt == 8:
        return R.ExistRestriction(x.prop_tag)
    if x.rt == 9:
        return R.SubObjectRestriction(x.sub_object, _restriction(x.child))
    raise NotCarried(f"a {x.kind} restriction has no MS-OXCDATA form here")


def _mids(a: rpc.PropTagArray | None) -> tuple | None:
    return None if a is None else tuple(a.tags)


def carry(opnum: int, request_stub: bytes, response_stub: bytes) -> tuple[str, bytes, bytes]:
    """-> (the /mapi/nspi request type, its request body, the recorded answer as its response body)."""
    q = rpc.decode_request(opnum, request_stub)
    r = rpc.decode_response(opnum, response_stub)
    rv = r.return_value
    name = type(q).__name__.removeprefix("Nspi").removesuffix("Request")
    if name == "Unbind":
        return name, ab.UnbindRequest(reserved=q.reserved).encode(), ab.UnbindResponse(error_code=rv).encode()
    if name == "UpdateStat":
        return (name, ab.UpdateStatRequest(reserved=q.reserved, state=q.stat,
                                           delta_requested=int(q.delta is not None)).encode(),
                ab.UpdateStatResponse(error_code=rv, state=r.stat, delta=r.delta).encode())
    if name == "QueryRows":
        asked = _tags(q.prop_tags)
        return (name, ab.QueryRowsRequest(flags=q.flags, state=q.stat, explicit_table=tuple(q.etable or ()),
                                          row_count=q.count, columns=asked).encode(),
                ab.QueryRowsResponse(error_code=rv, state=r.stat, rows=_rowset(r.rows, asked)).encode())
    if name == "DNToMId":
        return (name, ab.DNToMIdRequest(reserved=q.reserved, names=tuple(q.names)).encode(),
                ab.DNToMIdResponse(error_code=rv, minimal_ids=_mids(r.out_mids)).encode())
    if name == "GetPropList":
        return (name, ab.GetPropListRequest(flags=q.flags, minimal_id=q.mid, code_page=q.code_page).encode(),
                ab.GetPropListResponse(error_code=rv, property_tags=_tags(r.prop_tags)).encode())
    if name == "GetProps":
        cp = q.stat.code_page if q.stat else 0
        return (name, ab.GetPropsRequest(flags=q.flags, state=q.stat, property_tags=_tags(q.prop_tags)).encode(),
                ab.GetPropsResponse(error_code=rv, code_page=cp, property_values=_pvlist(r.row)).encode())
    if name == "CompareMIds":
        return (name, ab.CompareMIdsRequest(reserved=q.reserved, state=q.stat, minimal_id1=q.mid1,
                                            minimal_id2=q.mid2).encode(),
                ab.CompareMIdsResponse(error_code=rv, result=r.result).encode())
    if name == "GetSpecialTable":
        cp = q.stat.code_page if q.stat else 0
        rows = None if r.rows is None else tuple(_pvlist(row) or () for row in r.rows.rows)
        return (name, ab.GetSpecialTableRequest(flags=q.flags, state=q.stat, version=q.version).encode(),
                ab.GetSpecialTableResponse(error_code=rv, code_page=cp, version=r.version, rows=rows).encode())
    if name == "QueryColumns":
        return (name, ab.QueryColumnsRequest(reserved=q.reserved, map_flags=q.flags).encode(),
                ab.QueryColumnsResponse(error_code=rv, columns=_tags(r.columns)).encode())
    if name in ("ResolveNames", "ResolveNamesW"):
        asked = _tags(q.prop_tags)
        cp = q.stat.code_page
        return ("ResolveNames", ab.ResolveNamesRequest(reserved=q.reserved, state=q.stat, property_tags=asked,
                                                       names=tuple(n or "" for n in q.names)).encode(),
                ab.ResolveNamesResponse(error_code=rv, code_page=cp, minimal_ids=_mids(r.mids),
                                        rows=_rowset(r.rows, asked)).encode())
    if name == "GetMatches":
        asked = _tags(q.prop_tags)
        pname = None
        if q.prop_name is not None:     # PropertyName_r's GUID may be NULL; GetMatches' is always there
            guid = uuid.UUID(q.prop_name.guid) if q.prop_name.guid else uuid.UUID(int=0)
            pname = ab.PropertyName(guid, q.prop_name.lid)
        return (name, ab.GetMatchesRequest(reserved=q.reserved1, state=q.stat, minimal_ids=_mids(q.reserved),
                                           interface_option_flags=q.reserved2, filter=_restriction(q.filter),
                                           property_name=pname, row_count=q.requested, columns=asked).encode(),
                ab.GetMatchesResponse(error_code=rv, state=r.stat, minimal_ids=_mids(r.out_mids),
                                      rows=_rowset(r.rows, asked)).encode())
    if name == "ResortRestriction":
        return (name, ab.ResortRestrictionRequest(reserved=q.reserved, state=q.stat,
                                                  minimal_ids=_mids(q.in_mids)).encode(),
                ab.ResortRestrictionResponse(error_code=rv, state=r.stat,
                                             minimal_ids=_mids(r.out_mids)).encode())
    if name == "SeekEntries":
        asked = _tags(q.prop_tags)
        t = q.target
        target = ab.TaggedValue(t.tag, ab.PropValue(t.tag & 0xFFFF, _value(t.tag & 0xFFFF, t.value)))
        return (name, ab.SeekEntriesRequest(reserved=q.reserved, state=q.stat, target=target,
                                            explicit_table=_mids(q.etable), columns=asked).encode(),
                ab.SeekEntriesResponse(error_code=rv, state=r.stat, rows=_rowset(r.rows, asked)).encode())
    if name == "GetTemplateInfo":
        return (name, ab.GetTemplateInfoRequest(flags=q.flags, display_type=q.type, template_dn=q.dn,
                                                code_page=q.code_page, locale_id=q.locale_id).encode(),
                ab.GetTemplateInfoResponse(error_code=rv, code_page=q.code_page, row=_pvlist(r.data)).encode())
    if name == "ModProps":
        return (name, ab.ModPropsRequest(reserved=q.reserved, state=q.stat, property_tags=_tags(q.prop_tags),
                                         property_values=_pvlist(q.row)).encode(),
                ab.ModPropsResponse(error_code=rv).encode())
    if name == "ModLinkAtt":
        entry_ids = None if q.entry_ids is None else tuple(e or b"" for e in q.entry_ids)
        return (name, ab.ModLinkAttRequest(flags=q.flags, property_tag=q.prop_tag, minimal_id=q.mid,
                                           entry_ids=entry_ids).encode(),
                ab.ModLinkAttResponse(error_code=rv).encode())
    if name in NO_COUNTERPART:
        raise NotCarried(f"Nspi{name} has no MAPI/HTTP counterpart (MS-OXCMAPIHTTP 2.2.5 has no such request type)")
    raise NotCarried(f"carrying Nspi{name} as its /mapi/nspi request is not written yet")
