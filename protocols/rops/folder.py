"""Folder ROPs (MS-OXCROPS 2.2.4): RopOpenFolder, RopCreateFolder, RopDeleteFolder,
RopSetSearchCriteria, RopGetSearchCriteria, RopMoveFolder, RopEmptyFolder,
RopHardDeleteMessagesAndSubfolders, RopDeleteMessages, RopHardDeleteMessages,
RopGetHierarchyTable, RopGetContentsTable, RopMoveCopyMessages, RopCopyFolder."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import (
    BOOL, IDS16, RESTRICTION, U8, U32, U64, Reader, RopRequest, RopResponse, put_asciiz,
    put_u8, put_u16, put_u64, put_utf16z, wire,
)


@dataclass
class OpenFolderRequest(RopRequest):
    ROP_ID = 0x02
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    folder_id: int = wire(U64)
    open_mode_flags: int = wire(U8)


def _read_ghost(r: Reader):
    """ServerCount (2), CheapServerCount (2), Servers (NUL-terminated ASCII each), 2.2.4.1.2."""
    count, cheap = r.u16(), r.u16()
    return cheap, tuple(r.asciiz() for _ in range(count))


def _write_ghost(out: bytearray, cheap: int, servers) -> None:
    put_u16(out, len(servers))
    put_u16(out, cheap)
    for s in servers:
        put_asciiz(out, s)


@dataclass
class OpenFolderResponse(RopResponse):
    """HasRules, IsGhosted; a ghosted public folder adds the servers that hold it."""

    ROP_ID = 0x02
    has_rules: int = 0
    is_ghosted: int = 0
    cheap_server_count: int = 0
    servers: tuple = ()

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        rules, ghosted = r.u8(), r.u8()
        cheap, servers = _read_ghost(r) if ghosted else (0, ())
        return cls(idx, rv, rules, ghosted, cheap, servers)

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u8(out, self.has_rules)
        put_u8(out, self.is_ghosted)
        if self.is_ghosted:
            _write_ghost(out, self.cheap_server_count, self.servers)


def _read_name(r: Reader, unicode: int) -> str:
    return r.utf16z() if unicode else r.asciiz()


def _write_name(out: bytearray, s: str, unicode: int) -> None:
    (put_utf16z if unicode else put_asciiz)(out, s)


@dataclass
class CreateFolderRequest(RopRequest):
    """2.2.4.2.1: DisplayName and Comment are UTF-16 when UseUnicodeStrings is nonzero,
    8-bit otherwise, both NUL-terminated."""

    ROP_ID = 0x1C
    logon_id: int = 0
    input_handle_index: int = 0
    output_handle_index: int = 0
    folder_type: int = 1
    use_unicode: int = 1
    open_existing: int = 0
    reserved: int = 0
    display_name: str = ""
    comment: str = ""

    @classmethod
    def decode(cls, r: Reader):
        vals = [r.u8() for _ in range(7)]
        return cls(*vals, _read_name(r, vals[4]), _read_name(r, vals[4]))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        for v in (self.logon_id, self.input_handle_index, self.output_handle_index, self.folder_type,
                  self.use_unicode, self.open_existing, self.reserved):
            put_u8(out, v)
        _write_name(out, self.display_name, self.use_unicode)
        _write_name(out, self.comment, self.use_unicode)


@dataclass
class CreateFolderResponse(RopResponse):
    """2.2.4.2.2: FolderId, IsExistingFolder; an existing folder adds HasRules, IsGhosted
    and, when ghosted, the servers."""

    ROP_ID = 0x1C
    folder_id: int = 0
    is_existing_folder: int = 0
    has_rules: int = 0
    is_ghosted: int = 0
    cheap_server_count: int = 0
    servers: tuple = ()

    @classmethod
    def decode(cls, r: Reader, ctx=None):
        idx, rv = r.u8(), r.u32()
        if rv:
            return cls(idx, rv)
        fid, existing = r.u64(), r.u8()
        if not existing:
            return cls(idx, rv, fid, existing)
        rules, ghosted = r.u8(), r.u8()
        cheap, servers = _read_ghost(r) if ghosted else (0, ())
        return cls(idx, rv, fid, existing, rules, ghosted, cheap, servers)

    def encode(self, out: bytearray) -> None:
        if not self.write_head(out):
            return
        put_u64(out, self.folder_id)
        put_u8(out, self.is_existing_folder)
        if self.is_existing_folder:
            put_u8(out, self.has_rules)
            put_u8(out, self.is_ghosted)
            if self.is_ghosted:
                _write_ghost(out, self.cheap_server_count, self.servers)


@dataclass
class DeleteFolderRequest(RopRequest):
    ROP_ID = 0x1D
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    delete_folder_flags: int = wire(U8)
    folder_id: int = wire(U64)


@dataclass
class DeleteFolderResponse(RopResponse):
    ROP_ID = 0x1D
    partial_completion: int = wire(BOOL)


@dataclass
class SetSearchCriteriaRequest(RopRequest):
    """2.2.4.4.1: RestrictionDataSize + RestrictionData (MS-OXCDATA 2.12, 2-byte counts),
    FolderIdCount + FolderIds, SearchFlags."""

    ROP_ID = 0x30
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    restriction: object = wire(RESTRICTION, None)
    folder_ids: tuple = wire(IDS16, ())
    search_flags: int = wire(U32)


@dataclass
class SetSearchCriteriaResponse(RopResponse):
    ROP_ID = 0x30


@dataclass
class GetSearchCriteriaRequest(RopRequest):
    ROP_ID = 0x31
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    use_unicode: int = wire(BOOL)
    include_restriction: int = wire(BOOL)
    include_folders: int = wire(BOOL)


@dataclass
class GetSearchCriteriaResponse(RopResponse):
    """2.2.4.5.2: the restriction, then a LogonId byte, the folder ids and SearchFlags."""

    ROP_ID = 0x31
    restriction: object = wire(RESTRICTION, None)
    logon_id: int = wire(U8)
    folder_ids: tuple = wire(IDS16, ())
    search_flags: int = wire(U32)


@dataclass
class MoveFolderRequest(RopRequest):
    """2.2.4.7.1: NewFolderName in UTF-16 when UseUnicode is nonzero."""

    ROP_ID = 0x35
    logon_id: int = 0
    source_handle_index: int = 0
    dest_handle_index: int = 0
    want_asynchronous: int = 0
    use_unicode: int = 1
    folder_id: int = 0
    new_folder_name: str = ""

    @classmethod
    def decode(cls, r: Reader):
        vals = [r.u8() for _ in range(5)]
        return cls(*vals, r.u64(), _read_name(r, vals[4]))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        for v in (self.logon_id, self.source_handle_index, self.dest_handle_index,
                  self.want_asynchronous, self.use_unicode):
            put_u8(out, v)
        put_u64(out, self.folder_id)
        _write_name(out, self.new_folder_name, self.use_unicode)


@dataclass
class MoveFolderResponse(RopResponse):
    """Success and ordinary failure: PartialCompletion follows ReturnValue.  (With
    ecDstNullObject, 0x503, a DestHandleIndex (4) comes first: 2.2.4.7.3 -- not decoded
    here, the server never sends it for a resolvable destination.)"""

    ROP_ID = 0x35
    partial_completion: int = wire(BOOL, always=True)


@dataclass
class EmptyFolderRequest(RopRequest):
    ROP_ID = 0x58
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    want_asynchronous: int = wire(BOOL)
    want_delete_associated: int = wire(BOOL)


@dataclass
class EmptyFolderResponse(RopResponse):
    ROP_ID = 0x58
    partial_completion: int = wire(BOOL, always=True)


@dataclass
class HardDeleteMessagesAndSubfoldersRequest(EmptyFolderRequest):
    ROP_ID = 0x92


@dataclass
class HardDeleteMessagesAndSubfoldersResponse(EmptyFolderResponse):
    ROP_ID = 0x92


@dataclass
class DeleteMessagesRequest(RopRequest):
    ROP_ID = 0x1E
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    want_asynchronous: int = wire(BOOL)
    notify_non_read: int = wire(BOOL)
    message_ids: tuple = wire(IDS16, ())


@dataclass
class DeleteMessagesResponse(RopResponse):
    ROP_ID = 0x1E
    partial_completion: int = wire(BOOL, always=True)


@dataclass
class HardDeleteMessagesRequest(DeleteMessagesRequest):
    ROP_ID = 0x91


@dataclass
class HardDeleteMessagesResponse(DeleteMessagesResponse):
    ROP_ID = 0x91


@dataclass
class GetHierarchyTableRequest(RopRequest):
    ROP_ID = 0x04
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    table_flags: int = wire(U8)


@dataclass
class GetHierarchyTableResponse(RopResponse):
    ROP_ID = 0x04
    row_count: int = wire(U32)


@dataclass
class GetContentsTableRequest(GetHierarchyTableRequest):
    """TableFlags 0x02 Associated asks for the folder's associated (FAI) messages."""

    ROP_ID = 0x05


@dataclass
class GetContentsTableResponse(GetHierarchyTableResponse):
    ROP_ID = 0x05


@dataclass
class MoveCopyMessagesRequest(RopRequest):
    ROP_ID = 0x33
    logon_id: int = wire(U8)
    source_handle_index: int = wire(U8)
    dest_handle_index: int = wire(U8)
    message_ids: tuple = wire(IDS16, ())
    want_asynchronous: int = wire(BOOL)
    want_copy: int = wire(BOOL)


@dataclass
class MoveCopyMessagesResponse(MoveFolderResponse):
    """handle_index is the SourceHandleIndex; PartialCompletion as in RopMoveFolder."""

    ROP_ID = 0x33


@dataclass
class CopyFolderRequest(RopRequest):
    """2.2.4.8.1: NewFolderName in UTF-16 when UseUnicode is nonzero."""

    ROP_ID = 0x36
    logon_id: int = 0
    source_handle_index: int = 0
    dest_handle_index: int = 0
    want_asynchronous: int = 0
    want_recursive: int = 0
    use_unicode: int = 1
    folder_id: int = 0
    new_folder_name: str = ""

    @classmethod
    def decode(cls, r: Reader):
        vals = [r.u8() for _ in range(6)]
        return cls(*vals, r.u64(), _read_name(r, vals[5]))

    def encode(self, out: bytearray) -> None:
        out.append(self.ROP_ID)
        for v in (self.logon_id, self.source_handle_index, self.dest_handle_index,
                  self.want_asynchronous, self.want_recursive, self.use_unicode):
            put_u8(out, v)
        put_u64(out, self.folder_id)
        _write_name(out, self.new_folder_name, self.use_unicode)


@dataclass
class CopyFolderResponse(MoveFolderResponse):
    ROP_ID = 0x36


_ALL = [v for v in dict(globals()).values() if isinstance(v, type) and v.__module__ == __name__]
REQUESTS = {c.ROP_ID: c for c in _ALL if issubclass(c, RopRequest) and c is not RopRequest}
RESPONSES = {c.ROP_ID: c for c in _ALL if issubclass(c, RopResponse) and c is not RopResponse}
NAMES = {0x02: "RopOpenFolder", 0x1C: "RopCreateFolder", 0x1D: "RopDeleteFolder",
         0x30: "RopSetSearchCriteria", 0x31: "RopGetSearchCriteria", 0x35: "RopMoveFolder",
         0x58: "RopEmptyFolder", 0x92: "RopHardDeleteMessagesAndSubfolders",
         0x1E: "RopDeleteMessages", 0x91: "RopHardDeleteMessages", 0x04: "RopGetHierarchyTable",
         0x05: "RopGetContentsTable", 0x33: "RopMoveCopyMessages", 0x36: "RopCopyFolder"}
