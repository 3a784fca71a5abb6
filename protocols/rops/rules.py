"""RopModifyRules (MS-OXCROPS 2.2.11.1, MS-OXORULE 2.2.1.1-2.2.1.3). RopGetRulesTable is in ``table``.

Request: ModifyRulesFlag (1; 0x01 MODIFY_RULES_FLAG_REPLACE: the rules given replace all, each then
ROW_ADD), RulesCount (2), RulesData: RuleData each RuleDataFlags (1: 0x01 ROW_ADD, 0x02 ROW_MODIFY,
0x04 ROW_REMOVE), PropertyValueCount (2), PropertyValues (TaggedPropertyValues, MS-OXCDATA 2.11.4, where
PidTagRuleCondition is a PtypRestriction and PidTagRuleActions a PtypRuleAction, both with 2-byte counts).
Response: the usual header only (2.2.11.1.2)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import U8, Kind, RopRequest, RopResponse, put_u8, wire
from .property import TAGGED_LIST

MODIFY_RULES_FLAG_REPLACE = 0x01
ROW_ADD, ROW_MODIFY, ROW_REMOVE = 0x01, 0x02, 0x04


@dataclass(frozen=True)
class RuleData:
    flags: int
    property_values: tuple = ()      # ((tag, value), ...) in wire order


class _RuleRows(Kind):
    def read(self, r):
        return tuple(RuleData(r.u8(), TAGGED_LIST.read(r)) for _ in range(r.u16()))

    def write(self, out, v):
        out += len(v).to_bytes(2, "little")
        for row in v:
            put_u8(out, row.flags)
            TAGGED_LIST.write(out, row.property_values)


RULE_ROWS = _RuleRows()


@dataclass
class ModifyRulesRequest(RopRequest):
    ROP_ID = 0x41
    logon_id: int = wire(U8)
    input_handle_index: int = wire(U8)
    modify_rules_flag: int = wire(U8)
    rules_data: tuple = wire(RULE_ROWS, ())


@dataclass
class ModifyRulesResponse(RopResponse):
    ROP_ID = 0x41


REQUESTS = {0x41: ModifyRulesRequest}
RESPONSES = {0x41: ModifyRulesResponse}
NAMES = {0x41: "RopModifyRules"}
