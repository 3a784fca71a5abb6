"""Where NT hashes come from: the directory (sambaNTPassword) or the gateway's own store.

The local store keeps only the NT hash (MD4 of the UTF-16LE password,
MS-NLMP 3.3.1 NTOWFv1) in the state database table ``ntlm_credentials``;
plaintext passwords are never stored. ``exgate passwd USER`` manages it.
An NT hash is password-equivalent for NTLM: protect the state database like
a password file.
"""
from __future__ import annotations

import binascii
from dataclasses import dataclass
from datetime import datetime, timezone

from gateway.backends.ldap import first

from .pyspnego import ntowfv1   # MD4(UTF-16LE(password)): pyspnego's own MD4, no OpenSSL legacy provider

NT_HASH_ATTRIBUTE = "sambaNTPassword"   # Samba schema: 32 hex digits


def nt_hash(password: str) -> bytes:
    return ntowfv1(password)


def parse_hex_hash(text: str) -> bytes | None:
    t = text.strip()
    if len(t) != 32:
        return None
    try:
        return binascii.unhexlify(t)
    except (binascii.Error, ValueError):
        return None


class NtHashStore:
    """The ``ntlm_credentials`` table: login (lower-case directory uid) -> NT hash."""

    def __init__(self, db):
        self.db = db

    def get(self, login: str) -> bytes | None:
        row = self.db.one("SELECT nt_hash FROM ntlm_credentials WHERE login = ?", (login.lower(),))
        return parse_hex_hash(row[0]) if row else None

    def set_hash(self, login: str, value: bytes) -> None:
        if len(value) != 16:
            raise ValueError("an NT hash is 16 bytes")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.db.transaction():
            self.db.execute("DELETE FROM ntlm_credentials WHERE login = ?", (login.lower(),))
            self.db.execute("INSERT INTO ntlm_credentials (login, nt_hash, updated) VALUES (?, ?, ?)",
                            (login.lower(), value.hex(), now))

    def set_password(self, login: str, password: str) -> None:
        self.set_hash(login, nt_hash(password))

    def delete(self, login: str) -> bool:
        return self.db.execute("DELETE FROM ntlm_credentials WHERE login = ?", (login.lower(),)) > 0

    def logins(self) -> list[str]:
        return [r[0] for r in self.db.all("SELECT login FROM ntlm_credentials ORDER BY login")]


@dataclass(frozen=True)
class NtCredential:
    entry: object          # DirectoryEntry
    nt_hash: bytes
    source: str            # "directory" or "store"


class NtHashSource:
    """Find a user in the directory and the NT hash to check their NTLM response with."""

    def __init__(self, state):
        self.state = state
        self.store = NtHashStore(state.db)

    async def lookup(self, user_name: str) -> NtCredential | None:
        directory = self.state.directory
        if directory is None or not user_name:
            return None
        entry = await directory.get_user(user_name)
        if entry is None:
            return None
        value = first(entry.attributes, NT_HASH_ATTRIBUTE)
        if value and (h := parse_hex_hash(value)) is not None:
            return NtCredential(entry, h, "directory")
        for key in (entry.uid, entry.email):
            if key and (h := self.store.get(key)) is not None:
                return NtCredential(entry, h, "store")
        return None
