"""Message submission over SMTP with aiosmtplib (implements base.SubmissionClient).

One connection per message. The envelope is driven by hand (MAIL, every RCPT,
then DATA) so that a refused recipient aborts the whole transaction with RSET
before DATA: either every recipient gets the message or nobody does, and the
caller can correct and resend without duplicates (RFC 5321 3.3, 4.1.1.5).
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Sequence

import aiosmtplib

from .base import BackendError


@dataclass(frozen=True)
class SmtpReply:
    code: int
    text: str
    recipient: str | None = None

    def __str__(self) -> str:
        who = f" ({self.recipient})" if self.recipient else ""
        return f"{self.code} {self.text}{who}"


class SmtpRefused(BackendError):
    """The server refused the sender, a recipient or the data; ``replies`` holds what it said."""

    def __init__(self, stage: str, replies: Sequence[SmtpReply]):
        # RFC 5321 4.2.1: 5yz is a permanent refusal; a 4yz might succeed later.
        kind = "denied" if replies and all(r.code >= 500 for r in replies) else "failed"
        super().__init__(f"SMTP {stage} refused: " + "; ".join(map(str, replies)), kind)
        self.stage = stage
        self.replies = tuple(replies)


def _needs_utf8(*texts: str) -> bool:
    return any(not t.isascii() for t in texts)


class SmtpSubmission:
    """SMTP submission as one configured account (or unauthenticated to a trusted relay)."""

    def __init__(self, host: str, port: int, *, username: str | None = None, password: str | None = None,
                 starttls: bool = False, tls: bool = False, tls_context: ssl.SSLContext | None = None,
                 validate_certs: bool = True, timeout: float = 60.0,
                 local_hostname: str | None = None) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.tls = tls                      # implicit TLS (port 465, RFC 8314)
        self.tls_context = tls_context
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.local_hostname = local_hostname

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, username=self.username, password=self.password,
            use_tls=self.tls, start_tls=self.starttls, tls_context=self.tls_context,
            validate_certs=self.validate_certs, timeout=self.timeout,
            local_hostname=self.local_hostname)

    async def send(self, message: bytes, mail_from: str, rcpt_to: Sequence[str]) -> None:
        if not rcpt_to:
            raise BackendError("SMTP: no recipients", "failed")
        smtp = self._client()
        try:
            try:
                await smtp.connect()      # greeting, EHLO, STARTTLS and AUTH as configured
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise BackendError(f"SMTP AUTH as {self.username} refused: {exc.code} {exc.message}",
                                   "auth") from exc
            except aiosmtplib.SMTPResponseException as exc:
                raise SmtpRefused("connection", [SmtpReply(exc.code, exc.message)]) from exc
            await self._transaction(smtp, message, mail_from, rcpt_to)
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected,
                aiosmtplib.SMTPTimeoutError, OSError) as exc:
            raise BackendError(f"SMTP {self.host}:{self.port}: {exc}", "unavailable") from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise BackendError(f"SMTP {self.host}:{self.port}: {exc}", "failed") from exc
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except aiosmtplib.SMTPException:
                    smtp.close()

    async def _transaction(self, smtp: aiosmtplib.SMTP, message: bytes, mail_from: str,
                           rcpt_to: Sequence[str]) -> None:
        options: list[str] = []
        encoding = "ascii"
        if _needs_utf8(mail_from, *rcpt_to):
            if not smtp.supports_extension("smtputf8"):
                raise BackendError("SMTP: non-ASCII address but the server lacks SMTPUTF8 (RFC 6531)",
                                   "denied")
            options.append("SMTPUTF8")
            encoding = "utf-8"
        if any(b > 0x7F for b in message) and smtp.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")          # RFC 6152
        if smtp.supports_extension("size"):
            options.append(f"SIZE={len(message)}")   # RFC 1870: refused early if too big

        try:
            await smtp.mail(mail_from, options=options, encoding=encoding)
        except aiosmtplib.SMTPResponseException as exc:
            raise SmtpRefused("MAIL FROM", [SmtpReply(exc.code, exc.message, mail_from)]) from exc

        refused: list[SmtpReply] = []
        for rcpt in rcpt_to:
            try:
                await smtp.rcpt(rcpt, encoding=encoding)
            except aiosmtplib.SMTPResponseException as exc:
                refused.append(SmtpReply(exc.code, exc.message, rcpt))
        if refused:
            await self._rset(smtp)
            raise SmtpRefused("RCPT TO", refused)

        try:
            await smtp.data(message)
        except aiosmtplib.SMTPResponseException as exc:
            raise SmtpRefused("DATA", [SmtpReply(exc.code, exc.message)]) from exc

    @staticmethod
    async def _rset(smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.rset()
        except aiosmtplib.SMTPException:
            pass   # we are giving up on this connection anyway

    async def close(self) -> None:
        return None
