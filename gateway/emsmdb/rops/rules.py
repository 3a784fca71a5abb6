"""Server-side rules (MS-OXCROPS 2.2.11.1, MS-OXORULE 2.2.1-2.2.2, 3.2.5.1-2): RopGetRulesTable and
RopModifyRules on a folder, carried out by the store as a Sieve script
(gateway/store/sieve_rules.py, reached as the EWS Out of Office handler reaches sieve_oof).

The rules table lists the rules stored on the user's ManageSieve server with the properties the client
wrote. A rule Sieve cannot carry out, or a mailbox without a ManageSieve server, is answered with
ecNotSupported and nothing is stored: never a success that does nothing. Without a ManageSieve server
the table is empty."""
from __future__ import annotations

from gateway.store import sieve_rules
from gateway.store.errors import InvalidOperation, NotFound, StoreError
from protocols.mapi.props import core as P
from protocols.rops import rules as R, table as T

from ..call import EC_NO_SUPPORT, EC_NOT_FOUND, RopError, store_error_code
from ..listview import ListRow
from ..objects import TableObj

RULE_COLUMNS = (P.PidTagRuleId, P.PidTagRuleSequence, P.PidTagRuleState, P.PidTagRuleName, P.PidTagRuleProvider,
                P.PidTagRuleLevel, P.PidTagRuleUserFlags, P.PidTagRuleProviderData, P.PidTagRuleCondition,
                P.PidTagRuleActions)


async def get_rules_table(call, req: T.GetRulesTableRequest):
    folder = call.obj(req.input_handle_index, "folder")
    try:
        rules = await sieve_rules.load_rules(call.mbx)
    except StoreError as exc:
        raise RopError(store_error_code(exc), str(exc)) from exc
    rows = tuple(ListRow(r.props()) for r in rules)
    table = TableObj(folder.logon_id, folder.fid, notify=False, fixed_rows=rows)
    call.put(req.output_handle_index, folder.logon_id, table)
    return T.GetRulesTableResponse(handle_index=req.output_handle_index, return_value=0)


async def modify_rules(call, req: R.ModifyRulesRequest):
    call.obj(req.input_handle_index, "folder")
    changes = [(row.flags, dict(row.property_values)) for row in req.rules_data]
    try:
        await sieve_rules.modify_rules(call.mbx, changes,
                                       replace_all=bool(req.modify_rules_flag & R.MODIFY_RULES_FLAG_REPLACE))
    except InvalidOperation as exc:          # sieve_rules.RuleNotSupported, NoRuleServer: nothing was stored
        raise RopError(EC_NO_SUPPORT, str(exc)) from exc
    except NotFound as exc:
        raise RopError(EC_NOT_FOUND, str(exc)) from exc
    except StoreError as exc:
        raise RopError(store_error_code(exc), str(exc)) from exc
    return R.ModifyRulesResponse(handle_index=req.input_handle_index, return_value=0)


HANDLERS = {0x3F: get_rules_table, 0x41: modify_rules}
