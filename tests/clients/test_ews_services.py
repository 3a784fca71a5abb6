"""User configuration, photos, room lists, service configuration, delegates, password expiry: EWS on both stacks."""
from __future__ import annotations

import asyncio
import uuid

from exchangelib.errors import ErrorItemNotFound

from protocols.ews.ns import child, children, local, text

from .test_ews_exchangelib import account, gw  # noqa: F401  (fixture)
from .test_ews_soap import call, codes, messages


def _user_configuration(gw):
    a = account(gw)
    name = f"Exgate.Test{uuid.uuid4().hex[:8]}"
    a.inbox.create_user_configuration(name=name, dictionary={"PhoneNumber": "555-0100", "Count": 3, "On": True},
                                      xml_data=b"<settings a='1'/>", binary_data=b"\x00\x01\xff")
    got = a.inbox.get_user_configuration(name=name)
    assert got.dictionary == {"PhoneNumber": "555-0100", "Count": 3, "On": True}
    assert got.xml_data == b"<settings a='1'/>"
    assert got.binary_data == b"\x00\x01\xff"
    assert got.id
    # update replaces the dictionary, leaves the streams not sent alone
    a.inbox.update_user_configuration(name=name, dictionary={"PhoneNumber": "555-0199"})
    got = a.inbox.get_user_configuration(name=name)
    assert got.dictionary == {"PhoneNumber": "555-0199"}
    assert got.binary_data == b"\x00\x01\xff"
    # the object is an FAI message: not among the folder's normal items
    assert name not in {getattr(i, "subject", None) for i in a.inbox.all().only("subject")}
    a.inbox.delete_user_configuration(name=name)
    try:
        a.inbox.get_user_configuration(name=name)
    except ErrorItemNotFound:
        pass
    else:
        raise AssertionError("deleted user configuration still readable")
    # what Outlook/OWA read at start without having written it
    opts = a.root.get_user_configuration(name="OWA.UserOptions")
    assert opts.dictionary.get("timezone")
    return True


async def test_user_configuration_lifecycle(gw):
    assert await asyncio.to_thread(_user_configuration, gw)


async def test_user_configuration_soap_codes(demo_gateway):
    body = ('<m:GetUserConfiguration><m:UserConfigurationName Name="CategoryList"><t:DistinguishedFolderId '
            'Id="calendar"/></m:UserConfigurationName><m:UserConfigurationProperties>XmlData'
            '</m:UserConfigurationProperties></m:GetUserConfiguration>')
    _, p = await call(demo_gateway, body)
    assert codes(p) == ["NoError"]
    cfg = child(messages(p)[0], "UserConfiguration")
    assert child(cfg, "XmlData") is not None and child(cfg, "Dictionary") is None
    _, p = await call(demo_gateway, body.replace("CategoryList", "NoSuchThing"))
    assert codes(p) == ["ErrorItemNotFound"]
    # creating the same name twice is refused
    create = ('<m:CreateUserConfiguration><m:UserConfiguration><t:UserConfigurationName Name="Twice">'
              '<t:DistinguishedFolderId Id="drafts"/></t:UserConfigurationName><t:Dictionary><t:DictionaryEntry>'
              '<t:DictionaryKey><t:Type>String</t:Type><t:Value>k</t:Value></t:DictionaryKey><t:DictionaryValue>'
              '<t:Type>StringArray</t:Type><t:Value>a,b</t:Value><t:Value>c</t:Value></t:DictionaryValue>'
              '</t:DictionaryEntry></t:Dictionary></m:UserConfiguration></m:CreateUserConfiguration>')
    _, p = await call(demo_gateway, create)
    assert codes(p) == ["NoError"]
    _, p = await call(demo_gateway, create)
    assert codes(p) == ["ErrorItemSave"]
    _, p = await call(demo_gateway, body.replace("CategoryList", "Twice").replace("calendar", "drafts")
                      .replace("XmlData", "All"))
    value = child(child(child(child(messages(p)[0], "UserConfiguration"), "Dictionary"), "DictionaryEntry"),
                  "DictionaryValue")
    assert [v.text for v in children(value, "Value")] == ["a,b", "c"]
    _, p = await call(demo_gateway, '<m:DeleteUserConfiguration><m:UserConfigurationName Name="Twice">'
                                    '<t:DistinguishedFolderId Id="drafts"/></m:UserConfigurationName>'
                                    '</m:DeleteUserConfiguration>')
    assert codes(p) == ["NoError"]


async def test_user_photo_none_is_item_not_found(gw):
    _, p = await call(gw, '<m:GetUserPhoto><m:Email>alice@example.test</m:Email>'
                          '<m:SizeRequested>HR48x48</m:SizeRequested></m:GetUserPhoto>')
    assert local(p) == "GetUserPhotoResponse"
    assert p.get("ResponseClass") == "Error" and text(p, "ResponseCode") == "ErrorItemNotFound"
    assert text(p, "HasChanged") == "false"


def _rooms(gw):
    a = account(gw)
    return list(a.protocol.get_roomlists())


async def test_room_lists(gw):
    # the test directories hold no rooms: an empty, successful answer
    assert await asyncio.to_thread(_rooms, gw) == []
    _, p = await call(gw, '<m:GetRooms><m:RoomList><t:EmailAddress>team@example.test</t:EmailAddress>'
                          '</m:RoomList></m:GetRooms>')
    assert text(p, "ResponseCode") == "ErrorNameResolutionNoResults"


async def test_service_configuration_and_password_expiry(gw):
    _, p = await call(gw, '<m:GetServiceConfiguration><m:RequestedConfiguration>'
                          '<m:ConfigurationName>MailTips</m:ConfigurationName>'
                          '<m:ConfigurationName>UnifiedMessagingConfiguration</m:ConfigurationName>'
                          '<m:ConfigurationName>ProtectionRules</m:ConfigurationName>'
                          '</m:RequestedConfiguration></m:GetServiceConfiguration>')
    assert text(p, "ResponseCode") == "NoError"
    msg = children(child(p, "ResponseMessages"))[0]
    assert text(child(msg, "MailTipsConfiguration"), "MailTipsEnabled") == "true"
    assert text(child(msg, "UnifiedMessagingConfiguration"), "UmEnabled") == "false"
    assert child(msg, "ProtectionRulesConfiguration") is not None
    _, p = await call(gw, '<m:GetPasswordExpirationDate><m:MailboxSmtpAddress>alice@example.test'
                          '</m:MailboxSmtpAddress></m:GetPasswordExpirationDate>')
    assert text(p, "ResponseCode") == "NoError"
    _, p = await call(gw, '<m:GetPasswordExpirationDate><m:MailboxSmtpAddress>bob@example.test'
                          '</m:MailboxSmtpAddress></m:GetPasswordExpirationDate>')
    assert text(p, "ResponseCode") == "ErrorAccessDenied"


def _delegates(gw):
    a = account(gw)
    return a.delegates


async def test_delegates(gw):
    assert await asyncio.to_thread(_delegates, gw) == []
    _, p = await call(gw, '<m:AddDelegate><m:Mailbox><t:EmailAddress>alice@example.test</t:EmailAddress>'
                          '</m:Mailbox><m:DelegateUsers><t:DelegateUser><t:UserId><t:PrimarySmtpAddress>'
                          'bob@example.test</t:PrimarySmtpAddress></t:UserId></t:DelegateUser></m:DelegateUsers>'
                          '</m:AddDelegate>')
    assert p.get("ResponseClass") == "Error" and text(p, "ResponseCode") == "ErrorInvalidOperation"
    assert "not supported" in text(p, "MessageText")


async def test_json_autodiscover_is_anonymous(demo_gateway):
    """Outlook asks the JSON Autodiscover before it has credentials: it answers without a sign-in."""
    import json
    import ssl

    import aiohttp

    from gateway.http.auth.policy import is_public
    assert is_public("GET", "/autodiscover/autodiscover.json/v1.0/alice@example.test")
    assert is_public("GET", "/AutoDiscover/AutoDiscover.json/v1.0/alice@example.test")
    assert not is_public("POST", "/autodiscover/autodiscover.json/v1.0/alice@example.test")
    assert not is_public("GET", "/autodiscover/autodiscover.json/../../EWS/Exchange.asmx")
    assert not is_public("GET", "/autodiscover/autodiscover.json")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession() as s:
        async with s.get(demo_gateway.base_url + "/autodiscover/autodiscover.json/v1.0/alice@example.test",
                         params={"Protocol": "EWS"}, ssl=ctx) as r:
            assert r.status == 200
            assert json.loads(await r.read())["Url"] == demo_gateway.base_url + "/EWS/Exchange.asmx"
        # the rest still wants a sign-in
        async with s.post(demo_gateway.base_url + "/EWS/Exchange.asmx", data=b"", ssl=ctx) as r:
            assert r.status == 401


def _convert_ids(gw):
    from exchangelib.properties import AlternateId
    a = account(gw)
    folder_id = a.inbox.id
    from exchangelib import Message
    item = Message(account=a, folder=a.drafts, subject="convert me")
    item.save()
    out = {}
    for kind, ews_id in (("folder", folder_id), ("item", item.id)):
        for fmt in ("EntryId", "HexEntryId", "StoreId", "OwaId", "EwsLegacyId"):
            conv = list(a.protocol.convert_ids([AlternateId(id=ews_id, format="EwsId", mailbox=a.primary_smtp_address)],
                                               destination_format=fmt))[0]
            back = list(a.protocol.convert_ids([AlternateId(id=conv.id, format=fmt, mailbox=a.primary_smtp_address)],
                                               destination_format="EwsId"))[0]
            out[(kind, fmt)] = (conv.id, back.id == ews_id)
    return out


async def test_convert_id_all_formats(gw):
    import base64
    import urllib.parse
    got = await asyncio.to_thread(_convert_ids, gw)
    assert all(ok for _, ok in got.values()), got
    for kind, eid_len, type_byte in (("folder", 46, 1), ("item", 70, 9)):
        entry = base64.b64decode(got[(kind, "EntryId")][0])
        assert len(entry) == eid_len and entry.hex().upper() == got[(kind, "HexEntryId")][0]
        store = base64.b64decode(got[(kind, "StoreId")][0])
        assert store == bytes([eid_len]) + entry + bytes([type_byte])
        owa = got[(kind, "OwaId")][0]
        assert "/" not in owa and "+" not in owa and "=" not in owa
        assert urllib.parse.unquote(owa) == got[(kind, "StoreId")][0]
    # Exchange 2007 OWA message ids start "RgAAAA" (length 70) and end "AAAJ" (pad, type 9)
    assert got[("item", "OwaId")][0].startswith("RgAAAA") and got[("item", "OwaId")][0].endswith("AAAJ")


async def test_convert_id_malformed(gw):
    _, p = await call(gw, '<m:ConvertId DestinationFormat="EwsId"><m:SourceIds>'
                          '<t:AlternateId Format="OwaId" Id="RgAAAAAS2%2" Mailbox="alice@example.test"/>'
                          '<t:AlternateId Format="StoreId" Id="!!" Mailbox="alice@example.test"/>'
                          '</m:SourceIds></m:ConvertId>')
    assert codes(p) == ["ErrorInvalidIdMalformed", "ErrorInvalidIdMalformed"]
