"""Every ROP buffer of a real Outlook 2003 session with Exchange 2003 (captures/zeek-outlook2003-exchange-mapi.pcap,
EcDoRpc over DCE/RPC): each request and response buffer decodes with no ROP left unread and encodes back to
the same bytes. Real bytes for RopNotify (new mail, object and table events from Exchange), RopPending,
RopSetMessageReadFlag, RopReloadCachedInformation, RopCopyTo, RopCopyProperties, and the PropertyRows with
multi-valued binaries whose 32-bit count the row codec once read as 16-bit."""
from __future__ import annotations

from collections import Counter

from protocols.rops import decode_request_buffer, decode_response_buffer, encode_buffer
from protocols.rops import notify as N
from protocols.rops.buffer import UnknownRop
from protocols.rpch import emsmdb
from protocols.rpch.dcerpc import converse

from .test_dcerpc import EMSMDB, OUTLOOK, _rpc_streams


def _ecdorpc_calls():
    for st in _rpc_streams(OUTLOOK):
        for call in converse(st.client.data, st.server.data, known_contexts={0: EMSMDB}).calls:
            if call.interface == EMSMDB and call.opnum == 2 and call.response:
                yield emsmdb.decode_ecdorpc_request(call.request_stub), emsmdb.decode_ecdorpc_response(
                    call.response_stub)


def test_every_rop_buffer_decodes_and_round_trips():
    names: Counter = Counter()
    columns: dict = {}
    n = 0
    for req, resp in _ecdorpc_calls():
        asked = decode_request_buffer(req.rop_buffer)
        assert not [r for r in asked.rops if isinstance(r, UnknownRop)]
        assert encode_buffer(asked.rops, asked.handles) == req.rop_buffer
        if not resp.rop_buffer:
            continue
        answered = decode_response_buffer(resp.rop_buffer, asked.rops, columns)
        for r in asked.rops:
            if type(r).__name__ == "SetColumnsRequest":
                columns[r.input_handle_index] = tuple(r.property_tags)
        assert not [r for r in answered.rops if isinstance(r, UnknownRop)], answered.rops
        assert encode_buffer(answered.rops, answered.handles) == resp.rop_buffer
        names.update(type(r).__name__ for r in answered.rops)
        n += 1
    assert n > 100
    for name in ("NotifyResponse", "PendingResponse", "SetMessageReadFlagResponse",
                 "ReloadCachedInformationResponse", "CopyToResponse", "CopyPropertiesResponse"):
        assert names[name], name


def test_exchange_notifications_read_as_the_spec_lays_them_out():
    kinds: Counter = Counter()
    for req, resp in _ecdorpc_calls():
        if not resp.rop_buffer:
            continue
        for r in decode_response_buffer(resp.rop_buffer, decode_request_buffer(req.rop_buffer).rops).rops:
            if isinstance(r, N.NotifyResponse):
                kinds[r.data.type] += 1
                if r.data.type == N.NEW_MAIL:
                    assert r.data.message_class.startswith("IPM") and r.data.flags & N.FLAG_MESSAGE
                if r.data.type == N.TABLE_MODIFIED:
                    assert r.data.table_event_type in (N.TABLE_CHANGED, N.TABLE_ROW_ADDED, N.TABLE_ROW_DELETED,
                                                       N.TABLE_ROW_MODIFIED, N.TABLE_RESTRICTION_CHANGED)
    assert sum(kinds.values()) == 61 and len(kinds) >= 2, kinds
