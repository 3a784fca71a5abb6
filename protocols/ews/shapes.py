"""ItemShape / FolderShape (MS-OXWSCDATA 2.2.4.42 ItemResponseShapeType, 2.2.4.33 FolderResponseShapeType)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .ns import child, children, text
from .values import FieldPath, parse_path


@dataclass
class Shape:
    base: str = "Default"                 # IdOnly, Default, AllProperties
    additional: list[FieldPath] = field(default_factory=list)
    body_type: str = "Best"               # Best, HTML, Text
    include_mime: bool = False
    filter_html: bool = False

    def wants_uri(self, uri: str) -> bool:
        return any(p.uri == uri for p in self.additional)

    @property
    def extended(self) -> list:
        return [p.extended for p in self.additional if p.extended is not None]

    def to_xml(self, parent, name: str = "ItemShape"):
        from .ns import m, sub, t
        el = sub(parent, m(name))
        sub(el, t("BaseShape"), self.base)
        if self.include_mime:
            sub(el, t("IncludeMimeContent"), True)
        if self.body_type != "Best":
            sub(el, t("BodyType"), self.body_type)
        if self.additional:
            ap = sub(el, t("AdditionalProperties"))
            for p in self.additional:
                p.to_xml(ap)
        return el


def parse_shape(el) -> Shape:
    """ItemShape/FolderShape element (None -> Default)."""
    if el is None:
        return Shape()
    sh = Shape(base=(text(el, "BaseShape") or "Default").strip())
    if sh.base not in ("IdOnly", "Default", "AllProperties", "PcxPeopleSearch"):
        raise ValueError(f"bad BaseShape {sh.base!r}")
    sh.body_type = (text(el, "BodyType") or "Best").strip()
    sh.include_mime = (text(el, "IncludeMimeContent") or "false").strip().lower() in ("true", "1")
    sh.filter_html = (text(el, "FilterHtmlContent") or "false").strip().lower() in ("true", "1")
    for p in children(child(el, "AdditionalProperties")):
        sh.additional.append(parse_path(p))
    return sh
