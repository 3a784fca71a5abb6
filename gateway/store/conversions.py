"""The store's one door to the conversions (MS-OXCMAIL, MS-OXCICAL, MS-OXVCARD).

Imports are lazy so the store's id and hierarchy code loads without them.
"""
from __future__ import annotations

from .model import MessageContent

# Properties the store computes itself; never kept as overlay.
from protocols.mapi.props import core as P

DERIVED = {
    P.PidTagMid, P.PidTagFolderId, P.PidTagParentFolderId, P.PidTagEntryId, P.PidTagRecordKey,
    P.PidTagParentEntryId, P.PidTagSourceKey, P.PidTagParentSourceKey, P.PidTagChangeKey, P.PidTagChangeNumber,
    P.PidTagPredecessorChangeList, P.PidTagLastModificationTime, P.PidTagAssociated, P.PidTagObjectType,
    P.PidTagMessageSize, P.PidTagMessageFlags, P.PidTagHasAttachments, P.PidTagDisplayTo, P.PidTagDisplayCc,
    P.PidTagDisplayBcc, P.PidTagInstanceKey, P.PidTagAccess, P.PidTagAccessLevel, P.PidTagMessageStatus,
    P.PidTagInternetArticleNumber,
}


MEETING_CLASSES = ("IPM.Schedule.Meeting.",)


def mime_to_content(raw: bytes, *, owner: str | None = None) -> MessageContent:
    """MIME -> properties; a meeting request/response/cancel also gets its meeting
    properties (MS-OXCICAL via the iTIP part), mail properties taking precedence."""
    from .convert.mail import calendar_part, mime_to_message
    msg = mime_to_message(raw)
    cls = str(msg.props.get(P.PidTagMessageClass) or "")
    ics = calendar_part(msg) if cls.startswith(MEETING_CLASSES) else None
    if ics:
        from .convert import ical
        try:
            meeting = ical.itip_to_meeting_message(ics, owner=owner)
        except ical.ICalError:
            return msg  # unreadable iCalendar: the message stays a mail with its attachment
        for key, value in meeting.props.items():
            msg.props.setdefault(key, value)
    return msg


def _calendar_for(content: MessageContent) -> bytes | None:
    """iTIP text for a meeting message composed as properties (no calendar part of its own)."""
    from .convert.mail import calendar_part
    cls = str(content.props.get(P.PidTagMessageClass) or "")
    if not cls.startswith(MEETING_CLASSES) or calendar_part(content) is not None:
        return None
    from .convert import ical
    try:
        return ical.meeting_message_to_itip(content)
    except ical.ICalError:
        return None


def content_to_mime(content: MessageContent) -> bytes:
    from .convert.mail import message_to_mime
    return message_to_mime(content, include_bcc=True, calendar=_calendar_for(content))


def content_to_mime_for_sending(content: MessageContent) -> bytes:
    from .convert.mail import message_to_mime
    return message_to_mime(content, include_bcc=False, calendar=_calendar_for(content))


def dav_to_content(data: bytes, container_class: str, *, owner: str | None = None) -> MessageContent:
    """``owner`` (the mailbox's SMTP address) tells organizer from attendee in meetings."""
    if container_class.startswith("IPF.Contact"):
        from .convert import vcard
        if vcard.is_group_vcard(data):
            return vcard.vcard_to_distlist(data)
        return vcard.vcard_to_contact(data)
    from .convert import ical
    if container_class.startswith("IPF.Task"):
        return ical.ical_to_task(data)
    return ical.ical_to_appointment(data, owner=owner)


def dav_class_of(message_class: str) -> str | None:
    """The container class whose DAV format an item of ``message_class`` is exported in
    (iCalendar for appointments and tasks, vCard for contacts and groups); None for mail,
    meeting messages and everything else MIME carries."""
    cls = (message_class or "").lower()
    if cls == "ipm.appointment" or cls.startswith("ipm.appointment."):
        return "IPF.Appointment"
    if cls == "ipm.task" or cls.startswith("ipm.task."):
        return "IPF.Task"
    if cls == "ipm.contact" or cls.startswith(("ipm.contact.", "ipm.distlist")):
        return "IPF.Contact"
    return None


def content_to_export(content: MessageContent, container_class: str) -> bytes:
    """An item as Exchange exports it in EWS MimeContent (iCalendar or vCard), see ``dav_class_of``."""
    cls = str(content.props.get(P.PidTagMessageClass, "") or "")
    if container_class.startswith("IPF.Appointment") and not cls.lower().startswith("ipm.task"):
        from .convert import ical
        return ical.appointment_to_ical(content, export=True)
    return content_to_dav(content, container_class)[0]


def content_to_dav(content: MessageContent, container_class: str) -> tuple[bytes, str, str]:
    """(body, content type, file extension) for a PUT."""
    cls = str(content.props.get(P.PidTagMessageClass, "") or "")
    if container_class.startswith("IPF.Contact"):
        from .convert import vcard
        if cls.startswith("IPM.DistList"):
            return vcard.distlist_to_vcard(content), "text/vcard; charset=utf-8", ".vcf"
        return vcard.contact_to_vcard(content), "text/vcard; charset=utf-8", ".vcf"
    from .convert import ical
    if container_class.startswith("IPF.Task") or cls.startswith("IPM.Task"):
        return ical.task_to_ical(content), "text/calendar; charset=utf-8", ".ics"
    return ical.appointment_to_ical(content), "text/calendar; charset=utf-8", ".ics"


def lost_props(wanted: dict, kept: dict) -> dict:
    """Properties of ``wanted`` that did not survive the trip through a backend format."""
    out = {}
    for key, value in wanted.items():
        if key in DERIVED:
            continue
        if key not in kept or not _same(kept[key], value):
            out[key] = value
    return out


def _same(a, b) -> bool:
    if a == b:
        return True
    from datetime import datetime
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs((a - b).total_seconds()) < 1
    if isinstance(a, str) and isinstance(b, str):
        return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()
    return False
