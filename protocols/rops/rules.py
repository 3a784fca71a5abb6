"""RopModifyRules (MS-OXCROPS 2.2.11.1, MS-OXORULE 2.2.1.1-2.2.1.3). RopGetRulesTable is in ``table``.

Request: ModifyRulesFlag (1; 0x01 MODIFY_RULES_FLAG_REPLACE: the rules given replace all, each then
ROW_ADD), RulesCount (2), RulesData: RuleData each RuleDataFlags (1: 0x01 ROW_ADD, 0x02 ROW_MODIFY,
0x04 ROW_REMOVE), PropertyValueCount (2), PropertyValues (TaggedPropertyValues, MS-OXCDATA 2.11.4, where
PidTagRuleCondition is a PtypRestriction and PidTagRuleActions a PtypRuleAction, both with 2-byte counts).
Response: the usual header only (2.2.11.1.2)."""
from __future__ import annotations

from dataclasses import dataclass

from ._wire import U8, RopRequest, RopResponse, wire
from .property import ROW_ADD, ROW_MODIFY, ROW_REMOVE, ValueRows  # noqa: F401 (the row flags)

MODIFY_RULES_FLAG_REPLACE = 0x01


@dataclass(frozen=True)
class RuleData:
    flags: int
    property_values: tuple = ()      # ((tag, value), ...) in wire order


RULE_ROWS = ValueRows(RuleData)


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
