"""GetUserAvailability (MS-OXWSAVAIL? — EWS Availability): free/busy and merged free/busy per attendee.

Periods come from gateway/store/freebusy.py: the requester's own calendars with details; another
user's free/busy without details, read through the gateway's proxy DAV login where it has one, else
as last published (see that module for why). Suggestions (SuggestionsViewOptions) are not computed:
a request that asks only for suggestions gets ErrorInvalidOperation, one that asks for both gets the
free/busy answers.

Times: the request's TimeWindow is in the request's SerializableTimeZone unless it carries an offset;
CalendarEvent times are written in that zone without an offset, as Exchange does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from gateway.store import errors as se
from gateway.store import freebusy as fb
from protocols.ews.ns import child, children, m, sub, t, text
from protocols.ews.responses import DEFAULT_TEXT, ResponseError, response_name
from protocols.ews.values import parse_bool

from .context import EwsContext

from lxml import etree
from protocols.ews.ns import RESPONSE_NSMAP

VIEWS = ("None", "MergedOnly", "FreeBusy", "FreeBusyMerged", "Detailed", "DetailedMerged")
MERGED_DIGIT = {"Free": "0", "Tentative": "1", "Busy": "2", "OOF": "3"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_MAILBOXES = 100
MAX_WINDOW = timedelta(days=62)     # Exchange's limit on the TimeWindow


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
    wp = sub(periods, t("WorkingPeriod"))
    sub(wp, t("DayOfWeek"), " ".join(WEEKDAYS[:5]))
    sub(wp, t("StartTimeInMinutes"), 480)
    sub(wp, t("EndTimeInMinutes"), 1020)


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
    directory = getattr(ctx.state, "directory", None)
    entry = await directory.get_user(address) if directory is not None else None
    if entry is None or not entry.email:
        raise ResponseError("ErrorMailRecipientNotFound", f"No mailbox {address} in the directory.")
    if entry.kind not in ("user", "room", "equipment"):
        raise ResponseError("ErrorMailRecipientNotFound", f"{address} is not a mailbox.")
    try:
        return await fb.other_periods(ctx.mbx.db, ctx.state.config, entry.uid or address, entry.email, start,
                                      end), False
    except fb.NoFreeBusyAccess as exc:
        raise ResponseError("ErrorNoFreeBusyAccess", str(exc))


async def get_user_availability(ctx: EwsContext):
    body = ctx.req.body
    root = etree.Element(m(f"{response_name(ctx.operation)}Response"), nsmap=RESPONSE_NSMAP)
    zone_el = child(body, "TimeZone")
    zone = read_zone(zone_el)
    options = child(body, "FreeBusyViewOptions")
    mailboxes = children(child(body, "MailboxDataArray"), "MailboxData")
    if options is None:
        array = sub(root, m("FreeBusyResponseArray"))
        for _ in mailboxes or [None]:
            r = sub(array, m("FreeBusyResponse"))
            _response_message(r, "ErrorInvalidOperation", "Meeting suggestions are not offered by this server; "
                                                           "ask for FreeBusyViewOptions.")
        return root
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
        return root
    requested = (text(options, "RequestedView") or "DetailedMerged").strip()
    if requested not in VIEWS:
        requested = "DetailedMerged"
    for md in mailboxes[:MAX_MAILBOXES]:
        r = sub(array, m("FreeBusyResponse"))
        address = (text(child(md, "Email"), "Address") or "").strip()
        if address.lower().startswith("smtp:"):
            address = address[5:]
        exclude = parse_bool(text(md, "ExcludeConflicts") or "false") if text(md, "ExcludeConflicts") else False
        del exclude     # conflicts are only meaningful for suggestions, which are not computed
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
        _response_message(r)
        view_type = requested
        if not details and requested.startswith("Detailed"):
            view_type = "FreeBusyMerged" if requested == "DetailedMerged" else "FreeBusy"
        write_view(r, view_type, periods, start, end, interval, zone, zone_el, details)
    return root
