"""Out of Office -> Sieve vacation script (RFC 5230): rendering, escaping, reading back.

Pure: the scripts are compiled by a real Pigeonhole in tests/integration/test_sieve.py."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone

import pytest

from gateway.backends.sieve import _final, _tokens, quote
from gateway.store.oof import OofSettings
from gateway.store.sieve_oof import MARKER, parse, render, sieve_string

ADDR = ["alice@example.test"]
START = datetime(2030, 1, 2, 8, 30, tzinfo=timezone.utc)


def _lines(script: str) -> list[str]:
    assert "\n" not in script.replace("\r\n", "")      # CRLF throughout (RFC 5228 section 2.2)
    return script.split("\r\n")


def _require(script: str) -> set[str]:
    req = [line for line in _lines(script) if line.startswith("require [")]
    return set(re.findall(r'"([^"]+)"', req[0])) if req else set()


def _vacations(script: str) -> list[str]:
    return [line.strip() for line in _lines(script) if line.strip().startswith("vacation ")]


def test_disabled_has_no_vacation_and_round_trips():
    s = OofSettings(state="Disabled", internal_reply="kept for later", external_reply="ext")
    script = render(s, addresses=ADDR)
    assert _vacations(script) == []
    assert "vacation" not in _require(script)
    assert "keep;" in script          # a script with only comments would still be valid; be explicit
    assert parse(script).settings == s


def test_enabled_all_replies_inside_and_outside():
    s = OofSettings(state="Enabled", external_audience="All", internal_reply="in", external_reply="out")
    script = render(s, addresses=ADDR)
    assert _require(script) == {"vacation", "envelope", "variables"}
    assert 'if envelope :domain :is "from" ["example.test"] {' in script
    assert "} else {" in script
    v_in, v_out = _vacations(script)
    assert v_in.endswith('"in";') and v_out.endswith('"out";')
    assert ':days 1 :subject "Automatic reply: ${subject}" :addresses ["alice@example.test"]' in v_in
    assert 'if header :matches "subject" "*" { set "subject" "${1}"; }' in script
    assert "currentdate" not in script
    assert parse(script).settings == s


@pytest.mark.parametrize("audience", ["None", "Known"])
def test_none_and_known_reply_only_inside(audience):
    # "Known" (senders in the contacts) is approximated as internal only
    s = OofSettings(state="Enabled", external_audience=audience, internal_reply="in", external_reply="out")
    script = render(s, addresses=ADDR)
    assert [v[-5:] for v in _vacations(script)] == ['"in";']
    assert "else" not in script
    assert parse(script).settings.external_audience == audience


def test_only_external_text_answers_outside_only():
    s = OofSettings(state="Enabled", external_audience="All", external_reply="out")
    script = render(s, addresses=ADDR)
    assert 'if not envelope :domain :is "from" ["example.test"] {' in script
    assert len(_vacations(script)) == 1


def test_enabled_without_any_text_sends_nothing():
    script = render(OofSettings(state="Enabled"), addresses=ADDR)
    assert _vacations(script) == []


def test_scheduled_is_guarded_by_currentdate():
    s = OofSettings(state="Scheduled", start=START, end=START + timedelta(days=3), internal_reply="in",
                    external_reply="out")
    script = render(s, addresses=ADDR)
    assert {"date", "relational", "vacation"} <= _require(script)
    assert 'currentdate :zone "+0000" :value "ge" "iso8601" "2030-01-02T08:30:00"' in script
    assert 'currentdate :zone "+0000" :value "lt" "iso8601" "2030-01-05T08:30:00"' in script
    # braces balance: the audience rules sit inside the date guard
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', "\n".join(x for x in _lines(script) if not x.startswith("#")))
    assert code.count("{") == code.count("}") == 4
    back = parse(script).settings
    assert back == s and back.start == START


def test_scheduled_times_in_other_zones_become_utc():
    cet = timezone(timedelta(hours=1))
    s = OofSettings(state="Scheduled", start=datetime(2030, 1, 2, 9, 30, tzinfo=cet),
                    end=datetime(2030, 1, 3, 9, 30, tzinfo=cet), internal_reply="x")
    assert '"ge" "iso8601" "2030-01-02T08:30:00"' in render(s, addresses=ADDR)


def test_escaping_quotes_backslashes_and_newlines():
    assert sieve_string('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert sieve_string("one\ntwo\r\nthree\rfour") == '"one\r\ntwo\r\nthree\r\nfour"'
    assert sieve_string("nul\0gone") == '"nulgone"'
    tricky = 'He said "bye" \\o/\nsee you;} vacation "x";'
    s = OofSettings(state="Enabled", internal_reply=tricky)
    script = render(s, addresses=ADDR)
    [v] = _vacations(script)
    assert '"He said \\"bye\\" \\\\o/' in v
    assert parse(script).settings.internal_reply == tricky


def test_dollar_brace_text_switches_variables_off():
    # with "variables" required, "${x}" inside a reason would be expanded to ""
    s = OofSettings(state="Enabled", internal_reply="costs ${price}")
    script = render(s, addresses=ADDR)
    assert "variables" not in _require(script)
    assert ':subject "Automatic reply" ' in script
    assert '"costs ${price}";' in script


def test_html_reply_goes_as_mime_base64():
    html = "<html><body><p>Weg bis Montag – ${x}</p></body></html>"
    s = OofSettings(state="Enabled", internal_reply=html)
    script = render(s, addresses=ADDR)
    [v] = _vacations(script)
    assert ":mime " in v
    m = re.search(r'Content-Transfer-Encoding: base64\r\n\r\n(.*?)";', script, re.S)
    assert base64.b64decode(m.group(1)).decode() == html
    assert "variables" in _require(script)       # base64 hides "${"
    assert script.isascii()
    assert parse(script).settings.internal_reply == html


def test_previous_script_is_included_last():
    s = OofSettings(state="Enabled", internal_reply="in")
    script = render(s, addresses=ADDR, previous='my "rules"')
    assert "include" in _require(script)
    assert script.rstrip().endswith('include :personal :optional "my \\"rules\\"";')
    assert parse(script).previous == 'my "rules"'
    assert "include" not in render(s, addresses=ADDR, previous="mine", include=False)


def test_addresses_and_domains():
    s = OofSettings(state="Enabled", internal_reply="in")
    script = render(s, addresses=["alice@example.test", "Alice@example.test", "a.smith@corp.test"],
                    internal_domains=["example.test", "Corp.test"])
    assert ':addresses ["alice@example.test", "Alice@example.test", "a.smith@corp.test"]' in script
    assert 'envelope :domain :is "from" ["example.test", "corp.test"]' in script


def test_marker_is_one_ascii_line_and_foreign_scripts_are_not_ours():
    s = OofSettings(state="Enabled", internal_reply="zurück\nmorgen", internal_culture="de-DE")
    script = render(s, addresses=ADDR)
    markers = [line for line in script.split("\r\n") if line.startswith(MARKER)]
    assert len(markers) == 1 and markers[0].isascii()
    assert parse(script).settings == s
    assert parse('require "fileinto";\r\nfileinto "Junk";\r\n') is None
    assert parse(MARKER + "{not json\r\n") is None


# ------------------------------------------------------------ ManageSieve wire pieces

def test_quote_and_literal():
    assert quote('a"b\\c') == b'"a\\"b\\\\c"'
    assert quote("two\r\nlines") == b"{10+}\r\ntwo\r\nlines"
    assert quote("ü") == b'"\xc3\xbc"'


def test_response_lines():
    toks: list = []
    assert _tokens(b'NO (NONEXISTENT) "Script \\"x\\" not found"', toks) is None
    r = _final(toks)
    assert (r.status, r.code, r.text) == ("NO", "NONEXISTENT", 'Script "x" not found')
    toks = []
    assert _tokens(b"OK (WARNINGS) {12}", toks) == 12
    toks = []
    _tokens(b'ok (QUOTA/MAXSIZE) "too big"', toks)
    assert _final(toks).code == "QUOTA/MAXSIZE" and _final(toks).status == "OK"
    toks = []
    _tokens(b'"myscript" ACTIVE', toks)
    assert _final(toks) is None and toks == [("str", "myscript"), "ACTIVE"]
