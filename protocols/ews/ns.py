"""EWS XML namespaces and element helpers (MS-OXWSCDATA 2.1: prefixes t:, m:, SOAP 1.1 s:)."""
from __future__ import annotations

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"

NSMAP = {"s": SOAP, "t": T, "m": M}
RESPONSE_NSMAP = {"m": M, "t": T}


def t(name: str) -> str:
    return f"{{{T}}}{name}"


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def s(name: str) -> str:
    return f"{{{SOAP}}}{name}"


def local(el) -> str:
    """Local name of an element (namespace ignored: clients differ in how they qualify)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def child(el, name: str):
    """First child element with this local name, whatever its namespace."""
    if el is None:
        return None
    for c in el:
        if local(c) == name:
            return c
    return None


def first_child(el, *names: str):
    """The first child with any of these local names (lxml elements without children are falsy: no ``or``)."""
    for name in names:
        found = child(el, name)
        if found is not None:
            return found
    return None


def children(el, name: str | None = None) -> list:
    if el is None:
        return []
    return [c for c in el if isinstance(c.tag, str) and (name is None or local(c) == name)]


def text(el, name: str | None = None, default: str | None = None) -> str | None:
    """Text of ``el`` (or of its child ``name``)."""
    node = child(el, name) if name is not None else el
    if node is None:
        return default
    return node.text if node.text is not None else ""


_SubElement = etree.SubElement


def sub(parent, tag: str, value=None, **attrs):
    """Append a child; ``value`` becomes its text, attribute values likewise (booleans as xs:boolean)."""
    # a hot path (dozens of calls per item in a FindItem answer): skip the attribute dict when empty
    el = _SubElement(parent, tag, {k: xs_text(v) for k, v in attrs.items() if v is not None}) if attrs \
        else _SubElement(parent, tag)
    if value is not None:
        el.text = value if type(value) is str else xs_text(value)
    return el


def xs_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
