"""A DirectoryClient over an LDIF file, for `exgate demo` (no LDAP server needed).

Reads the LDIF content form of RFC 2849 (continuation lines, ``::`` base64
values, comments, ``changetype: add`` records) with a small reader of our own,
and checks userPassword values written plain or as {SHA}/{SSHA} (RFC 2307
style, also the -256/-512 variants). Matching follows what slapd does for the
same data: case-insensitive prefix matches on the name and address attributes.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from .base import BackendError, DirectoryEntry
from .ldap import AttributeMap, looks_like_dn, to_entry, values


@dataclass(frozen=True)
class LdifRecord:
    dn: str
    attributes: dict[str, list[str]]


class LdifError(ValueError):
    pass


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfold continuation lines (RFC 2849: a line starting with one space continues the previous)."""
    current: str | None = None
    start = 0
    for no, raw in enumerate(text.splitlines(), 1):
        if raw.startswith(" ") and current is not None:
            current += raw[1:]
            continue
        if current is not None:
            yield start, current
        current, start = raw, no
    if current is not None:
        yield start, current


def parse_ldif(text: str) -> list[LdifRecord]:
    records: list[LdifRecord] = []
    dn: str | None = None
    attrs: dict[str, list[str]] = {}
    skip = False

    def flush() -> None:
        nonlocal dn, attrs, skip
        if dn is not None and not skip:
            records.append(LdifRecord(dn, attrs))
        dn, attrs, skip = None, {}, False

    for no, line in _logical_lines(text):
        if not line.strip():
            flush()
            continue
        if line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        if not sep:
            raise LdifError(f"line {no}: no ':' in {line!r}")
        if rest.startswith(":"):                      # name:: base64
            raw = base64.b64decode(rest[1:].strip())
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                name, value = f"{name};binary", base64.b64encode(raw).decode("ascii")
        elif rest.startswith("<"):                    # name:< URL; not followed on purpose
            continue
        else:
            value = rest.lstrip(" ")
        lname = name.lower()
        if dn is None:
            if lname == "version":
                continue
            if lname != "dn":
                raise LdifError(f"line {no}: record does not start with dn:")
            dn = value.strip()
            continue
        if lname == "changetype":
            skip = value.strip().lower() != "add"     # only additions describe entries
            continue
        attrs.setdefault(name, []).append(value)
    flush()
    return records


def norm_dn(dn: str) -> str:
    """Comparison form of a DN: RDNs split on unescaped commas, spaces trimmed, lower-cased.

    Good enough for the attribute types of a directory file (RFC 4514 2, 4517 4.2.15);
    not a full distinguishedNameMatch.
    """
    parts, cur, esc = [], "", False
    for ch in dn:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            cur += ch
            esc = True
        elif ch == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for rdn in parts:
        typ, _, val = rdn.partition("=")
        out.append(f"{typ.strip()}={val.strip()}")
    return ",".join(out).lower()


# RFC 2307 / OpenLDAP scheme names -> (hash, salted)
_SCHEMES = {
    "SHA": ("sha1", False), "SSHA": ("sha1", True),
    "SHA256": ("sha256", False), "SSHA256": ("sha256", True),
    "SHA512": ("sha512", False), "SSHA512": ("sha512", True),
}


def check_password(stored: str, password: str) -> bool:
    """userPassword check: "{SSHA}base64(digest+salt)", "{SHA}base64(digest)" or plain text."""
    given = password.encode("utf-8")
    if stored.startswith("{") and "}" in stored:
        scheme, _, rest = stored[1:].partition("}")
        algo = _SCHEMES.get(scheme.upper())
        if algo is None:
            if scheme.upper() == "CLEARTEXT":
                return hmac.compare_digest(rest.encode("utf-8"), given)
            return False                               # {CRYPT}, {ARGON2} ...: not supported here
        name, salted = algo
        try:
            blob = base64.b64decode(rest, validate=True)
        except ValueError:
            return False
        size = hashlib.new(name).digest_size
        digest, salt = blob[:size], blob[size:]
        if salted != bool(salt):
            return False
        return hmac.compare_digest(hashlib.new(name, given + salt).digest(), digest)
    return hmac.compare_digest(stored.encode("utf-8"), given)


def make_ssha(password: str, salt: bytes) -> str:
    """{SSHA} value for a password (used by tests and `exgate demo` user setup)."""
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode("utf-8") + salt).digest() + salt).decode()


class FileDirectory:
    """DirectoryClient over one LDIF file, loaded into memory (reload(); change_marker reloads an edited file)."""

    def __init__(self, ldif_path: str | Path, *, attribute_map: AttributeMap | None = None) -> None:
        self.path = Path(ldif_path)
        self.amap = attribute_map or AttributeMap()
        self._records: dict[str, LdifRecord] = {}
        self._entries: dict[str, DirectoryEntry] = {}
        self._seen: tuple | None = None        # the file's (inode, size, mtime, ctime) when last read
        self.reload()

    def reload(self) -> None:
        seen = self._file_stamp()
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BackendError(f"directory file {self.path}: {exc}", "unavailable") from exc
        records = parse_ldif(text)
        self._records = {norm_dn(r.dn): r for r in records}
        entries = {}
        for r in records:
            e = to_entry(r.dn, r.attributes, self.amap)
            if e is not None:
                entries[norm_dn(r.dn)] = self._with_member_of(e, records)
        self._entries = entries
        self._generation = getattr(self, "_generation", 0) + 1
        self._seen = seen

    def _file_stamp(self) -> tuple | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    async def change_marker(self, kinds: Sequence[str] = ("user", "group")) -> int:
        """Changes with every reload(); the file is read again first when its size or times moved since it was
        last read (one stat per call), so an edit to the file shows in the next GAL. A file that is gone or
        does not parse leaves the entries as they were (tried again when the file changes again)."""
        stamp = self._file_stamp()
        if stamp is not None and stamp != self._seen:
            try:
                self.reload()
            except (BackendError, ValueError):     # LdifError, bad base64 or UTF-8 in a half-written file
                self._seen = stamp
        return self._generation

    @staticmethod
    def _with_member_of(entry: DirectoryEntry, records: list[LdifRecord]) -> DirectoryEntry:
        """Compute memberOf like the slapd memberof overlay, so both directories agree."""
        if entry.kind == "group" or any(k.lower() == "memberof" for k in entry.attributes):
            return entry
        dn = norm_dn(entry.dn)
        groups = [r.dn for r in records
                  if any(norm_dn(v) == dn for a in ("member", "uniqueMember") for v in values(r.attributes, a))]
        if groups:
            entry.attributes["memberOf"] = groups
        return entry

    def _users(self) -> list[DirectoryEntry]:
        return [e for e in self._entries.values() if e.kind != "group"]

    async def get_user(self, login_or_email: str) -> DirectoryEntry | None:
        text = login_or_email.strip().lower()
        if not text:
            return None
        if looks_like_dn(text):
            e = self._entries.get(norm_dn(text))
            return e if e is not None and e.kind != "group" else None
        hits = [e for e in self._users()
                if text in {v.lower() for a in (self.amap.uid, self.amap.mail)
                            for v in values(e.attributes, a)}]
        return hits[0] if len(hits) == 1 else None

    async def authenticate(self, login: str, password: str) -> DirectoryEntry | None:
        if not password:
            return None
        entry = await self.get_user(login)
        if entry is None:
            return None
        record = self._records[norm_dn(entry.dn)]
        if any(check_password(p, password) for p in values(record.attributes, "userPassword")):
            return entry
        return None

    async def search(self, text: str, limit: int = 100) -> list[DirectoryEntry]:
        text = text.strip().lower()
        if not text:
            return []
        hits = [e for e in self._entries.values()
                if any(v.lower().startswith(text) for a in self.amap.search for v in values(e.attributes, a))]
        return sorted(hits, key=lambda e: e.display_name.lower())[:limit]

    async def list_all(self, kinds: Sequence[str] = ("user", "group")) -> list[DirectoryEntry]:
        return sorted((e for e in self._entries.values() if e.kind in kinds),
                      key=lambda e: e.display_name.lower())

    async def expand_group(self, dn_or_email: str) -> list[DirectoryEntry]:
        """Member entries; nested groups are expanded too, each group once."""
        text = dn_or_email.strip().lower()
        if looks_like_dn(text):
            group = self._entries.get(norm_dn(text))
        else:
            matches = [e for e in self._entries.values() if e.kind == "group" and (
                (e.email or "").lower() == text or any(v.lower() == text for v in values(e.attributes, "cn")))]
            group = matches[0] if len(matches) == 1 else None
        if group is None or group.kind != "group":
            raise BackendError(f"no group {dn_or_email!r} in {self.path.name}", "notfound")
        seen_groups = {norm_dn(group.dn)}
        seen: set[str] = set()
        out: list[DirectoryEntry] = []
        queue = list(group.members)
        while queue:
            dn = norm_dn(queue.pop(0))
            if dn in seen:
                continue
            seen.add(dn)
            member = self._entries.get(dn)
            if member is None:
                continue
            if member.kind == "group":
                if dn not in seen_groups:
                    seen_groups.add(dn)
                    queue.extend(member.members)
                continue
            out.append(member)
        return out

    async def ping(self) -> None:
        """The file was read at start; nothing can go away since."""
        return None

    async def close(self) -> None:
        return None
