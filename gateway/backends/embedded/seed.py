"""Seed the demo data, once per user per data dir, through the protocols.

Mail goes in by IMAP APPEND (imaplib, in a worker thread: pymap serves in the
same loop), calendars, tasks and contacts by MKCALENDAR / extended MKCOL
(RFC 4791 5.3.1, RFC 5689) and PUT. The gateway's own backend clients are not
used, so the seed also checks the servers independently of them.

``demo_data/mailboxes/seed.toml`` lists what to put where; the files it names are
templates (placeholders described there). ``data_dir/seed.json`` records the
seeding time and which users are done, so a restart never seeds twice and the
same plan can be rebuilt later (tests compare against it).
"""
from __future__ import annotations

import asyncio
import base64
import imaplib
import json
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence
from xml.sax.saxutils import escape

from .users import DEMO_DATA, DemoUser

if TYPE_CHECKING:
    from .stack import EmbeddedStack

DEMO_FIXTURES = DEMO_DATA / "mailboxes"
MARKER = "seed.json"


# ---------------------------------------------------------------- the plan

@dataclass(frozen=True)
class SeedMail:
    source: str                   # fixture file name
    folder: str
    flags: tuple[str, ...]
    data: bytes                   # CRLF line ends
    date: datetime                # INTERNALDATE, from the Date header


@dataclass(frozen=True)
class SeedResource:
    name: str                     # last path segment, e.g. "weekly-sync.ics"
    content_type: str
    data: bytes


@dataclass(frozen=True)
class SeedCollection:
    name: str                     # path segment under /<login>/
    kind: str                     # "calendar" or "addressbook"
    display_name: str
    components: tuple[str, ...]
    color: str | None
    resources: tuple[SeedResource, ...]


@dataclass(frozen=True)
class UserSeed:
    user: DemoUser
    mail: tuple[SeedMail, ...]
    collections: tuple[SeedCollection, ...]


@dataclass(frozen=True)
class SeedPlan:
    seeded_at: datetime
    users: tuple[UserSeed, ...] = field(default_factory=tuple)

    def for_user(self, login: str) -> UserSeed:
        for u in self.users:
            if u.user.login == login:
                return u
        raise KeyError(login)


# ---------------------------------------------------------------- templates

_PLACEHOLDER = re.compile(rb"\{\{([^{}]+)\}\}")


def user_context(users: Sequence[DemoUser], index: int) -> dict[str, str]:
    """Placeholder values for users[index]: user_*, peer_*, peer2_*, u0_*..u2_*."""
    def fields(prefix: str, u: DemoUser) -> dict[str, str]:
        return {f"{prefix}_login": u.login, f"{prefix}_email": u.email,
                f"{prefix}_name": u.display_name,
                f"{prefix}_first": u.display_name.split()[0] if u.display_name else u.login,
                f"{prefix}_domain": u.domain}
    n = len(users)
    ctx = fields("user", users[index])
    ctx |= fields("peer", users[(index + 1) % n])
    ctx |= fields("peer2", users[(index + 2) % n])
    for k in range(3):
        ctx |= fields(f"u{k}", users[k % n])
    return ctx


def render(template: bytes, ctx: dict[str, str], seeded_at: datetime) -> bytes:
    """Fill the placeholders; unknown ones raise KeyError (a typo in a fixture)."""
    monday = seeded_at.date() - timedelta(days=seeded_at.weekday())

    def value(m: re.Match[bytes]) -> bytes:
        key = m.group(1).decode().strip()
        if key.startswith("date:"):
            return (monday + timedelta(days=int(key[5:]))).strftime("%Y%m%d").encode()
        if key.startswith("maildate:"):
            days, hhmm = key[9:].split()
            hour, minute = (int(x) for x in hhmm.split(":"))
            day = seeded_at.date() + timedelta(days=int(days))
            when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)
            return format_datetime(when).encode()
        if key == "stamp":
            return seeded_at.strftime("%Y%m%dT%H%M%SZ").encode()
        return ctx[key].encode("utf-8")

    return _PLACEHOLDER.sub(value, template)


def to_crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def unfold(data: bytes) -> bytes:
    """RFC 5545 3.1 / RFC 6350 3.2: CRLF followed by one space or tab is removed."""
    return re.sub(rb"\r?\n[ \t]", b"", data)


def fold(data: bytes, limit: int = 75) -> bytes:
    """Fold content lines at ``limit`` octets, never inside a UTF-8 sequence."""
    out = []
    for line in re.split(rb"\r?\n", data.rstrip(b"\r\n")):
        first = True
        while len(line) > (limit if first else limit - 1):
            cut = limit if first else limit - 1
            while cut > 1 and (line[cut] & 0xC0) == 0x80:  # continuation byte
                cut -= 1
            out.append((b"" if first else b" ") + line[:cut])
            line = line[cut:]
            first = False
        out.append((b"" if first else b" ") + line)
    return b"\r\n".join(out) + b"\r\n"


def load_manifest(fixtures_dir: Path) -> dict[str, Any]:
    with open(fixtures_dir / "seed.toml", "rb") as fh:
        return tomllib.load(fh)


def build_plan(users: Sequence[DemoUser], fixtures_dir: Path = DEMO_FIXTURES,
               seeded_at: datetime | None = None) -> SeedPlan:
    """Render every fixture for every user; pure (reads files, no network)."""
    seeded_at = (seeded_at or datetime.now(timezone.utc)).replace(microsecond=0)
    manifest = load_manifest(fixtures_dir)
    plans = []
    for i, user in enumerate(users):
        ctx = user_context(users, i)
        mails = []
        for entry in manifest.get("mail", []):
            path = fixtures_dir / entry["file"]
            data = to_crlf(render(path.read_bytes(), ctx, seeded_at))
            mails.append(SeedMail(source=path.name, folder=entry["folder"],
                                  flags=tuple(entry.get("flags", ())), data=data,
                                  date=_header_date(data) or seeded_at))
        collections = []
        for entry in manifest.get("collection", []):
            kind = entry["kind"]
            suffix, ctype = ((".vcf", "text/vcard; charset=utf-8") if kind == "addressbook"
                             else (".ics", "text/calendar; charset=utf-8"))
            resources = tuple(
                SeedResource(name=p.name, content_type=ctype,
                             data=fold(render(unfold(p.read_bytes()), ctx, seeded_at)))
                for p in sorted((fixtures_dir / entry["dir"]).glob(f"*{suffix}")))
            collections.append(SeedCollection(
                name=entry["name"], kind=kind, display_name=entry["display_name"],
                components=tuple(entry.get("components", ())), color=entry.get("color"),
                resources=resources))
        plans.append(UserSeed(user=user, mail=tuple(mails), collections=tuple(collections)))
    return SeedPlan(seeded_at=seeded_at, users=tuple(plans))


def _header_date(message: bytes) -> datetime | None:
    head = message.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"^Date:[ \t]*(.+)$", head, re.MULTILINE | re.IGNORECASE)
    if not m:
        return None
    try:
        return parsedate_to_datetime(m.group(1).decode("ascii", "replace").strip())
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- the marker

def read_marker(data_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(data_dir) / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_marker(data_dir: Path, marker: dict[str, Any]) -> None:
    path = Path(data_dir) / MARKER
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def seeded_plan(data_dir: Path, users: Sequence[DemoUser],
                fixtures_dir: Path = DEMO_FIXTURES) -> SeedPlan | None:
    """The plan as it was seeded into ``data_dir`` (same time, same rendering)."""
    marker = read_marker(data_dir)
    if marker is None:
        return None
    return build_plan(users, fixtures_dir, datetime.fromisoformat(marker["seeded_at"]))


# ---------------------------------------------------------------- seeding

async def seed(stack: EmbeddedStack, users: Sequence[DemoUser] | None = None,
               fixtures_dir: Path = DEMO_FIXTURES) -> SeedPlan | None:
    """Seed every user not yet recorded in ``data_dir/seed.json``.

    Returns the plan for the users seeded by this call, or None if there was
    nothing to do. Mail is marked done per user only after all of it is in,
    DAV per user after every PUT; DAV writes are overwrites, so a retry after
    a crash repeats them harmlessly.
    """
    users = list(users if users is not None else stack.users)
    marker = read_marker(stack.data_dir) or {
        "version": 1, "seeded_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "users": {}}
    done: dict[str, dict[str, bool]] = marker["users"]
    todo = [u for u in users if not (done.get(u.login, {}).get("mail")
                                     and done.get(u.login, {}).get("dav"))]
    if not todo:
        return None
    # Placeholders (peer_*, u0_*) depend on the whole list, so render for all.
    plan = build_plan(users, fixtures_dir, datetime.fromisoformat(marker["seeded_at"]))
    import aiohttp  # the gateway's HTTP library; imported here to keep module import light

    async with aiohttp.ClientSession() as http:
        for user_seed in plan.users:
            login = user_seed.user.login
            if user_seed.user not in todo:
                continue
            state = done.setdefault(login, {})
            if not state.get("mail"):
                await asyncio.to_thread(_append_mail, stack.imap_host, stack.imap_port,
                                        user_seed.user, user_seed.mail)
                state["mail"] = True
                _write_marker(stack.data_dir, marker)
            if not state.get("dav"):
                await _seed_dav(http, stack.dav_url, user_seed)
                state["dav"] = True
                _write_marker(stack.data_dir, marker)
    return SeedPlan(seeded_at=plan.seeded_at,
                    users=tuple(u for u in plan.users if u.user in todo))


def _append_mail(host: str, port: int, user: DemoUser, mails: Sequence[SeedMail]) -> None:
    imap = imaplib.IMAP4(host, port)
    # imaplib writes a literal and its CRLF separately: without NODELAY every
    # APPEND waits ~40 ms on delayed ACK (backends.md section 1).
    imap.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        imap.login(user.login, user.password)
        for mail in mails:
            flags = "(" + " ".join(mail.flags) + ")" if mail.flags else None
            typ, data = imap.append(mail.folder, flags, imaplib.Time2Internaldate(mail.date),
                                    mail.data)
            if typ != "OK":
                raise RuntimeError(f"APPEND {mail.source} to {mail.folder} for {user.login}: {data}")
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def basic_auth(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def _mkcalendar_body(c: SeedCollection) -> bytes:
    comps = "".join(f'<C:comp name="{escape(x)}"/>' for x in c.components)
    color = f"<I:calendar-color>{escape(c.color)}</I:calendar-color>" if c.color else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
        'xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>'
        f"<D:displayname>{escape(c.display_name)}</D:displayname>"
        f"<C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set>"
        f"{color}</D:prop></D:set></C:mkcalendar>").encode()


def _mkcol_addressbook_body(c: SeedCollection) -> bytes:
    # RFC 5689 extended MKCOL, as RFC 6352 6.3.1 suggests for address books.
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>'
        "<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
        f"<D:displayname>{escape(c.display_name)}</D:displayname>"
        "</D:prop></D:set></D:mkcol>").encode()


async def _seed_dav(http, dav_url: str, user_seed: UserSeed) -> None:
    user = user_seed.user
    auth = {"Authorization": basic_auth(user.login, user.password)}
    home = f"{dav_url.rstrip('/')}/{user.login}/"
    # Radicale creates the principal collection on a user's first request.
    async with http.request("PROPFIND", home, headers={**auth, "Depth": "0"}) as r:
        if r.status != 207:
            raise RuntimeError(f"PROPFIND {home}: {r.status}")
    xml = {"Content-Type": "application/xml; charset=utf-8"}
    for c in user_seed.collections:
        url = f"{home}{c.name}/"
        if c.kind == "addressbook":
            method, body = "MKCOL", _mkcol_addressbook_body(c)
        else:
            method, body = "MKCALENDAR", _mkcalendar_body(c)
        async with http.request(method, url, data=body, headers={**auth, **xml}) as r:
            # 405/409: the collection is already there (a retried seed).
            if r.status not in (201, 405, 409):
                raise RuntimeError(f"{method} {url}: {r.status} {await r.text()}")
        for res in c.resources:
            async with http.put(url + res.name, data=res.data,
                                headers={**auth, "Content-Type": res.content_type}) as r:
                if r.status not in (200, 201, 204):
                    raise RuntimeError(f"PUT {url}{res.name}: {r.status} {await r.text()}")
