"""Automatic replies (Out of Office) per mailbox, kept in the state database.

What EWS Get/SetUserOofSettings (MS-OXWSOOF), MailTips and the MAPI PidTagOutOfOfficeState need.
The reply itself is never sent by the gateway: where a ManageSieve server is configured
([sieve]), gateway/store/sieve_oof.py writes a Sieve vacation script (RFC 5230) that the
backend's delivery agent runs, and that script is the source of truth; the copy here is
then a cache. Without one (the embedded demo), the settings are only stored and reported.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from .state import oof as repo
from .state.db import StateDB

STATES = ("Disabled", "Enabled", "Scheduled")
AUDIENCES = ("None", "Known", "All")

@dataclass
class OofSettings:
    state: str = "Disabled"
    external_audience: str = "All"
    start: datetime | None = None       # aware UTC; used when state is "Scheduled"
    end: datetime | None = None
    internal_reply: str = ""
    external_reply: str = ""
    internal_culture: str | None = None
    external_culture: str | None = None

    def active(self, now: datetime | None = None) -> bool:
        """Would a message arriving ``now`` get an automatic reply?"""
        if self.state == "Enabled":
            return True
        if self.state == "Scheduled" and self.start and self.end:
            now = now or datetime.now(timezone.utc)
            return self.start <= now < self.end
        return False

    def to_json(self) -> str:
        d = asdict(self)
        d["start"] = self.start.isoformat() if self.start else None
        d["end"] = self.end.isoformat() if self.end else None
        return json.dumps(d)

    @classmethod
    def from_json(cls, data: str) -> "OofSettings":
        d = json.loads(data)
        for k in ("start", "end"):
            d[k] = datetime.fromisoformat(d[k]) if d.get(k) else None
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def load(db: StateDB, owner: str) -> OofSettings:
    data = repo.load_json(db, owner)
    return OofSettings.from_json(data) if data is not None else OofSettings()


def validate(settings: OofSettings) -> None:
    """ValueError with a reason when the settings cannot be stored."""
    if settings.state not in STATES:
        raise ValueError(f"OofState {settings.state!r} is not one of {STATES}")
    if settings.external_audience not in AUDIENCES:
        raise ValueError(f"ExternalAudience {settings.external_audience!r} is not one of {AUDIENCES}")
    if settings.state == "Scheduled" and (not settings.start or not settings.end or settings.start >= settings.end):
        raise ValueError("a scheduled automatic reply needs a Duration whose StartTime is before its EndTime")


def save(db: StateDB, owner: str, settings: OofSettings) -> None:
    validate(settings)
    repo.save_json(db, owner, settings.to_json(), datetime.now(timezone.utc).isoformat())
