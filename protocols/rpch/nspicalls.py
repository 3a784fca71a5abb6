"""NSPI calls over DCE/RPC (MS-OXNSPI 3.1.4.1, the IDL of its section 6): the NDR stubs of each call, both ways.

NspiBind is protocols/rpch/nspi.py; this module reads and writes the others exgate has seen: Unbind,
UpdateStat, QueryRows, SeekEntries, DNToMId, GetPropList, GetProps, CompareMIds, GetSpecialTable,
GetTemplateInfo, ModLinkAtt, ModProps, QueryColumns, GetNamesFromIDs, GetIDsFromNames, ResolveNames,
ResolveNamesW, GetMatches (with its Restriction_r tree and PropertyName_r) and ResortRestriction: every
call of MS-OXNSPI 3.1.4.1. Each request and answer is a dataclass whose fields are the IDL's parameters in order
(``LAYOUT`` says each one's NDR form); ``wire`` keeps the referent ids and alignment bytes so
encode(decode(b)) == b.

The structures (MS-OXNSPI 2.2.2): STAT (nine u32), PropertyTagArray_r (a conformant varying array
of u32: max count, cValues, offset, actual count, tags), PropertyValue_r (ulPropTag, ulReserved and
the PROP_VAL_UNION arm chosen by the property type: the discriminant u32, then a short, a long, a
FILETIME or a pointer whose string, binary or array comes after the row, 14.3.12.3),
PropertyRow_r (ulAdrEntryPad, cValues, a pointer to the values) and PropertyRowSet_r (cRows, the
rows, then each row's values). impacket's NSPI client marshals three requests otherwise than the IDL
(ALT_REQUESTS): those are read in its form when the IDL's does not fit, and said so (``layout``).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from typing import ClassVar

from protocols.nspi.codec import Stat

from .ndr import NdrError, Reader, Wire, Writer



class NspiCallError(NdrError):
    """An NSPI stub that does not read as its call's parameters."""


def _read_stat(r: Reader) -> Stat:
    # the same nine 32-bit fields as in a MAPI/HTTP body: NDR adds nothing to a STAT
    r.align(4)
    return Stat.decode(r.raw(Stat.SIZE))


def _write_stat(w: Writer, s: Stat) -> None:
    w.align(4)
    w.raw(s.encode())


@dataclass
class PropTagArray:
    """PropertyTagArray_r: the tags (or MIds) and the counts as sent (max count is cValues+1 in the IDL)."""

    tags: list[int]
    c_values: int | None = None          # None: len(tags)
    max_count: int | None = None         # None: c_values + 1


def _read_tags(r: Reader) -> PropTagArray:
    max_count, c_values, offset, actual = r.count(), r.u32(), r.u32(), r.count()
    if offset or actual > max_count:
        raise NspiCallError(f"PropertyTagArray_r with offset {offset}, {actual} of at most {max_count} values")
    tags = [r.u32() for _ in range(actual)]
    return PropTagArray(tags, None if c_values == actual else c_values,
                        None if max_count == actual + 1 else max_count)


def _write_tags(w: Writer, a: PropTagArray) -> None:
    c = len(a.tags) if a.c_values is None else a.c_values
    w.u32(len(a.tags) + 1 if a.max_count is None else a.max_count)
    w.u32(c)
    w.u32(0)
    w.u32(len(a.tags))
    for t in a.tags:
        w.u32(t)


# -- property values (PROP_VAL_UNION, MS-OXNSPI 2.2.2.1) ------------------------------------------------

@dataclass
class PropValue:
    """PropertyValue_r: the tag and its value (str, int, bytes, a GUID string, a FILETIME int, or a list)."""

    tag: int
    value: object
    reserved: int = 0                    # ulReserved (dwAlignPad)
    discriminant: int | None = None      # the union's switch when it is not the tag's type


_DEFERRED = {0x001E, 0x001F, 0x0102, 0x0048, 0x1002, 0x1003, 0x101E, 0x101F, 0x1102, 0x1048, 0x1040}


def _read_value_head(r: Reader) -> tuple[PropValue, int | None]:
    """The fixed part; for a pointer arm the count read with it (Binary_r.cb, an array's cValues)."""
    tag, reserved, disc = r.u32(), r.u32(), r.u32()
    v = PropValue(tag, None, reserved, None if disc == tag & 0xFFFF else disc)
    if disc == 0x0002:
        v.value = r.i16()
    elif disc == 0x000B:
        v.value = r.u16()
    elif disc == 0x0003:
        v.value = r.i32()
    elif disc == 0x0040:
        low, high = r.u32(), r.u32()
        v.value = high << 32 | low
    elif disc in (0x0102, 0x1002, 0x1003, 0x101E, 0x101F, 0x1102, 0x1048, 0x1040):
        n = r.u32()
        v.value = r.pointer()            # True while its pointee is still to read
        return v, n
    elif disc in (0x001E, 0x001F, 0x0048):
        v.value = r.pointer()
    else:                                # PtypErrorCode, PtypNull, PtypEmbeddedTable, the default arm: a long
        v.value = r.u32()
    return v, None


def _read_value_body(r: Reader, v: PropValue, n: int | None) -> None:
    disc = v.tag & 0xFFFF if v.discriminant is None else v.discriminant
    if disc not in _DEFERRED:
        return
    if v.value is False:                 # a NULL pointer
        v.value = None
        return
    if disc == 0x001E:
        v.value = r.string(1)
    elif disc == 0x001F:
        v.value = r.string(2)
    elif disc == 0x0048:
        v.value = str(uuid.UUID(bytes_le=r.raw(16)))
    elif disc == 0x0102:
        v.value = _read_bytes(r, n)
    elif disc in (0x1002, 0x1003, 0x1040):
        if r.count() != n:
            raise NspiCallError(f"multi-valued 0x{v.tag:08X}: array size differs from cValues {n}")
        if disc == 0x1002:
            v.value = [r.i16() for _ in range(n)]
        elif disc == 0x1003:
            v.value = [r.i32() for _ in range(n)]
        else:
            v.value = [(lambda lo, hi: hi << 32 | lo)(r.u32(), r.u32()) for _ in range(n)]
    elif disc == 0x1102:
        if r.count() != n:
            raise NspiCallError(f"multi-valued 0x{v.tag:08X}: array size differs from cValues {n}")
        heads = [(r.u32(), r.pointer()) for _ in range(n)]
        v.value = [_read_bytes(r, cb) if present else None for cb, present in heads]
    else:                                # 0x101E, 0x101F: arrays of string pointers; 0x1048 of GUID pointers
        if r.count() != n:
            raise NspiCallError(f"multi-valued 0x{v.tag:08X}: array size differs from cValues {n}")
        present = [r.pointer() for _ in range(n)]
        if disc == 0x1048:
            v.value = [str(uuid.UUID(bytes_le=r.raw(16))) if p else None for p in present]
        else:
            v.value = [r.string(2 if disc == 0x101F else 1) if p else None for p in present]


def _read_bytes(r: Reader, cb: int | None) -> bytes:
    n = r.count()
    if n != cb:
        raise NspiCallError(f"Binary_r: cb {cb} but {n} bytes follow")
    return r.raw(n)


def _write_value_head(w: Writer, v: PropValue) -> None:
    disc = v.tag & 0xFFFF if v.discriminant is None else v.discriminant
    w.u32(v.tag)
    w.u32(v.reserved)
    w.u32(disc)
    if disc == 0x0002:
        w.i16(v.value)
    elif disc == 0x000B:
        w.u16(v.value)
    elif disc == 0x0003:
        w.i32(v.value)
    elif disc == 0x0040:
        w.u32(v.value & 0xFFFFFFFF)
        w.u32(v.value >> 32)
    elif disc in (0x0102, 0x1002, 0x1003, 0x101E, 0x101F, 0x1102, 0x1048, 0x1040):
        w.u32(len(v.value) if v.value is not None else 0)
        w.pointer(v.value is not None)
    elif disc in (0x001E, 0x001F, 0x0048):
        w.pointer(v.value is not None)
    else:
        w.u32(v.value)


def _write_value_body(w: Writer, v: PropValue) -> None:
    disc = v.tag & 0xFFFF if v.discriminant is None else v.discriminant
    if disc not in _DEFERRED or v.value is None:
        return
    if disc in (0x001E, 0x001F):
        w.string(v.value, 2 if disc == 0x001F else 1)
    elif disc == 0x0048:
        w.raw(uuid.UUID(v.value).bytes_le)
    elif disc == 0x0102:
        w.u32(len(v.value))
        w.raw(v.value)
    else:
        w.u32(len(v.value))
        if disc == 0x1002:
            for x in v.value:
                w.i16(x)
        elif disc == 0x1003:
            for x in v.value:
                w.i32(x)
        elif disc == 0x1040:
            for x in v.value:
                w.u32(x & 0xFFFFFFFF)
                w.u32(x >> 32)
        elif disc == 0x1102:
            for x in v.value:
                w.u32(len(x) if x is not None else 0)
                w.pointer(x is not None)
            for x in v.value:
                if x is not None:
                    w.u32(len(x))
                    w.raw(x)
        else:
            for x in v.value:
                w.pointer(x is not None)
            for x in v.value:
                if x is None:
                    continue
                if disc == 0x1048:
                    w.raw(uuid.UUID(x).bytes_le)
                else:
                    w.string(x, 2 if disc == 0x101F else 1)


def _read_values(r: Reader, n: int) -> list[PropValue]:
    """A conformant array of PropertyValue_r, then the pointees of its values in order."""
    if r.count() != n:
        raise NspiCallError(f"PropertyRow_r: array size differs from cValues {n}")
    heads = [_read_value_head(r) for _ in range(n)]
    for v, cnt in heads:
        _read_value_body(r, v, cnt)
    return [v for v, _ in heads]


def _write_values(w: Writer, values: list[PropValue]) -> None:
    w.u32(len(values))
    for v in values:
        _write_value_head(w, v)
    for v in values:
        _write_value_body(w, v)


@dataclass
class PropRow:
    """PropertyRow_r (ulAdrEntryPad, cValues, lpProps); values None when lpProps is NULL."""

    values: list[PropValue] | None
    reserved: int = 0


@dataclass
class RowSet:
    """PropertyRowSet_r."""

    rows: list[PropRow]


def _read_row_head(r: Reader) -> tuple[PropRow, int, bool]:
    reserved, n, present = r.u32(), r.count(), None
    present = r.pointer()
    return PropRow(None, reserved), n, present


def _read_row(r: Reader) -> PropRow:
    row, n, present = _read_row_head(r)
    if present:
        row.values = _read_values(r, n)
    return row


def _write_row_head(w: Writer, row: PropRow) -> None:
    w.u32(row.reserved)
    w.u32(len(row.values) if row.values is not None else 0)
    w.pointer(row.values is not None)


def _write_row(w: Writer, row: PropRow) -> None:
    _write_row_head(w, row)
    if row.values is not None:
        _write_values(w, row.values)


def _read_rowset(r: Reader) -> RowSet:
    max_count, c_rows = r.count(), r.count()
    if max_count != c_rows:
        raise NspiCallError(f"PropertyRowSet_r: array size {max_count} differs from cRows {c_rows}")
    heads = [_read_row_head(r) for _ in range(c_rows)]
    for row, n, present in heads:
        if present:
            row.values = _read_values(r, n)
    return RowSet([row for row, _n, _p in heads])


def _write_rowset(w: Writer, rs: RowSet) -> None:
    w.u32(len(rs.rows))
    w.u32(len(rs.rows))
    for row in rs.rows:
        _write_row_head(w, row)
    for row in rs.rows:
        if row.values is not None:
            _write_values(w, row.values)


def _read_strings(r: Reader, width: int) -> list[str | None]:
    """StringsArray_r / WStringsArray_r: Count, the pointers, then the strings."""
    max_count, count = r.count(), r.count()
    if max_count != count:
        raise NspiCallError(f"StringsArray_r: array size {max_count} differs from Count {count}")
    present = [r.pointer() for _ in range(count)]
    return [r.string(width) if p else None for p in present]


def _write_strings(w: Writer, strings: list[str | None], width: int) -> None:
    w.u32(len(strings))
    w.u32(len(strings))
    for s in strings:
        w.pointer(s is not None)
    for s in strings:
        if s is not None:
            w.string(s, width)


# -- the parameters ------------------------------------------------------------------------------------

def _unique(read):
    def reader(r: Reader):
        return read(r) if r.pointer() else None
    return reader


def _unique_w(write):
    def writer(w: Writer, v):
        w.pointer(v is not None)
        if v is not None:
            write(w, v)
    return writer


def _dwords(r: Reader) -> list[int]:
    return [r.u32() for _ in range(r.count())]


def _write_dwords(w: Writer, v: list[int]) -> None:
    w.u32(len(v))
    for x in v:
        w.u32(x)


def _read_str8(r: Reader) -> str:
    return r.string(1)


def _write_str8(w: Writer, v: str) -> None:
    w.string(v, 1)


@dataclass
class PropName:
    """PropertyName_r (MS-OXNSPI 2.2.2.7): a named property's GUID (None when NULL), ulReserved and lID."""

    guid: str | None
    lid: int
    reserved: int = 0


def _read_names(r: Reader) -> list[PropName]:
    """PropertyNameSet_r: cNames, each PropertyName_r (a GUID pointer, ulReserved, lID), then the GUIDs."""
    max_count, n = r.count(), r.count()
    if max_count != n:
        raise NspiCallError(f"PropertyNameSet_r: array size {max_count} differs from cNames {n}")
    heads = [(r.pointer(), r.u32(), r.i32()) for _ in range(n)]
    return [PropName(str(uuid.UUID(bytes_le=r.raw(16))) if present else None, lid, reserved)
            for present, reserved, lid in heads]


def _write_names(w: Writer, names: list[PropName]) -> None:
    w.u32(len(names))
    w.u32(len(names))
    for nm in names:
        w.pointer(nm.guid is not None)
        w.u32(nm.reserved)
        w.i32(nm.lid)
    for nm in names:
        if nm.guid is not None:
            w.raw(uuid.UUID(nm.guid).bytes_le)


def _read_bins(r: Reader) -> list[bytes | None] | None:
    """BinaryArray_r: cValues and a pointer to the Binary_r array (cb and a pointer each), then the bytes."""
    n, present = r.count(), r.pointer()
    if not present:
        return None
    if r.count() != n:
        raise NspiCallError(f"BinaryArray_r: array size differs from cValues {n}")
    heads = [(r.u32(), r.pointer()) for _ in range(n)]
    return [_read_bytes(r, cb) if p else None for cb, p in heads]


def _write_bins(w: Writer, v: list[bytes | None] | None) -> None:
    w.u32(len(v) if v is not None else 0)
    w.pointer(v is not None)
    if v is None:
        return
    w.u32(len(v))
    for x in v:
        w.u32(len(x) if x is not None else 0)
        w.pointer(x is not None)
    for x in v:
        if x is not None:
            w.u32(len(x))
            w.raw(x)


def _read_target(r: Reader) -> PropValue:
    """A PropertyValue_r passed by reference: its fixed part, then what its pointer points at."""
    v, n = _read_value_head(r)
    _read_value_body(r, v, n)
    return v


def _write_target(w: Writer, v: PropValue) -> None:
    _write_value_head(w, v)
    _write_value_body(w, v)


def _read_guid(r: Reader) -> str:
    return str(uuid.UUID(bytes_le=r.raw(16)))


def _write_guid(w: Writer, v: str) -> None:
    w.raw(uuid.UUID(v).bytes_le)


# -- restrictions (Restriction_r, MS-OXNSPI 2.2.2.4: rt, then the union's own copy of rt and its arm) -------

RESTRICTION_TYPES = {0: "And", 1: "Or", 2: "Not", 3: "Content", 4: "Property", 5: "CompareProps", 6: "BitMask",
                     7: "Size", 8: "Exist", 9: "Sub"}


@dataclass
class Restriction:
    """A Restriction_r: ``rt`` names the kind (RESTRICTION_TYPES); the fields used are the kind's:
    And/Or ``children``; Not ``child``; Sub ``sub_object`` and ``child``; Content ``fuzzy_level``,
    ``prop_tag``, ``prop``; Property ``relop``, ``prop_tag``, ``prop``; CompareProps ``relop``,
    ``prop_tag``, ``prop_tag2``; BitMask ``relop`` (relBMR), ``prop_tag``, ``mask``; Size ``relop``,
    ``prop_tag``, ``size``; Exist ``reserved1``, ``prop_tag``, ``reserved2``."""

    rt: int
    children: list["Restriction"] | None = None
    child: "Restriction | None" = None
    sub_object: int = 0
    fuzzy_level: int = 0
    relop: int = 0
    prop_tag: int = 0
    prop_tag2: int = 0
    prop: PropValue | None = None
    mask: int = 0
    size: int = 0
    reserved1: int = 0
    reserved2: int = 0
    count: int | None = None     # And/Or cRes when the array pointer is NULL

    @property
    def kind(self) -> str:
        return RESTRICTION_TYPES.get(self.rt, f"rt {self.rt}")


def _read_restriction_head(r: Reader, depth: int) -> tuple[Restriction, object]:
    if depth > 64:
        raise NspiCallError("restriction nested more than 64 deep")
    rt, disc = r.u32(), r.u32()
    if disc != rt:
        raise NspiCallError(f"Restriction_r: rt {rt} but the union is switched on {disc}")
    res = Restriction(rt)
    if rt in (0, 1):
        n, present = r.count(), r.pointer()
        res.count = None if present else n
        return res, ("array", n) if present else None
    if rt in (2, 9):
        if rt == 9:
            res.sub_object = r.u32()
        return res, "one" if r.pointer() else None
    if rt in (3, 4):
        first, res.prop_tag = r.u32(), r.u32()
        if rt == 3:
            res.fuzzy_level = first
        else:
            res.relop = first
        return res, "value" if r.pointer() else None
    if rt in (5, 6, 7, 8):
        a, b, c = r.u32(), r.u32(), r.u32()
        if rt == 5:
            res.relop, res.prop_tag, res.prop_tag2 = a, b, c
        elif rt == 6:
            res.relop, res.prop_tag, res.mask = a, b, c
        elif rt == 7:
            res.relop, res.prop_tag, res.size = a, b, c
        else:
            res.reserved1, res.prop_tag, res.reserved2 = a, b, c
        return res, None
    raise NspiCallError(f"Restriction_r of unknown type {rt}")


def _read_restriction_body(r: Reader, res: Restriction, pending, depth: int) -> None:
    if pending is None:
        return
    if pending == "value":
        res.prop = _read_target(r)
    elif pending == "one":
        res.child = _read_restriction(r, depth + 1)
    else:
        n = pending[1]
        if r.count() != n:
            raise NspiCallError(f"{res.kind} restriction: array size differs from cRes {n}")
        heads = [_read_restriction_head(r, depth + 1) for _ in range(n)]
        for child, p in heads:
            _read_restriction_body(r, child, p, depth + 1)
        res.children = [child for child, _p in heads]


def _read_restriction(r: Reader, depth: int = 0) -> Restriction:
    res, pending = _read_restriction_head(r, depth)
    _read_restriction_body(r, res, pending, depth)
    return res


def _write_restriction_head(w: Writer, res: Restriction) -> None:
    w.u32(res.rt)
    w.u32(res.rt)
    if res.rt in (0, 1):
        w.u32(len(res.children) if res.children is not None else (res.count or 0))
        w.pointer(res.children is not None)
    elif res.rt in (2, 9):
        if res.rt == 9:
            w.u32(res.sub_object)
        w.pointer(res.child is not None)
    elif res.rt in (3, 4):
        w.u32(res.fuzzy_level if res.rt == 3 else res.relop)
        w.u32(res.prop_tag)
        w.pointer(res.prop is not None)
    elif res.rt == 5:
        for v in (res.relop, res.prop_tag, res.prop_tag2):
            w.u32(v)
    elif res.rt == 6:
        for v in (res.relop, res.prop_tag, res.mask):
            w.u32(v)
    elif res.rt == 7:
        for v in (res.relop, res.prop_tag, res.size):
            w.u32(v)
    else:
        for v in (res.reserved1, res.prop_tag, res.reserved2):
            w.u32(v)


def _write_restriction_body(w: Writer, res: Restriction) -> None:
    if res.rt in (0, 1) and res.children is not None:
        w.u32(len(res.children))
        for c in res.children:
            _write_restriction_head(w, c)
        for c in res.children:
            _write_restriction_body(w, c)
    elif res.rt in (2, 9) and res.child is not None:
        _write_restriction(w, res.child)
    elif res.rt in (3, 4) and res.prop is not None:
        _write_target(w, res.prop)


def _write_restriction(w: Writer, res: Restriction) -> None:
    _write_restriction_head(w, res)
    _write_restriction_body(w, res)


def _read_propname_ptrs(r: Reader) -> list[PropName | None]:
    """[size_is(cPropNames)] PropertyName_r** by reference: the array of pointers, then each name (and its GUID)."""
    present = [r.pointer() for _ in range(r.count())]
    return [_read_propname(r) if p else None for p in present]


def _write_propname_ptrs(w: Writer, names: list[PropName | None]) -> None:
    w.u32(len(names))
    for nm in names:
        w.pointer(nm is not None)
    for nm in names:
        if nm is not None:
            _write_propname(w, nm)


def _read_propname(r: Reader) -> PropName:
    present, reserved, lid = r.pointer(), r.u32(), r.i32()
    return PropName(str(uuid.UUID(bytes_le=r.raw(16))) if present else None, lid, reserved)


def _write_propname(w: Writer, nm: PropName) -> None:
    w.pointer(nm.guid is not None)
    w.u32(nm.reserved)
    w.i32(nm.lid)
    if nm.guid is not None:
        w.raw(uuid.UUID(nm.guid).bytes_le)


KINDS = {   # NDR form -> (reader, writer)
    "handle": (lambda r: r.raw(20), lambda w, v: w.raw(v)),      # NSPI_HANDLE: a 20-byte context handle
    "u32": (Reader.u32, Writer.u32),
    "i32": (Reader.i32, Writer.i32),
    "stat": (_read_stat, _write_stat),
    "stat*": (_unique(_read_stat), _unique_w(_write_stat)),
    "u32*": (_unique(Reader.u32), _unique_w(Writer.u32)),
    "i32*": (_unique(Reader.i32), _unique_w(Writer.i32)),
    "dwords*": (_unique(_dwords), _unique_w(_write_dwords)),
    "tags*": (_unique(_read_tags), _unique_w(_write_tags)),
    "rows*": (_unique(_read_rowset), _unique_w(_write_rowset)),
    "row*": (_unique(_read_row), _unique_w(_write_row)),
    "tags": (_read_tags, _write_tags),
    "str8*": (_unique(_read_str8), _unique_w(_write_str8)),
    "guid*": (_unique(_read_guid), _unique_w(_write_guid)),
    "names*": (_unique(_read_names), _unique_w(_write_names)),
    "bins": (_read_bins, _write_bins),
    "value": (_read_target, _write_target),
    "restriction*": (_unique(_read_restriction), _unique_w(_write_restriction)),
    "propname*": (_unique(_read_propname), _unique_w(_write_propname)),
    "propnames": (_read_propname_ptrs, _write_propname_ptrs),
    "row": (_read_row, _write_row),
    "strings": (lambda r: _read_strings(r, 1), lambda w, v: _write_strings(w, v, 1)),
    "wstrings": (lambda r: _read_strings(r, 2), lambda w, v: _write_strings(w, v, 2)),
}


@dataclass
class NspiStub:
    """A call's parameters; subclasses list them (field, NDR form) in LAYOUT."""

    LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = ()
    # impacket's form of a request whose bytes differ from the IDL's (see CALLS), tried when the IDL's fails
    ALT_LAYOUT: ClassVar[tuple[tuple[str, str], ...] | None] = None
    wire: Wire = field(default_factory=Wire, repr=False, compare=False)
    layout: str = field(default="IDL", repr=False, compare=False)

    @classmethod
    def decode(cls, stub: bytes):
        try:
            return cls._decode(stub, cls.LAYOUT, "IDL")
        except NdrError:
            if cls.ALT_LAYOUT is None:
                raise
            try:
                return cls._decode(stub, cls.ALT_LAYOUT, "impacket")
            except NdrError:
                pass
            raise

    @classmethod
    def _decode(cls, stub: bytes, layout, name: str):
        r = Reader(stub, cls.__name__)
        values = {field_name: KINDS[kind][0](r) for field_name, kind in layout}
        r.done()
        return cls(wire=r.wire, layout=name, **values)

    def encode(self) -> bytes:
        w = Writer(self.wire)
        for name, kind in (self.ALT_LAYOUT if self.layout == "impacket" else self.LAYOUT):
            KINDS[kind][1](w, getattr(self, name))
        return bytes(w.out)

    def params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("wire", "layout")}


def _call(name: str, layout: tuple[tuple[str, str], ...], doc: str, alt=None):
    types = {"handle": bytes, "u32": int, "i32": int, "stat": "Stat | None", "stat*": "Stat | None",
             "u32*": "int | None", "i32*": "int | None", "dwords*": "list[int] | None", "tags*": "PropTagArray | None",
             "tags": "PropTagArray | None", "rows*": "RowSet | None", "row*": "PropRow | None", "strings": list,
             "wstrings": list, "str8*": "str | None", "guid*": "str | None", "names*": "list[PropName] | None",
             "bins": "list[bytes | None] | None", "value": PropValue, "restriction*": "Restriction | None",
             "propname*": "PropName | None", "propnames": "list[PropName | None]", "row": PropRow}
    ns = {"__annotations__": {n: types[k] for n, k in layout}, "LAYOUT": layout, "ALT_LAYOUT": alt, "__doc__": doc}
    for n, _k in layout:
        ns[n] = None
    cls = type(name, (NspiStub,), ns)
    return dataclass(cls)


# opnum -> (operation, request layout, response layout); the response ends with the return value. The
# layouts are the IDL's; ALT_REQUESTS are impacket's requests where its bytes differ: a unique pointer to the
# STAT where the IDL passes it by reference (GetSpecialTable, GetProps, with lpVersion a unique pointer too),
# SeekEntries' lpETable and pPropTags inline instead of unique pointers.
CALLS = {
    1: ("NspiUnbind", (("context_handle", "handle"), ("reserved", "u32")),
        (("context_handle", "handle"), ("return_value", "u32"))),
    2: ("NspiUpdateStat", (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("delta", "i32*")),
        (("stat", "stat"), ("delta", "i32*"), ("return_value", "u32"))),
    3: ("NspiQueryRows", (("hrpc", "handle"), ("flags", "u32"), ("stat", "stat"), ("etable_count", "u32"),
                          ("etable", "dwords*"), ("count", "u32"), ("prop_tags", "tags*")),
        (("stat", "stat"), ("rows", "rows*"), ("return_value", "u32"))),
    5: ("NspiGetMatches", (("hrpc", "handle"), ("reserved1", "u32"), ("stat", "stat"), ("reserved", "tags*"),
                           ("reserved2", "u32"), ("filter", "restriction*"), ("prop_name", "propname*"),
                           ("requested", "u32"), ("prop_tags", "tags*")),
        (("stat", "stat"), ("out_mids", "tags*"), ("rows", "rows*"), ("return_value", "u32"))),
    6: ("NspiResortRestriction", (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("in_mids", "tags"),
                                  ("out_mids", "tags*")),
        (("stat", "stat"), ("out_mids", "tags*"), ("return_value", "u32"))),
    7: ("NspiDNToMId", (("hrpc", "handle"), ("reserved", "u32"), ("names", "strings")),
        (("out_mids", "tags*"), ("return_value", "u32"))),
    8: ("NspiGetPropList", (("hrpc", "handle"), ("flags", "u32"), ("mid", "u32"), ("code_page", "u32")),
        (("prop_tags", "tags*"), ("return_value", "u32"))),
    4: ("NspiSeekEntries", (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("target", "value"),
                            ("etable", "tags*"), ("prop_tags", "tags*")),
        (("stat", "stat"), ("rows", "rows*"), ("return_value", "u32"))),
    9: ("NspiGetProps", (("hrpc", "handle"), ("flags", "u32"), ("stat", "stat"), ("prop_tags", "tags*")),
        (("row", "row*"), ("return_value", "u32"))),
    10: ("NspiCompareMIds", (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("mid1", "u32"),
                             ("mid2", "u32")),
         (("result", "i32"), ("return_value", "u32"))),
    11: ("NspiModProps", (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("prop_tags", "tags*"),
                          ("row", "row")),
         (("return_value", "u32"),)),
    12: ("NspiGetSpecialTable", (("hrpc", "handle"), ("flags", "u32"), ("stat", "stat"), ("version", "u32")),
         (("version", "u32"), ("rows", "rows*"), ("return_value", "u32"))),
    13: ("NspiGetTemplateInfo", (("hrpc", "handle"), ("flags", "u32"), ("type", "u32"), ("dn", "str8*"),
                                 ("code_page", "u32"), ("locale_id", "u32")),
         (("data", "row*"), ("return_value", "u32"))),
    14: ("NspiModLinkAtt", (("hrpc", "handle"), ("flags", "u32"), ("prop_tag", "u32"), ("mid", "u32"),
                            ("entry_ids", "bins")),
         (("return_value", "u32"),)),
    16: ("NspiQueryColumns", (("hrpc", "handle"), ("reserved", "u32"), ("flags", "u32")),
         (("columns", "tags*"), ("return_value", "u32"))),
    17: ("NspiGetNamesFromIDs", (("hrpc", "handle"), ("reserved", "u32"), ("guid", "guid*"), ("prop_tags", "tags*")),
         (("returned_prop_tags", "tags*"), ("names", "names*"), ("return_value", "u32"))),
    18: ("NspiGetIDsFromNames", (("hrpc", "handle"), ("reserved", "u32"), ("flags", "u32"), ("count", "u32"),
                                 ("names", "propnames")),
         (("prop_tags", "tags*"), ("return_value", "u32"))),
    19: ("NspiResolveNames", (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("prop_tags", "tags*"),
                              ("names", "strings")),
         (("mids", "tags*"), ("rows", "rows*"), ("return_value", "u32"))),
    20: ("NspiResolveNamesW", (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("prop_tags", "tags*"),
                               ("names", "wstrings")),
         (("mids", "tags*"), ("rows", "rows*"), ("return_value", "u32"))),
}

ALT_REQUESTS = {
    4: (("hrpc", "handle"), ("reserved", "u32"), ("stat", "stat"), ("target", "value"), ("etable", "tags"),
        ("prop_tags", "tags")),
    9: (("hrpc", "handle"), ("flags", "u32"), ("stat", "stat*"), ("prop_tags", "tags*")),
    12: (("hrpc", "handle"), ("flags", "u32"), ("stat", "stat*"), ("version", "u32*")),
}

REQUESTS: dict[int, type[NspiStub]] = {}
RESPONSES: dict[int, type[NspiStub]] = {}
for _op, (_name, _req, _resp) in CALLS.items():
    REQUESTS[_op] = _call(_name + "Request", _req, f"{_name} request parameters (MS-OXNSPI, opnum {_op}).",
                          ALT_REQUESTS.get(_op))
    RESPONSES[_op] = _call(_name + "Response", _resp, f"{_name} answer parameters (MS-OXNSPI, opnum {_op}).")


def decode_request(opnum: int, stub: bytes) -> NspiStub:
    if opnum not in REQUESTS:
        raise NspiCallError(f"no codec for NSPI opnum {opnum}")
    return REQUESTS[opnum].decode(stub)


def decode_response(opnum: int, stub: bytes) -> NspiStub:
    if opnum not in RESPONSES:
        raise NspiCallError(f"no codec for NSPI opnum {opnum}")
    return RESPONSES[opnum].decode(stub)
