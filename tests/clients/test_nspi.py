"""MAPI over HTTP's address book (/mapi/nspi/): a scripted client built on the project's codecs
(protocols.mapihttp for the framing, protocols.nspi for the bodies), and ruler's recorded NSPI requests
replayed (fixtures/nspi/ruler_nspi.json).

The scripted tests run on both gateways (``gw``): the demo stack with its directory plus
``fixtures/nspi/extra_people.ldif`` (a second "Al..." person with a photo so a prefix is ambiguous, a
second group), and the real servers with the same LDIF added to the session slapd for this module only
(``slapd_extras``: added at the module's first real test, deleted at its end, because other modules count
the slapd's users and groups). One test runs on the plain ``demo_gateway``, one on slapd alone (a change
made in LDAP)."""
from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import aiohttp
import pytest

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.filedir import FileDirectory
from protocols import mapihttp as M
from protocols.mapi.props import core as P
from protocols.mapi.restrictions import RELOP_EQ, PropertyRestriction
from protocols.nspi import codec as C

from ..stacks import _gateway
from .test_emsmdb import _ssl

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "nspi"
RECIPIENTS = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="
UNICODE = 1200
MID_UNRESOLVED, MID_AMBIGUOUS, MID_END = 0, 1, 2
NOT_FOUND, ERRORS_RETURNED, ACCESS_DENIED = 0x8004010F, 0x00040380, 0x80070005
GUID_NSPI = uuid.UUID("C840A7DC-42C0-1A10-B4B9-08002B2FE182")
PidTagAddressBookMember = 0x8009000D
PidTagAnr = 0x360C001F
PidTagAddressBookIsMemberOfDistributionList = 0x8008000D
PidTagAddressBookReports = 0x800E000D
PidTagAddressBookManagerDistinguishedName = 0x8005001F
PidTagAddressBookManager = 0x8005000D
PidTagThumbnailPhoto = 0x8C9E0102
TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
LDIF: dict[str, Path] = {}       # the directory file of each gateway this module started, by base URL
SLAPD: dict[str, object] = {}    # the slapd behind the real-server gateway, by base URL

# what Outlook's address book dialog asks for in each GAL row
GAL_COLUMNS = (P.PidTagDisplayName, P.PidTagEmailAddress, P.PidTagSmtpAddress, P.PidTagAddressType,
               P.PidTagBusinessTelephoneNumber, P.PidTagOfficeLocation, P.PidTagTitle, P.PidTagCompanyName,
               P.PidTagDepartmentName, P.PidTagAccount, P.PidTagObjectType, P.PidTagDisplayType,
               P.PidTagDisplayTypeEx, P.PidTagEntryId, P.PidTagInstanceKey)


@pytest.fixture(scope="session")
async def nspi_gateway(embedded, tmp_path_factory):
    d = tmp_path_factory.mktemp("gw-nspi")
    ldif = d / "directory.ldif"
    ldif.write_text(Path(DIRECTORY_LDIF).read_text(encoding="utf-8") + "\n"
                    + (FIX / "extra_people.ldif").read_text(encoding="utf-8"), encoding="utf-8")
    gw = await _gateway(embedded.gateway_config(str(d / "state.sqlite3"), ldif), d)
    LDIF[gw.base_url] = ldif
    try:
        yield gw
    finally:
        await gw.stop()


def _ldap_tool(slapd, tool: str, text: str) -> None:
    import subprocess
    subprocess.run([tool, "-x", "-H", slapd.url, "-D", slapd.admin_dn, "-w", slapd.admin_password],
                   input=text.encode(), check=True, capture_output=True)


@pytest.fixture(scope="module")
def slapd_extras(slapd):
    """extra_people.ldif in the session slapd while this module runs (its DNs); deleted at the end, groups
    first, so test_ldap_client, test_oab and the EWS tests see the demo directory they count."""
    ldif = (FIX / "extra_people.ldif").read_text(encoding="utf-8")
    dns = [line[4:].strip() for line in ldif.splitlines() if line.startswith("dn: ")]
    _ldap_tool(slapd, "ldapadd", ldif)
    try:
        yield dns
    finally:
        _ldap_tool(slapd, "ldapdelete", "\n".join(reversed(dns)) + "\n")


@pytest.fixture(params=["demo", "real"])
def gw(request):
    """The demo gateway over its LDIF directory, or the real-server gateway over slapd, with the same people."""
    if request.param == "demo":
        return request.getfixturevalue("nspi_gateway")
    request.getfixturevalue("slapd_extras")
    real = request.getfixturevalue("real_gateway")
    SLAPD[real.base_url] = request.getfixturevalue("slapd")
    return real


async def expected_gal(gw):
    """The GAL the gateway should show: its directory's entries in display-name order."""
    if gw.base_url in LDIF:
        return await gal_of(LDIF[gw.base_url])
    from gateway.backends.ldap import LdapDirectory
    slapd = SLAPD[gw.base_url]
    d = LdapDirectory(slapd.url, slapd.base_dn, bind_dn=slapd.admin_dn, bind_password=slapd.admin_password)
    try:
        entries = await d.list_all(("user", "group", "room", "equipment"))
    finally:
        await d.close()
    return sorted(entries, key=lambda e: e.display_name.casefold())


class NspiClient:
    def __init__(self, gw, login="alice", password="alicepw"):
        self.gw = gw
        self.auth = "Basic " + base64.b64encode(f"{login}@example.test:{password}".encode()).decode()
        self.cookies: dict[str, str] = {}
        self.client_info = "{" + str(uuid.uuid4()).upper() + "}"
        self.n = 0
        self.path = "/mapi/nspi/?MailboxId=alice@example.test"

    async def post(self, request_type: str, body: bytes, *, headers=None):
        self.n += 1
        h = {"Authorization": self.auth, "Content-Type": "application/mapi-http", "X-RequestType": request_type,
             "X-RequestId": f"{self.client_info}:{self.n}", "X-ClientInfo": self.client_info,
             "X-ClientApplication": "Outlook/16.0.0.0"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        async with aiohttp.ClientSession() as s:
            async with s.post(self.gw.base_url + self.path, data=body, headers=h, ssl=_ssl()) as r:
                for c in r.headers.getall("Set-Cookie", []):
                    name, _, rest = c.partition("=")
                    value = rest.split(";", 1)[0]
                    if value:
                        self.cookies[name] = value
                    else:
                        self.cookies.pop(name, None)
                return r.status, dict(r.headers), await r.read()

    async def call(self, req, *, name: str | None = None):
        rt = name or req.REQUEST_TYPE
        status, headers, data = await self.post(rt, req.encode() if hasattr(req, "encode") else req)
        assert status == 200 and headers["X-ResponseCode"] == "0", (status, headers, data)
        return C.decode_response(rt, M.decode_stream(data).body)

    async def bind(self, code_page=1252):
        resp = await self.call(C.BindRequest(flags=0, state=C.Stat(code_page=code_page)))
        assert resp.error_code == 0 and resp.server_guid.int != 0
        assert "MapiContext" in self.cookies and "MapiSequence" in self.cookies
        return resp


async def gal_of(ldif):
    d = FileDirectory(ldif)
    entries = await d.list_all(("user", "group", "room", "equipment"))
    return sorted(entries, key=lambda e: (e.display_name.casefold()))


def row_values(rowset, columns=None):
    """Each row as {tag: value}, absent values (flag 0xA) left out."""
    cols = columns or rowset.columns
    out = []
    for row in rowset.rows:
        out.append({tag: v.value for tag, v in zip(cols, row.values) if v.flag in (None, 0)})
    return out


async def query_gal(c: NspiClient, columns=GAL_COLUMNS, per_call=2):
    """The whole GAL, a few rows per QueryRows, following the STAT the server returns."""
    stat = C.Stat(code_page=UNICODE)
    rows = []
    while True:
        resp = await c.call(C.QueryRowsRequest(flags=0, state=stat, explicit_table=(), row_count=per_call,
                                               columns=columns))
        assert resp.error_code == 0
        got = row_values(resp.rows)
        rows += got
        stat = resp.state
        if not got:
            break
    return rows, stat


async def test_bind_hierarchy_and_the_whole_gal(gw):
    c = NspiClient(gw)
    await c.bind()
    special = await c.call(C.GetSpecialTableRequest(flags=0x4, state=C.Stat(code_page=UNICODE), version=None))
    assert special.error_code == 0 and special.version is not None
    names = [{t.tag: t.value.value for t in row}[P.PidTagDisplayName] for row in special.rows]
    assert names[0] == "Global Address List" and "All Distribution Lists" in names
    gal_row = {t.tag: t.value.value for t in special.rows[0]}
    assert gal_row[0xFFFD0003] == 0                                   # ContainerID of the GAL
    assert gal_row[P.PidTagEntryId][4:20] == GUID_NSPI.bytes_le       # a PermanentEntryID

    rows, stat = await query_gal(c)
    expected = await expected_gal(gw)
    assert [r[P.PidTagDisplayName] for r in rows] == [e.display_name for e in expected]
    assert [r.get(P.PidTagSmtpAddress) for r in rows] == [e.email for e in expected]
    assert stat.current_rec == MID_END and stat.total_recs == stat.num_pos == len(expected)
    alice = next(r for r in rows if r[P.PidTagSmtpAddress] == "alice@example.test")
    # the EX address is the LegacyDN Autodiscover gives alice
    from gateway.autodiscover.handlers import legacy_dn
    assert alice[P.PidTagEmailAddress] == legacy_dn("alice") == RECIPIENTS + "alice"
    assert alice[P.PidTagAddressType] == "EX"
    assert alice[P.PidTagTitle] == "Engineering Manager" and alice[P.PidTagBusinessTelephoneNumber] == "+1 555 0101"
    assert alice[P.PidTagDepartmentName] == "Engineering" and alice[P.PidTagAccount] == "alice"
    assert alice[P.PidTagObjectType] == 6 and alice[P.PidTagDisplayType] == 0
    eid = alice[P.PidTagEntryId]
    assert eid[0] == 0 and eid[4:20] == GUID_NSPI.bytes_le and eid[28:] == (RECIPIENTS + "alice").encode() + b"\0"
    team = next(r for r in rows if r[P.PidTagDisplayName] == "team")
    assert team[P.PidTagObjectType] == 8 and team[P.PidTagDisplayType] == 1
    mids = [int.from_bytes(r[P.PidTagInstanceKey], "little") for r in rows]
    assert len(set(mids)) == len(mids) and min(mids) > 0x10
    # MIds are stable for the session: the same table read again in one call gives the same ones
    again, _ = await query_gal(c, per_call=100)
    assert [int.from_bytes(r[P.PidTagInstanceKey], "little") for r in again] == mids
    # Outlook asks for String8 columns too
    resp = await c.call(C.QueryRowsRequest(flags=0, state=C.Stat(), explicit_table=(), row_count=1,
                                           columns=(0x3001001E, 0x3003001E)))
    assert row_values(resp.rows)[0] == {0x3001001E: expected[0].display_name,
                                        0x3003001E: RECIPIENTS + (expected[0].uid or expected[0].display_name)}


async def test_plain_demo_gal_matches_its_directory(demo_gateway):
    c = NspiClient(demo_gateway)
    await c.bind()
    rows, _ = await query_gal(c, per_call=100)
    expected = await gal_of(DIRECTORY_LDIF)
    assert [(r[P.PidTagDisplayName], r.get(P.PidTagSmtpAddress)) for r in rows] == \
        [(e.display_name, e.email) for e in expected]


async def _mids_by_name(c):
    rows, _ = await query_gal(c, columns=(P.PidTagDisplayName, P.PidTagInstanceKey), per_call=100)
    return {r[P.PidTagDisplayName]: int.from_bytes(r[P.PidTagInstanceKey], "little") for r in rows}


async def test_seek_resolve_and_get_props(gw):
    c = NspiClient(gw)
    await c.bind()
    mids = await _mids_by_name(c)

    target = C.TaggedValue(P.PidTagDisplayName, C.PropValue(P.PidTagDisplayName & 0xFFFF, "bo"))
    seek = await c.call(C.SeekEntriesRequest(state=C.Stat(code_page=UNICODE), target=target,
                                             columns=(P.PidTagDisplayName,)))
    assert seek.error_code == 0 and seek.state.current_rec == mids["Bob Baker"]
    assert [r[P.PidTagDisplayName] for r in row_values(seek.rows)] == ["Bob Baker", "Carol Clark", "sales", "team"]
    # a name after every entry: NotFound
    past = C.TaggedValue(P.PidTagDisplayName, C.PropValue(P.PidTagDisplayName & 0xFFFF, "zzz"))
    assert isinstance(await c.call(C.SeekEntriesRequest(state=C.Stat(), target=past)), C.FailureResponse)

    res = await c.call(C.ResolveNamesRequest(state=C.Stat(code_page=UNICODE),
                                             property_tags=(P.PidTagDisplayName, P.PidTagEmailAddress),
                                             names=("carol", "bob@example.test", "al", "nobody-here",
                                                    "a.ames@example.test", "SMTP:alice@example.test")))
    assert res.minimal_ids == (mids["Carol Clark"], mids["Bob Baker"], MID_AMBIGUOUS, MID_UNRESOLVED,
                               mids["Alan Ames"], mids["Alice Archer"])
    assert [r[P.PidTagDisplayName] for r in row_values(res.rows)] == ["Carol Clark", "Bob Baker", "Alan Ames",
                                                                     "Alice Archer"]
    assert row_values(res.rows)[0][P.PidTagEmailAddress] == RECIPIENTS + "carol"

    tags = (P.PidTagDisplayName, P.PidTagTitle, P.PidTagOfficeLocation, P.PidTagAddressBookProxyAddresses,
            P.PidTagSmtpAddress, P.PidTagSearchKey, P.PidTagMobileTelephoneNumber,
            PidTagAddressBookManagerDistinguishedName, PidTagThumbnailPhoto)
    props = await c.call(C.GetPropsRequest(flags=0, state=C.Stat(current_rec=mids["Alan Ames"], code_page=UNICODE),
                                           property_tags=tags))
    got = {t.tag: t.value.value for t in props.property_values}
    assert props.error_code == ERRORS_RETURNED           # Alan has no mobile number
    assert got[P.PidTagDisplayName] == "Alan Ames" and got[P.PidTagTitle] == "Office Manager"
    assert got[P.PidTagOfficeLocation] == "B-12"
    assert got[P.PidTagAddressBookProxyAddresses] == ["SMTP:alan@example.test", "smtp:a.ames@example.test",
                                                      "X500:" + RECIPIENTS + "alan"]
    assert got[P.PidTagSearchKey] == b"EX:" + (RECIPIENTS + "alan").upper().encode() + b"\0"
    assert got[(P.PidTagMobileTelephoneNumber & 0xFFFF0000) | 0x000A] == NOT_FOUND
    assert got[PidTagAddressBookManagerDistinguishedName] == RECIPIENTS + "carol"
    assert got[PidTagThumbnailPhoto] == TINY_JPEG
    # every property: GetPropList agrees with GetProps without tags
    plist = await c.call(C.GetPropListRequest(flags=0, minimal_id=mids["Alan Ames"], code_page=UNICODE))
    allp = await c.call(C.GetPropsRequest(flags=0, state=C.Stat(current_rec=mids["Alan Ames"], code_page=UNICODE)))
    assert allp.error_code == 0 and tuple(t.tag for t in allp.property_values) == plist.property_tags
    # DNs are accepted where MIds are
    dn = await c.call(C.DNToMIdRequest(names=(RECIPIENTS + "bob", RECIPIENTS.upper() + "CAROL", "/o=else/cn=x")))
    assert dn.minimal_ids == (mids["Bob Baker"], mids["Carol Clark"], MID_UNRESOLVED)


async def test_distribution_list_members_and_search(gw):
    c = NspiClient(gw)
    await c.bind()
    mids = await _mids_by_name(c)
    # the members of "team": GetMatches with no filter reads the link property named by ContainerID
    got = await c.call(C.GetMatchesRequest(state=C.Stat(container_id=PidTagAddressBookMember,
                                                        current_rec=mids["team"], code_page=UNICODE),
                                           row_count=100, columns=(P.PidTagDisplayName, P.PidTagSmtpAddress)))
    assert got.error_code == 0 and got.state.container_id == mids["team"]
    assert sorted(got.minimal_ids) == sorted([mids["Alice Archer"], mids["Bob Baker"]])
    assert sorted(r[P.PidTagSmtpAddress] for r in row_values(got.rows)) == ["alice@example.test", "bob@example.test"]
    # carol's direct reports (Alan's manager is carol), the groups Alan is in
    async def link(tag, mid):
        r = await c.call(C.GetMatchesRequest(state=C.Stat(container_id=tag, current_rec=mid), row_count=100))
        assert r.error_code == 0
        return r.minimal_ids
    assert await link(PidTagAddressBookReports, mids["Carol Clark"]) == (mids["Alan Ames"],)
    assert await link(PidTagAddressBookIsMemberOfDistributionList, mids["Alan Ames"]) == (mids["sales"],)
    # a table larger than the client asked for is TableTooBig
    big = await c.call(C.GetMatchesRequest(state=C.Stat(container_id=PidTagAddressBookMember,
                                                        current_rec=mids["team"]), row_count=1))
    assert isinstance(big, C.FailureResponse) and big.status_code == 0x80040403
    # ... and QueryRows over them as an explicit table
    rows = await c.call(C.QueryRowsRequest(state=C.Stat(code_page=UNICODE), explicit_table=got.minimal_ids,
                                           row_count=10, columns=(P.PidTagDisplayName,)))
    assert {r[P.PidTagDisplayName] for r in row_values(rows.rows)} == {"Alice Archer", "Bob Baker"}
    # an ANR restriction, as Outlook's search box sends it
    anr = PropertyRestriction(RELOP_EQ, PidTagAnr, "Al")
    found = await c.call(C.GetMatchesRequest(state=C.Stat(code_page=UNICODE), filter=anr, row_count=50,
                                             columns=(P.PidTagDisplayName,)))
    assert [r[P.PidTagDisplayName] for r in row_values(found.rows)] == ["Alan Ames", "Alice Archer"]
    # the All Distribution Lists container
    special = await c.call(C.GetSpecialTableRequest(flags=0x4, state=C.Stat(code_page=UNICODE)))
    dls = next({t.tag: t.value.value for t in r} for r in special.rows
               if {t.tag: t.value.value for t in r}[P.PidTagDisplayName] == "All Distribution Lists")
    q = await c.call(C.QueryRowsRequest(state=C.Stat(container_id=dls[0xFFFD0003], code_page=UNICODE),
                                        row_count=50, columns=(P.PidTagDisplayName,)))
    assert [r[P.PidTagDisplayName] for r in row_values(q.rows)] == ["sales", "team"]


async def test_positions_and_the_other_calls(gw):
    c = NspiClient(gw)
    await c.bind()
    mids = await _mids_by_name(c)
    order = list(mids.values())
    cmp = await c.call(C.CompareMIdsRequest(state=C.Stat(), minimal_id1=order[0], minimal_id2=order[2]))
    assert cmp.result < 0
    up = await c.call(C.UpdateStatRequest(state=C.Stat(current_rec=order[1], delta=2), delta_requested=1))
    assert up.state.current_rec == order[3] and up.state.num_pos == 3 and up.delta == 2
    resort = await c.call(C.ResortRestrictionRequest(state=C.Stat(), minimal_ids=(order[3], order[0], order[2])))
    assert resort.minimal_ids == (order[0], order[2], order[3])
    cols = await c.call(C.QueryColumnsRequest(map_flags=0x80000000))
    assert P.PidTagDisplayName in cols.columns and P.PidTagEmailAddress in cols.columns
    mod = await c.call(C.ModPropsRequest(state=C.Stat(current_rec=order[0]), property_tags=(P.PidTagTitle,),
                                         property_values=()))
    assert isinstance(mod, C.FailureResponse) and mod.status_code == ACCESS_DENIED
    link = await c.call(C.ModLinkAttRequest(flags=0, property_tag=PidTagAddressBookMember, minimal_id=order[0],
                                            entry_ids=()))
    assert isinstance(link, C.FailureResponse) and link.status_code == ACCESS_DENIED
    tmpl = await c.call(C.GetTemplateInfoRequest(flags=1, display_type=0, code_page=1200, locale_id=0x409))
    assert isinstance(tmpl, C.FailureResponse) and tmpl.status_code == 0x8004011E      # InvalidCodepage: Unicode
    server = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn="
    url = await c.call(C.GetMailboxUrlRequest(flags=0, server_dn=server + "1234@example.test"))
    assert url.server_url == gw.base_url + "/mapi/emsmdb/?MailboxId=1234@example.test"
    url = await c.call(C.GetAddressBookUrlRequest(flags=0, user_dn=RECIPIENTS + "alice"))
    assert url.server_url.startswith(gw.base_url + "/mapi/nspi/?MailboxId=")
    assert url.server_url.endswith("@example.test")
    # the transport: a stale sequence cookie is refused, Unbind ends the context
    good = dict(c.cookies)
    c.cookies["MapiSequence"] = "0" * 32
    status, headers, _ = await c.post("QueryColumns", C.QueryColumnsRequest().encode())
    assert headers["X-ResponseCode"] == str(int(M.ResponseCode.INVALID_SEQUENCE))
    c.cookies = dict(good)
    unbound = await c.call(C.UnbindRequest())
    assert unbound.error_code == 1 and "MapiContext" not in c.cookies
    c.cookies = dict(good)
    status, headers, _ = await c.post("QueryColumns", C.QueryColumnsRequest().encode())
    assert headers["X-ResponseCode"] == str(int(M.ResponseCode.CONTEXT_NOT_FOUND))


async def test_details_template_of_a_user_fills_from_get_props(gw):
    """GetTemplateInfo for DT_MAILUSER as Outlook asks (TI_TEMPLATE | TI_HELPFILE_NAME | TI_HELPFILE_CONTENTS,
    MS-OXOABKT 4.2): the TRowSet decodes, and what its controls name is what GetProps gives for a user (the
    edit fields) or a link table GetMatches answers (the list boxes); the creation table is empty."""
    from protocols.nspi import template as K
    c = NspiClient(gw)
    await c.bind()
    mids = await _mids_by_name(c)
    resp = await c.call(C.GetTemplateInfoRequest(flags=0x61, display_type=0, code_page=1252, locale_id=0x409))
    assert resp.error_code == 0 and [t.tag for t in resp.row] == [0x00010102]       # PidTagTemplateData
    t = K.Template.decode(resp.row[0].value.value)
    pages = {page.label(1252): controls for page, controls in t.pages()}
    assert list(pages) == ["General", "Organization", "Member Of", "E-mail Addresses"]
    edits = [ctl.prop_tag for ctl in t.controls if ctl.control_type == K.DTCT_EDIT]
    got = await c.call(C.GetPropsRequest(flags=0, state=C.Stat(current_rec=mids["Alan Ames"], code_page=1252),
                                         property_tags=tuple(edits)))
    alan = {tv.tag: tv.value.value for tv in got.property_values}
    filled = {tag: alan[tag] for tag in edits if tag in alan}
    assert filled == {0x3A06001E: "Alan", 0x3A11001E: "Ames", 0x3001001E: "Alan Ames", 0x3A00001E: "alan",
                      0x3A17001E: "Office Manager", 0x3A16001E: "Example", 0x3A19001E: "B-12",
                      0x3A08001E: "+1 555 0104", 0x3A29001E: "1 Harbour Road", 0x3A27001E: "Springfield",
                      0x3A28001E: "OR", 0x3A2A001E: "97403"}
    # the ones left empty are the ones Alan has none of (NotFound), not tags the server does not know
    cols = set((await c.call(C.QueryColumnsRequest(map_flags=0))).columns)
    assert all(tag in cols for tag in edits)
    assert {tag for tag in edits if tag not in alan} == {0x3A1C001E, 0x3A18001E, 0x3A26001E}  # mobile, dept, country
    # the list boxes are link tables: Alan's manager, carol's reports, Alan's groups; a group's owner and
    # members (DL template)
    async def link(tag, mid):
        r = await c.call(C.GetMatchesRequest(state=C.Stat(container_id=tag, current_rec=mid), row_count=100))
        return r.minimal_ids
    boxes = {ctl.prop_tag for ctl in t.controls if ctl.control_type == K.DTCT_LBX}
    assert boxes == {PidTagAddressBookManager, PidTagAddressBookReports, PidTagAddressBookIsMemberOfDistributionList}
    assert await link(PidTagAddressBookManager, mids["Alan Ames"]) == (mids["Carol Clark"],)
    assert await link(PidTagAddressBookManager, mids["Carol Clark"]) == ()
    assert await link(PidTagAddressBookReports, mids["Carol Clark"]) == (mids["Alan Ames"],)
    assert await link(PidTagAddressBookIsMemberOfDistributionList, mids["Alan Ames"]) == (mids["sales"],)
    mv = next(ctl.prop_tag for ctl in t.controls if ctl.control_type == K.DTCT_MVLISTBOX)
    got = await c.call(C.GetPropsRequest(flags=0, state=C.Stat(current_rec=mids["Alan Ames"], code_page=1252),
                                         property_tags=(mv,)))
    assert got.property_values[0].value.value[0] == "SMTP:alan@example.test"

    dl = await c.call(C.GetTemplateInfoRequest(flags=0x5, display_type=1, code_page=1252, locale_id=0x409))
    dlt = K.Template.decode({tv.tag: tv.value.value for tv in dl.row}[0x00010102])
    owner, members = [ctl.prop_tag for ctl in dlt.pages()[0][1] if ctl.control_type == K.DTCT_LBX]
    assert await link(owner, mids["sales"]) == (mids["Carol Clark"],)
    assert sorted(await link(members, mids["sales"])) == sorted([mids["Carol Clark"], mids["Alan Ames"]])

    creation = await c.call(C.GetSpecialTableRequest(flags=0x2, state=C.Stat(template_locale=0x409)))
    assert creation.error_code == 0 and creation.rows == ()


async def test_autodiscover_publishes_the_address_book_url(gw):
    """The AddressBook URL Autodiscover gives Outlook (mapiHttp) is the one GetAddressBookUrl answers."""
    body = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
            'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.test</EMailAddress>'
            '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/'
            '2006a</AcceptableResponseSchema></Request></Autodiscover>')
    c = NspiClient(gw)
    async with aiohttp.ClientSession() as s:
        async with s.post(gw.base_url + "/autodiscover/autodiscover.xml", data=body,
                          headers={"Authorization": c.auth, "Content-Type": "text/xml",
                                   "X-MapiHttpCapability": "1"}, ssl=_ssl()) as r:
            xml = await r.text()
    from lxml import etree
    ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
    doc = etree.fromstring(xml.encode())
    ab = doc.xpath("//a:Protocol[@Type='mapiHttp']/a:AddressBook/a:ExternalUrl/text()", namespaces=ns)
    legacy = doc.xpath("//a:User/a:LegacyDN/text()", namespaces=ns)
    await c.bind()
    url = await c.call(C.GetAddressBookUrlRequest(flags=0, user_dn=legacy[0]))
    assert ab == [url.server_url]
    store = doc.xpath("//a:Protocol[@Type='mapiHttp']/a:MailStore/a:ExternalUrl/text()", namespaces=ns)
    mailbox_id = store[0].split("MailboxId=", 1)[1]
    server_dn = ("/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn="
                 + mailbox_id)
    url = await c.call(C.GetMailboxUrlRequest(flags=0, server_dn=server_dn))
    assert store == [url.server_url]
    dn = await c.call(C.DNToMIdRequest(names=(legacy[0],)))
    assert dn.minimal_ids[0] > MID_END                       # Autodiscover's LegacyDN is an address-book DN


async def test_path_in_any_case_and_ping(gw):
    c = NspiClient(gw)
    c.path = "/MAPI/NSPI/?MailboxId=alice@example.test"
    await c.bind()
    status, headers, data = await c.post("PING", b"")
    assert status == 200 and headers["X-ResponseCode"] == "0"


async def test_ruler_requests_replayed(gw):
    """ruler's address-book listing (Bind, QueryRows from the start, QueryRows with the STAT it got back), its
    bytes as recorded: the rows are the directory's, in display-name order."""
    recorded = json.loads((FIX / "ruler_nspi.json").read_text())["requests"]
    c = NspiClient(gw)
    bind = next(r for r in recorded if r["request_type"].lower() == "bind")
    resp = await c.call(bytes.fromhex(bind["body_hex"]), name=bind["request_type"])
    assert resp.error_code == 0
    first, second = [r for r in recorded if r["request_type"] == "QueryRows"]
    got = await c.call(bytes.fromhex(first["body_hex"]), name="QueryRows")
    expected = await expected_gal(gw)
    assert got.rows.columns == (P.PidTagDisplayName, P.PidTagSmtpAddress)
    assert [(r[P.PidTagDisplayName], r.get(P.PidTagSmtpAddress)) for r in row_values(got.rows)] == \
        [(e.display_name, e.email) for e in expected]
    assert got.state.current_rec == MID_END and got.state.total_recs == len(expected)
    # the second request starts at the end of the table (the STAT ruler had back): no rows
    more = await c.call(bytes.fromhex(second["body_hex"]), name="QueryRows")
    assert more.error_code == 0 and more.rows.rows == ()


async def test_real_servers_a_change_in_ldap(real_gateway, slapd, slapd_extras):
    """A person added in LDAP is in the next call of the same session (and makes "bo" ambiguous), gone again
    once deleted."""
    SLAPD[real_gateway.base_url] = slapd
    c = NspiClient(real_gateway)
    await c.bind()
    rows, _ = await query_gal(c, per_call=100)
    assert [r[P.PidTagDisplayName] for r in rows] == [e.display_name for e in await expected_gal(real_gateway)]
    mids = {r[P.PidTagDisplayName]: int.from_bytes(r[P.PidTagInstanceKey], "little") for r in rows}
    res = await c.call(C.ResolveNamesRequest(state=C.Stat(code_page=UNICODE), names=("bo", "carol@example.test")))
    assert res.minimal_ids == (mids["Bob Baker"], mids["Carol Clark"])

    uid = f"nspi{uuid.uuid4().hex[:6]}"
    dn = f"uid={uid},{slapd.people_dn}"
    _ldap_tool(slapd, "ldapadd", f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Bobby Zed\nsn: Zed\n"
                                 f"givenName: Bobby\ndisplayName: Bobby Zed\nmail: {uid}@example.test\n")
    try:
        res = await c.call(C.ResolveNamesRequest(state=C.Stat(code_page=UNICODE), names=("bo", f"{uid}@example.test"),
                                                 property_tags=(P.PidTagEmailAddress,)))
        assert res.minimal_ids[0] == MID_AMBIGUOUS and res.minimal_ids[1] > MID_END
        assert row_values(res.rows)[0][P.PidTagEmailAddress] == RECIPIENTS + uid
        rows, _ = await query_gal(c, per_call=100)
        assert "Bobby Zed" in [r[P.PidTagDisplayName] for r in rows]
    finally:
        _ldap_tool(slapd, "ldapdelete", dn + "\n")
    rows, _ = await query_gal(c, per_call=100)
    assert "Bobby Zed" not in [r[P.PidTagDisplayName] for r in rows]
