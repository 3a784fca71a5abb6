"""Issue 14: `exgate replay` works on every capture and recording the project holds.

The units are tests/corpus.py's, the list `exgate decode` is checked on (tests/unit/test_capture_corpus.py):
a capture added there is replayed here too. Each goes through `exgate replay` as a user runs it (its own
process) onto one fresh `exgate demo`, with ``--map`` for the user the capture was recorded as, its TLS
key log (``--keylog``) and the password its sealed DCE/RPC calls were sealed with
(``--capture-password``), and:

- it runs to the end without a traceback and exits 0 or 1 (0 when nothing differed unexpectedly, 1
  when something did: recordings answered by another server differ, which is not what this checks);
- the ``--report`` JSON accounts for every request the capture holds, once: each HTTP exchange is a
  replayed step or a skipped one with its reason, each DCE/RPC call (RPC over HTTP or TCP) a step
  carried over MAPI/HTTP or a "not replayed: <reason>" entry;
- no reason and no step error names a Python exception (``KeyError``, "a bug worth reporting"...):
  that would be a bug in the replay, not a property of the capture.

What cannot be replayed at all (``NOT_REPLAYABLE``: a raw stub, a capture without a request) and the
files beside the captures that are none (README, key log, test-vector lists) make replay exit 2 with
its reason on stderr, never a traceback.
"""
from __future__ import annotations

import builtins
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gateway.replay.files import apply_keylog, load
from gateway.replay.mapi import rpch_connections, tcp_connections
from protocols.rpch.unseal import password_lookup
from tests.corpus import CAPTURE_PASSWORDS, KEYLOGS, NOT_CAPTURES, ROOT, UNITS, VECTOR_LISTS
from tests.stacks import require_program

from .test_record_replay import USER, demo
from .test_replay_rpc import OUTLOOK_MAP, RULER_MAP

# the EWS clients' recordings were made as user1@example.com (captures/README.md)
EWS_MAP = ["--map", "user1@example.com=alice@example.test", "--map", ">user1<=>alice<"]
MAPS = {
    "captures/clients/davmail": EWS_MAP,
    "captures/clients/exchangelib": EWS_MAP,
    "captures/sessions/exchangelib-recorder.har": EWS_MAP,
    "captures/tls-exchangelib.pcapng": EWS_MAP,
    "captures/h2c-curl.pcapng": EWS_MAP,
    "captures/h2c-exchange.pcapng": EWS_MAP + RULER_MAP,         # exchangelib's EWS and ruler's MAPI/HTTP
    "captures/h2-tls-exchange.pcapng": EWS_MAP + RULER_MAP,
    "captures/ruler-mapihttp.pcap": RULER_MAP,
    "captures/ruler-mapihttp.pcapng": RULER_MAP,
    "captures/ruler-rpchttp.pcap": RULER_MAP,
    "captures/impacket-dcerpc-sealed.pcap": RULER_MAP,
    "captures/zeek-outlook2003-exchange-mapi.pcap": OUTLOOK_MAP,
    "fixtures/mapihttp/ruler_exchanges.json": RULER_MAP,
    "fixtures/nspi/ruler_nspi.json": RULER_MAP,
    "fixtures/rpch/rpc_basic_encrypt_check.jsonl": RULER_MAP,
    "fixtures/rpch/rpc_basic_noencrypt_display.jsonl": RULER_MAP,
    "fixtures/rpch/rpc_ntlm_noencrypt_check.jsonl": RULER_MAP,
    "fixtures/rpch/sealed_rpch_synth.jsonl": RULER_MAP,
}
# unit -> why replay refuses it (exit 2), and what its message says
NOT_REPLAYABLE = {
    "captures/openchange-lzxpress/001_Outlook_2007_in_ModifyRecipients_comp.dat":
        ("one EcDoRpcExt2 request's parameters, without the session they were sent in", "a raw DCE/RPC stub"),
    "captures/openchange-lzxpress/002_Outlook_2007_in_Tables_operations_comp.dat":
        ("one EcDoRpcExt2 request's parameters, without the session they were sent in", "a raw DCE/RPC stub"),
    "captures/zeek-dcerpc-ntlm.pcapng":
        ("a DCOM bind and alter_context with SPNEGO: no call, no HTTP request", "nothing to replay"),
}
# every name Python gives an exception: one in a reason means the replay broke, not the capture
PY_EXCEPTIONS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
BUG_WORDS = ("Traceback", "a bug worth reporting")


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    with demo(tmp_path_factory.mktemp("corpus-demo") / "data") as base_url:
        yield base_url


def options(unit: str) -> list[str]:
    out = list(MAPS.get(unit, []))
    if unit in KEYLOGS:
        out += ["--keylog", str(KEYLOGS[unit])]
    if unit in CAPTURE_PASSWORDS:
        out += ["--capture-password", CAPTURE_PASSWORDS[unit]]
    return out


def replay(path: Path, gw: str, report: Path, *extra: str) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-m", "gateway.cli", "replay", str(path), "--target", gw,
                        "--user", USER[0], "--password", USER[1], "--report", str(report), *extra],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def held(unit: str) -> tuple[Counter, Counter]:
    """What the capture holds, read as replay reads it: its HTTP exchanges (by seq) and its DCE/RPC calls
    (by "connection, call N", as the report names them)."""
    path = ROOT / unit
    cap = load(path)
    if unit in KEYLOGS:
        apply_keylog(path, KEYLOGS[unit], cap)
    pw = password_lookup(CAPTURE_PASSWORDS[unit]) if unit in CAPTURE_PASSWORDS else None
    conns = rpch_connections(cap, pw) + (tcp_connections(cap, pw) if cap.format in ("pcap", "pcapng") else [])
    return Counter(ex.seq for ex in cap.exchanges), Counter(f"{c.name}, call {call.call_id}"
                                                             for c in conns for call in c.conv.calls)


def names_an_exception(text: str) -> bool:
    return any(w in text for w in BUG_WORDS) or any(w in PY_EXCEPTIONS for w in re.findall(r"[A-Za-z_]\w*", text))


def test_the_lists_name_units():
    assert set(MAPS) <= set(UNITS) and set(NOT_REPLAYABLE) <= set(UNITS)
    assert set(KEYLOGS) <= set(UNITS) and set(CAPTURE_PASSWORDS) <= set(UNITS)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("unit", [u for u in UNITS if u not in NOT_REPLAYABLE])
def test_unit_replays_to_the_end_and_reports_every_request(gw, tmp_path, unit):
    if unit in KEYLOGS:
        require_program("tshark", "it decrypts the TLS capture")
    report_file = tmp_path / "report.json"
    rc, out, err = replay(ROOT / unit, gw, report_file, *options(unit))
    said = f"{unit}: exit {rc}\n{out[-3000:]}\n{err[-3000:]}"
    assert "Traceback" not in out + err, said
    assert rc in (0, 1), said
    report = json.loads(report_file.read_text())
    steps, skipped = report["steps"], report["skipped"]
    assert report["summary"] == {"replayed": len(steps), "unexpected": sum(1 for s in steps if not s["ok"])}, said
    if report["summary"]["unexpected"]:
        assert rc == 1, said
    assert f"{len(steps)} request(s) replayed" in out, said
    if "/h2" in unit:           # HTTP/2 streams go to the target over HTTP/1.1: said once
        assert err.count("exgate replay sends them to the target over HTTP/1.1") == 1, said

    exchanges, calls = held(unit)
    assert exchanges or calls, f"{unit}: no request read from it: it belongs in NOT_REPLAYABLE"
    entries = Counter(s["seq"] for s in steps) + Counter(s["seq"] for s in skipped)
    missing = [seq for seq in exchanges if entries[seq] != 1]
    assert not missing, f"{unit}: exchanges #{missing} are not in the report exactly once\n{said}"
    carried = Counter(s["source"] for s in steps if s["seq"] not in exchanges)
    binds = [s for s in skipped if s["seq"] not in exchanges and s["method"] in ("bind", "alter_context")]
    listed = Counter(s["source"] for s in skipped if s["seq"] not in exchanges and s not in binds
                     and s["why"].startswith("not replayed: "))
    assert carried + listed == calls, (f"{unit}: DCE/RPC calls not accounted for once: "
                                       f"{(calls - carried - listed) or (carried + listed - calls)}\n{said}")
    assert report["dcerpc"]["calls"] == sum(calls.values()), said
    # nothing else: every entry is an exchange, a call, or a bind no call followed (said with its reason)
    others = len(steps) + len(skipped) - sum(entries[s] for s in exchanges) - sum(calls.values()) - len(binds)
    assert others == 0, f"{unit}: {others} report entries that are no request of the capture\n{said}"

    bugs = [f"#{s['seq']} {s['why']}" for s in skipped if names_an_exception(s["why"])]
    bugs += [f"#{s['seq']} {s['operation']}: {s['error']}" for s in steps
             if s["error"] and names_an_exception(s["error"])]
    assert not bugs, f"{unit}: the replay broke on these (a Python exception named):\n" + "\n".join(bugs)


@pytest.mark.parametrize("unit", list(NOT_REPLAYABLE))
def test_unit_that_holds_nothing_to_replay_is_refused_with_its_reason(gw, tmp_path, unit):
    rc, out, err = replay(ROOT / unit, gw, tmp_path / "report.json", *options(unit))
    assert rc == 2, f"{unit}: exit {rc}\n{out}\n{err}"
    assert "Traceback" not in out + err
    assert f"exgate: {ROOT / unit}: " in err and NOT_REPLAYABLE[unit][1] in err, err


@pytest.mark.parametrize("unit", list(NOT_CAPTURES) + list(VECTOR_LISTS))
def test_file_that_is_no_recording_is_refused(gw, tmp_path, unit):
    rc, out, err = replay(ROOT / unit, gw, tmp_path / "report.json")
    assert rc == 2 and "Traceback" not in out + err, f"{unit}: exit {rc}\n{out}\n{err}"
    assert err.startswith("exgate: ") and ("not a capture" in err or "not a recording" in err), err


def test_a_damaged_request_is_a_step_error_not_a_traceback(gw, tmp_path):
    """A recorded request aiohttp will not send as it is (a header holding a control character: a damaged
    capture) fails that step with the reason; the replay goes on to the end (exit 1)."""
    lines = (ROOT / "captures" / "sessions" / "exchangelib-demo.jsonl").read_text().splitlines()
    rows = [json.loads(ln) for ln in lines]
    rows[1]["request_headers"].append(["User-Agent", "exchangelib\x01damaged"])
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, out, err = replay(damaged, gw, tmp_path / "report.json")
    assert rc == 1 and "Traceback" not in out + err, f"exit {rc}\n{out}\n{err}"
    steps = {s["seq"]: s for s in json.loads((tmp_path / "report.json").read_text())["steps"]}
    assert steps[rows[1]["seq"]]["error"] == "not sent: the recorded header 'User-Agent' holds a control character"
    assert len(steps) == len(rows) - 1, steps.keys()
