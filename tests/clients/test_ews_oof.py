"""Out of Office through EWS (exchangelib and raw SOAP) on the demo and the real-server gateways.

On the real servers the settings become a Sieve vacation script over ManageSieve, and Dovecot
sends the replies through Postfix; the demo keeps them in the state database only."""
from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import smtplib
import socket
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from exchangelib import OofSettings

from gateway.backends.sieve import ManageSieveClient
from gateway.config import SieveConfig
from gateway.store import sieve_oof
from protocols.ews.ns import child, text
from tests.stacks import _gateway, real_config

from .test_ews_exchangelib import account, gw  # noqa: F401  (fixture)
from .test_ews_soap import call


def _oof_round_trip(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    a.oof_settings = OofSettings(state=OofSettings.ENABLED, external_audience="Known",
                                 internal_reply=f"away {tag}", external_reply=f"away {tag} ext")
    got = a.oof_settings
    assert got.state == OofSettings.ENABLED
    assert got.external_audience == "Known"
    assert got.internal_reply == f"away {tag}" and got.external_reply == f"away {tag} ext"
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    a.oof_settings = OofSettings(state=OofSettings.SCHEDULED, start=start, end=start + timedelta(days=3),
                                 internal_reply="scheduled", external_reply="scheduled ext")
    got = a.oof_settings
    assert got.state == OofSettings.SCHEDULED and got.start == start and got.end == start + timedelta(days=3)
    a.oof_settings = OofSettings(state=OofSettings.DISABLED)
    assert a.oof_settings.state == OofSettings.DISABLED
    # bob's settings are his own
    assert account(gw, "bob").oof_settings.state == OofSettings.DISABLED


async def test_oof_set_get_disable(gw):
    await asyncio.to_thread(_oof_round_trip, gw)


async def test_oof_of_another_mailbox_denied(demo_gateway):
    _, p = await call(demo_gateway, '<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>bob@example.test'
                                    '</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>')
    assert text(child(p, "ResponseMessage"), "ResponseCode") == "ErrorAccessDenied"
    _, p = await call(demo_gateway, '<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>alice@example.test'
                                    '</t:Address></t:Mailbox><t:UserOofSettings><t:OofState>Scheduled</t:OofState>'
                                    '<t:ExternalAudience>All</t:ExternalAudience><t:Duration><t:StartTime>2030-01-02T00:00:00Z'
                                    '</t:StartTime><t:EndTime>2030-01-01T00:00:00Z</t:EndTime></t:Duration>'
                                    '<t:InternalReply><t:Message>x'
                                    '</t:Message></t:InternalReply></t:UserOofSettings>'
                                    '</m:SetUserOofSettingsRequest>')
    # a schedule that ends before it starts is refused with a reason, not stored
    msg = child(p, "ResponseMessage")
    assert text(msg, "ResponseCode") == "ErrorInvalidParameter", text(msg, "MessageText")


@pytest.mark.parametrize("state", ["Enabled"])
async def test_oof_shows_in_mailtips(demo_gateway, state):
    await call(demo_gateway, '<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>carol@example.test</t:Address>'
                             f'</t:Mailbox><t:UserOofSettings><t:OofState>{state}</t:OofState>'
                             '<t:ExternalAudience>All</t:ExternalAudience><t:InternalReply><t:Message>carol is away'
                             '</t:Message></t:InternalReply><t:ExternalReply><t:Message>away</t:Message>'
                             '</t:ExternalReply></t:UserOofSettings></m:SetUserOofSettingsRequest>',
               user=("carol@example.test", "carolpw"))
    _, p = await call(demo_gateway, '<m:GetMailTips><m:SendingAs><t:EmailAddress>alice@example.test</t:EmailAddress>'
                                    '</m:SendingAs><m:Recipients><t:Mailbox><t:EmailAddress>carol@example.test'
                                    '</t:EmailAddress></t:Mailbox><t:Mailbox><t:EmailAddress>nobody@example.test'
                                    '</t:EmailAddress></t:Mailbox></m:Recipients>'
                                    '<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>')
    assert text(p, "ResponseCode") == "NoError"
    carol, nobody = list(child(p, "ResponseMessages"))
    tips = child(carol, "MailTips")
    assert text(child(child(tips, "OutOfOffice"), "ReplyBody"), "Message") == "carol is away"
    assert text(tips, "InvalidRecipient") == "false"
    assert text(child(nobody, "MailTips"), "InvalidRecipient") == "true"
    await call(demo_gateway, '<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>carol@example.test</t:Address>'
                             '</t:Mailbox><t:UserOofSettings><t:OofState>Disabled</t:OofState>'
                             '<t:ExternalAudience>All</t:ExternalAudience></t:UserOofSettings>'
                             '</m:SetUserOofSettingsRequest>', user=("carol@example.test", "carolpw"))


# ------------------------------------------------------------ real replies (Sieve vacation on Dovecot)

def _smtp_send(gw, sender: str, to: str, subject: str) -> None:
    cfg = gw.state.config.smtp
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content("a normal message: vacation ignores bounces, lists and auto-submitted mail")
    with smtplib.SMTP(cfg.host, cfg.port, timeout=10) as s:
        s.send_message(msg)


def _find(gw, login: str, tag: str, *, timeout: float) -> list[email.message.EmailMessage]:
    """Messages in login's INBOX whose subject holds tag, polling up to timeout seconds."""
    cfg = gw.state.config.imap
    deadline = time.time() + timeout
    while True:
        with imaplib.IMAP4(cfg.host, cfg.port) as im:
            im.login(login, f"{login}pw")
            im.select("INBOX", readonly=True)
            _, data = im.search(None, "SUBJECT", f'"{tag}"')
            found = []
            for num in data[0].split():
                _, parts = im.fetch(num, "(RFC822)")
                found.append(email.message_from_bytes(parts[0][1], policy=email.policy.default))
        if found or time.time() >= deadline:
            return found
        time.sleep(0.5)


async def _sieve_as(gw, login: str) -> ManageSieveClient:
    sc = gw.state.config.sieve
    return await ManageSieveClient.connect(sc.host, sc.port, user=login, password=f"{login}pw")


def _oof_really_replies(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    text_ = f"alice is away until Monday {tag}"
    a.oof_settings = OofSettings(state=OofSettings.ENABLED, external_audience="All",
                                 internal_reply=text_, external_reply=f"external {tag}")
    try:
        _smtp_send(gw, "bob@example.test", "alice@example.test", f"lunch {tag}?")
        replies = [m for m in _find(gw, "bob", tag, timeout=20) if m["Subject"].startswith("Automatic reply")]
        assert len(replies) == 1, "bob got no automatic reply within 20 s"
        reply = replies[0]
        assert reply["Subject"] == f"Automatic reply: lunch {tag}?"
        assert "alice@example.test" in reply["From"]
        assert reply["Auto-Submitted"].startswith("auto-replied")
        assert text_ in reply.get_body(("plain", "html")).get_content()
        # the settings come back from the server's script
        got = a.oof_settings
        assert got.state == OofSettings.ENABLED and got.internal_reply == text_
    finally:
        a.oof_settings = OofSettings(state=OofSettings.DISABLED, internal_reply=text_)
    # off: the script is no longer active, and a new sender gets nothing
    carol_tag = uuid.uuid4().hex[:8]
    _smtp_send(gw, "carol@example.test", "alice@example.test", f"meeting {carol_tag}")
    assert _find(gw, "alice", carol_tag, timeout=20), "carol's message never reached alice"
    time.sleep(3)   # a reply leaves during delivery; give Postfix time to hand it on
    assert _find(gw, "carol", carol_tag, timeout=0) == []
    got = a.oof_settings
    assert got.state == OofSettings.DISABLED and got.internal_reply == text_


async def test_oof_sends_real_replies_through_sieve(real_gateway):
    await asyncio.to_thread(_oof_really_replies, real_gateway)
    c = await _sieve_as(real_gateway, "alice")
    async with c:
        assert await c.active_script() != sieve_oof.SCRIPT_NAME
        assert sieve_oof.SCRIPT_NAME in [s.name for s in await c.list_scripts()]


async def test_oof_reads_the_server_script(real_gateway):
    # the Sieve script is the source of truth: switching it off on the server reads as Disabled
    await asyncio.to_thread(lambda: setattr(account(real_gateway, "bob"), "oof_settings",
                                            OofSettings(state=OofSettings.ENABLED, internal_reply="bob away",
                                                        external_reply="bob away")))
    async with await _sieve_as(real_gateway, "bob") as c:
        try:
            assert await c.active_script() == sieve_oof.SCRIPT_NAME
        finally:
            await c.set_active(None)
    got = await asyncio.to_thread(lambda: account(real_gateway, "bob").oof_settings)
    assert got.state == OofSettings.DISABLED and got.internal_reply == "bob away"


async def test_oof_sieve_down_is_an_ews_error(dovecot, radicale, postfix, slapd, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]           # bound but not listening: connection refused
        cfg = replace(real_config(dovecot, radicale, postfix, slapd, str(tmp_path / "state.sqlite3")),
                      sieve=SieveConfig(host="127.0.0.1", port=closed, timeout=5))
        gw = await _gateway(cfg, tmp_path)
        try:
            status, p = await call(gw, '<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>carol@example.test'
                                       '</t:Address></t:Mailbox><t:UserOofSettings><t:OofState>Enabled</t:OofState>'
                                       '<t:ExternalAudience>All</t:ExternalAudience><t:InternalReply><t:Message>x'
                                       '</t:Message></t:InternalReply></t:UserOofSettings>'
                                       '</m:SetUserOofSettingsRequest>', user=("carol@example.test", "carolpw"))
            assert status == 200
            msg = child(p, "ResponseMessage")
            assert text(msg, "ResponseCode") == "ErrorInternalServerError"
            assert "ManageSieve" in text(msg, "MessageText")
            # nothing was stored, and reading falls back to the state database
            _, p = await call(gw, '<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>carol@example.test'
                                  '</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>',
                              user=("carol@example.test", "carolpw"))
            assert text(child(p, "ResponseMessage"), "ResponseCode") == "NoError"
            assert text(child(p, "OofSettings"), "OofState") == "Disabled"
        finally:
            await gw.stop()
