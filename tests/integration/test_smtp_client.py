"""SmtpSubmission against a real aiosmtpd server (a sink that refuses some domains).

The sink is a test double, not a backend: it answers RCPT for @refused.test
with 550 and for @later.test with 451, and can require AUTH, so the client's
refusal and auth paths can be driven on purpose (Postfix, in tests/servers,
is the real MTA for the store tests).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gateway.backends.base import BackendError
from gateway.backends.smtp import SmtpRefused, SmtpSubmission
from tests.servers import free_port

pytestmark = pytest.mark.integration

MESSAGE = (b"From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n"
           b"Subject: Lunch\r\nMessage-ID: <lunch-1@example.test>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b"Caf\xc3\xa9 at noon?\r\n.leading dot survives\r\n")


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SinkHandler:
    """aiosmtpd handler: keeps every message, refuses recipients like a real MTA would."""

    refused_domain: str = "refused.test"      # 550: permanent
    tempfail_domain: str = "later.test"       # 451: temporary
    messages: list[ReceivedMail] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd hook)
        domain = address.rpartition("@")[2].lower()
        if domain == self.refused_domain:
            return "550 5.7.1 Relaying denied for " + address
        if domain == self.tempfail_domain:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    handler: SinkHandler
    port: int


def _run_sink(auth: dict[str, str] | None = None) -> Iterator[SmtpSink]:
    """An aiosmtpd Controller (its own thread and loop) on a free 127.0.0.1 port."""
    handler = SinkHandler()
    kwargs: dict[str, object] = {}
    if auth:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth.get(auth_data.login.decode()) == auth_data.password.decode())
            # handled=False: aiosmtpd sends its own 535 (True would mean "already answered")
            return AuthResult(success=ok, handled=False)
        kwargs.update(authenticator=authenticator, auth_require_tls=False)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpSink(handler, port)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    yield from _run_sink()


@pytest.fixture(scope="module")
def auth_sink() -> Iterator[SmtpSink]:
    yield from _run_sink(auth={"alice": "alicepw"})


@pytest.fixture(autouse=True)
def _clear(sink):
    sink.handler.messages.clear()


async def test_message_received_with_envelope(sink):
    smtp = SmtpSubmission("127.0.0.1", sink.port)
    await smtp.send(MESSAGE, "alice@example.test", ["bob@example.test", "carol@example.test"])
    [got] = sink.handler.messages
    assert got.mail_from == "alice@example.test"
    assert got.rcpt_tos == ["bob@example.test", "carol@example.test"]
    assert b"Subject: Lunch\r\n" in got.data
    assert b"Caf\xc3\xa9 at noon?" in got.data                 # 8-bit body intact
    assert b"\r\n.leading dot survives\r\n" in got.data          # dot-stuffing undone by the server


async def test_permanent_refusal_is_denied_and_nothing_sent(sink):
    smtp = SmtpSubmission("127.0.0.1", sink.port)
    with pytest.raises(SmtpRefused) as err:
        await smtp.send(MESSAGE, "alice@example.test", ["bob@example.test", "mallory@refused.test"])
    assert err.value.kind == "denied" and err.value.stage == "RCPT TO"
    assert "550 5.7.1 Relaying denied for mallory@refused.test" in str(err.value)
    assert [r.recipient for r in err.value.replies] == ["mallory@refused.test"]
    assert sink.handler.messages == []                          # all or nothing


async def test_temporary_refusal_is_failed(sink):
    smtp = SmtpSubmission("127.0.0.1", sink.port)
    with pytest.raises(BackendError) as err:
        await smtp.send(MESSAGE, "alice@example.test", ["x@later.test"])
    assert err.value.kind == "failed"
    assert "451 4.3.0 Try again later" in str(err.value)
    # the connection pool is not shared: the next send works
    await smtp.send(MESSAGE, "alice@example.test", ["bob@example.test"])
    assert len(sink.handler.messages) == 1


async def test_auth_right_and_wrong(auth_sink):
    ok = SmtpSubmission("127.0.0.1", auth_sink.port, username="alice", password="alicepw")
    await ok.send(MESSAGE, "alice@example.test", ["bob@example.test"])
    assert auth_sink.handler.messages[-1].rcpt_tos == ["bob@example.test"]
    bad = SmtpSubmission("127.0.0.1", auth_sink.port, username="alice", password="nope")
    with pytest.raises(BackendError) as err:
        await bad.send(MESSAGE, "alice@example.test", ["bob@example.test"])
    assert err.value.kind == "auth"


async def test_no_server_is_unavailable():
    smtp = SmtpSubmission("127.0.0.1", free_port(), timeout=5)
    with pytest.raises(BackendError) as err:
        await smtp.send(MESSAGE, "alice@example.test", ["bob@example.test"])
    assert err.value.kind == "unavailable"


async def test_no_recipients_refused_locally(sink):
    with pytest.raises(BackendError):
        await SmtpSubmission("127.0.0.1", sink.port).send(MESSAGE, "alice@example.test", [])


def test_has_the_protocol_method():
    import inspect

    from gateway.backends import base
    assert list(inspect.signature(base.SubmissionClient.send).parameters) == \
        list(inspect.signature(SmtpSubmission.send).parameters)
