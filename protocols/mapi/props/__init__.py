"""MAPI property definitions by area (MS-OXPROPS).

Each module of this package defines tagged properties as ``PidTagXxx = tag``
and named properties as ``PidLidXxx = NamedProp(...)`` / ``PidNameXxx``.
``by_name`` / ``name_of`` look them up across all areas.
"""
from __future__ import annotations

from types import ModuleType

from . import core, mail, named, contact, appointment, task
from .named import NamedProp, PSETID, PS_INTERNET_HEADERS, PS_PUBLIC_STRINGS, PS_MAPI

_AREAS: list[ModuleType] = [core, named, mail, contact, appointment, task]
_BY_NAME: dict[str, object] = {}
_TAG_NAMES: dict[int, str] = {}


def register_area(module: ModuleType) -> None:
    """Add an area module's PidTag*/PidLid*/PidName* definitions to the lookup tables."""
    for key, value in vars(module).items():
        if key.startswith("PidTag") and isinstance(value, int):
            _BY_NAME[key] = value
            _TAG_NAMES.setdefault(value, key)
        elif key.startswith(("PidLid", "PidName")) and isinstance(value, NamedProp):
            _BY_NAME[key] = value


for _m in _AREAS:
    register_area(_m)


def by_name(name: str):
    """PidTag name -> tag int, or PidLid/PidName name -> NamedProp."""
    return _BY_NAME[name]


def name_of(tag: int) -> str | None:
    return _TAG_NAMES.get(tag)


__all__ = [
    "NamedProp", "PSETID", "PS_INTERNET_HEADERS", "PS_PUBLIC_STRINGS", "PS_MAPI",
    "by_name", "name_of", "register_area", "core", "named",
]
