"""Pieces shared by the VEVENT and VTODO conversions (MS-OXCICAL 2.1.3.1.1.20.x)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

import icalendar
from icalendar import vText

from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as C
from protocols.mapi.props import named as N

from protocols.mapi.tz import TzReg

from .tz import RuleTimezone, olson_zone, tzreg_from_tzinfo, tzreg_from_vtimezone, windows_key_name

UTC = timezone.utc
PRODID = "-//exgate//iCalendar conversion//EN"


def as_list(v) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def text(comp, name: str) -> str | None:
    v = comp.get(name)
    if v is None:
        return None
    if isinstance(v, list):
        v = v[0]
    return str(v)


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def naive(dt: datetime) -> datetime:
    return dt.replace(tzinfo=None)


def fake_utc(local: datetime) -> datetime:
    """A local wall time stored in a PtypTime as if it were UTC (how MS-OXOCAL keeps
    PidTagExceptionStartTime and the task date properties)."""
    return local.replace(tzinfo=UTC)


@dataclass
class Zone:
    """The time zone of a date-time: Windows key name, its TZREG for the year, a tzinfo."""

    key: str
    reg: TzReg
    tz: tzinfo


class TzContext:
    """Resolves TZIDs of one VCALENDAR: its VTIMEZONEs first, then Olson and Windows names."""

    def __init__(self, cal, default_tz: str | None = None):
        self.vtimezones = {str(c["TZID"]): c for c in cal.walk("VTIMEZONE") if "TZID" in c}
        self.default_name = default_tz
        self.default_tz = olson_zone(default_tz) if default_tz else None
        self._rule_cache: dict[tuple[str, int], TzReg | None] = {}

    def _tz_for_tzid(self, tzid: str, year: int) -> tzinfo:
        vtz = self.vtimezones.get(tzid)
        if vtz is not None:
            reg = self._vtz_reg(tzid, year)
            if reg is not None:
                return RuleTimezone(reg, tzid)
            try:
                return vtz.to_tz()
            except Exception:  # a VTIMEZONE icalendar cannot turn into a tzinfo
                pass
        return olson_zone(tzid) or self.default_tz or UTC

    def _vtz_reg(self, tzid: str, year: int) -> TzReg | None:
        k = (tzid, year)
        if k not in self._rule_cache:
            self._rule_cache[k] = tzreg_from_vtimezone(self.vtimezones[tzid], year)
        return self._rule_cache[k]

    def aware(self, prop, *, at: time | None = None) -> datetime:
        """A DTSTART-like property as an aware datetime; DATE values become local midnight
        (or ``at``) in the default zone."""
        v = prop.dt if hasattr(prop, "dt") else prop
        tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
        if not isinstance(v, datetime):
            return datetime.combine(v, at or time()).replace(tzinfo=self.default_tz or UTC)
        if tzid and str(tzid) in self.vtimezones:
            # the VTIMEZONE wins over whatever zone icalendar guessed from the name
            return v.replace(tzinfo=self._tz_for_tzid(str(tzid), v.year))
        if v.tzinfo is not None:
            return v
        if tzid:
            return v.replace(tzinfo=self._tz_for_tzid(str(tzid), v.year))
        return v.replace(tzinfo=self.default_tz or UTC)

    def zone(self, prop, year: int) -> Zone | None:
        """None means UTC (a Z value, or floating with no default zone)."""
        v = prop.dt if hasattr(prop, "dt") else prop
        tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
        if tzid:
            tzid = str(tzid)
            if tzid in self.vtimezones:
                reg = self._vtz_reg(tzid, year) or tzreg_from_tzinfo(self._tz_for_tzid(tzid, year), year)
                return Zone(windows_key_name(tzid), reg, RuleTimezone(reg, tzid))
            z = self._tz_for_tzid(tzid, year)
            return Zone(windows_key_name(tzid), tzreg_from_tzinfo(z, year), z)
        if isinstance(v, datetime) and v.tzinfo is not None:
            name = str(getattr(v.tzinfo, "key", "") or "")
            if name and name not in ("UTC", "Etc/UTC"):
                return Zone(windows_key_name(name), tzreg_from_tzinfo(v.tzinfo, year), v.tzinfo)
            return None
        if self.default_tz is not None:
            return Zone(windows_key_name(self.default_name), tzreg_from_tzinfo(self.default_tz, year),
                        self.default_tz)
        return None


# --- MS-OXCICAL value maps ---

BUSY_NAMES = {"FREE": A.olFree, "TENTATIVE": A.olTentative, "BUSY": A.olBusy, "OOF": A.olOutOfOffice,
              "WORKINGELSEWHERE": A.olWorkingElsewhere}
BUSY_BY_VALUE = {v: k for k, v in BUSY_NAMES.items()}

PARTSTAT_TO_TRACK = {"NEEDS-ACTION": A.respNotResponded, "ACCEPTED": A.respAccepted,
                     "TENTATIVE": A.respTentative, "DECLINED": A.respDeclined}
TRACK_TO_PARTSTAT = {A.respNotResponded: "NEEDS-ACTION", A.respAccepted: "ACCEPTED",
                     A.respTentative: "TENTATIVE", A.respDeclined: "DECLINED", A.respNone: "NEEDS-ACTION"}


def importance_from_priority(p: int | None) -> int:
    """PRIORITY (MS-OXCICAL 2.1.3.1.1.20.22): 1-4 high, 5 or none normal, 6-9 low."""
    if not p:
        return A.IMPORTANCE_NORMAL
    if p <= 4:
        return A.IMPORTANCE_HIGH
    if p == 5:
        return A.IMPORTANCE_NORMAL
    return A.IMPORTANCE_LOW


def priority_from_importance(i: int | None) -> int | None:
    return {A.IMPORTANCE_HIGH: 1, A.IMPORTANCE_LOW: 9}.get(i if i is not None else A.IMPORTANCE_NORMAL, 5)


def sensitivity_from_class(cls: str | None) -> int:
    return {"PRIVATE": A.SENSITIVITY_PRIVATE, "CONFIDENTIAL": A.SENSITIVITY_CONFIDENTIAL}.get(
        (cls or "PUBLIC").upper(), A.SENSITIVITY_NONE)


def class_from_sensitivity(s: int | None) -> str:
    return {A.SENSITIVITY_PERSONAL: "PRIVATE", A.SENSITIVITY_PRIVATE: "PRIVATE",
            A.SENSITIVITY_CONFIDENTIAL: "CONFIDENTIAL"}.get(s or 0, "PUBLIC")


def common_props_in(comp, props: dict) -> None:
    """SUMMARY, DESCRIPTION, X-ALT-DESC, CATEGORIES, CLASS, PRIORITY, CREATED, LAST-MODIFIED."""
    s = text(comp, "SUMMARY")
    if s is not None:
        props[C.PidTagSubject] = s
        props[C.PidTagNormalizedSubject] = s
    d = text(comp, "DESCRIPTION")
    if d is not None:
        props[C.PidTagBody] = d
    for alt in as_list(comp.get("X-ALT-DESC")):
        if str(getattr(alt, "params", {}).get("FMTTYPE", "")).lower() == "text/html":
            # a TEXT value (MS-OXCICAL 2.1.3.1.1.20.8): \n, \; and \, are escapes
            props[C.PidTagHtml] = unescape_text(str(alt)).encode("utf-8")
    cats: list[str] = []
    for c in as_list(comp.get("CATEGORIES")):
        cats += [str(x) for x in getattr(c, "cats", [c])]
    if cats:
        props[N.PidNameKeywords] = cats
    sens = sensitivity_from_class(text(comp, "CLASS"))
    props[C.PidTagSensitivity] = sens
    props[N.PidLidPrivate] = sens in (A.SENSITIVITY_PRIVATE, A.SENSITIVITY_CONFIDENTIAL)
    pr = comp.get("PRIORITY")
    props[C.PidTagImportance] = importance_from_priority(int(pr) if pr is not None else None)
    for name, tag in (("CREATED", C.PidTagCreationTime), ("LAST-MODIFIED", C.PidTagLastModificationTime)):
        v = comp.get(name)
        if v is not None and isinstance(v.dt, datetime):
            props[tag] = utc(v.dt if v.dt.tzinfo else v.dt.replace(tzinfo=UTC))


_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")


def unescape_text(value: str) -> str:
    r"""RFC 5545 3.3.11 TEXT: \\ \; \, \n (icalendar leaves X- properties as it read them)."""
    return _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def common_props_out(props: dict, comp) -> None:
    if C.PidTagSubject in props:
        comp.add("SUMMARY", props[C.PidTagSubject])
    if C.PidTagBody in props:
        comp.add("DESCRIPTION", props[C.PidTagBody])
    if C.PidTagHtml in props:
        html = props[C.PidTagHtml]
        # as TEXT, escaped: an HTML body with line breaks is otherwise no valid content line
        comp.add("X-ALT-DESC", vText(html.decode("utf-8", "replace") if isinstance(html, bytes) else html),
                 parameters={"FMTTYPE": "text/html"})
    if props.get(N.PidNameKeywords):
        comp.add("CATEGORIES", list(props[N.PidNameKeywords]))
    comp.add("CLASS", class_from_sensitivity(props.get(C.PidTagSensitivity)))
    comp.add("PRIORITY", priority_from_importance(props.get(C.PidTagImportance)))
    if C.PidTagCreationTime in props:
        comp.add("CREATED", utc(props[C.PidTagCreationTime]))
    if C.PidTagLastModificationTime in props:
        comp.add("LAST-MODIFIED", utc(props[C.PidTagLastModificationTime]))


def first_alarm(comp):
    for a in comp.walk("VALARM"):
        if a.get("TRIGGER") is not None:
            return a
    return None


def new_calendar(method: str | None = None) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    if method:
        cal.add("METHOD", method)
    return cal


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def minutes(td: timedelta) -> int:
    return int(td.total_seconds() // 60)
