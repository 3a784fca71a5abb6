"""Outlook's address book through /mapi/nspi (issue 13) on an N-entry GAL (default 10,000), printed side by side
as ratios. Nothing is asserted on time.

1. The whole GAL read as Outlook's address book dialog reads it: Bind, GetSpecialTable, then QueryRows of the
   GAL (ContainerID 0) with the dialog's columns (display name, SMTP and EX address, title, department, office,
   phone, company, object type, display type, entry id, instance key) in pages of P rows (default 100),
   following the STAT each answer returns until no row comes back, then Unbind. Next to it, an ldapsearch of
   the same attributes for the same entries (the GAL filter the gateway uses, simple paged results of 500):
   the `ldapsearch` command line tool when installed (output read and counted), else ldap3 from Python; the
   figures say which. Cold: the first read of each (the gateway's first after its start). Warm: medians of R
   interleaved rounds.
2. The gateway's resident memory (VmRSS of its process) before the first NSPI call, after the cold read and
   after the warm ones; and the per-call latency of SeekEntries (a display name: the dialog's type-down box
   moves the table there; checked by a QueryRows of one row, not timed) and of ResolveNames (an alias, as
   the To line does) on one bound session, medians over L names spread over the GAL.

The directory is a slapd started by the bench (tests/servers' start_slapd: static slapd.conf, back_mdb,
memberof, syncprov unless --no-syncprov), loaded online with ldapadd from an LDIF of the demo directory plus N generated inetOrgPerson
entries. The gateway runs in its own process (bench/emsmdb.py's GatewayChild), on HTTPS, LDAP for the
directory; the client keeps its connections alive (one aiohttp session), as Outlook does. With syncprov the
gateway's check for GAL changes, made on every NSPI call that is not a later page of one read, is the suffix's
contextCSN (one base-scope search); --no-syncprov leaves the overlay out, as on an LDAP server without
contextCSN, and the check is the modifyTimestamp window with a full DN-and-stamp listing every few seconds
(gateway/backends/ldap.py change_marker).

    python bench/nspi.py [--entries 10000] [--page 100] [--rounds 3] [--lookups 20] [--port 0] [--ldap-port 0]
                         [--no-syncprov]
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.emsmdb import GatewayChild, http_session  # noqa: E402
from protocols.mapi.props import core as P  # noqa: E402
from protocols.nspi import codec as C  # noqa: E402
from tests.clients.test_nspi import NspiClient, row_values  # noqa: E402

UNICODE = 1200                 # STAT CodePage: CP_WINUNICODE, as Outlook binds
MID_END = 2
# the columns Outlook's address book dialog asks for in each GAL row
GAL_COLUMNS = (P.PidTagDisplayName, P.PidTagSmtpAddress, P.PidTagEmailAddress, P.PidTagAddressType,
               P.PidTagTitle, P.PidTagDepartmentName, P.PidTagOfficeLocation, P.PidTagBusinessTelephoneNumber,
               P.PidTagCompanyName, P.PidTagObjectType, P.PidTagDisplayType, P.PidTagEntryId, P.PidTagInstanceKey)
# the LDAP attributes those columns come from (gateway/store/directory.py props), plus what tells the kind
LDAP_ATTRS = ("displayName", "cn", "mail", "uid", "title", "departmentNumber", "ou", "roomNumber", "l",
              "telephoneNumber", "o", "objectClass")
DEPARTMENTS = ("Engineering", "Sales", "Finance", "Support", "Marketing", "Legal", "Operations", "Research")
TITLES = ("Engineer", "Senior Engineer", "Manager", "Analyst", "Consultant", "Director", "Assistant")
GIVEN = ("Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gil", "Hana", "Ivo", "Jana", "Kai", "Lena", "Milo", "Nora",
         "Otto", "Pia", "Quin", "Rosa", "Sam", "Tara", "Uma", "Vik", "Wren", "Xia", "Yuri", "Zoe")
SURNAMES = ("Adler", "Berg", "Cruz", "Dahl", "Engel", "Fox", "Graf", "Holm", "Iver", "Jung", "Kern", "Lund", "Moss",
            "Nagy", "Ortiz", "Pike", "Rossi", "Stein", "Toth", "Ueda", "Vogel", "Wolf", "Young", "Zeller")


# ------------------------------------------------------------------------------------------- the directory

def person(i: int, people_dn: str) -> str:
    """One generated inetOrgPerson in LDIF: user00042, "Hana Graf 00042", with the dialog's attributes."""
    given, sn = GIVEN[i % len(GIVEN)], SURNAMES[(i // len(GIVEN)) % len(SURNAMES)]
    uid = f"user{i:05d}"
    return (f"dn: uid={uid},{people_dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {given} {sn} {i:05d}\n"
            f"sn: {sn}\ngivenName: {given}\ndisplayName: {given} {sn} {i:05d}\nmail: {uid}@example.test\n"
            f"title: {TITLES[i % len(TITLES)]}\nou: {DEPARTMENTS[i % len(DEPARTMENTS)]}\no: Example\n"
            f"roomNumber: {1 + i % 9}-{i % 97:02d}\ntelephoneNumber: +1 555 {i:05d}\n")


def write_ldif(n: int, path: Path, people_dn: str = "ou=people,dc=example,dc=test") -> Path:
    """The demo directory (alice, bob, carol, groups: the bench signs in as alice) plus n generated people."""
    from gateway.backends.embedded.users import DIRECTORY_LDIF
    parts = [Path(DIRECTORY_LDIF).read_text(encoding="utf-8").rstrip("\n") + "\n"]
    parts += [person(i, people_dn) for i in range(n)]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def start_directory(n: int, tmp: Path, ldap_port: int = 0, syncprov: bool = True):
    """slapd (tests/servers' helper) loaded online with the demo directory and n people. Returns its Running."""
    from tests.servers import slapd as S
    from tests.servers import start_with_retry
    ldif = write_ldif(n, tmp / "directory.ldif")
    if ldap_port:
        S.free_port = lambda: ldap_port        # the helper picks a kernel port; a fixed one when asked for
    return start_with_retry(lambda: S.start_slapd(ldif, syncprov=syncprov))


def gal_filter(info) -> str:
    """The LDAP filter the gateway reads its GAL with (users and groups)."""
    from gateway.backends.ldap import LdapDirectory
    d = LdapDirectory(info.url, info.base_dn)
    return d._kinds_filter(("user", "group", "room", "equipment"))


def direct_ldapsearch(info) -> int:
    """ldapsearch of LDAP_ATTRS for the GAL's entries, paged 500 at a time; the number of entries read."""
    cmd = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", info.url, "-D", info.admin_dn, "-w",
           info.admin_password, "-b", info.base_dn, "-E", "pr=500/noprompt", gal_filter(info), *LDAP_ATTRS]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return sum(1 for line in out.splitlines() if line.startswith(b"dn: "))


def direct_ldap3(info) -> int:
    """The same search with ldap3 (when the ldapsearch tool is not installed)."""
    import ldap3
    conn = ldap3.Connection(ldap3.Server(info.url, get_info=ldap3.NONE), info.admin_dn, info.admin_password,
                            auto_bind=True)
    try:
        got = conn.extend.standard.paged_search(info.base_dn, gal_filter(info), attributes=list(LDAP_ATTRS),
                                                paged_size=500, generator=True)
        return sum(1 for e in got if e.get("type") == "searchResEntry")
    finally:
        conn.unbind()


def direct_tool() -> tuple[str, object]:
    if shutil.which("ldapsearch"):
        return "ldapsearch (OpenLDAP command line tool)", direct_ldapsearch
    return "ldap3 from Python (no ldapsearch installed)", direct_ldap3


# ------------------------------------------------------------------------------------------- the client

class BenchNspiClient(NspiClient):
    """tests/clients' scripted NSPI client with its requests on a shared kept-alive aiohttp session."""

    def __init__(self, base_url: str, http):
        super().__init__(SimpleNamespace(base_url=base_url))
        self.http = http

    async def post(self, request_type: str, body: bytes, *, headers=None):
        self.n += 1
        h = {"Authorization": self.auth, "Content-Type": "application/mapi-http", "X-RequestType": request_type,
             "X-RequestId": f"{self.client_info}:{self.n}", "X-ClientInfo": self.client_info,
             "X-ClientApplication": "Outlook/16.0.0.0"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        async with self.http.post(self.gw.base_url + self.path, data=body, headers=h) as r:
            for name, morsel in r.cookies.items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
            return r.status, dict(r.headers), await r.read()


async def query_gal(c: NspiClient, page: int) -> tuple[list[dict], int]:
    """The GAL read page by page from its start, following the returned STAT: (rows, QueryRows calls)."""
    stat = C.Stat(code_page=UNICODE)
    rows, calls = [], 0
    while True:
        resp = await c.call(C.QueryRowsRequest(flags=0, state=stat, explicit_table=(), row_count=page,
                                               columns=GAL_COLUMNS))
        calls += 1
        if resp.error_code != 0:
            raise RuntimeError(f"QueryRows failed: {resp}")
        got = row_values(resp.rows)
        rows += got
        stat = resp.state
        if not got or stat.current_rec == MID_END:
            return rows, calls


async def gal_read(base_url: str, http, page: int, *, check: int | None = None) -> tuple[int, int]:
    """Bind, GetSpecialTable, the GAL in pages, Unbind: (rows, requests)."""
    c = BenchNspiClient(base_url, http)
    await c.bind(code_page=UNICODE)
    special = await c.call(C.GetSpecialTableRequest(flags=0x4, state=C.Stat(code_page=UNICODE), version=None))
    if special.error_code != 0:
        raise RuntimeError(f"GetSpecialTable failed: {special}")
    rows, calls = await query_gal(c, page)
    await c.call(C.UnbindRequest())
    if check is not None:          # the rows are the directory's, sorted, with the dialog's columns (not timed)
        names = [r.get(P.PidTagDisplayName, "") for r in rows]
        people = [r for r in rows if str(r.get(P.PidTagSmtpAddress, "")).startswith("user")]
        if len(rows) < check or names != sorted(names, key=str.casefold) or len(people) != check \
                or not all(P.PidTagTitle in r and P.PidTagEntryId in r and P.PidTagInstanceKey in r for r in people):
            raise RuntimeError(f"the GAL read is wrong: {len(rows)} rows, {len(people)} generated people of {check}")
    return len(rows), calls + 3


async def _timed(fn):
    t = time.perf_counter()
    out = await fn()
    return time.perf_counter() - t, out


def lookup_names(n: int, count: int) -> list[int]:
    """Which generated people the lookups ask for: spread evenly over the GAL."""
    count = max(1, min(count, n))
    return [(k * n) // count + (n // count) // 2 for k in range(count)]


async def lookups(base_url: str, http, n: int, count: int, page: int) -> dict:
    """Per-call latency (seconds, median and max) of SeekEntries by display name and of ResolveNames by alias,
    on one bound session; each answer is checked (not timed)."""
    c = BenchNspiClient(base_url, http)
    await c.bind(code_page=UNICODE)
    seek, resolve = [], []
    for i in lookup_names(n, count):
        name = person(i, "").split("displayName: ", 1)[1].split("\n", 1)[0]
        target = C.TaggedValue(P.PidTagDisplayName, C.PropValue(P.PidTagDisplayName & 0xFFFF, name))
        req = C.SeekEntriesRequest(state=C.Stat(code_page=UNICODE), target=target)
        t, got = await _timed(lambda: c.call(req))
        seek.append(t)
        if got.error_code != 0:
            raise RuntimeError(f"SeekEntries {name!r}: {got}")
        there = await c.call(C.QueryRowsRequest(flags=0, state=got.state, explicit_table=(), row_count=1,
                                                columns=(P.PidTagDisplayName,)))
        if row_values(there.rows)[0].get(P.PidTagDisplayName) != name:
            raise RuntimeError(f"SeekEntries {name!r} went to {row_values(there.rows)}")
        req = C.ResolveNamesRequest(state=C.Stat(code_page=UNICODE), names=(f"user{i:05d}",),
                                    property_tags=GAL_COLUMNS[:4])
        t, got = await _timed(lambda: c.call(req))
        if got.minimal_ids[0] <= MID_END or row_values(got.rows)[0].get(P.PidTagDisplayName) != name:
            raise RuntimeError(f"ResolveNames user{i:05d}: {got}")
        resolve.append(t)
    await c.call(C.UnbindRequest())
    return {"lookups": len(seek), "seek_median": statistics.median(seek), "seek_max": max(seek),
            "resolve_median": statistics.median(resolve), "resolve_max": max(resolve)}


async def after_a_change(base_url: str, http, info, n: int) -> dict:
    """A display name changed with ldapmodify, then ResolveNames of that person on a bound session: how long
    the first call after the change takes (the gateway's check sees it and takes it into its GAL) and the next
    one; each answer must show the new name."""
    i = n // 2
    uid, name = f"user{i:05d}", f"Changed Name {i:05d}"
    ldif = f"dn: uid={uid},{info.people_dn}\nchangetype: modify\nreplace: displayName\ndisplayName: {name}\n"
    c = BenchNspiClient(base_url, http)
    await c.bind(code_page=UNICODE)
    await asyncio.to_thread(subprocess.run, ["ldapmodify", "-x", "-H", info.url, "-D", info.admin_dn, "-w",
                                             info.admin_password], input=ldif.encode(), check=True,
                            capture_output=True)
    times = []
    for _ in range(2):
        req = C.ResolveNamesRequest(state=C.Stat(code_page=UNICODE), names=(uid,), property_tags=GAL_COLUMNS[:1])
        t, got = await _timed(lambda: c.call(req))
        if row_values(got.rows)[0].get(P.PidTagDisplayName) != name:
            raise RuntimeError(f"ResolveNames {uid} after the change: {row_values(got.rows)}")
        times.append(t)
    await c.call(C.UnbindRequest())
    return {"changed_first": times[0], "changed_next": times[1]}


# ------------------------------------------------------------------------------------------- the run

async def measure(base_url: str, child, info, n: int, page: int, rounds: int, lookup_count: int) -> dict:
    tool, direct = direct_tool()
    out: dict = {"entries": n, "page": page, "rounds": rounds, "direct_tool": tool}
    out["rss_start_kib"] = (await asyncio.to_thread(child.ask, "mem"))["rss_kib"]
    out["direct_cold"], out["fetched"] = await _timed(lambda: asyncio.to_thread(direct, info))
    async with http_session() as http:
        out["nspi_cold"], (out["rows"], out["requests"]) = await _timed(lambda: gal_read(base_url, http, page,
                                                                                         check=n))
        out["rss_cold_kib"] = (await asyncio.to_thread(child.ask, "mem"))["rss_kib"]
        direct_t, nspi_t = [], []
        for _ in range(rounds):            # interleaved, so both see the same machine
            direct_t.append((await _timed(lambda: asyncio.to_thread(direct, info)))[0])
            nspi_t.append((await _timed(lambda: gal_read(base_url, http, page)))[0])
        out["direct_warm"], out["nspi_warm"] = statistics.median(direct_t), statistics.median(nspi_t)
        out["rss_warm_kib"] = (await asyncio.to_thread(child.ask, "mem"))["rss_kib"]
        out.update(await lookups(base_url, http, n, lookup_count, page))
        out["rss_end_kib"] = (await asyncio.to_thread(child.ask, "mem"))["rss_kib"]
        out.update(await after_a_change(base_url, http, info, n))
    return out


def print_figures(r: dict) -> None:
    d = r["direct_warm"]
    print(f"\n1. The whole GAL ({r['rows']} rows: {r['entries']} generated people and the demo directory) through "
          f"/mapi/nspi against {r['direct_tool']}\n   of the same attributes ({r['fetched']} entries); "
          f"{r['requests']} NSPI requests (Bind, GetSpecialTable, QueryRows of {r['page']} rows, Unbind); "
          f"warm = median of {r['rounds']} rounds; ratio against direct warm")
    lines = [("direct LDAP search, cold (first)", r["direct_cold"]),
             ("direct LDAP search, warm", d),
             ("NSPI GAL read, cold (the gateway's first)", r["nspi_cold"]),
             ("NSPI GAL read, warm", r["nspi_warm"])]
    for label, t in lines:
        print(f"   {label:<48} {t * 1000:10.1f} ms  {t / d:7.2f}x")
    per_call = r["nspi_warm"] / max(1, r["requests"])
    print(f"   warm NSPI per request {per_call * 1000:.1f} ms; per row {r['nspi_warm'] / max(1, r['rows']) * 1e6:.0f} us")
    mib = 1024
    print(f"\n2. Gateway process memory (VmRSS) and lookups on the {r['rows']}-row GAL")
    print(f"   RSS before any NSPI call {r['rss_start_kib'] / mib:7.1f} MiB; after the cold read "
          f"{r['rss_cold_kib'] / mib:7.1f} MiB (+{(r['rss_cold_kib'] - r['rss_start_kib']) / mib:.1f}); after the "
          f"warm reads {r['rss_warm_kib'] / mib:7.1f} MiB; after the lookups {r['rss_end_kib'] / mib:7.1f} MiB")
    print(f"   SeekEntries by display name (the position only):           "
          f"median {r['seek_median'] * 1000:8.1f} ms, max {r['seek_max'] * 1000:8.1f} ms over {r['lookups']} names "
          f"({r['seek_median'] / d:.2f}x the direct GAL search)")
    print(f"   ResolveNames by alias:                                     median {r['resolve_median'] * 1000:8.1f} ms, "
          f"max {r['resolve_max'] * 1000:8.1f} ms ({r['resolve_median'] / d:.2f}x the direct GAL search)")
    print(f"   after a display name changed with ldapmodify, ResolveNames of that person: the first call "
          f"{r['changed_first'] * 1000:.1f} ms (the gateway takes the change in), the next {r['changed_next'] * 1000:.1f} ms; "
          f"both show the new name")


async def run(n: int = 10000, page: int = 100, rounds: int = 3, lookup_count: int = 20, tmp: Path | None = None,
              port: int = 0, ldap_port: int = 0, quiet: bool = False, syncprov: bool = True) -> dict:
    """Start slapd with n people, the gateway in its own process, measure; returns the figures (printed unless
    ``quiet``)."""
    from gateway.config import Config, LdapConfig, StateConfig
    tmp = Path(tmp or tempfile.mkdtemp(prefix="bench-nspi-"))
    tmp.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    slapd = await asyncio.to_thread(start_directory, n, tmp, ldap_port, syncprov)
    child = None
    try:
        loaded = time.perf_counter() - t
        info = slapd.info
        if not quiet:
            print(f"slapd at {info.url} ({'with' if syncprov else 'without'} syncprov): loaded the demo directory "
                  f"and {n} people with ldapadd in {loaded:.1f} s")
        cfg = Config(state=StateConfig(dsn=str(tmp / "state.sqlite3")),
                     ldap=LdapConfig(url=info.url, base_dn=info.base_dn, bind_dn=info.admin_dn,
                                     bind_password=info.admin_password))
        child = await asyncio.to_thread(GatewayChild, cfg, tmp / "gateway", port)
        figures = await measure(child.base_url, child, info, n, page, rounds, lookup_count)
        figures["load_seconds"] = loaded
        figures["syncprov"] = syncprov
    finally:
        if child is not None:
            await asyncio.to_thread(child.stop)
        slapd.stop()
    if not quiet:
        print(f"\nexgate NSPI bench: slapd on loopback ({'with syncprov: contextCSN' if syncprov else 'no syncprov: stamp'}"
              f" change check), gateway over HTTPS in its own process (pid {child.pid})")
        print_figures(figures)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--page", type=int, default=100, help="rows asked for per QueryRows (Outlook: 50 or 100)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lookups", type=int, default=20, help="names looked up by SeekEntries and ResolveNames")
    ap.add_argument("--port", type=int, default=0, help="the gateway's port (0: a free one)")
    ap.add_argument("--ldap-port", type=int, default=0, help="slapd's port (0: a free one)")
    ap.add_argument("--tmp", type=Path, default=None, help="working directory (default: a new temp dir)")
    ap.add_argument("--no-syncprov", action="store_true",
                    help="slapd without the syncprov overlay (no contextCSN: the gateway's fallback change check)")
    a = ap.parse_args()
    asyncio.run(run(a.entries, a.page, a.rounds, a.lookups, a.tmp, a.port, a.ldap_port, syncprov=not a.no_syncprov))


if __name__ == "__main__":
    main()
