"""CalendarItem / meeting message / Contact / DistributionList / Task / attachment codecs, on Microsoft's
documentation examples (fixtures/ews-docs) and on hand-made items.

For every CalendarItem, Contact, Task and DistributionList element in the examples:
read -> write (AllProperties) -> read gives the same properties, attendees, recurrence and time zone.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from gateway.store.model import Recipient
from protocols.ews import calendar as ec
from protocols.ews import contacts as ecn
from protocols.ews import tasks as et
from protocols.ews.attachments import (AttachmentView, decode_attachment_id, encode_attachment_id, read_attachment,
                                       write_attachment)
from protocols.ews.ids import EwsId, IdMalformed
from protocols.ews.items import ItemView, read_item, table_for_class, write_item
from protocols.ews.ns import T, child, children, local, t
from protocols.ews.shapes import Shape
from protocols.ews.values import parse_path
from protocols.mapi.props import appointment as A
from protocols.mapi.props import contact as C
from protocols.mapi.props import core as P
from protocols.mapi.props import task as K

DOCS = Path(__file__).resolve().parents[2] / "fixtures" / "ews-docs"
INDEX = json.loads((DOCS / "index.json").read_text())
KINDS = ("CalendarItem", "Contact", "Task", "DistributionList")


def _items_in(path: Path) -> list:
    try:
        root = etree.fromstring(path.read_bytes())
    except etree.XMLSyntaxError:
        return []
    out = []
    for el in root.iter():
        if local(el) in KINDS and el.getparent() is not None and local(el.getparent()) in ("Items", "Item"):
            out.append(el)
    return out


DOC_ITEMS = [(e["file"], i) for e in INDEX if e["well_formed"] and not e["raw_http"]
             for i, _ in enumerate(_items_in(DOCS / e["file"]))]


def _recipients(inp) -> list[Recipient]:
    return [Recipient({P.PidTagRecipientType: rt, P.PidTagSmtpAddress: e, **({P.PidTagDisplayName: n} if n else {})})
            for rt, rows in inp.recipients.items() for n, e in rows]


def _seconds(props: dict) -> dict:
    """xs:dateTime is written to the second (as Exchange does)."""
    return {k: v.replace(microsecond=0) if isinstance(v, datetime) else v for k, v in props.items()}


def _rewrite(inp, source=None):
    """ItemInput -> the item XML the server writes -> ItemInput again (asking for the extended
    properties the source element carried, as a client would)."""
    view = ItemView("AAAA", "BBBB", dict(inp.props), recipients=_recipients(inp), full=True)
    view.props.setdefault(P.PidTagMessageClass, {"CalendarItem": "IPM.Appointment", "Contact": "IPM.Contact",
                                                 "Task": "IPM.Task", "DistributionList": "IPM.DistList"}[inp.element])
    if "recurrence" in inp.extra:
        view.extra["recurrence"] = inp.extra["recurrence"]
    if "start_tz" in inp.extra:
        view.extra["start_tz"] = (inp.extra["start_tz"], inp.extra["start_tz"])
    if "members" in inp.extra:
        view.extra["members"] = [(n, e, "OneOff") for n, e in inp.extra["members"]]
    if "uid" in inp.extra:
        view.extra["uid"] = inp.extra["uid"]
    holder = etree.Element("x")
    extended = [parse_path(u) for u in source.iter(t("ExtendedFieldURI"))] if source is not None else []
    el = write_item(holder, view, Shape(base="AllProperties", additional=extended))
    assert local(el) == inp.element
    return read_item(el), el


@pytest.mark.parametrize("case", DOC_ITEMS, ids=lambda c: f"{Path(c[0]).stem[-50:]}#{c[1]}")
def test_docs_item_roundtrip(case):
    name, index = case
    el = _items_in(DOCS / name)[index]
    inp = read_item(el)
    assert inp.element == local(el)
    again, _ = _rewrite(inp, el)
    keep = _seconds({k: v for k, v in inp.props.items() if k != P.PidTagMessageClass})
    assert {k: v for k, v in again.props.items() if k in keep} == keep
    assert again.recipients == inp.recipients
    assert again.extra.get("recurrence") == inp.extra.get("recurrence")
    assert again.extra.get("start_tz") == inp.extra.get("start_tz")


def test_docs_items_found():
    kinds = {local(_items_in(DOCS / f)[i]) for f, i in DOC_ITEMS}
    assert {"CalendarItem", "Contact", "Task"} <= kinds
    assert len(DOC_ITEMS) >= 25


def _doc(stem: str):
    return next(e for e in INDEX if e["file"].endswith(stem))


def test_recurring_series_request():
    """how-to-create-a-recurring-series: weekly on Saturday, 10 occurrences, three attendees."""
    el = _items_in(DOCS / _doc("how-to-create-a-recurring-series-by-using-ews-in-exchange__01_request.xml")["file"])[0]
    inp = read_item(el)
    rec = inp.extra["recurrence"]
    assert (rec.pattern, rec.interval, rec.days, rec.range, rec.count) == ("Weekly", 1, ["Saturday"], "Numbered", 10)
    assert rec.start_date == date(2014, 3, 8)
    assert inp.props[A.PidLidAppointmentStartWhole] == datetime(2014, 3, 8, 21, 21, 32, 868000, tzinfo=timezone.utc)
    assert inp.props[A.PidLidLocation] == "Contoso Main Gallery"
    assert [e for _, e in inp.recipients[P.MAPI_TO]] == ["Mack@contoso.com", "Sadie@contoso.com",
                                                          "Magdalena@contoso.com"]
    from protocols.mapi.props.named import PidLidReminderDelta
    assert inp.props[PidLidReminderDelta] == 30


def test_contact_request():
    el = _items_in(DOCS / _doc("createitem-operation-contact__01_request.xml")["file"])[0]
    inp = read_item(el)
    assert inp.props[C.PidLidFileUnder] == "SampleContact"
    assert inp.props[P.PidTagGivenName] == "Tanja" and inp.props[P.PidTagSurname] == "Plate"
    assert inp.props[C.PidLidEmail1EmailAddress] == "tplate@example.com"
    assert inp.props[C.PidLidEmail1AddressType] == "SMTP"
    assert inp.props[C.PidLidWorkAddressCity] == "La Habra"
    assert inp.props[P.PidTagBusinessTelephoneNumber] == "4255550199"
    assert inp.props[P.PidTagTitle] == "Manager"
    assert ecn.display_name_for(inp.props) == "Tanja Plate"


def test_task_request():
    el = _items_in(DOCS / _doc("createitem-operation-task__01_request.xml")["file"])[0]
    inp = read_item(el)
    assert inp.props[P.PidTagSubject] == "My task"
    assert inp.props[K.PidLidTaskDueDate] == datetime(2006, 10, 26, 21, 32, 52, tzinfo=timezone.utc)
    assert inp.props[K.PidLidTaskStatus] == 0 and inp.props[K.PidLidTaskComplete] is False


def test_task_completion_rules():
    el = etree.fromstring(f'<t:Task xmlns:t="{T}"><t:PercentComplete>100</t:PercentComplete></t:Task>')
    inp = read_item(el)
    assert inp.props[K.PidLidTaskStatus] == 2 and inp.props[K.PidLidTaskComplete] is True
    assert inp.props[K.PidLidPercentComplete] == 1.0 and K.PidLidTaskDateCompleted in inp.props
    el = etree.fromstring(f'<t:Task xmlns:t="{T}"><t:Status>InProgress</t:Status>'
                          f'<t:PercentComplete>25</t:PercentComplete></t:Task>')
    inp = read_item(el)
    assert inp.props[K.PidLidTaskStatus] == 1 and inp.props[K.PidLidPercentComplete] == 0.25
    holder = etree.Element("x")
    out = write_item(holder, ItemView("A", "B", {P.PidTagMessageClass: "IPM.Task", **inp.props}),
                     Shape(base="AllProperties"))
    assert out.findtext(t("PercentComplete")) == "25" and out.findtext(t("Status")) == "InProgress"
    assert out.findtext(t("IsComplete")) == "false"
    with pytest.raises(ValueError):
        read_item(etree.fromstring(f'<t:Task xmlns:t="{T}"><t:Status>Sleeping</t:Status></t:Task>'))


@pytest.mark.parametrize("xml,expect", [
    ("<t:DailyRecurrence><t:Interval>2</t:Interval></t:DailyRecurrence>"
     "<t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence>",
     ec.Recurrence("Daily", 2, start_date=date(2024, 1, 1))),
    ("<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek>"
     "<t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>"
     "<t:EndDateRecurrence><t:StartDate>2024-01-01Z</t:StartDate><t:EndDate>2024-12-31</t:EndDate>"
     "</t:EndDateRecurrence>",
     ec.Recurrence("RelativeMonthly", 1, days=["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
                   week_index="Last", range="EndDate", start_date=date(2024, 1, 1), end_date=date(2024, 12, 31))),
    ("<t:AbsoluteYearlyRecurrence><t:DayOfMonth>17</t:DayOfMonth><t:Month>May</t:Month>"
     "</t:AbsoluteYearlyRecurrence><t:NumberedRecurrence><t:StartDate>2024-05-17</t:StartDate>"
     "<t:NumberOfOccurrences>5</t:NumberOfOccurrences></t:NumberedRecurrence>",
     ec.Recurrence("AbsoluteYearly", 1, day_of_month=17, month=5, range="Numbered", start_date=date(2024, 5, 17),
                   count=5)),
])
def test_recurrence_patterns(xml, expect):
    el = etree.fromstring(f'<t:Recurrence xmlns:t="{T}">{xml}</t:Recurrence>')
    got = ec.read_recurrence(el)
    assert got == expect
    holder = etree.Element("x")
    assert ec.read_recurrence(ec.write_recurrence(holder, got)) == got


def test_recurrence_docs_examples():
    """Every Recurrence element in the docs reads and writes back to the same pattern and range."""
    seen = 0
    for e in INDEX:
        if not e["well_formed"] or e["raw_http"]:
            continue
        root = etree.fromstring((DOCS / e["file"]).read_bytes())
        for el in root.iter(t("Recurrence")):
            if child(el, "NoEndRecurrence") is None and child(el, "EndDateRecurrence") is None \
                    and child(el, "NumberedRecurrence") is None:
                continue
            r = ec.read_recurrence(el)
            assert ec.read_recurrence(ec.write_recurrence(etree.Element("x"), r)) == r
            seen += 1
    assert seen >= 4


def test_calendar_item_written_from_properties():
    start = datetime(2025, 3, 11, 9, 0, tzinfo=timezone.utc)
    props = {P.PidTagMessageClass: "IPM.Appointment", P.PidTagSubject: "Weekly",
             A.PidLidAppointmentStartWhole: start, A.PidLidAppointmentEndWhole: start.replace(minute=30),
             A.PidLidAppointmentDuration: 30, A.PidLidBusyStatus: A.olTentative, A.PidLidLocation: "Room Ada",
             A.PidLidAppointmentStateFlags: A.asfMeeting | A.asfReceived, A.PidLidResponseStatus: A.respAccepted,
             A.PidLidAppointmentRecur: b"x", P.PidTagSentRepresentingName: "Alice",
             P.PidTagSentRepresentingSmtpAddress: "alice@example.test"}
    recips = [Recipient({P.PidTagRecipientType: 1, P.PidTagDisplayName: "Alice", P.PidTagSmtpAddress: "alice@example.test",
                         P.PidTagRecipientFlags: A.recipOrganizer | A.recipSendable}),
              Recipient({P.PidTagRecipientType: 1, P.PidTagDisplayName: "Bob", P.PidTagSmtpAddress: "bob@example.test",
                         P.PidTagRecipientTrackStatus: A.respAccepted}),
              Recipient({P.PidTagRecipientType: 2, P.PidTagDisplayName: "Carol",
                         P.PidTagSmtpAddress: "carol@example.test", P.PidTagRecipientTrackStatus: A.respDeclined})]
    view = ItemView("ID", "CK", props, recipients=recips, full=True)
    view.extra.update({"uid": "abc@example.test", "start_tz": ("W. Europe Standard Time", "Berlin"),
                       "recurrence": ec.Recurrence("Weekly", 1, days=["Tuesday"], range="Numbered", count=12,
                                                   start_date=date(2025, 3, 11)),
                       "deleted": [datetime(2025, 3, 25, 9, tzinfo=timezone.utc)]})
    el = write_item(etree.Element("x"), view, Shape(base="AllProperties"))
    names = [local(c) for c in el]
    # schema order: UID first among the calendar fields, Recurrence before DeletedOccurrences before StartTimeZone
    assert names.index("UID") < names.index("Start") < names.index("Organizer") < names.index("Recurrence") \
        < names.index("DeletedOccurrences") < names.index("StartTimeZone")
    assert el.findtext(t("LegacyFreeBusyStatus")) == "Tentative"
    assert el.findtext(t("MyResponseType")) == "Accept"
    assert el.findtext(t("CalendarItemType")) == "RecurringMaster"
    assert el.findtext(t("IsMeeting")) == "true" and el.findtext(t("Duration")) == "PT0H30M"
    assert child(child(el, "Organizer"), "Mailbox").findtext(t("EmailAddress")) == "alice@example.test"
    req = [a.findtext(f"{t('Mailbox')}/{t('EmailAddress')}") for a in children(child(el, "RequiredAttendees"))]
    assert req == ["bob@example.test"]                      # the organizer's own row is not an attendee
    assert [a.findtext(t("ResponseType")) for a in children(child(el, "OptionalAttendees"))] == ["Decline"]
    assert child(el, "StartTimeZone").get("Id") == "W. Europe Standard Time"
    # and it reads back
    inp = read_item(el)
    assert inp.extra["recurrence"].count == 12 and inp.props[A.PidLidBusyStatus] == A.olTentative


def test_meeting_message_tables():
    assert table_for_class("IPM.Schedule.Meeting.Request").element == "MeetingRequest"
    assert table_for_class("IPM.Schedule.Meeting.Resp.Pos").element == "MeetingResponse"
    assert table_for_class("IPM.Schedule.Meeting.Resp.Neg").element == "MeetingResponse"
    assert table_for_class("IPM.Schedule.Meeting.Canceled").element == "MeetingCancellation"
    assert table_for_class("IPM.Appointment").element == "CalendarItem"
    assert table_for_class("IPM.Contact").element == "Contact"
    assert table_for_class("IPM.DistList").element == "DistributionList"
    assert table_for_class("IPM.Task").element == "Task"
    start = datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc)
    view = ItemView("ID", "CK", {P.PidTagMessageClass: "IPM.Schedule.Meeting.Resp.Tent", P.PidTagSubject: "x",
                                 A.PidLidAppointmentStartWhole: start})
    el = write_item(etree.Element("x"), view, Shape())
    assert el.findtext(t("ResponseType")) == "Tentative" and el.findtext(t("Start")) == "2025-01-02T03:04:00Z"


def test_occurrence_ids():
    import uuid
    master = EwsId("item", uuid.uuid4(), 0x1234_0000_0001).encode()
    when = datetime(2025, 3, 11, 9, tzinfo=timezone.utc)
    occ = ec.encode_occurrence_id(master, when)
    assert ec.decode_occurrence_id(occ) == (master, when)
    assert ec.decode_occurrence_id(master) is None
    assert ec.decode_occurrence_id("not base64!") is None


def test_attachment_ids_and_xml():
    import uuid
    item = EwsId("item", uuid.uuid4(), 77).encode()
    aid = encode_attachment_id(item, 3)
    assert decode_attachment_id(aid) == (item, 3)
    with pytest.raises(IdMalformed):
        decode_attachment_id(item)
    view = AttachmentView(aid, item, "CK", "a.txt", content_type="text/plain", size=5, content=b"hello")
    el = write_attachment(etree.Element("x"), view, full=True)
    got = read_attachment(el)
    assert (got.kind, got.name, got.content_type, got.content) == ("file", "a.txt", "text/plain", b"hello")
    assert child(el, "AttachmentId").get("RootItemId") == item
    el = etree.fromstring(f'<t:ItemAttachment xmlns:t="{T}"><t:Name>fw</t:Name><t:Message><t:Subject>s</t:Subject>'
                          f'</t:Message></t:ItemAttachment>')
    got = read_attachment(el)
    assert got.kind == "item" and local(got.item) == "Message"


def test_distribution_list_members():
    el = etree.fromstring(
        f'<t:DistributionList xmlns:t="{T}"><t:DisplayName>team</t:DisplayName><t:Members>'
        f'<t:Member><t:Mailbox><t:Name>Bob</t:Name><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox>'
        f'</t:Member></t:Members></t:DistributionList>')
    inp = read_item(el)
    assert inp.props[P.PidTagDisplayName] == "team" and inp.extra["members"] == [("Bob", "bob@example.test")]
    again, out = _rewrite(inp)
    assert again.extra["members"] == inp.extra["members"]
    assert child(child(out, "Members"), "Member").findtext(t("Status")) == "Normal"
