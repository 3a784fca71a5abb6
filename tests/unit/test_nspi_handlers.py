"""The NSPI handlers called directly (no HTTP) on the demo directory plus fixtures/nspi/extra_people.ldif, the
entry-id and row builders, the session's MIds and the shared MAPI/HTTP session table."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.filedir import FileDirectory
from gateway.http.mapihttp import MapiSession, SessionTable
from gateway.nspi import rows as R
from gateway.nspi.calls import HANDLERS, Call
from gateway.nspi.session import FIRST_ENTRY_MID, NspiSession, NspiSessionTable
from gateway.store.directory import Directory
from protocols.mapi.props import core as P
from protocols.mapi.restrictions import FL_IGNORECASE, FL_PREFIX, ContentRestriction
from protocols.nspi import codec as C

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="
NAMES = ["Alan Ames", "Alice Archer", "Bob Baker", "Carol Clark", "sales", "team"]


@pytest.fixture
def call(tmp_path):
    ldif = tmp_path / "directory.ldif"
    ldif.write_text(Path(DIRECTORY_LDIF).read_text(encoding="utf-8") + "\n"
                    + (ROOT / "fixtures/nspi/extra_people.ldif").read_text(encoding="utf-8"), encoding="utf-8")
    session = NspiSessionTable().create("alice@example.test", "alice", "Alice Archer")
    return Call("QueryRows", session, Directory(FileDirectory(ldif)), None, "https://gw.example.test")


async def run(call, name, req):
    call.name = name
    resp = await HANDLERS[name](call, req)
    # every answer is a body the codec reads back as it was
    body = resp.encode()
    assert C.decode_response(name, body).encode() == body
    return resp


def values(rowset):
    return [{t: v.value for t, v in zip(rowset.columns, r.values) if v.flag in (None, 0)} for r in rowset.rows]


async def mids(call):
    resp = await run(call, "QueryRows", C.QueryRowsRequest(state=C.Stat(), row_count=100,
                                                          columns=(P.PidTagDisplayName, P.PidTagInstanceKey)))
    return {r[P.PidTagDisplayName]: int.from_bytes(r[P.PidTagInstanceKey], "little") for r in values(resp.rows)}


# ---------------------------------------------------------------- builders


def test_entry_ids_follow_ms_oxnspi_2_2_9():
    dn = RECIPIENTS + "alice"
    perm = R.permanent_entry_id(dn, 0)
    assert perm[:4] == b"\0\0\0\0"
    assert perm[4:20] == bytes([0xDC, 0xA7, 0x40, 0xC8, 0xC0, 0x42, 0x10, 0x1A,
                                0xB4, 0xB9, 0x08, 0x00, 0x2B, 0x2F, 0xE1, 0x82])   # 2.2.1.7, byte for byte
    assert perm[20:24] == b"\x01\0\0\0" and perm[24:28] == b"\0\0\0\0" and perm[28:] == dn.encode() + b"\0"
    guid = uuid.uuid4()
    eph = R.ephemeral_entry_id(guid, 0x1234, 1)
    assert len(eph) == 32 and eph[0] == 0x87 and eph[4:20] == guid.bytes_le and eph[28:] == b"\x34\x12\0\0"
    assert R.parse_entry_id(perm) == ("dn", dn) and R.parse_entry_id(eph) == ("mid", 0x1234)
    assert R.parse_entry_id(b"\x01" * 10) is None


def test_rows_flag_missing_values_and_give_string8_when_asked():
    props = {P.PidTagDisplayName: "Zoë", P.PidTagObjectType: 6}
    row = R.make_row(props, (P.PidTagDisplayName, P.PidTagObjectType))
    assert row.flags == 0 and [v.value for v in row.values] == ["Zoë", 6]
    row = R.make_row(props, (0x3001001E, P.PidTagTitle, 0x0FFE0000))
    assert row.flags == 1
    assert (row.values[0].ptype, row.values[0].value, row.values[0].flag) == (0x1E, "Zoë", 0)
    assert (row.values[1].ptype, row.values[1].value, row.values[1].flag) == (0x1F, R.NOT_FOUND, 0xA)
    assert (row.values[2].ptype, row.values[2].value) == (0x0003, 6)       # PtypUnspecified: the value's own
    vals, missing = R.value_list(props, (P.PidTagDisplayName, P.PidTagTitle))
    assert missing and vals[1].tag == (P.PidTagTitle & 0xFFFF0000) | 0x000A and vals[1].value.value == R.NOT_FOUND


def test_session_mids_are_stable_and_above_the_reserved_ones():
    s = NspiSession("ctx", "a@x", "a", "A")
    m1, m2 = s.mid(RECIPIENTS + "alice"), s.mid(RECIPIENTS + "bob")
    assert m1 >= FIRST_ENTRY_MID and m2 == m1 + 1
    assert s.mid((RECIPIENTS + "ALICE").upper()) == m1 and s.dn(m2) == (RECIPIENTS + "bob").lower()
    s.close()
    assert s.closed and s.dn(m1) is None


def test_shared_session_table_bounds_and_expiry():
    t = SessionTable(per_user=2, idle=10)
    a, b, c = (t.create("U@x", "u", "U") for _ in range(3))
    assert a.closed and t.get(a.context, "u@x") is None and t.get(c.context, "u@x") is c
    assert t.get(c.context, "other@x") is None                  # another user's context is not found
    assert isinstance(c, MapiSession) and c.code_page == "cp1252"
    assert t.expire(now=c.used + 11) == 2 and len(t) == 0


# ---------------------------------------------------------------- handlers


async def test_query_rows_pages_through_the_gal_with_the_stat(call):
    cols = (P.PidTagDisplayName,)
    first = await run(call, "QueryRows", C.QueryRowsRequest(state=C.Stat(), row_count=4, columns=cols))
    assert [r[P.PidTagDisplayName] for r in values(first.rows)] == NAMES[:4]
    assert first.state.num_pos == 4 and first.state.total_recs == 6 and first.state.current_rec > R.MID_END_OF_TABLE
    rest = await run(call, "QueryRows", C.QueryRowsRequest(state=first.state, row_count=4, columns=cols))
    assert [r[P.PidTagDisplayName] for r in values(rest.rows)] == NAMES[4:]
    assert rest.state.current_rec == R.MID_END_OF_TABLE and rest.state.num_pos == 6
    # a negative Delta from the end: the last two
    back = await run(call, "QueryRows", C.QueryRowsRequest(state=C.Stat(current_rec=R.MID_END_OF_TABLE, delta=-2),
                                                          row_count=10, columns=cols))
    assert [r[P.PidTagDisplayName] for r in values(back.rows)] == NAMES[4:]
    # an unknown container
    bad = await run(call, "QueryRows", C.QueryRowsRequest(state=C.Stat(container_id=0x999), row_count=1, columns=cols))
    assert isinstance(bad, C.FailureResponse)


async def test_ephemeral_entry_ids_on_request(call):
    m = await mids(call)
    resp = await run(call, "QueryRows", C.QueryRowsRequest(flags=R.F_EPH_ID, state=C.Stat(), row_count=1,
                                                          columns=(P.PidTagEntryId,)))
    eid = values(resp.rows)[0][P.PidTagEntryId]
    assert R.parse_entry_id(eid) == ("mid", m["Alan Ames"]) and eid[4:20] == call.session.server_guid.bytes_le


async def test_resolve_names_exact_beats_prefix_and_reports_ambiguity(call):
    m = await mids(call)
    resp = await run(call, "ResolveNames", C.ResolveNamesRequest(
        state=C.Stat(), property_tags=(P.PidTagDisplayName,),
        names=("Alice Archer", "a", "team", "zz", RECIPIENTS + "bob", "=SMTP:nobody@example.test",
               "=SMTP:carol@example.test", "=Ali")))
    assert resp.minimal_ids == (m["Alice Archer"], R.MID_AMBIGUOUS, m["team"], R.MID_UNRESOLVED, m["Bob Baker"],
                                R.MID_UNRESOLVED, m["Carol Clark"], R.MID_UNRESOLVED)
    assert len(resp.rows.rows) == 4


async def test_get_props_and_errors(call):
    m = await mids(call)
    resp = await run(call, "GetProps", C.GetPropsRequest(state=C.Stat(current_rec=m["Bob Baker"]),
                                                        property_tags=(P.PidTagDisplayName, 0x8005001F)))
    got = {t.tag: t.value.value for t in resp.property_values}
    assert resp.error_code == 0 and got[0x8005001F] == RECIPIENTS + "alice"    # bob's manager
    unknown = await run(call, "GetProps", C.GetPropsRequest(state=C.Stat(current_rec=0x7FFF0000)))
    assert isinstance(unknown, C.FailureResponse) and unknown.status_code == R.NOT_FOUND


async def test_get_matches_with_a_content_restriction(call):
    res = ContentRestriction(FL_PREFIX | FL_IGNORECASE, P.PidTagDisplayName, "c")
    resp = await run(call, "GetMatches", C.GetMatchesRequest(state=C.Stat(), filter=res, row_count=10,
                                                            columns=(P.PidTagDisplayName,)))
    assert [r[P.PidTagDisplayName] for r in values(resp.rows)] == ["Carol Clark"]


async def test_special_table_in_string8_and_the_refusals(call):
    resp = await run(call, "GetSpecialTable", C.GetSpecialTableRequest(flags=0, state=C.Stat()))
    names = [t.value.value for row in resp.rows for t in row if t.tag == 0x3001001E]
    assert names == ["Global Address List", "All Rooms", "All Distribution Lists"]
    # the address creation table is empty (gateway/nspi/calls/tables.py says why), not an error
    creation = await run(call, "GetSpecialTable", C.GetSpecialTableRequest(flags=R.NSPI_ADDRESS_CREATION_TEMPLATES))
    assert creation.error_code == 0 and creation.rows == ()
    m = await mids(call)
    alice = C.Stat(current_rec=m["Alice Archer"])
    assert (await run(call, "ModProps", C.ModPropsRequest(state=alice, property_tags=(P.PidTagTitle,)))
            ).status_code == R.ACCESS_DENIED
    assert (await run(call, "ModProps", C.ModPropsRequest(state=alice))).status_code == R.INVALID_PARAMETER
    assert (await run(call, "ModProps", C.ModPropsRequest(state=C.Stat(current_rec=0x7777), property_tags=())
                      )).status_code == R.INVALID_PARAMETER
    assert (await run(call, "ModLinkAtt", C.ModLinkAttRequest(minimal_id=m["team"]))).status_code == R.ACCESS_DENIED
    assert (await run(call, "ModLinkAtt", C.ModLinkAttRequest(minimal_id=0x7777))).status_code == R.INVALID_PARAMETER
    assert (await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(code_page=1252, template_dn="/o=x/cn=t"))
            ).status_code == R.INVALID_LOCALE
    assert (await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(code_page=1200))
            ).status_code == R.INVALID_CODEPAGE


async def test_seek_update_compare_resort(call):
    m = await mids(call)
    target = C.TaggedValue(P.PidTagDisplayName, C.PropValue(0x1F, "Carol"))
    seek = await run(call, "SeekEntries", C.SeekEntriesRequest(state=C.Stat(), target=target))
    assert seek.state.current_rec == m["Carol Clark"] and seek.state.num_pos == 3 and seek.rows is None
    bad = await run(call, "SeekEntries", C.SeekEntriesRequest(state=C.Stat(sort_type=2), target=target))
    assert isinstance(bad, C.FailureResponse)
    up = await run(call, "UpdateStat", C.UpdateStatRequest(state=C.Stat(current_rec=m["team"], delta=-10),
                                                          delta_requested=1))
    assert up.state.num_pos == 0 and up.delta == -5 and up.state.current_rec == m["Alan Ames"]
    cmp = await run(call, "CompareMIds", C.CompareMIdsRequest(state=C.Stat(), minimal_id1=m["team"],
                                                             minimal_id2=m["Bob Baker"]))
    assert cmp.result == 1
    resort = await run(call, "ResortRestriction", C.ResortRestrictionRequest(
        state=C.Stat(), minimal_ids=(m["team"], 0x7777, m["Alan Ames"])))
    assert resort.minimal_ids == (m["Alan Ames"], m["team"])


async def test_query_columns_and_prop_list(call):
    m = await mids(call)
    cols = await run(call, "QueryColumns", C.QueryColumnsRequest(map_flags=0))
    assert 0x3001001E in cols.columns and P.PidTagDisplayName not in cols.columns
    plist = await run(call, "GetPropList", C.GetPropListRequest(minimal_id=m["sales"], code_page=1252))
    assert 0x3001001E in plist.property_tags and P.PidTagEntryId in plist.property_tags
