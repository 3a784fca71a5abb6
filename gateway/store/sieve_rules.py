"""Server-side rules (MS-OXORULE) kept as a Sieve script on the user's ManageSieve server.

The rules of a mailbox's Inbox live in one script, ``exgate-rules``, which the backend's delivery agent
(Dovecot Pigeonhole at LMTP time) runs; the gateway only writes it. The script is the source of truth:
every rule as the client wrote it (id, name, sequence, state, provider, level, user flags, provider data,
the condition and the actions as their MS-OXORULE bytes) rides base64-encoded JSON in a comment line,
so RopGetRulesTable reads back what RopModifyRules stored.

How it runs next to Out of Office and the user's own script: only one script is active (RFC 5804
section 1.1). ``exgate-oof`` (gateway/store/sieve_oof.py) is the head: while rules exist it is active (even
with automatic replies off), starts with ``include :personal :optional "exgate-rules"`` (RFC 6609), then its
vacation action, then ``include :personal :optional "<the user's previous script>"``. So the rules run
first, automatic replies still answer a message a rule filed away, and the user's own script is never
changed (it still runs last). Without rules, exgate-oof works as before (active only while OOF is on).

What is expressed (everything else is refused with RuleNotSupported, never stored as a no-op):
- conditions: sender address or name, subject, body, To/Cc display, recipient addresses (a
  SubObject restriction on the recipients) compared with full string / substring / prefix
  (ContentRestriction) or equal / not equal (PropertyRestriction); sender search keys ("SMTP:addr");
  PidTagMessageToMe / PidTagMessageCcMe; an attachment (PidTagHasAttachments, MSGFLAG_HASATTACH) when the
  server has Sieve "mime" (RFC 5703); AND / OR / NOT / comment restrictions of these; exist restrictions
  on those properties.
- actions: OP_MOVE to a mail folder of this mailbox (``fileinto``), OP_COPY (``fileinto :copy``,
  RFC 3894), OP_DELETE (``discard``: Outlook's "permanently delete"; its "delete" is an OP_MOVE to
  Deleted Items, which is a move like any other), OP_MARK_AS_READ (``addflag "\\Seen"``, RFC 5232, put
  before the other actions so the filed copy carries it), OP_FORWARD (``redirect :copy`` to each
  recipient's SMTP address), OP_BOUNCE (``reject``).
- PidTagRuleState: ST_ENABLED rules run; disabled ones are only kept in the data line; ST_EXIT_LEVEL ends
  the rules after this one (``return``: the rest of the rules script is skipped and the including
  script goes on with automatic replies and the user's script).
Refused: OP_REPLY/OP_OOF_REPLY (reply templates), OP_DEFER_ACTION (client-side rules), OP_DELEGATE,
OP_TAG, moves to other stores or non-mail folders, ST_ONLY_WHEN_OOF, other restrictions.
"""
from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Sequence

from gateway.backends.sieve import ManageSieveClient, ManageSieveError
from protocols.mapi import ids as wire_ids, ruleaction as RA
from protocols.mapi.props import core as P
from protocols.mapi.restrictions import (
    FL_PREFIX, FL_SUBSTRING, RELOP_EQ, RELOP_NE, AndRestriction, BitMaskRestriction, CommentRestriction,
    ContentRestriction, ExistRestriction, NotRestriction, OrRestriction, PropertyRestriction, RestrictionError,
    SubObjectRestriction, decode_restriction, encode_restriction,
)

from . import errors as se
from .sieve_oof import sieve_string

log = logging.getLogger(__name__)

SCRIPT_NAME = "exgate-rules"
MARKER = "# exgate-rules-data: "
PROVIDER_DEFAULT = "RuleOrganizer"

ST_ENABLED, ST_ERROR, ST_ONLY_WHEN_OOF, ST_KEEP_OOF_HIST = 0x01, 0x02, 0x04, 0x08
ST_EXIT_LEVEL, ST_SKIP_IF_SCL_IS_SAFE, ST_RULE_PARSE_ERROR = 0x10, 0x20, 0x40

EMPTY_CONDITION = AndRestriction(())


class RuleNotSupported(se.InvalidOperation):
    """A rule that Sieve cannot carry out (or this gateway cannot express): refused, not stored."""


class NoRuleServer(se.InvalidOperation):
    """No ManageSieve server is configured for this mailbox: rules cannot be stored."""


class ForeignScript(ManageSieveError):
    """A script named exgate-rules exists that exgate did not write: left alone."""


@dataclass(frozen=True)
class Rule:
    """One row of the rules table (MS-OXORULE 2.2.1.3.1)."""

    rule_id: int
    sequence: int = 0
    state: int = ST_ENABLED
    name: str = ""
    provider: str = PROVIDER_DEFAULT
    level: int = 0
    user_flags: int = 0
    provider_data: bytes = b""
    condition: object = EMPTY_CONDITION        # a protocols.mapi.restrictions tree
    actions: RA.RuleAction = field(default_factory=RA.RuleAction)

    def props(self) -> dict[int, object]:
        return {P.PidTagRuleId: self.rule_id, P.PidTagRuleSequence: self.sequence, P.PidTagRuleState: self.state,
                P.PidTagRuleName: self.name, P.PidTagRuleProvider: self.provider, P.PidTagRuleLevel: self.level,
                P.PidTagRuleUserFlags: self.user_flags, P.PidTagRuleProviderData: self.provider_data,
                P.PidTagRuleCondition: self.condition, P.PidTagRuleActions: self.actions}

    def to_json(self) -> dict:
        return {"id": self.rule_id, "seq": self.sequence, "state": self.state, "name": self.name,
                "provider": self.provider, "level": self.level, "flags": self.user_flags,
                "pdata": base64.b64encode(self.provider_data).decode(),
                "cond": base64.b64encode(encode_restriction(self.condition)).decode(),
                "act": base64.b64encode(RA.encode_rule_action(self.actions)).decode()}

    @classmethod
    def from_json(cls, d: dict) -> "Rule":
        cond, _ = decode_restriction(base64.b64decode(d["cond"]))
        act, _ = RA.decode_rule_action(base64.b64decode(d["act"]))
        return cls(int(d["id"]), int(d["seq"]), int(d["state"]), d["name"], d["provider"], int(d["level"]),
                   int(d["flags"]), base64.b64decode(d["pdata"]), cond, act)


# prop ids (without type: clients may send String8 or Unicode) -> what a string test looks at
_ADDRESS_FROM = {0x0C1F, 0x5D01, 0x0065, 0x5D02}            # sender / sent-representing address, SMTP
_NAME_FROM = {0x0C1A, 0x0042}                                # sender / sent-representing display name
_SEARCH_KEY_FROM = {0x0C1D, 0x003B}                          # "SMTP:ADDR\0" search keys
_HEADER = {0x0037: "subject", 0x0E04: "to", 0x0E03: "cc", 0x0E1D: "subject"}   # subject, DisplayTo/Cc
_BODY = {0x1000}
_RECIP_ADDRESS = {0x3003, 0x39FE}             # PidTagEmailAddress, SmtpAddress
_RECIP_NAME = {0x3001}                                       # PidTagDisplayName
_TO_ME, _CC_ME = 0x0057, 0x0058
_HAS_ATTACH, _MESSAGE_FLAGS = 0x0E1B, 0x0E07
PidTagMessageRecipients = 0x0E12000D


class _Render:
    def __init__(self, me: Sequence[str], extensions: frozenset[str] | None):
        self.me = [a for a in me if a]
        self.ext = extensions
        self.need: list[str] = []

    def require(self, name: str) -> None:
        if self.ext is not None and self.ext and name not in self.ext:
            raise RuleNotSupported(f"the Sieve server lacks the {name!r} extension this rule needs")
        if name not in self.need:
            self.need.append(name)

    # ---- conditions
    def _match(self, fuzzy: int, value: str) -> tuple[str, str]:
        low = fuzzy & 0xFFFF
        comparator = "" if fuzzy & 0xFFFF0000 else ':comparator "i;octet" '
        if low == FL_SUBSTRING:
            return comparator + ":contains", value
        if low == FL_PREFIX:
            return comparator + ":matches", value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?") + "*"
        return comparator + ":is", value

    @staticmethod
    def _text(value) -> str:
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).rstrip(b"\0").decode("utf-8", "replace")
            return text[5:] if text.upper().startswith("SMTP:") else text
        if isinstance(value, str):
            return value
        raise RuleNotSupported(f"a comparison with {value!r} cannot be expressed in Sieve")

    def _string_test(self, prop: int, match: str, value: str, recip: bool) -> str:
        v = sieve_string(value)
        if recip:
            if prop in _RECIP_ADDRESS:
                return f'address {match} ["to", "cc"] {v}'
            if prop in _RECIP_NAME:
                return f'header {match} ["to", "cc"] {v}'
        elif prop in _ADDRESS_FROM or prop in _SEARCH_KEY_FROM:
            return f'address {match} "from" {v}'
        elif prop in _NAME_FROM:
            return f'header {match} "from" {v}'
        elif prop in _HEADER:
            return f'header {match} "{_HEADER[prop]}" {v}'
        elif prop in _BODY:
            self.require("body")
            return f"body :text {match} {v}"
        raise RuleNotSupported(f"no Sieve test for property 0x{prop:04X}" + (" of a recipient" if recip else ""))

    def _me_test(self, header: str) -> str:
        if not self.me:
            raise RuleNotSupported("the mailbox's own addresses are not known")
        return f'address :is "{header}" [' + ", ".join(sieve_string(a) for a in self.me) + "]"

    def _attachment(self) -> str:
        self.require("mime")
        return 'header :mime :anychild :contains "Content-Disposition" "attachment"'

    def test(self, r, recip: bool = False) -> str:
        if isinstance(r, AndRestriction):
            parts = [self.test(c, recip) for c in r.children]
            return "true" if not parts else parts[0] if len(parts) == 1 else "allof (" + ", ".join(parts) + ")"
        if isinstance(r, OrRestriction):
            parts = [self.test(c, recip) for c in r.children]
            return "false" if not parts else parts[0] if len(parts) == 1 else "anyof (" + ", ".join(parts) + ")"
        if isinstance(r, NotRestriction):
            return "not " + self.test(r.child, recip)
        if isinstance(r, CommentRestriction):        # Outlook's "from <person>" wraps the test in a comment
            return "true" if r.restriction is None else self.test(r.restriction, recip)
        if isinstance(r, SubObjectRestriction) and r.subobject == PidTagMessageRecipients and not recip:
            return self.test(r.restriction, True)
        if isinstance(r, ContentRestriction) and isinstance(r.tag, int):
            match, value = self._match(r.fuzzy, self._text(r.value))
            return self._string_test(r.tag >> 16, match, value, recip)
        if isinstance(r, PropertyRestriction) and isinstance(r.tag, int):
            prop = r.tag >> 16
            if not recip and prop in (_TO_ME, _CC_ME) and r.relop in (RELOP_EQ, RELOP_NE):
                t = self._me_test("to" if prop == _TO_ME else "cc")
                return t if bool(r.value) == (r.relop == RELOP_EQ) else "not " + t
            if not recip and prop == _HAS_ATTACH and r.relop in (RELOP_EQ, RELOP_NE):
                t = self._attachment()
                return t if bool(r.value) == (r.relop == RELOP_EQ) else "not " + t
            if r.relop in (RELOP_EQ, RELOP_NE):
                match, value = self._match(0x00010000, self._text(r.value))
                t = self._string_test(prop, match, value, recip)
                return t if r.relop == RELOP_EQ else "not " + t
        if (isinstance(r, BitMaskRestriction) and isinstance(r.tag, int) and r.tag >> 16 == _MESSAGE_FLAGS
                and r.mask == P.MSGFLAG_HASATTACH and not recip):
            t = self._attachment()
            return t if r.bmr == 1 else "not " + t         # BMR_NEZ = 1: the flag is set
        if isinstance(r, ExistRestriction) and isinstance(r.tag, int):
            prop = r.tag >> 16
            if prop in _ADDRESS_FROM | _NAME_FROM | _SEARCH_KEY_FROM:
                return 'exists "from"'
            if prop in _HEADER:
                return f'exists "{_HEADER[prop]}"'
            if prop in _BODY or (recip and prop in _RECIP_ADDRESS | _RECIP_NAME):
                return "true"
        raise RuleNotSupported(f"the condition {type(r).__name__} cannot be expressed in Sieve")

    # ---- actions
    def actions(self, action: RA.RuleAction, folders: dict[int, str]) -> list[str]:
        if not action.actions:
            raise RuleNotSupported("a rule without actions")
        first, rest = [], []
        for a in action.actions:
            t = a.action_type
            if t == RA.OP_MARK_AS_READ:
                self.require("imap4flags")
                first.append('addflag "\\\\Seen";')
            elif t in (RA.OP_MOVE, RA.OP_COPY):
                key = _folder_ref(a.data)
                name = folders.get(key) if key is not None else None
                if name is None:
                    raise RuleNotSupported("the rule moves or copies to a folder that is not a mail folder of "
                                           "this mailbox")
                self.require("fileinto")
                if t == RA.OP_COPY:
                    self.require("copy")
                    rest.append(f"fileinto :copy {sieve_string(name)};")
                else:
                    rest.append(f"fileinto {sieve_string(name)};")
            elif t == RA.OP_DELETE:
                rest.append("discard;")
            elif t == RA.OP_FORWARD:
                addrs = [forward_address(b) for b in a.data or ()]
                if not addrs or None in addrs:
                    raise RuleNotSupported("a forward to a recipient without an SMTP address")
                self.require("copy")
                rest += [f"redirect :copy {sieve_string(x)};" for x in addrs]
            elif t == RA.OP_BOUNCE:
                self.require("reject")
                rest.append(f'reject {sieve_string(f"Your message was not delivered (bounce code {a.data}).")};')
            else:
                raise RuleNotSupported(f"{RA.ACTION_NAMES.get(t, hex(t))} cannot be carried out by Sieve")
        return first + rest


def forward_address(block: RA.RecipientBlock) -> str | None:
    props = {tag >> 16: v for tag, v in block.properties}
    smtp = props.get(0x39FE)
    if isinstance(smtp, str) and "@" in smtp:
        return smtp
    addr, kind = props.get(0x3003), props.get(0x3002)
    if isinstance(addr, str) and "@" in addr and (kind is None or str(kind).upper() == "SMTP"):
        return addr
    return None


def _folder_ref(d) -> int | bytes | None:
    """What an OP_MOVE/OP_COPY names: the FID of a ServerEid (FolderInThisStore 1), or the Folder EntryID
    (MS-OXCDATA 2.2.4.1) a client may give instead, which is this store's when its provider is."""
    if not isinstance(d, RA.MoveCopy):
        return None
    if isinstance(d.folder_eid, RA.ServerEid):
        return d.folder_eid.folder_id if d.folder_in_this_store else None
    return bytes(d.folder_eid)


def folder_refs(rules: Sequence[Rule]) -> set:
    out = set()
    for r in rules:
        for a in r.actions.actions:
            key = _folder_ref(a.data) if a.action_type in (RA.OP_MOVE, RA.OP_COPY) else None
            if key is not None:
                out.add(key)
    return out


def _fid_of(mbx, key) -> int | None:
    if isinstance(key, int):
        return key
    try:
        eid = wire_ids.FolderEntryId.decode(key)
    except wire_ids.IdError:
        return None
    return mbx.ident.fid(eid.globcnt) if eid.provider_uid == mbx.ident.mailbox_guid else None


def render(rules: Sequence[Rule], *, folders: dict[int, str], addresses: Sequence[str] = (),
           extensions: frozenset[str] | None = None, next_id: int | None = None) -> str:
    """The exgate-rules script; RuleNotSupported for a rule Sieve cannot carry out.

    folders: FID -> IMAP folder name of the mail folders the rules file into; extensions: the server's
    Sieve extensions (None: do not check)."""
    rd = _Render(addresses, extensions)
    body: list[str] = []
    ordered = sorted(rules, key=lambda r: (r.sequence, r.rule_id))
    for r in ordered:
        if r.state & ST_ONLY_WHEN_OOF and r.state & ST_ENABLED:
            raise RuleNotSupported(f"rule {r.name!r}: rules that only run while out of office are not supported")
        test = rd.test(r.condition)
        acts = rd.actions(r.actions, folders)          # checked even when disabled: it may be enabled later
        body.append(f"# rule {r.rule_id}: {r.name!r}"
                    + ("" if r.state & ST_ENABLED else " (disabled)"))
        if not r.state & ST_ENABLED:
            continue
        if r.state & ST_EXIT_LEVEL:
            rd.require("include")
            acts.append("return;")
        body.append(f"if {test} {{")
        body += ["    " + a for a in acts]
        body.append("}")
    data = {"v": 1, "next": next_id if next_id is not None else max([r.rule_id for r in rules] + [0]) + 1,
            "rules": [r.to_json() for r in ordered]}
    lines = [
        "# exgate-rules: server-side rules set through Outlook (MAPI); run from exgate-oof.",
        "# Written by the exgate gateway and replaced on every change; edit the rules in Outlook.",
        MARKER + base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode(),
    ]
    if rd.need:
        lines.append("require [" + ", ".join(sieve_string(n) for n in rd.need) + "];")
    lines += body
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True)
class RulesScript:
    rules: tuple[Rule, ...]
    next_id: int


def parse(script: str) -> RulesScript | None:
    """The rules a script written by render() holds; None when it is not ours."""
    for line in script.splitlines():
        if line.startswith(MARKER):
            try:
                data = json.loads(base64.b64decode(line[len(MARKER):]))
                return RulesScript(tuple(Rule.from_json(d) for d in data["rules"]), int(data["next"]))
            except (ValueError, KeyError, TypeError, RestrictionError) as exc:
                log.warning("exgate-rules data unreadable: %s", exc)
                return None
    return None


# ---------------------------------------------------------------- changes (RopModifyRules semantics)

ROW_ADD, ROW_MODIFY, ROW_REMOVE = 0x01, 0x02, 0x04


def rule_from_props(rule_id: int, props: dict, base: Rule | None = None) -> Rule:
    """A Rule from a RuleData's properties (over ``base`` when modifying)."""
    r = base or Rule(rule_id)
    by_id = {tag >> 16: v for tag, v in props.items()}
    kw = {}
    for pid, name, conv in ((0x6676, "sequence", int), (0x6677, "state", int), (0x6682, "name", str),
                            (0x6681, "provider", str), (0x6683, "level", int), (0x6678, "user_flags", int),
                            (0x6684, "provider_data", bytes)):
        if pid in by_id and by_id[pid] is not None:
            kw[name] = conv(by_id[pid])
    if 0x6679 in by_id:
        kw["condition"] = by_id[0x6679]
    if 0x6680 in by_id:
        if not isinstance(by_id[0x6680], RA.RuleAction):
            raise RuleNotSupported("PidTagRuleActions is not a RuleAction")
        kw["actions"] = by_id[0x6680]
    return replace(r, **kw)


def apply_changes(current: RulesScript, changes: Sequence[tuple[int, dict]], *,
                  replace_all: bool = False) -> RulesScript:
    """changes: (RuleDataFlags, {tag: value}) in order. Unknown rule ids to modify/remove: NotFound."""
    rules = {} if replace_all else {r.rule_id: r for r in current.rules}
    next_id = current.next_id
    for flags, props in changes:
        given = next((v for t, v in props.items() if t >> 16 == 0x6674), None)
        if flags & ROW_ADD or replace_all:
            rid = next_id
            next_id += 1
            rules[rid] = rule_from_props(rid, {t: v for t, v in props.items() if t >> 16 != 0x6674})
        elif flags & ROW_MODIFY:
            if given not in rules:
                raise se.NotFound(f"no rule {given}")
            rules[given] = rule_from_props(given, props, rules[given])
        elif flags & ROW_REMOVE:
            if given not in rules:
                raise se.NotFound(f"no rule {given}")
            del rules[given]
        else:
            raise RuleNotSupported(f"RuleDataFlags 0x{flags:02X}")
    return RulesScript(tuple(sorted(rules.values(), key=lambda r: (r.sequence, r.rule_id))), next_id)


# ---------------------------------------------------------------- on the server

async def read(client: ManageSieveClient) -> RulesScript:
    names = {s.name for s in await client.list_scripts()}
    if SCRIPT_NAME not in names:
        return RulesScript((), 1)
    parsed = parse(await client.get_script(SCRIPT_NAME))
    if parsed is None:
        raise ForeignScript(f"a Sieve script named {SCRIPT_NAME!r} exists that exgate did not write", kind="conflict")
    return parsed


async def running(client: ManageSieveClient) -> bool:
    """Whether the active script runs the rules (exgate-oof, including exgate-rules)."""
    from . import sieve_oof
    if await client.active_script() != sieve_oof.SCRIPT_NAME:
        return False
    return f"include :personal :optional {sieve_string(SCRIPT_NAME)};" in await client.get_script(sieve_oof.SCRIPT_NAME)


def with_error_state(rules: Sequence[Rule]) -> list[Rule]:
    """Enabled rules that do not run (someone activated another script on the server) read back with
    ST_ERROR, as Exchange marks a rule it cannot carry out (MS-OXORULE 2.2.1.3.1.3)."""
    return [replace(r, state=r.state | ST_ERROR) if r.state & ST_ENABLED else r for r in rules]


async def write(client: ManageSieveClient, new: RulesScript, *, folders: dict[int, str], addresses: Sequence[str],
                internal_domains: Sequence[str] | None = None) -> str | None:
    """Store the rules (deleting the script when there are none) and link them from exgate-oof."""
    from . import sieve_oof
    ext = client.capabilities.sieve or None
    if new.rules and ext is not None and "include" not in ext:
        raise RuleNotSupported("the Sieve server lacks 'include', which runs the rules next to automatic replies")
    script = render(new.rules, folders=folders, addresses=addresses, extensions=ext, next_id=new.next_id) \
        if new.rules else None
    names = {s.name for s in await client.list_scripts()}
    oof = await sieve_oof.read(client) or sieve_oof.OofSettings()
    if script is not None:
        await client.put_script(SCRIPT_NAME, script)
        await sieve_oof.write(client, oof, addresses=addresses, internal_domains=internal_domains)
    elif SCRIPT_NAME in names:
        # no rules left: the script goes (exgate-oof includes it :optional), then exgate-oof is relinked
        # without it (and made inactive again when automatic replies are off)
        await client.delete_script(SCRIPT_NAME)
        await sieve_oof.write(client, oof, addresses=addresses, internal_domains=internal_domains)
    return script


# ---------------------------------------------------------------- for front ends

def _connect_args(mbx):
    acct = getattr(mbx, "sieve_account", None)
    if acct is None:
        return None
    cfg, cred = acct
    if not cfg.sieve.host:
        return None
    return cfg, cred


def _addresses(mbx, cfg) -> tuple[list[str], list[str]]:
    addresses = [a for a in dict.fromkeys((mbx.email, getattr(mbx, "login", None))) if a and "@" in a]
    domains = [a.rpartition("@")[2].lower() for a in addresses]
    d = getattr(cfg, "domain", None)
    return addresses, list(dict.fromkeys([*domains, *([d.lower()] if d else [])]))


async def load_rules(mbx) -> list[Rule]:
    """The mailbox's rules; none without a ManageSieve server."""
    from .factory import connect_sieve
    args = _connect_args(mbx)
    if args is None:
        return []
    try:
        client = await connect_sieve(*args)
        if client is None:
            return []
        async with client:
            rules = list((await read(client)).rules)
            if rules and not await running(client):
                rules = with_error_state(rules)
            return rules
    except ManageSieveError as exc:
        raise _store_error(exc) from exc


async def modify_rules(mbx, changes: Sequence[tuple[int, dict]], *, replace_all: bool = False) -> list[Rule]:
    """Apply RopModifyRules' RuleData to the mailbox's rules script; returns the rules now stored.
    NoRuleServer without a ManageSieve server; RuleNotSupported for a rule Sieve cannot carry out."""
    from .factory import connect_sieve
    args = _connect_args(mbx)
    if args is None:
        raise NoRuleServer("server-side rules need a ManageSieve server ([sieve] host), and none is configured")
    addresses, domains = _addresses(mbx, args[0])
    try:
        client = await connect_sieve(*args)
        if client is None:
            raise NoRuleServer("no ManageSieve server is configured")
        async with client:
            new = apply_changes(await read(client), changes, replace_all=replace_all)
            folders = {}
            for key in folder_refs(new.rules):
                fid = _fid_of(mbx, key)
                try:
                    f = await mbx.get_folder(fid) if fid is not None else None
                except se.NotFound:
                    f = None                      # render refuses the rule
                if f is not None and f.kind == "imap" and f.ref:
                    folders[key] = f.ref
            await write(client, new, folders=folders, addresses=addresses, internal_domains=domains)
            return list(new.rules)
    except ManageSieveError as exc:
        raise _store_error(exc) from exc


def _store_error(exc: ManageSieveError) -> se.StoreError:
    if exc.kind == "auth":
        return se.AccessDenied(str(exc))
    if exc.kind == "conflict":
        return se.Conflict(str(exc))
    if exc.kind == "failed":
        return RuleNotSupported(f"the Sieve server refused the rules script: {exc}")
    return se.BackendUnavailable(str(exc))
