"""Folder permissions (MS-OXCROPS 2.2.10.2-3, MS-OXCPERM 2.2): RopGetPermissionsTable and
RopModifyPermissions. A PermissionData (MS-OXCPERM 2.2.2) is PermissionDataFlags (1: 0x01 add, 0x02
modify, 0x04 remove), PropertyValueCount (2) and TaggedPropertyValues (PidTagEntryId of the member when
adding, PidTagMemberId otherwise, and PidTagMemberRights)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import U8, RopRequest, RopResponse, wire
from .property import ROW_ADD, ROW_MODIFY, ROW_REMOVE, ValueRows  # noqa: F401 (the row flags)



@dataclass(frozen=True)
class PermissionData:
    flags: int
    property_values: tuple = ()


PERMISSION_ROWS = ValueRows(PermissionData)


@dataclass
class GetPermissionsTableRequest(RopRequest):
    ROP_ID = 0x3E
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    output_handle_index: int = wire(U8)
    table_flags: int = wire(U8)


@dataclass
class GetPermissionsTableResponse(RopResponse):
    ROP_ID = 0x3E


@dataclass
class ModifyPermissionsRequest(RopRequest):
    ROP_ID = 0x40
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    modify_flags: int = wire(U8)
    permissions_data: tuple = wire(PERMISSION_ROWS, ())


@dataclass
class ModifyPermissionsResponse(RopResponse):
    ROP_ID = 0x40


REQUESTS = {c.ROP_ID: c for c in (GetPermissionsTableRequest, ModifyPermissionsRequest)}
RESPONSES = {c.ROP_ID: c for c in (GetPermissionsTableResponse, ModifyPermissionsResponse)}
NAMES = {0x3E: "RopGetPermissionsTable", 0x40: "RopModifyPermissions"}
