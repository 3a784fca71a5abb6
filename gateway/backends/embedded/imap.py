"""pymap (MIT) maildir IMAP server, in-process in the caller's asyncio loop.

pymap has no public embedding API. What works (backends.md section 1): build
the arguments with pymap's own argparse wiring, make the maildir backend from
them, and serve ``pymap.imap.IMAPServer`` with asyncio.start_server. We call
start_server ourselves rather than ``services["imap"].start`` so a port 0 bind
can tell us the port it got.

On-disk layout under ``base_dir`` (pymap's maildir backend):
  pymap-etc-passwd   name:x::::<maildir relative path>:   (passwd(5) layout)
  pymap-etc-shadow   name:<pbkdf2 hash>:::::::            (shadow(5) layout)
  mail/<login>/      the user's Maildir++ (INBOX; ``.Sent`` etc. as sub-folders)
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pysasl.hashing import BuiltinHash

from .trusted import GatewayTrust
from .users import DemoUser

# pymap has no SPECIAL-USE (RFC 6154); the store maps folder roles by these names.
DEFAULT_FOLDERS: tuple[str, ...] = ("Sent", "Drafts", "Trash", "Junk", "Outbox")

# pymap's maildir backend keeps only keywords listed in a folder's
# dovecot-keywords file (index -> letter a..z, at most 26). $label1..5 are the
# Thunderbird/Outlook-over-IMAP category keywords, the rest RFC 5788 registered.
DEFAULT_KEYWORDS: tuple[str, ...] = (
    "$Forwarded", "$Junk", "$NotJunk", "$MDNSent",
    "$label1", "$label2", "$label3", "$label4", "$label5",
)

# pymap's maildir I/O pool (its default: CPUs + 4). An IDLE session holds a worker of it for each
# one-second check of its folder. The gateway's change source used to IDLE on every mail folder of a
# user with a subscription (pymap has no NOTIFY): with the default, six IDLE sessions made every
# other command wait 0.5 s for a worker, twelve 1 s (a STATUS took that long). It now IDLEs on INBOX
# only and polls the rest with STATUS (gateway/backends/imap/client.py, ImapWatcher); the larger pool
# stays for the many users of a demo. The workers are threads made as needed, mostly waiting.
IO_WORKERS = 256

PASSWD_FILE = "pymap-etc-passwd"
SHADOW_FILE = "pymap-etc-shadow"
# The hash pymap verifies with when we hand it BuiltinHash(); passlib, if
# present, would otherwise be chosen and read a different pbkdf2 encoding.
_HASH = BuiltinHash()


@dataclass(frozen=True)
class ImapAccount:
    login: str
    maildir: Path     # the INBOX Maildir


def _read_colon_file(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                fields = line.split(":")
                out[fields[0]] = fields
    return out


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_users(base_dir: Path, users: Sequence[DemoUser]) -> list[str]:
    """Create or update pymap's passwd/shadow files; returns the logins whose
    password hash was (re)written. A stored hash that still verifies is kept,
    so a restart does not rehash (pbkdf2-sha256, 500000 rounds: ~0.1 s each)."""
    base_dir.mkdir(parents=True, exist_ok=True)
    passwd = _read_colon_file(base_dir / PASSWD_FILE)
    shadow = _read_colon_file(base_dir / SHADOW_FILE)
    def fresh_hash(user: DemoUser) -> str | None:
        old = shadow.get(user.login)
        if old is not None and len(old) > 1 and _HASH.verify(user.password, old[1]):
            return None
        return _HASH.hash(user.password)

    # hashlib's pbkdf2 releases the GIL, so the users are hashed in parallel.
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(users)))) as pool:
        hashes = list(pool.map(fresh_hash, users))
    changed: list[str] = []
    for user, new_hash in zip(users, hashes):
        passwd[user.login] = [user.login, "x", "", "", "", f"mail/{user.login}", ""]
        if new_hash is not None:
            shadow[user.login] = [user.login, new_hash, "", "", "", "", "", "", ""]
            changed.append(user.login)
    _write_private(base_dir / PASSWD_FILE, "".join(":".join(f) + "\r\n" for f in passwd.values()))
    _write_private(base_dir / SHADOW_FILE, "".join(":".join(f) + "\r\n" for f in shadow.values()))
    return changed


def ensure_keywords(folder_dir: Path, keywords: Sequence[str] = DEFAULT_KEYWORDS) -> None:
    """Append missing keywords to dovecot-keywords without renumbering the
    existing ones: the index is the letter stored in every message file name."""
    path = folder_dir / "dovecot-keywords"
    known: dict[str, int] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2:
                known[parts[1]] = int(parts[0])
    nxt = max(known.values(), default=-1) + 1
    lines = []
    for kw in keywords:
        if kw not in known and nxt < 26:
            lines.append(f"{nxt} {kw}\n")
            known[kw] = nxt
            nxt += 1
    if lines:
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(lines)


def ensure_maildir(root: Path, folders: Sequence[str] = DEFAULT_FOLDERS) -> None:
    """INBOX plus the default folders in Maildir++ layout (``.Name``, with a
    ``maildirfolder`` marker as pymap's own CREATE writes), each with its
    dovecot-keywords, and all of them subscribed."""
    dirs = [root] + [root / f".{name}" for name in folders]
    # Folders created later over IMAP get no keyword file from pymap; give
    # every existing one its file here, so they have it from the next start.
    if root.is_dir():
        dirs += [p for p in sorted(root.iterdir())
                 if p.name.startswith(".") and (p / "cur").is_dir() and p not in dirs]
    for d in dirs:
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if d is not root:
            (d / "maildirfolder").touch(exist_ok=True)
        ensure_keywords(d)
    subs = root / "subscriptions"
    present = set(subs.read_text(encoding="utf-8").split()) if subs.exists() else set()
    missing = [n for n in ("INBOX", *folders) if n not in present]
    if missing:
        with open(subs, "a", encoding="utf-8", newline="") as fh:
            fh.writelines(n + "\r\n" for n in missing)


class EmbeddedImap:
    """pymap maildir server for ``users`` under ``base_dir``."""

    def __init__(self, base_dir: Path, users: Sequence[DemoUser], host: str = "127.0.0.1",
                 port: int = 0, fqdn: str = "localhost", trust: "GatewayTrust | None" = None):
        self.base_dir = Path(base_dir)
        self.trust = trust     # the gateway's master path (trusted.py); None: user passwords only
        self.users = list(users)
        self.host = host
        self.port = port
        self.fqdn = fqdn
        self._stack: AsyncExitStack | None = None
        self._pools: list[ThreadPoolExecutor] = []

    def account(self, login: str) -> ImapAccount:
        return ImapAccount(login, self.base_dir / "mail" / login)

    def prepare(self) -> None:
        """Files only; safe to run in a worker thread before start()."""
        write_users(self.base_dir, self.users)
        for user in self.users:
            ensure_maildir(self.account(user.login).maildir)

    async def start(self) -> None:
        from pymap.backend.maildir import Login, MaildirBackend
        _fix_pymap_copy()
        _fix_pymap_expunge()

        from pymap.concurrent import Subsystem

        args = _pymap_args(self.host, self.base_dir)
        cpu_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pymap-cpu")
        config = _config_class().from_args(args, hash_context=_HASH, invalid_user_sleep=0.1,
                                           cpu_subsystem=Subsystem.for_threading(cpu_pool))
        config.fqdn = self.fqdn
        # pymap makes its maildir I/O pool in Config.parse_args and never
        # shuts it down; a restart in the same process would leak its threads.
        io_pool = getattr(config.subsystem, "_executor", None)
        for pool in (cpu_pool, io_pool):
            if isinstance(pool, ThreadPoolExecutor):
                self._pools.append(pool)
        login = Login(config)
        if self.trust is not None:
            from .trusted import trusted_login
            login = trusted_login(login, self.trust, config)
        backend = MaildirBackend(login, config)
        # pymap reads its concurrency subsystem from a context variable; set it
        # in a private context so the caller's context is left alone.
        ctx = contextvars.copy_context()
        ctx.run(config.apply_context)
        self._stack = AsyncExitStack()
        try:
            await self._stack.__aenter__()
            server = await asyncio.create_task(self._serve(backend, config), context=ctx)
            self.port = server.sockets[0].getsockname()[1]
        except BaseException:
            await self.stop()
            raise

    async def _serve(self, backend, config) -> asyncio.AbstractServer:
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.imap import IMAPServer

        assert self._stack is not None
        await backend.start(self._stack)
        callback = ProxyProtocolReader(config.proxy_protocol).get_callback(
            IMAPServer(backend.login, config))
        server = await asyncio.start_server(callback, host=self.host, port=self.port)
        self._stack.push_async_callback(_close_server, server)
        return server

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        pools, self._pools = self._pools, []
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)


async def _close_server(server: asyncio.AbstractServer) -> None:
    server.close()
    # From 3.12 wait_closed() also waits for client connections (an IDLE
    # client would hold stop() forever); 3.13 can close them.
    if hasattr(server, "close_clients"):
        server.close_clients()
    try:
        await asyncio.wait_for(server.wait_closed(), timeout=2.0)
    except asyncio.TimeoutError:
        pass


def _fix_pymap_copy() -> None:
    """pymap 0.36's maildir COPY writes a copy built from the message's metadata only
    (``get_message_metadata``): the copy is a 1-byte message. COPY (EWS CopyItem, DavMail's and
    Thunderbird's COPY) then loses the mail. Same method, with the message's content."""
    from pymap.backend.maildir import mailbox as mb
    if getattr(mb.MailboxData.copy, "_exgate_fixed", False):
        return

    async def copy(self, uid: int, destination, *, recent: bool = False):
        try:
            record, _ = await self._get_maildir_msg(uid)
        except KeyError:
            return None
        async with self.messages_lock.read_lock():
            full = self._maildir.get_message(record.key)
        copy_msg = mb.MaildirMessage(full)
        copy_msg.set_subdir("new" if recent else "cur")
        async with destination.messages_lock.write_lock():
            dest_key = destination._maildir.add(copy_msg)
            dest_filename = dest_key + ":" + copy_msg.get_info()
        async with mb.UidList.with_write(destination._path) as uidl:
            new_rec = mb.Record(uidl.next_uid, record.fields, dest_filename)
            uidl.next_uid += 1
            uidl.set(new_rec)
        return new_rec.uid
    copy._exgate_fixed = True
    mb.MailboxData.copy = copy


def _fix_pymap_expunge() -> None:
    """pymap 0.36's maildir EXPUNGE removes the message files but keeps their lines in the folder's
    dovecot-uidlist (so does MOVE, in the source folder): only ``MailboxData.cleanup``, which runs on
    an IMAP CHECK, drops them, and the gateway sends no CHECK. Every draft saved and deleted (EWS
    CreateItem + DeleteItem) so left a line behind for good, and every later STATUS, SELECT, APPEND
    or FETCH of the folder read (and each write rewrote) the whole file: time and memory that grew
    with the number of messages the folder ever held (a 50-client soak: 300+ dead lines in each
    Drafts folder in 10 minutes). Same methods, and then the gone UIDs' lines go, as a CHECK would."""
    from pymap.backend.maildir import mailbox as mb
    if getattr(mb.MailboxData.delete, "_exgate_fixed", False):
        return
    original_delete, original_move = mb.MailboxData.delete, mb.MailboxData.move

    async def forget(mbx, uids) -> None:
        async with mb.UidList.with_write(mbx._path) as uidl:
            for uid in uids:
                try:
                    uidl.remove(uid)
                except KeyError:
                    pass

    async def delete(self, uids) -> None:
        uids = list(uids)
        await original_delete(self, uids)
        if uids:
            await forget(self, uids)

    async def move(self, uid: int, destination, *, recent: bool = False):
        new_uid = await original_move(self, uid, destination, recent=recent)
        if new_uid is not None:
            await forget(self, [uid])
        return new_uid
    delete._exgate_fixed = move._exgate_fixed = True
    mb.MailboxData.delete = delete
    mb.MailboxData.move = move


def _pymap_args(host: str, base_dir: Path) -> argparse.Namespace:
    """The same Namespace `pymap --no-tls --host H --port 0 maildir DIR` builds."""
    from pymap.backend import backends
    from pymap.main import _PymapArgumentParser
    from pymap.service import services

    parser = _PymapArgumentParser()
    parser.add_argument("--debug", action="store_true")
    sub = parser.add_subparsers(dest="backend", required=True)
    for name, backend_type in backends.items():
        backend_type.add_subparser(name, sub).set_defaults(backend_type=backend_type)
    for service_type in services.values():
        service_type.add_arguments(parser)
    parser.set_defaults(skip_services=[], passlib_cfg=None)
    return parser.parse_args(["--no-tls", "--host", host, "--port", "0", "maildir",
                              "--concurrency", str(IO_WORKERS), str(base_dir)])


@functools.cache
def _config_class():
    """pymap's maildir Config with a fixed greeting host name: the stock one
    reads $FQDN or calls socket.getfqdn(), a DNS lookup on every greeting."""
    from pymap.backend.maildir import Config

    class EmbeddedConfig(Config):
        fqdn = "localhost"

        @property
        def greeting(self) -> bytes:
            return b"Server ready " + self.fqdn.encode("ascii")

    return EmbeddedConfig
