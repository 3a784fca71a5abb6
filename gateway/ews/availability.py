"""GetUserAvailability (MS-OXWAVLS, the EWS Availability protocol): free/busy views and meeting suggestions.

Periods come from gateway/store/freebusy.py: the requester's own calendars with details; another
user's free/busy without details, read through the gateway's proxy DAV login where it has one, else
as last published (see that module for why).

Suggestions (SuggestionsViewOptions) use the same periods: each MailboxData becomes an attendee of
gateway/ews/suggestions.py (the pure computation; its docstring says how a slot is judged) -
resolved mailboxes with their busy intervals, a distribution list as its members, a mailbox whose
free/busy cannot be read as NoData, an address the directory does not know as
UnknownAttendeeConflictData. A request may ask for free/busy, suggestions or both; the answer has
FreeBusyResponseArray and/or SuggestionsResponse in that order. A bad option is an error
SuggestionsResponse with its ResponseCode and text, never a fault.

Times: the request's TimeWindow is in the request's SerializableTimeZone unless it carries an offset;
CalendarEvent times are written in that zone without an offset, as Exchange does. Suggestions are
computed on that zone's wall clock (days, working hours, MeetingTime).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from lxml import etree

from gateway.store import errors as se
from gateway.store import freebusy as fb
from protocols.ews import suggestions as sgx
from protocols.ews.ns import RESPONSE_NSMAP, child, children, m, sub, t, text
from protocols.ews.responses import DEFAULT_TEXT, ResponseError, response_name

from . import suggestions as sg
from .context import EwsContext

log = logging.getLogger("exgate.ews.availability")

VIEWS = ("None", "MergedOnly", "FreeBusy", "FreeBusyMerged", "Detailed", "DetailedMerged")
MERGED_DIGIT = {"Free": "0", "Tentative": "1", "Busy": "2", "OOF": "3"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_MAILBOXES = 100
MAX_WINDOW = timedelta(days=62)     # Exchange's limit on the TimeWindow (also used for DetailedSuggestionsWindow)
MAX_GROUP_MEMBERS = 100             # a larger distribution list is TooBigGroupAttendeeConflictData


# ------------------------------------------------------------------ SerializableTimeZone (MS-OXWSCDATA 2.2.4.60)

@dataclass(frozen=True)
class Transition:
    bias: int           # minutes, added to the zone's Bias
    time: str           # hh:mm:ss local
    day_order: int      # 1..4, 5 = last
    month: int          # 0: no transition
    weekday: str


@dataclass(frozen=True)
class RequestZone:
    bias: int                       # minutes; UTC = local + bias
    standard: Transition | None
    daylight: Transition | None

    def _transition_at(self, tr: Transition, year: int) -> datetime:
        wd = WEEKDAYS.index(tr.weekday) if tr.weekday in WEEKDAYS else 6
        first = datetime(year, tr.month, 1)
        day = first + timedelta(days=(wd - first.weekday()) % 7)
        day += timedelta(weeks=tr.day_order - 1)
        while day.month != tr.month:            # "5" means the last one of the month
            day -= timedelta(weeks=1)
        h, mi, s = (int(x) for x in (tr.time.split(":") + ["0", "0"])[:3])
        return day.replace(hour=h, minute=mi, second=s)

    def offset_minutes(self, local: datetime) -> int:
        """The bias in effect at a local (naive) time."""
        st, dl = self.standard, self.daylight
        if not st or not dl or not st.month or not dl.month or st.month == dl.month:
            return self.bias + (st.bias if st else 0)
        to_dst, to_std = self._transition_at(dl, local.year), self._transition_at(st, local.year)
        in_dst = to_dst <= local < to_std if to_dst < to_std else not (to_std <= local < to_dst)
        return self.bias + (dl.bias if in_dst else st.bias)

    def to_utc(self, local: datetime) -> datetime:
        return (local + timedelta(minutes=self.offset_minutes(local))).replace(tzinfo=timezone.utc)

    def from_utc(self, when: datetime) -> datetime:
        naive = when.astimezone(timezone.utc).replace(tzinfo=None)
        guess = naive - timedelta(minutes=self.bias)
        return naive - timedelta(minutes=self.offset_minutes(guess))


def _transition(el) -> Transition | None:
    if el is None:
        return None
    try:
        return Transition(int(text(el, "Bias") or "0"), text(el, "Time") or "00:00:00",
                          int(text(el, "DayOrder") or "1"), int(text(el, "Month") or "0"),
                          (text(el, "DayOfWeek") or "Sunday").strip())
    except ValueError:
        return None


def read_zone(el) -> RequestZone:
    if el is None:
        return RequestZone(0, None, None)
    try:
        bias = int(text(el, "Bias") or "0")
    except ValueError:
        bias = 0
    return RequestZone(bias, _transition(child(el, "StandardTime")), _transition(child(el, "DaylightTime")))


def parse_time(value: str, zone: RequestZone) -> datetime:
    v = value.strip()
    if v.endswith("Z") or "+" in v[10:] or "-" in v[10:]:
        dt = datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith("Z") else v)
        return dt.astimezone(timezone.utc)
    return zone.to_utc(datetime.fromisoformat(v))


def local_text(when: datetime, zone: RequestZone) -> str:
    return zone.from_utc(when).strftime("%Y-%m-%dT%H:%M:%S")


# ------------------------------------------------------------------ the answer

def merged_string(periods: list[fb.BusyPeriod], start: datetime, end: datetime, minutes: int) -> str:
    """One digit per interval: the heaviest busy type overlapping it (0 free .. 3 OOF)."""
    step = timedelta(minutes=max(5, minutes))
    out = []
    slot = start
    while slot < end:
        nxt = min(slot + step, end)
        weight = 0
        for p in periods:
            if p.start < nxt and p.end > slot:
                weight = max(weight, int(MERGED_DIGIT.get(p.busy_type, "2")))
        out.append(str(weight))
        slot = nxt
    return "".join(out)


def _working_hours(view, zone_el):
    wh = sub(view, t("WorkingHours"))
    tz = sub(wh, t("TimeZone"))
    if zone_el is not None:
        for c in children(zone_el):
            tz.append(etree.fromstring(etree.tostring(c)))
    else:
        sub(tz, t("Bias"), 0)
    periods = sub(wh, t("WorkingPeriodArray"))
    # the same hours the suggestions count as work time
    for period in sg.DEFAULT_WORKING_HOURS:
        wp = sub(periods, t("WorkingPeriod"))
        sub(wp, t("DayOfWeek"), " ".join(WEEKDAYS[d] for d in sorted(period.days)))
        sub(wp, t("StartTimeInMinutes"), period.start_minute)
        sub(wp, t("EndTimeInMinutes"), period.end_minute)


def write_view(parent, view_type: str, periods: list[fb.BusyPeriod], start: datetime, end: datetime,
               interval: int, zone: RequestZone, zone_el, details: bool):
    view = sub(parent, m("FreeBusyView"))
    sub(view, t("FreeBusyViewType"), view_type)
    if view_type in ("MergedOnly", "FreeBusyMerged", "DetailedMerged"):
        sub(view, t("MergedFreeBusy"), merged_string(periods, start, end, interval))
    if view_type in ("FreeBusy", "FreeBusyMerged", "Detailed", "DetailedMerged"):
        events = sub(view, t("CalendarEventArray"))
        for p in periods:
            if p.busy_type == "Free" and view_type.startswith("FreeBusy"):
                continue
            ev = sub(events, t("CalendarEvent"))
            sub(ev, t("StartTime"), local_text(p.start, zone))
            sub(ev, t("EndTime"), local_text(p.end, zone))
            sub(ev, t("BusyType"), p.busy_type)
            if details and view_type.startswith("Detailed"):
                d = sub(ev, t("CalendarEventDetails"))
                if p.subject and not p.is_private:
                    sub(d, t("Subject"), p.subject)
                if p.location and not p.is_private:
                    sub(d, t("Location"), p.location)
                sub(d, t("IsMeeting"), p.is_meeting)
                sub(d, t("IsRecurring"), p.is_recurring)
                sub(d, t("IsException"), False)
                sub(d, t("IsReminderSet"), False)
                sub(d, t("IsPrivate"), p.is_private)
    _working_hours(view, zone_el)
    return view


def _response_message(parent, code: str = "NoError", message_text: str | None = None):
    rm = sub(parent, m("ResponseMessage"), ResponseClass="Success" if code == "NoError" else "Error")
    if code != "NoError":
        sub(rm, m("MessageText"), message_text or DEFAULT_TEXT.get(code, code))
    sub(rm, m("ResponseCode"), code)
    if code != "NoError":
        sub(rm, m("DescriptiveLinkKey"), 0)
    return rm


async def _periods_for(ctx: EwsContext, address: str, start: datetime, end: datetime) -> tuple[list, bool]:
    """(periods, with details?) for one attendee."""
    if address.lower() == ctx.user.email.lower():
        return await fb.own_periods(ctx.mbx, start, end), True
    directory = ctx.directory
    entry = await directory.find(address) if directory.available else None
    if entry is None or not entry.email:
        raise ResponseError("ErrorMailRecipientNotFound", f"No mailbox {address} in the directory.")
    if entry.kind not in ("user", "room", "equipment"):
        raise ResponseError("ErrorMailRecipientNotFound", f"{address} is not a mailbox.")
    try:
        return await directory.free_busy(entry, address, start, end), False
    except fb.NoFreeBusyAccess as exc:
        raise ResponseError("ErrorNoFreeBusyAccess", str(exc))


# ------------------------------------------------------------------ suggestions

def _local_options(opts: sgx.SuggestionsViewOptions, zone: RequestZone) -> sgx.SuggestionsViewOptions:
    """Times with a UTC offset -> the request zone's wall clock (the computation works there)."""
    def local(when: datetime | None) -> datetime | None:
        return zone.from_utc(when) if when is not None and when.tzinfo is not None else when
    return replace(opts, window_start=local(opts.window_start), window_end=local(opts.window_end),
                   current_meeting_time=local(opts.current_meeting_time))


def _intervals(periods: list[fb.BusyPeriod], zone: RequestZone) -> tuple[sg.Interval, ...]:
    return tuple(sg.Interval(zone.from_utc(p.start), zone.from_utc(p.end), p.busy_type) for p in periods)


async def _group_attendee(ctx: EwsContext, md: sgx.MailboxData, start: datetime, end: datetime,
                          zone: RequestZone) -> sg.AttendeeAvailability | None:
    """A distribution list as its members' free/busy; None when the address is no group either."""
    directory = ctx.directory
    if not directory.available or not md.address:
        return None
    try:
        members = await directory.members(md.address)
    except Exception as exc:  # noqa: BLE001 - "not a group" and a directory failure both leave the attendee unknown
        log.info("availability: %s is not an expandable group (%s)", md.address, exc)
        return None
    base = dict(attendee_type=md.attendee_type, exclude_conflicts=md.exclude_conflicts)
    if len(members) > MAX_GROUP_MEMBERS:
        return sg.AttendeeAvailability(status="toobiggroup", **base)
    busy: list[tuple[sg.Interval, ...] | None] = []
    for member in members:
        if not member.email:
            busy.append(None)
            continue
        try:
            periods, _ = await _periods_for(ctx, member.email, start, end)
            busy.append(_intervals(periods, zone))
        except Exception:  # noqa: BLE001 - a member without free/busy is NumberOfMembersWithNoData
            busy.append(None)
    return sg.AttendeeAvailability(status="group", members=tuple(busy), **base)


async def _attendee(ctx: EwsContext, md: sgx.MailboxData, start: datetime, end: datetime, zone: RequestZone,
                    known: dict) -> sg.AttendeeAvailability:
    base = dict(attendee_type=md.attendee_type, exclude_conflicts=md.exclude_conflicts)
    periods = known.get(md.address.lower())
    if periods is None:
        try:
            periods, _ = await _periods_for(ctx, md.address, start, end)
        except ResponseError as exc:
            if exc.code == "ErrorMailRecipientNotFound":
                group = await _group_attendee(ctx, md, start, end, zone)
                return group or sg.AttendeeAvailability(status="unknown", working_hours=None, **base)
            return sg.AttendeeAvailability(status="nodata", working_hours=None, **base)
        except Exception as exc:  # noqa: BLE001 - one attendee's failure is that attendee's NoData
            log.warning("free/busy of %s for suggestions failed: %s", md.address, exc)
            return sg.AttendeeAvailability(status="nodata", working_hours=None, **base)
    return sg.AttendeeAvailability(busy=_intervals([p for p in periods if p.end > start and p.start < end], zone),
                                   **base)


async def _suggestions(ctx: EwsContext, root, options_el, mailboxes: list, zone: RequestZone, known: dict,
                       known_window: tuple[datetime, datetime] | None) -> None:
    try:
        opts = _local_options(sgx.read_options(options_el), zone)
        if opts.window_end - opts.window_start > MAX_WINDOW:
            raise sgx.OptionError("ErrorInvalidTimeInterval", "DetailedSuggestionsWindow may span at most 62 days.")
    except sgx.OptionError as exc:
        sgx.write_response(root, None, code=exc.code, message_text=str(exc))
        return
    days = sg.days_of(opts)
    # the busy periods of those days (a late meeting running past the last midnight is judged on its
    # part inside the window: reading further could step past what a user has published)
    first = datetime(days[0].year, days[0].month, days[0].day)
    start = zone.to_utc(first)
    end = zone.to_utc(first + timedelta(days=len(days)))
    if known_window is None or not (known_window[0] <= start and end <= known_window[1]):
        known = {}      # the free/busy views read another window: read again
    try:
        attendees = [await _attendee(ctx, sgx.read_mailbox_data(md), start, end, zone, known)
                     for md in mailboxes]
        # up to 62 days x 48 slots x 100 attendees: off the event loop
        results = await asyncio.to_thread(sg.suggest, attendees, opts)
    except Exception as exc:  # noqa: BLE001 - the suggestions fail, the free/busy answers stand
        log.exception("meeting suggestions failed")
        sgx.write_response(root, None, code="ErrorMeetingSuggestionGenerationFailed",
                           message_text=f"Meeting suggestions could not be computed: {type(exc).__name__}")
        return
    sgx.write_response(root, results)


# ------------------------------------------------------------------ the operation

async def _free_busy(ctx: EwsContext, root, options, mailboxes: list, zone: RequestZone, zone_el,
                     known: dict) -> tuple[datetime, datetime] | None:
    """FreeBusyResponseArray; fills ``known`` (address -> periods) and returns the window read."""
    window = child(options, "TimeWindow")
    array = sub(root, m("FreeBusyResponseArray"))
    try:
        start = parse_time(text(window, "StartTime") or "", zone)
        end = parse_time(text(window, "EndTime") or "", zone)
        if end <= start or end - start > MAX_WINDOW:
            raise ValueError("the TimeWindow must end after it starts and span at most 62 days")
        interval = int(text(options, "MergedFreeBusyIntervalInMinutes") or "30")
    except ValueError as exc:
        for _ in mailboxes:
            r = sub(array, m("FreeBusyResponse"))
            _response_message(r, "ErrorInvalidTimeInterval", f"Invalid TimeWindow: {exc}")
        return None
    requested = (text(options, "RequestedView") or "DetailedMerged").strip()
    if requested not in VIEWS:
        requested = "DetailedMerged"
    for md in mailboxes:
        r = sub(array, m("FreeBusyResponse"))
        address = sgx.read_mailbox_data(md).address
        try:
            periods, details = await _periods_for(ctx, address, start, end)
        except Exception as exc:  # noqa: BLE001 - one attendee's failure is that attendee's answer
            err = exc if isinstance(exc, ResponseError) else ResponseError(
                "ErrorFreeBusyGenerationFailed" if isinstance(exc, se.StoreError) else "ErrorInternalServerError",
                str(exc) or type(exc).__name__)
            _response_message(r, err.code, err.message)
            view = sub(r, m("FreeBusyView"))
            sub(view, t("FreeBusyViewType"), "None")
            continue
        known[address.lower()] = periods
        _response_message(r)
        view_type = requested
        if not details and requested.startswith("Detailed"):
            view_type = "FreeBusyMerged" if requested == "DetailedMerged" else "FreeBusy"
        write_view(r, view_type, periods, start, end, interval, zone, zone_el, details)
    return start, end


async def get_user_availability(ctx: EwsContext):
    body = ctx.req.body
    root = etree.Element(m(f"{response_name(ctx.operation)}Response"), nsmap=RESPONSE_NSMAP)
    zone_el = child(body, "TimeZone")
    zone = read_zone(zone_el)
    fb_options = child(body, "FreeBusyViewOptions")
    sg_options = child(body, "SuggestionsViewOptions")
    mailboxes = children(child(body, "MailboxDataArray"), "MailboxData")[:MAX_MAILBOXES]
    if fb_options is None and sg_options is None:
        array = sub(root, m("FreeBusyResponseArray"))
        for _ in mailboxes or [None]:
            r = sub(array, m("FreeBusyResponse"))
            _response_message(r, "ErrorInvalidRequest", "Ask for FreeBusyViewOptions, SuggestionsViewOptions "
                                                        "or both.")
        return root
    known: dict = {}
    window = None
    if fb_options is not None:
        window = await _free_busy(ctx, root, fb_options, mailboxes, zone, zone_el, known)
    if sg_options is not None:
        await _suggestions(ctx, root, sg_options, mailboxes, zone, known, window)
    return root
