"""Finding entries: DNToMId, ResolveNames, GetMatches (MS-OXNSPI 3.1.4.1.13, .17/.18, .10)."""
from __future__ import annotations

from protocols.mapi.restrictions import (AndRestriction, ContentRestriction, NotRestriction, OrRestriction,
                                         PropertyRestriction, RestrictionError, evaluate, unsupported)
from protocols.nspi import codec as C

from .. import rows as R
from .base import Call, with_stat

PID_ANR = 0x360C                  # PidTagAnr: ambiguous name resolution in a restriction
TABLE_TOO_BIG = 0x80040403


async def dn_to_mid(call: Call, req) -> C.DNToMIdResponse:
    book = await call.book()
    mids = []
    for dn in req.names or ():
        e = book.find_dn(dn)
        mids.append(book.mid(e) if e is not None else R.MID_UNRESOLVED)
    return C.DNToMIdResponse(minimal_ids=tuple(mids))


async def resolve_names(call: Call, req) -> C.ResolveNamesResponse:
    """Each name: one entry (its MId and a row), none (MID_UNRESOLVED) or several (MID_AMBIGUOUS).
    Rows come for the resolved names only, in order (MS-OXNSPI 3.1.4.1.18)."""
    stat = req.state or C.Stat()
    book = await call.book()
    mids, found = [], []
    for name in req.names or ():
        hits = book.resolve(name)
        if len(hits) == 1:
            mids.append(book.mid(hits[0]))
            found.append(hits[0])
        else:
            mids.append(R.MID_UNRESOLVED if not hits else R.MID_AMBIGUOUS)
    rows = None
    if req.property_tags is not None:
        rows = R.make_rowset([book.props(e) for e in found], req.property_tags)
    return C.ResolveNamesResponse(code_page=stat.code_page, minimal_ids=tuple(mids), rows=rows)


def _anr_free(r, entry, props_of) -> bool:
    """``evaluate`` with PidTagAnr leaves answered by name resolution over the entry."""
    if isinstance(r, AndRestriction):
        return all(_anr_free(c, entry, props_of) for c in r.children)
    if isinstance(r, OrRestriction):
        return any(_anr_free(c, entry, props_of) for c in r.children)
    if isinstance(r, NotRestriction):
        return not _anr_free(r.child, entry, props_of)
    if isinstance(r, (PropertyRestriction, ContentRestriction)) and isinstance(r.tag, int) and r.tag >> 16 == PID_ANR:
        from gateway.store.directory import Directory
        value = r.value.value if hasattr(r.value, "value") else r.value
        return Directory.matches_name(entry, str(value or ""))
    props = props_of(entry)

    def get(key):
        if not isinstance(key, int):
            return None
        for tag, v in props.items():
            if tag >> 16 == key >> 16:
                return v
        return None
    return evaluate(r, get)


async def get_matches(call: Call, req) -> C.GetMatchesResponse:
    stat = req.state or C.Stat()
    book = await call.book()
    limit = req.row_count
    if req.filter is None:
        # a link property of the object at CurrentRec, named by ContainerID (MS-OXNSPI 3.1.4.1.10 c. 9)
        e = book.entry(stat.current_rec)
        if e is None:
            return call.fail(R.NOT_FOUND)
        entries = await book.links(e, stat.container_id)
        if entries is None:
            return call.fail(R.NOT_SUPPORTED)
        new = with_stat(stat, container_id=stat.current_rec)
    else:
        if stat.sort_type not in (0, 0x00000003):
            return call.fail(R.GENERAL_FAILURE)
        try:
            if [n for n in unsupported(req.filter) if not _is_anr(n)]:
                return call.fail(R.TOO_COMPLEX)
        except RestrictionError:
            return call.fail(R.TOO_COMPLEX)
        table = book.table(stat.container_id)
        if table is None:
            return call.fail(R.INVALID_BOOKMARK)
        cache: dict[int, dict] = {}

        def props_of(x):
            if id(x) not in cache:
                cache[id(x)] = book.props(x)
            return cache[id(x)]
        entries = [e for e in table if _anr_free(req.filter, e, props_of)]
        new = stat
    if limit and len(entries) > limit:
        return call.fail(TABLE_TOO_BIG)
    mids = tuple(book.mid(e) for e in entries)
    rows = None
    if req.columns is not None:
        rows = R.make_rowset([book.props(e) for e in entries], req.columns)
    return C.GetMatchesResponse(state=new, minimal_ids=mids, rows=rows)


def _is_anr(node) -> bool:
    return isinstance(getattr(node, "tag", None), int) and node.tag >> 16 == PID_ANR
