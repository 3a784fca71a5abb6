"""User configuration objects (MS-OXWSUSRCFG): Get/Create/Update/DeleteUserConfiguration.

A user configuration is a folder-associated (FAI) message of class ``IPM.Configuration.<Name>``
in the named folder (MS-OXOCFG 2.2.1), so MAPI clients see the same object. Its three streams:

- Dictionary -> PidTagRoamingDictionary (0x7C07), the XML document of MS-OXOCFG 2.2.5.1
  (``<UserConfiguration><Info/><Data><e k="18-name" v="9-42"/></Data></UserConfiguration>``,
  each key/value prefixed with its type code);
- XmlData    -> PidTagRoamingXmlStream (0x7C08);
- BinaryData -> PidTagRoamingBinary (0x7C09);
and PidTagRoamingDatatypes (0x7C06) says which are present (0x2 dictionary, 0x4 XML, 0x8 binary).

Objects clients read at start-up without ever having written them (OWA.UserOptions, CategoryList)
are answered with defaults when absent, as Exchange creates them on first access.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from lxml import etree

from gateway.store import errors as se
from gateway.store.model import MessageContent
from protocols.ews.folders import read_folder_ref
from protocols.ews.ns import child, children, local, m, sub, t, text
from protocols.ews.responses import ResponseError
from protocols.mapi.props import core as P
from protocols.mapi.types import PropType, make_tag

from .context import EwsContext, for_each

PidTagRoamingDatatypes = make_tag(0x7C06, PropType.Integer32)
PidTagRoamingDictionary = make_tag(0x7C07, PropType.Binary)
PidTagRoamingXmlStream = make_tag(0x7C08, PropType.Binary)
PidTagRoamingBinary = make_tag(0x7C09, PropType.Binary)

DATATYPE_DICTIONARY = 0x2
DATATYPE_XML = 0x4
DATATYPE_BINARY = 0x8

CLASS_PREFIX = "IPM.Configuration."

# MS-OXOCFG 2.2.5.1.2 type codes of dictionary keys and values (3 Boolean, 9 Integer32, 18 String);
# the other EWS types keep their EWS name as the code, which only this gateway reads back.
TYPE_CODES = {"Boolean": "3", "Integer32": "9", "String": "18"}
CODE_TYPES = {v: k for k, v in TYPE_CODES.items()}
ARRAY_TYPES = ("StringArray", "ByteArray")


@dataclass
class DictValue:
    type: str                     # EWS UserConfigurationDictionaryObjectTypesType
    values: list[str] = field(default_factory=list)   # one for scalars; arrays have several


@dataclass
class UserConfiguration:
    name: str
    dictionary: list[tuple[DictValue, DictValue | None]] | None = None
    xml: bytes | None = None
    binary: bytes | None = None


# ------------------------------------------------------------------ dictionary stream (MS-OXOCFG 2.2.5.1)

def _encode_value(v: DictValue) -> str:
    code = TYPE_CODES.get(v.type, v.type)
    if v.type == "Boolean":
        return f"{code}-" + ("True" if v.values and v.values[0] == "true" else "False")   # MS-OXOCFG: 3-True
    if v.type in ARRAY_TYPES:
        # array items are base64 so a separator can never occur inside them
        return f"{code}-" + ",".join(base64.b64encode(x.encode()).decode() for x in v.values)
    return f"{code}-{v.values[0] if v.values else ''}"


def _decode_value(s: str) -> DictValue:
    code, _, rest = s.partition("-")
    kind = CODE_TYPES.get(code, code)
    if kind in ARRAY_TYPES:
        return DictValue(kind, [base64.b64decode(x).decode() for x in rest.split(",") if x])
    if kind == "Boolean":
        return DictValue(kind, ["true" if rest.lower() in ("true", "1") else "false"])
    return DictValue(kind, [rest])


def dictionary_to_stream(entries: list[tuple[DictValue, DictValue | None]]) -> bytes:
    root = etree.Element("UserConfiguration")
    etree.SubElement(root, "Info", version="Exgate.1")
    data = etree.SubElement(root, "Data")
    for key, value in entries:
        e = etree.SubElement(data, "e", k=_encode_value(key))
        if value is not None:
            e.set("v", _encode_value(value))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def stream_to_dictionary(data: bytes) -> list[tuple[DictValue, DictValue | None]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(data, parser)
    out = []
    for e in root.iter("e"):
        v = e.get("v")
        out.append((_decode_value(e.get("k", "")), _decode_value(v) if v is not None else None))
    return out


# ------------------------------------------------------------------ XML <-> UserConfiguration

def _read_object(el) -> DictValue:
    kind = text(el, "Type") or "String"
    values = [(v.text or "") for v in children(el, "Value")]
    if kind == "Boolean":
        # xs:boolean allows 1/0; Exchange answers true/false, which is what clients parse back
        values = ["true" if v.strip().lower() in ("true", "1") else "false" for v in values]
    return DictValue(kind, values)


def read_user_configuration(el) -> UserConfiguration:
    name_el = child(el, "UserConfigurationName")
    cfg = UserConfiguration(name_el.get("Name") if name_el is not None else "")
    d = child(el, "Dictionary")
    if d is not None:
        cfg.dictionary = []
        for entry in children(d, "DictionaryEntry"):
            key = child(entry, "DictionaryKey")
            value = child(entry, "DictionaryValue")
            cfg.dictionary.append((_read_object(key), _read_object(value) if value is not None else None))
    x = child(el, "XmlData")
    if x is not None:
        cfg.xml = _base64(x, "XmlData")
    b = child(el, "BinaryData")
    if b is not None:
        cfg.binary = _base64(b, "BinaryData")
    return cfg


def _base64(el, name: str) -> bytes:
    try:
        return base64.b64decode("".join((el.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise ResponseError("ErrorInvalidRequest", f"{name} is not valid base64.") from None


def _write_object(parent, name: str, v: DictValue):
    el = sub(parent, t(name))
    sub(el, t("Type"), v.type)
    for value in v.values:
        sub(el, t("Value"), value)


def write_user_configuration(parent, cfg: UserConfiguration, name_el, item_id: tuple[str, str] | None,
                             wanted: set[str]):
    out = sub(parent, m("UserConfiguration"))
    name = sub(out, t("UserConfigurationName"), Name=cfg.name)
    for c in children(name_el):
        name.append(etree.fromstring(etree.tostring(c)))     # the folder as the client named it
    if item_id is not None and wanted & {"Id", "All"}:
        sub(out, t("ItemId"), Id=item_id[0], ChangeKey=item_id[1])
    if cfg.dictionary is not None and wanted & {"Dictionary", "All"}:
        d = sub(out, t("Dictionary"))
        for key, value in cfg.dictionary:
            entry = sub(d, t("DictionaryEntry"))
            _write_object(entry, "DictionaryKey", key)
            if value is not None:
                _write_object(entry, "DictionaryValue", value)
    if cfg.xml is not None and wanted & {"XmlData", "All"}:
        sub(out, t("XmlData"), base64.b64encode(cfg.xml).decode())
    if cfg.binary is not None and wanted & {"BinaryData", "All"}:
        sub(out, t("BinaryData"), base64.b64encode(cfg.binary).decode())
    return out


def to_props(cfg: UserConfiguration) -> dict:
    props = {P.PidTagMessageClass: CLASS_PREFIX + cfg.name, P.PidTagSubject: CLASS_PREFIX + cfg.name}
    kinds = 0
    if cfg.dictionary is not None:
        props[PidTagRoamingDictionary] = dictionary_to_stream(cfg.dictionary)
        kinds |= DATATYPE_DICTIONARY
    if cfg.xml is not None:
        props[PidTagRoamingXmlStream] = cfg.xml
        kinds |= DATATYPE_XML
    if cfg.binary is not None:
        props[PidTagRoamingBinary] = cfg.binary
        kinds |= DATATYPE_BINARY
    props[PidTagRoamingDatatypes] = kinds
    return props


def from_props(name: str, props: dict) -> UserConfiguration:
    cfg = UserConfiguration(name)
    if props.get(PidTagRoamingDictionary) is not None:
        cfg.dictionary = stream_to_dictionary(bytes(props[PidTagRoamingDictionary]))
    if props.get(PidTagRoamingXmlStream) is not None:
        cfg.xml = bytes(props[PidTagRoamingXmlStream])
    if props.get(PidTagRoamingBinary) is not None:
        cfg.binary = bytes(props[PidTagRoamingBinary])
    return cfg


# ------------------------------------------------------------------ defaults for objects read before written

def _s(value: str) -> DictValue:
    return DictValue("String", [value])


def default_configuration(ctx: EwsContext, name: str) -> UserConfiguration | None:
    if name == "OWA.UserOptions":
        tz = ctx.req.timezone or "UTC"
        return UserConfiguration(name, dictionary=[
            (_s("timezone"), _s(tz)), (_s("timeformat"), _s("HH:mm")), (_s("dateformat"), _s("yyyy-MM-dd")),
            (_s("weekstartday"), DictValue("Integer32", ["1"])),
            (_s("workingHoursStartTimeInMinutes"), DictValue("Integer32", ["480"])),
            (_s("workingHoursEndTimeInMinutes"), DictValue("Integer32", ["1020"])),
            (_s("workingHoursTimeZone"), _s(tz))])
    if name == "CategoryList":
        # Outlook's category list XML (MS-OXOCFG 2.2.6.2); no categories until the user makes some
        xml = (b'<?xml version="1.0"?><categories default="" lastSavedSession="0" '
               b'lastSavedTime="1601-01-01T00:00:00.000" xmlns="CategoryList.xsd"></categories>')
        return UserConfiguration(name, xml=xml)
    return None


# ------------------------------------------------------------------ handlers

async def _find(ctx: EwsContext, name_el):
    """(folder, FAI item or None) for a UserConfigurationName element."""
    if name_el is None or not name_el.get("Name"):
        raise ResponseError("ErrorInvalidRequest", "UserConfigurationName with a Name is required.")
    refs = [c for c in children(name_el) if local(c) in ("FolderId", "DistinguishedFolderId")]
    if not refs:
        raise ResponseError("ErrorInvalidRequest", "UserConfigurationName must name a folder.")
    folder = await ctx.folder(read_folder_ref(refs[0]))
    want = (CLASS_PREFIX + name_el.get("Name")).lower()
    for it in await ctx.mbx.list_items(folder.fid, associated=True):
        if str(it.props.get(P.PidTagMessageClass) or "").lower() == want:
            return folder, it
    return folder, None


def _ids(ctx: EwsContext, item) -> tuple[str, str]:
    from protocols.ews import ids as ewsids
    return ctx.item_id(item.mid), ewsids.encode_change_key(bytes(item.props[P.PidTagChangeKey]), "item")


async def get_user_configuration(ctx: EwsContext):
    body = ctx.req.body
    name_el = child(body, "UserConfigurationName")
    wanted = set((text(body, "UserConfigurationProperties") or "All").split())

    async def one(_, el):
        _, item = await _find(ctx, name_el)
        if item is None:
            cfg = default_configuration(ctx, name_el.get("Name"))
            if cfg is None:
                raise ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")
            write_user_configuration(el, cfg, name_el, None, wanted)
            return
        full = await ctx.mbx.get_item(item.mid)
        cfg = from_props(name_el.get("Name"), full.props)
        write_user_configuration(el, cfg, name_el, _ids(ctx, full), wanted)
    return await for_each(ctx, [None], one)


async def create_user_configuration(ctx: EwsContext):
    cfg_el = child(ctx.req.body, "UserConfiguration")

    async def one(_, el):
        if cfg_el is None:
            raise ResponseError("ErrorInvalidRequest", "UserConfiguration is required.")
        name_el = child(cfg_el, "UserConfigurationName")
        folder, item = await _find(ctx, name_el)
        if item is not None:
            raise ResponseError("ErrorItemSave", "A user configuration with this name already exists in the folder.")
        cfg = read_user_configuration(cfg_el)
        await ctx.mbx.create_item(folder.fid, MessageContent(to_props(cfg)), associated=True)
    return await for_each(ctx, [None], one)


async def update_user_configuration(ctx: EwsContext):
    cfg_el = child(ctx.req.body, "UserConfiguration")

    async def one(_, el):
        if cfg_el is None:
            raise ResponseError("ErrorInvalidRequest", "UserConfiguration is required.")
        name_el = child(cfg_el, "UserConfigurationName")
        folder, item = await _find(ctx, name_el)
        new = read_user_configuration(cfg_el)
        if item is None:
            if default_configuration(ctx, new.name) is None:
                raise ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")
            # a default object the client has only read so far: it comes into being now
            await ctx.mbx.create_item(folder.fid, MessageContent(to_props(new)), associated=True)
            return
        # only the streams present in the request are replaced (MS-OXWSUSRCFG 3.1.4.5)
        old = from_props(new.name, (await ctx.mbx.get_item(item.mid)).props)
        merged = UserConfiguration(new.name,
                                   new.dictionary if new.dictionary is not None else old.dictionary,
                                   new.xml if new.xml is not None else old.xml,
                                   new.binary if new.binary is not None else old.binary)
        props = to_props(merged)
        remove = [k for k, present in ((PidTagRoamingDictionary, merged.dictionary), (PidTagRoamingXmlStream,
                                                                                       merged.xml),
                                       (PidTagRoamingBinary, merged.binary)) if present is None]
        await ctx.mbx.update_item(item.mid, props, remove)
    return await for_each(ctx, [None], one)


async def delete_user_configuration(ctx: EwsContext):
    name_el = child(ctx.req.body, "UserConfigurationName")

    async def one(_, el):
        _, item = await _find(ctx, name_el)
        if item is None:
            raise ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")
        try:
            await ctx.mbx.delete_items([item.mid])
        except se.NotFound:
            raise ResponseError("ErrorItemNotFound", None)
    return await for_each(ctx, [None], one)
