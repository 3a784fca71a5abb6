"""Out of Office through EWS (exchangelib and raw SOAP) on the demo and the real-server gateways."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from exchangelib import OofSettings

from protocols.ews.ns import child, text

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
