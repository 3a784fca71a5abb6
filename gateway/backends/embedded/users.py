"""The demo users: one list, read from the directory LDIF so it has one source.

``demo_data/directory.ldif`` (beside this module, shipped with the package) feeds slapd in
the tests and this module in `exgate demo`;
every embedded server (pymap, Radicale, the SMTP sink) gets its accounts from
the DemoUser list built here.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

# the demo's data ships inside the package, so `exgate demo` works however exgate was installed
DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DIRECTORY_LDIF = DEMO_DATA / "directory.ldif"


@dataclass(frozen=True)
class DemoUser:
    login: str
    password: str
    email: str
    display_name: str

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()


def parse_ldif(text: str) -> list[dict[str, list[str]]]:
    """A small RFC 2849 reader: records split by blank lines, folded lines
    (leading space) joined, ``attr:: base64`` decoded, comments dropped.
    Attribute names are lower-cased."""
    records: list[dict[str, list[str]]] = []
    lines: list[str] = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]  # RFC 2849: continuation line
            continue
        if not raw.strip():
            if lines:
                records.append(_record(lines))
                lines = []
            continue
        lines.append(raw)
    if lines:
        records.append(_record(lines))
    return records


def _record(lines: list[str]) -> dict[str, list[str]]:
    rec: dict[str, list[str]] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if value.startswith(":"):
            value = base64.b64decode(value[1:].strip()).decode("utf-8")
        else:
            value = value.strip()
        rec.setdefault(name.strip().lower(), []).append(value)
    return rec


def load_demo_users(ldif_path: Path = DIRECTORY_LDIF) -> list[DemoUser]:
    """Every inetOrgPerson with uid, userPassword and mail, in file order."""
    users: list[DemoUser] = []
    for rec in parse_ldif(ldif_path.read_text(encoding="utf-8")):
        classes = {c.lower() for c in rec.get("objectclass", [])}
        if "inetorgperson" not in classes:
            continue
        if not (rec.get("uid") and rec.get("userpassword") and rec.get("mail")):
            continue
        name = (rec.get("displayname") or rec.get("cn") or rec["uid"])[0]
        users.append(DemoUser(login=rec["uid"][0], password=rec["userpassword"][0],
                              email=rec["mail"][0], display_name=name))
    return users
