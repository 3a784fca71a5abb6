"""Free/busy of a mailbox: busy periods from its CalDAV calendars, for EWS GetUserAvailability.

A server that cannot expand recurrences itself hands over whole series; they are expanded with the
store's recurrence expansion (``recurrence.py``), the same occurrences EWS CalendarView lists.

The owner's own periods come from their calendars through their own DAV session, with details
(subject, location) since the owner may see them. Other users' periods: Radicale has no RFC 6638
scheduling outbox and a user's DAV session reaches only that user's data, so the gateway reads
another user's calendars only where its configuration gives it a service login for every user
(``dav.auth = "proxy"``, as `exgate demo` runs). That read is free/busy only: start, end and busy
status, never subjects or items. Where DAV uses each user's own password there is no such login;
then the periods the gateway *published* for that user the last time it read them through the
user's own session are answered (as Exchange 2003 published free/busy to a public folder).
Published periods live in the state database, table ``exgate_freebusy``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .errors import AccessDenied, BackendUnavailable, NotFound
from .state.db import StateDB

if TYPE_CHECKING:
    from gateway.config import Config

    from .mailbox import Mailbox

# Exchange's LegacyFreeBusyType, ordered by weight: MergedFreeBusy digits 0..3 (MS-OXWSAVAIL? / EWS docs)
BUSY_TYPES = ("Free", "Tentative", "Busy", "OOF")
PUBLISH_BEFORE = timedelta(days=7)
PUBLISH_AFTER = timedelta(days=60)

_TABLE = """CREATE TABLE IF NOT EXISTS exgate_freebusy (
    owner TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    periods TEXT NOT NULL,
    published TEXT NOT NULL
)"""
_ready: set[int] = set()


class NoFreeBusyAccess(AccessDenied):
    """Nothing the gateway may read tells this user's free/busy for the window."""


@dataclass(frozen=True)
class BusyPeriod:
    start: datetime                 # aware UTC
    end: datetime
    busy_type: str                  # one of BUSY_TYPES
    subject: str | None = None      # details: only for the owner's own view
    location: str | None = None
    is_meeting: bool = False
    is_recurring: bool = False
    is_private: bool = False

    def free_busy_only(self) -> "BusyPeriod":
        return BusyPeriod(self.start, self.end, self.busy_type)


# ------------------------------------------------------------------ iCalendar -> periods

def _utc(value) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise ValueError(f"not a date: {value!r}")


def _busy_type(ev) -> str:
    cdo = str(ev.get("X-MICROSOFT-CDO-BUSYSTATUS") or "").upper()
    if cdo in ("FREE", "TENTATIVE", "BUSY", "OOF"):
        return {"FREE": "Free", "TENTATIVE": "Tentative", "BUSY": "Busy", "OOF": "OOF"}[cdo]
    if str(ev.get("TRANSP") or "").upper() == "TRANSPARENT":
        return "Free"
    if str(ev.get("STATUS") or "").upper() == "TENTATIVE":
        return "Tentative"
    return "Busy"


def periods_from_ical(data: bytes, start: datetime, end: datetime) -> list[BusyPeriod]:
    """VEVENTs (expanded instances or single events) overlapping [start, end)."""
    import icalendar
    out = []
    cal = icalendar.Calendar.from_ical(data)
    for ev in cal.walk("VEVENT"):
        if str(ev.get("STATUS") or "").upper() == "CANCELLED" or ev.get("DTSTART") is None:
            continue
        raw = ev.decoded("DTSTART")
        s = _utc(raw)
        if ev.get("DTEND") is not None:
            e = _utc(ev.decoded("DTEND"))
        elif ev.get("DURATION") is not None:
            e = s + ev.decoded("DURATION")
        else:
            e = s + (timedelta(days=1) if not isinstance(raw, datetime) else timedelta(0))
        if e <= start or s >= end:
            continue
        out.append(BusyPeriod(
            s, e, _busy_type(ev), str(ev.get("SUMMARY") or "") or None, str(ev.get("LOCATION") or "") or None,
            is_meeting=ev.get("ATTENDEE") is not None,
            is_recurring=ev.get("RECURRENCE-ID") is not None or ev.get("RRULE") is not None,
            is_private=str(ev.get("CLASS") or "").upper() in ("PRIVATE", "CONFIDENTIAL")))
    return out


# PidLidBusyStatus (MS-OXOCAL 2.2.1.2) -> LegacyFreeBusyType; 4 (working elsewhere) counts as busy
_BUSY_STATUS = {0: "Free", 1: "Tentative", 2: "Busy", 3: "OOF", 4: "Busy"}


def periods_from_series(data: bytes, start: datetime, end: datetime) -> list[BusyPeriod]:
    """One calendar object as a server hands it over unexpanded (RFC 4791 without ``expand``): a
    series is expanded by the store's recurrence expansion (``gateway.store.recurrence``, the one EWS
    CalendarView lists), exceptions at their own times with their own busy status, deleted instances
    left out; anything else is read as it is (``periods_from_ical``)."""
    import icalendar
    cal = icalendar.Calendar.from_ical(data)
    if not any(ev.get("RRULE") is not None for ev in cal.walk("VEVENT")):
        return periods_from_ical(data, start, end)
    from protocols.mapi.props import appointment as A
    from protocols.mapi.props import core as P
    from protocols.mapi.props import mail as M

    from .convert.ical_event import ical_to_appointment
    from .recurrence import Series, occurrence_props
    try:
        appt = ical_to_appointment(data)
        series = Series(appt.props) if appt.props.get(A.PidLidAppointmentRecur) else None
    except Exception:  # noqa: BLE001 - a series the conversion cannot read still shows its first instance
        series = None
    if series is None:
        return periods_from_ical(data, start, end)
    out = []
    for occ in series.window(start, end):
        props, _ = occurrence_props(appt.props, occ, series, appt.attachments)
        flags = props.get(A.PidLidAppointmentStateFlags) or 0
        if flags & A.asfCanceled:
            continue
        out.append(BusyPeriod(
            occ.start, occ.end, _BUSY_STATUS.get(props.get(A.PidLidBusyStatus), "Busy"),
            props.get(P.PidTagSubject) or None, props.get(A.PidLidLocation) or None,
            is_meeting=bool(flags & A.asfMeeting), is_recurring=True,
            is_private=props.get(P.PidTagSensitivity) in (M.SENSITIVITY_PRIVATE, M.SENSITIVITY_CONFIDENTIAL)))
    return out


async def _read_calendars(dav, hrefs: list[str], start: datetime, end: datetime) -> list[BusyPeriod]:
    from gateway.backends.base import BackendError
    out: list[BusyPeriod] = []
    for href in hrefs:
        expanded = True
        try:
            resources = await dav.calendar_query(href, start, end, "VEVENT", expand=True)
        except BackendError:
            resources = await dav.calendar_query(href, start, end, "VEVENT")   # a server without expand
            expanded = False
        for r in resources:
            if r.data:
                try:
                    out.extend(periods_from_ical(r.data, start, end) if expanded
                               else periods_from_series(r.data, start, end))
                except ValueError:
                    continue            # one unreadable event does not hide the others
    return sorted(out, key=lambda p: (p.start, p.end))


# ------------------------------------------------------------------ the owner's own periods

async def own_periods(mbx: "Mailbox", start: datetime, end: datetime) -> list[BusyPeriod]:
    """The mailbox's calendars (CalDAV, VEVENT) between start and end, with details;
    the periods around now are published for other users as a side effect."""
    dav = mbx.backends.dav
    if dav is None:
        return []
    # the calendars as the DAV server lists them (no mail folder is touched: nothing here needs IMAP)
    calendars, _ = await dav.discover()
    hrefs = [c.href for c in calendars if not c.components or "VEVENT" in c.components]
    now = datetime.now(timezone.utc)
    lo, hi = min(start, now - PUBLISH_BEFORE), max(end, now + PUBLISH_AFTER)
    everything = await _read_calendars(dav, hrefs, lo, hi)
    publish(mbx.db, mbx.email, lo, hi, everything)
    return [p for p in everything if p.end > start and p.start < end]


# ------------------------------------------------------------------ another user's periods

async def other_periods(db: StateDB, config: "Config", login: str, email: str, start: datetime,
                        end: datetime) -> list[BusyPeriod]:
    """Free/busy of another user (no details), live through the proxy login or as last published."""
    dav_cfg = config.dav
    if dav_cfg.url and dav_cfg.auth == "proxy" and dav_cfg.proxy_header:
        from gateway.backends.base import BackendError
        from gateway.backends.dav import DavClient
        client = DavClient(dav_cfg.url, dav_cfg.service_user, dav_cfg.service_password,
                           headers={dav_cfg.proxy_header: login})
        try:
            calendars, _ = await client.discover()
            hrefs = [c.href for c in calendars if not c.components or "VEVENT" in c.components]
            now = datetime.now(timezone.utc)
            lo, hi = min(start, now - PUBLISH_BEFORE), max(end, now + PUBLISH_AFTER)
            found = [p.free_busy_only() for p in await _read_calendars(client, hrefs, lo, hi)]
        except BackendError as exc:
            raise BackendUnavailable(f"the calendar server did not answer for {email}: {exc}") from exc
        finally:
            await client.close()
        publish(db, email, lo, hi, found)
        return [p for p in found if p.end > start and p.start < end]
    return published_periods(db, email, start, end)


# ------------------------------------------------------------------ publishing

def _ensure(db: StateDB) -> None:
    if id(db) not in _ready:
        db.execute(_TABLE)
        _ready.add(id(db))


def publish(db: StateDB, owner: str, window_start: datetime, window_end: datetime,
            periods: list[BusyPeriod]) -> None:
    """Keep the free/busy (never the details) of ``owner`` for [window_start, window_end)."""
    _ensure(db)
    rows = [{"start": p.start.isoformat(), "end": p.end.isoformat(), "busy_type": p.busy_type}
            for p in periods if p.busy_type != "Free"]
    with db.transaction():
        db.execute("DELETE FROM exgate_freebusy WHERE owner = ?", (owner.lower(),))
        db.execute("INSERT INTO exgate_freebusy (owner, window_start, window_end, periods, published) "
                   "VALUES (?, ?, ?, ?, ?)", (owner.lower(), window_start.isoformat(), window_end.isoformat(),
                                              json.dumps(rows), datetime.now(timezone.utc).isoformat()))


def published_periods(db: StateDB, owner: str, start: datetime, end: datetime) -> list[BusyPeriod]:
    _ensure(db)
    row = db.one("SELECT window_start, window_end, periods FROM exgate_freebusy WHERE owner = ?", (owner.lower(),))
    if row is None:
        raise NoFreeBusyAccess(f"{owner} has no published free/busy and the gateway has no login to read it")
    ws, we = datetime.fromisoformat(row[0]), datetime.fromisoformat(row[1])
    if start < ws or end > we:
        raise NoFreeBusyAccess(f"the free/busy published for {owner} covers {ws:%Y-%m-%d} to {we:%Y-%m-%d} only")
    out = [BusyPeriod(datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]), p["busy_type"])
           for p in json.loads(row[2])]
    return [p for p in out if p.end > start and p.start < end]


def as_dict(p: BusyPeriod) -> dict:
    return asdict(p)


__all__ = ["BUSY_TYPES", "BusyPeriod", "NoFreeBusyAccess", "NotFound", "other_periods", "own_periods",
           "periods_from_ical", "publish", "published_periods"]
