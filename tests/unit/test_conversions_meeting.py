"""The store's conversion door: meeting messages carry their meeting properties both ways."""
from pathlib import Path

from gateway.store import conversions as conv
from gateway.store.model import MessageContent, Recipient
from protocols.mapi.props import by_name
from protocols.mapi.props import core as P

MIME = Path(__file__).resolve().parents[2] / "fixtures" / "mime"


def test_meeting_request_gets_appointment_properties():
    msg = conv.mime_to_content((MIME / "gmail_meeting_request.eml").read_bytes(), owner="bob@example.test")
    assert msg.props[P.PidTagMessageClass] == "IPM.Schedule.Meeting.Request"
    assert msg.props[by_name("PidLidAppointmentStartWhole")] < msg.props[by_name("PidLidAppointmentEndWhole")]
    assert msg.props[by_name("PidLidGlobalObjectId")]
    assert msg.props[P.PidTagSubject]  # the mail's own subject stays


def test_cancel_and_reply_classes():
    cancel = conv.mime_to_content((MIME / "meeting_cancel.eml").read_bytes())
    assert cancel.props[P.PidTagMessageClass] == "IPM.Schedule.Meeting.Canceled"
    assert by_name("PidLidGlobalObjectId") in cancel.props
    reply = conv.mime_to_content((MIME / "outlook_meeting_reply_accepted.eml").read_bytes())
    assert reply.props[P.PidTagMessageClass].startswith("IPM.Schedule.Meeting.Resp.Pos")


def test_meeting_request_composed_as_properties_goes_out_with_a_calendar_part():
    inbound = conv.mime_to_content((MIME / "gmail_meeting_request.eml").read_bytes())
    content = MessageContent({k: v for k, v in inbound.props.items()
                              if k not in (P.PidTagTransportMessageHeaders,)},
                             [Recipient(dict(r.props)) for r in inbound.recipients], [])
    wire = conv.content_to_mime_for_sending(content)
    assert b"text/calendar" in wire and b"METHOD:REQUEST" in wire
    back = conv.mime_to_content(wire)
    assert back.props[P.PidTagMessageClass] == "IPM.Schedule.Meeting.Request"
    assert back.props[by_name("PidLidGlobalObjectId")] == inbound.props[by_name("PidLidGlobalObjectId")]
    assert back.props[by_name("PidLidAppointmentStartWhole")] == inbound.props[by_name("PidLidAppointmentStartWhole")]


def test_plain_mail_is_untouched():
    msg = conv.mime_to_content((MIME / "outlook_reply_alternative.eml").read_bytes())
    assert msg.props[P.PidTagMessageClass] == "IPM.Note"
    assert by_name("PidLidGlobalObjectId") not in msg.props
