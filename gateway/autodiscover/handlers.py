"""Autodiscover handlers: what a client is told about where EWS, MAPI/HTTP and the OAB live.

URLs come from ``config.http.public_url`` or, when unset, from the request's own scheme and host.
The mailbox GUID in ``MailboxId=`` and the Server names is the store's mailbox GUID (provisioned
idempotently from the state database, without opening the backends), the same one MAPI sees.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass

from aiohttp import web

from gateway.http.urls import public_base_url

from gateway.http.auth.access import normalize_address, owns_mailbox
from gateway.http.sessions import USER, AuthenticatedUser, current_user
from protocols.autodiscover import pox, soap

log = logging.getLogger(__name__)

CAS_VERSION = "15.00.0847.031"
EWS_SCHEMAS = "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, " \
              "Exchange2013_SP1"
SERVER_VERSION_HEX = "73C0834F"   # 15.0.847 as Outlook's packed ServerVersion
DEPLOYMENT_ID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "exgate.deployment"))
ORG_DN = "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"


@dataclass
class Target:
    """Whose settings are being described."""

    email: str
    login: str
    display_name: str


def _state(request):
    from gateway.http.keys import GATEWAY
    return request.app[GATEWAY]


base_url = public_base_url


def host_of(base: str) -> str:
    return base.split("://", 1)[-1].split("/", 1)[0]


def legacy_dn(login: str) -> str:
    return f"{ORG_DN}/cn=Recipients/cn={login}"


def mailbox_guid(request, email: str, display_name: str | None = None) -> uuid.UUID:
    return _state(request).store_directory.mailbox_guid(email, display_name)


def urls(base: str, domain: str | None = None) -> dict[str, str]:
    ews = f"{base}/EWS/Exchange.asmx"
    from gateway.store.oab import oab_guid
    oab = f"{base}/OAB/{oab_guid(domain)}/" if domain else f"{base}/OAB/"   # the OAB's files, oab.xml first
    return {"ews": ews, "oab": oab, "ecp": f"{base}/ecp/", "oof": ews, "um": f"{base}/UnifiedMessaging/"
            "Service.asmx", "mapi": f"{base}/mapi/", "rpc": f"{base}/rpc/rpcproxy.dll"}


async def _lookup(request, address: str):
    directory = _state(request).store_directory
    if not directory.available:
        return None
    try:
        return await directory.find(address)
    except Exception as exc:  # noqa: BLE001 - a directory failure reads as "not found" here, and is logged
        log.warning("Autodiscover: the directory could not look up %s: %s", address, exc)
        return None


async def resolve_target(request, address: str) -> tuple[Target | None, str | None]:
    """(settings target, or redirect address). Neither: the address is unknown (error 500)."""
    user: AuthenticatedUser | None = request.get(USER)
    wanted = normalize_address(address)
    if user is not None:
        if owns_mailbox(user, wanted):
            if wanted != normalize_address(user.email):
                return None, user.email       # an alias or login: point the client at the primary address
            return Target(user.email, user.login, user.display_name), None
        local = wanted.split("@", 1)[0]
        if local == user.login.lower() or local == user.email.split("@", 1)[0].lower():
            return None, user.email          # same person, address in another domain
        return None, None
    entry = await _lookup(request, wanted)
    if entry is None or not entry.email:
        return None, None
    if entry.email.lower() != wanted:
        return None, entry.email
    return Target(entry.email, entry.uid or wanted.split("@", 1)[0], entry.email), None


def anonymous_settings(request, address: str) -> pox.OutlookSettings:
    """For a caller without credentials: where the services are, the same for every address.

    No directory lookup, no mailbox GUID or LegacyDN, nothing provisioned: an
    anonymous POST must not tell who exists (Outlook asks again once signed in)."""
    base = base_url(request)
    u = urls(base, _state(request).config.domain)
    host = host_of(base)
    common = [("ASUrl", u["ews"]), ("EwsUrl", u["ews"]), ("EmwsUrl", u["ews"]), ("EcpUrl", u["ecp"]),
              ("OOFUrl", u["oof"]), ("OABUrl", u["oab"])]
    http_block = [("Server", host), ("SSL", "On" if base.startswith("https") else "Off"),
                  ("AuthPackage", "Basic"), *common, ("ServerExclusiveConnect", "On"),
                  ("CertPrincipalName", "None"), ("GroupingInformation", "exgate")]
    mid = f"?MailboxId={address}"
    mapi = pox.ProtocolBlock(attr_type="mapiHttp", version="1", nested=[
        ("MailStore", [("InternalUrl", f"{u['mapi']}emsmdb/{mid}"), ("ExternalUrl", f"{u['mapi']}emsmdb/{mid}")]),
        ("AddressBook", [("InternalUrl", f"{u['mapi']}nspi/{mid}"), ("ExternalUrl", f"{u['mapi']}nspi/{mid}")])])
    return pox.OutlookSettings(address, None, address, DEPLOYMENT_ID,
                               [pox.ProtocolBlock(type="EXPR", settings=list(http_block)),
                                pox.ProtocolBlock(type="EXHTTP", settings=list(http_block)), mapi])


class AnonymousLimit:
    """Anonymous Autodiscover requests per client address: ``per_minute`` at most (a sliding minute)."""

    def __init__(self, per_minute: int = 30, max_addresses: int = 10_000):
        self.per_minute = per_minute
        self.max_addresses = max_addresses
        self._seen: dict[str, list[float]] = {}

    def allow(self, addr: str | None, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        key = addr or "?"
        recent = [t for t in self._seen.pop(key, []) if now - t < 60.0]
        allowed = len(recent) < self.per_minute
        if allowed:
            recent.append(now)
        self._seen[key] = recent                # re-inserted: the dict stays oldest-first
        while len(self._seen) > self.max_addresses:
            del self._seen[next(iter(self._seen))]
        return allowed


ANONYMOUS_LIMIT = web.AppKey("exgate_autodiscover_anonymous", AnonymousLimit)


def outlook_settings(request, target: Target) -> pox.OutlookSettings:
    base = base_url(request)
    u = urls(base, _state(request).config.domain)
    domain = target.email.split("@", 1)[-1]
    guid = mailbox_guid(request, target.email, target.display_name)
    server = f"{guid}@{domain}"
    host = host_of(base)
    mid = f"?MailboxId={server}"
    server_dn = f"{ORG_DN}/cn=Configuration/cn=Servers/cn={server}"
    common = [("ASUrl", u["ews"]), ("EwsUrl", u["ews"]), ("EmwsUrl", u["ews"]), ("EcpUrl", u["ecp"]),
              ("OOFUrl", u["oof"]), ("OABUrl", u["oab"])]
    exch = pox.ProtocolBlock(type="EXCH", settings=[
        ("Server", server), ("ServerDN", server_dn), ("ServerVersion", SERVER_VERSION_HEX),
        ("MdbDN", f"{server_dn}/cn=Microsoft Private MDB"), *common, ("ServerExclusiveConnect", "off")])
    http_block = [("Server", host), ("SSL", "On" if base.startswith("https") else "Off"),
                  ("AuthPackage", "Basic"), *common, ("ServerExclusiveConnect", "On"),
                  ("CertPrincipalName", "None"), ("GroupingInformation", "exgate")]
    expr = pox.ProtocolBlock(type="EXPR", settings=list(http_block))
    exhttp = pox.ProtocolBlock(type="EXHTTP", settings=list(http_block))
    mapi = pox.ProtocolBlock(attr_type="mapiHttp", version="1", nested=[
        ("MailStore", [("InternalUrl", f"{u['mapi']}emsmdb/{mid}"), ("ExternalUrl", f"{u['mapi']}emsmdb/{mid}")]),
        ("AddressBook", [("InternalUrl", f"{u['mapi']}nspi/{mid}"), ("ExternalUrl", f"{u['mapi']}nspi/{mid}")])])
    return pox.OutlookSettings(target.display_name, legacy_dn(target.login), target.email, DEPLOYMENT_ID,
                               [exch, expr, exhttp, mapi])


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="text/xml", charset="utf-8")


async def handle_pox(request: web.Request) -> web.Response:
    if request.method == "GET":
        # Exchange answers a GET with error 600 (there is no request to read)
        return _xml(pox.encode_error(600, "Invalid Request"))
    try:
        req = pox.parse_request(await request.read())
    except pox.PoxError:
        return _xml(pox.encode_error(600, "Invalid Request"))
    if req.schema and req.schema.strip().replace("https://", "http://", 1) != pox.OUTLOOK_NS:
        return _xml(pox.encode_error(601, "Provider is not available", outlook=False))
    if not req.email:
        return _xml(pox.encode_error(600, "Invalid Request"))
    if request.get(USER) is None:
        limit = request.app.get(ANONYMOUS_LIMIT)
        if limit is not None and not limit.allow(request.remote):
            raise web.HTTPTooManyRequests(reason="too many anonymous Autodiscover requests", headers={
                "Retry-After": "60"}, text="429 Too Many Requests: at most "
                f"{limit.per_minute} anonymous Autodiscover requests a minute; sign in for more\n")
        if "@" not in req.email or len(req.email) > 320:
            return _xml(pox.encode_error(600, "Invalid Request"))
        return _xml(pox.encode_settings(anonymous_settings(request, req.email.strip())))
    target, redirect = await resolve_target(request, req.email)
    if redirect:
        return _xml(pox.encode_redirect_addr(redirect))
    if target is None:
        return _xml(pox.encode_error(500, "The email address can't be found."))
    return _xml(pox.encode_settings(outlook_settings(request, target)))


def user_settings(request, target: Target) -> dict[str, str]:
    base = base_url(request)
    u = urls(base, _state(request).config.domain)
    domain = target.email.split("@", 1)[-1]
    guid = mailbox_guid(request, target.email, target.display_name)
    server = f"{guid}@{domain}"
    host = host_of(base)
    return {
        "UserDisplayName": target.display_name, "UserDN": legacy_dn(target.login),
        "UserDeploymentId": DEPLOYMENT_ID, "AutoDiscoverSMTPAddress": target.email,
        "InternalEwsUrl": u["ews"], "ExternalEwsUrl": u["ews"], "InternalOABUrl": u["oab"],
        "ExternalOABUrl": u["oab"], "InternalEcpUrl": u["ecp"], "ExternalEcpUrl": u["ecp"],
        "InternalMailboxServer": server, "InternalRpcClientServer": server,
        "InternalMailboxServerDN": f"{ORG_DN}/cn=Configuration/cn=Servers/cn={server}",
        "MailboxDN": f"{ORG_DN}/cn=Configuration/cn=Servers/cn={server}/cn=Microsoft Private MDB",
        "ExternalMailboxServer": host, "ExternalMailboxServerRequiresSSL": "True" if base.startswith("https")
        else "False", "ExternalMailboxServerAuthenticationMethods": "Basic",
        "CasVersion": CAS_VERSION, "ExternalEwsVersion": CAS_VERSION, "EwsSupportedSchemas": EWS_SCHEMAS,
        "MapiHttpEnabled": "True", "ShowGalAsDefaultView": "True", "UserMSOnline": "False",
        "CrossOrganizationSharingEnabled": "False", "GroupingInformation": "exgate",
        "InternalServerExclusiveConnect": "Off", "ExternalServerExclusiveConnect": "On",
    }


async def handle_soap(request: web.Request) -> web.Response:
    current_user(request)
    try:
        req = soap.parse_request(await request.read())
    except soap.SoapAutodiscoverError as exc:
        return _xml(soap.encode_user_settings_response([], error_code="InvalidRequest", error_message=str(exc)))
    if req.operation != "GetUserSettings":
        return _xml(soap.encode_user_settings_response(
            [], error_code="InvalidRequest", error_message=f"{req.operation} is not supported by this server."))
    results = []
    for mailbox in req.users:
        target, redirect = await resolve_target(request, mailbox)
        if redirect:
            results.append(soap.UserResult(mailbox, "RedirectAddress", "Redirection address.", redirect=redirect))
            continue
        if target is None:
            results.append(soap.UserResult(mailbox, "InvalidUser", f"Invalid user: '{mailbox}'"))
            continue
        have = user_settings(request, target)
        r = soap.UserResult(mailbox)
        for name in req.settings:
            if name in have:
                r.settings[name] = have[name]
            else:
                r.setting_errors[name] = "SettingIsNotAvailable"
        results.append(r)
    return _xml(soap.encode_user_settings_response(results))


async def handle_json(request: web.Request) -> web.Response:
    """``/autodiscover/autodiscover.json/v1.0/<address>?Protocol=EWS`` -> {"Protocol": .., "Url": ..}."""
    proto = request.query.get("Protocol") or request.query.get("protocol") or ""
    base = base_url(request)
    u = urls(base)
    known = {"ews": ("EWS", u["ews"]), "autodiscoverv1": ("AutodiscoverV1", f"{base}/autodiscover/autodiscover.xml"),
             "activesync": ("ActiveSync", ""), "rest": ("Rest", "")}
    p = known.get(proto.lower())
    if p is None or not p[1]:
        return web.Response(status=400, text=json.dumps({"ErrorCode": "ProtocolNotSupported",
                                                         "ErrorMessage": f"The protocol '{proto}' is not supported"}),
                            content_type="application/json")
    return web.json_response({"Protocol": p[0], "Url": p[1]})
