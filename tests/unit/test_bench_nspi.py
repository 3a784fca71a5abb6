"""bench/nspi.py at a tiny size (30 generated people), so the bench cannot rot unseen: slapd loaded with the
generated LDIF, the gateway in its child process, the whole GAL read through /mapi/nspi and checked against
the directory, the direct LDAP search, RSS and the lookups. Nothing about time is asserted."""
from __future__ import annotations

import shutil

from bench import nspi as B
from tests.stacks import needs_installed

# skipped on a machine without OpenLDAP; under CI (.ci/install.sh installs it) its absence fails the run
pytestmark = needs_installed(next((t for t in ("slapd", "ldapadd") if not shutil.which(t)), None),
                             "OpenLDAP's slapd and ldapadd")


def test_generated_people_are_distinct_inetorgpersons(tmp_path):
    text = B.write_ldif(30, tmp_path / "d.ldif").read_text()
    people = [B.person(i, "ou=people,dc=example,dc=test") for i in range(30)]
    assert all(p in text for p in people) and "uid=alice," in text
    names = [p.split("displayName: ", 1)[1].split("\n", 1)[0] for p in people]
    assert len(set(names)) == 30 and all("objectClass: inetOrgPerson" in p for p in people)
    assert B.lookup_names(30, 3) == [5, 15, 25]


async def test_whole_bench_tiny(tmp_path, capsys):
    r = await B.run(30, page=7, rounds=1, lookup_count=3, tmp=tmp_path)
    assert r["entries"] == 30 and r["rows"] >= 30 and r["fetched"] == r["rows"]
    assert r["requests"] == 3 + -(-r["rows"] // 7)          # Bind, GetSpecialTable, the pages, Unbind
    for key in ("direct_cold", "direct_warm", "nspi_cold", "nspi_warm", "seek_median", "resolve_median"):
        assert r[key] > 0, key
    assert r["lookups"] == 3
    assert r["rss_start_kib"] > 0 and r["rss_end_kib"] > 0
    out = capsys.readouterr().out
    assert "1. The whole GAL" in out and "2. Gateway process memory" in out and r["direct_tool"] in out
