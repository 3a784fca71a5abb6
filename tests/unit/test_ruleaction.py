"""PtypRuleAction / PtypRestriction property values (MS-OXORULE 2.2.5, MS-OXCDATA 2.11.1) and the
RopModifyRules codec (MS-OXORULE 2.2.1.1), on bytes laid out from the specs."""
from __future__ import annotations

import uuid

import pytest

from protocols.mapi import ruleaction as RA
from protocols.mapi.props import core as P
from protocols.mapi.restrictions import (FL_IGNORECASE, FL_SUBSTRING, AndRestriction, ContentRestriction,
                                         RestrictionError)
from protocols.mapi.values import PropValueError, decode_tagged, encode_tagged
from protocols.rops import ROPS, decode_request_buffer, encode_buffer
from protocols.rops import rules as R
from protocols.rops._wire import Reader

# OP_MOVE to a folder of this store (StoreEID one byte, FolderEID a ServerEid), then OP_MARK_AS_READ,
# in a ROP buffer: 2-byte NoOfActions and ActionLength (MS-OXORULE 2.2.5, 2.2.5.1, 2.2.5.1.2.1.1)
MOVE_AND_READ = bytes.fromhex(
    "0200"                                      # NoOfActions 2
    "2400" "01" "00000000" "00000000"           # ActionLength 36, OP_MOVE, flavor, flags
    "01" "0100" "01" "1500"                     # FolderInThisStore, StoreEIDSize 1, StoreEID, FolderEIDSize 21
    "01" "0100000000003412" "0000000000000000" "00000000"   # ServerEid: Ours, FolderId, MessageId, Instance
    "0900" "0b" "00000000" "00000000"           # ActionLength 9, OP_MARK_AS_READ
)


def test_move_and_mark_as_read_round_trip():
    value, end = RA.decode_rule_action(MOVE_AND_READ)
    assert end == len(MOVE_AND_READ)
    move, read = value.actions
    assert move.action_type == RA.OP_MOVE and read.action_type == RA.OP_MARK_AS_READ and read.data is None
    assert move.data.folder_in_this_store == 1 and move.data.store_eid == b"\x01"
    assert move.data.folder_eid == RA.ServerEid(0x1234000000000001, 0, 0)
    assert RA.encode_rule_action(value) == MOVE_AND_READ


def test_every_action_type_round_trips_both_widths():
    forward = (RA.RecipientBlock(((P.PidTagDisplayName if hasattr(P, "PidTagDisplayName") else 0x3001001F, "Bob"),
                                  (P.PidTagSmtpAddress, "bob@example.test")), 0),)
    value = RA.RuleAction((
        RA.ActionBlock(RA.OP_COPY, RA.MoveCopy(0, b"store-eid", b"\x00" * 46)),
        RA.ActionBlock(RA.OP_REPLY, RA.ReplyTemplate(5, 6, uuid.UUID(int=7))),
        RA.ActionBlock(RA.OP_OOF_REPLY, RA.ReplyTemplate(1, 2, uuid.UUID(int=3)), flavor=0x01),
        RA.ActionBlock(RA.OP_DEFER_ACTION, b"client blob"),
        RA.ActionBlock(RA.OP_BOUNCE, 0x1F),
        RA.ActionBlock(RA.OP_FORWARD, forward, flavor=0x03),
        RA.ActionBlock(RA.OP_DELEGATE, forward),
        RA.ActionBlock(RA.OP_TAG, (P.PidTagImportance if hasattr(P, "PidTagImportance") else 0x00170003, 2)),
        RA.ActionBlock(RA.OP_DELETE),
        RA.ActionBlock(0x7F, b"unknown"),
    ))
    for cw in (2, 4):
        data = RA.encode_rule_action(value, count_width=cw)
        back, end = RA.decode_rule_action(data, count_width=cw)
        assert back == value and end == len(data)
        assert RA.encode_rule_action(back, count_width=cw) == data


def test_forward_recipient_block_bytes():
    # OP_FORWARD with one RecipientBlockData: Reserved 1, NoOfProperties 1, PidTagSmtpAddress "a@b"
    blob = bytes.fromhex("0100" "1a00" "07" "00000000" "00000000" "0100" "01" "0100" "1f00fe39" "610040006200" "0000")
    value, _ = RA.decode_rule_action(blob)
    (fwd,) = value.actions
    assert fwd.data == (RA.RecipientBlock(((P.PidTagSmtpAddress, "a@b"),), 1),)
    assert RA.encode_rule_action(value) == blob


def test_bad_rule_actions_are_errors():
    with pytest.raises(RA.RuleActionError):
        RA.decode_rule_action(MOVE_AND_READ[:-3])
    with pytest.raises(RA.RuleActionError):            # ActionLength shorter than the fixed fields
        RA.decode_rule_action(bytes.fromhex("0100" "0400" "0b000000"))
    with pytest.raises(RA.RuleActionError):            # bytes left inside a block
        RA.decode_rule_action(bytes.fromhex("0100" "0a00" "0b" "00000000" "00000000" "ff"))


def test_tagged_values_of_the_two_types():
    cond = AndRestriction((ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagSenderEmailAddress, "carol"),))
    for tag, value in ((P.PidTagRuleCondition, cond), (P.PidTagRuleActions, RA.decode_rule_action(MOVE_AND_READ)[0])):
        for wide in (False, True):
            data = encode_tagged(tag, value, wide=wide)
            t, back, end = decode_tagged(data, wide=wide)
            assert (t, back, end) == (tag, value, len(data))
    assert encode_tagged(P.PidTagRuleActions, RA.decode_rule_action(MOVE_AND_READ)[0])[4:] == MOVE_AND_READ
    with pytest.raises(PropValueError):
        decode_tagged(bytes.fromhex("fe006866" "0100" "0900"))
    with pytest.raises(PropValueError):
        decode_tagged(bytes.fromhex("fd007966" "ff"))
    assert issubclass(RestrictionError, ValueError)


# RopModifyRules (0x41): LogonId, InputHandleIndex, ModifyRulesFlag, RulesCount, RuleData
# (RuleDataFlags, PropertyValueCount, TaggedPropertyValues) -- MS-OXCROPS 2.2.11.1.1
def _modify_rules_bytes() -> bytes:
    props = (encode_tagged(P.PidTagRuleName, "carol") + encode_tagged(P.PidTagRuleSequence, 10)
             + encode_tagged(P.PidTagRuleState, 1)
             + encode_tagged(P.PidTagRuleCondition,
                             ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagSenderEmailAddress, "carol"))
             + encode_tagged(P.PidTagRuleActions, RA.decode_rule_action(MOVE_AND_READ)[0]))
    remove = encode_tagged(P.PidTagRuleId, 7)
    return (bytes([0x41, 0, 0, 0x00]) + (2).to_bytes(2, "little")
            + b"\x01" + (5).to_bytes(2, "little") + props
            + b"\x04" + (1).to_bytes(2, "little") + remove)


def test_modify_rules_request_round_trip():
    assert ROPS[0x41].name == "RopModifyRules" and ROPS[0x3F].name == "RopGetRulesTable"
    rop = _modify_rules_bytes()
    buf = (len(rop) + 2).to_bytes(2, "little") + rop + (0).to_bytes(4, "little")   # RopSize, RopsList, one handle
    decoded = decode_request_buffer(buf)
    (req,) = decoded.rops
    assert isinstance(req, R.ModifyRulesRequest) and req.modify_rules_flag == 0
    add, remove = req.rules_data
    assert add.flags == R.ROW_ADD and dict(add.property_values)[P.PidTagRuleName] == "carol"
    acts = dict(add.property_values)[P.PidTagRuleActions]
    assert [a.action_type for a in acts.actions] == [RA.OP_MOVE, RA.OP_MARK_AS_READ]
    assert remove.flags == R.ROW_REMOVE and remove.property_values == ((P.PidTagRuleId, 7),)
    assert encode_buffer(decoded.rops, decoded.handles) == buf


def test_modify_rules_response():
    resp = R.ModifyRulesResponse(handle_index=0, return_value=0x80040102)
    out = bytearray()
    resp.encode(out)
    assert bytes(out) == bytes([0x41, 0]) + (0x80040102).to_bytes(4, "little")
    assert R.ModifyRulesResponse.decode(Reader(bytes(out), 1)) == resp
