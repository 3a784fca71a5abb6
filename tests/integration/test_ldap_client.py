"""LdapDirectory against the shared slapd (tests/servers/slapd.py), loaded online from gateway/backends/embedded/demo_data/directory.ldif.

That slapd lets only bound users read (anonymous may just bind), so the
directory binds as a service account, the admin, as a deployment would
(tests/stacks.py real_config does the same). Entries a test adds online have
unique names and are removed again: other tests share this directory.
"""
from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.backends.base import BackendError
from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.filedir import FileDirectory
from gateway.backends.ldap import LdapDirectory
from tests.servers import SlapdInfo, free_port

pytestmark = pytest.mark.integration

ALICE = "uid=alice,ou=people,dc=example,dc=test"
BOB = "uid=bob,ou=people,dc=example,dc=test"
TEAM = "cn=team,ou=groups,dc=example,dc=test"


def service_directory(slapd: SlapdInfo, **kw: object) -> LdapDirectory:
    return LdapDirectory(slapd.url, slapd.base_dn, bind_dn=slapd.admin_dn,
                         bind_password=slapd.admin_password, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def directory(slapd: SlapdInfo) -> AsyncIterator[LdapDirectory]:
    d = service_directory(slapd)
    yield d
    await d.close()


def _ldap_tool(slapd: SlapdInfo, tool: str, ldif: str) -> None:
    subprocess.run([tool, "-x", "-H", slapd.url, "-D", slapd.admin_dn, "-w", slapd.admin_password],
                   input=ldif.encode(), check=True, capture_output=True)


@pytest.fixture
def nested_group(slapd: SlapdInfo) -> Iterator[tuple[str, str]]:
    """A group added online (unique cn): TEAM nested in it, carol, a self-reference and
    a dangling DN. Removed afterwards, which also clears the memberOf it gave carol."""
    cn = f"all-{uuid.uuid4().hex[:8]}"
    dn, mail = f"cn={cn},{slapd.groups_dn}", f"{cn}@example.test"
    _ldap_tool(slapd, "ldapadd",
               f"dn: {dn}\nobjectClass: groupOfNames\nobjectClass: extensibleObject\ncn: {cn}\n"
               f"mail: {mail}\nmember: {TEAM}\nmember: {slapd.user_dn('carol')}\n"
               f"member: {dn}\nmember: uid=ghost,{slapd.base_dn}\n")
    try:
        yield dn, mail
    finally:
        _ldap_tool(slapd, "ldapdelete", dn + "\n")


async def test_authenticate_right_and_wrong(directory):
    alice = await directory.authenticate("alice", "alicepw")
    assert alice is not None and alice.dn == ALICE and alice.kind == "user"
    assert alice.display_name == "Alice Archer" and alice.email == "alice@example.test"
    assert "userPassword" not in alice.attributes
    assert (await directory.authenticate("bob@example.test", "bobpw")).uid == "bob"
    assert await directory.authenticate("alice", "wrong") is None
    assert await directory.authenticate("alice", "") is None           # no unauthenticated bind
    assert await directory.authenticate("nobody", "x") is None
    assert await directory.authenticate("*", "alicepw") is None         # filter input is escaped


async def test_service_bind_with_admin(slapd):
    d = service_directory(slapd)
    try:
        assert (await d.get_user("carol")).display_name == "Carol Clark"
    finally:
        await d.close()
    # This slapd lets anonymous only bind (ACL "by anonymous auth"): an anonymous
    # service connection is accepted, its searches are refused (insufficientAccessRights).
    anonymous = LdapDirectory(slapd.url, slapd.base_dn)
    try:
        with pytest.raises(BackendError) as err:
            await anonymous.get_user("carol")
        assert err.value.kind == "failed" and "insufficientAccessRights" in str(err.value)
    finally:
        await anonymous.close()
    # Any directory user may serve as the service account (ACL "by users read").
    as_bob = LdapDirectory(slapd.url, slapd.base_dn, bind_dn=slapd.user_dn("bob"), bind_password="bobpw")
    try:
        assert (await as_bob.get_user("carol")).display_name == "Carol Clark"
    finally:
        await as_bob.close()
    bad = LdapDirectory(slapd.url, slapd.base_dn, bind_dn=slapd.admin_dn, bind_password="nope")
    with pytest.raises(BackendError) as err:
        await bad.get_user("carol")
    assert err.value.kind == "auth"
    await bad.close()


async def test_get_user_attributes_and_member_of(directory):
    bob = await directory.get_user("bob")
    assert bob.attributes["telephoneNumber"] == ["+1 555 0102"]
    assert bob.attributes["title"] == ["Developer"] and bob.attributes["ou"] == ["Engineering"]
    assert bob.attributes["manager"] == [ALICE]
    assert bob.attributes["memberOf"] == [TEAM]          # computed by the memberof overlay
    assert (await directory.get_user("alice@example.test")).attributes["mobile"] == ["+1 555 0201"]
    assert (await directory.get_user(BOB)).uid == "bob"
    assert await directory.get_user("nobody") is None


async def test_search_prefix(directory):
    assert [e.uid for e in await directory.search("Ar")] == ["alice"]
    assert [e.uid for e in await directory.search("carol@")] == ["carol"]
    assert [e.kind for e in await directory.search("tea")] == ["group"]
    assert await directory.search("lice") == []
    assert await directory.search("a*)(uid=*") == []    # RFC 4515 escaping: no injection
    assert await directory.search("") == []
    assert len(await directory.search("a", limit=1)) == 1


async def test_list_all_paged(slapd):
    d = service_directory(slapd, page_size=1)
    try:
        everything = await d.list_all()
        assert [(e.display_name, e.kind) for e in everything] == [
            ("Alice Archer", "user"), ("Bob Baker", "user"), ("Carol Clark", "user"), ("team", "group")]
        assert d.pages_fetched >= 4                       # one entry per page, cookies followed
        assert [e.uid for e in await d.list_all(("user",))] == ["alice", "bob", "carol"]
        assert [e.dn for e in await d.list_all(("group",))] == [TEAM]
    finally:
        await d.close()


async def test_parallel_searches_each_get_a_connection_of_their_own(slapd):
    """Searches from several threads at once (asyncio.to_thread) each run on a SYNC connection no other thread
    uses, all answer right, and at most IDLE_CONNECTIONS stay open afterwards, reused by the next searches."""
    import asyncio
    d = service_directory(slapd, page_size=1)
    try:
        names = ["Ar", "Bo", "Ca", "tea"] * 3
        got = await asyncio.gather(*(d.search(n) for n in names), *(d.list_all() for _ in range(4)))
        assert [[e.uid or e.kind for e in g] for g in got[:4]] == [["alice"], ["bob"], ["carol"], ["group"]]
        assert all(len(g) == 4 for g in got[len(names):])
        idle = list(d._idle)
        assert 1 <= len(idle) <= d.IDLE_CONNECTIONS and len({id(c) for c in idle}) == len(idle)
        assert not any(c.strategy.thread_safe for c in idle)        # no deep copy of every answer
        await d.search("Ar")
        assert any(c is idle_c for c in d._idle for idle_c in idle)   # a kept connection served it
    finally:
        await d.close()
    assert d._idle == []


async def test_expand_group(directory, nested_group):
    assert [e.uid for e in await directory.expand_group(TEAM)] == ["alice", "bob"]
    assert [e.uid for e in await directory.expand_group("team")] == ["alice", "bob"]
    # a nested group, a self-reference and a dangling DN (the fixture added them online)
    dn, mail = nested_group
    assert [e.uid for e in await directory.expand_group(mail)] == ["carol", "alice", "bob"]
    assert [e.uid for e in await directory.expand_group(dn)] == ["carol", "alice", "bob"]
    assert dn in (await directory.get_user("carol")).attributes["memberOf"]     # the overlay saw it
    with pytest.raises(BackendError) as err:
        await directory.expand_group("nosuch")
    assert err.value.kind == "notfound"


async def test_same_answers_as_file_directory(slapd):
    """The demo's FileDirectory and slapd agree on the fixture (users and the team group)."""
    live = service_directory(slapd)
    try:
        filedir = FileDirectory(DIRECTORY_LDIF)
        for login in ("alice", "bob", "carol"):
            a, b = await live.get_user(login), await filedir.get_user(login)
            assert (a.dn, a.uid, a.display_name, a.email) == (b.dn, b.uid, b.display_name, b.email)
            # memberOf is left out: other tests may add groups to the live directory
            strip = lambda attrs: {k: v for k, v in attrs.items() if k != "memberOf"}
            assert strip(a.attributes) == strip(b.attributes)
            assert set(b.attributes.get("memberOf", [])) <= set(a.attributes.get("memberOf", []))
        assert [e.dn for e in await live.search("b")] == [e.dn for e in await filedir.search("b")]
    finally:
        await live.close()


async def test_unreachable_server_is_unavailable():
    d = LdapDirectory(f"ldap://127.0.0.1:{free_port()}", "dc=example,dc=test", timeout=2)
    with pytest.raises(BackendError) as err:
        await d.get_user("alice")
    assert err.value.kind == "unavailable"
    await d.close()
