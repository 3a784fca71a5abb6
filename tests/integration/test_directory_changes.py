"""Issue 13: a change made in LDAP shows in the next GAL the store gives NSPI (Directory.gal), at once, while the
check made on every call stays small (gateway/backends/ldap.py change_marker).

Two slapds of this module's own (the session's one is shared; these get 200 extra people and are changed):
with syncprov, where the check is the suffix's contextCSN, and without it, where the check is a search for the
entries stamped since the last full listing. Each gets an ldapadd, an ldapmodify, a modrdn and an ldapdelete
with the command line tools; a counting client records every search the gateway sends and what came back.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.ldap import LdapDirectory
from gateway.store.directory import Directory, gal_cache
from tests.servers import start_with_retry
from tests.servers.slapd import start_slapd

pytestmark = pytest.mark.integration

EXTRA = 200


class CountingLdap(LdapDirectory):
    """LdapDirectory that records each search it sends: (base, filter, entries returned), in ``checks`` when
    change_marker sent it, in ``sent`` else."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent: list[tuple[str, str, int]] = []
        self.checks: list[tuple[str, str, int]] = []
        self._checking = False

    def _search_sync(self, base, flt, **kw):
        found = super()._search_sync(base, flt, **kw)
        (self.checks if self._checking else self.sent).append((base, flt, len(found)))
        return found

    async def change_marker(self, kinds):
        self._checking = True
        try:
            return await super().change_marker(kinds)
        finally:
            self._checking = False


def _ldif(tmp: Path) -> Path:
    people = [f"dn: uid=p{i:03d},ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: p{i:03d}\n"
              f"cn: Person {i:03d}\nsn: {i:03d}\ndisplayName: Person {i:03d}\nmail: p{i:03d}@example.test\n"
              for i in range(EXTRA)]
    path = tmp / "directory.ldif"
    path.write_text(DIRECTORY_LDIF.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + "\n".join(people))
    return path


@pytest.fixture(scope="module", params=[True, False], ids=["syncprov", "no-syncprov"])
def server(request, tmp_path_factory):
    ldif = _ldif(tmp_path_factory.mktemp("dirchanges"))
    running = start_with_retry(lambda: start_slapd(ldif, syncprov=request.param))
    # the entries loaded in one second all carry its modifyTimestamp; one change a second later makes the
    # newest stamp one entry's, as in a directory that is not just loaded (the stamp window is then small)
    time.sleep(1.1)
    _tool(running.info, "ldapmodify", f"dn: uid=p199,{running.info.people_dn}\nchangetype: modify\n"
                                      "replace: title\ntitle: Touched\n")
    yield request.param, running.info
    running.stop()


def _tool(info, tool: str, ldif: str) -> None:
    subprocess.run([tool, "-x", "-H", info.url, "-D", info.admin_dn, "-w", info.admin_password],
                   input=ldif.encode(), check=True, capture_output=True)


def _names(gal) -> dict[str, str]:
    return {e.dn.lower(): e.display_name for e in gal}


async def test_changes_show_at_once_with_a_small_check(server):
    syncprov, info = server
    client = CountingLdap(info.url, info.base_dn, bind_dn=info.admin_dn, bind_password=info.admin_password)
    directory = Directory(client)
    try:
        gal = await directory.gal()
        total = len(gal)
        assert total >= EXTRA + 4

        async def next_gal():
            """The GAL of the next call, the searches its check sent, and whether the GAL was made again."""
            client.sent.clear()
            client.checks.clear()
            cache = gal_cache(client)
            reads, refreshes = cache.reads, cache.refreshes
            got = await Directory(client).gal()
            assert len({e.dn.lower() for e in got}) == len(got)          # each entry once
            if cache.refreshes > refreshes and syncprov:
                # what changed put into the snapshot: the entries written since and every DN (no attributes)
                assert len(client.sent) == 2 and client.sent[0][2] <= 3 and client.sent[1][2] >= total - 1
            elif cache.refreshes > refreshes:
                # the DNs whose stamps moved between the check's listings, each read by itself
                assert 1 <= len(client.sent) <= 3 and all(c[2] == 1 for c in client.sent), client.sent
            return got, client.checks, cache.reads + cache.refreshes > reads + refreshes

        def refreshed(expect: bool) -> bool:
            """An add or a modify of a person is put into the snapshot without reading every entry; a rename,
            a delete and a group change are read in full (overlays rewrite other entries)."""
            return gal_cache(client).refreshes == refreshes + (1 if expect else 0)

        refreshes = gal_cache(client).refreshes

        def small(check, changed=True):
            """The check was small: contextCSN is one base-scope search giving one entry. Without it, searches
            of a few entries (the stamp window; after a full listing, whether a contextCSN came), and one full
            listing of every entry's DN and stamp only after the window showed a change."""
            if syncprov:
                return len(check) == 1 and check[0][0] == info.base_dn and check[0][2] == 1
            big = [c for c in check if c[2] >= total - 1]
            return len(big) == (1 if changed else 0) and len(check) <= 5 and sum(c[2] for c in check) - \
                sum(c[2] for c in big) <= 6 and (not big or check[-1] is big[0])

        await next_gal()                          # the first check after the read (no syncprov: the listing)
        same, check, again = await next_gal()
        assert same is gal and not again and small(check, False), check

        uid = "zz-new" if syncprov else "zz-new2"
        dn = f"uid={uid},{info.people_dn}".lower()
        _tool(info, "ldapadd", f"dn: uid={uid},{info.people_dn}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
                               f"cn: Zed New\nsn: New\ndisplayName: Zed New\nmail: {uid}@example.test\n")
        got, check, again = await next_gal()
        assert again and _names(got)[dn] == "Zed New" and small(check) and refreshed(True), check
        refreshes = gal_cache(client).refreshes

        time.sleep(1.1)          # a change in a later second than the newest stamp (the add above: the same one)
        _tool(info, "ldapmodify", f"dn: uid=p100,{info.people_dn}\nchangetype: modify\n"
                                  f"replace: displayName\ndisplayName: Renamed Hundred\n")
        got, check, again = await next_gal()
        assert again and _names(got)[f"uid=p100,{info.people_dn}".lower()] == "Renamed Hundred" and small(check)
        assert refreshed(True)
        refreshes = gal_cache(client).refreshes

        _tool(info, "ldapmodify", f"dn: uid=p101,{info.people_dn}\nchangetype: modrdn\nnewrdn: uid=p101b\n"
                                  f"deleteoldrdn: 0\n")
        got, check, again = await next_gal()
        names = _names(got)
        assert again and f"uid=p101b,{info.people_dn}".lower() in names and small(check)
        assert f"uid=p101,{info.people_dn}".lower() not in names and refreshed(False)

        same, check, again = await next_gal()     # nothing changed: the snapshot, after a small check
        assert same is got and not again and small(check, False), check

        _tool(info, "ldapdelete", f"uid=p050,{info.people_dn}\n")
        got, check, again = await next_gal()
        if not syncprov:
            # p050 was stamped before the window's start: the stamp window cannot see a delete; the full
            # listing, at most full_check_interval seconds on, does
            assert not again and small(check, False)
            client.full_check_interval = 0
            got, check, again = await next_gal()
        assert again and f"uid=p050,{info.people_dn}".lower() not in _names(got)
        assert len(got) == total and refreshed(False)      # one added, one deleted

        # a member added to a group: the memberof overlay writes the member's memberOf, which shows too
        _tool(info, "ldapmodify", f"dn: cn=team,{info.groups_dn}\nchangetype: modify\nadd: member\n"
                                  f"member: uid=p010,{info.people_dn}\n")
        got, check, again = await next_gal()
        p010 = next(e for e in got if e.dn.lower() == f"uid=p010,{info.people_dn}".lower())
        team = next(e for e in got if e.dn.lower() == f"cn=team,{info.groups_dn}".lower())
        assert again and small(check) and p010.dn in team.members and refreshed(False)
        assert [g.lower() for g in p010.attributes.get("memberOf", [])] == [f"cn=team,{info.groups_dn}".lower()]
        assert [e.display_name for e in got] == sorted((e.display_name for e in got), key=str.casefold)
    finally:
        await client.close()


async def test_context_csn_is_found_under_a_base_below_the_suffix(server):
    """base_dn ou=people: the contextCSN is the suffix's (the naming context from the rootDSE)."""
    syncprov, info = server
    client = CountingLdap(info.url, info.people_dn, bind_dn=info.admin_dn, bind_password=info.admin_password)
    try:
        first = await client.change_marker(("user",))
        client.checks.clear()
        assert await client.change_marker(("user",)) == first
        if syncprov:
            assert first.startswith("contextCSN:") and client.checks == [(info.base_dn, "(objectClass=*)", 1)]
        else:
            assert first.startswith("entries:") and client.full_listings == 1
    finally:
        await client.close()
