"""VTODO <-> task properties (MS-OXOTASK 2.2.2, the VTODO side of MS-OXCICAL).

Outlook tasks are date-only: PidLidTaskStartDate / PidLidTaskDueDate hold the local
date at midnight stored as if UTC; PidLidCommonStart / PidLidCommonEnd keep the exact
instant, so a DUE with a time survives a round trip.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import icalendar

from gateway.store.model import MessageContent
from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as C
from protocols.mapi.props import named as N
from protocols.mapi.props import task as T

from protocols.mapi import recur as R
from .ical_common import (UTC, TzContext, as_list, common_props_in, common_props_out, fake_utc, first_alarm,
                          naive, new_calendar, text, utc)
from .ical_event import ICalError, pattern_from_rrule, rrule_from_pattern

_STATUS_IN = {"NEEDS-ACTION": T.tsvNotStarted, "IN-PROCESS": T.tsvInProgress, "COMPLETED": T.tsvComplete,
              "CANCELLED": T.tsvDeferred}
_STATUS_OUT = {T.tsvNotStarted: "NEEDS-ACTION", T.tsvInProgress: "IN-PROCESS", T.tsvComplete: "COMPLETED",
               T.tsvWaiting: "IN-PROCESS", T.tsvDeferred: "CANCELLED"}


def _date_props(ctx: TzContext, prop) -> tuple[datetime, datetime, datetime]:
    """(date-only value stored as UTC midnight, exact UTC instant, local wall time)."""
    when = ctx.aware(prop)
    zone = ctx.zone(prop, when.year)
    local = naive(when.astimezone(zone.tz)) if zone else naive(utc(when))
    if not isinstance(prop.dt, datetime):
        local = datetime.combine(prop.dt, time())
        return fake_utc(local), fake_utc(local), local
    return fake_utc(datetime.combine(local.date(), time())), utc(when), local


def ical_to_task(data: bytes, *, uid_hint: str | None = None, default_tz: str | None = None) -> MessageContent:
    """One VTODO -> an IPM.Task."""
    cal = icalendar.Calendar.from_ical(data)
    todos = list(cal.walk("VTODO"))
    if not todos:
        raise ICalError("no VTODO in the calendar data")
    todo = next((t for t in todos if text(t, "UID") == uid_hint), todos[0])
    ctx = TzContext(cal, default_tz)
    p: dict = {C.PidTagMessageClass: T.CLASS_TASK}
    common_props_in(todo, p)
    uid = text(todo, "UID") or uid_hint
    if uid:
        p[A.PidNameCalendarUid] = uid

    start_local = None
    if todo.get("DTSTART") is not None:
        p[T.PidLidTaskStartDate], p[N.PidLidCommonStart], start_local = _date_props(ctx, todo["DTSTART"])
    due_local = None
    if todo.get("DUE") is not None:
        p[T.PidLidTaskDueDate], p[N.PidLidCommonEnd], due_local = _date_props(ctx, todo["DUE"])

    status = _STATUS_IN.get((text(todo, "STATUS") or "NEEDS-ACTION").upper(), T.tsvNotStarted)
    completed = todo.get("COMPLETED")
    if completed is not None:
        c = completed.dt if isinstance(completed.dt, datetime) else datetime.combine(completed.dt, time())
        c = utc(c if c.tzinfo else c.replace(tzinfo=UTC))
        p[T.PidLidTaskDateCompleted] = fake_utc(datetime.combine(c.date(), time()))
        p[C.PidTagFlagCompleteTime] = c
        status = T.tsvComplete
    pct = todo.get("PERCENT-COMPLETE")
    p[T.PidLidPercentComplete] = (int(pct) / 100.0 if pct is not None
                                  else 1.0 if status == T.tsvComplete else 0.0)
    p[T.PidLidTaskStatus] = status
    p[T.PidLidTaskComplete] = status == T.tsvComplete
    p[T.PidLidTaskState] = T.tdsOWNNEW
    p[T.PidLidTaskOwnership] = 0
    p[T.PidLidTaskAcceptanceState] = 0
    p[N.PidLidTaskMode] = 0

    alarm = first_alarm(todo)
    if alarm is not None:
        trig = alarm["TRIGGER"]
        when = None
        if isinstance(trig.dt, timedelta):
            related_end = str(trig.params.get("RELATED", "START")).upper() == "END"
            base = p.get(N.PidLidCommonEnd if related_end else N.PidLidCommonStart) \
                or p.get(N.PidLidCommonEnd) or p.get(N.PidLidCommonStart)
            if base is not None:
                when = base + trig.dt
        else:
            when = utc(trig.dt if trig.dt.tzinfo else trig.dt.replace(tzinfo=UTC))
        if when is not None:
            p.update({N.PidLidReminderSet: True, N.PidLidReminderTime: when, N.PidLidReminderSignalTime: when})
    p.setdefault(N.PidLidReminderSet, False)

    rule = todo.get("RRULE")
    anchor = start_local or due_local
    if rule is not None and anchor is not None:
        rule = as_list(rule)[0]
        pattern = pattern_from_rrule(rule, datetime.combine(anchor.date(), time()), UTC)
        p[T.PidLidTaskRecurrence] = R.encode_recurrence_pattern(pattern)
        p[T.PidLidTaskFRecurring] = True
    else:
        p[T.PidLidTaskFRecurring] = False
    return MessageContent(props=p)


def _date_out(todo, name: str, date_only: datetime | None, exact: datetime | None) -> None:
    if exact is not None and (date_only is None or exact != date_only):
        todo.add(name, utc(exact))
    elif date_only is not None:
        todo.add(name, date_only.date())


def task_to_ical(msg: MessageContent) -> bytes:
    """An IPM.Task -> VCALENDAR with one VTODO."""
    p = msg.props
    cal = new_calendar()
    todo = icalendar.Todo()
    todo.add("UID", p.get(A.PidNameCalendarUid) or str(uuid.uuid4()))
    todo.add("DTSTAMP", utc(p.get(C.PidTagLastModificationTime) or datetime.now(UTC).replace(microsecond=0)))
    common_props_out(p, todo)
    _date_out(todo, "DTSTART", p.get(T.PidLidTaskStartDate), p.get(N.PidLidCommonStart))
    _date_out(todo, "DUE", p.get(T.PidLidTaskDueDate), p.get(N.PidLidCommonEnd))
    status = p.get(T.PidLidTaskStatus, T.tsvNotStarted)
    if p.get(T.PidLidTaskComplete):
        status = T.tsvComplete
    todo.add("STATUS", _STATUS_OUT.get(status, "NEEDS-ACTION"))
    todo.add("PERCENT-COMPLETE", int(round(100 * float(p.get(T.PidLidPercentComplete, 0.0)))))
    done = p.get(C.PidTagFlagCompleteTime) or p.get(T.PidLidTaskDateCompleted)
    if done is not None:
        todo.add("COMPLETED", utc(done))
    if p.get(N.PidLidReminderSet) and p.get(N.PidLidReminderTime) is not None:
        alarm = icalendar.Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", "Reminder")
        alarm.add("TRIGGER", utc(p[N.PidLidReminderTime]), parameters={"VALUE": "DATE-TIME"})
        todo.add_component(alarm)
    blob = p.get(T.PidLidTaskRecurrence)
    if blob:
        todo.add("RRULE", rrule_from_pattern(R.decode_recurrence_pattern(blob), 0, None, True))
    cal.add_component(todo)
    return cal.to_ical()
