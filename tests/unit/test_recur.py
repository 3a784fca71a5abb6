"""Recurrence blob, time zone and Global Object ID codecs against the published examples.

Vectors are copied from the specifications' example sections:
- MS-OXOCAL 4.1.1.1 Weekly Recurrence BLOB Without Exceptions
- MS-OXOCAL 4.1.1.2 Weekly Recurrence BLOB with Exceptions
- MS-OXOCAL 4.1.1.3 Daily Recurrence BLOB with Exceptions
- MS-OXOCAL 4.1.1.6 Yearly Hebrew Lunar Recurrence BLOB with Exceptions
- MS-OXOCAL 4.1.4 PidLidAppointmentTimeZoneDefinitionRecur BLOB
- MS-OXOCAL section 4 PidLidGlobalObjectId example (an exception moved from 2008-03-25)
- MS-ASEMAIL 4.3 Converting a GlobalObjId to a UID (both examples)
No published PidLidTimeZoneStruct bytes were found in the stored material, so that
structure is checked against bytes computed from the field table of MS-OXOCAL 2.2.1.39.
"""
from __future__ import annotations

import base64
import struct
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from protocols.mapi import recur as R
from protocols.mapi.goid import (GlobalObjectId, clean_goid, goid_from_uid, instance_date,
                                        is_encoded_global_id, uid_from_goid)
from gateway.store.convert.tz import RuleTimezone, tzreg_from_tzinfo, tzreg_from_vtimezone, vtimezone_from_tzreg
from protocols.mapi.tz import (SystemTime, TzReg, decode_timezone_definition, decode_timezone_struct, definition_for,
                               encode_timezone_definition, encode_timezone_struct)

OXOCAL_4_1_1_1 = bytes.fromhex(
    "043004300B2001000000C0210000010000000000000032000000222000000C00000000000000000000000000"
    "00008020BC0C20ADBC0C0630000009300000580200007602000000000000000000000000")
OXOCAL_4_1_1_2 = bytes.fromhex(
    "043004300B2001000000C0210000010000000000000032000000222000000C0000000000000001000000A096"
    "BC0C01000000A096BC0C8020BC0C20ADBC0C0630000009300000580200007602000001003499BC0C5299BC0C"
    "F898BC0C11002200210053696D706C6520526563757272656E6365207769746820657863657074696F6E7308"
    "00070033342F34313431000000000400000000000000000000003499BC0C5299BC0CF898BC0C2100530069006D"
    "0070006C006500200052006500630075007200720065006E006300650020007700690074006800200065007800"
    "630065007000740069006F006E0073000700330034002F0034003100340031000000000000000000")
OXOCAL_4_1_1_3 = bytes.fromhex(
    "043004300A2000000000A0050000E010000000000000212000000A0000000000000002000000A0C1DC0C80D2"
    "DC0C00000000207EDC0C0016DD0C0630000009300000E0010000FE01000000000000000000000000")
OXOCAL_4_1_1_6 = bytes.fromhex(
    "043004300D200200080080750A000C0000000000000003000000232000000A0000000000000001000000207E"
    "DC0C01000000207EDC0C6074C40CDF80E95A0630000009300000E0010000FE01000001000080DC0C1E80DC0C"
    "0080DC0C24023C000000010000000000000004000000000000000000000000000000")
OXOCAL_4_1_4 = bytes.fromhex(
    "0201300002001500500061006300690066006900630020005300740061006E00640061007200640020005400"
    "69006D006500020002013E000000D6070000000000000000000000000000E001000000000000C4FFFFFF0000"
    "0A000000050002000000000000000000040000000100020000000000000002013E000200D707000000000000"
    "0000000000000000E001000000000000C4FFFFFF00000B000000010002000000000000000000030000000200"
    "0200000000000000")
OXOCAL_GOID_EXCEPTION = bytes.fromhex(
    "040000008200E00074C5B7101A82E00807D803195025D461E473C8010000000000000000100000002A5844B3"
    "A444F74A9C246C60886F116B")

PUBLISHED = {"4.1.1.1": OXOCAL_4_1_1_1, "4.1.1.2": OXOCAL_4_1_1_2, "4.1.1.3": OXOCAL_4_1_1_3,
             "4.1.1.6": OXOCAL_4_1_1_6}


@pytest.mark.parametrize("section", sorted(PUBLISHED))
def test_published_blob_round_trips(section):
    blob = PUBLISHED[section]
    assert R.encode_appointment_recur(R.decode_appointment_recur(blob)) == blob


def test_4_1_1_1_fields():
    a = R.decode_appointment_recur(OXOCAL_4_1_1_1)
    p = a.pattern
    assert (p.recur_frequency, p.pattern_type, p.calendar_type) == (R.FREQ_WEEKLY, R.PT_WEEK, 0)
    assert p.first_date_time == 8640 and p.period == 1
    assert R.mask_to_days(p.pattern_specific[0]) == ["MO", "TH", "FR"]
    assert (p.end_type, p.occurrence_count, p.first_dow) == (R.END_AFTER_N, 12, 0)
    assert R.from_minutes(p.start_date) == datetime(2007, 3, 26)
    assert R.from_minutes(p.end_date) == datetime(2007, 4, 20)
    assert (a.reader_version2, a.writer_version2) == (0x3006, 0x3009)
    assert (a.start_time_offset, a.end_time_offset) == (600, 630)
    assert a.exceptions == []


def test_4_1_1_2_exception_fields():
    a = R.decode_appointment_recur(OXOCAL_4_1_1_2)
    (e,), (x,) = a.exceptions, a.extended
    assert e.override_flags == R.ARO_SUBJECT | R.ARO_LOCATION
    assert R.from_minutes(e.original_start_date) == datetime(2007, 4, 16, 10, 0)
    assert R.from_minutes(e.start_date_time) == datetime(2007, 4, 16, 11, 0)
    assert R.from_minutes(e.end_date_time) == datetime(2007, 4, 16, 11, 30)
    assert (e.subject, e.subject_length) == (b"Simple Recurrence with exceptions", 34)
    assert (e.location, e.location_length) == (b"34/4141", 8)
    assert x.subject == "Simple Recurrence with exceptions" and x.location == "34/4141"
    assert x.change_highlight == 0
    assert a.pattern.deleted_instance_dates == a.pattern.modified_instance_dates == [R.to_minutes(date(2007, 4, 16))]


def test_4_1_1_6_hebrew_fields_kept():
    a = R.decode_appointment_recur(OXOCAL_4_1_1_6)
    assert a.pattern.calendar_type == 8 and a.pattern.end_date == R.NO_END_DATE
    (e,) = a.exceptions
    assert e.override_flags == R.ARO_REMINDERDELTA | R.ARO_BUSYSTATUS | R.ARO_EXCEPTIONAL_BODY
    assert (e.reminder_delta, e.busy_status) == (60, 1)


def test_4_1_1_1_built_from_field_definitions():
    """Compute every field from the meaning in 2.2.1.44.1 / 2.2.1.44.5 and compare byte for byte."""
    start = R.to_minutes(date(2007, 3, 26))
    p = R.RecurrencePattern(R.FREQ_WEEKLY, R.PT_WEEK, period=1,
                            pattern_specific=(R.days_to_mask(["MO", "TH", "FR"]),),
                            end_type=R.END_AFTER_N, occurrence_count=12, first_dow=0, start_date=start,
                            end_date=R.to_minutes(date(2007, 4, 20)))
    p.first_date_time = R.first_date_time(p.pattern_type, p.period, start, p.first_dow)
    a = R.AppointmentRecurrencePattern(p, start_time_offset=10 * 60, end_time_offset=10 * 60 + 30)
    assert R.encode_appointment_recur(a) == OXOCAL_4_1_1_1


def test_4_1_1_3_built_from_field_definitions():
    start = R.to_minutes(date(2011, 4, 7))
    p = R.RecurrencePattern(R.FREQ_DAILY, R.PT_DAY, period=3 * 1440, end_type=R.END_AFTER_DATE,
                            occurrence_count=10, first_dow=0, start_date=start,
                            end_date=R.to_minutes(date(2011, 5, 4)),
                            deleted_instance_dates=[R.to_minutes(date(2011, 4, 19)),
                                                    R.to_minutes(date(2011, 4, 22))])
    p.first_date_time = R.first_date_time(R.PT_DAY, p.period, start)
    assert p.first_date_time == 215_776_800 % 4320 == 1440   # the worked formula in 4.1.1.3
    a = R.AppointmentRecurrencePattern(p, start_time_offset=480, end_time_offset=510)
    assert R.encode_appointment_recur(a) == OXOCAL_4_1_1_3


def test_first_date_time_monthly_and_yearly():
    # months since 1601-01 mod Period, expressed as minutes to the first of that month
    aug_2012 = R.to_minutes(date(2012, 8, 30))
    assert R.first_date_time(R.PT_MONTH, 2, aug_2012) == 31 * 1440            # February 1601
    assert R.first_date_time(R.PT_MONTH, 12, R.to_minutes(date(2024, 3, 10))) == (31 + 28) * 1440
    assert R.first_date_time(R.PT_MONTH, 1, aug_2012) == 0


def test_task_pattern_round_trip():
    p = R.RecurrencePattern(R.FREQ_MONTHLY, R.PT_MONTH_NTH, period=1, pattern_specific=(0x04, 2),
                            start_date=R.to_minutes(date(2024, 2, 13)))
    blob = R.encode_recurrence_pattern(p)
    assert R.decode_recurrence_pattern(blob) == p
    assert len(blob) == 2 * 5 + 4 * 3 + 8 + 4 * 3 + 4 + 4 + 8


def test_truncated_blob_raises():
    with pytest.raises(R.RecurError):
        R.decode_appointment_recur(OXOCAL_4_1_1_2[:-10])


def test_describe():
    text = R.describe(R.decode_appointment_recur(OXOCAL_4_1_1_1).pattern, 600, 630)
    assert text == ("Occurs every Monday, Thursday and Friday effective 3/26/2007 until 4/20/2007 "
                    "from 10:00 AM to 10:30 AM")


# --- time zones ---

def test_4_1_4_timezone_definition():
    d = decode_timezone_definition(OXOCAL_4_1_4)
    assert d.key_name == "Pacific Standard Time"
    assert [(r.flags, r.year) for r in d.rules] == [(0x0000, 2006), (0x0002, 2007)]
    old, new = d.rules[0].reg, d.rules[1].reg
    assert (new.bias, new.standard_bias, new.daylight_bias) == (480, 0, -60)
    assert new.standard_date == SystemTime(0, 11, 0, 1, 2, 0)
    assert new.daylight_date == SystemTime(0, 3, 0, 2, 2, 0)
    assert old.standard_date == SystemTime(0, 10, 0, 5, 2, 0)
    assert encode_timezone_definition(d) == OXOCAL_4_1_4
    assert d.effective().reg == new


def test_pacific_rule_from_zoneinfo_matches_4_1_4():
    new = decode_timezone_definition(OXOCAL_4_1_4).rules[1].reg
    assert tzreg_from_tzinfo(ZoneInfo("America/Los_Angeles"), 2007) == new
    # the 2006 rule (first Sunday of April / last Sunday of October) from history
    assert tzreg_from_tzinfo(ZoneInfo("America/Los_Angeles"), 2006) == decode_timezone_definition(
        OXOCAL_4_1_4).rules[0].reg


def test_timezone_struct_from_field_table():
    reg = decode_timezone_definition(OXOCAL_4_1_4).rules[1].reg
    expected = (struct.pack("<iiiH", 480, 0, -60, 0) + struct.pack("<8H", 0, 11, 0, 1, 2, 0, 0, 0)
                + struct.pack("<H", 0) + struct.pack("<8H", 0, 3, 0, 2, 2, 0, 0, 0))
    assert encode_timezone_struct(reg) == expected and len(expected) == 48
    assert decode_timezone_struct(expected) == reg


def test_definition_for_sets_flags():
    reg = TzReg(-60, 0, -60, SystemTime(0, 10, 0, 5, 3), SystemTime(0, 3, 0, 5, 2))
    recur = decode_timezone_definition(encode_timezone_definition(definition_for("W. Europe Standard Time",
                                                                                  reg, 2024, recur=True)))
    assert recur.rules[0].flags == 0x0003 and recur.rules[0].year == 2024
    display = decode_timezone_definition(encode_timezone_definition(definition_for("X", reg, 2024)))
    assert display.rules[0].flags == 0x0002


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Australia/Sydney", "America/Sao_Paulo", "Asia/Kolkata",
                                  "America/St_Johns"])
def test_rule_timezone_agrees_with_zoneinfo(zone):
    z = ZoneInfo(zone)
    reg = tzreg_from_tzinfo(z, 2024)
    rt = RuleTimezone(reg, zone)
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    while t.year == 2024:
        assert t.astimezone(rt).utcoffset() == t.astimezone(z).utcoffset(), t
        t += timedelta(hours=7)


def test_vtimezone_round_trip():
    reg = tzreg_from_tzinfo(ZoneInfo("Australia/Sydney"), 2024)
    assert tzreg_from_vtimezone(vtimezone_from_tzreg("AUS Eastern Standard Time", reg), 2024) == reg


# --- Global Object ID ---

def test_goid_exception_example():
    g = GlobalObjectId.decode(OXOCAL_GOID_EXCEPTION)
    assert (g.year, g.month, g.day) == (2008, 3, 25)
    assert g.data == bytes.fromhex("2A5844B3A444F74A9C246C60886F116B")
    assert g.encode() == OXOCAL_GOID_EXCEPTION
    assert instance_date(OXOCAL_GOID_EXCEPTION) == date(2008, 3, 25)
    clean = clean_goid(OXOCAL_GOID_EXCEPTION)
    assert clean[16:20] == b"\x00\x00\x00\x00" and clean[20:] == OXOCAL_GOID_EXCEPTION[20:]
    # UID of the series: the hex of the clean id (MS-OXCICAL 2.1.3.1.1.20.26)
    uid = uid_from_goid(OXOCAL_GOID_EXCEPTION)
    assert uid == clean.hex().upper() and is_encoded_global_id(uid)
    assert goid_from_uid(uid, date(2008, 3, 25)) == OXOCAL_GOID_EXCEPTION


def test_asemail_4_3_outlook_id():
    goid = base64.b64decode("BAAAAIIA4AB0xbcQGoLgCAfUCRDgQMnBJoXEAQAAAAAAAAAAEAAAAAvw7UtuTulOnjnjhns3jvM=")
    assert uid_from_goid(goid) == ("040000008200E00074C5B7101A82E00800000000E040C9C12685C401000000000000000010"
                                   "0000000BF0ED4B6E4EE94E9E39E3867B378EF3")


def test_asemail_4_3_vcal_uid():
    goid = base64.b64decode("BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMwAAAHZDYWwtVWlkAQAAAHs4MTQxMkQzQy0y"
                            "QTI0LTRFOUQtQjIwRS0xMUY3QkJFOTI3OTl9AA==")
    uid = uid_from_goid(goid)
    assert uid == "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}"
    assert goid_from_uid(uid) == goid   # the wrapping of a third-party UID is byte-exact


def test_uid_shapes():
    assert not is_encoded_global_id("040000008200E00074C5B7101A82E008")   # too short
    assert not is_encoded_global_id("x" * 90)
    uid = "abc@example.org"
    assert uid_from_goid(goid_from_uid(uid)) == uid
    assert uid_from_goid(goid_from_uid(uid, date(2024, 1, 2))) == uid
