"""Evaluating a restriction against one row (MS-OXCDATA 2.12).

``get(key)`` returns a property's value or None when the row does not have it.
It is called with the restriction's key, an int tag with the MultivalueInstance
bit (0x2000) cleared so it names the multi-valued property, or a NamedProp as
given.  For a SubObjectRestriction ``get(subobject)`` returns the sub-object
rows (recipients, attachments): each a mapping keyed like the row, or a
callable of its own.

Choices where the spec leaves room (each is marked CHOICE below):
- A missing property makes Content, Property, CompareProperties, BitMask and
  Size restrictions FALSE (so Not(...) of them is TRUE), as Exchange does.
- Multi-valued property against a single comparand (MVI bit or not): TRUE when
  any value matches.  A multi-valued comparand against a multi-valued property
  compares the whole sequences.
- Strings compare case-insensitively in Property/CompareProperties restrictions
  and in ``compare_values`` (Exchange's default collation ignores case);
  Content restrictions honour FL_IGNORECASE as given.
- Values of unlike kinds never match (any relop, NE included); bools compare as
  integers, naive datetimes are taken as UTC.
- RELOP_RE (not in MS-OXCDATA) and RELOP_MEMBER_OF_DL (needs the directory) are
  FALSE here; ``unsupported()`` lists them so a ROP handler can refuse the
  restriction with ecTooComplex instead.
- CountRestriction limits how many rows a restriction lets through (2.12.12);
  one row cannot know that, so ``evaluate`` only treats Count 0 as FALSE.
  ``RowFilter`` keeps the counts across the rows of one pass.
"""
from __future__ import annotations

import math
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Callable

from ..props.named import NamedProp
from ..types import PropType as T
from .model import (
    BMR_EQZ, BMR_NEZ, FL_FULLSTRING, FL_IGNORECASE, FL_IGNORENONSPACE, FL_LOOSE, FL_PREFIX,
    FL_SUBSTRING, MAX_DEPTH, MV_FLAG, MVI_FLAG, RELOP_EQ, RELOP_GE, RELOP_GT, RELOP_LE, RELOP_LT,
    RELOP_NE,
    AndRestriction, BitMaskRestriction, CommentRestriction, ComparePropertiesRestriction,
    ContentRestriction, CountRestriction, ExistRestriction, NotRestriction, OrRestriction,
    PropertyRestriction, RestrictionError, SizeRestriction, SubObjectRestriction,
)

_SEQ = (list, tuple)


def lookup_key(key):
    """The key ``get`` is called with: an MVI tag names its multi-valued property."""
    if isinstance(key, int) and not isinstance(key, bool) and key & MVI_FLAG:
        return key & ~MVI_FLAG | MV_FLAG
    return key


# ---- comparing two values ----

def _kind(v):
    if isinstance(v, (bool, int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "bin"
    if isinstance(v, datetime):
        return "time"
    if isinstance(v, uuid.UUID):
        return "guid"
    if isinstance(v, _SEQ):
        return "seq"
    return None


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def _cmp(a, b) -> int:
    return (a > b) - (a < b)


def compare_values(a, b, *, ignore_case: bool = True) -> int | None:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b``; None when they are not
    comparable (a missing value, unlike kinds, NaN).  The table engine can sort with
    the same rules the restrictions use."""
    ka, kb = _kind(a), _kind(b)
    if ka is None or ka != kb:
        return None
    if ka == "num":
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return None
        return _cmp(a, b)
    if ka == "str":
        return _cmp(a.casefold(), b.casefold()) if ignore_case else _cmp(a, b)
    if ka == "bin":
        return _cmp(bytes(a), bytes(b))
    if ka == "time":
        return _cmp(_utc(a), _utc(b))
    if ka == "guid":
        return _cmp(a.bytes_le, b.bytes_le)
    # sequences: element by element, then by length
    for x, y in zip(a, b):
        c = compare_values(x, y, ignore_case=ignore_case)
        if c is None:
            return None
        if c:
            return c
    return _cmp(len(a), len(b))


def _relop(relop: int, c: int | None) -> bool:
    if c is None:
        return False  # CHOICE: unlike kinds never match
    if relop == RELOP_LT:
        return c < 0
    if relop == RELOP_LE:
        return c <= 0
    if relop == RELOP_GT:
        return c > 0
    if relop == RELOP_GE:
        return c >= 0
    if relop == RELOP_EQ:
        return c == 0
    if relop == RELOP_NE:
        return c != 0
    return False  # RELOP_RE, RELOP_MEMBER_OF_DL, unknown: see the module notes


def _values(v):
    """The single values of a property value for per-value matching."""
    return v if isinstance(v, _SEQ) else (v,)


def _match_relop(relop: int, prop, comparand) -> bool:
    # 2.12.5.1: "prop RELOP comparand"; a multi-valued property matches if any value does.
    if isinstance(prop, _SEQ) and not isinstance(comparand, _SEQ):
        return any(_relop(relop, compare_values(p, comparand)) for p in prop)
    return _relop(relop, compare_values(prop, comparand))


# ---- content restrictions, 2.12.4 ----

def _fold(s: str, fuzzy: int) -> str:
    if fuzzy & (FL_IGNORENONSPACE | FL_LOOSE):
        s = "".join(ch for ch in unicodedata.normalize("NFD", s) if not unicodedata.combining(ch))
    if fuzzy & (FL_IGNORECASE | FL_LOOSE):
        s = s.casefold()
    return s


def _content_one(fuzzy: int, value, pattern) -> bool:
    low = fuzzy & 0xFFFF
    if isinstance(value, str) and isinstance(pattern, str):
        # FuzzyLevelHigh applies to string values only (2.12.4.1).  CHOICE: FL_LOOSE is
        # taken as ignore case plus ignore non-spacing characters.
        value, pattern = _fold(value, fuzzy), _fold(pattern, fuzzy)
    elif isinstance(value, (bytes, bytearray, memoryview)) and isinstance(pattern, (bytes, bytearray, memoryview)):
        value, pattern = bytes(value), bytes(pattern)  # binary: FuzzyLevelLow only
    else:
        return False
    if low == FL_FULLSTRING:
        return value == pattern
    if low == FL_SUBSTRING:
        return pattern in value
    if low == FL_PREFIX:
        return value.startswith(pattern)
    return False  # FuzzyLevelLow MUST be 0, 1 or 2


def _content(r: ContentRestriction, prop) -> bool:
    patterns = _values(r.value)
    return any(_content_one(r.fuzzy, v, p) for v in _values(prop) for p in patterns)


# ---- size restrictions, 2.12.8 ----

_FIXED_SIZE = {
    T.Integer16: 2, T.Integer32: 4, T.Floating32: 4, T.Floating64: 8, T.Currency: 8,
    T.FloatingTime: 8, T.ErrorCode: 4, T.Boolean: 1, T.Integer64: 8, T.Time: 8, T.Guid: 16,
}


def _ptype_of(key) -> int:
    if isinstance(key, NamedProp):
        return key.type
    if isinstance(key, int):
        return key & 0xFFFF
    return T.Unspecified


def _size_one(ptype: int, v) -> int | None:
    base = ptype & 0x0FFF
    if isinstance(v, str):
        if base == T.String8:
            return len(v.encode("cp1252", "replace")) + 1
        return len(v.encode("utf-16-le")) + 2  # PtypString with its terminating null
    if isinstance(v, (bytes, bytearray, memoryview)):
        return len(v)
    if base in _FIXED_SIZE:
        return _FIXED_SIZE[base]
    if isinstance(v, bool):
        return 1
    if isinstance(v, int):
        return 4 if -(1 << 31) <= v < 1 << 32 else 8
    if isinstance(v, float):
        return 8
    if isinstance(v, datetime):
        return 8
    if isinstance(v, uuid.UUID):
        return 16
    return None


def value_size(key, value) -> int | None:
    """Byte size of a value as SizeRestriction sees it: strings with their terminator,
    binaries without their length, fixed types their width; multi-valued ones the sum."""
    ptype = _ptype_of(key)
    total = 0
    for v in _values(value):
        n = _size_one(ptype, v)
        if n is None:
            return None
        total += n
    return total


# ---- the tree ----

def _rows_getter(row):
    if isinstance(row, Mapping):
        return row.get
    if callable(row):
        return row
    return None


def _eval(r, get, depth: int, counts: dict | None) -> bool:
    if depth > MAX_DEPTH:
        raise RestrictionError(f"restriction nests deeper than {MAX_DEPTH}")
    if isinstance(r, AndRestriction):  # 2.12.1: TRUE when every child is (empty: TRUE)
        return all(_eval(c, get, depth + 1, counts) for c in r.children)
    if isinstance(r, OrRestriction):  # 2.12.2: TRUE when any child is (empty: FALSE)
        return any(_eval(c, get, depth + 1, counts) for c in r.children)
    if isinstance(r, NotRestriction):  # 2.12.3
        return not _eval(r.child, get, depth + 1, counts)
    if isinstance(r, ContentRestriction):
        prop = get(lookup_key(r.tag))
        return prop is not None and _content(r, prop)  # CHOICE: missing -> FALSE
    if isinstance(r, PropertyRestriction):
        prop = get(lookup_key(r.tag))
        return prop is not None and _match_relop(r.relop, prop, r.value)
    if isinstance(r, ComparePropertiesRestriction):  # 2.12.6.1: "tag1 RELOP tag2"
        a = get(lookup_key(r.tag1))
        b = get(lookup_key(r.tag2))
        return a is not None and b is not None and _relop(r.relop, compare_values(a, b))
    if isinstance(r, BitMaskRestriction):  # 2.12.7.1: (value & mask) == 0 / != 0
        prop = get(lookup_key(r.tag))
        if prop is None:
            return False
        for v in _values(prop):
            if isinstance(v, int):  # bool is an int
                hit = v & r.mask
                if (r.bmr == BMR_EQZ and hit == 0) or (r.bmr == BMR_NEZ and hit != 0):
                    return True
        return False
    if isinstance(r, SizeRestriction):  # 2.12.8.1: "size of the property RELOP Size"
        prop = get(lookup_key(r.tag))
        if prop is None:
            return False
        size = value_size(r.tag, prop)
        return size is not None and _relop(r.relop, _cmp(size, r.size))
    if isinstance(r, ExistRestriction):  # 2.12.9
        return get(lookup_key(r.tag)) is not None
    if isinstance(r, SubObjectRestriction):  # 2.12.10: TRUE when any sub-object row matches
        rows = get(r.subobject)
        if not isinstance(rows, _SEQ):  # absent, or not a table of rows
            return False
        for row in rows:
            rget = _rows_getter(row)
            if rget is not None and _eval(r.restriction, rget, depth + 1, counts):
                return True
        return False
    if isinstance(r, CommentRestriction):  # 2.12.11: the comments do not count; no restriction is TRUE
        return True if r.restriction is None else _eval(r.restriction, get, depth + 1, counts)
    if isinstance(r, CountRestriction):  # 2.12.12
        if r.count == 0:
            return False
        if not _eval(r.restriction, get, depth + 1, counts):
            return False
        if counts is None:
            return True
        used = counts.get(id(r), 0)
        if used >= r.count:
            return False
        counts[id(r)] = used + 1
        return True
    raise RestrictionError(f"not a restriction: {r!r}")


def evaluate(r, get: Callable[[object], object]) -> bool:
    """TRUE when the row ``get`` reads satisfies ``r`` (None: no restriction, TRUE)."""
    if r is None:
        return True
    return _eval(r, get, 0, None)


class RowFilter:
    """``evaluate`` over the successive rows of one table pass, keeping each
    CountRestriction's number of matches so at most ``count`` rows get through."""

    def __init__(self, r):
        self.restriction = r
        self._counts: dict[int, int] = {}

    def reset(self) -> None:
        self._counts.clear()

    def __call__(self, get) -> bool:
        if self.restriction is None:
            return True
        return _eval(self.restriction, get, 0, self._counts)


def unsupported(r) -> list:
    """Nodes ``evaluate`` cannot honour (RELOP_RE, RELOP_MEMBER_OF_DL, unknown relops or
    fuzzy levels); a ROP handler may answer ecTooComplex for them."""
    out: list = []
    stack = [(r, 0)]
    while stack:
        node, depth = stack.pop()
        if node is None:
            continue
        if depth > MAX_DEPTH:
            raise RestrictionError(f"restriction nests deeper than {MAX_DEPTH}")
        if isinstance(node, (AndRestriction, OrRestriction)):
            stack.extend((c, depth + 1) for c in node.children)
        elif isinstance(node, NotRestriction):
            stack.append((node.child, depth + 1))
        elif isinstance(node, (SubObjectRestriction, CommentRestriction, CountRestriction)):
            stack.append((node.restriction, depth + 1))
        elif isinstance(node, (PropertyRestriction, ComparePropertiesRestriction, SizeRestriction)):
            if node.relop not in (RELOP_LT, RELOP_LE, RELOP_GT, RELOP_GE, RELOP_EQ, RELOP_NE):
                out.append(node)
        elif isinstance(node, ContentRestriction):
            if node.fuzzy & 0xFFFF not in (FL_FULLSTRING, FL_SUBSTRING, FL_PREFIX):
                out.append(node)
        elif isinstance(node, BitMaskRestriction):
            if node.bmr not in (BMR_EQZ, BMR_NEZ):
                out.append(node)
    return out


__all__ = ["evaluate", "RowFilter", "compare_values", "value_size", "unsupported", "lookup_key"]
