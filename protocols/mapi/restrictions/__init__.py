"""MS-OXCDATA 2.12 restrictions and 2.13 sort orders: types, codec, evaluation.

``decode_restriction``/``encode_restriction`` read and write the RestrictionData
of RopRestrict, RopFindRow, RopSetSearchCriteria and friends (2-byte counts) or
of extended rules (``count_width=4``).  ``evaluate`` tests one row; see
``evaluate.py`` for the semantic choices.
"""
from .codec import (
    decode_restriction, decode_sort_order, decode_sort_order_set, encode_restriction,
    encode_sort_order, encode_sort_order_set,
)
from .evaluate import RowFilter, compare_values, evaluate, lookup_key, unsupported, value_size
from .model import map_keys  # noqa: F401
from .model import (
    BMR_EQZ, BMR_NEZ, FL_FULLSTRING, FL_IGNORECASE, FL_IGNORENONSPACE, FL_LOOSE, FL_PREFIX,
    FL_SUBSTRING, MAX_DEPTH, MV_FLAG, MVI_FLAG, ORDER_ASCENDING, ORDER_COMBINE, ORDER_DESCENDING,
    ORDER_MAX, ORDER_MIN, RELOP_EQ, RELOP_GE, RELOP_GT, RELOP_LE, RELOP_LT, RELOP_MEMBER_OF_DL,
    RELOP_NE, RELOP_RE, RES_AND, RES_BITMASK, RES_COMMENT, RES_COMPAREPROPS, RES_CONTENT, RES_COUNT,
    RES_EXIST, RES_NOT, RES_OR, RES_PROPERTY, RES_SIZE, RES_SUBRESTRICTION,
    PidTagMessageAttachments, PidTagMessageRecipients,
    AndRestriction, BitMaskRestriction, CommentRestriction, ComparePropertiesRestriction,
    ContentRestriction, CountRestriction, ExistRestriction, NotRestriction, OrRestriction, PropKey,
    PropertyRestriction, Restriction, RestrictionError, SizeRestriction, SortOrder, SortOrderSet,
    SubObjectRestriction,
)

__all__ = [
    "PropKey", "Restriction", "RestrictionError",
    "AndRestriction", "OrRestriction", "NotRestriction", "ContentRestriction", "PropertyRestriction",
    "ComparePropertiesRestriction", "BitMaskRestriction", "SizeRestriction", "ExistRestriction",
    "SubObjectRestriction", "CommentRestriction", "CountRestriction", "SortOrder", "SortOrderSet",
    "decode_restriction", "encode_restriction", "evaluate", "RowFilter", "compare_values",
    "value_size", "unsupported", "lookup_key",
    "decode_sort_order", "encode_sort_order", "decode_sort_order_set", "encode_sort_order_set",
    "RELOP_LT", "RELOP_LE", "RELOP_GT", "RELOP_GE", "RELOP_EQ", "RELOP_NE", "RELOP_RE",
    "RELOP_MEMBER_OF_DL", "FL_FULLSTRING", "FL_SUBSTRING", "FL_PREFIX", "FL_IGNORECASE",
    "FL_IGNORENONSPACE", "FL_LOOSE", "BMR_EQZ", "BMR_NEZ", "ORDER_ASCENDING", "ORDER_DESCENDING",
    "ORDER_COMBINE", "ORDER_MAX", "ORDER_MIN", "MV_FLAG", "MVI_FLAG", "MAX_DEPTH",
    "RES_AND", "RES_OR", "RES_NOT", "RES_CONTENT", "RES_PROPERTY", "RES_COMPAREPROPS", "RES_BITMASK",
    "RES_SIZE", "RES_EXIST", "RES_SUBRESTRICTION", "RES_COMMENT", "RES_COUNT",
    "PidTagMessageRecipients", "PidTagMessageAttachments",
]
