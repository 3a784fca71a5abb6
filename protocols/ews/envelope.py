"""SOAP 1.1 envelopes for EWS: request parsing, response and fault building.

A request is ``s:Envelope/s:Header?/s:Body/<operation>``; the operation is
found by the body element's local name. Headers clients send (MS-OXWSCDATA
2.2.3): RequestServerVersion, ExchangeImpersonation, TimeZoneContext,
MailboxCulture, DateTimePrecision. Every response carries ServerVersionInfo
(MS-OXWSCDATA 2.2.3.10). Faults follow what Exchange 2010 SP2 sent Evolution
(tests/traces: ErrorSchemaValidation as ``a:`` faultcode, HTTP 500).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .ns import E, SOAP, T, XSD, XSI, child, children, local, s, t, text

# SOAP 1.1, SOAP 1.2 (Exchange accepts both) and the https spelling found in Microsoft's published examples.
SOAP_NAMESPACES = (SOAP, "http://www.w3.org/2003/05/soap-envelope", "https://schemas.xmlsoap.org/soap/envelope/")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False,
                          load_dtd=False)

# Versions clients may ask for (MS-OXWSCDATA 2.2.5.34 ExchangeVersionType, later additions tolerated).
KNOWN_VERSIONS = ("Exchange2007", "Exchange2007_SP1", "Exchange2010", "Exchange2010_SP1", "Exchange2010_SP2",
                  "Exchange2013", "Exchange2013_SP1", "Exchange2015", "Exchange2016", "Exchange2019", "V2015_10_05",
                  "V2016_01_06", "V2016_04_13", "V2016_07_13", "V2016_10_10", "V2017_01_07", "V2017_04_14",
                  "V2017_07_11", "V2017_10_09", "V2018_01_08")


@dataclass(frozen=True)
class ServerVersion:
    """What ServerVersionInfo reports: Exchange 2013 SP1 (15.0.847.31), so Evolution enables streaming."""

    major: int = 15
    minor: int = 0
    major_build: int = 847
    minor_build: int = 31
    version: str = "V2_8"


@dataclass(frozen=True)
class Impersonation:
    kind: str        # PrincipalName, SID, PrimarySmtpAddress, SmtpAddress
    value: str


@dataclass
class EwsRequest:
    operation: str                      # local name of the body element, e.g. "GetFolder"
    body: etree._Element                # that element
    version: str | None = None          # RequestServerVersion/@Version
    impersonation: Impersonation | None = None
    timezone: str | None = None         # TimeZoneContext/TimeZoneDefinition/@Id
    culture: str | None = None
    headers: dict[str, etree._Element] = field(default_factory=dict)


class SoapFault(Exception):
    """A request that cannot be answered with ResponseMessages (bad XML, bad envelope)."""

    def __init__(self, code: str, message: str, *, violation: str | None = None, status: int = 500):
        super().__init__(message)
        self.code = code
        self.message = message
        self.violation = violation
        self.status = status


def parse_xml(data: bytes) -> etree._Element:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation.",
                        violation=str(exc)) from exc
    # Exchange refuses DTDs outright; with entities unresolved, "X&xxe;X" would quietly become "XX"
    if root.getroottree().docinfo.doctype:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation.",
                        violation="For security reasons DTD is prohibited in this XML document.")
    return root


def parse_request(data: bytes) -> EwsRequest:
    if not data or not data.strip():
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation.",
                        violation="The request body is empty.")
    root = parse_xml(data)
    if local(root) != "Envelope" or root.tag.split("}")[0].lstrip("{") not in SOAP_NAMESPACES:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation.",
                        violation=f"The root element is {local(root)!r}, not a SOAP 1.1 Envelope.")
    body = child(root, "Body")
    ops = children(body)
    if body is None or not ops:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation.",
                        violation="The SOAP Body has no operation element.")
    req = EwsRequest(local(ops[0]), ops[0])
    header = child(root, "Header")
    for h in children(header):
        name = local(h)
        req.headers[name] = h
        if name == "RequestServerVersion":
            req.version = h.get("Version")
        elif name == "ExchangeImpersonation":
            sid = child(h, "ConnectingSID")
            for c in children(sid):
                req.impersonation = Impersonation(local(c), (c.text or "").strip())
        elif name == "TimeZoneContext":
            tz = child(h, "TimeZoneDefinition")
            if tz is not None:
                req.timezone = tz.get("Id") or tz.get("Name")
        elif name == "MailboxCulture":
            req.culture = (h.text or "").strip() or None
    return req


def _envelope(version: ServerVersion | None):
    env = etree.Element(s("Envelope"), nsmap={"s": SOAP})
    if version is not None:
        header = etree.SubElement(env, s("Header"))
        etree.SubElement(header, t("ServerVersionInfo"), {
            "MajorVersion": str(version.major), "MinorVersion": str(version.minor),
            "MajorBuildNumber": str(version.major_build), "MinorBuildNumber": str(version.minor_build),
            "Version": version.version}, nsmap={"h": T, "xsi": XSI, "xsd": XSD})
    body = etree.SubElement(env, s("Body"), nsmap={"xsi": XSI, "xsd": XSD})
    return env, body


def serialize(el) -> bytes:
    return etree.tostring(el, xml_declaration=True, encoding="utf-8")


def build_response(payload: etree._Element, version: ServerVersion | None = ServerVersion()) -> bytes:
    env, body = _envelope(version)
    body.append(payload)
    return serialize(env)


def build_fault(fault: SoapFault, version: ServerVersion | None = None) -> bytes:
    env, body = _envelope(version)
    f = etree.SubElement(body, s("Fault"))
    code = etree.SubElement(f, "faultcode", nsmap={"a": T})
    code.text = f"a:{fault.code}"
    fs = etree.SubElement(f, "faultstring")
    fs.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    fs.text = f"{fault.message}{' ' + fault.violation if fault.violation else ''}"
    detail = etree.SubElement(f, "detail")
    etree.SubElement(detail, f"{{{E}}}ResponseCode", nsmap={"e": E}).text = fault.code
    etree.SubElement(detail, f"{{{E}}}Message", nsmap={"e": E}).text = fault.message
    if fault.violation:
        mx = etree.SubElement(detail, t("MessageXml"), nsmap={"t": T})
        etree.SubElement(mx, t("Violation")).text = fault.violation
    return serialize(env)


def parse_response(data: bytes) -> tuple[dict[str, str], etree._Element]:
    """Client side, for tests and replay: (ServerVersionInfo attributes, body payload or Fault)."""
    root = parse_xml(data)
    header = child(root, "Header")
    svi = child(header, "ServerVersionInfo")
    payload = children(child(root, "Body"))
    if not payload:
        raise SoapFault("ErrorSchemaValidation", "empty SOAP body in response")
    return (dict(svi.attrib) if svi is not None else {}), payload[0]


def fault_code(payload) -> str | None:
    """The ResponseCode of a Fault payload (None if it is not a fault)."""
    if local(payload) != "Fault":
        return None
    detail = child(payload, "detail")
    code = text(detail, "ResponseCode")
    if code:
        return code
    fc = text(payload, "faultcode") or ""
    return fc.split(":", 1)[-1]
