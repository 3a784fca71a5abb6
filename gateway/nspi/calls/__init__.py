"""The NSPI handler table: call name (as ``protocols.nspi.codec`` names it) -> handler.

A handler is ``async (Call, decoded request) -> response body`` (a codec response or FailureResponse).
"""
from __future__ import annotations

from . import misc, names, props, session_calls, tables
from .base import Call

HANDLERS = {
    "Bind": session_calls.bind,
    "Unbind": session_calls.unbind,
    "GetSpecialTable": tables.get_special_table,
    "QueryRows": tables.query_rows,
    "SeekEntries": tables.seek_entries,
    "UpdateStat": tables.update_stat,
    "CompareMIds": tables.compare_mids,
    "ResortRestriction": tables.resort_restriction,
    "GetProps": props.get_props,
    "GetPropList": props.get_prop_list,
    "QueryColumns": props.query_columns,
    "DNToMId": names.dn_to_mid,
    "ResolveNames": names.resolve_names,
    "GetMatches": names.get_matches,
    "GetTemplateInfo": misc.get_template_info,
    "ModProps": misc.mod_props,
    "ModLinkAtt": misc.mod_link_att,
    "GetMailboxUrl": misc.get_mailbox_url,
    "GetAddressBookUrl": misc.get_address_book_url,
}

__all__ = ["Call", "HANDLERS"]
