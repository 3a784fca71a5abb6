"""Named properties: property sets and the PSETID_Common / public-string ones (MS-OXPROPS 1.3.2).

A named property is (property set GUID, LID or name, type); each mailbox maps
it to an id in 0x8000-0xFFFE (MS-OXCDATA 2.9), kept by the store's named map.
Area modules (appointment, task, contact, ...) define their own PidLid*s.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..types import PropType as T

PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046")
PS_PUBLIC_STRINGS = uuid.UUID("00020329-0000-0000-c000-000000000046")
PS_INTERNET_HEADERS = uuid.UUID("00020386-0000-0000-c000-000000000046")


class PSETID:
    Appointment = uuid.UUID("00062002-0000-0000-c000-000000000046")
    Task = uuid.UUID("00062003-0000-0000-c000-000000000046")
    Address = uuid.UUID("00062004-0000-0000-c000-000000000046")
    Common = uuid.UUID("00062008-0000-0000-c000-000000000046")
    Log = uuid.UUID("0006200a-0000-0000-c000-000000000046")
    Note = uuid.UUID("0006200e-0000-0000-c000-000000000046")
    Sharing = uuid.UUID("00062040-0000-0000-c000-000000000046")
    PostRss = uuid.UUID("00062041-0000-0000-c000-000000000046")
    Meeting = uuid.UUID("6ed8da90-450b-101b-98da-00aa003f1305")
    Messaging = uuid.UUID("41f28f13-83f4-4114-a584-eedb5a6b0bff")
    UnifiedMessaging = uuid.UUID("4442858e-a9e3-4e80-b900-317a210cc15b")
    AirSync = uuid.UUID("71035549-0739-4dcb-9163-00f0580dbbdf")
    Attachment = uuid.UUID("96357f7f-59e1-47d0-99a7-46515c183b54")
    CalendarAssistant = uuid.UUID("11000e07-b51b-40d6-af21-caa85edab1d0")


@dataclass(frozen=True)
class NamedProp:
    """A named property: set GUID plus a numeric LID or a string name."""

    guid: uuid.UUID
    lid: int | None = None
    name: str | None = None
    type: int = T.Unspecified

    def __post_init__(self):
        if (self.lid is None) == (self.name is None):
            raise ValueError("a named property has exactly one of lid and name")

    @property
    def key(self) -> tuple:
        """What identifies it regardless of type."""
        return (self.guid, self.lid, self.name.lower() if self.name is not None else None)


def lid(guid: uuid.UUID, value: int, ptype: int) -> NamedProp:
    return NamedProp(guid, lid=value, type=ptype)


def name(guid: uuid.UUID, value: str, ptype: int) -> NamedProp:
    return NamedProp(guid, name=value, type=ptype)


# --- PSETID_Common (MS-OXPROPS) ---
PidLidReminderDelta = lid(PSETID.Common, 0x8501, T.Integer32)
PidLidReminderTime = lid(PSETID.Common, 0x8502, T.Time)
PidLidReminderSet = lid(PSETID.Common, 0x8503, T.Boolean)
PidLidPrivate = lid(PSETID.Common, 0x8506, T.Boolean)
PidLidSideEffects = lid(PSETID.Common, 0x8510, T.Integer32)
PidLidSmartNoAttach = lid(PSETID.Common, 0x8514, T.Boolean)
PidLidCommonStart = lid(PSETID.Common, 0x8516, T.Time)
PidLidCommonEnd = lid(PSETID.Common, 0x8517, T.Time)
PidLidTaskMode = lid(PSETID.Common, 0x8518, T.Integer32)
PidLidFlagRequest = lid(PSETID.Common, 0x8530, T.String)
PidLidCurrentVersion = lid(PSETID.Common, 0x8552, T.Integer32)
PidLidCurrentVersionName = lid(PSETID.Common, 0x8554, T.String)
PidLidReminderSignalTime = lid(PSETID.Common, 0x8560, T.Time)
PidLidToDoOrdinalDate = lid(PSETID.Common, 0x85A0, T.Time)
PidLidToDoSubOrdinal = lid(PSETID.Common, 0x85A1, T.String)
PidLidToDoTitle = lid(PSETID.Common, 0x85A4, T.String)

# --- PS_PUBLIC_STRINGS ---
PidNameKeywords = name(PS_PUBLIC_STRINGS, "Keywords", T.MultipleString)  # categories
