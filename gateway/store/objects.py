"""What the store hands to front ends: folders and items with their property bags."""
from __future__ import annotations

from dataclasses import dataclass, field

from .model import MessageContent


@dataclass
class Folder:
    fid: int                      # 64-bit FID as clients see it
    globcnt: int
    parent_fid: int | None
    role: str | None              # "inbox", "calendar", ... for well-known folders
    kind: str                     # "root", "local", "imap", "caldav", "carddav"
    ref: str | None               # IMAP name or DAV href
    display_name: str
    container_class: str | None
    cn: int
    props: dict = field(default_factory=dict)


@dataclass
class Item:
    mid: int                      # 64-bit MID
    globcnt: int
    fid: int
    kind: str                     # "imap", "dav", "local"
    associated: bool
    props: dict                   # PropKey -> value (summary props in tables, all props from get_item)
    content: MessageContent | None = None


@dataclass
class FolderChanges:
    """What changed in a folder since a change number (drives ICS and EWS sync)."""

    fid: int
    changed: list[int] = field(default_factory=list)   # MIDs created or modified
    deleted: list[int] = field(default_factory=list)   # MIDs gone
    last_cn: int = 0
    # every change in change-number order: (cn, MID, deleted?), for paging a sync exactly
    ordered: list[tuple[int, int, bool]] = field(default_factory=list)
