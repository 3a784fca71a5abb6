"""Out of Office as a Sieve vacation script (RFC 5230), kept on the server over ManageSieve (RFC 5804).

The backend's delivery agent (Dovecot Pigeonhole at LMTP time) then sends the automatic
replies; the gateway only writes the script. The script is the source of truth: a JSON
copy of the settings rides in a comment line so GetUserOofSettings reads them back.

Coexistence with a user's own script: only one Sieve script is active at a time
(RFC 5804 section 1.1), so the gateway keeps its rules in a script of its own,
``exgate-oof``, which ends with ``include :personal :optional "<their script>"``
(RFC 6609) and makes it the active one. The name of the script that was active
before is remembered in the marker; turning OOF off makes that script active again
(or none, when there was none). A user's own script is never changed or deleted.

Server-side rules (gateway/store/sieve_rules.py) live in ``exgate-rules``; while it exists exgate-oof
includes it first and stays active even with automatic replies off, so the rules, the automatic
replies and the user's own script all run, in that order.

Mapping of the EWS settings (MS-OXWSOOF 2.2.4):
- OofState Disabled: the script stays on the server for reading back, inactive.
- Enabled: the rules apply to every message.
- Scheduled: the rules are guarded by ``currentdate`` (RFC 5260 section 5) on UTC ISO 8601
  text; [StartTime, EndTime).
- InternalReply answers senders whose envelope domain is one of the user's domains;
  ExternalReply the others when ExternalAudience is All. "Known" (senders in the user's
  contacts) is approximated as internal only: external senders get no reply.
- An empty reply text sends nothing to that audience.
- ``:days 1``: one reply per sender and text per day (RFC 5230 section 4.1).
- Subject "Automatic reply: <their subject>" as Exchange writes it, through RFC 5229
  variables, unless a reply text holds "${" (which variables would expand): then
  a fixed "Automatic reply".
- A reply text that looks like HTML (the EWS Message usually is) goes as a text/html
  MIME part (``:mime``, RFC 5230 section 4.4), base64 so that long lines and 8-bit
  text survive SMTP.
"""
from __future__ import annotations

import base64
import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Sequence

from gateway.backends.sieve import ManageSieveClient, ManageSieveError

from . import errors as se
from .oof import OofSettings

log = logging.getLogger(__name__)

SCRIPT_NAME = "exgate-oof"
RULES_SCRIPT = "exgate-rules"       # sieve_rules.SCRIPT_NAME
MARKER = "# exgate-oof-settings: "
SUBJECT_PREFIX = "Automatic reply"
_HTML = re.compile(r"<\s*(html|body|div|p|br|span|table|font|b|i|u|a|strong|em)\b", re.I)


@dataclass(frozen=True)
class VacationScript:
    """What parse() reads back from our own script."""

    settings: OofSettings
    previous: str | None = None     # the user's script that was active before ours


class ForeignScript(ManageSieveError):
    """A script named exgate-oof exists that exgate did not write: left alone."""


def sieve_string(value: str) -> str:
    """A Sieve quoted string (RFC 5228 section 2.4.2): backslash and double quote escaped,
    line ends as CRLF (allowed inside quoted strings), NUL dropped."""
    value = value.replace("\0", "").replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _string_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(sieve_string(v) for v in values) + "]"


def is_html(text: str) -> bool:
    return bool(_HTML.search(text))


def _iso(dt: datetime) -> str:
    # no zone suffix: "ge" on the 19-character prefix is exact whatever suffix the server
    # prints for :zone "+0000" ("Z" or "+00:00"); a longer equal-prefix value sorts after it
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _reason(text: str) -> tuple[bool, str]:
    """(mime?, the vacation reason)."""
    if not is_html(text):
        return False, text
    body = base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return True, ("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body)


def render(settings: OofSettings, *, addresses: Sequence[str], internal_domains: Sequence[str] | None = None,
           previous: str | None = None, include: bool = True, days: int = 1, with_rules: bool = False) -> str:
    """The exgate-oof script for ``settings``.

    addresses: the user's own addresses (vacation :addresses, RFC 5230 section 4.5);
    internal_domains: sender domains that get InternalReply (default: the addresses' domains);
    previous: the user's script to include after our rules (RFC 6609), when ``include``;
    with_rules: include the exgate-rules script first."""
    addresses = [a for a in dict.fromkeys(a.strip() for a in addresses) if a]
    domains = list(dict.fromkeys(d.lower() for d in (internal_domains or [a.rpartition("@")[2] for a in addresses])
                                 if d))
    marker = {"v": 1, "settings": json.loads(settings.to_json()), "previous": previous}
    # a reason is an argument of vacation, so variables would expand "${...}" inside it too
    use_vars = not any("${" in _reason(t)[1] for t in (settings.internal_reply, settings.external_reply))

    rules: list[str] = []        # the body, before the include
    need: list[str] = []
    if settings.state in ("Enabled", "Scheduled"):
        replies: list[tuple[str | None, str]] = []   # (sender test or None for "else", text)
        internal_test = f'envelope :domain :is "from" {_string_list(domains)}' if domains else "false"
        if settings.internal_reply:
            replies.append((internal_test, settings.internal_reply))
        if settings.external_audience == "All" and settings.external_reply:
            # "Known" and "None": no reply outside the user's domains
            replies.append((None if settings.internal_reply else f"not {internal_test}", settings.external_reply))
        if replies:
            need += ["vacation", "envelope"] if domains else ["vacation"]
            indent = ""
            if settings.state == "Scheduled" and settings.start and settings.end:
                need += ["date", "relational"]
                rules.append('if allof (currentdate :zone "+0000" :value "ge" "iso8601" '
                             f'{sieve_string(_iso(settings.start))},')
                rules.append('          currentdate :zone "+0000" :value "lt" "iso8601" '
                             f'{sieve_string(_iso(settings.end))}) {{')
                indent = "    "
            if use_vars:
                need.append("variables")
                rules.insert(0, 'if header :matches "subject" "*" { set "subject" "${1}"; }')
                subject = f"{SUBJECT_PREFIX}: ${{subject}}"
            else:
                subject = SUBJECT_PREFIX
            for i, (test, text) in enumerate(replies):
                mime, reason = _reason(text)
                action = (f"vacation :days {days} :subject {sieve_string(subject)} "
                          + (f":addresses {_string_list(addresses)} " if addresses else "")
                          + (":mime " if mime else "") + sieve_string(reason) + ";")
                if test is None:
                    rules.append(f"{indent}}} else {{")
                else:
                    rules.append(f"{indent}{'if' if i == 0 else '} elsif'} {test} {{")
                rules.append(f"{indent}    {action}")
            rules.append(f"{indent}}}")
            if indent:
                rules.append("}")
    tail: list[str] = []
    if with_rules:
        need.append("include")
        rules_first = [f"include :personal :optional {sieve_string(RULES_SCRIPT)};"]
    else:
        rules_first = []
    if previous and include:
        need.append("include")
        tail.append(f"include :personal :optional {sieve_string(previous)};")
    lines = [
        "# exgate-oof: automatic replies (Out of Office) set through Outlook / Exchange Web Services.",
        "# Written by the exgate gateway and replaced on every change; edit the settings in your mail client.",
        MARKER + json.dumps(marker, ensure_ascii=True, separators=(",", ":")),
    ]
    if need:
        lines.append(f"require {_string_list(list(dict.fromkeys(need)))};")
    lines += rules_first + rules + tail
    if not rules and not tail and not rules_first:
        lines.append("keep;")
    return "\r\n".join(lines) + "\r\n"


def parse(script: str) -> VacationScript | None:
    """Read back a script written by render(); None when it is not ours."""
    for line in script.splitlines():
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER):])
                return VacationScript(OofSettings.from_json(json.dumps(data["settings"])), data.get("previous"))
            except (ValueError, KeyError, TypeError):
                return None
    return None


# ---------------------------------------------------------------- on the server

async def read(client: ManageSieveClient) -> OofSettings | None:
    """The settings in the user's exgate-oof script, or None when there is none.
    A script that is not active sends nothing, so its state reads as Disabled."""
    scripts = await client.list_scripts()
    ours = next((s for s in scripts if s.name == SCRIPT_NAME), None)
    if ours is None:
        return None
    parsed = parse(await client.get_script(SCRIPT_NAME))
    if parsed is None:
        return None
    if not ours.active and parsed.settings.state != "Disabled":
        return replace(parsed.settings, state="Disabled")
    return parsed.settings


async def write(client: ManageSieveClient, settings: OofSettings, *, addresses: Sequence[str],
                internal_domains: Sequence[str] | None = None) -> str:
    """Store and (de)activate the exgate-oof script for ``settings``; returns the script."""
    scripts = await client.list_scripts()
    names = {s.name for s in scripts}
    active = next((s.name for s in scripts if s.active), None)
    previous = None
    if SCRIPT_NAME in names:
        parsed = parse(await client.get_script(SCRIPT_NAME))
        if parsed is None:
            raise ForeignScript(f"a Sieve script named {SCRIPT_NAME!r} exists that exgate did not write; "
                                "rename it to let exgate manage automatic replies", kind="conflict")
        previous = parsed.previous
    if active and active != SCRIPT_NAME:
        previous = active        # the user activated a script of their own since: that one is kept
    if previous and previous not in names:
        previous = None          # deleted since
    include = "include" in client.capabilities.sieve or not client.capabilities.sieve
    if previous and not include:
        log.warning("ManageSieve server lacks 'include': %r is not run while automatic replies are on", previous)
    has_rules = include and RULES_SCRIPT in names
    script = render(settings, addresses=addresses, internal_domains=internal_domains, previous=previous,
                    include=include, with_rules=has_rules)
    await client.put_script(SCRIPT_NAME, script)
    if settings.state == "Disabled" and not has_rules:
        if active == SCRIPT_NAME:
            await client.set_active(previous)     # theirs again, or none
    elif active != SCRIPT_NAME:
        await client.set_active(SCRIPT_NAME)
    return script


# ---------------------------------------------------------------- for front ends

async def load_from_server(cfg, cred) -> OofSettings | None:
    """The settings on the user's ManageSieve server; None without a [sieve] server or script.
    Backend failures come out as store errors (BackendUnavailable, AccessDenied)."""
    from .factory import connect_sieve
    try:
        client = await connect_sieve(cfg, cred)
        if client is None:
            return None
        async with client:
            return await read(client)
    except ManageSieveError as exc:
        raise _store_error(exc) from exc


async def save_to_server(cfg, cred, settings: OofSettings, *, addresses: Sequence[str],
                         internal_domains: Sequence[str] | None = None) -> bool:
    """Write the vacation script; False when no [sieve] server is configured."""
    from .factory import connect_sieve
    try:
        client = await connect_sieve(cfg, cred)
        if client is None:
            return False
        async with client:
            await write(client, settings, addresses=addresses, internal_domains=internal_domains)
        return True
    except ManageSieveError as exc:
        raise _store_error(exc) from exc


def _store_error(exc: ManageSieveError) -> se.StoreError:
    if exc.kind == "auth":
        return se.AccessDenied(str(exc))
    if exc.kind == "conflict":
        return se.Conflict(str(exc))
    return se.BackendUnavailable(str(exc))
