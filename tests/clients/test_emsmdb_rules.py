"""Server-side rules over MAPI/HTTP (MS-OXORULE): RopModifyRules and RopGetRulesTable.

On the real servers a rule becomes the Sieve script exgate-rules on Dovecot's ManageSieve (read here
with the project's ManageSieveClient straight from Dovecot), run at delivery from exgate-oof: a message
from carol sent over SMTP lands in the rule's folder, marked \\Seen, seen over IMAP. A rule Sieve cannot
carry out is refused with ecNotSupported and not stored. Removing the rule removes the script. On the demo
(no ManageSieve server) the rules table is empty and ModifyRules is refused, not pretended."""
from __future__ import annotations

import asyncio
import imaplib
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

from gateway.backends.sieve import ManageSieveClient
from gateway.store import sieve_oof, sieve_rules
from protocols.mapi import ruleaction as RA
from protocols.mapi.props import core as P
from protocols.mapi.restrictions import FL_IGNORECASE, FL_SUBSTRING, ContentRestriction
from protocols.rops import decode_ext_buffer, decode_request_buffer, folder as F, rules as R, table as T

from .test_emsmdb import LOGON_ID, NO, RULER, MapiClient, logon
from .test_emsmdb_folderops import make_folder_with_messages

RULER_RULES = next(v for v in RULER if v["id"] == "mapi_basic_display-5")   # fixtures/rops/ruler_execute.json
EC_NO_SUPPORT, EC_NOT_FOUND = 0x80040102, 0x8004010F
COLUMNS = (P.PidTagRuleId, P.PidTagRuleSequence, P.PidTagRuleState, P.PidTagRuleName, P.PidTagRuleProvider,
           P.PidTagRuleLevel, P.PidTagRuleUserFlags, P.PidTagRuleProviderData, P.PidTagRuleCondition,
           P.PidTagRuleActions)
FROM_CAROL = ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagSenderEmailAddress, "carol@example.test")


def _rule_props(name: str, actions: RA.RuleAction) -> tuple:
    return ((P.PidTagRuleName, name), (P.PidTagRuleSequence, 10), (P.PidTagRuleState, 0x01),
            (P.PidTagRuleProvider, "RuleOrganizer"), (P.PidTagRuleLevel, 0), (P.PidTagRuleUserFlags, 0),
            (P.PidTagRuleProviderData, b"\x01\x00\x00\x00"), (P.PidTagRuleCondition, FROM_CAROL),
            (P.PidTagRuleActions, actions))


async def _rules(c, inbox_h) -> list[dict]:
    got = await c.execute([T.GetRulesTableRequest(LOGON_ID, 0, 1, 0x40),
                           T.SetColumnsRequest(LOGON_ID, 1, 0, COLUMNS),
                           T.QueryRowsRequest(LOGON_ID, 1, 0, 1, 50)], [inbox_h, NO])
    table, cols, rows = got.rops
    assert table.return_value == 0 and cols.return_value == 0 and rows.return_value == 0
    return [dict(zip(COLUMNS, r.values)) for r in rows.rows(COLUMNS)]


async def _modify(c, inbox_h, *rows: R.RuleData, flag: int = 0) -> int:
    got = await c.execute([R.ModifyRulesRequest(LOGON_ID, 0, flag, tuple(rows))], [inbox_h])
    return got.rops[0].return_value


def _send_from_carol(gw, subject: str) -> None:
    cfg = gw.state.config.smtp
    msg = EmailMessage()
    msg["From"] = "Carol <carol@example.test>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content("filed by a rule")
    with smtplib.SMTP(cfg.host, cfg.port, timeout=10) as s:
        s.send_message(msg)


def _find_flags(gw, folder: str, subject: str) -> str | None:
    """The FLAGS of the message with ``subject`` in ``folder`` of alice's, or None."""
    cfg = gw.state.config.imap
    with imaplib.IMAP4(cfg.host, cfg.port) as im:
        im.login("alice", "alicepw")
        if im.select(f'"{folder}"', readonly=True)[0] != "OK":
            return None
        _, data = im.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
        uids = data[0].split()
        if not uids:
            return None
        _, got = im.uid("FETCH", uids[-1], "(FLAGS)")
        return got[0].decode()


async def _sieve(gw) -> ManageSieveClient:
    sc = gw.state.config.sieve
    return await ManageSieveClient.connect(sc.host, sc.port, user="alice", password="alicepw")


async def test_rule_in_sieve_files_carols_mail_read(real_gateway):
    gw = real_gateway
    tag = uuid.uuid4().hex[:6]
    folder_name = f"Carol {tag}"
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    _, _, fid, _ = await make_folder_with_messages(c, logon_h, lr, folder_name, [])
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    inbox_h = got.handles[1]
    assert await _rules(c, inbox_h) == []

    move_read = RA.RuleAction((RA.ActionBlock(RA.OP_MOVE, RA.MoveCopy(1, b"\x01", RA.ServerEid(fid))),
                               RA.ActionBlock(RA.OP_MARK_AS_READ)))
    assert await _modify(c, inbox_h, R.RuleData(R.ROW_ADD, _rule_props(f"carol {tag}", move_read))) == 0
    try:
        (row,) = await _rules(c, inbox_h)
        assert row[P.PidTagRuleName] == f"carol {tag}" and row[P.PidTagRuleState] == 1
        assert row[P.PidTagRuleProvider] == "RuleOrganizer" and row[P.PidTagRuleSequence] == 10
        assert row[P.PidTagRuleProviderData] == b"\x01\x00\x00\x00"
        assert row[P.PidTagRuleCondition] == FROM_CAROL and row[P.PidTagRuleActions] == move_read
        rule_id = row[P.PidTagRuleId]
        # ruler's own GetRulesTable + SetColumns(PidTagRuleName, PidTagRuleId) + QueryRows, its recorded bytes
        ruler = decode_request_buffer(decode_ext_buffer(bytes.fromhex(RULER_RULES["request_rop_buffer_hex"]))[0]
                                      .payload)
        got = await c.execute(ruler.rops, [inbox_h, NO])
        assert [r.return_value for r in got.rops] == [0, 0, 0]
        cols = ruler.rops[1].property_tags
        assert [r.values for r in got.rops[2].rows(cols)] == [(f"carol {tag}", rule_id)]

        # the script on the server, over plain ManageSieve
        async with await _sieve(gw) as ms:
            names = {s.name for s in await ms.list_scripts()}
            assert sieve_rules.SCRIPT_NAME in names
            assert await ms.active_script() == sieve_oof.SCRIPT_NAME
            script = await ms.get_script(sieve_rules.SCRIPT_NAME)
            assert 'if address :contains "from" "carol@example.test" {' in script
            assert 'addflag "\\\\Seen";' in script and f'fileinto "{folder_name}";' in script
            assert 'include :personal :optional "exgate-rules";' in await ms.get_script(sieve_oof.SCRIPT_NAME)
            # someone switches the scripts off on the server: the rule reads back in error (ST_ERROR)
            await ms.set_active(None)
            assert [r[P.PidTagRuleState] for r in await _rules(c, inbox_h)] == [0x01 | 0x02]
            await ms.set_active(sieve_oof.SCRIPT_NAME)
            assert [r[P.PidTagRuleState] for r in await _rules(c, inbox_h)] == [0x01]

        # a rule Sieve cannot carry out (a client-side, deferred action) is refused and not stored
        deferred = RA.RuleAction((RA.ActionBlock(RA.OP_DEFER_ACTION, b"client data"),))
        assert await _modify(c, inbox_h, R.RuleData(R.ROW_ADD, _rule_props("deferred", deferred))) == EC_NO_SUPPORT
        assert [r[P.PidTagRuleId] for r in await _rules(c, inbox_h)] == [rule_id]

        # delivery: carol's message lands in the folder, read
        subject = f"from carol {tag}"
        await asyncio.to_thread(_send_from_carol, gw, subject)
        flags = None
        for _ in range(80):
            flags = await asyncio.to_thread(_find_flags, gw, folder_name, subject)
            if flags:
                break
            await asyncio.sleep(0.25)
        assert flags, f"carol's message never reached {folder_name!r}"
        assert "\\Seen" in flags
        assert await asyncio.to_thread(_find_flags, gw, "INBOX", subject) is None

        # removed: gone from the table and from the server; exgate-oof no longer includes it
        assert await _modify(c, inbox_h, R.RuleData(R.ROW_REMOVE, ((P.PidTagRuleId, rule_id),))) == 0
        assert await _rules(c, inbox_h) == []
        async with await _sieve(gw) as ms:
            assert sieve_rules.SCRIPT_NAME not in {s.name for s in await ms.list_scripts()}
            if sieve_oof.SCRIPT_NAME in {s.name for s in await ms.list_scripts()}:
                assert "exgate-rules" not in await ms.get_script(sieve_oof.SCRIPT_NAME)
        # removing it again: not found
        assert await _modify(c, inbox_h, R.RuleData(R.ROW_REMOVE, ((P.PidTagRuleId, rule_id),))) == EC_NOT_FOUND
    finally:
        # whatever happened above, alice has no rules afterwards (ModifyRulesFlag REPLACE with none)
        assert await _modify(c, inbox_h, flag=R.MODIFY_RULES_FLAG_REPLACE) == 0


async def test_rules_without_managesieve_are_refused(demo_gateway):
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    inbox_h = got.handles[1]
    mark = RA.RuleAction((RA.ActionBlock(RA.OP_MARK_AS_READ),))
    assert await _modify(c, inbox_h, R.RuleData(R.ROW_ADD, _rule_props("read", mark))) == EC_NO_SUPPORT
    assert await _rules(c, inbox_h) == []


async def _wait_flags(gw, folder: str, subject: str) -> str | None:
    for _ in range(80):
        flags = await asyncio.to_thread(_find_flags, gw, folder, subject)
        if flags:
            return flags
        await asyncio.sleep(0.25)
    return None


async def test_rules_and_out_of_office_run_together(real_gateway):
    """The rules run from exgate-oof: with automatic replies on, carol's message is filed by the rule and
    she still gets the reply; with them off, exgate-oof stays active for the rules (EWS reads Disabled);
    without rules it is inactive again."""
    from exchangelib import OofSettings

    from .test_ews_exchangelib import account
    from .test_ews_oof import _find

    gw = real_gateway
    tag = uuid.uuid4().hex[:6]
    folder_name = f"Carol oof {tag}"
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    _, _, fid, _ = await make_folder_with_messages(c, logon_h, lr, folder_name, [])
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    inbox_h = got.handles[1]
    move = RA.RuleAction((RA.ActionBlock(RA.OP_MOVE, RA.MoveCopy(1, b"\x01", RA.ServerEid(fid))),))
    assert await _modify(c, inbox_h, R.RuleData(R.ROW_ADD, _rule_props(f"oof {tag}", move))) == 0
    a = account(gw)
    try:
        away = f"alice is away {tag}"
        await asyncio.to_thread(setattr, a, "oof_settings", OofSettings(
            state=OofSettings.ENABLED, external_audience="All", internal_reply=away, external_reply=away))
        async with await _sieve(gw) as ms:
            assert await ms.active_script() == sieve_oof.SCRIPT_NAME
            oof_script = await ms.get_script(sieve_oof.SCRIPT_NAME)
            assert 'include :personal :optional "exgate-rules";' in oof_script and "vacation" in oof_script
        subject = f"while away {tag}"
        await asyncio.to_thread(_send_from_carol, gw, subject)
        assert await _wait_flags(gw, folder_name, subject), "the rule did not file carol's message"
        replies = await asyncio.to_thread(_find, gw, "carol", tag, timeout=20)
        assert [m for m in replies if m["Subject"].startswith("Automatic reply")], "no automatic reply"

        await asyncio.to_thread(setattr, a, "oof_settings", OofSettings(state=OofSettings.DISABLED))
        assert (await asyncio.to_thread(lambda: a.oof_settings)).state == OofSettings.DISABLED
        async with await _sieve(gw) as ms:
            assert await ms.active_script() == sieve_oof.SCRIPT_NAME       # kept active for the rules
            assert "vacation " not in await ms.get_script(sieve_oof.SCRIPT_NAME)
        subject = f"back again {tag}"
        await asyncio.to_thread(_send_from_carol, gw, subject)
        assert await _wait_flags(gw, folder_name, subject), "the rule stopped with automatic replies off"
    finally:
        await asyncio.to_thread(setattr, a, "oof_settings", OofSettings(state=OofSettings.DISABLED))
        assert await _modify(c, inbox_h, flag=R.MODIFY_RULES_FLAG_REPLACE) == 0
    async with await _sieve(gw) as ms:
        assert await ms.active_script() != sieve_oof.SCRIPT_NAME
        assert sieve_rules.SCRIPT_NAME not in {s.name for s in await ms.list_scripts()}
