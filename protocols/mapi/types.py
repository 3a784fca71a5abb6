"""Property types and property tags (MS-OXCDATA 2.9, 2.11.1)."""
from __future__ import annotations

from enum import IntEnum

MV_FLAG = 0x1000


class PropType(IntEnum):
    """PtypXxx codes, MS-OXCDATA 2.11.1."""

    Unspecified = 0x0000
    Null = 0x0001
    Integer16 = 0x0002
    Integer32 = 0x0003
    Floating32 = 0x0004
    Floating64 = 0x0005
    Currency = 0x0006
    FloatingTime = 0x0007
    ErrorCode = 0x000A
    Boolean = 0x000B
    Object = 0x000D
    Integer64 = 0x0014
    String8 = 0x001E
    String = 0x001F
    Time = 0x0040
    Guid = 0x0048
    ServerId = 0x00FB
    Restriction = 0x00FD
    RuleAction = 0x00FE
    Binary = 0x0102
    MultipleInteger16 = 0x1002
    MultipleInteger32 = 0x1003
    MultipleFloating32 = 0x1004
    MultipleFloating64 = 0x1005
    MultipleCurrency = 0x1006
    MultipleFloatingTime = 0x1007
    MultipleInteger64 = 0x1014
    MultipleString8 = 0x101E
    MultipleString = 0x101F
    MultipleTime = 0x1040
    MultipleGuid = 0x1048
    MultipleBinary = 0x1102


def make_tag(prop_id: int, prop_type: int) -> int:
    """A property tag is the 16-bit id in the high word and the type in the low word."""
    return ((prop_id & 0xFFFF) << 16) | (prop_type & 0xFFFF)


def prop_id(tag: int) -> int:
    return (tag >> 16) & 0xFFFF


def prop_type(tag: int) -> int:
    return tag & 0xFFFF


def change_type(tag: int, new_type: int) -> int:
    return (tag & 0xFFFF0000) | (new_type & 0xFFFF)


def is_named_id(pid: int) -> bool:
    """Ids 0x8000-0xFFFE are named-property ids mapped per mailbox (MS-OXCDATA 2.9)."""
    return 0x8000 <= pid <= 0xFFFE
