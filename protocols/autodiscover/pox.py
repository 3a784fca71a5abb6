"""Autodiscover POX (MS-OXDSCLI 2.2.4): the Outlook 2006 request and the 2006a response schema.

Request:  Autodiscover/Request/{EMailAddress, LegacyDN?, AcceptableResponseSchema}
Response: Autodiscover/Response/{User, Account/{AccountType, Action, Protocol*}} or
          Account/{Action=redirectAddr, RedirectAddr} or Response/Error/{ErrorCode, Message}.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from lxml import etree

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MOBILESYNC_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class PoxError(ValueError):
    """Error 600 Invalid Request (MS-OXDSCLI 2.2.4.2.1.4)."""


@dataclass
class PoxRequest:
    email: str | None
    legacy_dn: str | None
    schema: str | None


def _local(el) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def parse_request(data: bytes) -> PoxRequest:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PoxError(str(exc)) from exc
    if root.getroottree().docinfo.doctype:
        raise PoxError("DTD is prohibited in this XML document")
    req = next((c for c in root if _local(c) == "Request"), None) if _local(root) == "Autodiscover" else None
    if req is None:
        raise PoxError("not an Autodiscover request")
    values = {_local(c): (c.text or "").strip() for c in req if isinstance(c.tag, str)}
    return PoxRequest(values.get("EMailAddress") or None, values.get("LegacyDN") or None,
                      values.get("AcceptableResponseSchema") or None)


def encode_request(email: str, schema: str = OUTLOOK_NS) -> bytes:
    root = etree.Element(f"{{{REQUEST_NS}}}Autodiscover", nsmap={None: REQUEST_NS})
    req = etree.SubElement(root, f"{{{REQUEST_NS}}}Request")
    etree.SubElement(req, f"{{{REQUEST_NS}}}EMailAddress").text = email
    etree.SubElement(req, f"{{{REQUEST_NS}}}AcceptableResponseSchema").text = schema
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


@dataclass
class ProtocolBlock:
    """One ``Protocol``: ``type`` for the child <Type> form (EXCH, EXPR, EXHTTP); ``attr_type`` for
    the ``Type="mapiHttp" Version="1"`` attribute form."""

    type: str | None = None
    attr_type: str | None = None
    version: str | None = None
    settings: list[tuple[str, str]] = field(default_factory=list)    # simple children, in order
    nested: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # MailStore/AddressBook


@dataclass
class OutlookSettings:
    display_name: str
    legacy_dn: str | None              # None: left out (answers to anonymous callers)
    smtp_address: str
    deployment_id: str
    protocols: list[ProtocolBlock]


def _sub(parent, name: str, text: str | None = None):
    el = etree.SubElement(parent, f"{{{OUTLOOK_NS}}}{name}")
    if text is not None:
        el.text = text
    return el


def _envelope():
    root = etree.Element(f"{{{RESPONSE_NS}}}Autodiscover", nsmap={None: RESPONSE_NS})
    resp = etree.SubElement(root, f"{{{OUTLOOK_NS}}}Response", nsmap={None: OUTLOOK_NS})
    return root, resp


def encode_settings(s: OutlookSettings) -> bytes:
    root, resp = _envelope()
    user = _sub(resp, "User")
    _sub(user, "DisplayName", s.display_name)
    if s.legacy_dn is not None:
        _sub(user, "LegacyDN", s.legacy_dn)
    _sub(user, "AutoDiscoverSMTPAddress", s.smtp_address)
    _sub(user, "DeploymentId", s.deployment_id)
    acct = _sub(resp, "Account")
    _sub(acct, "AccountType", "email")
    _sub(acct, "Action", "settings")
    _sub(acct, "MicrosoftOnline", "False")
    _sub(acct, "ConsumerMailbox", "False")
    for p in s.protocols:
        el = _sub(acct, "Protocol")
        if p.attr_type:
            el.set("Type", p.attr_type)
            if p.version:
                el.set("Version", p.version)
        if p.type:
            _sub(el, "Type", p.type)
        for name, value in p.settings:
            _sub(el, name, value)
        for name, kids in p.nested:
            n = _sub(el, name)
            for k, v in kids:
                _sub(n, k, v)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def encode_redirect_addr(address: str) -> bytes:
    root, resp = _envelope()
    acct = _sub(resp, "Account")
    _sub(acct, "AccountType", "email")
    _sub(acct, "Action", "redirectAddr")
    _sub(acct, "RedirectAddr", address)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def encode_error(code: int, message: str, *, outlook: bool = True) -> bytes:
    """600 Invalid Request, 601 Provider not available (bad AcceptableResponseSchema), 500 user not found."""
    root = etree.Element(f"{{{RESPONSE_NS}}}Autodiscover", nsmap={None: RESPONSE_NS})
    resp = etree.SubElement(root, f"{{{RESPONSE_NS}}}Response")
    err = etree.SubElement(resp, f"{{{RESPONSE_NS}}}Error",
                           {"Time": datetime.now(timezone.utc).strftime("%H:%M:%S.%f")[:-3], "Id": "2477272013"})
    etree.SubElement(err, f"{{{RESPONSE_NS}}}ErrorCode").text = str(code)
    etree.SubElement(err, f"{{{RESPONSE_NS}}}Message").text = message
    etree.SubElement(err, f"{{{RESPONSE_NS}}}DebugData")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def parse_response(data: bytes) -> dict:
    """Client side (tests): {"action", "redirect", "user": {...}, "protocols": [{"Type": .., ...}], "error"}."""
    root = etree.fromstring(data, _PARSER)
    out: dict = {"protocols": [], "user": {}, "action": None, "redirect": None, "error": None}
    for el in root.iter():
        name = _local(el)
        if name == "Error":
            out["error"] = {_local(c): (c.text or "") for c in el if isinstance(c.tag, str)}
        elif name == "User":
            out["user"] = {_local(c): (c.text or "") for c in el if isinstance(c.tag, str)}
        elif name == "Action":
            out["action"] = el.text
        elif name == "RedirectAddr":
            out["redirect"] = el.text
        elif name == "Protocol":
            p = {"@Type": el.get("Type")}
            for c in el:
                if not isinstance(c.tag, str):
                    continue
                if len(c):
                    p[_local(c)] = {_local(k): (k.text or "") for k in c if isinstance(k.tag, str)}
                else:
                    p[_local(c)] = c.text or ""
            out["protocols"].append(p)
    return out
