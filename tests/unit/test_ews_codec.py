"""EWS codec round trips on Microsoft's documentation examples and on Exchange 2007/2010 answers to Evolution.

decode -> encode -> decode must be stable for every part this codec models: envelopes, shapes,
property paths (FieldURI / IndexedFieldURI / ExtendedFieldURI), restrictions, sort orders, folder
references, item inputs and ResponseMessages.
"""
from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import pytest
from lxml import etree

from protocols.ews import ids as ewsids
from protocols.ews.envelope import (ServerVersion, SoapFault, build_fault, build_response, fault_code, parse_request,
                                    parse_response)
from protocols.ews.items import ItemView, read_item, write_item
from protocols.ews.ns import child, children, local, m, t
from protocols.ews.responses import ResponseError, error_message, message, response_root
from protocols.ews.restrict import evaluate, parse_restriction, parse_sort, to_xml, value_of
from protocols.ews.shapes import parse_shape
from protocols.ews.values import PathError, parse_extended, parse_path
from protocols.mapi.props import core as P

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "fixtures" / "ews-docs"
TRACES = ROOT / "captures" / "evolution-ews-traces"
INDEX = json.loads((DOCS / "index.json").read_text())
SOAP_DOCS = [e for e in INDEX if e["well_formed"] and not e["raw_http"]]


def _soap(path: Path) -> etree._Element | None:
    root = etree.fromstring(path.read_bytes())
    return root if local(root) == "Envelope" else None


def _roundtrip_parts(root) -> int:
    """Re-encode every modelled part below ``root`` and compare the decodings. Returns how many were checked."""
    n = 0
    for el in root.iter():
        name = local(el)
        if name in ("ItemShape", "FolderShape"):
            sh = parse_shape(el)
            holder = etree.Element("x")
            again = parse_shape(sh.to_xml(holder, name))
            assert again == sh
            n += 1
        elif name in ("FieldURI", "IndexedFieldURI", "ExtendedFieldURI") and el.getparent() is not None:
            try:
                p = parse_path(el)
            except PathError:
                continue   # e.g. a PropertyType the docs misspell; the server answers an error for it
            holder = etree.Element("x")
            assert parse_path(p.to_xml(holder)) == p
            n += 1
        elif name == "Restriction":
            try:
                node = parse_restriction(el)
            except (ValueError, PathError):
                continue
            if node is None:
                continue
            holder = etree.Element("x")
            to_xml(node, holder)
            assert parse_restriction(holder) == node
            evaluate(node, {}, value_of)  # evaluating on an empty bag must not raise
            n += 1
        elif name == "SortOrder":
            keys = parse_sort(el)
            assert all(k.path is not None for k in keys)
            n += 1
    return n


@pytest.mark.parametrize("entry", SOAP_DOCS, ids=lambda e: Path(e["file"]).stem[-60:])
def test_docs_example_roundtrip(entry):
    path = DOCS / entry["file"]
    root = _soap(path)
    data = path.read_bytes()
    if root is None:
        from protocols.autodiscover import pox
        top = etree.fromstring(data)
        if local(top) == "Autodiscover" and child(top, "Request") is not None:
            req = pox.parse_request(data)   # the index labels some requests as responses
            assert req.email or len(child(top, "Request")) == 0
        elif local(top) == "Autodiscover":
            got = pox.parse_response(data)
            assert got["error"] or got["action"] or got["protocols"] or got["user"] \
                or len(child(top, "Response")) == 0   # the schema page's empty skeleton
        else:
            _roundtrip_parts(top)  # a fragment (e.g. one restriction) printed on its own
        return
    if entry["kind"] == "request":
        req = parse_request(data)
        assert req.operation == entry["body_root"]
        again = parse_request(etree.tostring(root))
        assert again.operation == req.operation and again.version == req.version
    else:
        svi, payload = parse_response(data)
        assert local(payload) in (entry["body_root"], "Fault")
        for msg in children(child(payload, "ResponseMessages")):
            assert msg.get("ResponseClass") in ("Success", "Warning", "Error")
            assert child(msg, "ResponseCode") is not None
    _roundtrip_parts(root)


def test_docs_coverage():
    """Most examples are SOAP and parse; the count guards against silently skipping everything."""
    parsed = 0
    for e in SOAP_DOCS:
        if _soap(DOCS / e["file"]) is not None:
            parsed += 1
    assert parsed > 450
    malformed = [e for e in INDEX if not e["well_formed"]]
    for e in malformed:  # the published negative examples must give a fault, never an exception
        with pytest.raises(SoapFault):
            parse_request((DOCS / e["file"]).read_bytes())


def _trace_bodies() -> list[tuple[str, str, bytes]]:
    out = []
    for f in sorted(TRACES.rglob("*")):
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            mm = re.match(r"^([<>]) (<\?xml.*|<SOAP-ENV:Envelope.*|<s:Envelope.*)$", line)
            if mm and "Envelope" in line:
                out.append((f.relative_to(TRACES).as_posix(), mm.group(1), line[2:].encode()))
    return out


TRACE_BODIES = _trace_bodies()


def test_traces_found():
    assert len(TRACE_BODIES) >= 50


@pytest.mark.parametrize("case", TRACE_BODIES, ids=lambda c: f"{c[0]}:{c[1]}")
def test_evolution_trace_roundtrip(case):
    name, direction, data = case
    if direction == ">":
        req = parse_request(data)
        assert req.operation and req.version in ("Exchange2007_SP1", "Exchange2010_SP2", "Exchange2010", None)
        _roundtrip_parts(etree.fromstring(data))
    else:
        svi, payload = parse_response(data)
        if local(payload) == "Fault":
            assert fault_code(payload) == "ErrorSchemaValidation"
            return
        assert svi["MajorVersion"] in ("8", "14")
        for msg in children(child(payload, "ResponseMessages")):
            assert text_of(msg, "ResponseCode")


def text_of(el, name):
    c = child(el, name)
    return c.text if c is not None else None


# ---------------------------------------------------------------- our own encodings

def test_ids_roundtrip_and_malformed():
    g = uuid.uuid4()
    for kind in ("folder", "item"):
        eid = ewsids.EwsId(kind, g, 0x0001_0000_0000_1234)
        assert ewsids.decode_id(eid.encode()) == eid
    for bad in ("", "malformedparentid", "bm90IGFuIGlk", "%%%", "AAMkADhhNjgxMWMwLWFjMjAtNGMxYi1iMmVk"):
        with pytest.raises(ewsids.IdMalformed):
            ewsids.decode_id(bad)
    xid = bytes(range(22))
    ck = ewsids.encode_change_key(xid, "folder")
    assert ck.startswith("AQAAABYAAAA")          # Exchange's folder change key prefix (kind 1, 22 bytes)
    assert ewsids.decode_change_key(ck) == xid
    st = ewsids.SyncState("items", 42, 99)
    assert ewsids.decode_sync_state(st.encode(), "items", 42) == st
    with pytest.raises(ewsids.SyncStateInvalid):
        ewsids.decode_sync_state(st.encode(), "items", 43)
    with pytest.raises(ewsids.SyncStateInvalid):
        ewsids.decode_sync_state("H4sIAAAAAAAEAGNgYGAEYiYGBgB=", "items", 42)


def test_response_and_fault_shapes():
    root, msgs = response_root("GetUserOofSettingsRequest")
    error_message(msgs, "GetUserOofSettingsRequest", ResponseError("ErrorInvalidOperation"))
    svi, payload = parse_response(build_response(root, ServerVersion()))
    assert local(payload) == "GetUserOofSettingsResponse"
    assert svi == {"MajorVersion": "15", "MinorVersion": "0", "MajorBuildNumber": "847", "MinorBuildNumber": "31",
                   "Version": "V2_8"}
    mm = children(child(payload, "ResponseMessages"))[0]
    assert [local(c) for c in mm] == ["MessageText", "ResponseCode", "DescriptiveLinkKey"]
    _, f = parse_response(build_fault(SoapFault("ErrorSchemaValidation", "The request failed schema validation.")))
    assert fault_code(f) == "ErrorSchemaValidation"


def test_extended_field_uri_forms():
    x = etree.fromstring(b'<ExtendedFieldURI PropertyTag="0x1090" PropertyType="Integer"/>')
    assert parse_extended(x).key == 0x10900003
    x = etree.fromstring(b'<ExtendedFieldURI PropertyTag="4340" PropertyType="Boolean"/>')
    assert parse_extended(x).key == (4340 << 16) | 0x000B
    x = etree.fromstring(b'<ExtendedFieldURI DistinguishedPropertySetId="Common" PropertyId="34096" '
                         b'PropertyType="String"/>')
    k = parse_extended(x).key
    assert k.lid == 0x8530 and k.type == 0x1F
    x = etree.fromstring(b'<ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" '
                         b'PropertyName="EvolutionEWSURL" PropertyType="String"/>')
    assert parse_extended(x).key.name == "EvolutionEWSURL"


def test_message_write_read_roundtrip():
    from datetime import datetime, timezone
    from protocols.ews.shapes import Shape
    props = {P.PidTagSubject: "Hello", P.PidTagBody: "Body text", P.PidTagImportance: 2, P.PidTagSensitivity: 0,
             P.PidTagMessageClass: "IPM.Note", P.PidTagMessageFlags: P.MSGFLAG_READ,
             P.PidTagMessageDeliveryTime: datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)}
    holder = etree.Element(m("Items"))
    el = write_item(holder, ItemView("ID", "CK", props, full=True), Shape(base="AllProperties", body_type="Text"))
    assert el.tag == t("Message")
    inp = read_item(el)
    assert inp.props[P.PidTagSubject] == "Hello"
    assert inp.props[P.PidTagBody] == "Body text"
    assert inp.props[P.PidTagImportance] == 2
    assert inp.is_read is True
    names = [local(c) for c in el]
    assert names.index("ItemId") < names.index("Subject") < names.index("DateTimeReceived") < names.index("IsRead")


def test_store_id_layout_matches_exchange():
    """A folder StoreId as Exchange wrote it (dump published in gromox doc/ews_spec.rst): u8 length 0x2e,
    the 46-byte folder EntryID, then object type 1."""
    from protocols.ews import ids as ewsids
    entry = bytes.fromhex("00000000 8586831a bed9c141 94c55d3d 89017599 01000100 0000a518 7b6fbcdc "
                          "ea1ed03c 56570000 0000000f 0000".replace(" ", ""))
    assert len(entry) == 46
    store = base64.b64encode(bytes([0x2E]) + entry + b"\x01").decode()
    assert ewsids.decode_store_id(store) == entry
    assert ewsids.encode_store_id(entry, "folder") == store
    assert ewsids.decode_owa_id(ewsids.encode_owa_id(entry, "item")) == entry
    for bad in ("", "AA==", base64.b64encode(b"\x05abc").decode()):
        with pytest.raises(ewsids.IdMalformed):
            ewsids.decode_store_id(bad)


def test_boolean_attributes_are_xs_boolean():
    from protocols.ews.ns import sub
    root = etree.Element("r")
    el = sub(root, "x", True, IncludesLastItemInRange=False, TotalItemsInView=3, Skip=None)
    assert el.text == "true" and el.get("IncludesLastItemInRange") == "false" and el.get("TotalItemsInView") == "3"
    assert "Skip" not in el.attrib


XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe "evil">]>'
       b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
       b'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
       b'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><soap:Body>'
       b'<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId>'
       b'<m:Folders><t:Folder><t:DisplayName>X&xxe;X</t:DisplayName></t:Folder></m:Folders>'
       b'</m:CreateFolder></soap:Body></soap:Envelope>')


def test_a_doctype_is_refused_not_silently_dropped():
    # entities are never resolved; without this check "X&xxe;X" was stored as "XX"
    with pytest.raises(SoapFault) as info:
        parse_request(XXE)
    assert info.value.code == "ErrorSchemaValidation" and "DTD is prohibited" in info.value.violation


def test_a_doctype_is_refused_by_autodiscover():
    from protocols.autodiscover import pox, soap
    with pytest.raises(pox.PoxError, match="DTD"):
        pox.parse_request(b'<!DOCTYPE a [<!ENTITY e "x">]><Autodiscover xmlns="http://schemas.microsoft.com/'
                          b'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>a&e;@b'
                          b'</EMailAddress></Request></Autodiscover>')
    with pytest.raises(soap.SoapAutodiscoverError, match="DTD"):
        soap.parse_request(b'<!DOCTYPE a><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
                           b'<s:Body/></s:Envelope>')
