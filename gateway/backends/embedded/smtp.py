"""aiosmtpd (Apache-2.0) SMTP server in the caller's asyncio loop.

Local recipients (a demo user's address) are delivered by a maildir drop into
the user's INBOX ``new/`` directory: pymap picks the file up on its next scan
(IDLE clients see it after about 2 s). SASL authzid impersonation, the other
route, fails on pymap's maildir backend (backends.md section 1). Every other
recipient is kept as an .eml under ``outbound/``: nothing leaves the machine.

No AUTH is offered (aiosmtpd only offers it over TLS); the server listens on
127.0.0.1 and is meant for the gateway's own submissions.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from email.utils import formatdate
from pathlib import Path
from typing import Mapping

log = logging.getLogger(__name__)

_seq = itertools.count()


def maildir_name(hostname: str) -> str:
    """A unique Maildir file name: time.MusecPpidQseq.host (the maildir(5) scheme)."""
    now = time.time()
    usec = int((now % 1) * 1_000_000)
    host = hostname.replace("/", "\\057").replace(":", "\\072")
    return f"{int(now)}.M{usec}P{os.getpid()}Q{next(_seq)}.{host}"


def drop_into_maildir(maildir: Path, message: bytes, hostname: str = "localhost") -> Path:
    """Write into tmp/ then rename into new/ so a reader never sees half a file."""
    name = maildir_name(hostname)
    tmp = maildir / "tmp" / name
    dest = maildir / "new" / name
    with open(tmp, "wb") as fh:
        fh.write(message)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, dest)
    return dest


def _to_lf(data: bytes) -> bytes:
    # pymap's maildir backend stores what it APPENDs with LF line ends (it goes
    # through Python's mailbox module); dropped mail is stored the same way.
    return data.replace(b"\r\n", b"\n")


class DeliveryHandler:
    """aiosmtpd handler: RCPT accepts anything, DATA delivers or keeps."""

    def __init__(self, local: Mapping[str, Path], outbound_dir: Path, hostname: str):
        self.local = {addr.lower(): path for addr, path in local.items()}
        self.outbound_dir = outbound_dir
        self.hostname = hostname

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        msg_id = maildir_name(self.hostname).split(".")[1]
        peer = session.peer[0] if session.peer else "unknown"
        helo = session.host_name or "unknown"
        outside = []
        try:
            for rcpt in envelope.rcpt_tos:
                maildir = self.local.get(rcpt.lower())
                if maildir is None:
                    outside.append(rcpt)
                    continue
                head = self._trace(helo, peer, msg_id, rcpt, envelope.mail_from)
                head = f"Delivered-To: {rcpt}\r\n".encode() + head
                await asyncio.to_thread(drop_into_maildir, maildir, _to_lf(head + data), self.hostname)
            if outside:
                head = self._trace(helo, peer, msg_id, None, envelope.mail_from)
                head = f"X-Envelope-To: {', '.join(outside)}\r\n".encode() + head
                self.outbound_dir.mkdir(parents=True, exist_ok=True)
                path = self.outbound_dir / f"{maildir_name(self.hostname)}.eml"
                await asyncio.to_thread(path.write_bytes, head + data)
        except OSError as exc:
            log.exception("delivery failed")
            return f"451 4.3.0 local delivery failed: {exc.strerror}"
        return "250 OK"

    def _trace(self, helo: str, peer: str, msg_id: str, rcpt: str | None, mail_from: str | None) -> bytes:
        """Return-Path and a Received line (RFC 5321 section 4.4)."""
        for_clause = f"\r\n\tfor <{rcpt}>" if rcpt else ""
        return (f"Return-Path: <{mail_from or ''}>\r\n"
                f"Received: from {helo} ({peer})\r\n\tby {self.hostname} (exgate embedded) "
                f"with ESMTP id {msg_id}{for_clause};\r\n\t{formatdate(localtime=False)}\r\n").encode()


class EmbeddedSmtp:
    def __init__(self, local: Mapping[str, Path], outbound_dir: Path, host: str = "127.0.0.1",
                 port: int = 0, hostname: str = "localhost"):
        self.handler = DeliveryHandler(local, outbound_dir, hostname)
        self.host = host
        self.port = port
        self.hostname = hostname
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        from aiosmtpd.smtp import SMTP

        loop = asyncio.get_running_loop()
        # hostname given: otherwise aiosmtpd calls socket.getfqdn() (DNS).
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, hostname=self.hostname, ident="exgate embedded ESMTP",
                         loop=loop),
            host=self.host, port=self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            if hasattr(server, "close_clients"):  # 3.13
                server.close_clients()
            # From 3.12 wait_closed also waits for open client connections.
            try:
                await asyncio.wait_for(server.wait_closed(), timeout=2.0)
            except asyncio.TimeoutError:
                pass
