"""One occurrence of a recurring event as its own iCalendar object (what Exchange exports as the
MimeContent of an occurrence or exception item).

Exchange answers GetItem on an occurrence ItemId with a VCALENDAR holding that instance alone: the
exception's VEVENT (with RECURRENCE-ID) when the occurrence was changed, else the series' VEVENT
without its recurrence rules, moved to the occurrence and given a RECURRENCE-ID. evolution-ews
builds each ModifiedOccurrence from exactly that (e-cal-backend-ews.c, ecb_ews_item_to_component_sync:
the first VEVENT of the item's MimeContent); without it the moved occurrence is lost.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import icalendar

_SERIES_ONLY = ("RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID")


def _utc(value, tz=None):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz or timezone.utc)
        return value.astimezone(timezone.utc)
    return value     # a date (all-day series)


def _same_instance(rid_value, original_start: datetime) -> bool:
    if isinstance(rid_value, datetime):
        return _utc(rid_value) == _utc(original_start)
    if isinstance(rid_value, date):
        return rid_value == original_start.date()
    return False


def _set_time(ev, name: str, when, like) -> None:
    """Set DTSTART/DTEND/RECURRENCE-ID to ``when`` in the form of ``like`` (the series' DTSTART):
    a date for all-day series, local time with the same TZID, or UTC."""
    ev.pop(name, None)
    value = like.dt if like is not None else when
    tzid = like.params.get("TZID") if like is not None else None
    if isinstance(value, datetime) and isinstance(when, datetime):
        if value.tzinfo is not None and tzid:
            local = _utc(when).astimezone(value.tzinfo).replace(tzinfo=None)
            ev.add(name, local, parameters={"TZID": tzid})
        elif value.tzinfo is None:            # floating series: floating instance
            ev.add(name, _utc(when).replace(tzinfo=None))
        else:
            ev.add(name, _utc(when))
    elif isinstance(value, date) and not isinstance(value, datetime):
        ev.add(name, when.date() if isinstance(when, datetime) else when)
    else:
        ev.add(name, when)


def instance_ical(series_ical: bytes, original_start: datetime, start: datetime, end: datetime) -> bytes:
    """The VCALENDAR of one instance of ``series_ical`` (the series as iCalendar, with its
    RECURRENCE-ID overrides): the override for ``original_start`` if there is one, else the series'
    event moved to [start, end) with RECURRENCE-ID ``original_start`` and no recurrence rules."""
    cal = icalendar.Calendar.from_ical(series_ical)
    events = [c for c in cal.subcomponents if c.name == "VEVENT"]
    if not events:
        raise ValueError("no VEVENT in the series")
    master = next((e for e in events if "RECURRENCE-ID" not in e), events[0])
    chosen = next((e for e in events if "RECURRENCE-ID" in e
                   and _same_instance(e.decoded("RECURRENCE-ID"), original_start)), None)
    if chosen is None:
        chosen = icalendar.Event()
        for key, value in master.property_items(recursive=False)[1:-1]:
            if key in _SERIES_ONLY or key in ("DTSTART", "DTEND", "DURATION"):
                continue
            chosen.add(key, value, encode=False)
        for sub in master.subcomponents:
            chosen.add_component(sub)
        like = master.get("DTSTART")
        _set_time(chosen, "DTSTART", start, like)
        _set_time(chosen, "DTEND", end, like)
        _set_time(chosen, "RECURRENCE-ID", original_start, like)
    out = icalendar.Calendar()
    for key in ("VERSION", "PRODID", "CALSCALE", "METHOD"):
        if key in cal:
            out.add(key, cal[key], encode=False)
    for tz in cal.subcomponents:
        if tz.name == "VTIMEZONE":
            out.add_component(tz)
    out.add_component(chosen)
    return out.to_ical()
