"""Folder XML <-> MAPI properties (MS-OXWSFOLD BaseFolderType/FolderType) and DistinguishedFolderIds."""
from __future__ import annotations

from dataclasses import dataclass

from protocols.mapi.props import core as P

from .ns import child, children, local, sub, t, text
from .shapes import Shape
from .values import lookup, read_extended_property, write_extended_property

# DistinguishedFolderIdNameType (MS-OXWSCDATA 2.2.5.10) -> the store's folder role (None: this server has none).
DISTINGUISHED: dict[str, str | None] = {
    "root": "root", "msgfolderroot": "ipm_subtree", "inbox": "inbox", "outbox": "outbox", "sentitems": "sent",
    "deleteditems": "deleted", "drafts": "drafts", "calendar": "calendar", "contacts": "contacts",
    "tasks": "tasks", "notes": "notes", "journal": "journal", "junkemail": "junk", "searchfolders": "finder",
    "publicfoldersroot": None, "voicemail": None, "recoverableitemsroot": None, "recoverableitemsdeletions": None,
    "recoverableitemsversions": None, "recoverableitemspurges": None, "recoverableitemsdiscoveryholds": None,
    "archiveroot": None, "archivemsgfolderroot": None, "archivedeleteditems": None, "archiveinbox": None,
    "archiverecoverableitemsroot": None, "archiverecoverableitemsdeletions": None,
    "archiverecoverableitemsversions": None, "archiverecoverableitemspurges": None,
    "archiverecoverableitemsdiscoveryholds": None, "syncissues": None, "conflicts": None, "localfailures": None,
    "serverfailures": None, "recipientcache": None, "quickcontacts": None, "conversationhistory": None,
    "adminauditlogs": None, "todosearch": None, "mycontacts": None, "directory": None, "imcontactlist": None,
    "peopleconnect": None, "favorites": None, "companycontacts": None, "organizationalcontacts": None,
    "fromfavoritesenders": None, "clutter": None, "archive": None, "scheduled": None, "inference": None,
    "allitems": None, "allcategorizeditems": None, "relevantcontacts": None, "sharepointnotifications": None,
    "documentcentricconversations": None, "connectors": None, "workingset": None, "temporarysaves": None,
    "conversations": None, "externalcontacts": None, "messageingestion": None, "personmetadata": None,
    "recoverableitemssubstrateholds": None, "mycontactsextended": None, "userdefinedmail": None,
    "shortnotes": None, "searchsuggestions": None, "quickcomponents": None,
}
ROLE_TO_DISTINGUISHED = {role: name for name, role in DISTINGUISHED.items() if role}

# Folder element by container class (MS-OXWSFOLD 2.2.4.x)
FOLDER_ELEMENTS = (("IPF.Appointment", "CalendarFolder"), ("IPF.Contact", "ContactsFolder"),
                   ("IPF.Task", "TasksFolder"))
FOLDER_ELEMENT_NAMES = ("Folder", "CalendarFolder", "ContactsFolder", "TasksFolder", "SearchFolder")


def folder_element(container_class: str | None) -> str:
    cls = container_class or ""
    for prefix, name in FOLDER_ELEMENTS:
        if cls == prefix or cls.startswith(prefix + "."):
            return name
    return "Folder"


@dataclass
class FolderView:
    folder_id: str
    change_key: str
    props: dict
    parent_id: str | None = None
    parent_change_key: str | None = None
    distinguished: str | None = None


FOLDER_URIS = ("folder:FolderId", "folder:ParentFolderId", "folder:FolderClass", "folder:DisplayName",
               "folder:TotalCount", "folder:ChildFolderCount", "folder:EffectiveRights",
               "folder:DistinguishedFolderId", "folder:UnreadCount", "folder:PermissionSet")
DEFAULT_URIS = {"folder:FolderId", "folder:DisplayName", "folder:TotalCount", "folder:ChildFolderCount",
                "folder:UnreadCount", "folder:FolderClass"}


def write_folder(parent, view: FolderView, shape: Shape):
    el = sub(parent, t(folder_element(view.props.get(P.PidTagContainerClass))))
    if shape.base == "IdOnly":
        chosen = {"folder:FolderId"}
    elif shape.base == "AllProperties":
        chosen = set(FOLDER_URIS) - {"folder:PermissionSet"}
    else:
        chosen = set(DEFAULT_URIS)
    chosen |= {p.uri for p in shape.additional if p.uri}
    props = view.props
    if "folder:FolderId" in chosen:
        sub(el, t("FolderId"), Id=view.folder_id, ChangeKey=view.change_key)
    if "folder:ParentFolderId" in chosen and view.parent_id:
        sub(el, t("ParentFolderId"), Id=view.parent_id, ChangeKey=view.parent_change_key)
    if "folder:FolderClass" in chosen and props.get(P.PidTagContainerClass):
        sub(el, t("FolderClass"), props[P.PidTagContainerClass])
    if "folder:DisplayName" in chosen:
        sub(el, t("DisplayName"), props.get(P.PidTagDisplayName, ""))
    is_search = False
    if "folder:TotalCount" in chosen and not is_search:
        sub(el, t("TotalCount"), int(props.get(P.PidTagContentCount, 0) or 0))
    if "folder:ChildFolderCount" in chosen:
        sub(el, t("ChildFolderCount"), int(props.get(P.PidTagFolderChildCount, 0) or 0))
    for ext in shape.extended:
        key, value = lookup(props, ext.key)
        if key is not None and value is not None:
            write_extended_property(el, ext, value)
    if "folder:EffectiveRights" in chosen:
        r = sub(el, t("EffectiveRights"))
        for name, value in (("CreateAssociated", True), ("CreateContents", True), ("CreateHierarchy", True),
                            ("Delete", view.distinguished is None), ("Modify", True), ("Read", True),
                            ("ViewPrivateItems", True)):
            sub(r, t(name), value)
    if "folder:DistinguishedFolderId" in chosen and view.distinguished:
        sub(el, t("DistinguishedFolderId"), view.distinguished)
    if "folder:UnreadCount" in chosen and el.tag in (t("Folder"), t("SearchFolder")):
        sub(el, t("UnreadCount"), int(props.get(P.PidTagContentUnreadCount, 0) or 0))
    return el


@dataclass
class FolderInput:
    element: str
    display_name: str | None = None
    folder_class: str | None = None
    props: dict | None = None


def read_folder(el) -> FolderInput:
    out = FolderInput(local(el), props={})
    for c in children(el):
        name = local(c)
        if name == "DisplayName":
            out.display_name = c.text or ""
        elif name == "FolderClass":
            out.folder_class = (c.text or "").strip() or None
        elif name == "ExtendedProperty":
            ext, value = read_extended_property(c)
            out.props[ext.key] = value
    if out.folder_class is None:
        out.folder_class = {"CalendarFolder": "IPF.Appointment", "ContactsFolder": "IPF.Contact",
                            "TasksFolder": "IPF.Task"}.get(out.element, "IPF.Note")
    return out


@dataclass(frozen=True)
class FolderRef:
    """A FolderId (id + change key) or DistinguishedFolderId (name, optional mailbox)."""

    id: str | None = None
    change_key: str | None = None
    distinguished: str | None = None
    mailbox: str | None = None


def read_folder_ref(el) -> FolderRef:
    name = local(el)
    if name == "DistinguishedFolderId":
        mb = child(el, "Mailbox")
        addr = text(mb, "EmailAddress") if mb is not None else None
        return FolderRef(distinguished=el.get("Id"), change_key=el.get("ChangeKey"),
                         mailbox=addr.strip() if addr else None)
    return FolderRef(id=el.get("Id"), change_key=el.get("ChangeKey"))


def read_folder_refs(container) -> list[FolderRef]:
    return [read_folder_ref(c) for c in children(container)
            if local(c) in ("FolderId", "DistinguishedFolderId")]
