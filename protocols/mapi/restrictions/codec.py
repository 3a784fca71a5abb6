"""Restriction and sort-order wire formats (MS-OXCDATA 2.12, 2.13).

Every restriction starts with a one-byte RestrictType.  Counts of child
restrictions (And/Or RestrictCount) are 2 bytes in ROP buffers (RopRestrict,
RopFindRow, RopSetSearchCriteria) and 4 bytes where MS-OXCDATA 2.11.1.1 says
COUNT is 32-bit (extended rules, MS-OXORULE 2.2.4); ``count_width`` picks one
and also switches the values' COUNT fields (binary lengths, multi-value
counts) to the same width.  TaggedValues are MS-OXCDATA 2.11.4 and go through
``protocols.mapi.values``.
"""
from __future__ import annotations

import struct

from ..props.named import NamedProp
from ..values import decode_value, encode_value
from ..reader import Reader
from .model import (
    MAX_DEPTH, MV_FLAG, MVI_FLAG, RES_AND, RES_BITMASK, RES_COMMENT, RES_COMPAREPROPS, RES_CONTENT,
    RES_COUNT, RES_EXIST, RES_NOT, RES_OR, RES_PROPERTY, RES_SIZE, RES_SUBRESTRICTION,
    AndRestriction, BitMaskRestriction, CommentRestriction, ComparePropertiesRestriction,
    ContentRestriction, CountRestriction, ExistRestriction, NotRestriction, OrRestriction,
    PropertyRestriction, RestrictionError, SizeRestriction, SortOrder, SortOrderSet,
    SubObjectRestriction,
)

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


class _Reader(Reader):
    """With the width of this buffer's counts: 2 bytes in ROP buffers, 4 in extended rules."""

    __slots__ = ("cw", "wide")
    error = RestrictionError
    what = "restriction "

    def __init__(self, buf, off: int, count_width: int):
        super().__init__(buf, off)
        self.cw = count_width
        self.wide = count_width == 4

    def count(self) -> int:
        return self.u32() if self.cw == 4 else self.u16()


def _value_type(tag: int) -> int:
    """The type a TaggedValue's bytes are encoded with.  With the multi-value instance
    bit set the value is one instance of the multi-valued property (2.12, 2.11.1)."""
    ptype = tag & 0xFFFF
    if ptype & MVI_FLAG:
        return ptype & ~(MVI_FLAG | MV_FLAG)
    return ptype


def _freeze(value):
    return tuple(value) if isinstance(value, list) else value


def _tagged_value(rd: _Reader):
    """TaggedPropertyValue, MS-OXCDATA 2.11.4: PropertyTag (4) then the value."""
    tag = rd.u32()
    try:
        value, off = decode_value(_value_type(tag), rd.buf, rd.off, wide=rd.wide)
    except (ValueError, OverflowError, struct.error, IndexError) as exc:
        raise RestrictionError(f"bad TaggedValue 0x{tag:08X} at offset {rd.off}: {exc}") from None
    rd.off = off
    return tag, _freeze(value)


def _decode(rd: _Reader, depth: int):
    if depth > MAX_DEPTH:
        raise RestrictionError(f"restriction nests deeper than {MAX_DEPTH}")
    rt = rd.u8()
    if rt in (RES_AND, RES_OR):  # 2.12.1 / 2.12.2: RestrictCount, Restricts
        n = rd.count()
        if n > len(rd.buf) - rd.off:  # every child takes at least one byte
            raise RestrictionError(f"RestrictCount {n} exceeds the buffer")
        children = tuple(_decode(rd, depth + 1) for _ in range(n))
        return AndRestriction(children) if rt == RES_AND else OrRestriction(children)
    if rt == RES_NOT:  # 2.12.3
        return NotRestriction(_decode(rd, depth + 1))
    if rt == RES_CONTENT:  # 2.12.4: FuzzyLevelLow (2), FuzzyLevelHigh (2), PropertyTag, TaggedValue
        low = rd.u16()
        high = rd.u16()
        tag = rd.u32()
        vtag, value = _tagged_value(rd)
        return ContentRestriction(low | high << 16, tag, value, None if vtag == tag else vtag)
    if rt == RES_PROPERTY:  # 2.12.5: RelOp (1), PropTag, TaggedValue
        relop = rd.u8()
        tag = rd.u32()
        vtag, value = _tagged_value(rd)
        return PropertyRestriction(relop, tag, value, None if vtag == tag else vtag)
    if rt == RES_COMPAREPROPS:  # 2.12.6: RelOp (1), PropTag1, PropTag2
        relop = rd.u8()
        return ComparePropertiesRestriction(relop, rd.u32(), rd.u32())
    if rt == RES_BITMASK:  # 2.12.7: BitmapRelOp (1), PropTag, Mask (4)
        bmr = rd.u8()
        return BitMaskRestriction(bmr, rd.u32(), rd.u32())
    if rt == RES_SIZE:  # 2.12.8: RelOp (1), PropTag, Size (4)
        relop = rd.u8()
        return SizeRestriction(relop, rd.u32(), rd.u32())
    if rt == RES_EXIST:  # 2.12.9: PropTag
        return ExistRestriction(rd.u32())
    if rt == RES_SUBRESTRICTION:  # 2.12.10: SubObject (4, a property tag), Restriction
        sub = rd.u32()
        return SubObjectRestriction(sub, _decode(rd, depth + 1))
    if rt == RES_COMMENT:  # 2.12.11: TaggedValuesCount (1), TaggedValues, RestrictionPresent (1), [Restriction]
        n = rd.u8()
        values = tuple(_tagged_value(rd) for _ in range(n))
        present = rd.u8()
        inner = _decode(rd, depth + 1) if present else None
        return CommentRestriction(values, inner)
    if rt == RES_COUNT:  # 2.12.12: Count (4), SubRestriction
        count = rd.u32()
        return CountRestriction(count, _decode(rd, depth + 1))
    raise RestrictionError(f"unknown RestrictType 0x{rt:02X} at offset {rd.off - 1}")


def _check_width(count_width: int) -> None:
    if count_width not in (2, 4):
        raise ValueError("count_width is 2 or 4")


def decode_restriction(buf, offset: int = 0, *, count_width: int = 2):
    """Decode one restriction at ``offset``; returns (restriction, offset after it)."""
    _check_width(count_width)
    if offset < 0:
        raise RestrictionError("negative offset")
    rd = _Reader(buf, offset, count_width)
    return _decode(rd, 0), rd.off


# ---- encoding ----

def _tag(key, what: str = "tag") -> int:
    if isinstance(key, bool) or not isinstance(key, int):
        if isinstance(key, NamedProp):
            raise RestrictionError(f"{what} {key!r} is a named property: map it to a mailbox tag first")
        raise RestrictionError(f"{what} {key!r} is not a property tag")
    if not 0 <= key <= 0xFFFFFFFF:
        raise RestrictionError(f"{what} 0x{key:X} does not fit 32 bits")
    return key


def _uint(value, bits: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise RestrictionError(f"{what} {value!r} is not an unsigned {bits}-bit integer")
    return value


def _enc_tagged(tag, value, wide: bool) -> bytes:
    t = _tag(tag, "value tag")
    vtype = _value_type(t)
    if vtype & MV_FLAG and isinstance(value, tuple):
        value = list(value)
    try:
        data = encode_value(vtype, value, wide=wide)
    except ValueError as exc:
        raise RestrictionError(str(exc)) from None
    return _U32.pack(t) + data


def _encode(r, out: list, cw: int, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise RestrictionError(f"restriction nests deeper than {MAX_DEPTH}")
    wide = cw == 4
    cfmt = _U32 if wide else _U16
    if isinstance(r, (AndRestriction, OrRestriction)):
        out.append(bytes([RES_AND if isinstance(r, AndRestriction) else RES_OR]))
        out.append(cfmt.pack(_uint(len(r.children), 8 * cw, "RestrictCount")))
        for child in r.children:
            _encode(child, out, cw, depth + 1)
    elif isinstance(r, NotRestriction):
        out.append(bytes([RES_NOT]))
        _encode(r.child, out, cw, depth + 1)
    elif isinstance(r, ContentRestriction):
        fuzzy = _uint(r.fuzzy, 32, "fuzzy level")
        out.append(bytes([RES_CONTENT]) + _U16.pack(fuzzy & 0xFFFF) + _U16.pack(fuzzy >> 16)
                   + _U32.pack(_tag(r.tag)))
        out.append(_enc_tagged(r.tag if r.value_tag is None else r.value_tag, r.value, wide))
    elif isinstance(r, PropertyRestriction):
        out.append(bytes([RES_PROPERTY, _uint(r.relop, 8, "RelOp")]) + _U32.pack(_tag(r.tag)))
        out.append(_enc_tagged(r.tag if r.value_tag is None else r.value_tag, r.value, wide))
    elif isinstance(r, ComparePropertiesRestriction):
        out.append(bytes([RES_COMPAREPROPS, _uint(r.relop, 8, "RelOp")])
                   + _U32.pack(_tag(r.tag1)) + _U32.pack(_tag(r.tag2)))
    elif isinstance(r, BitMaskRestriction):
        out.append(bytes([RES_BITMASK, _uint(r.bmr, 8, "BitmapRelOp")])
                   + _U32.pack(_tag(r.tag)) + _U32.pack(_uint(r.mask, 32, "mask")))
    elif isinstance(r, SizeRestriction):
        out.append(bytes([RES_SIZE, _uint(r.relop, 8, "RelOp")])
                   + _U32.pack(_tag(r.tag)) + _U32.pack(_uint(r.size, 32, "size")))
    elif isinstance(r, ExistRestriction):
        out.append(bytes([RES_EXIST]) + _U32.pack(_tag(r.tag)))
    elif isinstance(r, SubObjectRestriction):
        out.append(bytes([RES_SUBRESTRICTION]) + _U32.pack(_tag(r.subobject, "subobject")))
        _encode(r.restriction, out, cw, depth + 1)
    elif isinstance(r, CommentRestriction):
        out.append(bytes([RES_COMMENT, _uint(len(r.values), 8, "TaggedValuesCount")]))
        for tag, value in r.values:
            out.append(_enc_tagged(tag, value, wide))
        if r.restriction is None:
            out.append(b"\x00")
        else:
            out.append(b"\x01")
            _encode(r.restriction, out, cw, depth + 1)
    elif isinstance(r, CountRestriction):
        out.append(bytes([RES_COUNT]) + _U32.pack(_uint(r.count, 32, "count")))
        _encode(r.restriction, out, cw, depth + 1)
    else:
        raise RestrictionError(f"not a restriction: {r!r}")


def encode_restriction(r, *, count_width: int = 2) -> bytes:
    """Encode a restriction tree; every key must be an int tag (named keys mapped first)."""
    _check_width(count_width)
    out: list[bytes] = []
    _encode(r, out, count_width, 0)
    return b"".join(out)


# ---- sort orders, MS-OXCDATA 2.13 ----

def decode_sort_order(buf, offset: int = 0):
    """SortOrder (2.13.1): PropertyType (2), PropertyId (2), Order (1) -- the first four
    bytes are the little-endian property tag."""
    rd = _Reader(buf, offset, 2)
    tag = rd.u32()
    order = rd.u8()
    return SortOrder(tag, order), rd.off


def encode_sort_order(s: SortOrder) -> bytes:
    return _U32.pack(_tag(s.tag)) + bytes([_uint(s.order, 8, "Order")])


def decode_sort_order_set(buf, offset: int = 0):
    """SortOrderSet (2.13.2): SortOrderCount (2), CategorizedCount (2), ExpandedCount (2),
    SortOrders.  CategorizedCount <= SortOrderCount and ExpandedCount <= CategorizedCount
    (MUSTs of 2.13.2 and MS-OXCTABL 2.2.2.3.1) are checked."""
    if offset < 0:
        raise RestrictionError("negative offset")
    rd = _Reader(buf, offset, 2)
    count = rd.u16()
    categorized = rd.u16()
    expanded = rd.u16()
    if categorized > count or expanded > categorized:
        raise RestrictionError(f"bad SortOrderSet counts: {count} sorts, {categorized} categorized, "
                               f"{expanded} expanded")
    rd.need(5 * count)
    sorts = []
    for _ in range(count):
        s, rd.off = decode_sort_order(rd.buf, rd.off)
        sorts.append(s)
    return SortOrderSet(tuple(sorts), categorized, expanded), rd.off


def encode_sort_order_set(s: SortOrderSet) -> bytes:
    count = len(s.sorts)
    if not 0 <= s.categorized <= count or not 0 <= s.expanded <= s.categorized:
        raise RestrictionError(f"bad SortOrderSet counts: {count} sorts, {s.categorized} categorized, "
                               f"{s.expanded} expanded")
    head = _U16.pack(_uint(count, 16, "SortOrderCount")) + _U16.pack(s.categorized) + _U16.pack(s.expanded)
    return head + b"".join(encode_sort_order(x) for x in s.sorts)
