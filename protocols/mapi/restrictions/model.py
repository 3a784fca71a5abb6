"""Restriction and sort-order types (MS-OXCDATA 2.12, 2.13).

A restriction tree is made of frozen dataclasses.  Property keys (``PropKey``)
are 32-bit property tags, or ``NamedProp`` objects for named properties the
caller has not mapped to mailbox ids yet (only the codec needs ints).
Multi-valued values are kept as tuples so whole trees are hashable.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Union

from ..props.named import NamedProp

PropKey = Union[int, NamedProp]

# RestrictType values, MS-OXCDATA 2.12 (table in the section's introduction).
RES_AND = 0x00
RES_OR = 0x01
RES_NOT = 0x02
RES_CONTENT = 0x03
RES_PROPERTY = 0x04
RES_COMPAREPROPS = 0x05
RES_BITMASK = 0x06
RES_SIZE = 0x07
RES_EXIST = 0x08
RES_SUBRESTRICTION = 0x09
RES_COMMENT = 0x0A
RES_COUNT = 0x0B

# RelOp values used by property, compare-properties and size restrictions (2.12.5.1).
# RELOP_RE is MAPI's (mapidefs.h); MS-OXCDATA's table lists only 0x00-0x05 and 0x64.
RELOP_LT = 0x00
RELOP_LE = 0x01
RELOP_GT = 0x02
RELOP_GE = 0x03
RELOP_EQ = 0x04
RELOP_NE = 0x05
RELOP_RE = 0x06
RELOP_MEMBER_OF_DL = 0x64

# Content restriction FuzzyLevelLow (low word) and FuzzyLevelHigh (high word), 2.12.4.1;
# the high word applies to string values only.
FL_FULLSTRING = 0x0000
FL_SUBSTRING = 0x0001
FL_PREFIX = 0x0002
FL_IGNORECASE = 0x00010000
FL_IGNORENONSPACE = 0x00020000
FL_LOOSE = 0x00040000

# BitMapRelOp, 2.12.7.1.
BMR_EQZ = 0x00
BMR_NEZ = 0x01

# SortOrder.Order, 2.13.1.
ORDER_ASCENDING = 0x00
ORDER_DESCENDING = 0x01
ORDER_COMBINE = 0x02  # TABLE_SORT_COMBINE from MAPI (mapidefs.h); not listed in MS-OXCDATA 2.13.1
ORDER_MAX = 0x04  # MaximumCategory
ORDER_MIN = 0x08  # MinimumCategory

# Property-type bits (MS-OXCDATA 2.11.1): multi-valued, and the MultivalueInstance flag a
# client sets on a tag in a restriction or sort order to treat each value as its own row
# ("Multivalue Property Value Instances" under 2.11.1; MS-OXCTABL 3.2.5.3).
MV_FLAG = 0x1000
MVI_FLAG = 0x2000

# Well-known sub-object tags for SubObjectRestriction (MS-OXCDATA 2.12.10.1).
PidTagMessageRecipients = 0x0E12000D
PidTagMessageAttachments = 0x0E13000D

MAX_DEPTH = 256


class RestrictionError(ValueError):
    """A restriction or sort order buffer is truncated or malformed, nests too deep,
    or a tree cannot be encoded (for instance a named key not mapped to a tag)."""


def _tuple(obj, name):
    value = getattr(obj, name)
    if not isinstance(value, tuple):
        object.__setattr__(obj, name, tuple(value))


@dataclass(frozen=True)
class AndRestriction:
    children: tuple = ()

    def __post_init__(self):
        _tuple(self, "children")


@dataclass(frozen=True)
class OrRestriction:
    children: tuple = ()

    def __post_init__(self):
        _tuple(self, "children")


@dataclass(frozen=True)
class NotRestriction:
    child: object


@dataclass(frozen=True)
class ContentRestriction:
    """``fuzzy`` is FuzzyLevelLow | FuzzyLevelHigh << 16 (e.g. FL_SUBSTRING | FL_IGNORECASE).
    ``value`` is the TaggedValue's value; its tag is ``value_tag`` (None: same as ``tag``)."""

    fuzzy: int
    tag: PropKey
    value: object
    value_tag: PropKey | None = None


@dataclass(frozen=True)
class PropertyRestriction:
    relop: int
    tag: PropKey
    value: object
    value_tag: PropKey | None = None


@dataclass(frozen=True)
class ComparePropertiesRestriction:
    relop: int
    tag1: PropKey
    tag2: PropKey


@dataclass(frozen=True)
class BitMaskRestriction:
    bmr: int
    tag: PropKey
    mask: int


@dataclass(frozen=True)
class SizeRestriction:
    relop: int
    tag: PropKey
    size: int


@dataclass(frozen=True)
class ExistRestriction:
    tag: PropKey


@dataclass(frozen=True)
class SubObjectRestriction:
    subobject: int
    restriction: object


@dataclass(frozen=True)
class CommentRestriction:
    values: tuple = ()
    restriction: object | None = None

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(tuple(v) for v in self.values))


@dataclass(frozen=True)
class CountRestriction:
    count: int
    restriction: object


Restriction = Union[
    AndRestriction, OrRestriction, NotRestriction, ContentRestriction, PropertyRestriction,
    ComparePropertiesRestriction, BitMaskRestriction, SizeRestriction, ExistRestriction,
    SubObjectRestriction, CommentRestriction, CountRestriction,
]


@dataclass(frozen=True)
class SortOrder:
    """One sort key (2.13.1): a property tag (may carry MVI_FLAG) and an Order value."""

    tag: PropKey
    order: int = ORDER_ASCENDING


@dataclass(frozen=True)
class SortOrderSet:
    """2.13.2: the first ``categorized`` sorts are category columns, the first
    ``expanded`` of those start expanded."""

    sorts: tuple = ()
    categorized: int = 0
    expanded: int = 0

    def __post_init__(self):
        _tuple(self, "sorts")


_KEY_FIELDS = ("tag", "tag1", "tag2", "value_tag")
_CHILD_FIELDS = ("child", "restriction")


def map_keys(r, fn):
    """The same restriction (or SortOrder) with every property key ``k`` replaced by ``fn(k)``: a MAPI
    client's tags of named properties (0x8000 and up, one mailbox's ids) become the names a store keeps."""
    if r is None or not dataclasses.is_dataclass(r):
        return r
    changes = {}
    for f in dataclasses.fields(r):
        v = getattr(r, f.name)
        if f.name in _KEY_FIELDS and v is not None:
            changes[f.name] = fn(v)
        elif f.name in _CHILD_FIELDS:
            changes[f.name] = map_keys(v, fn)
        elif f.name == "children":
            changes[f.name] = tuple(map_keys(c, fn) for c in v)
        elif f.name == "sorts":
            changes[f.name] = tuple(map_keys(s, fn) for s in v)
    return dataclasses.replace(r, **changes) if changes else r
