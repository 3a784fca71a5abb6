"""Address book templates: the dialog layout in PidTagTemplateData (MS-OXOABKT 2.2.2).

NspiGetTemplateInfo (MS-OXNSPI 3.1.4.1.18) with TI_TEMPLATE answers a PropertyRow whose PidTagTemplateData
is a TRowSet: one TRow per control of the details dialog, then the strings the controls name.

Layout (little-endian, MS-OXOABKT 2.2.2.1.1 - 2.2.2.1.3)::

    TRowSet  Type (u32, 1) | RowCount (u32) | RowCount x TRow | string area
    TRow     XPos | DeltaX | YPos | DeltaY | ControlType | ControlFlags | CNTRL      (9 x u32, 36 bytes)
    CNTRL    dwType | ulSize | ulString                                              (2.2.2.1.3)

- Positions and sizes are in dialog units. A DTCT_PAGE control starts a new tab; the controls after it
  are on that tab (2.2.2.1).
- CNTRL.dwType is the property tag the control shows (edit, list boxes, check box, button), ulSize an
  edit control's maximum length, ulString the offset from the start of the TRowSet of a null-terminated
  string in the code page of the call (not Unicode): a label's text, a page's tab name, an edit
  control's character filter ("*": anything) (2.2.2.1.3). Zero: the control names no string.

``Template.decode(b)`` keeps the string area as it came (a writer may leave a gap before the first
string, or share strings), so ``encode(decode(b)) == b``; ``Template.build`` lays out a new one from
``ControlSpec`` rows. Checked on Exchange's own English user and list templates as gromox keeps them
(grommunio/gromox data/409-0.abkt, 409-1.abkt: same layout, strings there in UTF-16).
``TemplateError`` (an ``NspiDecodeError``) is the only exception ``decode`` raises.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .codec import NspiDecodeError

# ControlType, MS-OXOABKT 2.2.2.1.2 (the DTCT_* values of the display-table controls)
DTCT_LABEL = 0x0
DTCT_EDIT = 0x1
DTCT_LBX = 0x2
DTCT_COMBOBOX = 0x3
DTCT_DDLBX = 0x4
DTCT_CHECKBOX = 0x5
DTCT_GROUPBOX = 0x6
DTCT_BUTTON = 0x7
DTCT_PAGE = 0x8
DTCT_RADIOBUTTON = 0x9
DTCT_MVLISTBOX = 0xB
DTCT_MVDDLBX = 0xC
CONTROL_TYPES = frozenset({DTCT_LABEL, DTCT_EDIT, DTCT_LBX, DTCT_COMBOBOX, DTCT_DDLBX, DTCT_CHECKBOX,
                           DTCT_GROUPBOX, DTCT_BUTTON, DTCT_PAGE, DTCT_RADIOBUTTON, DTCT_MVLISTBOX, DTCT_MVDDLBX})

# ControlFlags, MS-OXOABKT 2.2.2.1.2
DT_MULTILINE = 0x1
DT_EDITABLE = 0x2
DT_REQUIRED = 0x4
DT_SET_IMMEDIATE = 0x8
DT_PASSWORD_EDIT = 0x10
DT_ACCEPT_DBCS = 0x20
DT_SET_SELECTION = 0x40

TROWSET_TYPE = 1
_HEAD = struct.Struct("<II")
_ROW = struct.Struct("<9I")


# Windows code pages Python names otherwise than cpNNNN
_CODECS = {20127: "ascii", 65001: "utf-8", 51932: "euc_jp", 54936: "gb18030", 50220: "iso2022_jp",
           **{28590 + n: f"iso8859_{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9)}, 28603: "iso8859_13",
           28605: "iso8859_15"}


def codec_of(code_page: int) -> str | None:
    """The Python codec of a Windows code page, None for one this server does not know (or Unicode's
    1200, which a template never uses: its strings are 8-bit, 2.2.2.1.3)."""
    import codecs
    if code_page == 1200:
        return None
    name = _CODECS.get(code_page, f"cp{code_page}")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


class TemplateError(NspiDecodeError):
    """Bytes that are not a well-formed TRowSet."""


@dataclass(frozen=True, slots=True)
class Control:
    """One TRow (2.2.2.1.2) with its CNTRL (2.2.2.1.3); ``text`` is the string at ``string_offset`` as
    stored (code-page bytes, no null), None when the offset is 0."""

    x: int
    width: int
    y: int
    height: int
    control_type: int
    control_flags: int
    prop_tag: int          # CNTRL dwType
    size: int              # CNTRL ulSize
    string_offset: int     # CNTRL ulString
    text: bytes | None = None

    def label(self, code_page: int) -> str | None:
        """The control's string in the code page the template was asked for."""
        return None if self.text is None else self.text.decode(codec_of(code_page) or "cp1252", "replace")


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """A control to lay out: where, what kind, which property, which text (a str, encoded per call)."""

    x: int
    y: int
    width: int
    height: int
    control_type: int
    text: str | None = None
    prop_tag: int = 0
    flags: int = 0
    size: int = 0


@dataclass(frozen=True, slots=True)
class Template:
    """A TRowSet (2.2.2.1.1): the controls and the string area after them, kept byte for byte."""

    controls: tuple[Control, ...]
    string_area: bytes = b""
    type: int = TROWSET_TYPE

    @property
    def rows_end(self) -> int:
        return _HEAD.size + _ROW.size * len(self.controls)

    @classmethod
    def decode(cls, data) -> "Template":
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TemplateError(f"TRowSet: expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEAD.size:
            raise TemplateError(f"TRowSet: {len(data)} bytes, the header needs {_HEAD.size}")
        kind, count = _HEAD.unpack_from(data, 0)
        if kind != TROWSET_TYPE:
            raise TemplateError(f"TRowSet: Type {kind} is not {TROWSET_TYPE}")
        end = _HEAD.size + _ROW.size * count
        if end > len(data):
            raise TemplateError(f"TRowSet: RowCount {count} needs {end} bytes, have {len(data)}")
        controls = []
        for i in range(count):
            f = _ROW.unpack_from(data, _HEAD.size + _ROW.size * i)
            if f[4] not in CONTROL_TYPES:
                raise TemplateError(f"TRow {i}: ControlType 0x{f[4]:X} is not a DTCT_ value")
            offset = f[8]
            text = None
            if offset:
                if not end <= offset < len(data):
                    raise TemplateError(f"TRow {i}: ulString {offset} is outside the string area "
                                        f"({end}..{len(data)})")
                stop = data.find(b"\0", offset)
                if stop < 0:
                    raise TemplateError(f"TRow {i}: the string at {offset} has no terminating null")
                text = data[offset:stop]
            controls.append(Control(*f, text=text))
        return cls(tuple(controls), data[end:], kind)

    def encode(self) -> bytes:
        for i, c in enumerate(self.controls):
            if c.string_offset and c.text is not None:
                rel = c.string_offset - self.rows_end
                if self.string_area[rel:rel + len(c.text) + 1] != c.text + b"\0":
                    raise ValueError(f"TRow {i}: its text is not at ulString {c.string_offset}")
        rows = b"".join(_ROW.pack(c.x, c.width, c.y, c.height, c.control_type, c.control_flags, c.prop_tag,
                                  c.size, c.string_offset) for c in self.controls)
        return _HEAD.pack(self.type, len(self.controls)) + rows + self.string_area

    @classmethod
    def build(cls, specs, code_page: int, *, gap: bool = False) -> "Template":
        """Controls laid out in order, each string once after the rows (``gap``: after 4 zero bytes, the
        "Exchange string table gap" gromox's abktconv can write). Text the code page cannot hold is "?"."""
        codec = codec_of(code_page)
        if codec is None:
            raise ValueError(f"code page {code_page} is not one a template can be written in")
        specs = list(specs)
        rows_end = _HEAD.size + _ROW.size * len(specs)
        area = bytearray(b"\0\0\0\0" if gap else b"")
        controls = []
        for s in specs:
            offset, text = 0, None
            if s.text is not None:
                text = s.text.encode(codec, "replace")
                if b"\0" in text:
                    raise ValueError("a template string cannot hold a null")
                offset = rows_end + len(area)
                area += text + b"\0"
            controls.append(Control(s.x, s.width, s.y, s.height, s.control_type, s.flags, s.prop_tag, s.size,
                                    offset, text))
        return cls(tuple(controls), bytes(area))

    def pages(self) -> list[tuple[Control, list[Control]]]:
        """Each DTCT_PAGE control with the controls on its tab (2.2.2.1)."""
        out: list[tuple[Control, list[Control]]] = []
        for c in self.controls:
            if c.control_type == DTCT_PAGE:
                out.append((c, []))
            elif out:
                out[-1][1].append(c)
        return out
