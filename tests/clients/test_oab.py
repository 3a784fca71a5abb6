"""The offline address book as Outlook fetches it: Autodiscover's OABUrl, then ``oab.xml`` and the files it
names, over HTTPS with sign-in, parsed back with the project's own codecs (protocols.oab) and compared with
the directory and with what NSPI's QueryRows gives for the same entries. On the real-server gateway a person
added with ldapadd is in the next OAB, with a patch from the previous one."""
from __future__ import annotations

import base64
import hashlib
import uuid

import aiohttp

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.oab import OAB_BOOK
from protocols.autodiscover import pox
from protocols.mapi.props import core as P
from protocols.oab import apply_patch, decode_details, decompress
from protocols.oab.manifest import Manifest

from .test_emsmdb import _ssl
from .test_nspi import NspiClient, gal_of, query_gal

AUTH = {"Authorization": "Basic " + base64.b64encode(b"alice@example.test:alicepw").decode()}
MEMBER = 0x8009101E
# the columns compared with NSPI's QueryRows
SAME_AS_NSPI = (P.PidTagDisplayName, P.PidTagEmailAddress, P.PidTagSmtpAddress, P.PidTagAddressType,
                P.PidTagAccount, P.PidTagTitle, P.PidTagDepartmentName, P.PidTagCompanyName, P.PidTagOfficeLocation,
                P.PidTagBusinessTelephoneNumber, P.PidTagObjectType, P.PidTagDisplayType, P.PidTagDisplayTypeEx)


async def fetch(url: str, headers=None):
    async with aiohttp.ClientSession() as s:
        async with s.get(url, headers={**AUTH, **(headers or {})}, ssl=_ssl()) as r:
            return r.status, r.headers, await r.read()


async def oab_url(gw) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.post(gw.base_url + "/Autodiscover/Autodiscover.xml", data=pox.encode_request("alice@example.test"),
                          headers={**AUTH, "Content-Type": "text/xml"}, ssl=_ssl()) as r:
            assert r.status == 200
            got = pox.parse_response(await r.read())
    by_type = {p.get("Type") or p.get("@Type"): p for p in got["protocols"]}
    assert by_type["EXCH"]["OABUrl"] == by_type["EXPR"]["OABUrl"]
    return by_type["EXCH"]["OABUrl"]


async def download(url: str):
    """oab.xml and the Full Details file it names: (manifest's OAL, raw uncompressed bytes, decoded file)."""
    status, headers, body = await fetch(url + "oab.xml")
    assert status == 200 and headers["Content-Type"].startswith("text/xml"), (status, body[:200])
    oal = Manifest.decode(body).oals[0]
    full = oal.file("Full")
    status, headers, data = await fetch(url + full.name)
    assert status == 200 and len(data) == full.size and hashlib.sha1(data).hexdigest() == full.sha
    raw = decompress(data)
    assert len(raw) == full.uncompressed_size
    return oal, raw, decode_details(raw)


async def test_autodiscover_oab_xml_and_the_full_file(demo_gateway):
    url = await oab_url(demo_gateway)
    guid = demo_gateway.runner.app[OAB_BOOK].guid
    assert url == f"{demo_gateway.base_url}/OAB/{guid}/"
    oal, raw, f = await download(url)
    assert oal.id == str(guid) and oal.file("Full").seq == f.hdr_record[0x68010003] >= 1

    # the directory's entries, in the GAL's order, with their addresses
    expected = await gal_of(DIRECTORY_LDIF)
    assert [(r[P.PidTagDisplayName], r.get(P.PidTagSmtpAddress)) for r in f.records] == \
        [(e.display_name, e.email) for e in expected]
    # the same properties NSPI's QueryRows gives for each entry
    c = NspiClient(demo_gateway)
    await c.bind()
    rows, _ = await query_gal(c, columns=SAME_AS_NSPI, per_call=100)
    assert [{t: r[t] for t in SAME_AS_NSPI if t in r} for r in f.records] == rows
    alice = next(r for r in f.records if r.get(P.PidTagAccount) == "alice")
    assert "SMTP:alice@example.test" in alice[P.PidTagAddressBookProxyAddresses]
    team = next(r for r in f.records if r[P.PidTagDisplayName] == "team")
    by_name = {r[P.PidTagDisplayName]: r[P.PidTagEmailAddress] for r in f.records}
    assert team[MEMBER] == sorted([by_name["Alice Archer"], by_name["Bob Baker"]])


async def test_etag_last_modified_and_sign_in(demo_gateway):
    url = await oab_url(demo_gateway)
    status, headers, body = await fetch(url + "oab.xml")
    assert status == 200 and headers["ETag"] and headers["Last-Modified"]
    status, _, again = await fetch(url + "oab.xml", {"If-None-Match": headers["ETag"]})
    assert status == 304 and again == b""
    status, _, _ = await fetch(url + "oab.xml", {"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304
    full = Manifest.decode(body).oals[0].file("Full").name
    status, fh, _ = await fetch(url + full)
    status2, _, _ = await fetch(url + full, {"If-None-Match": fh["ETag"]})
    assert (status, status2) == (200, 304)
    status, _, _ = await fetch(url + full, {"If-None-Match": '"something-else"'})
    assert status == 200
    async with aiohttp.ClientSession() as s:             # without credentials: 401, like every endpoint
        async with s.get(url + "oab.xml", ssl=_ssl()) as r:
            assert r.status == 401
    assert (await fetch(f"{demo_gateway.base_url}/OAB/{uuid.uuid4()}/oab.xml"))[0] == 404
    assert (await fetch(url + "state.json"))[0] == 404
    assert (await fetch(url.replace("/OAB/", "/oab/") + "oab.xml"))[0] == 200


async def test_real_servers_a_person_added_in_ldap_is_in_the_next_oab(real_gateway, slapd):
    import subprocess

    def ldap_tool(tool, ldif):
        subprocess.run([tool, "-x", "-H", slapd.url, "-D", slapd.admin_dn, "-w", slapd.admin_password],
                       input=ldif.encode(), check=True, capture_output=True)

    # look at the directory on every oab.xml (the default is at most once a minute)
    real_gateway.runner.app[OAB_BOOK].recheck_seconds = 0
    url = await oab_url(real_gateway)
    oal1, raw1, f1 = await download(url)
    seq1 = oal1.file("Full").seq
    assert "Alice Archer" in [r[P.PidTagDisplayName] for r in f1.records]
    _, _, same = await download(url)                      # nothing changed: the same version
    assert same.hdr_record[0x68010003] == seq1

    uid = f"oab{uuid.uuid4().hex[:6]}"
    dn = f"uid={uid},{slapd.people_dn}"
    ldap_tool("ldapadd", f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Olga Ash\nsn: Ash\n"
                         f"givenName: Olga\ndisplayName: Olga Ash\nmail: {uid}@example.test\ntitle: Buyer\n")
    try:
        oal2, raw2, f2 = await download(url)
        assert oal2.file("Full").seq == seq1 + 1 == f2.hdr_record[0x68010003]
        olga = next(r for r in f2.records if r[P.PidTagDisplayName] == "Olga Ash")
        assert olga[P.PidTagSmtpAddress] == f"{uid}@example.test" and olga[P.PidTagTitle] == "Buyer"
        assert olga[P.PidTagEmailAddress].endswith("/cn=Recipients/cn=" + uid)
        diff = oal2.file("Diff")
        assert diff is not None and diff.seq == seq1 + 1
        status, _, patch = await fetch(url + diff.name)
        assert status == 200 and hashlib.sha1(patch).hexdigest() == diff.sha
        assert apply_patch(raw1, patch) == raw2
    finally:
        ldap_tool("ldapdelete", dn + "\n")
    oal3, _, f3 = await download(url)
    assert oal3.file("Full").seq == seq1 + 2 and "Olga Ash" not in [r[P.PidTagDisplayName] for r in f3.records]
