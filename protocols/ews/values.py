"""Property paths and typed values: FieldURI, IndexedFieldURI, ExtendedFieldURI (MS-OXWSCORE 2.2.4.x).

ExtendedFieldURI names a MAPI property by tag (PropertyTag + PropertyType) or as a named property
(DistinguishedPropertySetId or PropertySetId, plus PropertyName or PropertyId). Values are written
as text per MapiPropertyTypeType (MS-OXWSCDATA 2.2.5.22).
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from protocols.mapi.props.named import NamedProp, PS_INTERNET_HEADERS, PS_PUBLIC_STRINGS, PSETID
from protocols.mapi.types import MV_FLAG, PropType

from .ns import child, children, local, sub, t

TYPE_NAMES: dict[str, int] = {
    "ApplicationTime": PropType.FloatingTime, "Binary": PropType.Binary, "Boolean": PropType.Boolean,
    "CLSID": PropType.Guid, "Currency": PropType.Currency, "Double": PropType.Floating64,
    "Error": PropType.ErrorCode, "Float": PropType.Floating32, "Integer": PropType.Integer32,
    "Long": PropType.Integer64, "Null": PropType.Null, "Object": PropType.Object, "Short": PropType.Integer16,
    "SystemTime": PropType.Time, "String": PropType.String,
}
for _n, _v in list(TYPE_NAMES.items()):
    if _n not in ("Boolean", "Error", "Null", "Object"):
        TYPE_NAMES[_n + "Array"] = _v | MV_FLAG
TYPE_NAMES["ObjectArray"] = PropType.Object | MV_FLAG
TYPE_BY_CODE = {v: k for k, v in TYPE_NAMES.items()}
TYPE_BY_CODE[PropType.String8] = "String"
TYPE_BY_CODE[PropType.String8 | MV_FLAG] = "StringArray"

DISTINGUISHED_SETS: dict[str, uuid.UUID] = {
    "Meeting": PSETID.Meeting, "Appointment": PSETID.Appointment, "Common": PSETID.Common,
    "PublicStrings": PS_PUBLIC_STRINGS, "Address": PSETID.Address, "InternetHeaders": PS_INTERNET_HEADERS,
    "CalendarAssistant": PSETID.CalendarAssistant, "UnifiedMessaging": PSETID.UnifiedMessaging,
    "Task": PSETID.Task, "Sharing": PSETID.Sharing,
}
SET_NAMES = {v: k for k, v in DISTINGUISHED_SETS.items()}


class PathError(ValueError):
    """ErrorInvalidPropertyRequest / ErrorInvalidExtendedProperty."""


@dataclass(frozen=True)
class ExtendedField:
    """One ExtendedFieldURI; ``key`` is the store's property key (tag int or NamedProp)."""

    prop_type: int
    tag: int | None = None              # PropertyTag (16-bit id)
    set_id: uuid.UUID | None = None
    set_name: str | None = None         # DistinguishedPropertySetId as written
    prop_name: str | None = None
    prop_id: int | None = None

    @property
    def key(self):
        if self.tag is not None:
            return (self.tag << 16) | (self.prop_type & 0xFFFF)
        return NamedProp(self.set_id, lid=self.prop_id, name=self.prop_name, type=self.prop_type)

    def to_xml(self, parent):
        attrs = {}
        if self.tag is not None:
            attrs["PropertyTag"] = f"0x{self.tag:x}"
        else:
            if self.set_name:
                attrs["DistinguishedPropertySetId"] = self.set_name
            else:
                attrs["PropertySetId"] = str(self.set_id)
            if self.prop_name is not None:
                attrs["PropertyName"] = self.prop_name
            else:
                attrs["PropertyId"] = str(self.prop_id)
        attrs["PropertyType"] = TYPE_BY_CODE.get(self.prop_type, "Binary")
        return sub(parent, t("ExtendedFieldURI"), **attrs)


def _int(value: str) -> int:
    value = value.strip()
    return int(value, 16) if value.lower().startswith("0x") else int(value)


def parse_extended(el) -> ExtendedField:
    a = el.attrib
    tname = a.get("PropertyType")
    if tname not in TYPE_NAMES:
        raise PathError(f"unknown PropertyType {tname!r}")
    ptype = TYPE_NAMES[tname]
    try:
        if a.get("PropertyTag") is not None:
            tag = _int(a["PropertyTag"])
            if not 0 < tag <= 0xFFFF:
                raise PathError("PropertyTag out of range")
            return ExtendedField(ptype, tag=tag)
        set_name = a.get("DistinguishedPropertySetId")
        if set_name is not None:
            if set_name not in DISTINGUISHED_SETS:
                raise PathError(f"unknown DistinguishedPropertySetId {set_name!r}")
            set_id = DISTINGUISHED_SETS[set_name]
        elif a.get("PropertySetId"):
            set_id = uuid.UUID(a["PropertySetId"])
        else:
            raise PathError("an ExtendedFieldURI needs PropertyTag or a property set")
        if a.get("PropertyName") is not None:
            return ExtendedField(ptype, set_id=set_id, set_name=set_name, prop_name=a["PropertyName"])
        if a.get("PropertyId") is not None:
            return ExtendedField(ptype, set_id=set_id, set_name=set_name, prop_id=_int(a["PropertyId"]))
    except ValueError as exc:
        if isinstance(exc, PathError):
            raise
        raise PathError(str(exc)) from exc
    raise PathError("an ExtendedFieldURI needs PropertyName or PropertyId")


def extended_from_key(key, ptype: int | None = None) -> ExtendedField:
    if isinstance(key, NamedProp):
        return ExtendedField(ptype if ptype is not None else key.type, set_id=key.guid,
                             set_name=SET_NAMES.get(key.guid), prop_name=key.name, prop_id=key.lid)
    return ExtendedField(key & 0xFFFF, tag=key >> 16)


@dataclass(frozen=True)
class FieldPath:
    """A property path: FieldURI, IndexedFieldURI (uri + index) or ExtendedFieldURI."""

    uri: str | None = None
    index: str | None = None
    extended: ExtendedField | None = None

    def to_xml(self, parent):
        if self.extended is not None:
            return self.extended.to_xml(parent)
        if self.index is not None:
            return sub(parent, t("IndexedFieldURI"), FieldURI=self.uri, FieldIndex=self.index)
        return sub(parent, t("FieldURI"), FieldURI=self.uri)


def parse_path(el) -> FieldPath:
    name = local(el)
    if name == "FieldURI":
        return FieldPath(uri=el.get("FieldURI"))
    if name == "IndexedFieldURI":
        return FieldPath(uri=el.get("FieldURI"), index=el.get("FieldIndex"))
    if name == "ExtendedFieldURI":
        return FieldPath(extended=parse_extended(el))
    raise PathError(f"{name} is not a property path")


def find_path(el) -> FieldPath | None:
    """The first property path among ``el``'s children."""
    for c in children(el):
        if local(c) in ("FieldURI", "IndexedFieldURI", "ExtendedFieldURI"):
            return parse_path(c)
    return None


# ---------------------------------------------------------------- scalar text

def format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: str) -> datetime:
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise ValueError(f"not an xs:boolean: {value!r}")


def value_to_text(ptype: int, value) -> str:
    base = ptype & ~MV_FLAG
    if base == PropType.Boolean:
        return "true" if value else "false"
    if base == PropType.Time:
        return format_datetime(value) if isinstance(value, datetime) else str(value)
    if base in (PropType.Binary, PropType.ServerId, PropType.Object):
        return base64.b64encode(bytes(value)).decode("ascii")
    if base == PropType.Guid:
        return str(value)
    return str(value)


def text_to_value(ptype: int, text: str):
    base = ptype & ~MV_FLAG
    if base == PropType.Boolean:
        return parse_bool(text)
    if base in (PropType.Integer16, PropType.Integer32, PropType.Integer64, PropType.Currency, PropType.ErrorCode):
        return int(text.strip())
    if base in (PropType.Floating32, PropType.Floating64, PropType.FloatingTime):
        return float(text.strip())
    if base == PropType.Time:
        return parse_datetime(text)
    if base in (PropType.Binary, PropType.ServerId, PropType.Object):
        return base64.b64decode(text.strip())
    if base == PropType.Guid:
        return uuid.UUID(text.strip())
    return text


def write_extended_property(parent, field: ExtendedField, value):
    ep = sub(parent, t("ExtendedProperty"))
    field.to_xml(ep)
    if field.prop_type & MV_FLAG:
        vs = sub(ep, t("Values"))
        for v in value or ():
            sub(vs, t("Value"), value_to_text(field.prop_type, v))
    else:
        sub(ep, t("Value"), value_to_text(field.prop_type, value))
    return ep


def read_extended_property(el) -> tuple[ExtendedField, object]:
    """``t:ExtendedProperty`` -> (field, value)."""
    uri = child(el, "ExtendedFieldURI")
    if uri is None:
        raise PathError("ExtendedProperty without ExtendedFieldURI")
    field = parse_extended(uri)
    try:
        if field.prop_type & MV_FLAG:
            vals = child(el, "Values")
            value = [text_to_value(field.prop_type, v.text or "") for v in children(vals, "Value")]
        else:
            v = child(el, "Value")
            value = text_to_value(field.prop_type, (v.text or "") if v is not None else "")
    except (ValueError, TypeError) as exc:
        raise PathError(f"bad value for an extended property: {exc}") from exc
    return field, value


def lookup(props: dict, key, ptype: int | None = None):
    """Find a property by tag or named key, forgiving a type mismatch (String vs String8 ...)."""
    if key in props:
        return key, props[key]
    if isinstance(key, NamedProp):
        for k, v in props.items():
            if isinstance(k, NamedProp) and k.key == key.key:
                return k, v
        return None, None
    pid = key >> 16
    for k, v in props.items():
        if isinstance(k, int) and k >> 16 == pid:
            return k, v
    return None, None
