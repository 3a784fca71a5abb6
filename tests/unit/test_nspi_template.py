"""Address book templates (MS-OXOABKT 2.2.2): the TRowSet codec on hand-made bytes and round trips, and
NspiGetTemplateInfo's answers from the handler (gateway/nspi/templates.py)."""
from __future__ import annotations

import pytest

from gateway.nspi import templates
from gateway.nspi.calls.misc import PidTagScriptData, PidTagTemplateData
from protocols.mapi.props import core as P
from protocols.nspi import codec as C
from protocols.nspi import template as K

from . import test_nspi_handlers as H

call = H.call          # the handler fixture over the demo directory and extra_people.ldif
run = H.run

# Two controls, written out by hand from MS-OXOABKT 2.2.2.1.1-2.2.2.1.3:
#   Type 1, RowCount 2
#   TRow 0: page at (0,0) 276x200, ControlType 8 (DTCT_PAGE), flags 0, CNTRL (0, 0, ulString 80)
#   TRow 1: edit at (70,8) 198x12, ControlType 1 (DTCT_EDIT), flags 0, CNTRL (0x3A17001E PidTagTitle as
#           PtypString8, ulSize 256, ulString 88)
#   strings at 8 + 2*36 = 80: "General\0" then, at 88, "*\0"
TWO_CONTROLS = bytes.fromhex(
    "01000000" "02000000"
    "00000000" "14010000" "00000000" "c8000000" "08000000" "00000000" "00000000" "00000000" "50000000"
    "46000000" "c6000000" "08000000" "0c000000" "01000000" "00000000" "1e00173a" "00010000" "58000000"
    "47656e6572616c00" "2a00")


def test_hand_made_trowset_decodes_field_by_field_and_round_trips():
    t = K.Template.decode(TWO_CONTROLS)
    assert t.type == 1 and len(t.controls) == 2 and t.rows_end == 80
    page, edit = t.controls
    assert (page.x, page.width, page.y, page.height) == (0, 276, 0, 200)
    assert page.control_type == K.DTCT_PAGE and page.string_offset == 80 and page.label(1252) == "General"
    assert (edit.x, edit.width, edit.y, edit.height) == (70, 198, 8, 12)
    assert edit.control_type == K.DTCT_EDIT and edit.control_flags == 0
    assert edit.prop_tag == 0x3A17001E and edit.size == 256 and edit.text == b"*"
    assert t.encode() == TWO_CONTROLS
    assert [(p.label(1252), [c.prop_tag for c in cs]) for p, cs in t.pages()] == [("General", [0x3A17001E])]


def test_build_lays_out_what_decode_reads_back():
    specs = [K.ControlSpec(0, 0, 276, 200, K.DTCT_PAGE, "General"),
             K.ControlSpec(70, 8, 198, 12, K.DTCT_EDIT, "*", 0x3A17001E, 0, 256)]
    built = K.Template.build(specs, 1252)
    assert built.encode() == TWO_CONTROLS
    # a 4-byte gap before the strings (gromox abktconv -g): offsets move, the bytes still round-trip
    gap = K.Template.build(specs, 1252, gap=True).encode()
    assert gap[80:84] == b"\0\0\0\0" and K.Template.decode(gap).controls[0].string_offset == 84
    assert K.Template.decode(gap).encode() == gap
    # a label with no string, flags kept
    lone = K.Template.build([K.ControlSpec(1, 2, 3, 4, K.DTCT_CHECKBOX, None, 0x0E1B000B,
                                           K.DT_EDITABLE | K.DT_SET_IMMEDIATE)], 1252).encode()
    c = K.Template.decode(lone).controls[0]
    assert c.string_offset == 0 and c.text is None and c.control_flags == 0xA
    assert K.Template.decode(lone).encode() == lone


def test_strings_follow_the_code_page_asked_for():
    spec = [K.ControlSpec(0, 0, 10, 10, K.DTCT_LABEL, "Отдел")]
    cyr = K.Template.build(spec, 1251)
    assert cyr.controls[0].text == "Отдел".encode("cp1251") and cyr.controls[0].label(1251) == "Отдел"
    # a code page without those letters gets "?" rather than an error
    assert K.Template.build(spec, 1252).controls[0].text == b"?????"
    assert K.Template.build([K.ControlSpec(0, 0, 1, 1, K.DTCT_LABEL, "Büro")], 1252).controls[0].text == b"B\xfcro"
    # Windows code pages Python spells otherwise; Unicode and unknown ones are refused
    assert K.Template.build([K.ControlSpec(0, 0, 1, 1, K.DTCT_LABEL, "Łódź")], 28592).controls[0].text == \
        "Łódź".encode("iso8859_2")
    assert K.codec_of(20127) == "ascii" and K.codec_of(1200) is None and K.codec_of(4242) is None
    with pytest.raises(ValueError):
        K.Template.build(spec, 1200)


@pytest.mark.parametrize("data, message", [
    (b"\x01\0\0", "header needs 8"),
    (bytes.fromhex("02000000 00000000"), "Type 2 is not 1"),
    (bytes.fromhex("01000000 03000000") + TWO_CONTROLS[8:], "RowCount 3 needs"),
    (TWO_CONTROLS[:8 + 16] + b"\x0a\0\0\0" + TWO_CONTROLS[8 + 20:], "ControlType 0xA"),
    (TWO_CONTROLS[:8 + 32] + b"\x04\0\0\0" + TWO_CONTROLS[8 + 36:], "outside the string area"),
    (TWO_CONTROLS[:-1], "no terminating null"),
    ("not bytes", "expected bytes"),
])
def test_bad_bytes_are_a_template_error(data, message):
    with pytest.raises(K.TemplateError, match=message):
        K.Template.decode(data)
    assert issubclass(K.TemplateError, C.NspiDecodeError)


# ---------------------------------------------------------------- GetTemplateInfo


def _template_of(resp):
    row = {t.tag: t.value.value for t in resp.row}
    return K.Template.decode(row[PidTagTemplateData]), row


async def test_user_and_distribution_list_templates(call):
    resp = await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(flags=0x61, display_type=0, code_page=1252,
                                                                       locale_id=0x409))
    assert resp.error_code == 0 and resp.code_page == 1252
    t, row = _template_of(resp)
    assert list(row) == [PidTagTemplateData]                     # TI_HELPFILE_* are ignored (MS-OXNSPI 3.1.4.1.18)
    tabs = {p.label(1252): [c.prop_tag for c in cs if c.prop_tag] for p, cs in t.pages()}
    assert list(tabs) == ["General", "Organization", "Member Of", "E-mail Addresses"]
    assert 0x3A17001E in tabs["General"] and 0x3A18001E in tabs["General"]       # title, department
    assert tabs["Organization"] == [0x8005000D, 0x800E000D] and tabs["Member Of"] == [0x8008000D]
    labels = [c.label(1252) for c in t.controls if c.control_type == K.DTCT_LABEL]
    assert "&Title:" in labels and "Direct &reports:" in labels
    assert all(c.control_flags & K.DT_EDITABLE == 0 for c in t.controls)        # the directory is read-only

    dl = await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(flags=0x5, display_type=1, code_page=1252,
                                                                     locale_id=0x407))
    t, row = _template_of(dl)
    assert row[PidTagScriptData] == b""
    general = t.pages()[0][1]
    assert 0x8009000D in [c.prop_tag for c in general if c.control_type == K.DTCT_LBX]     # the members
    # the DN of a template names it in any case; one we do not keep is InvalidLocale
    by_dn = await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(
        flags=1, display_type=0, template_dn=templates.DISTLIST.dn(0x409).upper(), code_page=1252))
    assert _template_of(by_dn)[1][PidTagTemplateData] == row[PidTagTemplateData]
    # an entry's DN (PidTagTemplateid names the entry itself) gives the template of its kind
    team = await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(
        flags=1, template_dn="/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=team",
        code_page=1252))
    assert _template_of(team)[1][PidTagTemplateData] == row[PidTagTemplateData]
    # the strings come in the code page asked for
    ru = await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(flags=1, display_type=6, code_page=1251,
                                                                     locale_id=0x419))
    assert _template_of(ru)[0].pages()[0][0].label(1251) == "General"
    assert (await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(flags=1, code_page=99999))
            ).status_code == 0x8004011E
    latin2 = await run(call, "GetTemplateInfo", C.GetTemplateInfoRequest(flags=1, code_page=28592))
    assert latin2.error_code == 0 and _template_of(latin2)[0].controls[0].label(28592) == "General"


def test_every_template_control_names_a_property_the_book_knows():
    from gateway.nspi.calls.props import COLUMNS
    known = {t >> 16 for t in COLUMNS} | {0x8005, 0x800C, 0x800E, 0x8008, 0x8009}   # + GetMatches' link tables
    for t in templates.TEMPLATES:
        for s in t.specs:
            if s.prop_tag:
                assert s.prop_tag >> 16 in known, (t.name, hex(s.prop_tag))
    assert P.PidTagTitle in COLUMNS


def test_mutated_and_random_bytes_raise_only_the_declared_error():
    import random
    rnd = random.Random(13)
    seeds = [TWO_CONTROLS, templates.template_data(templates.USER, 1252)]
    for _ in range(3000):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 4)):
            op = rnd.randrange(3)
            if op == 0 and data:
                data[rnd.randrange(len(data))] = rnd.randrange(256)
            elif op == 1:
                data = data[:rnd.randrange(len(data) + 1)]
            else:
                data += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        try:
            t = K.Template.decode(bytes(data))
        except K.TemplateError:
            continue
        assert t.encode() == bytes(data)
