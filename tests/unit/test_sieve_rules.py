"""Rules as Sieve (gateway/store/sieve_rules.py): what a rule becomes, what is refused, the data line read
back, RopModifyRules' add/modify/remove/replace, and exgate-oof including the rules script."""
from __future__ import annotations

import pytest

from gateway.store import errors as se, sieve_oof, sieve_rules as SR
from gateway.store.oof import OofSettings
from protocols.mapi import ruleaction as RA
from protocols.mapi.props import core as P
from protocols.mapi.restrictions import (
    BMR_NEZ, FL_IGNORECASE, FL_PREFIX, FL_SUBSTRING, RELOP_EQ, AndRestriction, BitMaskRestriction,
    CommentRestriction, ContentRestriction, NotRestriction, OrRestriction, PropertyRestriction,
    SubObjectRestriction,
)

FID_X = 0x0001000000000123
FROM_CAROL = ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagSenderEmailAddress, "carol")
MOVE_READ = RA.RuleAction((RA.ActionBlock(RA.OP_MOVE, RA.MoveCopy(1, b"\x01", RA.ServerEid(FID_X))),
                           RA.ActionBlock(RA.OP_MARK_AS_READ)))


def rule(**kw) -> SR.Rule:
    base = dict(rule_id=1, sequence=10, state=SR.ST_ENABLED, name="carol", condition=FROM_CAROL, actions=MOVE_READ)
    base.update(kw)
    return SR.Rule(**base)


def test_move_and_mark_read_render_and_read_back():
    r = rule()
    script = SR.render([r], folders={FID_X: "Carol's"}, addresses=["alice@example.test"])
    assert 'require ["fileinto", "imap4flags"];' in script
    assert 'if address :contains "from" "carol" {\r\n    addflag "\\\\Seen";\r\n    fileinto "Carol\'s";\r\n}' \
        in script
    back = SR.parse(script)
    assert back.rules == (r,) and back.next_id == 2
    assert back.rules[0].props()[P.PidTagRuleActions] == MOVE_READ


def test_conditions():
    rd = SR._Render(["alice@example.test"], None)
    assert rd.test(AndRestriction(())) == "true"
    assert rd.test(OrRestriction((ContentRestriction(FL_PREFIX, P.PidTagSubject, "a*b"),
                                  NotRestriction(PropertyRestriction(RELOP_EQ, P.PidTagMessageToMe, True))))) == \
        'anyof (header :comparator "i;octet" :matches "subject" "a\\\\*b*", not address :is "to" ' \
        '["alice@example.test"])'
    assert rd.test(PropertyRestriction(RELOP_EQ, P.PidTagSenderSearchKey, b"SMTP:CAROL@EXAMPLE.TEST\0")) == \
        'address :is "from" "CAROL@EXAMPLE.TEST"'
    assert rd.test(SubObjectRestriction(0x0E12000D, ContentRestriction(FL_SUBSTRING | FL_IGNORECASE,
                                                                       P.PidTagSmtpAddress, "bob"))) == \
        'address :contains ["to", "cc"] "bob"'
    assert rd.test(CommentRestriction(((0x6001001F, "Carol"),), FROM_CAROL)) == 'address :contains "from" "carol"'
    assert rd.test(ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagBody, "x")) == \
        'body :text :contains "x"'
    assert rd.test(BitMaskRestriction(BMR_NEZ, P.PidTagMessageFlags, P.MSGFLAG_HASATTACH)).startswith("header :mime")
    assert rd.need == ["body", "mime"]
    with pytest.raises(SR.RuleNotSupported):
        SR._Render([], frozenset({"fileinto"})).test(BitMaskRestriction(BMR_NEZ, P.PidTagMessageFlags, 0x10))
    with pytest.raises(SR.RuleNotSupported):
        rd.test(PropertyRestriction(RELOP_EQ, P.PidTagImportance if hasattr(P, "PidTagImportance") else 0x00170003, 2))


def test_actions_and_refusals():
    fwd = RA.ActionBlock(RA.OP_FORWARD, (RA.RecipientBlock(((P.PidTagSmtpAddress, "bob@example.test"),)),))
    script = SR.render([rule(actions=RA.RuleAction((fwd, RA.ActionBlock(RA.OP_DELETE))),
                             state=SR.ST_ENABLED | SR.ST_EXIT_LEVEL)], folders={})
    assert 'redirect :copy "bob@example.test";\r\n    discard;\r\n    return;' in script
    assert '"copy"' in script and '"include"' in script
    for bad in (RA.ActionBlock(RA.OP_DEFER_ACTION, b"x"), RA.ActionBlock(RA.OP_TAG, (0x00170003, 2)),
                RA.ActionBlock(RA.OP_MOVE, RA.MoveCopy(0, b"s", b"f")),
                RA.ActionBlock(RA.OP_MOVE, RA.MoveCopy(1, b"\x01", RA.ServerEid(0x999)))):
        with pytest.raises(SR.RuleNotSupported):
            SR.render([rule(actions=RA.RuleAction((bad,)))], folders={FID_X: "X"})
    with pytest.raises(SR.RuleNotSupported):
        SR.render([rule(state=SR.ST_ENABLED | SR.ST_ONLY_WHEN_OOF)], folders={FID_X: "X"})
    # a disabled rule is kept but runs nothing
    script = SR.render([rule(state=0)], folders={FID_X: "X"})
    assert "fileinto \"" not in script and "(disabled)" in script and SR.parse(script).rules[0].state == 0


def test_apply_changes():
    cur = SR.RulesScript((), 1)
    add = {P.PidTagRuleName: "one", P.PidTagRuleSequence: 10, P.PidTagRuleState: 1,
           P.PidTagRuleCondition: FROM_CAROL, P.PidTagRuleActions: MOVE_READ, P.PidTagRuleProvider: "RuleOrganizer"}
    cur = SR.apply_changes(cur, [(SR.ROW_ADD, add), (SR.ROW_ADD, {**add, P.PidTagRuleName: "two"})])
    assert [(r.rule_id, r.name) for r in cur.rules] == [(1, "one"), (2, "two")] and cur.next_id == 3
    cur = SR.apply_changes(cur, [(SR.ROW_MODIFY, {P.PidTagRuleId: 2, P.PidTagRuleState: 0})])
    assert cur.rules[1].state == 0 and cur.rules[1].name == "two"
    cur = SR.apply_changes(cur, [(SR.ROW_REMOVE, {P.PidTagRuleId: 1})])
    assert [r.rule_id for r in cur.rules] == [2]
    with pytest.raises(se.NotFound):
        SR.apply_changes(cur, [(SR.ROW_REMOVE, {P.PidTagRuleId: 1})])
    cur = SR.apply_changes(cur, [(SR.ROW_ADD, add)], replace_all=True)
    assert [r.rule_id for r in cur.rules] == [3]


def test_oof_script_includes_the_rules_first():
    s = sieve_oof.render(OofSettings(), addresses=["alice@example.test"], previous="mine", with_rules=True)
    lines = s.splitlines()
    assert 'require ["include"];' in lines
    assert lines.index('include :personal :optional "exgate-rules";') < lines.index(
        'include :personal :optional "mine";')
    assert "exgate-rules" not in sieve_oof.render(OofSettings(), addresses=[], previous="mine")


def test_move_by_folder_entryid_of_this_store():
    import uuid
    from types import SimpleNamespace

    from protocols.mapi import ids as wire

    guid = uuid.UUID(int=5)
    ident = SimpleNamespace(mailbox_guid=guid, fid=lambda g: wire.make_id(1, g))
    eid = wire.FolderEntryId(guid, wire.eitLTPrivateFolder, uuid.UUID(int=6), 0x42).encode()
    other = wire.FolderEntryId(uuid.UUID(int=7), wire.eitLTPrivateFolder, uuid.UUID(int=6), 0x42).encode()
    mbx = SimpleNamespace(ident=ident)
    assert SR._fid_of(mbx, eid) == wire.make_id(1, 0x42) and SR._fid_of(mbx, other) is None
    assert SR._fid_of(mbx, b"short") is None
    copy = RA.RuleAction((RA.ActionBlock(RA.OP_COPY, RA.MoveCopy(0, b"store", eid)),))
    r = rule(actions=copy)
    assert SR.folder_refs([r]) == {eid}
    assert 'fileinto :copy "Archive";' in SR.render([r], folders={eid: "Archive"})
    with pytest.raises(SR.RuleNotSupported):
        SR.render([r], folders={})
