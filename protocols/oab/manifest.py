"""``oab.xml``, the OAB manifest (MS-OXWOAB 2.2: the OAB element, one OAL element per offline address
list, and in it the files of the current version: Full (the compressed Full Details file), Diff (a
patch from the previous sequence number to this one), Template (display templates, per language)).

Each file element carries ``seq`` (the sequence number of the OAB it makes), ``ver`` (32 for OAB
version 4), ``size`` (bytes as downloaded), ``uncompressedsize``, ``SHA`` (SHA-1 of the file as
downloaded, 40 hex digits) and, for templates, ``langid`` and ``type``; its text is the file name,
relative to the manifest's URL. Our writer emits one fixed layout, so encode(decode(b)) == b on
what it wrote; the reader accepts any attribute order and whitespace.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from .details import OabError


@dataclass
class FileEntry:
    kind: str                 # "Full", "Diff" or "Template"
    name: str
    seq: int
    size: int
    uncompressed_size: int
    sha: str
    ver: int = 32
    langid: str | None = None
    type: str | None = None

    def xml(self) -> str:
        attrs = [("seq", str(self.seq)), ("ver", str(self.ver)), ("size", str(self.size)),
                 ("uncompressedsize", str(self.uncompressed_size)), ("SHA", self.sha)]
        if self.langid is not None:
            attrs.append(("langid", self.langid))
        if self.type is not None:
            attrs.append(("type", self.type))
        a = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs)
        return f"<{self.kind} {a}>{escape(self.name)}</{self.kind}>"


@dataclass
class OalEntry:
    id: str
    dn: str
    name: str
    files: list[FileEntry] = field(default_factory=list)

    def file(self, kind: str) -> FileEntry | None:
        return next((f for f in self.files if f.kind == kind), None)


@dataclass
class Manifest:
    oals: list[OalEntry] = field(default_factory=list)

    def encode(self) -> bytes:
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<OAB>"]
        for o in self.oals:
            lines.append(f"  <OAL id={quoteattr(o.id)} dn={quoteattr(o.dn)} name={quoteattr(o.name)}>")
            lines += [f"    {f.xml()}" for f in o.files]
            lines.append("  </OAL>")
        lines.append("</OAB>")
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    @classmethod
    def decode(cls, b: bytes) -> "Manifest":
        try:
            root = ET.fromstring(b)
        except ET.ParseError as exc:
            raise OabError(f"oab.xml is not well-formed XML: {exc}") from None
        if root.tag != "OAB":
            raise OabError(f"oab.xml: root element is <{root.tag}>, not <OAB>")
        out = cls()
        for oal in root.findall("OAL"):
            entry = OalEntry(oal.get("id", ""), oal.get("dn", ""), oal.get("name", ""))
            for el in oal:
                if el.tag not in ("Full", "Diff", "Template"):
                    continue
                try:
                    entry.files.append(FileEntry(el.tag, (el.text or "").strip(), int(el.get("seq", "0")),
                                                 int(el.get("size", "0")), int(el.get("uncompressedsize", "0")),
                                                 el.get("SHA", ""), int(el.get("ver", "32")), el.get("langid"),
                                                 el.get("type")))
                except ValueError as exc:
                    raise OabError(f"oab.xml: <{el.tag}> has a non-numeric attribute: {exc}") from None
            out.oals.append(entry)
        return out
