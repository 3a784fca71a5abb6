"""Calendar operations (MS-OXWSCAL, MS-OXWSMTGS) on the store.

- FindItem with CalendarView: single items in the window plus the occurrences of every series,
  expanded from PidLidAppointmentRecur (MS-OXOCAL 2.2.1.44) in the series' time zone; deleted
  instances are skipped and exceptions shown at their new times with their overrides.
- Occurrence ids: ``protocols.ews.calendar.encode_occurrence_id`` (master id + original start);
  GetItem takes them, OccurrenceItemId (master + InstanceIndex) and RecurringMasterItemId.
- CreateItem CalendarItem: the item is built as iCalendar and read back through the store's
  MS-OXCICAL conversion (so the recurrence blob, time zone definitions and GlobalObjectId are the
  same as for anything that arrives over CalDAV), then the client's other fields are laid over it.
  SendMeetingInvitations sends IPM.Schedule.Meeting.Request messages (the store adds the iTIP part).
- AcceptItem / TentativelyAcceptItem / DeclineItem (CreateItem response objects): the attendee's
  calendar copy gets its response (made from the request when there is none yet), and an
  IPM.Schedule.Meeting.Resp.* goes to the organizer. CancelCalendarItem sends
  IPM.Schedule.Meeting.Canceled and removes the organizer's item.
- UpdateItem of calendar items (fields, attendees, recurrence; SendMeetingInvitationsOrCancellations).
- One occurrence (occurrences.py does the blob and attachment edits): UpdateItem makes or edits its
  exception on the master (ExceptionInfo/ExtendedException + exception attachment, MS-OXOCAL 2.2.10.1),
  which CalDAV stores as a RECURRENCE-ID override; the answer names the occurrence with the master's new
  change key. DeleteItem and CancelCalendarItem delete the instance (a deleted instance in the blob).
  For a meeting the user organizes, updates and cancellations of one instance go out as iTIP
  REQUEST/CANCEL with RECURRENCE-ID; an attendee's Accept/Tentative/Decline of one instance changes
  only that instance in their calendar and sends a REPLY with RECURRENCE-ID.

Responses are not applied to the organizer's calendar automatically: exgate has no calendar
assistant, so a MeetingResponse stays a message in the organizer's Inbox.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import icalendar

from gateway.store import conversions as conv
from gateway.store import errors as se
from gateway.store.convert import ical
from protocols.mapi import recur as R
from protocols.mapi.goid import clean_goid
from gateway.store.convert.ical_instance import instance_ical
from gateway.store.convert.tz import olson_zone
from gateway.store.model import MessageContent, Recipient
from gateway.store.objects import Item
from gateway.store.recurrence import Occurrence, Series, occurrence_props, uid_of, zone_of
from protocols.ews import calendar as ec
from protocols.ews.folders import read_folder_refs
from protocols.ews.items import ItemInput, ItemView, needs_full_item, write_item
from protocols.ews.ns import child, children, local, m, sub, t
from protocols.ews.responses import ResponseError
from protocols.ews.values import PathError, find_path, parse_datetime
from protocols.mapi.props import appointment as A
from protocols.mapi import restrictions as MR
from protocols.mapi.props import core as P
from protocols.mapi.props import named as N

from . import items as ews_items
from . import occurrences as occ_edit
from .attachments import visible
from .context import EwsContext, for_each

UTC = timezone.utc


def _is_calendar_class(cls) -> bool:
    return str(cls or "").startswith((A.CLASS_APPOINTMENT, "IPM.Schedule.Meeting", "IPM.OLE.CLASS"))


# ---------------------------------------------------------------- series facts
# The expansion itself (Series, Occurrence, occurrence_props, the series' zone and UID) is the
# store's (gateway/store/recurrence.py): free/busy and MAPI list the same occurrences.

def recurrence_of(arp: R.AppointmentRecurrencePattern) -> ec.Recurrence:
    p = arp.pattern
    start = R.from_minutes(p.start_date)
    yearly = p.recur_frequency == R.FREQ_YEARLY or (p.pattern_type not in (R.PT_DAY, R.PT_WEEK) and p.period == 12)
    if p.pattern_type == R.PT_DAY:
        r = ec.Recurrence("Daily", interval=max(p.period // R.MINUTES_PER_DAY, 1))
    elif p.pattern_type == R.PT_WEEK:
        r = ec.Recurrence("Weekly", interval=p.period, days=[ec.DAY_NAMES[i] for i in range(7)
                                                             if p.pattern_specific[0] & (1 << i)],
                          first_day_of_week=ec.DAY_NAMES[p.first_dow % 7])
    elif p.pattern_type in (R.PT_MONTH_NTH, R.PT_HJ_MONTH_NTH):
        mask, nth = p.pattern_specific
        r = ec.Recurrence("RelativeYearly" if yearly else "RelativeMonthly", interval=p.period,
                          days=[ec.DAY_NAMES[i] for i in range(7) if mask & (1 << i)],
                          week_index=ec.WEEK_INDEX[min(max(nth, 1), 5) - 1])
    else:
        day = 31 if p.pattern_type in (R.PT_MONTH_END, R.PT_HJ_MONTH_END) else p.pattern_specific[0]
        r = ec.Recurrence("AbsoluteYearly" if yearly else "AbsoluteMonthly", interval=p.period, day_of_month=day)
    if yearly:
        r.month = start.month
    r.start_date = start.date()
    if p.end_type == R.END_AFTER_N:
        r.range, r.count = "Numbered", p.occurrence_count
    elif p.end_type == R.END_AFTER_DATE:
        r.range, r.end_date = "EndDate", R.from_minutes(p.end_date).date()
    return r


# ---------------------------------------------------------------- view extras

def _tz_pair(props: dict) -> tuple[str, str]:
    z = zone_of(props)
    if z is None:
        return ("UTC", "(UTC) Coordinated Universal Time")
    return (z.key, props.get(A.PidLidTimeZoneDescription) or z.key)


def _occ_info(ctx: EwsContext, master_id: str, ck: str, occ: Occurrence) -> ec.OccurrenceInfo:
    return ec.OccurrenceInfo(ec.encode_occurrence_id(master_id, occ.original_start), ck, occ.start, occ.end,
                             occ.original_start)


async def calendar_extra(ctx: EwsContext, item: Item, view: ItemView) -> None:
    props = item.props
    cls = props.get(P.PidTagMessageClass)
    if not _is_calendar_class(cls):
        return
    uid = uid_of(props)
    if uid:
        view.extra["uid"] = uid
    view.extra.setdefault("start_tz", _tz_pair(props))
    if str(cls).startswith("IPM.Schedule.Meeting.Resp.") and view.full:
        await apply_response(ctx, item, view)
    if str(cls).startswith("IPM.Schedule.Meeting"):
        return
    blob = props.get(A.PidLidAppointmentRecur)
    if not blob:
        return
    try:
        series = Series(props)
    except (R.RecurError, ValueError, KeyError):
        return
    view.extra["recurrence"] = recurrence_of(series.arp)
    if not view.full:
        return
    first, last = series.first_last()
    if first is not None:
        view.extra["first"] = _occ_info(ctx, view.item_id, view.change_key, first)
    if last is not None:
        view.extra["last"] = _occ_info(ctx, view.item_id, view.change_key, last)
    modified = []
    for day, (e, x) in sorted(series.exceptions.items()):
        orig = series.aware(R.from_minutes(e.original_start_date))
        occ = Occurrence(0, orig, series.aware(R.from_minutes(e.start_date_time)),
                         series.aware(R.from_minutes(e.end_date_time)), e, x)
        modified.append(_occ_info(ctx, view.item_id, view.change_key, occ))
    if modified:
        view.extra["modified"] = modified
    deleted = [series.aware(R.from_minutes(d + series.arp.start_time_offset))
               for d in sorted(series.deleted) if d not in series.exceptions]
    if deleted:
        view.extra["deleted"] = deleted


ews_items.VIEW_HOOKS.append(calendar_extra)


TRACK_BY_CLASS = {A.CLASS_RESP_POS: A.respAccepted, A.CLASS_RESP_TENT: A.respTentative,
                  A.CLASS_RESP_NEG: A.respDeclined}


async def apply_response(ctx: EwsContext, item: Item, view: ItemView) -> None:
    """A MeetingResponse opened by the organizer updates that attendee's answer on the organizer's
    meeting, as Outlook does when it processes a response (exgate has no calendar assistant that
    would do it on delivery). The response names the meeting through PidLidGlobalObjectId."""
    props = item.props
    track = TRACK_BY_CLASS.get(str(props.get(P.PidTagMessageClass) or ""))
    who = (props.get(P.PidTagSenderSmtpAddress) or props.get(P.PidTagSentRepresentingSmtpAddress)
           or props.get(P.PidTagSenderEmailAddress) or "").lower()
    if track is None or not who:
        return
    try:
        meeting = await find_by_goid(ctx, props.get(A.PidLidGlobalObjectId))
        if meeting is None:
            return
        meeting = await ctx.mbx.get_item(meeting.mid)
        view.extra["calendar_item_id"] = (ctx.item_id(meeting.mid), ews_items.change_key_of(meeting))
        if meeting.props.get(A.PidLidAppointmentStateFlags, 0) & A.asfReceived:
            return   # not the organizer's copy
        when = props.get(A.PidLidAttendeeCriticalChange) or props.get(P.PidTagClientSubmitTime)
        changed = False
        for r in meeting.content.recipients:
            addr = (r.props.get(P.PidTagSmtpAddress) or r.props.get(P.PidTagEmailAddress) or "").lower()
            if addr == who and r.props.get(P.PidTagRecipientTrackStatus) != track:
                r.props[P.PidTagRecipientTrackStatus] = track
                if isinstance(when, datetime):
                    r.props[ec.PidTagRecipientTrackStatusTime] = when
                changed = True
        if changed:
            await ctx.mbx.replace_content(meeting.mid, MessageContent(_strip(meeting.content.props),
                                                                      meeting.content.recipients,
                                                                      meeting.content.attachments))
            view.extra["calendar_item_id"] = (ctx.item_id(meeting.mid), ews_items.current_change_key(ctx,
                                                                                                     meeting.mid))
    except (se.StoreError, ResponseError, ValueError):
        return   # reading the response must not fail because the meeting could not be updated


async def occurrence_view(ctx: EwsContext, master: Item, occ: Occurrence, series: Series, *,
                          full: bool) -> ItemView:
    master_id = ctx.item_id(master.mid)
    ck = ews_items.change_key_of(master)
    attachments = master.content.attachments if master.content is not None else ()
    props, recips = occurrence_props(master.props, occ, series, attachments)
    if recips is None and master.content is not None:
        recips = master.content.recipients
    view = ItemView(ec.encode_occurrence_id(master_id, occ.original_start), ck, props, ctx.folder_id(master.fid),
                    await ctx.folder_change_key_of(master.fid), recipients=recips if full else None, full=full)
    view.extra.update({"item_type": "Exception" if occ.exception is not None else "Occurrence",
                       "start": occ.start, "end": occ.end, "original_start": occ.original_start,
                       "master_id": master_id, "start_tz": _tz_pair(master.props)})
    uid = uid_of(master.props)
    if uid:
        view.extra["uid"] = uid
    return view


# ---------------------------------------------------------------- FindItem CalendarView

async def calendar_view(ctx: EwsContext, view_el):
    body = ctx.req.body
    shape = ews_items.item_shape(ctx)
    try:
        start = parse_datetime(view_el.get("StartDate") or "")
        end = parse_datetime(view_el.get("EndDate") or "")
    except ValueError:
        raise ResponseError("ErrorInvalidRequest", "CalendarView needs StartDate and EndDate.")
    if end < start:
        raise ResponseError("ErrorCalendarEndDateIsEarlierThanStartDate", None)
    limit = view_el.get("MaxEntriesReturned")
    refs = read_folder_refs(child(body, "ParentFolderIds"))

    async def one(ref, el):
        folder = await ctx.folder(ref)
        rows: list[ItemView] = []
        for item in (await ctx.mbx.contents_view(folder.fid, _may_fall_in(start, end))).rows(0, None):
            props = item.props
            if props.get(A.PidLidAppointmentRecur):
                try:
                    series = Series(props)
                except (R.RecurError, ValueError, KeyError):
                    continue
                occs = series.window(start, end)
                if not occs:
                    continue
                master = item
                if any(o.exception is not None for o in occs) or needs_full_item(shape, ec.CALENDAR) \
                        or shape.base == "AllProperties":
                    master = await ctx.mbx.get_item(item.mid)
                for occ in occs:
                    rows.append(await occurrence_view(ctx, master, occ, series, full=master.content is not None))
                continue
            s = props.get(A.PidLidAppointmentStartWhole) or props.get(N.PidLidCommonStart)
            e = props.get(A.PidLidAppointmentEndWhole) or props.get(N.PidLidCommonEnd) or s
            if s is None or not (s < end and (e > start or (e == s and s >= start))):
                continue
            if needs_full_item(shape, ec.CALENDAR):
                item = await ctx.mbx.get_item(item.mid)
            rows.append(await ews_items.item_view(ctx, item, full=item.content is not None))
        rows.sort(key=lambda v: v.extra.get("start") or v.props.get(A.PidLidAppointmentStartWhole)
                  or datetime.min.replace(tzinfo=UTC))
        total = len(rows)
        if limit and limit.isdigit() and total > int(limit):
            # Exchange refuses a view with more items than asked for (MS-OXWSCAL 3.1.4.3? ErrorCalendarViewRangeTooBig
            # is for the range; for the count it answers ErrorCalendarViewRangeTooBig-like truncation): truncate
            rows = rows[:int(limit)]
        root = sub(el, m("RootFolder"), TotalItemsInView=total, IncludesLastItemInRange=len(rows) == total)
        items = sub(root, t("Items"))
        for v in rows:
            write_item(items, v, shape, table_row=not v.full)
    return await for_each(ctx, refs, one, what="folder")


def _may_fall_in(start: datetime, end: datetime):
    """The calendar's rows that may show in [start, end): every series (its occurrences are worked out
    below), items without a start, and single items starting before the end and not ending before the
    start. Runs on the table index; the exact test is made on these rows."""
    return MR.OrRestriction((
        MR.PropertyRestriction(MR.RELOP_EQ, A.PidLidRecurring, True),
        MR.NotRestriction(MR.ExistRestriction(A.PidLidAppointmentStartWhole)),
        MR.AndRestriction((
            MR.PropertyRestriction(MR.RELOP_LT, A.PidLidAppointmentStartWhole, end),
            MR.OrRestriction((MR.NotRestriction(MR.ExistRestriction(A.PidLidAppointmentEndWhole)),
                              MR.PropertyRestriction(MR.RELOP_GE, A.PidLidAppointmentEndWhole, start))))),
    ))


ews_items.FIND_VIEWS["CalendarView"] = calendar_view


# ---------------------------------------------------------------- GetItem on occurrences

async def _master_and_series(ctx: EwsContext, master_id: str) -> tuple[Item, Series]:
    master = await ctx.mbx.get_item(ctx.mid_of(master_id))
    if not master.props.get(A.PidLidAppointmentRecur):
        raise ResponseError("ErrorItemNotFound", "The item is not a recurring series.")
    return master, Series(master.props)


async def resolve_occurrence(ctx: EwsContext, id_el) -> tuple[Item, Occurrence, Series] | None:
    """An occurrence named by OccurrenceItemId or by an occurrence ItemId; None for other ids."""
    name = local(id_el)
    if name == "OccurrenceItemId":
        master, series = await _master_and_series(ctx, id_el.get("RecurringMasterId"))
        try:
            index = int(id_el.get("InstanceIndex") or "0")
        except ValueError:
            raise ResponseError("ErrorInvalidRequest", "InstanceIndex must be a number.")
        occ, exists = series.by_index(index)
        if not exists:
            raise ResponseError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", None)
        if occ is None:
            raise ResponseError("ErrorCalendarOccurrenceIsDeletedFromRecurrence", None)
        return master, occ, series
    if name == "ItemId":
        decoded = ec.decode_occurrence_id(id_el.get("Id") or "")
        if decoded is None:
            return None
        master, series = await _master_and_series(ctx, decoded[0])
        occ = series.by_original(decoded[1])
        if occ is None:
            if series.index_of(decoded[1]) is not None:
                raise ResponseError("ErrorCalendarOccurrenceIsDeletedFromRecurrence", None)
            raise ResponseError("ErrorItemNotFound", "The series has no occurrence at that time.")
        return master, occ, series
    return None


async def get_item_hook(ctx: EwsContext, id_el, el, shape, wants_mime) -> bool:
    name = local(id_el)
    if name == "RecurringMasterItemId":
        occ_id = id_el.get("OccurrenceId") or ""
        decoded = ec.decode_occurrence_id(occ_id)
        mid = ctx.mid_of(decoded[0] if decoded else occ_id)
        item = await ctx.mbx.get_item(mid)
        if not item.props.get(A.PidLidAppointmentRecur):
            raise ResponseError("ErrorItemNotFound", "The item is not part of a recurring series.")
        write_item(sub(el, m("Items")), await ews_items.item_view(ctx, item, mime=wants_mime, full=True), shape)
        return True
    found = await resolve_occurrence(ctx, id_el)
    if found is None:
        return False
    master, occ, series = found
    view = await occurrence_view(ctx, master, occ, series, full=True)
    if wants_mime:
        # the instance alone, as Exchange exports it (evolution-ews builds each modified occurrence from it)
        try:
            view.mime = instance_ical(await ctx.mbx.mime_of(master), occ.original_start, occ.start, occ.end)
        except ValueError:
            view.mime = None
    write_item(sub(el, m("Items")), view, shape)
    return True


ews_items.ID_HOOKS.append(get_item_hook)


# ---------------------------------------------------------------- building appointments

def _rrule_for(rec: ec.Recurrence, local_start: datetime, zone) -> dict:
    codes = {d: d[:2].upper() for d in ec.DAY_NAMES}
    rule: dict = {}
    if rec.pattern == "Daily":
        rule = {"FREQ": "DAILY", "INTERVAL": rec.interval}
    elif rec.pattern == "Weekly":
        rule = {"FREQ": "WEEKLY", "INTERVAL": rec.interval, "BYDAY": [codes[d] for d in rec.days]}
        if rec.first_day_of_week:
            rule["WKST"] = codes[rec.first_day_of_week]
    elif rec.pattern == "AbsoluteMonthly":
        rule = {"FREQ": "MONTHLY", "INTERVAL": rec.interval, "BYMONTHDAY": rec.day_of_month or local_start.day}
    elif rec.pattern == "RelativeMonthly":
        rule = {"FREQ": "MONTHLY", "INTERVAL": rec.interval, "BYDAY": [codes[d] for d in rec.days],
                "BYSETPOS": -1 if rec.week_index == "Last" else ec.WEEK_INDEX.index(rec.week_index or "First") + 1}
    elif rec.pattern == "AbsoluteYearly":
        rule = {"FREQ": "YEARLY", "BYMONTH": rec.month or local_start.month,
                "BYMONTHDAY": rec.day_of_month or local_start.day}
    elif rec.pattern == "RelativeYearly":
        rule = {"FREQ": "YEARLY", "BYMONTH": rec.month or local_start.month, "BYDAY": [codes[d] for d in rec.days],
                "BYSETPOS": -1 if rec.week_index == "Last" else ec.WEEK_INDEX.index(rec.week_index or "First") + 1}
    if rec.range == "Numbered":
        rule["COUNT"] = rec.count
    elif rec.range == "EndDate" and rec.end_date is not None:
        last = datetime.combine(rec.end_date, local_start.time())
        rule["UNTIL"] = (last.replace(tzinfo=zone) if zone else last.replace(tzinfo=UTC)).astimezone(UTC)
    return rule


# Properties the iCalendar import derives from the times, all-day flag, time zone and recurrence:
# these always come from the fresh import, never from an older copy of the item.
DERIVED_FROM_TIMES = {
    A.PidLidAppointmentStartWhole, A.PidLidAppointmentEndWhole, N.PidLidCommonStart, N.PidLidCommonEnd,
    A.PidLidClipStart, A.PidLidClipEnd, A.PidLidAppointmentDuration, A.PidLidAppointmentSubType,
    A.PidLidAppointmentTimeZoneDefinitionStartDisplay, A.PidLidAppointmentTimeZoneDefinitionEndDisplay,
    A.PidLidAppointmentTimeZoneDefinitionRecur, A.PidLidTimeZoneStruct, A.PidLidTimeZoneDescription,
    A.PidLidAppointmentRecur, A.PidLidRecurring, A.PidLidIsRecurring, A.PidLidRecurrenceType,
    A.PidLidRecurrencePattern, A.PidLidGlobalObjectId, A.PidLidCleanGlobalObjectId,
    A.PidLidAppointmentStartDate, A.PidLidAppointmentEndDate, A.PidLidAppointmentStartTime,
    A.PidLidAppointmentEndTime, N.PidLidReminderSignalTime,
}


def appointment_from(inp: ItemInput, owner: str, *, base: dict | None = None, uid: str | None = None) -> MessageContent:
    """An EWS CalendarItem (or the result of updating one) -> the store's appointment.

    The times, all-day flag, time zone and recurrence go through iCalendar and the MS-OXCICAL
    import, so the PidLid* set is the one CalDAV items have; the other fields are then laid over."""
    props = dict(base or {})
    props.update(inp.props)
    start = props.get(A.PidLidAppointmentStartWhole)
    end = props.get(A.PidLidAppointmentEndWhole) or start
    if not isinstance(start, datetime):
        raise ResponseError("ErrorInvalidRequest", "A calendar item needs a Start.")
    if end < start:
        raise ResponseError("ErrorCalendarEndDateIsEarlierThanStartDate", None)
    tzid = inp.extra.get("start_tz")
    zone = olson_zone(tzid) if tzid and tzid.upper() not in ("UTC", "Z") else None
    all_day = bool(props.get(A.PidLidAppointmentSubType))
    cal = icalendar.Calendar()
    cal.add("prodid", "-//exgate//EWS//EN")
    cal.add("version", "2.0")
    ev = icalendar.Event()
    ev.add("uid", uid or inp.extra.get("uid") or f"{uuid.uuid4()}@exgate")
    ev.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
    local_start = start.astimezone(zone) if zone else start
    local_end = end.astimezone(zone) if zone else end
    rec: ec.Recurrence | None = inp.extra.get("recurrence")
    if rec is not None and rec.start_date is not None and rec.start_date > local_start.date():
        # the series starts on its range's StartDate, at the item's time of day
        shift = datetime.combine(rec.start_date, local_start.time()) - local_start.replace(tzinfo=None)
        local_start, local_end = local_start + shift, local_end + shift
    if all_day:
        ev.add("dtstart", local_start.date())
        ev.add("dtend", max(local_end.date(), local_start.date() + timedelta(days=1)))
        ev.add("X-MICROSOFT-CDO-ALLDAYEVENT", "TRUE")
    else:
        ev.add("dtstart", local_start)
        ev.add("dtend", local_end)
    if rec is not None:
        ev.add("rrule", _rrule_for(rec, local_start.replace(tzinfo=None), zone))
    ev.add("summary", props.get(P.PidTagSubject) or "")
    cal.add_component(ev)
    try:
        content = ical.ical_to_appointment(cal.to_ical(), owner=owner,
                                           default_tz=zone.key if zone is not None else None)
    except (ical.ICalError, ValueError) as exc:
        raise ResponseError("ErrorInvalidRequest", str(exc))
    for k, v in props.items():
        if isinstance(k, str) or k in conv.DERIVED or k in DERIVED_FROM_TIMES:
            continue
        content.props[k] = v
    content.props[P.PidTagMessageClass] = A.CLASS_APPOINTMENT
    if P.PidTagSubject in content.props:
        content.props[P.PidTagNormalizedSubject] = content.props[P.PidTagSubject]
    if A.PidLidLocation in content.props:
        content.props[A.PidLidWhere] = content.props[A.PidLidLocation]
    if N.PidLidReminderDelta in inp.props and N.PidLidReminderSet not in props:
        content.props[N.PidLidReminderSet] = True
    content.props.setdefault(P.PidTagMessageFlags, P.MSGFLAG_READ)
    return content


def attendee_rows(inp: ItemInput, *, keep: list[Recipient] | None = None) -> list[Recipient]:
    """Attendees the client sent -> recipient rows (MS-OXOCAL 2.2.4.10); answers already known are kept."""
    known = {}
    for r in keep or ():
        addr = (r.props.get(P.PidTagSmtpAddress) or r.props.get(P.PidTagEmailAddress) or "").lower()
        known[addr] = r
    rows = []
    for rtype, people in sorted(inp.recipients.items()):
        for name, email in people:
            old = known.get(email.lower())
            track = old.props.get(P.PidTagRecipientTrackStatus, A.respNone) if old is not None else A.respNone
            rows.append(Recipient({P.PidTagRecipientType: rtype, P.PidTagDisplayName: name or email,
                                   P.PidTagEmailAddress: email, P.PidTagSmtpAddress: email,
                                   P.PidTagAddressType: "SMTP", P.PidTagRecipientFlags: A.recipSendable,
                                   P.PidTagRecipientTrackStatus: track}))
    return rows


def _strip(props: dict) -> dict:
    return {k: v for k, v in props.items() if k not in conv.DERIVED}


def _me(ctx: EwsContext) -> tuple[str, str]:
    return ctx.mbx.display_name or ctx.mbx.email, ctx.mbx.email


def _set_organizer(ctx: EwsContext, props: dict) -> None:
    name, email = _me(ctx)
    for tags in ((P.PidTagSentRepresentingName, P.PidTagSentRepresentingSmtpAddress,
                  P.PidTagSentRepresentingEmailAddress, P.PidTagSentRepresentingAddressType),
                 (P.PidTagSenderName, P.PidTagSenderSmtpAddress, P.PidTagSenderEmailAddress,
                  P.PidTagSenderAddressType)):
        props[tags[0]], props[tags[1]], props[tags[2]], props[tags[3]] = name, email, email, "SMTP"


def _attendees(content: MessageContent) -> list[Recipient]:
    return [r for r in content.recipients if not r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer]


async def _send_message(ctx: EwsContext, content: MessageContent, *, keep_copy: bool) -> None:
    drafts = await ctx.mbx.folder_by_role("drafts")
    if not keep_copy:
        content.props[P.PidTagDeleteAfterSubmit] = True
    item = await ctx.mbx.create_item(drafts.fid, content)
    await ctx.mbx.submit(item.mid)


def meeting_message(src: MessageContent, cls: str, recipients: list[Recipient], *, subject_prefix: str = "",
                    body: str | None = None) -> MessageContent:
    """A meeting request / response / cancellation made from an appointment (MS-OXOCAL 2.2.6-2.2.8)."""
    props = _strip(src.props)
    for k in (P.PidTagMessageDeliveryTime, P.PidTagInternetMessageId, P.PidTagClientSubmitTime,
              P.PidTagTransportMessageHeaders):
        props.pop(k, None)
    props[P.PidTagMessageClass] = cls
    props[A.PidLidAppointmentMessageClass] = A.CLASS_APPOINTMENT
    props[P.PidTagMessageFlags] = P.MSGFLAG_UNSENT | P.MSGFLAG_READ
    subject = str(src.props.get(P.PidTagSubject) or "")
    props[P.PidTagSubject] = subject_prefix + subject
    props[P.PidTagNormalizedSubject] = subject
    if subject_prefix:
        props[P.PidTagSubjectPrefix] = subject_prefix
    if body is not None:
        props[P.PidTagBody] = body
        props.pop(P.PidTagHtml, None)
        props.pop(P.PidTagRtfCompressed, None)
    rows = [Recipient({**r.props, P.PidTagRecipientFlags: A.recipSendable}) for r in recipients]
    return MessageContent(props, rows, [a for a in src.attachments if visible(a)])


async def send_invitations(ctx: EwsContext, item: Item | MessageContent, mode: str, *, update: bool = False,
                           recipients: list[Recipient] | None = None) -> bool:
    """SendOnlyToAll / SendToAllAndSaveCopy (also the ...Changed variants): one meeting request to the attendees."""
    if mode in (None, "", "SendToNone"):
        return False
    content = item if isinstance(item, MessageContent) else item.content
    attendees = recipients if recipients is not None else _attendees(content)
    if not attendees:
        return False
    msg = meeting_message(content, A.CLASS_MEETING_REQUEST, attendees)
    _set_organizer(ctx, msg.props)
    msg.props[A.PidLidMeetingType] = A.mtgFull if update else A.mtgRequest
    msg.props[P.PidTagResponseRequested] = True
    msg.props[A.PidLidAppointmentStateFlags] = A.asfMeeting | A.asfReceived
    msg.props[A.PidLidIntendedBusyStatus] = content.props.get(A.PidLidBusyStatus, A.olBusy)
    await _send_message(ctx, msg, keep_copy=mode.startswith("SendToAllAndSaveCopy")
                        or mode.startswith("SendToChangedAndSaveCopy"))
    return True


async def send_cancellation(ctx: EwsContext, item: Item | MessageContent, mode: str, body: str | None = None) -> bool:
    content = item if isinstance(item, MessageContent) else item.content
    attendees = _attendees(content)
    if mode in (None, "", "SendToNone") or not attendees:
        return False
    msg = meeting_message(content, A.CLASS_MEETING_CANCELED, attendees, subject_prefix="Canceled: ", body=body)
    _set_organizer(ctx, msg.props)
    msg.props[A.PidLidAppointmentStateFlags] = A.asfMeeting | A.asfReceived | A.asfCanceled
    msg.props[A.PidLidBusyStatus] = A.olFree
    msg.props[A.PidLidIntendedBusyStatus] = A.olFree
    msg.props[A.PidLidAppointmentSequence] = int(content.props.get(A.PidLidAppointmentSequence, 0)) + 1
    await _send_message(ctx, msg, keep_copy=mode.endswith("SaveCopy"))
    return True


# ---------------------------------------------------------------- CreateItem CalendarItem

async def _target(ctx: EwsContext, role: str):
    saved = read_folder_refs(child(ctx.req.body, "SavedItemFolderId"))
    return await ctx.folder(saved[0]) if saved else await ctx.mbx.folder_by_role(role)


def local_times(el_in, inp: ItemInput) -> None:
    """Start/End written without a zone are wall-clock times in the item's (or the request's) time
    zone (MS-OXWSCAL 2.2.4.3), not UTC."""
    zone = olson_zone(inp.extra["start_tz"]) if inp.extra.get("start_tz") else None
    if zone is None:
        return
    for name, key in (("Start", A.PidLidAppointmentStartWhole), ("End", A.PidLidAppointmentEndWhole)):
        raw = (child(el_in, name).text or "").strip() if child(el_in, name) is not None else ""
        if raw and not raw.endswith("Z") and "+" not in raw[10:] and "-" not in raw[10:]:
            naive = datetime.fromisoformat(raw)
            inp.props[key] = naive.replace(tzinfo=zone).astimezone(UTC)


def appointment_from_ics(ctx: EwsContext, inp: ItemInput) -> MessageContent:
    """CalendarItem with MimeContent (DavMail sends the iCalendar object that way)."""
    try:
        content = ical.ical_to_appointment(inp.mime, owner=ctx.mbx.email, default_tz=inp.extra.get("start_tz"))
    except (ical.ICalError, ValueError) as exc:
        raise ResponseError("ErrorInvalidRequest", f"MimeContent is not a usable iCalendar object: {exc}")
    for k, v in inp.props.items():
        if not isinstance(k, str) and k not in conv.DERIVED:
            content.props[k] = v
    if inp.recipients:
        content.recipients = [r for r in content.recipients
                              if r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer] + attendee_rows(inp)
    content.props[P.PidTagMessageClass] = A.CLASS_APPOINTMENT
    return content


async def create_calendar_item(ctx: EwsContext, el_in, el) -> None:
    mode = ctx.req.body.get("SendMeetingInvitations", "SendToNone")
    if mode not in ("SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy"):
        raise ResponseError("ErrorInvalidRequest", f"Bad SendMeetingInvitations {mode!r}.")
    try:
        inp = ews_items.read_item(el_in)
    except PathError as exc:
        raise ResponseError("ErrorInvalidRequest", str(exc))
    if ctx.req.timezone:
        inp.extra.setdefault("start_tz", ctx.req.timezone)
    local_times(el_in, inp)
    if inp.mime is not None:
        content = appointment_from_ics(ctx, inp)
    else:
        content = appointment_from(inp, ctx.mbx.email)
        _set_organizer(ctx, content.props)
        content.recipients = attendee_rows(inp)
    if content.recipients:
        content.props[A.PidLidAppointmentStateFlags] = A.asfMeeting
        content.props[A.PidLidResponseStatus] = A.respOrganized
        content.props[A.PidLidFInvited] = mode != "SendToNone"
        content.props.setdefault(P.PidTagResponseRequested, True)
    folder = await _target(ctx, "calendar")
    item = await ctx.mbx.create_item(folder.fid, content)
    if content.recipients and mode != "SendToNone":
        full = await ctx.mbx.get_item(item.mid)
        await send_invitations(ctx, full, mode)
        item = await ctx.mbx.get_item(item.mid)
    items = sub(el, m("Items"))
    ews_items.write_item_id(items, ctx, item, element="CalendarItem")


ews_items.CREATE_HOOKS["CalendarItem"] = create_calendar_item


# ---------------------------------------------------------------- responses: Accept / Tentative / Decline

RESPONSES = {"AcceptItem": (A.respAccepted, A.CLASS_RESP_POS, "Accepted: ", A.olBusy),
             "TentativelyAcceptItem": (A.respTentative, A.CLASS_RESP_TENT, "Tentative: ", A.olTentative),
             "DeclineItem": (A.respDeclined, A.CLASS_RESP_NEG, "Declined: ", A.olFree)}


async def find_by_goid(ctx: EwsContext, goid: bytes | None) -> Item | None:
    if not goid:
        return None
    want = clean_goid(goid)
    cal = await ctx.mbx.folder_by_role("calendar")
    for it in await ctx.mbx.list_items(cal.fid):
        g = it.props.get(A.PidLidCleanGlobalObjectId) or it.props.get(A.PidLidGlobalObjectId)
        if g and clean_goid(g) == want:
            return it
    return None


def _set_my_answer(ctx: EwsContext, content: MessageContent, track: int) -> None:
    me = ctx.mbx.email.lower()
    now = datetime.now(UTC).replace(microsecond=0)
    for r in content.recipients:
        addr = (r.props.get(P.PidTagSmtpAddress) or r.props.get(P.PidTagEmailAddress) or "").lower()
        if addr == me:
            r.props[P.PidTagRecipientTrackStatus] = track
            r.props[ec.PidTagRecipientTrackStatusTime] = now
    content.props[A.PidLidResponseStatus] = track
    content.props[A.PidLidAppointmentReplyTime] = now


def _organizer(src: MessageContent) -> tuple[str | None, str | None]:
    """(name, address) of a meeting's organizer: the organizer recipient row, else the sender."""
    organizer_name, organizer_email = None, None
    for r in src.recipients:
        if r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer:
            organizer_name = r.props.get(P.PidTagDisplayName)
            organizer_email = r.props.get(P.PidTagSmtpAddress) or r.props.get(P.PidTagEmailAddress)
    organizer_email = organizer_email or src.props.get(P.PidTagSentRepresentingSmtpAddress) \
        or src.props.get(P.PidTagSenderSmtpAddress) or src.props.get(P.PidTagSentRepresentingEmailAddress)
    organizer_name = organizer_name or src.props.get(P.PidTagSentRepresentingName) or organizer_email
    return organizer_name, organizer_email


async def _answer_organizer(ctx: EwsContext, src: MessageContent, cls: str, prefix: str, body: str | None,
                            organizer_name: str | None, organizer_email: str, *, keep_copy: bool) -> None:
    """The IPM.Schedule.Meeting.Resp.* message (an iTIP REPLY) to the organizer."""
    to = Recipient({P.PidTagRecipientType: P.MAPI_TO, P.PidTagDisplayName: organizer_name or organizer_email,
                    P.PidTagEmailAddress: organizer_email, P.PidTagSmtpAddress: organizer_email,
                    P.PidTagAddressType: "SMTP", P.PidTagRecipientFlags: A.recipSendable | A.recipOrganizer})
    msg = meeting_message(src, cls, [], subject_prefix=prefix, body=body or "")
    msg.recipients = [to]
    for k in (P.PidTagSentRepresentingName, P.PidTagSentRepresentingSmtpAddress,
              P.PidTagSentRepresentingEmailAddress, P.PidTagSentRepresentingAddressType):
        msg.props.pop(k, None)
    name, email = _me(ctx)
    msg.props.update({P.PidTagSenderName: name, P.PidTagSenderSmtpAddress: email,
                      P.PidTagSenderEmailAddress: email, P.PidTagSenderAddressType: "SMTP"})
    msg.props[A.PidLidAttendeeCriticalChange] = datetime.now(UTC).replace(microsecond=0)
    msg.props[A.PidLidAppointmentStateFlags] = A.asfMeeting
    msg.props.pop(P.PidTagResponseRequested, None)
    msg.attachments = []
    await _send_message(ctx, msg, keep_copy=keep_copy)


async def respond_to_occurrence(ctx: EwsContext, found: tuple[Item, Occurrence, Series], ro: dict,
                                disposition: str) -> None:
    """An attendee answers one occurrence of a meeting series in their calendar. Accept / Tentative make
    that instance an exception carrying the answer and busy status; Decline removes the instance from the
    attendee's calendar (as Exchange does). The organizer gets an iTIP REPLY for that instance alone
    (RECURRENCE-ID)."""
    track, cls, prefix, busy = RESPONSES[ro["kind"]]
    master, occ, series = found
    if master.content is None:
        master = await ctx.mbx.get_item(master.mid)
    content = master.content
    if not content.props.get(A.PidLidAppointmentStateFlags, 0) & A.asfMeeting:
        raise ResponseError("ErrorInvalidOperation", "Only meetings can be answered.")
    organizer_name, organizer_email = _organizer(content)
    if not organizer_email or organizer_email.lower() == ctx.mbx.email.lower():
        raise ResponseError("ErrorInvalidOperation", "The organizer cannot answer their own meeting.")
    current, recips = occurrence_props(master.props, occ, series, content.attachments)
    answered = MessageContent(dict(current), [Recipient(dict(r.props)) for r in
                                              (recips if recips is not None else content.recipients)])
    _set_my_answer(ctx, answered, track)
    edit = occ_edit.InstanceEdit({A.PidLidResponseStatus: track, A.PidLidBusyStatus: busy,
                                  A.PidLidAppointmentReplyTime: answered.props[A.PidLidAppointmentReplyTime]})
    inst = occ_edit.instance_props(current, edit, original_start=occ.original_start,
                                   original_local=series.local(occ.original_start), uid=uid_of(master.props))
    base = MessageContent(_strip(content.props), content.recipients, content.attachments)
    if track == A.respDeclined:
        new = occ_edit.without_instance(base, series.arp, series.tz, occ.original_start)
    else:
        new = occ_edit.with_exception(base, series.arp, series.tz, inst, answered.recipients)
    await ctx.mbx.replace_content(master.mid, new)
    if disposition != "SaveOnly":
        await _answer_organizer(ctx, occ_edit.instance_message(inst, answered.recipients), cls, prefix, ro["body"],
                                organizer_name, organizer_email, keep_copy=disposition == "SendAndSaveCopy")


async def respond(ctx: EwsContext, el_in, el) -> None:
    disposition = ctx.req.body.get("MessageDisposition", "SendAndSaveCopy")
    ro = ec.response_object(el_in)
    track, cls, prefix, busy = RESPONSES[ro["kind"]]
    found = await occurrence_by_id(ctx, ro["reference"])
    if found is not None:
        await respond_to_occurrence(ctx, found, ro, disposition)
        sub(el, m("Items"))
        return
    ref = await ctx.mbx.get_item(ctx.mid_of(ro["reference"]))
    ref_cls = str(ref.props.get(P.PidTagMessageClass) or "")
    src = ref.content or MessageContent(dict(ref.props))
    if ref_cls.startswith(A.CLASS_MEETING_REQUEST):
        cal_item = await find_by_goid(ctx, ref.props.get(A.PidLidGlobalObjectId))
    elif ref_cls.startswith(A.CLASS_APPOINTMENT):
        cal_item = ref
    else:
        raise ResponseError("ErrorInvalidOperation", "Only meeting requests and calendar items can be answered.")
    if cal_item is not None and cal_item is not ref:
        cal_item = await ctx.mbx.get_item(cal_item.mid)
    organizer_name, organizer_email = _organizer(src)
    if organizer_email and organizer_email.lower() == ctx.mbx.email.lower():
        raise ResponseError("ErrorInvalidOperation", "The organizer cannot answer their own meeting.")
    # the attendee's calendar copy
    if track == A.respDeclined:
        if cal_item is not None:
            await ctx.mbx.delete_items([cal_item.mid])
    elif cal_item is not None:
        content = MessageContent(_strip(cal_item.content.props), cal_item.content.recipients,
                                 cal_item.content.attachments)
        _set_my_answer(ctx, content, track)
        content.props[A.PidLidBusyStatus] = busy
        await ctx.mbx.replace_content(cal_item.mid, content)
    else:
        props = _strip(src.props)
        for k in (A.PidLidAppointmentMessageClass, A.PidLidMeetingType, P.PidTagMessageDeliveryTime,
                  P.PidTagInternetMessageId, P.PidTagTransportMessageHeaders, P.PidTagClientSubmitTime,
                  P.PidTagSubjectPrefix):
            props.pop(k, None)
        props[P.PidTagMessageClass] = A.CLASS_APPOINTMENT
        props[P.PidTagMessageFlags] = P.MSGFLAG_READ
        props[A.PidLidAppointmentStateFlags] = A.asfMeeting | A.asfReceived
        props[A.PidLidBusyStatus] = busy
        props[P.PidTagSubject] = props.get(P.PidTagNormalizedSubject) or props.get(P.PidTagSubject) or ""
        rows = [Recipient(dict(r.props)) for r in src.recipients]
        if organizer_email and not any(r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer for r in rows):
            rows.insert(0, Recipient({P.PidTagRecipientType: P.MAPI_TO, P.PidTagDisplayName: organizer_name,
                                      P.PidTagEmailAddress: organizer_email, P.PidTagSmtpAddress: organizer_email,
                                      P.PidTagAddressType: "SMTP",
                                      P.PidTagRecipientFlags: A.recipSendable | A.recipOrganizer,
                                      P.PidTagRecipientTrackStatus: A.respOrganized}))
        content = MessageContent(props, rows, [a for a in src.attachments if not visible(a)])
        _set_my_answer(ctx, content, track)
        cal = await ctx.mbx.folder_by_role("calendar")
        await ctx.mbx.create_item(cal.fid, content)
    # the answer to the organizer
    if disposition != "SaveOnly" and organizer_email:
        await _answer_organizer(ctx, src, cls, prefix, ro["body"], organizer_name, organizer_email,
                                keep_copy=disposition == "SendAndSaveCopy")
    if ref_cls.startswith(A.CLASS_MEETING_REQUEST):
        # Exchange moves a request that was answered to Deleted Items
        deleted = await ctx.mbx.folder_by_role("deleted")
        if deleted.fid != ref.fid:
            await ctx.mbx.move_items([ref.mid], deleted.fid)
    sub(el, m("Items"))


for _kind in RESPONSES:
    ews_items.CREATE_HOOKS[_kind] = respond


async def cancel_calendar_item(ctx: EwsContext, el_in, el) -> None:
    disposition = ctx.req.body.get("MessageDisposition", "SendAndSaveCopy")
    ro = ec.response_object(el_in)
    mode = "SendToAllAndSaveCopy" if disposition == "SendAndSaveCopy" else "SendOnlyToAll"
    found = await occurrence_by_id(ctx, ro["reference"])
    if found is not None:
        master, occ, series = found
        if master.props.get(A.PidLidAppointmentStateFlags, 0) & A.asfReceived:
            raise ResponseError("ErrorInvalidOperation", "Only the organizer can cancel a meeting.")
        await remove_occurrence(ctx, master, occ, series, "SendToNone" if disposition == "SaveOnly" else mode,
                                ro["body"])
        sub(el, m("Items"))
        return
    item = await ctx.mbx.get_item(ctx.mid_of(ro["reference"]))
    if not str(item.props.get(P.PidTagMessageClass) or "").startswith(A.CLASS_APPOINTMENT):
        raise ResponseError("ErrorInvalidOperation", "Only calendar items can be canceled.")
    if item.props.get(A.PidLidAppointmentStateFlags, 0) & A.asfReceived:
        raise ResponseError("ErrorInvalidOperation", "Only the organizer can cancel a meeting.")
    if disposition != "SaveOnly":
        await send_cancellation(ctx, item, mode, ro["body"])
    await ctx.mbx.delete_items([item.mid])
    sub(el, m("Items"))


ews_items.CREATE_HOOKS["CancelCalendarItem"] = cancel_calendar_item


# ---------------------------------------------------------------- UpdateItem

def _is_calendar_mid(ctx: EwsContext, mid: int) -> bool:
    try:
        found, container_class = ctx.mbx.container_class_of_item(mid)
    except se.NotFound:
        return False
    return bool(found and str(container_class or "").startswith("IPF.Appointment"))


def _apply_updates(change, content: MessageContent, skip=frozenset()) -> tuple[ItemInput, list]:
    """Set/Append/DeleteItemField on a calendar item -> (merged input, keys to remove); fields whose
    FieldURI is in ``skip`` are passed over."""
    merged = ItemInput(element="CalendarItem")
    remove: list = []
    for upd in children(child(change, "Updates")):
        kind = local(upd)
        path = find_path(upd)
        if path is None:
            raise ResponseError("ErrorInvalidRequest", f"{kind} without a property path.")
        if path.uri in skip:
            continue
        if kind == "DeleteItemField":
            if path.extended is not None:
                remove.append(path.extended.key)
                continue
            f = ec.I.field_for_uri(path.uri or "")
            if f is None:
                raise ResponseError("ErrorInvalidPropertyDelete", f"{path.uri} cannot be deleted.")
            if f.uri in ("calendar:RequiredAttendees", "calendar:OptionalAttendees", "calendar:Resources"):
                merged.recipients[{"calendar:RequiredAttendees": P.MAPI_TO, "calendar:OptionalAttendees": P.MAPI_CC,
                                   "calendar:Resources": P.MAPI_BCC}[f.uri]] = []
                continue
            if f.uri == "calendar:Recurrence":
                merged.extra["no_recurrence"] = True
            remove.extend(f.removes)
            continue
        holder = next((c for c in children(upd) if local(c) not in ("FieldURI", "IndexedFieldURI",
                                                                     "ExtendedFieldURI")), None)
        if holder is None:
            raise ResponseError("ErrorInvalidRequest", f"{kind} without an item element.")
        try:
            inp = ews_items.read_item(holder)
        except PathError as exc:
            raise ResponseError("ErrorInvalidPropertySet", str(exc))
        if kind == "AppendToItemField":
            for rtype, people in inp.recipients.items():
                have = [(None, r.props.get(P.PidTagSmtpAddress) or r.props.get(P.PidTagEmailAddress))
                        for r in _attendees(content)
                        if (r.props.get(P.PidTagRecipientType, 1) & 0xF) == rtype]
                inp.recipients[rtype] = merged.recipients.get(rtype, have) + people
        merged.props.update(inp.props)
        merged.recipients.update(inp.recipients)
        merged.extra.update(inp.extra)
        if inp.is_read is not None:
            merged.is_read = inp.is_read
    return merged, remove


async def update_calendar_hook(ctx: EwsContext, change, el) -> bool:
    id_el = next((c for c in children(change) if local(c) in ("ItemId", "OccurrenceItemId",
                                                               "RecurringMasterItemId")), None)
    if id_el is None:
        return False
    if local(id_el) == "OccurrenceItemId" or ec.decode_occurrence_id(id_el.get("Id") or "") is not None:
        await update_occurrence(ctx, change, id_el, el)
        return True
    if local(id_el) != "ItemId":
        return False
    mid = ctx.mid_of(id_el.get("Id"))
    if not _is_calendar_mid(ctx, mid):
        return False
    body = ctx.req.body
    resolution = body.get("ConflictResolution", "AutoResolve")
    mode = body.get("SendMeetingInvitationsOrCancellations", "SendToNone")
    ck = None if resolution == "AlwaysOverwrite" else ctx.change_key_xid(id_el.get("ChangeKey"))
    item = await ctx.mbx.get_item(mid)
    if not str(item.props.get(P.PidTagMessageClass) or "").startswith(A.CLASS_APPOINTMENT):
        return False
    content = item.content
    merged, remove = _apply_updates(change, content)
    base = _strip(content.props)
    for k in remove:
        base.pop(k, None)
    times_changed = any(k in merged.props for k in (A.PidLidAppointmentStartWhole, A.PidLidAppointmentEndWhole,
                                                    A.PidLidAppointmentSubType))
    if "recurrence" in merged.extra or "start_tz" in merged.extra or merged.extra.get("no_recurrence") \
            or (times_changed and not base.get(A.PidLidAppointmentRecur)):
        if "recurrence" not in merged.extra and base.get(A.PidLidAppointmentRecur) \
                and not merged.extra.get("no_recurrence"):
            merged.extra["recurrence"] = recurrence_of(R.decode_appointment_recur(base[A.PidLidAppointmentRecur]))
        if "start_tz" not in merged.extra:
            merged.extra["start_tz"] = _tz_pair(base)[0]
        if merged.extra.get("no_recurrence"):
            for k in list(base):
                if k in (A.PidLidAppointmentRecur, A.PidLidRecurring, A.PidLidIsRecurring):
                    base.pop(k)
        new = appointment_from(merged, ctx.mbx.email, base=base, uid=uid_of(base))
        props = new.props
    else:
        props = base
        props.update(merged.props)
        if times_changed:
            s, e = props.get(A.PidLidAppointmentStartWhole), props.get(A.PidLidAppointmentEndWhole)
            if isinstance(s, datetime) and isinstance(e, datetime):
                props[A.PidLidAppointmentDuration] = int((e - s).total_seconds() // 60)
                props[N.PidLidCommonStart], props[N.PidLidCommonEnd] = s, e
    if P.PidTagSubject in merged.props:
        props[P.PidTagNormalizedSubject] = merged.props[P.PidTagSubject]
    recipients = content.recipients
    if merged.recipients:
        organizer = [r for r in recipients if r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer]
        full_input = ItemInput(recipients={rt: [(r.props.get(P.PidTagDisplayName), r.props.get(P.PidTagSmtpAddress)
                                                 or r.props.get(P.PidTagEmailAddress) or "")
                                                for r in _attendees(content)
                                                if (r.props.get(P.PidTagRecipientType, 1) & 0xF) == rt]
                                           for rt in (P.MAPI_TO, P.MAPI_CC, P.MAPI_BCC)})
        full_input.recipients = {k: v for k, v in full_input.recipients.items() if v}
        full_input.recipients.update(merged.recipients)
        recipients = organizer + attendee_rows(full_input, keep=content.recipients)
        if _attendees(MessageContent({}, recipients)):
            props[A.PidLidAppointmentStateFlags] = props.get(A.PidLidAppointmentStateFlags, 0) | A.asfMeeting
            props.setdefault(A.PidLidResponseStatus, A.respOrganized)
    is_organizer = not props.get(A.PidLidAppointmentStateFlags, 0) & A.asfReceived
    sending = mode not in ("SendToNone", "") and is_organizer and _attendees(MessageContent({}, recipients))
    if sending:
        props[A.PidLidAppointmentSequence] = int(props.get(A.PidLidAppointmentSequence, 0)) + 1
        props[A.PidLidFInvited] = True
    updated = await ctx.mbx.replace_content(mid, MessageContent(props, recipients, content.attachments),
                                            change_key=ck)
    if merged.is_read is not None:
        await ctx.mbx.set_read([mid], merged.is_read)
    if sending:
        await send_invitations(ctx, updated, mode.replace("Changed", "All"), update=True)
        updated = await ctx.mbx.get_item(mid)
    items = sub(el, m("Items"))
    ews_items.write_item_id(items, ctx, mid, ews_items.current_change_key(ctx, mid), element="CalendarItem")
    cr = sub(el, m("ConflictResults"))
    sub(cr, t("Count"), 0)
    return True


ews_items.UPDATE_HOOKS.append(update_calendar_hook)


# ---------------------------------------------------------------- UpdateItem on one occurrence

# The zone fields only say how the client wrote Start/End; the series keeps its own zone.
_ZONE_FIELDS = {"calendar:StartTimeZone", "calendar:EndTimeZone", "calendar:MeetingTimeZone",
                "calendar:StartTimeZoneId", "calendar:EndTimeZoneId"}
# Fields of the series, not of one instance: setting them on an occurrence is refused; deleting them is what
# exchangelib sends for an Exception-type item it saves whole, and is passed over.
_SERIES_FIELDS = {"calendar:Recurrence", "calendar:UID"}


def _occurrence_paths(change) -> None:
    for upd in children(child(change, "Updates")):
        path = find_path(upd)
        if path is not None and path.uri in _SERIES_FIELDS and local(upd) != "DeleteItemField":
            raise ResponseError("ErrorInvalidOperation",
                                f"{path.uri} belongs to the series; change it on the recurring master.")


def _naive_times(ctx: EwsContext, change, props: dict, series_tz) -> None:
    """Start/End written without an offset are wall times of the request's zone (TimeZoneContext), else
    of the series' zone, not UTC."""
    zone = olson_zone(ctx.req.timezone) if ctx.req.timezone else None
    tz = zone or series_tz
    for upd in children(child(change, "Updates")):
        path = find_path(upd)
        if local(upd) != "SetItemField" or path is None or path.uri not in ("calendar:Start", "calendar:End"):
            continue
        holder = next((c for c in children(upd) if local(c) == "CalendarItem"), None)
        name = path.uri.split(":")[1]
        raw = (child(holder, name).text or "").strip() if holder is not None and child(holder, name) is not None \
            else ""
        if raw and not raw.endswith("Z") and "+" not in raw[10:] and "-" not in raw[10:]:
            key = A.PidLidAppointmentStartWhole if name == "Start" else A.PidLidAppointmentEndWhole
            props[key] = datetime.fromisoformat(raw).replace(tzinfo=tz).astimezone(UTC)


def _neighbours(series: Series, occ: Occurrence) -> tuple[datetime | None, datetime | None]:
    """The local starts of the occurrences before and after ``occ`` (deleted ones skipped)."""
    before = after = None
    for i, _, o in series.all():
        if o is None or i == occ.index:
            continue
        if i < occ.index:
            before = o
        else:
            after = o
            break
    return (series.local(before.start) if before else None, series.local(after.start) if after else None)


def _occurrence_recipients(content: MessageContent, merged: ItemInput) -> list[Recipient]:
    """The attendee changes of an update laid over the occurrence's attendees (organizer row kept)."""
    organizer = [r for r in content.recipients if r.props.get(P.PidTagRecipientFlags, 0) & A.recipOrganizer]
    wanted = {rt: [(r.props.get(P.PidTagDisplayName), r.props.get(P.PidTagSmtpAddress)
                    or r.props.get(P.PidTagEmailAddress) or "")
                   for r in _attendees(content) if (r.props.get(P.PidTagRecipientType, 1) & 0xF) == rt]
              for rt in (P.MAPI_TO, P.MAPI_CC, P.MAPI_BCC)}
    wanted = {k: v for k, v in wanted.items() if v}
    wanted.update(merged.recipients)
    return organizer + attendee_rows(ItemInput(recipients=wanted), keep=content.recipients)


async def update_occurrence(ctx: EwsContext, change, id_el, el) -> None:
    """UpdateItem on one occurrence: the change becomes (or edits) that instance's exception on the master
    (MS-OXOCAL 2.2.10.1); the answer names the occurrence with the master's new change key, as Exchange does."""
    body = ctx.req.body
    resolution = body.get("ConflictResolution", "AutoResolve")
    mode = body.get("SendMeetingInvitationsOrCancellations", "SendToNone")
    # an occurrence's change key is its master's
    ck = None if resolution == "AlwaysOverwrite" else ctx.change_key_xid(id_el.get("ChangeKey"))
    _occurrence_paths(change)
    master, occ, series = await resolve_occurrence(ctx, id_el)
    if master.content is None:
        master = await ctx.mbx.get_item(master.mid)
    content = master.content
    current, recips = occurrence_props(master.props, occ, series, content.attachments)
    recips = recips if recips is not None else content.recipients
    merged, remove = _apply_updates(change, MessageContent(current, recips), skip=_ZONE_FIELDS | _SERIES_FIELDS)
    _naive_times(ctx, change, merged.props, series.tz)
    edit = occ_edit.InstanceEdit({k: v for k, v in merged.props.items() if not isinstance(k, str)}, remove)
    inst_recips = _occurrence_recipients(MessageContent(current, recips), merged) if merged.recipients else recips
    try:
        inst = occ_edit.instance_props(current, edit, original_start=occ.original_start,
                                       original_local=series.local(occ.original_start), uid=uid_of(master.props))
        if inst[A.PidLidAppointmentStartWhole] != occ.start:
            occ_edit.check_move(series.local(inst[A.PidLidAppointmentStartWhole]), *_neighbours(series, occ))
    except occ_edit.OccurrenceError as exc:
        raise ResponseError(exc.code, exc.message)
    master_props = _strip(content.props)
    flags = master_props.get(A.PidLidAppointmentStateFlags, 0)
    sending = mode not in ("SendToNone", "") and not flags & A.asfReceived \
        and bool(_attendees(MessageContent({}, inst_recips)))
    if sending:
        seq = int(master_props.get(A.PidLidAppointmentSequence, 0)) + 1
        master_props[A.PidLidAppointmentSequence] = inst[A.PidLidAppointmentSequence] = seq
        master_props[A.PidLidFInvited] = True
    new = occ_edit.with_exception(MessageContent(master_props, content.recipients, content.attachments),
                                  series.arp, series.tz, inst, inst_recips)
    await ctx.mbx.replace_content(master.mid, new, change_key=ck)
    if sending:
        # an iTIP REQUEST for this instance alone (RECURRENCE-ID), to its attendees
        await send_invitations(ctx, occ_edit.instance_message(inst, inst_recips), mode.replace("Changed", "All"),
                               update=True)
    items = sub(el, m("Items"))
    it = sub(items, t("CalendarItem"))
    sub(it, t("ItemId"), Id=ec.encode_occurrence_id(ctx.item_id(master.mid), occ.original_start),
        ChangeKey=ews_items.current_change_key(ctx, master.mid))
    cr = sub(el, m("ConflictResults"))
    sub(cr, t("Count"), 0)


# ---------------------------------------------------------------- DeleteItem: occurrences, cancellations

async def remove_occurrence(ctx: EwsContext, master: Item, occ: Occurrence, series: Series, mode: str,
                            body: str | None = None) -> None:
    """One instance deleted from its series (a deleted instance in the blob, its exception attachment gone);
    for a meeting the user organizes, ``mode`` other than SendToNone sends its attendees an iTIP CANCEL for
    that instance alone (RECURRENCE-ID)."""
    if master.content is None:
        master = await ctx.mbx.get_item(master.mid)
    content = master.content
    props = _strip(content.props)
    flags = props.get(A.PidLidAppointmentStateFlags, 0)
    current, recips = occurrence_props(master.props, occ, series, content.attachments)
    recips = recips if recips is not None else content.recipients
    cancelling = mode not in (None, "", "SendToNone") and flags & A.asfMeeting and not flags & A.asfReceived \
        and bool(_attendees(MessageContent({}, recips)))
    inst = None
    if cancelling:
        seq = int(props.get(A.PidLidAppointmentSequence, 0))
        props[A.PidLidAppointmentSequence] = seq + 1     # the cancellation goes out with seq + 1
        inst = occ_edit.instance_props(current, occ_edit.InstanceEdit(), original_start=occ.original_start,
                                       original_local=series.local(occ.original_start), uid=uid_of(master.props))
        inst[A.PidLidAppointmentSequence] = seq
    new = occ_edit.without_instance(MessageContent(props, content.recipients, content.attachments), series.arp,
                                    series.tz, occ.original_start)
    await ctx.mbx.replace_content(master.mid, new)
    if inst is not None:
        await send_cancellation(ctx, occ_edit.instance_message(inst, recips), mode, body)


async def occurrence_by_id(ctx: EwsContext, item_id: str | None) -> tuple[Item, Occurrence, Series] | None:
    """An occurrence named by a plain id string (ReferenceItemId of a response object); None otherwise."""
    if not item_id or ec.decode_occurrence_id(item_id) is None:
        return None
    from lxml import etree
    return await resolve_occurrence(ctx, etree.Element(t("ItemId"), Id=item_id))


async def delete_calendar_hook(ctx: EwsContext, id_el) -> bool:
    body = ctx.req.body
    mode = body.get("SendMeetingCancellations", "SendToNone")
    found = None
    if local(id_el) == "OccurrenceItemId" or ec.decode_occurrence_id(id_el.get("Id") or "") is not None:
        found = await resolve_occurrence(ctx, id_el)
    if found is not None:
        master, occ, series = found
        await remove_occurrence(ctx, master, occ, series, mode)
        return True
    if local(id_el) != "ItemId" or mode == "SendToNone":
        return False
    mid = ctx.mid_of(id_el.get("Id"))
    if not _is_calendar_mid(ctx, mid):
        return False
    item = await ctx.mbx.get_item(mid)
    flags = item.props.get(A.PidLidAppointmentStateFlags, 0)
    if flags & A.asfMeeting and not flags & A.asfReceived:
        await send_cancellation(ctx, item, mode)
    return False   # the ordinary delete follows


ews_items.DELETE_HOOKS.append(delete_calendar_hook)
