"""Autodiscover against the running gateway: POX (Evolution/Outlook), SOAP GetUserSettings (exchangelib), JSON."""
from __future__ import annotations

import asyncio
import base64
import json
import ssl

import aiohttp

from protocols.autodiscover import pox, soap


def _ssl():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _auth(user="alice@example.test", pw="alicepw"):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


async def _post(gw, path, data, headers=None, method="POST"):
    async with aiohttp.ClientSession() as s:
        async with s.request(method, gw.base_url + path, data=data, ssl=_ssl(),
                             headers={"Content-Type": "text/xml; charset=utf-8", **(headers or {})}) as r:
            return r.status, r.headers.get("Content-Type", ""), await r.read()


async def test_pox_settings_for_signed_in_user(demo_gateway):
    status, ctype, data = await _post(demo_gateway, "/Autodiscover/Autodiscover.xml",
                                      pox.encode_request("alice@example.test"), _auth())
    assert status == 200 and ctype.startswith("text/xml")
    got = pox.parse_response(data)
    assert got["action"] == "settings"
    assert got["user"]["AutoDiscoverSMTPAddress"] == "alice@example.test"
    assert got["user"]["DisplayName"] == "Alice Archer" or got["user"]["DisplayName"]
    assert got["user"]["LegacyDN"].endswith("/cn=Recipients/cn=alice")
    by_type = {p.get("Type") or p.get("@Type"): p for p in got["protocols"]}
    ews = demo_gateway.base_url + "/EWS/Exchange.asmx"
    for kind in ("EXCH", "EXPR", "EXHTTP"):
        assert by_type[kind]["ASUrl"] == ews and by_type[kind]["EwsUrl"] == ews
        assert by_type[kind]["OABUrl"].startswith(demo_gateway.base_url + "/OAB/") and by_type[kind]["OABUrl"].endswith("/")
    mapi = by_type["mapiHttp"]
    assert mapi["MailStore"]["ExternalUrl"].startswith(demo_gateway.base_url + "/mapi/emsmdb/?MailboxId=")
    assert mapi["AddressBook"]["InternalUrl"].startswith(demo_gateway.base_url + "/mapi/nspi/?MailboxId=")
    guid = mapi["MailStore"]["ExternalUrl"].split("=", 1)[1].split("@")[0]
    assert by_type["EXCH"]["Server"].startswith(guid)


def _normalized(data: bytes, address: str) -> bytes:
    return data.replace(address.encode(), b"ADDRESS")


async def test_pox_anonymous_tells_nobody_who_exists(demo_gateway):
    # anonymous (the POST is public): where the services are, the same for a real user, an unknown
    # address and a login (which once got a RedirectAddr), with no GUID or LegacyDN and no directory lookup
    answers = {}
    for address in ("bob@example.test", "nobody@example.test", "bob@other.example"):
        status, _, data = await _post(demo_gateway, "/autodiscover/autodiscover.xml", pox.encode_request(address))
        assert status == 200
        got = pox.parse_response(data)
        assert got["action"] == "settings" and got["user"]["DisplayName"] == address
        assert "LegacyDN" not in got["user"]
        answers[address] = _normalized(data, address)
    assert len(set(answers.values())) == 1
    guid = str(mailbox_guid_of(demo_gateway, "bob@example.test"))
    assert guid.encode() not in answers["bob@example.test"]


async def test_pox_anonymous_is_throttled(demo_gateway):
    from gateway.autodiscover.handlers import ANONYMOUS_LIMIT
    limit = demo_gateway.runner.app[ANONYMOUS_LIMIT]
    before = limit.per_minute
    limit.per_minute = 3
    limit._seen.clear()
    try:
        statuses = []
        for _ in range(5):
            status, _, _ = await _post(demo_gateway, "/autodiscover/autodiscover.xml",
                                       pox.encode_request("x@example.test"))
            statuses.append(status)
        assert statuses[:3] == [200] * 3 and 429 in statuses[3:]
        status, _, _ = await _post(demo_gateway, "/autodiscover/autodiscover.xml",
                                   pox.encode_request("alice@example.test"), _auth())
        assert status == 200                  # signed in: not limited
    finally:
        limit.per_minute = before
        limit._seen.clear()


def mailbox_guid_of(gw, email: str):
    from gateway.store.mailbox import provision
    return provision(gw.state.db, email, None).mailbox_guid


async def test_pox_redirect_and_errors(demo_gateway):
    # the signed-in user's login in another domain -> redirectAddr to the primary address
    status, _, data = await _post(demo_gateway, "/autodiscover/autodiscover.xml",
                                  pox.encode_request("alice@other.example"), _auth())
    got = pox.parse_response(data)
    assert got["action"] == "redirectAddr" and got["redirect"] == "alice@example.test"
    _, _, data = await _post(demo_gateway, "/autodiscover/autodiscover.xml", pox.encode_request("nobody@example.test"),
                             _auth())
    assert pox.parse_response(data)["error"]["ErrorCode"] == "500"
    _, _, data = await _post(demo_gateway, "/autodiscover/autodiscover.xml", b"<not xml")
    assert pox.parse_response(data)["error"]["ErrorCode"] == "600"
    _, _, data = await _post(demo_gateway, "/autodiscover/autodiscover.xml", pox.encode_request(
        "alice@example.test", "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"))
    assert pox.parse_response(data)["error"]["ErrorCode"] == "601"


async def test_soap_get_user_settings(demo_gateway):
    wanted = ["UserDisplayName", "UserDN", "InternalEwsUrl", "ExternalEwsUrl", "CasVersion", "EwsSupportedSchemas",
              "AutoDiscoverSMTPAddress", "MapiHttpEnabled", "NoSuchSetting"]
    status, _, data = await _post(demo_gateway, "/autodiscover/autodiscover.svc",
                                  soap.encode_request("alice@example.test", wanted), _auth())
    assert status == 200
    (r,) = soap.parse_response(data)
    assert r.error_code == "NoError"
    assert r.settings["ExternalEwsUrl"] == demo_gateway.base_url + "/EWS/Exchange.asmx"
    assert "Exchange2013_SP1" in r.settings["EwsSupportedSchemas"]
    assert r.setting_errors == {"NoSuchSetting": "SettingIsNotAvailable"}
    status, _, data = await _post(demo_gateway, "/autodiscover/autodiscover.svc",
                                  soap.encode_request("bob@example.test", wanted), _auth())
    assert soap.parse_response(data)[0].error_code == "InvalidUser"


async def test_json(demo_gateway):
    async with aiohttp.ClientSession() as s:
        async with s.get(demo_gateway.base_url + "/autodiscover/autodiscover.json/v1.0/alice@example.test",
                         params={"Protocol": "EWS"}, ssl=_ssl(), headers=_auth()) as r:
            assert r.status == 200
            assert json.loads(await r.read()) == {"Protocol": "EWS",
                                                  "Url": demo_gateway.base_url + "/EWS/Exchange.asmx"}
        async with s.get(demo_gateway.base_url + "/autodiscover/autodiscover.json/v1.0/alice@example.test",
                         params={"Protocol": "Gopher"}, ssl=_ssl(), headers=_auth()) as r:
            assert r.status == 400


def _exchangelib_autodiscover(gw):
    from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials
    from exchangelib.autodiscover.cache import autodiscover_cache
    from exchangelib.autodiscover.protocol import AutodiscoverProtocol
    from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
    BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter
    cred = Credentials("alice@example.test", "alicepw")
    # example.test has no DNS: seed exchangelib's cache with our Autodiscover endpoint (what its steps 1-4
    # would find), so discovery itself runs GetUserSettings against the gateway.
    ad = AutodiscoverProtocol(config=Configuration(service_endpoint=gw.base_url + "/autodiscover/autodiscover.svc",
                                                   credentials=cred, auth_type=BASIC))
    autodiscover_cache[("example.test", cred)] = ad
    try:
        a = Account("alice@example.test", credentials=cred, autodiscover=True, access_type=DELEGATE)
        assert a.protocol.service_endpoint.lower() == (gw.base_url + "/EWS/Exchange.asmx").lower()
        assert a.ad_response.autodiscover_smtp_address == "alice@example.test"
        a.protocol.config.auth_type = BASIC
        return a.inbox.name
    finally:
        autodiscover_cache.clear()


async def test_exchangelib_autodiscover(demo_gateway):
    assert await asyncio.to_thread(_exchangelib_autodiscover, demo_gateway) == "Inbox"
