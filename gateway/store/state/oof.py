"""The automatic-reply settings table (exgate_oof): one JSON row per mailbox owner.

Used by gateway/store/oof.py (the settings type and its rules); front ends reach it through
``Mailbox.oof_settings`` and the directory facade (MailTips of another user)."""
from __future__ import annotations

from .db import StateDB

_TABLE = """CREATE TABLE IF NOT EXISTS exgate_oof (
    owner TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    modified TEXT NOT NULL
)"""
_ready: set[int] = set()


def _ensure(db: StateDB) -> None:
    if id(db) not in _ready:
        db.execute(_TABLE)
        _ready.add(id(db))


def load_json(db: StateDB, owner: str) -> str | None:
    """The stored settings of ``owner`` (JSON text), or None."""
    _ensure(db)
    row = db.one("SELECT settings FROM exgate_oof WHERE owner = ?", (owner.lower(),))
    return row[0] if row else None


def save_json(db: StateDB, owner: str, settings: str, modified: str) -> None:
    _ensure(db)
    with db.transaction():
        db.execute("DELETE FROM exgate_oof WHERE owner = ?", (owner.lower(),))
        db.execute("INSERT INTO exgate_oof (owner, settings, modified) VALUES (?, ?, ?)",
                   (owner.lower(), settings, modified))
