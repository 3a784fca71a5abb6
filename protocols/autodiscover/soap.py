"""SOAP Autodiscover (MS-OXWSADISC): GetUserSettings request parsing and response building."""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ACTION_BASE = "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class SoapAutodiscoverError(ValueError):
    pass


def _local(el) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _find(el, *path):
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if _local(c) == name), None)
    return el


@dataclass
class GetUserSettingsRequest:
    operation: str
    users: list[str]
    settings: list[str]
    requested_version: str | None = None


def parse_request(data: bytes) -> GetUserSettingsRequest:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapAutodiscoverError(str(exc)) from exc
    if root.getroottree().docinfo.doctype:
        raise SoapAutodiscoverError("DTD is prohibited in this XML document")
    body = _find(root, "Body")
    ops = [c for c in (body if body is not None else []) if isinstance(c.tag, str)]
    if not ops:
        raise SoapAutodiscoverError("no operation in the SOAP body")
    op = ops[0]
    name = _local(op)
    if name.endswith("RequestMessage"):
        name = name[: -len("RequestMessage")]
    req = _find(op, "Request")
    users = [(_find(u, "Mailbox").text or "").strip() for u in (_find(req, "Users") or [])
             if _find(u, "Mailbox") is not None]
    settings = [(s.text or "").strip() for s in (_find(req, "RequestedSettings") or []) if _local(s) == "Setting"]
    version = _find(root, "Header", "RequestedServerVersion")
    return GetUserSettingsRequest(name, users, settings, version.text.strip() if version is not None
                                  and version.text else None)


@dataclass
class UserResult:
    mailbox: str
    error_code: str = "NoError"
    error_message: str = "No error."
    settings: dict[str, str] = field(default_factory=dict)
    setting_errors: dict[str, str] = field(default_factory=dict)   # name -> error code
    redirect: str | None = None


def _header(env, action: str, version: tuple[int, int, int, int, str]):
    h = etree.SubElement(env, f"{{{SOAP}}}Header")
    a = etree.SubElement(h, f"{{{WSA}}}Action", nsmap={"a": WSA})
    a.set(f"{{{SOAP}}}mustUnderstand", "1")
    a.text = ACTION_BASE + action
    svi = etree.SubElement(h, f"{{{ANS}}}ServerVersionInfo", nsmap={"h": ANS, "i": XSI})
    for name, value in zip(("MajorVersion", "MinorVersion", "MajorBuildNumber", "MinorBuildNumber", "Version"),
                           version):
        etree.SubElement(svi, f"{{{ANS}}}{name}").text = str(value)


def encode_user_settings_response(results: list[UserResult], *, version=(15, 0, 847, 31, "Exchange2013_SP1"),
                                  error_code: str = "NoError", error_message: str = "") -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    _header(env, "GetUserSettingsResponse", version)
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    msg = etree.SubElement(body, f"{{{ANS}}}GetUserSettingsResponseMessage", nsmap={None: ANS})
    resp = etree.SubElement(msg, f"{{{ANS}}}Response", nsmap={"i": XSI})

    def s(parent, name, text=None, **attrs):
        el = etree.SubElement(parent, f"{{{ANS}}}{name}", attrs)
        if text is not None:
            el.text = text
        return el

    s(resp, "ErrorCode", error_code)
    s(resp, "ErrorMessage", error_message)
    urs = s(resp, "UserResponses")
    for r in results:
        ur = s(urs, "UserResponse")
        s(ur, "ErrorCode", r.error_code)
        s(ur, "ErrorMessage", r.error_message)
        rt = s(ur, "RedirectTarget", r.redirect)
        if r.redirect is None:
            rt.set(f"{{{XSI}}}nil", "true")
        errs = s(ur, "UserSettingErrors")
        for name, code in r.setting_errors.items():
            e = s(errs, "UserSettingError")
            s(e, "ErrorCode", code)
            s(e, "ErrorMessage", f"The requested setting {name} is not available.")
            s(e, "SettingName", name)
        us = s(ur, "UserSettings")
        for name, value in r.settings.items():
            st = s(us, "UserSetting")
            st.set(f"{{{XSI}}}type", "StringSetting")
            s(st, "Name", name)
            s(st, "Value", value)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def encode_request(mailbox: str, settings: list[str], version: str = "Exchange2013") -> bytes:
    """Client side (tests)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": ANS, "wsa": WSA})
    h = etree.SubElement(env, f"{{{SOAP}}}Header")
    etree.SubElement(h, f"{{{ANS}}}RequestedServerVersion").text = version
    etree.SubElement(h, f"{{{WSA}}}Action").text = ACTION_BASE + "GetUserSettings"
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    op = etree.SubElement(body, f"{{{ANS}}}GetUserSettingsRequestMessage")
    req = etree.SubElement(op, f"{{{ANS}}}Request")
    users = etree.SubElement(req, f"{{{ANS}}}Users")
    etree.SubElement(etree.SubElement(users, f"{{{ANS}}}User"), f"{{{ANS}}}Mailbox").text = mailbox
    rs = etree.SubElement(req, f"{{{ANS}}}RequestedSettings")
    for name in settings:
        etree.SubElement(rs, f"{{{ANS}}}Setting").text = name
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def parse_response(data: bytes) -> list[UserResult]:
    """Client side (tests)."""
    root = etree.fromstring(data, _PARSER)
    out = []
    for ur in root.iter(f"{{{ANS}}}UserResponse"):
        r = UserResult("", (_find(ur, "ErrorCode").text or ""), (_find(ur, "ErrorMessage").text or ""))
        for st in (_find(ur, "UserSettings") or []):
            r.settings[_find(st, "Name").text] = (_find(st, "Value").text or "") if _find(st, "Value") is not None \
                else ""
        for e in (_find(ur, "UserSettingErrors") or []):
            r.setting_errors[_find(e, "SettingName").text] = _find(e, "ErrorCode").text
        out.append(r)
    return out
