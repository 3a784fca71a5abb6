"""The folder tree in Exchange's shape, and how backend collections map onto it.

A new mailbox gets the well-known folders at fixed GLOBCNTs (so their FIDs
are the same in every mailbox, which keeps logs and tests readable). Mail
folders come from IMAP (role by SPECIAL-USE, else by name), Calendar and Tasks
from CalDAV, Contacts from CardDAV; Notes, Journal and the non-IPM system
folders are kept by the gateway in the state database (MS-OXOSFLD 2.2).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from gateway.backends.base import DavCollection, ImapFolderInfo


FOLDER_TYPE_ROOT = 0  # PidTagFolderType (MS-OXCFOLD 2.2.2.2.1.3)
FOLDER_TYPE_SEARCH = 2


@dataclass(frozen=True)
class WellKnown:
    role: str
    parent: str | None
    display_name: str
    container_class: str | None
    kind: str           # "root", "local", "imap", "caldav", "carddav"
    globcnt: int


WELL_KNOWN: tuple[WellKnown, ...] = (
    WellKnown("root", None, "Root Container", None, "root", 0x01),
    WellKnown("deferred_action", "root", "Deferred Action", None, "local", 0x02),
    WellKnown("spooler_queue", "root", "Spooler Queue", None, "local", 0x03),
    WellKnown("shortcuts", "root", "Shortcuts", None, "local", 0x04),
    WellKnown("finder", "root", "Finder", None, "local", 0x05),
    WellKnown("views", "root", "Views", None, "local", 0x06),
    WellKnown("common_views", "root", "Common Views", None, "local", 0x07),
    WellKnown("schedule", "root", "Schedule", None, "local", 0x08),
    WellKnown("ipm_subtree", "root", "Top of Information Store", None, "local", 0x09),
    WellKnown("sent", "ipm_subtree", "Sent Items", "IPF.Note", "imap", 0x0A),
    WellKnown("deleted", "ipm_subtree", "Deleted Items", "IPF.Note", "imap", 0x0B),
    WellKnown("outbox", "ipm_subtree", "Outbox", "IPF.Note", "imap", 0x0C),
    WellKnown("inbox", "ipm_subtree", "Inbox", "IPF.Note", "imap", 0x0D),
    WellKnown("drafts", "ipm_subtree", "Drafts", "IPF.Note", "imap", 0x0E),
    WellKnown("calendar", "ipm_subtree", "Calendar", "IPF.Appointment", "caldav", 0x0F),
    WellKnown("journal", "ipm_subtree", "Journal", "IPF.Journal", "local", 0x10),
    WellKnown("notes", "ipm_subtree", "Notes", "IPF.StickyNote", "local", 0x11),
    WellKnown("tasks", "ipm_subtree", "Tasks", "IPF.Task", "caldav", 0x12),
    WellKnown("contacts", "ipm_subtree", "Contacts", "IPF.Contact", "carddav", 0x13),
    WellKnown("junk", "ipm_subtree", "Junk E-mail", "IPF.Note", "imap", 0x17),
    WellKnown("freebusy", "root", "Freebusy Data", None, "local", 0x18),
)
BY_ROLE = {w.role: w for w in WELL_KNOWN}
IMAP_ROLES = tuple(w.role for w in WELL_KNOWN if w.kind == "imap")

SPECIAL_USE_ROLES = {"\\Sent": "sent", "\\Trash": "deleted", "\\Drafts": "drafts", "\\Junk": "junk"}

# Names tried (case-insensitively) when the server has no SPECIAL-USE; the
# first is the one created when none exists. Configurable per deployment.
DEFAULT_IMAP_NAMES: dict[str, tuple[str, ...]] = {
    "sent": ("Sent", "Sent Items", "Sent Messages", "Sent Mail"),
    "deleted": ("Trash", "Deleted Items", "Deleted Messages", "Deleted"),
    "drafts": ("Drafts", "Draft"),
    "junk": ("Junk", "Junk E-mail", "Junk Mail", "Spam"),
    "outbox": ("Outbox",),
}


@dataclass(frozen=True)
class PlannedFolder:
    kind: str                  # "imap", "caldav", "carddav"
    ref: str                   # IMAP full name or DAV collection href
    role: str | None
    display_name: str
    container_class: str
    parent: tuple[str, str]    # ("role", role) or (kind, ref) of the parent folder


@dataclass
class HierarchyPlan:
    folders: list[PlannedFolder] = field(default_factory=list)
    create_imap: list[tuple[str, str]] = field(default_factory=list)       # (role, name)
    create_dav: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)  # (role, kind, components)


def _imap_parent(info: ImapFolderInfo, names: set[str]) -> str | None:
    if not info.delimiter or info.delimiter not in info.name:
        return None
    parent = info.name.rsplit(info.delimiter, 1)[0]
    return parent if parent in names else None


def plan_hierarchy(imap_folders: Sequence[ImapFolderInfo], calendars: Sequence[DavCollection] = (),
                   addressbooks: Sequence[DavCollection] = (), *,
                   names: dict[str, Sequence[str]] | None = None) -> HierarchyPlan:
    """Decide which backend collection plays which Exchange folder. Pure: no I/O."""
    role_names = {**DEFAULT_IMAP_NAMES, **(names or {})}
    plan = HierarchyPlan()
    by_name = {f.name: f for f in imap_folders}
    roles: dict[str, str] = {}  # role -> imap name
    inbox = next((f.name for f in imap_folders if f.name.upper() == "INBOX"), None)
    if inbox is not None:
        roles["inbox"] = inbox
    for f in imap_folders:  # SPECIAL-USE wins over names
        role = SPECIAL_USE_ROLES.get(f.special_use or "")
        if role and role not in roles:
            roles[role] = f.name
    lowered = {f.name.lower(): f.name for f in imap_folders}
    for role, candidates in role_names.items():
        if role in roles:
            continue
        for cand in candidates:
            for prefix in ("", "inbox.", "inbox/"):
                hit = lowered.get(prefix + cand.lower())
                if hit and hit not in roles.values():
                    roles[role] = hit
                    break
            if role in roles:
                break
    for role in IMAP_ROLES:
        if role not in roles:
            name = "INBOX" if role == "inbox" else role_names[role][0]
            plan.create_imap.append((role, name))
            roles[role] = name
    role_of = {name: role for role, name in roles.items()}
    all_names = set(by_name) | set(roles.values())
    for role, name in roles.items():
        wk = BY_ROLE[role]
        plan.folders.append(PlannedFolder("imap", name, role, wk.display_name, wk.container_class or "IPF.Note",
                                          ("role", "ipm_subtree")))
    for f in imap_folders:
        if f.name in role_of:
            continue
        parent = _imap_parent(f, all_names)
        display = f.name.rsplit(f.delimiter, 1)[-1] if f.delimiter else f.name
        plan.folders.append(PlannedFolder("imap", f.name, None, display, "IPF.Note",
                                          ("imap", parent) if parent else ("role", "ipm_subtree")))

    def pick(cols: Sequence[DavCollection], preferred: str) -> DavCollection | None:
        for c in cols:
            if (c.display_name or "").lower() == preferred.lower():
                return c
        return cols[0] if cols else None

    event_cals = [c for c in calendars if not c.components or "VEVENT" in c.components]
    task_cals = [c for c in calendars if c.components and "VTODO" in c.components and "VEVENT" not in c.components]
    cal = pick(event_cals, "Calendar")
    tasks = pick(task_cals, "Tasks")
    book = pick(list(addressbooks), "Contacts")
    for role, chosen, pool, kind, comps, cls in (
            ("calendar", cal, event_cals, "caldav", ("VEVENT",), "IPF.Appointment"),
            ("tasks", tasks, task_cals, "caldav", ("VTODO",), "IPF.Task"),
            ("contacts", book, list(addressbooks), "carddav", (), "IPF.Contact")):
        if chosen is None:
            plan.create_dav.append((role, kind, comps))
            continue
        plan.folders.append(PlannedFolder(kind, chosen.href, role, BY_ROLE[role].display_name, cls,
                                          ("role", "ipm_subtree")))
        for other in pool:  # secondary calendars/lists/books appear as subfolders, as in Exchange
            if other.href != chosen.href:
                plan.folders.append(PlannedFolder(kind, other.href, None, other.display_name or other.href.rstrip("/")
                                                  .rsplit("/", 1)[-1], cls, ("role", role)))
    return plan
