"""Folder permissions (MS-OXCROPS 2.2.10.2-3, MS-OXCPERM 2.2): RopGetPermissionsTable and
RopModifyPermissions. A PermissionData (MS-OXCPERM 2.2.2) is PermissionDataFlags (1: 0x01 add, 0x02
modify, 0x04 remove), PropertyValueCount (2) and TaggedPropertyValues (PidTagEntryId of the member when
adding, PidTagMemberId otherwise, and PidTagMemberRights)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import U8, Kind, RopRequest, RopResponse, put_u8, wire
from .property import TAGGED_LIST

ROW_ADD, ROW_MODIFY, ROW_REMOVE = 0x01, 0x02, 0x04


@dataclass(frozen=True)
class PermissionData:
    flags: int
    property_values: tuple = ()


class _PermissionRows(Kind):
    def read(self, r):
        return tuple(PermissionData(r.u8(), TAGGED_LIST.read(r)) for _ in range(r.u16()))

    def write(self, out, v):
        out += len(v).to_bytes(2, "little")
        for row in v:
            put_u8(out, row.flags)
            TAGGED_LIST.write(out, row.property_values)


PERMISSION_ROWS = _PermissionRows()


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
