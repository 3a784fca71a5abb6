"""One occurrence of a recurring appointment changed on its own (UpdateItem on an occurrence id).

Exchange keeps such a change twice in the series' master (MS-OXOCAL 2.2.10.1):

- an ExceptionInfo (2.2.1.44.2) and an ExtendedException (2.2.1.44.3) in PidLidAppointmentRecur, whose
  OverrideFlags say which of subject, location, busy status, reminder and all-day differ from the series,
  with the original date added to DeletedInstanceDates and the new one to ModifiedInstanceDates;
- a hidden attachment (PidTagAttachmentFlags afException, PidTagExceptionStartTime/EndTime as local
  wall times, PidTagExceptionReplaceTime the original start in UTC: 2.2.10.1.1) whose embedded message
  (IPM.OLE.CLASS.{00061055-...}) holds the instance's whole property set and attendees (2.2.10.1.2).

The functions here are pure: they take the master as properties and give it back edited. They decide the
override flags the way the store's iCalendar import does (gateway/store/convert/ical_event.py), so the
blob written for CalDAV (a VEVENT with RECURRENCE-ID) reads back byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from gateway.store.conversions import DERIVED
from protocols.mapi import recur as R
from protocols.mapi.goid import clean_goid, goid_from_uid
from gateway.store.model import Attachment, MessageContent, Recipient
from protocols.mapi.props import appointment as A
from protocols.mapi.props import core as P
from protocols.mapi.props import named as N

UTC = timezone.utc

# Properties that describe the series, not one instance: never copied into an exception.
SERIES_ONLY = {A.PidLidAppointmentRecur, A.PidLidRecurring, A.PidLidIsRecurring, A.PidLidRecurrenceType,
               A.PidLidRecurrencePattern, A.PidLidTimeZoneStruct, A.PidLidTimeZoneDescription,
               A.PidLidAppointmentTimeZoneDefinitionRecur, A.PidNameICalendarRecurrenceDate}


class OccurrenceError(Exception):
    """A change the series cannot take; ``code`` is the EWS ResponseCode."""

    def __init__(self, code: str, message: str | None = None):
        super().__init__(message or code)
        self.code = code
        self.message = message


@dataclass
class InstanceEdit:
    """What a client changed on one occurrence, as MAPI properties (start/end as aware UTC)."""

    set_props: dict = field(default_factory=dict)
    remove: list = field(default_factory=list)
    recipients: list[Recipient] | None = None     # None: the attendees stay as they are


def local_of(when: datetime, tz) -> datetime:
    """An aware instant as a naive wall time of the series' zone (the blob's clock)."""
    return when.astimezone(tz).replace(tzinfo=None)


def aware_of(local: datetime, tz) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC)


def check_move(new_start_local: datetime, previous_local: datetime | None, next_local: datetime | None) -> None:
    """An exception stays strictly between the days of its neighbours: two instances of a series never share a
    day and never swap places (ErrorOccurrenceCrossingBoundary, as Exchange and Outlook refuse it)."""
    day = new_start_local.date()
    if previous_local is not None and day <= previous_local.date():
        raise OccurrenceError("ErrorOccurrenceCrossingBoundary",
                              "The occurrence cannot move to or before the day of the previous occurrence.")
    if next_local is not None and day >= next_local.date():
        raise OccurrenceError("ErrorOccurrenceCrossingBoundary",
                              "The occurrence cannot move to or after the day of the next occurrence.")


def instance_props(current: dict, edit: InstanceEdit, *, original_start: datetime, original_local: datetime,
                   uid: str | None) -> dict:
    """The exception's whole property set: what the occurrence showed, with the client's changes."""
    p = {k: v for k, v in current.items()
         if not isinstance(k, str) and k not in DERIVED and k not in SERIES_ONLY}
    for k in edit.remove:
        p.pop(k, None)
    if P.PidTagBody in edit.set_props and P.PidTagHtml not in edit.set_props:
        # a text body replaces the series' formatted one rather than sitting beside it
        for k in (P.PidTagHtml, P.PidTagRtfCompressed):
            p.pop(k, None)
    p.update(edit.set_props)
    start, end = p.get(A.PidLidAppointmentStartWhole), p.get(A.PidLidAppointmentEndWhole)
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise OccurrenceError("ErrorInvalidRequest", "The occurrence has no start or end.")
    if end < start:
        raise OccurrenceError("ErrorCalendarEndDateIsEarlierThanStartDate")
    p.update({N.PidLidCommonStart: start, N.PidLidCommonEnd: end, A.PidLidClipStart: start,
              A.PidLidClipEnd: end, A.PidLidAppointmentDuration: int((end - start).total_seconds() // 60)})
    if P.PidTagSubject in edit.set_props:
        p[P.PidTagNormalizedSubject] = edit.set_props[P.PidTagSubject]
    if A.PidLidLocation in edit.set_props:
        p[A.PidLidWhere] = edit.set_props[A.PidLidLocation]
    if N.PidLidReminderDelta in edit.set_props and N.PidLidReminderSet not in edit.set_props:
        p[N.PidLidReminderSet] = True
    if p.get(N.PidLidReminderSet):
        delta = int(p.get(N.PidLidReminderDelta, 15))
        p[N.PidLidReminderTime] = start
        p[N.PidLidReminderSignalTime] = start - timedelta(minutes=delta)
    # PidLidGlobalObjectId of an exception carries its original date; the clean id does not (2.2.1.27/28)
    if uid:
        goid = goid_from_uid(uid, original_local.date())
        p[A.PidLidGlobalObjectId] = goid
        p[A.PidLidCleanGlobalObjectId] = clean_goid(goid)
    p[P.PidTagMessageClass] = A.CLASS_APPOINTMENT
    p.update({A.PidLidExceptionReplaceTime: original_start, A.PidLidIsException: True, A.PidLidRecurring: False})
    return p


def _recipients_key(rows: list[Recipient]) -> list[tuple]:
    return sorted(((r.props.get(P.PidTagSmtpAddress) or "").lower(), r.props.get(P.PidTagRecipientType),
                   r.props.get(P.PidTagRecipientTrackStatus)) for r in rows)


def _fake_utc(local: datetime) -> datetime:
    # PidTagExceptionStartTime/EndTime hold the local wall time in a PtypTime (2.2.10.1.1)
    return local.replace(tzinfo=UTC)


def _replace_time(att: Attachment) -> datetime | None:
    t = att.props.get(P.PidTagExceptionReplaceTime)
    if t is None and att.embedded is not None:
        t = att.embedded.props.get(A.PidLidExceptionReplaceTime)
    return t


def is_exception_for(att: Attachment, original_start: datetime) -> bool:
    t = _replace_time(att)
    return att.embedded is not None and t is not None and abs((t - original_start).total_seconds()) < 60


def exception_attachment(inst: dict, recipients: list[Recipient], start_local: datetime, end_local: datetime,
                         *, series: dict, series_recipients: list[Recipient]) -> Attachment:
    """The hidden embedded-message attachment of one exception (MS-OXOCAL 2.2.10.1.1, 2.2.10.1.2)."""
    emb = dict(inst)
    emb.update({P.PidTagMessageClass: A.CLASS_EXCEPTION,
                A.PidLidFExceptionalBody: inst.get(P.PidTagBody) != series.get(P.PidTagBody),
                A.PidLidFExceptionalAttendees: _recipients_key(recipients) != _recipients_key(series_recipients)})
    return Attachment(props={
        P.PidTagAttachMethod: P.ATTACH_EMBEDDED_MSG, P.PidTagAttachmentHidden: True,
        P.PidTagAttachmentFlags: A.afException, P.PidTagAttachFlags: 0, P.PidTagAttachmentLinkId: 0,
        P.PidTagRenderingPosition: -1, P.PidTagDisplayName: inst.get(P.PidTagSubject, ""),
        P.PidTagExceptionStartTime: _fake_utc(start_local), P.PidTagExceptionEndTime: _fake_utc(end_local),
        P.PidTagExceptionReplaceTime: inst[A.PidLidExceptionReplaceTime],
    }, embedded=MessageContent(emb, [Recipient(dict(r.props)) for r in recipients]))


def _ordered(attachments: list[Attachment]) -> list[Attachment]:
    """Ordinary attachments first, then the exceptions by their new start, numbered afresh (as the import does)."""
    plain = [a for a in attachments if not (a.props.get(P.PidTagAttachmentFlags, 0) & A.afException)]
    exc = sorted((a for a in attachments if a.props.get(P.PidTagAttachmentFlags, 0) & A.afException),
                 key=lambda a: a.props.get(P.PidTagExceptionStartTime) or datetime.min.replace(tzinfo=UTC))
    out = plain + exc
    for i, a in enumerate(out):
        a.props[P.PidTagAttachNumber] = i
    return out


def with_exception(master: MessageContent, arp: R.AppointmentRecurrencePattern, tz, inst: dict,
                   recipients: list[Recipient]) -> MessageContent:
    """The master with ``inst`` (from ``instance_props``) as the exception of its original instance."""
    original = inst[A.PidLidExceptionReplaceTime]
    start_local = local_of(inst[A.PidLidAppointmentStartWhole], tz)
    end_local = local_of(inst[A.PidLidAppointmentEndWhole], tz)
    original_local = local_of(original, tz)
    series = {k: v for k, v in master.props.items() if k not in DERIVED}
    info, ext = R.exception_overrides(series, inst, start_local, end_local, original_local)
    R.put_exception(arp, info, ext)
    series[A.PidLidAppointmentRecur] = R.encode_appointment_recur(arp)
    atts = [a for a in master.attachments if not is_exception_for(a, original)]
    atts.append(exception_attachment(inst, recipients, start_local, end_local, series=series,
                                     series_recipients=master.recipients))
    return MessageContent(series, master.recipients, _ordered(atts))


def without_instance(master: MessageContent, arp: R.AppointmentRecurrencePattern, tz,
                     original_start: datetime) -> MessageContent:
    """The master with the instance originally due at ``original_start`` deleted (and its exception gone)."""
    R.delete_instance(arp, R.to_minutes(local_of(original_start, tz)))
    series = {k: v for k, v in master.props.items() if k not in DERIVED}
    series[A.PidLidAppointmentRecur] = R.encode_appointment_recur(arp)
    atts = [a for a in master.attachments if not is_exception_for(a, original_start)]
    return MessageContent(series, master.recipients, _ordered(atts))


def instance_message(inst: dict, recipients: list[Recipient]) -> MessageContent:
    """One instance on its own, ready to become an iTIP REQUEST/CANCEL with RECURRENCE-ID: the store's
    iCalendar export writes RECURRENCE-ID for an item with PidLidIsException and PidLidExceptionReplaceTime."""
    props = {k: v for k, v in inst.items() if k not in SERIES_ONLY}
    props[P.PidTagMessageClass] = A.CLASS_APPOINTMENT
    props[A.PidLidIsException] = True
    props[A.PidLidIsRecurring] = True
    return MessageContent(props, [Recipient(dict(r.props)) for r in recipients])
