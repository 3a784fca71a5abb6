"""Dovecot 2.3 (IMAP + LMTP + ManageSieve) with a self-contained config under a temp dir.

Passwords come from slapd (LDAP auth_bind), so a directory user logs in with
the directory password; a passwd-file holds master users for impersonation
(`alice*master` or SASL PLAIN authzid=alice). Mail is maildir under the temp
root, owned by one unprivileged account. See backends.md section 2.

Pigeonhole runs each user's active Sieve script at LMTP delivery, and
managesieve (RFC 5804) edits the scripts. A script's vacation replies go out
over SMTP to ``submission_host``, which is Postfix: Postfix is started after
Dovecot (it needs Dovecot's LMTP port), so `connect_submission` writes the host
into an included file and reloads Dovecot once Postfix is up.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .common import (
    HOST,
    Account,
    Running,
    ServerStartError,
    chown_tree,
    free_port,
    make_root,
    record_pid,
    register,
    remove_root,
    service_account,
    spawn,
    stop_group,
    stop_process,
    wait_for_port,
)
from .slapd import DIRECTORY_USERS, SlapdInfo

MASTER_USER = "master"
MASTER_PASSWORD = "masterpw"
MASTER_SEPARATOR = "*"
SPECIAL_USE = {"Drafts": r"\Drafts", "Sent": r"\Sent", "Trash": r"\Trash", "Junk": r"\Junk", "Archive": r"\Archive"}


@dataclass(frozen=True)
class DovecotInfo:
    host: str
    imap_port: int
    lmtp_port: int
    master_user: str = MASTER_USER
    master_password: str = MASTER_PASSWORD
    users: dict[str, str] = field(default_factory=lambda: dict(DIRECTORY_USERS), hash=False)
    root: Path | None = None
    master_separator: str = MASTER_SEPARATOR
    sieve_port: int = 0    # managesieve (RFC 5804), plain text on 127.0.0.1

    def master_login(self, user: str) -> str:
        """The LOGIN name that opens `user`'s mailbox with the master password."""
        return f"{user}{self.master_separator}{self.master_user}"

    def maildir(self, user: str) -> Path:
        assert self.root is not None
        return self.root / "mail" / user / "Maildir"


def _dovecot_conf(root: Path, imap_port: int, lmtp_port: int, sieve_port: int, account: Account) -> str:
    mailboxes = "\n".join(
        f"  mailbox {name} {{\n    special_use = {flag}\n    auto = subscribe\n  }}" for name, flag in SPECIAL_USE.items()
    )
    return f"""\
# Self-contained: nothing from /etc/dovecot is included.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
instance_name = exgate-test-{imap_port}

protocols = imap lmtp sieve
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Every test connects from 127.0.0.1: the per-IP auth penalty would make one
# wrong-password test slow down every later login (2 s, 4 s, ... 15 s). It is
# off when auth cannot reach anvil's penalty socket (see service anvil).
auth_failure_delay = 0
# alice@example.test and Alice are the same account as alice (IMAP and LMTP).
auth_username_format = %Ln
auth_master_user_separator = {MASTER_SEPARATOR}

# One unprivileged account for every service and for the mail itself.
default_internal_user = {account.name}
default_internal_group = {account.group}
default_login_user = {account.name}
first_valid_uid = {account.uid}
last_valid_uid = {account.uid}

passdb {{
  driver = passwd-file
  args = {root}/master-users
  master = yes
}}
passdb {{
  driver = ldap
  args = {root}/dovecot-ldap.conf.ext
}}
# An auth_bind passdb cannot look users up, so the userdb accepts anyone.
userdb {{
  driver = static
  args = uid={account.uid} gid={account.gid} home={root}/mail/%n allow_all_users=yes
}}

mail_location = maildir:~/Maildir
mail_attribute_dict = file:%h/dovecot-attributes

namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}

# Folder permissions as access control lists (RFC 4314), each in a dovecot-acl file of its mailbox; with
# none, the owner has every right and nobody else any (what exgate's MAPI permissions table shows).
mail_plugins = $mail_plugins acl

# Pigeonhole: each user's scripts under their home; the active one is a symlink.
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
  acl = vfile
  # a master user acting for alice (exgate after NTLM) has alice's rights, not its own
  acl_user = %u
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
# vacation replies: submission_host (Postfix) is filled in by connect_submission
!include_try {root}/submission.conf

protocol imap {{
  mail_plugins = $mail_plugins imap_acl
  imap_metadata = yes
  # every test client and every gateway mailbox (a pool of 3 plus a NOTIFY watcher) comes from 127.0.0.1
  mail_max_userip_connections = 100
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {lmtp_port}
  }}
}}
service managesieve-login {{
  chroot =
  inet_listener sieve {{
    address = {HOST}
    port = {sieve_port}
  }}
}}
service anvil {{
  chroot =
  # mode 0: the socket is not created, so auth-penalty is disabled.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _ldap_conf(slapd: SlapdInfo) -> str:
    return f"""\
uris = {slapd.url}
ldap_version = 3
base = {slapd.people_dn}
# Bind straight as the user's DN: no search, no reader account needed.
auth_bind = yes
auth_bind_userdn = uid=%n,{slapd.people_dn}
"""


def start_dovecot(slapd: SlapdInfo) -> Running[DovecotInfo]:
    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    root = make_root("dovecot")
    account = service_account()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "master-users").write_text(f"{MASTER_USER}:{{PLAIN}}{MASTER_PASSWORD}\n")
    (root / "dovecot-ldap.conf.ext").write_text(_ldap_conf(slapd))
    ports: list[int] = []
    while len(ports) < 3:
        port = free_port()
        if port not in ports:
            ports.append(port)
    imap_port, lmtp_port, sieve_port = ports
    conf = root / "dovecot.conf"
    conf.write_text(_dovecot_conf(root, imap_port, lmtp_port, sieve_port, account))
    chown_tree(root / "mail", account)
    log = root / "dovecot.log"
    log.touch()
    chown_tree(root / "state", account)
    # -F: stay in the foreground so the pid we hold is the master. The master
    # runs as root (when we are root) and drops to `account` per service.
    stderr = root / "dovecot.stderr"
    procs = [spawn([dovecot, "-F", "-c", str(conf)], log=stderr)]
    record_pid(root, procs[0].pid)

    def stop() -> None:
        stop_process(procs[0])
        remove_root(root)

    def pause() -> None:
        stop_group(procs[0])

    def resume() -> None:
        procs[0] = spawn([dovecot, "-F", "-c", str(conf)], log=stderr)
        record_pid(root, procs[0].pid)
        for port in (imap_port, lmtp_port, sieve_port):
            wait_for_port(port, what="dovecot", log=[log, stderr], proc=procs[0], timeout=20)

    info = DovecotInfo(host=HOST, imap_port=imap_port, lmtp_port=lmtp_port, root=root, sieve_port=sieve_port)
    running = register(Running(info, stop, _pause=pause, _resume=resume))
    try:
        for port in (imap_port, lmtp_port, sieve_port):
            wait_for_port(port, what="dovecot", log=[log, stderr], proc=procs[0], timeout=20)
    except ServerStartError:
        running.stop()
        raise
    return running


def connect_submission(dovecot: DovecotInfo, host: str, port: int) -> None:
    """Send Sieve vacation replies (and other Sieve-generated mail) to SMTP at host:port."""
    assert dovecot.root is not None
    (dovecot.root / "submission.conf").write_text(f"submission_host = {host}:{port}\n")
    doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
    # reload: the master re-reads the config and new LMTP processes get the host
    done = subprocess.run([doveadm, "-c", str(dovecot.root / "dovecot.conf"), "reload"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise ServerStartError(f"dovecot reload failed: {done.stdout}{done.stderr}")
