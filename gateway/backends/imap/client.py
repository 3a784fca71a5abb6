"""ImapClient (gateway/backends/base.py) on our own asyncio IMAP connection.

Extensions are used when CAPABILITY offers them and replaced when not:

| extension | used for | without it |
|---|---|---|
| QRESYNC / CONDSTORE (RFC 7162) | changes_since via UID FETCH (CHANGEDSINCE m VANISHED); MODSEQ; STORE UNCHANGEDSINCE | full ``UID FETCH 1:* (FLAGS)`` diff against the caller's known UIDs |
| SPECIAL-USE (RFC 6154) | folder roles from LIST RETURN (SPECIAL-USE) | special_use None (the store maps roles by name) |
| CREATE-SPECIAL-USE | create_folder(special_use=...) | the role is not set on the server |
| MOVE (RFC 6851) | move | UID COPY + STORE \\Deleted + UID EXPUNGE |
| UIDPLUS (RFC 4315) | APPENDUID, COPYUID, UID EXPUNGE | Message-ID search after APPEND; no uid map; EXPUNGE with other \\Deleted messages protected |
| OBJECTID (RFC 8474) | MAILBOXID, EMAILID | None |
| NOTIFY (RFC 5465) | watch: one connection for all folders | IDLE on INBOX plus STATUS polling of the other folders on a second connection (at most two); else STATUS polling |

Message bodies are returned exactly as the server sends them: pymap's maildir
backend serves LF-only line ends (backends.md), Dovecot CRLF. The store
normalises; doing it here would make RFC822.SIZE and BODY[] disagree.

The session flag \\Recent is dropped from summaries: it differs per session and
would look like a flag change on every sync (IMAP4rev2 removed it).
"""
from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import replace
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping, Sequence, TypeVar

from gateway.backends.base import (
    BackendError,
    ImapChanges,
    ImapEvent,
    ImapFolderInfo,
    ImapFolderStatus,
    ImapMessageSummary,
)
from gateway.backends.imap import parse
from gateway.backends.imap.connection import CommandResult, ConnectionLost, ImapConnection, ImapError
from gateway.backends.imap.parse import Literal, Response
from gateway.backends.imap.pool import ConnectionPool, ConnectionFactory

T = TypeVar("T")

_SECTION = re.compile(r"[0-9A-Za-z.\- ()]*")
_SUMMARY_KEYS = ("UID", "RFC822.SIZE", "INTERNALDATE")
PRECHECK_TIMEOUT = 10.0   # a NOOP that checks a pooled connection is still usable
DELETE_ATTEMPTS = 3             # pymap's DELETE can fail for a folder another session has selected
DELETE_RETRY_SECONDS = 0.5
WATCH_POLL_SECONDS = 5.0  # watch(): how often folders that are not IDLEd (or everything, without IDLE) get a STATUS


async def connect(host: str, port: int, login: str, password: str, *, tls: bool = False,
                  starttls: bool = False, ssl_context: ssl.SSLContext | None = None,
                  authzid: str | None = None, pool_size: int = 3, timeout: float = 60.0,
                  poll_interval: float = WATCH_POLL_SECONDS) -> "ImapBackendClient":
    """Log in (LOGIN or AUTHENTICATE PLAIN; with ``authzid`` the gateway acts for
    that user, e.g. login="master", authzid="alice" on Dovecot) and return a
    pooled client. Wrong credentials raise BackendError(kind="auth")."""

    async def factory() -> ImapConnection:
        conn = await ImapConnection.open(host, port, tls=tls, starttls=starttls,
                                         ssl_context=ssl_context, timeout=timeout)
        try:
            await conn.login(login, password, authzid)
            caps = conn.capabilities
            if "ENABLE" in caps and "QRESYNC" in caps:
                await conn.enable("QRESYNC")
            elif "ENABLE" in caps and "CONDSTORE" in caps:
                await conn.enable("CONDSTORE")
        except BaseException:
            await conn.close()
            raise
        return conn

    first = await factory()
    return ImapBackendClient(factory, first, pool_size=pool_size, poll_interval=poll_interval)


class ImapBackendClient:
    """One user's IMAP access; implements gateway.backends.base.ImapClient."""

    def __init__(self, factory: ConnectionFactory, first: ImapConnection, *, pool_size: int = 3,
                 poll_interval: float = WATCH_POLL_SECONDS):
        self._factory = factory
        self.capabilities: frozenset[str] = first.capabilities
        self.enabled: frozenset[str] = first.enabled
        self.poll_interval = poll_interval
        self._pool = ConnectionPool(factory, pool_size)
        self._pool.add(first)
        self._watchers: set[ImapWatcher] = set()
        self.delimiter: str | None = None

    # ------------------------------------------------------------ plumbing

    def _has(self, cap: str) -> bool:
        return cap in self.capabilities

    @property
    def _condstore(self) -> bool:
        return "CONDSTORE" in self.enabled or self._has("CONDSTORE")

    async def _run(self, folder: str | None, op: Callable[[ImapConnection], Awaitable[T]], *,
                   retry: bool = True, fresh_view: bool = False) -> T:
        """Run ``op`` on a pooled connection with ``folder`` selected; a dropped
        connection is replaced and, for operations safe to repeat, retried once.

        ``fresh_view``: when the folder was already selected on that connection,
        NOOP first, so that messages appended by others since are in the
        session's view (Dovecot resolves ``1:*`` against the view as it was)."""
        for attempt in (0, 1):
            started = False
            try:
                async with self._pool.acquire(folder) as conn:
                    if folder is not None:
                        reused = conn.selected is not None and conn.selected.name == folder
                        await conn.select(folder)
                        if fresh_view and reused:
                            await conn.command("NOOP")
                    elif not retry and conn.selected is not None:
                        # Before a command that must not run twice: if another session deleted the
                        # selected mailbox, the server ends this connection at the next command
                        # (Dovecot may even carry out an APPEND first), so let that be a NOOP.
                        try:
                            await conn.command("NOOP", timeout=PRECHECK_TIMEOUT)
                        except ImapError as exc:   # pymap: NO [NONEXISTENT] for the vanished mailbox
                            conn.abort()
                            raise ConnectionLost(f"pooled connection unusable: {exc}") from exc
                    started = True
                    return await op(conn)
            except ConnectionLost:
                if attempt or (started and not retry):
                    raise
        raise AssertionError("unreachable")

    def _summary_items(self, envelope: bool, bodystructure: bool) -> str:
        items = ["UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE"]
        if envelope:
            items.append("ENVELOPE")
            # what a message list shows beyond the envelope (importance, sensitivity), a few bytes each
            items.append(f"BODY.PEEK[HEADER.FIELDS ({' '.join(parse.SUMMARY_HEADERS)})]")
        if bodystructure:
            items.append("BODYSTRUCTURE")
        if self._condstore:
            items.append("MODSEQ")
        if self._has("OBJECTID"):
            items.append("EMAILID")
        return "(" + " ".join(items) + ")"

    @staticmethod
    def _summaries(result: CommandResult, keep: Callable[[int], bool] = lambda _uid: True
                   ) -> list[ImapMessageSummary]:
        by_uid: dict[int, ImapMessageSummary] = {}
        for r in result.of_kind("FETCH"):
            if not r.data:
                continue
            items = parse.fetch_items(r.data[0])
            if not all(k in items for k in _SUMMARY_KEYS):
                continue  # an unsolicited flag update, not our answer
            s = parse.summary_from_fetch(items)
            if keep(s.uid):
                by_uid[s.uid] = _without_recent(s)
        return [by_uid[u] for u in sorted(by_uid)]

    async def _fetch_summaries_on(self, conn: ImapConnection, uids: str, envelope: bool,
                                  bodystructure: bool = False, modifiers: bytes = b"") -> CommandResult:
        args: list[bytes] = [uids.encode(), self._summary_items(envelope, bodystructure).encode()]
        if modifiers:
            args.append(modifiers)
        return await conn.command("UID FETCH", *args)

    async def _status_on(self, conn: ImapConnection, folder: str, *, sync: bool = True) -> ImapFolderStatus:
        if sync and conn.selected is not None and conn.selected.name == folder:
            # Dovecot answers STATUS on the selected mailbox from the session's
            # view ([CLIENTBUG]); NOOP brings that view up to date first.
            await conn.command("NOOP")
        items = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"]
        if self._condstore:
            items.append("HIGHESTMODSEQ")
        if self._has("OBJECTID"):
            items.append("MAILBOXID")
        result = await conn.command("STATUS", parse.mailbox_arg(folder), f"({' '.join(items)})".encode())
        for r in result.of_kind("STATUS"):
            name, values = parse.parse_status(r)
            if name == folder or len(result.of_kind("STATUS")) == 1:
                return parse.status_from_items(values)
        raise BackendError(f"STATUS {folder}: no STATUS response", "failed")

    # ------------------------------------------------------------ folders

    async def list_folders(self) -> list[ImapFolderInfo]:
        if self._has("SPECIAL-USE"):
            ret = b"RETURN (SPECIAL-USE CHILDREN)" if self._has("LIST-EXTENDED") else b"RETURN (SPECIAL-USE)"
            args: tuple[bytes, ...] = (b'""', b'"*"', ret)
        else:
            args = (b'""', b'"*"')

        async def op(conn: ImapConnection) -> list[ImapFolderInfo]:
            result = await conn.command("LIST", *args)
            seen: dict[str, ImapFolderInfo] = {}
            for r in result.of_kind("LIST"):
                info = parse.parse_list(r)
                seen[info.name] = info
                if info.delimiter and self.delimiter is None:
                    self.delimiter = info.delimiter
            return list(seen.values())

        return await self._run(None, op)

    async def status(self, folder: str) -> ImapFolderStatus:
        return await self._run(None, lambda conn: self._status_on(conn, folder))

    async def uids(self, folder: str) -> list[int]:
        """Every UID in ``folder`` (UID SEARCH ALL): a folder's listing without parsing a FETCH per message."""
        return sorted(await self._run(folder, self._all_uids, fresh_view=True))

    async def create_folder(self, name: str, special_use: str | None = None) -> None:
        args: list[Any] = [parse.mailbox_arg(name)]
        if special_use and self._has("CREATE-SPECIAL-USE"):
            args.append(f"(USE ({special_use}))".encode())  # RFC 6154 3
        await self._run(None, lambda conn: conn.command("CREATE", *args), retry=False)

    # ---- access control lists (RFC 4314), where the server offers them
    @property
    def supports_acl(self) -> bool:
        return self._has("ACL")

    async def get_acl(self, folder: str) -> list[tuple[str, str]]:
        """(identifier, rights) of a mailbox's ACL (GETACL)."""
        result = await self._run(None, lambda conn: conn.command("GETACL", parse.mailbox_arg(folder)))
        out: list[tuple[str, str]] = []
        for resp in result.of_kind("ACL"):
            words = [w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w) for w in resp.data[1:]]
            out.extend(zip(words[0::2], words[1::2]))
        return out

    async def set_acl(self, folder: str, identifier: str, rights: str) -> None:
        await self._run(None, lambda conn: conn.command("SETACL", parse.mailbox_arg(folder),
                                                        parse.astring(identifier), parse.astring(rights)))

    async def delete_acl(self, folder: str, identifier: str) -> None:
        await self._run(None, lambda conn: conn.command("DELETEACL", parse.mailbox_arg(folder),
                                                        parse.astring(identifier)))

    async def rename_folder(self, old: str, new: str) -> None:
        async def op(conn: ImapConnection) -> None:
            if conn.selected is not None and conn.selected.name.startswith(old):
                await conn.unselect()
            await conn.command("RENAME", parse.mailbox_arg(old), parse.mailbox_arg(new))
        try:
            await self._run(None, op, retry=False)
        finally:
            self._pool.forget_folder(old)

    async def delete_folder(self, name: str) -> None:
        async def op(conn: ImapConnection) -> None:
            if conn.selected is not None and conn.selected.name == name:
                await conn.unselect()
            await conn.command("DELETE", parse.mailbox_arg(name))
        try:
            for attempt in range(DELETE_ATTEMPTS):
                try:
                    await self._run(None, op, retry=False)
                    return
                except ImapError:
                    # pymap's maildir DELETE removes the folder file by file: a session that has it
                    # selected (an IDLE of a change source) can add or remove a file meanwhile, and the
                    # answer is NO [NONEXISTENT] or "has inferior hierarchical names" for a folder that
                    # is still there, without children: then once more. (Not there: the answer stands.)
                    others = [f.name for f in await self.list_folders()]
                    delim = self.delimiter or "/"
                    if (attempt + 1 == DELETE_ATTEMPTS or name not in others
                            or any(o.startswith(name + delim) for o in others)):
                        raise
                    await asyncio.sleep(DELETE_RETRY_SECONDS)
        finally:
            self._pool.forget_folder(name)

    # ------------------------------------------------------------ messages

    async def fetch_summaries(self, folder: str, uids: str | Sequence[int] = "1:*", *, envelope: bool = True,
                              bodystructure: bool = False) -> list[ImapMessageSummary]:
        if not isinstance(uids, str):
            if not uids:
                return []
            uids = parse.format_sequence_set(uids)
        keep = _uid_filter(uids)

        async def op(conn: ImapConnection) -> list[ImapMessageSummary]:
            found = self._summaries(await self._fetch_summaries_on(conn, uids, envelope, bodystructure), keep)
            if "*" not in uids and len(found) < _count(uids):
                # asked-for UIDs the session's view lacks may be new: refresh the view once
                await conn.command("NOOP")
                found = self._summaries(await self._fetch_summaries_on(conn, uids, envelope, bodystructure), keep)
            return found

        return await self._run(folder, op, fresh_view="*" in uids)

    async def fetch_message(self, folder: str, uid: int) -> bytes:
        """BODY.PEEK[] as the server sends it (LF-only from pymap maildir)."""
        return await self.fetch_part(folder, uid, "")

    async def fetch_part(self, folder: str, uid: int, section: str) -> bytes:
        """BODY.PEEK[section], e.g. "1.2", "HEADER", "2.MIME" (RFC 3501 6.4.5);
        transfer encoding is left on."""
        if not _SECTION.fullmatch(section):
            raise ValueError(f"bad section {section!r}")

        async def op(conn: ImapConnection) -> bytes:
            for attempt in (0, 1):
                result = await conn.command("UID FETCH", str(int(uid)), f"(BODY.PEEK[{section}])")
                for r in result.of_kind("FETCH"):
                    items = parse.fetch_items(r.data[0]) if r.data else {}
                    if "UID" in items and parse.number(items["UID"]) == uid:
                        value = parse.section_value(items, section)
                        if value is not None:
                            return value
                if attempt == 0:
                    # a message appended since this session's view was taken is not in it yet
                    await conn.command("NOOP")
            raise BackendError(f"message UID {uid} not found in {folder!r}", "notfound")

        return await self._run(folder, op)

    async def append(self, folder: str, message: bytes, flags: Sequence[str] = (),
                     date: datetime | None = None) -> tuple[int, int | None]:
        args: list[Any] = [parse.mailbox_arg(folder)]
        flags = [f for f in flags if f.upper() != "\\RECENT"]
        if flags:
            args.append(parse.flag_list(flags))
        if date is not None:
            args.append(f'"{parse.format_internaldate(date)}"'.encode())
        args.append(Literal(message))

        async def op(conn: ImapConnection) -> tuple[int, int | None]:
            result = await conn.command("APPEND", *args)
            got = parse.appenduid(result.tagged)
            if got is not None:
                return got
            # No UIDPLUS: find the message by its Message-ID (best effort).
            status = await self._status_on(conn, folder)
            msgid = _message_id(message)
            if not msgid:
                return status.uidvalidity, None
            await conn.select(folder)
            found = await conn.command("UID SEARCH", b"HEADER Message-ID", parse.astring(msgid))
            uids = [int(t) for r in found.of_kind("SEARCH") for t in r.data if isinstance(t, str) and t.isdigit()]
            return status.uidvalidity, (max(uids) if uids else None)

        return await self._run(None, op, retry=False)

    async def store_flags(self, folder: str, uids: Sequence[int], flags: Sequence[str], *,
                          mode: str = "+", unchangedsince: int | None = None) -> list[int]:
        """UID STORE; returns the UIDs refused by UNCHANGEDSINCE ([MODIFIED], RFC 7162 3.1.3)."""
        if mode not in ("+", "-", ""):
            raise ValueError(f"bad store mode {mode!r}")
        if not uids:
            return []
        if unchangedsince is not None and not self._condstore:
            raise BackendError("UNCHANGEDSINCE needs CONDSTORE, which this server does not offer", "failed")
        args: list[bytes] = [parse.format_sequence_set(uids).encode()]
        if unchangedsince is not None:
            args.append(f"(UNCHANGEDSINCE {int(unchangedsince)})".encode())
        args += [f"{mode}FLAGS.SILENT".encode(), parse.flag_list([f for f in flags if f.upper() != "\\RECENT"])]

        async def op(conn: ImapConnection) -> list[int]:
            try:
                result = await conn.command("UID STORE", *args)
            except ImapError as exc:
                if exc.response.code == "MODIFIED":
                    return parse.modified(exc.response)
                raise
            return parse.modified(result.tagged)

        return await self._run(folder, op)

    async def copy(self, folder: str, uids: Sequence[int], dest: str) -> dict[int, int]:
        """UID COPY; {source uid: destination uid} from COPYUID ({} without UIDPLUS)."""
        if not uids:
            return {}

        async def op(conn: ImapConnection) -> dict[int, int]:
            result = await conn.command("UID COPY", parse.format_sequence_set(uids).encode(),
                                        parse.mailbox_arg(dest))
            return _copyuid_map(result)

        return await self._run(folder, op, retry=False)

    async def move(self, folder: str, uids: Sequence[int], dest: str) -> dict[int, int]:
        """UID MOVE (RFC 6851), else COPY + \\Deleted + UID EXPUNGE of exactly these UIDs."""
        if not uids:
            return {}
        uid_set = parse.format_sequence_set(uids).encode()

        async def op(conn: ImapConnection) -> dict[int, int]:
            if self._has("MOVE"):
                return _copyuid_map(await conn.command("UID MOVE", uid_set, parse.mailbox_arg(dest)))
            mapping = _copyuid_map(await conn.command("UID COPY", uid_set, parse.mailbox_arg(dest)))
            await self._expunge_on(conn, uids)
            return mapping

        return await self._run(folder, op, retry=False)

    async def expunge(self, folder: str, uids: Sequence[int]) -> None:
        if not uids:
            return
        await self._run(folder, lambda conn: self._expunge_on(conn, uids))

    async def _expunge_on(self, conn: ImapConnection, uids: Sequence[int]) -> None:
        uid_set = parse.format_sequence_set(uids).encode()
        await conn.command("UID STORE", uid_set, b"+FLAGS.SILENT", b"(\\Deleted)")
        if self._has("UIDPLUS"):
            await conn.command("UID EXPUNGE", uid_set)  # RFC 4315 2.1
            return
        # Plain EXPUNGE removes every \Deleted message: keep the others safe meanwhile.
        found = await conn.command("UID SEARCH", b"DELETED")
        mine = set(uids)
        others = [int(t) for r in found.of_kind("SEARCH") for t in r.data
                  if isinstance(t, str) and t.isdigit() and int(t) not in mine]
        other_set = parse.format_sequence_set(others).encode() if others else b""
        if others:
            await conn.command("UID STORE", other_set, b"-FLAGS.SILENT", b"(\\Deleted)")
        try:
            await conn.command("EXPUNGE")
        finally:
            if others:
                await conn.command("UID STORE", other_set, b"+FLAGS.SILENT", b"(\\Deleted)")

    # ------------------------------------------------------------ sync

    async def changes_since(self, folder: str, uidvalidity: int, modseq: int | None,
                            known_uids: Sequence[int] | None = None, *,
                            known_flags: Mapping[int, frozenset[str]] | None = None) -> ImapChanges:
        """What changed in ``folder`` since (uidvalidity, modseq).

        The folder is always selected afresh, and the returned status comes
        from that SELECT, so it is consistent with the changes: anything that
        happens later is reported next time (perhaps twice, never lost).

        * QRESYNC: ``SELECT folder (QRESYNC (uidvalidity modseq))``
          (RFC 7162 3.2.5) names changed UIDs and VANISHED (EARLIER) ones;
          the changed ones are then fetched as summaries.
        * CONDSTORE only: UID FETCH (CHANGEDSINCE modseq), and vanished =
          ``known_uids`` minus UID SEARCH ALL.
        * Neither (pymap), or no modseq: a full ``UID FETCH 1:* (FLAGS)`` diffed
          against ``known_uids``: new UIDs come with envelopes; of the known
          ones, those whose flags differ from ``known_flags`` (when given; else
          all of them, without envelopes, for the caller to compare).

        Without ``known_uids`` only QRESYNC can report vanished UIDs. A
        different UIDVALIDITY gives full_resync with every message."""

        async def op(conn: ImapConnection) -> ImapChanges:
            known = set(known_uids) if known_uids is not None else None
            qresync = modseq is not None and "QRESYNC" in conn.enabled
            if qresync and conn.selected is not None and conn.selected.name == folder:
                held = await self._held_changes(conn, folder, uidvalidity, int(modseq), known)  # type: ignore[arg-type]
                if held is not None:
                    return held
            if qresync:
                # No known-uids argument: Dovecot then limits the FETCH part to
                # those UIDs too and new messages go unreported.
                state = await conn.select(folder, qresync=(uidvalidity, int(modseq), None))  # type: ignore[arg-type]
            else:
                state = await conn.select(folder, force=True)
            status = await self._selected_status(conn, state)
            if state.uidvalidity != uidvalidity:
                everything = self._summaries(await self._fetch_summaries_on(conn, "1:*", True, True))
                return ImapChanges(status, tuple(everything), (), full_resync=True)
            if qresync:
                gone = set(state.vanished)
                touched = {parse.number(f["UID"]) for f in state.fetches if "UID" in f}
                changed = self._summaries(await self._fetch_summaries_on(
                    conn, parse.format_sequence_set(touched), True, True)) if touched else []
            elif modseq is not None and self._condstore:
                result = await self._fetch_summaries_on(conn, "1:*", True, True,
                                                        modifiers=f"(CHANGEDSINCE {int(modseq)})".encode())
                changed = self._summaries(result)
                gone = known - set(await self._all_uids(conn)) if known is not None else set()
            else:
                changed, gone = await self._full_diff(conn, known, known_flags)
            if known is not None:
                gone &= known  # VANISHED (EARLIER) may name UIDs the caller never saw
            gone -= {s.uid for s in changed}
            return ImapChanges(status, tuple(changed), tuple(sorted(gone)))

        return await self._run(folder, op)

    async def _held_changes(self, conn: ImapConnection, folder: str, uidvalidity: int, modseq: int,
                            known: set[int] | None) -> ImapChanges | None:
        """Changes of a folder this connection holds selected, without selecting it again: a SELECT
        costs the server the whole folder (Dovecot maildir: ~140 ms at 10,000 messages), NOOP and a
        STATUS of the selected mailbox cost it nothing, and UID FETCH (CHANGEDSINCE m VANISHED)
        (RFC 7162 3.2.6) names what changed and what went. None: select afresh instead."""
        status = await self._status_on(conn, folder)        # NOOP first: the view is brought up to date
        if status.uidvalidity != uidvalidity or status.highestmodseq is None:
            return None
        if status.highestmodseq == modseq:
            return ImapChanges(status, (), ())
        result = await conn.command("UID FETCH", b"1:*", b"(UID FLAGS)",
                                    f"(CHANGEDSINCE {modseq} VANISHED)".encode())
        touched: set[int] = set()
        gone: set[int] = set()
        for r in result.untagged:
            if r.kind == "VANISHED":
                gone.update(parse.vanished(r)[1])
            elif r.kind == "FETCH" and r.data:
                items = parse.fetch_items(r.data[0])
                if "UID" in items:
                    touched.add(parse.number(items["UID"]))
        changed = self._summaries(await self._fetch_summaries_on(
            conn, parse.format_sequence_set(touched), True, True)) if touched else []
        if known is not None:
            gone &= known
        gone -= {s.uid for s in changed}
        return ImapChanges(status, tuple(changed), tuple(sorted(gone)))

    async def _selected_status(self, conn: ImapConnection, state: parse.SelectState) -> ImapFolderStatus:
        # UNSEEN (a count) is not part of SELECT; STATUS without NOOP answers
        # from the view just selected (Dovecot) or the current state (pymap).
        unseen = (await self._status_on(conn, state.name, sync=False)).unseen
        return ImapFolderStatus(uidvalidity=state.uidvalidity, uidnext=state.uidnext, exists=state.exists,
                                unseen=unseen, highestmodseq=state.highestmodseq, mailboxid=state.mailboxid)

    async def _full_diff(self, conn: ImapConnection, known: set[int] | None,
                         known_flags: Mapping[int, frozenset[str]] | None
                         ) -> tuple[list[ImapMessageSummary], set[int]]:
        result = await conn.command("UID FETCH", b"1:*", b"(UID FLAGS)")
        current: dict[int, frozenset[str]] = {}
        for r in result.of_kind("FETCH"):
            items = parse.fetch_items(r.data[0]) if r.data else {}
            if "UID" in items and "FLAGS" in items:
                current[parse.number(items["UID"])] = _flags(items["FLAGS"])
        if known is None:
            new, existing = set(current), set()
        else:
            new, existing = set(current) - known, set(current) & known
        if known_flags is not None:
            existing = {u for u in existing if current[u] != _strip_recent(known_flags.get(u, frozenset()))}
        changed: list[ImapMessageSummary] = []
        if new:
            changed += self._summaries(await self._fetch_summaries_on(conn, parse.format_sequence_set(new), True,
                                                                      True))
        if existing:
            changed += self._summaries(await self._fetch_summaries_on(
                conn, parse.format_sequence_set(existing), False))
        changed.sort(key=lambda s: s.uid)
        return changed, (known - set(current)) if known is not None else set()

    async def _all_uids(self, conn: ImapConnection) -> list[int]:
        result = await conn.command("UID SEARCH", b"ALL")
        return [int(t) for r in result.of_kind("SEARCH") for t in r.data if isinstance(t, str) and t.isdigit()]

    def watch(self, folders: Sequence[str], *, mode: str | None = None,
              poll_interval: float | None = None) -> "ImapWatcher":
        """Events for ``folders`` until the iterator is closed (``aclose()`` or
        ``async with``). ``mode`` "notify", "idle" or "poll" overrides the choice
        from CAPABILITY (NOTIFY, else IDLE, else polling). "idle" IDLEs on INBOX only
        and polls the other folders with STATUS every ``poll_interval`` seconds on one
        more connection: a watcher holds at most two connections however many folders
        it watches (an IDLE per folder filled small servers' thread pools: pymap's
        IDLE takes an I/O worker for every one-second check of its folder)."""
        if mode is None:
            mode = "notify" if self._has("NOTIFY") else "idle" if self._has("IDLE") else "poll"
        watcher = ImapWatcher(self, list(folders), mode, poll_interval or self.poll_interval)
        self._watchers.add(watcher)
        return watcher

    async def close(self) -> None:
        for w in list(self._watchers):
            await w.aclose()
        await self._pool.close()


# ---------------------------------------------------------------- watch

_STOP = object()
_IDLE_RESTART = 25 * 60.0   # RFC 2177: re-issue IDLE at least every 29 minutes
_NOTIFY_KEEPALIVE = 240.0
_RECONNECT_DELAY = 1.0


class ImapWatcher:
    """Async iterator of ImapEvent; ``aclose()`` stops its tasks and connections."""

    def __init__(self, client: ImapBackendClient, folders: list[str], mode: str, poll_interval: float):
        if mode not in ("notify", "idle", "poll"):
            raise ValueError(f"bad watch mode {mode!r}")
        self.mode = mode
        self.folders = folders
        self._client = client
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._closed = False
        self._poll_interval = poll_interval
        self._ready_count = 0
        self._ready_needed = 1
        self._ready = asyncio.Event()
        self._conns: set[ImapConnection] = set()
        if mode == "notify":
            self._tasks = [asyncio.create_task(self._notify_loop())]
        elif mode == "idle":
            idled = [f for f in folders if f.upper() == "INBOX"][:1]
            polled = [f for f in folders if f not in idled]
            self._ready_needed = len(idled) + (1 if polled else 0)
            self._tasks = [asyncio.create_task(self._idle_loop(f)) for f in idled]
            if polled:
                self._tasks.append(asyncio.create_task(self._status_loop(polled)))
        else:
            self._tasks = [asyncio.create_task(self._poll_loop())]
        if not folders:
            self._ready.set()

    def __aiter__(self) -> "ImapWatcher":
        return self

    async def __anext__(self) -> ImapEvent:
        if self._closed:  # events still queued are dropped: the caller asked to stop
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _STOP:
            self._queue.put_nowait(_STOP)
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    async def ready(self, timeout: float = 10.0) -> None:
        """Wait until the server is watching (NOTIFY set / IDLE entered / first poll done).
        asyncio.timeout, not wait_for: on 3.11 wait_for returns normally when it is cancelled just as
        the event is set, and the change source's reader then watched on instead of stopping."""
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for conn in list(self._conns):
            conn.abort()
        pending = [t for t in self._tasks if not t.done()]
        while pending:
            for t in pending:
                t.cancel()
            _done, still = await asyncio.wait(pending, timeout=2.0)
            pending = list(still)
        self._conns.clear()
        self._client._watchers.discard(self)
        self._queue.put_nowait(_STOP)

    async def __aenter__(self) -> "ImapWatcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _emit(self, folder: str, kind: str) -> None:
        self._queue.put_nowait(ImapEvent(folder=folder, kind=kind))

    def _mark_ready(self) -> None:
        self._ready_count += 1
        if self._ready_count >= self._ready_needed:
            self._ready.set()

    async def _open(self) -> ImapConnection:
        conn = await self._client._factory()
        self._conns.add(conn)
        if self._closed:  # closed while we were logging in
            conn.abort()
            raise asyncio.CancelledError()
        return conn

    async def _reconnecting(self, session: Callable[[ImapConnection], Awaitable[None]]) -> None:
        """Run ``session`` on a fresh connection until the watcher closes: a lost connection is
        replaced after a pause; any other backend error goes to the consumer and ends the loop."""
        while not self._closed:
            conn: ImapConnection | None = None
            try:
                conn = await self._open()
                await session(conn)
            except ConnectionLost:
                await asyncio.sleep(_RECONNECT_DELAY)
            except BackendError as exc:
                self._queue.put_nowait(exc)
                return
            finally:
                if conn is not None:
                    self._conns.discard(conn)
                    conn.abort()

    async def _notify_loop(self) -> None:
        names = b" ".join(_inline(parse.mailbox_arg(f)) for f in self.folders)
        first = True

        async def session(conn: ImapConnection) -> None:
            nonlocal first
            await conn.command("NOTIFY", b"SET", b"(mailboxes (" + names +
                               b") (MessageNew MessageExpunge FlagChange))")
            if first:
                self._mark_ready()
            else:  # events may have been missed while reconnecting
                for f in self.folders:
                    self._emit(f, "changed")
            first = False
            while not self._closed:
                resp = await conn.unsolicited(_NOTIFY_KEEPALIVE)
                if resp is None:
                    for r in (await conn.command("NOOP")).untagged:
                        self._notify_event(r)
                else:
                    self._notify_event(resp)
                    if resp.kind == "BYE":
                        raise ConnectionLost(resp.text)

        await self._reconnecting(session)

    def _notify_event(self, resp: Response) -> None:
        # RFC 5465 5.2-5.4: changes in non-selected mailboxes come as STATUS.
        if resp.kind == "STATUS" and resp.data:
            try:
                name, _ = parse.parse_status(resp)
            except parse.ParseError:
                return
            self._emit(name, "changed")

    async def _idle_loop(self, folder: str) -> None:
        first = True

        async def session(conn: ImapConnection) -> None:
            nonlocal first
            await conn.select(folder, readonly=True)
            if not first:
                self._emit(folder, "changed")
            while not self._closed:
                on_idle = self._mark_ready if first else None
                responses = await conn.idle(_IDLE_RESTART, on_idle=on_idle)
                first = False
                kinds: list[str] = []
                for r in responses:
                    kind = {"EXISTS": "exists", "EXPUNGE": "expunge", "VANISHED": "expunge",
                            "FETCH": "flags"}.get(r.kind)
                    if kind and kind not in kinds:
                        kinds.append(kind)
                    if r.kind == "BYE":
                        raise ConnectionLost(r.text)
                for kind in kinds:
                    self._emit(folder, kind)

        await self._reconnecting(session)

    async def _status_loop(self, folders: list[str]) -> None:
        """The folders that are not IDLEd: STATUS (MESSAGES UIDNEXT UNSEEN, HIGHESTMODSEQ with
        CONDSTORE) of each on one connection every poll interval; a folder whose answer changed is
        reported. Without CONDSTORE a flag change other than \\Seen does not change the answer and
        is not reported until something else in that folder changes."""
        last: dict[str, tuple[Any, ...]] = {}
        first = True

        async def session(conn: ImapConnection) -> None:
            nonlocal first
            while not self._closed:
                for folder in folders:
                    st = await self._client._status_on(conn, folder, sync=False)
                    key = (st.uidvalidity, st.uidnext, st.exists, st.unseen, st.highestmodseq)
                    if folder in last and last[folder] != key:
                        self._emit(folder, "changed")
                    last[folder] = key      # kept over a reconnection: what changed meanwhile is seen
                if first:
                    first = False
                    self._mark_ready()
                await asyncio.sleep(self._poll_interval)

        await self._reconnecting(session)

    async def _poll_loop(self) -> None:
        last: dict[str, tuple[Any, ...]] = {}
        while not self._closed:
            for folder in self.folders:
                try:
                    st = await self._client.status(folder)
                except ConnectionLost:
                    continue
                except BackendError as exc:
                    self._queue.put_nowait(exc)
                    return
                key = (st.uidvalidity, st.uidnext, st.exists, st.unseen, st.highestmodseq)
                if folder in last and last[folder] != key:
                    self._emit(folder, "changed")
                last[folder] = key
            self._ready.set()
            await asyncio.sleep(self._poll_interval)


# ---------------------------------------------------------------- helpers

def _copyuid_map(result: CommandResult) -> dict[int, int]:
    for r in result.codes("COPYUID"):
        got = parse.copyuid(r)
        if got is not None:
            return got[1]
    return {}


def _flags(tok: Any) -> frozenset[str]:
    return _strip_recent(frozenset(str(f) for f in tok or ()))


def _strip_recent(flags: frozenset[str]) -> frozenset[str]:
    return frozenset(f for f in flags if f.upper() != "\\RECENT")


def _without_recent(s: ImapMessageSummary) -> ImapMessageSummary:
    if not any(f.upper() == "\\RECENT" for f in s.flags):
        return s
    return replace(s, flags=_strip_recent(s.flags))


def _count(uids: str) -> int:
    """How many UIDs a sequence set without "*" names."""
    n = 0
    for part in uids.split(","):
        lo, _, hi = part.partition(":")
        n += abs(int(hi) - int(lo)) + 1 if hi else 1
    return n


def _uid_filter(uids: str) -> Callable[[int], bool]:
    """"n:*" also matches the highest UID when it is below n (RFC 3501 6.4.8):
    drop that stray answer."""
    m = re.fullmatch(r"(\d+):\*", uids.strip())
    if m:
        low = int(m.group(1))
        return lambda uid: uid >= low
    return lambda _uid: True


def _inline(arg: bytes | Literal) -> bytes:
    if isinstance(arg, Literal):
        return b'"' + arg.data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return arg


_MSGID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]+>)", re.I | re.M)


def _message_id(message: bytes) -> str | None:
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    m = _MSGID.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


__all__ = ["connect", "ImapBackendClient", "ImapWatcher", "BackendError"]
