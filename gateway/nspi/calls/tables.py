"""The table calls: GetSpecialTable, QueryRows, SeekEntries, UpdateStat, CompareMIds, ResortRestriction.

A table is a container (STAT.ContainerID) or an explicit table of MIds the client sends; positions are
STAT.CurrentRec (a MId, or MID_BEGINNING_OF_TABLE / MID_END_OF_TABLE) moved by Delta (MS-OXNSPI 3.1.4.5).
"""
from __future__ import annotations

from gateway.store.directory import GAL_TTL
from protocols.mapi.props import core as P
from protocols.nspi import codec as C

from .. import rows as R
from ..book import CONTAINERS, AddressBook
from .base import Call, with_stat

MAX_ROWS = 5000          # rows one QueryRows answers at most (the client asks again from where it ended)


async def get_special_table(call: Call, req) -> C.GetSpecialTableResponse:
    """The address-book hierarchy table, or the address creation table (MS-OXNSPI 3.1.4.1.3)."""
    if req.flags & R.NSPI_ADDRESS_CREATION_TEMPLATES:
        # The creation table is empty, as for a locale a server keeps none for (constraint 11: no error).
        # A creation template needs an addressing script (PidTagScriptData, MS-OXOABKT 2.2.3) to build the
        # address, and the one-off Internet address Outlook offers in New Entry is its own (a One-Off
        # EntryID, MS-OXCDATA 2.2.5.1), so an SMTP template here would only duplicate it.
        code_page = req.state.code_page if req.state else 1252
        return C.GetSpecialTableResponse(code_page=code_page, version=req.version, rows=())
    unicode = bool(req.flags & R.NSPI_UNICODE_STRINGS)
    out = []
    for c in CONTAINERS.values():           # fixed containers: no need to read the GAL for them
        props = AddressBook.container_props(c)
        tags = [P.PidTagEntryId, 0x36000003, P.PidTagDepth, 0xFFFD0003, 0xFFFB000B,
                P.PidTagDisplayName if unicode else (P.PidTagDisplayName & 0xFFFF0000) | 0x1E]
        values, _ = R.value_list(props, tags)
        out.append(values)
    code_page = req.state.code_page if req.state else 1252
    return C.GetSpecialTableResponse(code_page=code_page, version=1, rows=tuple(out))


async def query_rows(call: Call, req) -> C.QueryRowsResponse:
    stat = req.state or C.Stat()
    # a page after the first of one read (a position or MIds this session was given) takes the GAL as
    # checked a moment ago: Outlook reads a 10,000-entry GAL in a hundred of these
    continuing = bool(req.explicit_table) or stat.current_rec != R.MID_BEGINNING_OF_TABLE
    book = await call.book(GAL_TTL if continuing else 0.0)
    ephemeral = bool(req.flags & R.F_EPH_ID)
    columns = req.columns if req.columns is not None else _default_columns()
    if req.explicit_table:
        entries = [e for e in book.explicit(req.explicit_table)]
        props = [book.props(e, ephemeral=ephemeral) if e is not None else {} for e in entries[:req.row_count or None]]
        return C.QueryRowsResponse(state=stat, rows=R.make_rowset(props, columns))
    table = book.table(stat.container_id)
    if table is None:
        return call.fail(R.INVALID_BOOKMARK)
    pos = book.position(table, stat.current_rec, stat.delta, stat.num_pos)
    count = min(req.row_count, MAX_ROWS)
    chosen = table[pos:pos + count]
    end = pos + len(chosen)
    new = with_stat(stat, current_rec=book.rec_at(table, end), delta=0, num_pos=end, total_recs=len(table))
    return C.QueryRowsResponse(state=new, rows=R.make_rowset([book.props(e, ephemeral=ephemeral) for e in chosen],
                                                            columns))


def _default_columns():
    return (P.PidTagAddressBookDisplayNamePrintable, P.PidTagDisplayName, P.PidTagEmailAddress,
            P.PidTagDisplayType, P.PidTagObjectType, P.PidTagEntryId, P.PidTagInstanceKey)


async def seek_entries(call: Call, req) -> C.SeekEntriesResponse:
    """The first row whose display name is at or after the target (MS-OXNSPI 3.1.4.1.9); with columns,
    the rows from there to the end of the table."""
    stat = req.state or C.Stat()
    if stat.sort_type != 0:                    # SortTypeDisplayName only
        return call.fail(R.GENERAL_FAILURE)
    if req.target is None or req.target.tag >> 16 != P.PidTagDisplayName >> 16:
        return call.fail(R.GENERAL_FAILURE)
    book = await call.book()
    if req.explicit_table is not None:
        table = [e for e in book.explicit(req.explicit_table) if e is not None]
    else:
        table = book.table(stat.container_id)
        if table is None:
            return call.fail(R.INVALID_BOOKMARK)
    want = str(req.target.value.value or "").casefold()
    if table is book.entries:                  # the GAL: a bisect over the store's index
        found = book.index.seek(want)
        found = found if found < len(table) else None
    else:
        found = next((i for i, e in enumerate(table) if (e.display_name or "").casefold() >= want), None)
    if found is None:
        return call.fail(R.NOT_FOUND)
    new = with_stat(stat, current_rec=book.mid(table[found]), delta=0, num_pos=found, total_recs=len(table))
    rowset = None
    if req.columns is not None:
        rowset = R.make_rowset([book.props(e) for e in table[found:found + MAX_ROWS]], req.columns)
    return C.SeekEntriesResponse(state=new, rows=rowset)


async def update_stat(call: Call, req) -> C.UpdateStatResponse:
    stat = req.state or C.Stat()
    book = await call.book()
    table = book.table(stat.container_id)
    if table is None:
        return call.fail(R.INVALID_BOOKMARK)
    start = book.position(table, stat.current_rec, 0, stat.num_pos)
    pos = book.position(table, stat.current_rec, stat.delta, stat.num_pos)
    new = with_stat(stat, current_rec=book.rec_at(table, pos), delta=0, num_pos=pos, total_recs=len(table))
    return C.UpdateStatResponse(state=new, delta=(pos - start) if req.delta_requested else None)


async def compare_mids(call: Call, req) -> C.CompareMIdsResponse:
    stat = req.state or C.Stat()
    book = await call.book()
    table = book.table(stat.container_id)
    if table is None:
        return call.fail(R.INVALID_BOOKMARK)
    index = {book.mid(e): i for i, e in enumerate(table)}
    a, b = index.get(req.minimal_id1), index.get(req.minimal_id2)
    if a is None or b is None:
        return call.fail(R.GENERAL_FAILURE)
    return C.CompareMIdsResponse(result=(a > b) - (a < b))


async def resort_restriction(call: Call, req) -> C.ResortRestrictionResponse:
    """The MIds sorted by display name (the only sort); unknown MIds are dropped (MS-OXNSPI 3.1.4.1.11)."""
    stat = req.state or C.Stat()
    if stat.sort_type != 0:
        return call.fail(R.GENERAL_FAILURE)
    book = await call.book()
    entries = [e for e in book.explicit(req.minimal_ids or ()) if e is not None]
    entries.sort(key=lambda e: ((e.display_name or "").casefold(), book.mid(e)))
    mids = tuple(book.mid(e) for e in entries)
    cur = stat.current_rec if stat.current_rec in mids else (mids[0] if mids else R.MID_BEGINNING_OF_TABLE)
    num_pos = mids.index(cur) if cur in mids else 0
    return C.ResortRestrictionResponse(state=with_stat(stat, current_rec=cur, num_pos=num_pos, total_recs=len(mids)),
                                       minimal_ids=mids)
