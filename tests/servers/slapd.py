"""OpenLDAP slapd with a static slapd.conf (`-f`), back_mdb, memberof and (unless asked not to) syncprov.

The directory (gateway/backends/embedded/demo_data/directory.ldif) is loaded ONLINE with ldapadd after
start: an offline slapadd bypasses overlays, so memberOf would stay empty
(backends.md section 4).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from gateway.backends.embedded.users import DIRECTORY_LDIF

from .common import (
    HOST,
    Running,
    ServerStartError,
    free_port,
    make_root,
    record_pid,
    register,
    remove_root,
    run,
    spawn,
    stop_group,
    stop_process,
    wait_for_port,
)

BASE_DN = "dc=example,dc=test"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "adminpw"

# Accounts in gateway/backends/embedded/demo_data/directory.ldif.
DIRECTORY_USERS: dict[str, str] = {"alice": "alicepw", "bob": "bobpw", "carol": "carolpw"}

SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")


@dataclass(frozen=True)
class SlapdInfo:
    url: str
    base_dn: str = BASE_DN
    admin_dn: str = ADMIN_DN
    admin_password: str = ADMIN_PASSWORD
    people_dn: str = PEOPLE_DN
    groups_dn: str = GROUPS_DN
    root: Path | None = None

    def user_dn(self, uid: str) -> str:
        return f"uid={uid},{self.people_dn}"


# syncprov (slapo-syncprov(5)) keeps the suffix entry's contextCSN: the newest entryCSN of the database, moved by
# every add, modify, delete and modrdn. The gateway's GAL check reads it with one base-scope search
# (gateway/backends/ldap.py change_marker). syncprov-checkpoint writes it to the database every 100 writes or
# 10 minutes; between checkpoints slapd answers the in-memory value, so a read sees every write at once.
_SYNCPROV = """
overlay syncprov
syncprov-checkpoint 100 10
"""


def _slapd_conf(root: Path, syncprov: bool = True) -> str:
    schemas = "\n".join(f"include {SCHEMA_DIR / s}.schema" for s in ("core", "cosine", "inetorgperson", "nis"))
    return f"""\
{schemas}

modulepath {MODULE_DIR}
moduleload back_mdb
moduleload memberof
{"moduleload syncprov" if syncprov else ""}

pidfile {root}/slapd.pid
argsfile {root}/slapd.args
loglevel stats

# rootDSE and the schema entry are public so clients can discover controls.
access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read

database mdb
suffix "{BASE_DN}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {root}/data
maxsize 67108864

index objectClass eq
index uid,mail,cn,sn,givenName,displayName eq,sub
index member,memberOf eq
# the gateway's GAL check without contextCSN searches (modifyTimestamp>=T): back-mdb answers an inequality
# from an eq index of an ordered syntax, instead of testing every person
index modifyTimestamp,entryCSN eq

# memberof must be configured before the data is loaded (online, below).
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
{_SYNCPROV if syncprov else ""}
# Users bind with their own password and may read the directory; only the
# rootdn (admin) writes. Passwords are never readable.
access to attrs=userPassword
    by self =xw
    by anonymous auth
    by * none
access to *
    by users read
    by anonymous auth
    by * none
"""


def start_slapd(ldif: Path = DIRECTORY_LDIF, *, syncprov: bool = True) -> Running[SlapdInfo]:
    """slapd loaded online with ``ldif``; ``syncprov=False`` leaves out the overlay, so the suffix carries no
    contextCSN (as another LDAP server would not): the gateway's fallback change check then runs."""
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    root = make_root("slapd")
    (root / "data").mkdir()
    conf = root / "slapd.conf"
    conf.write_text(_slapd_conf(root, syncprov))
    log = root / "slapd.log"
    port = free_port()
    url = f"ldap://{HOST}:{port}"
    # `-d stats` keeps slapd in the foreground (so the pid we hold is the
    # server) and sends its log, start-up errors included, to stderr. No -u:
    # a uid change would clear the parent-death signal that stops slapd if
    # the test process is killed; it only listens on 127.0.0.1 anyway.
    cmd = [slapd, "-d", "stats", "-f", str(conf), "-h", f"{url}/"]
    procs = [spawn(cmd, log=log)]
    record_pid(root, procs[0].pid)

    def stop() -> None:
        stop_process(procs[0])
        remove_root(root)

    def pause() -> None:
        stop_group(procs[0])

    def resume() -> None:
        procs[0] = spawn(cmd, log=log)
        record_pid(root, procs[0].pid)
        wait_for_port(port, what="slapd", log=log, proc=procs[0], timeout=20)

    running = register(Running(SlapdInfo(url=url, root=root), stop, _pause=pause, _resume=resume))
    try:
        wait_for_port(port, what="slapd", log=log, proc=procs[0], timeout=20)
        run(
            ["ldapadd", "-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-f", str(ldif)],
            what="slapd: loading directory.ldif",
            log=log,
        )
    except ServerStartError:
        running.stop()
        raise
    return running

