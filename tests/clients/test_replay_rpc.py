"""`exgate replay` of sessions captured over DCE/RPC (RPC over HTTP, ncacn_ip_tcp) onto a fresh `exgate demo`,
which speaks MAPI over HTTP only: each EMSMDB call is carried as its MAPI/HTTP request (EcDoConnectEx ->
Connect, EcDoRpcExt2/EcDoRpc -> Execute, EcDoDisconnect -> Disconnect, NspiBind -> Bind), the rest is listed
as "not replayed: <reason>". Exit status: 0 no unexpected difference, 1 a difference (or a problem reading
the capture), 2 a usage error; never a traceback.

Also the recorded MAPI/HTTP + NSPI session of captures/sessions/ (with a NotificationWait the server held
and PINGs): replayed onto a fresh demo with no unexpected difference."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gateway.replay.files import load
from gateway.replay.mapi import rpch_connections, tcp_connections
from gateway.replay.rpcreplay import CARRIED
from protocols import mapihttp as M
from protocols.rops import decode_ext_buffer, decode_request_buffer, rop_name
from protocols.rpch import emsmdb as rpc_emsmdb
from protocols.rpch.unseal import password_lookup

from .test_record_replay import ROOT, demo, replay

RULER = ["captures/ruler-rpchttp.pcap", "fixtures/rpch/rpc_basic_noencrypt_display.jsonl",
         "fixtures/rpch/rpc_ntlm_noencrypt_check.jsonl", "fixtures/rpch/rpc_basic_encrypt_check.jsonl"]
RULER_MAP = ["--map", "/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=u="
                      "/o=exgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice",
             "--map", "u@example.test=alice@example.test"]
OUTLOOK = "captures/zeek-outlook2003-exchange-mapi.pcap"
OUTLOOK_MAP = ["--map", "/o=SolutionsIQ/ou=CNAMIS/cn=Recipients/cn=ALEONARD=/o=exgate/cn=Recipients/cn=alice"]
SESSION = "captures/sessions/mapi-nspi-demo.jsonl"


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    with demo(tmp_path_factory.mktemp("rpc-demo") / "data") as base_url:
        yield base_url


def _calls(path: Path, password: str | None = None):
    """Every DCE/RPC call of the capture: (connection name, call), as decode reads them."""
    cap = load(path)
    pw = password_lookup(password) if password else None
    conns = rpch_connections(cap, pw) + (tcp_connections(cap, pw) if cap.format in ("pcap", "pcapng") else [])
    return [(c.name, call) for c in conns for call in c.conv.calls]


def _rops_of(call) -> list[str]:
    if call.opnum == 11:
        rgb = rpc_emsmdb.decode_ecdorpcext2_request(call.request_stub).rgb_in
        return [rop_name(r.ROP_ID) for r in decode_request_buffer(decode_ext_buffer(rgb)[0].payload).rops]
    return []


def _accounted(path: Path, report: dict, password: str | None = None) -> list:
    """Each EMSMDB call of the capture is a replayed step or a 'not replayed: ...' entry, once."""
    calls = [(name, call) for name, call in _calls(path, password) if call.interface_name == "EMSMDB"]
    replayed = {s["source"]: s for s in report["steps"]}
    listed = {s["source"]: s for s in report["skipped"] if s["why"].startswith("not replayed: ")}
    out = []
    for name, call in calls:
        key = f"{name}, call {call.call_id}"
        assert (key in replayed) != (key in listed), (key, "replayed and listed" if key in replayed else "neither")
        out.append((call, replayed.get(key), listed.get(key)))
    return out


def _no_traceback(out: str) -> None:
    assert "Traceback" not in out, out


@pytest.mark.timeout(600)
@pytest.mark.parametrize("capture", RULER)
def test_ruler_rpc_over_http_replayed_over_mapihttp(gw, tmp_path, capture):
    path = ROOT / capture
    rc, out, report = replay(path, gw, tmp_path / "report.json", *RULER_MAP)
    _no_traceback(out)
    # 1: the rules table ruler read holds a rule the demo has not, the recorder's Autodiscover is not exgate's
    assert rc in (0, 1), out
    assert rc == (1 if report["summary"]["unexpected"] else 0), out
    assert f"{path.name}: " in out and CARRIED in out, out
    calls = _accounted(path, report)
    if capture.endswith("basic_encrypt_check.jsonl"):
        # ruler's recorder cannot seal: the sealed session is a bind and nothing after it, said so
        assert calls == [] and any("asking for sealing" in s["why"] for s in report["skipped"]), out
        return
    assert calls and all(step is not None for _call, step, _listed in calls), out
    assert all(s["operation"].split(" as ")[0] in ("EcDoConnectEx", "EcDoRpcExt2", "EcDoDisconnect")
               for s in report["steps"] if " as " in s["operation"])
    seen = set()
    for call, step, _ in calls:
        rops = _rops_of(call)
        if rops in (["RopLogon"], ["RopOpenFolder"]):      # same after pairing the handles and the FIDs
            assert step["ok"], (rops, step, out)
            seen.add(rops[0])
        if call.opnum in (10, 1):                           # Connect and Disconnect answers agree
            assert step["ok"], (step, out)
    assert seen == {"RopLogon", "RopOpenFolder"}, out


def _has_rules_on_purpose(src: Path, out: Path) -> None:
    """ruler's recorded RopOpenFolder answer (RopId 02, handle index 01, ReturnValue 0, HasRules 0, IsGhosted
    0) with HasRules 1, in a copy of the log."""
    lines = src.read_text().splitlines(keepends=True)
    hits = 0
    for i, line in enumerate(lines):
        row = json.loads(line)
        if row.get("kind") == "rpc-out-pdu" and "0201000000000000" in row.get("pdu_hex", ""):
            row["pdu_hex"] = row["pdu_hex"].replace("0201000000000000", "0201000000000100")
            lines[i] = json.dumps(row) + "\n"
            hits += 1
    assert hits == 1
    out.write_text("".join(lines))


@pytest.mark.timeout(600)
def test_a_difference_put_in_a_recorded_rpc_answer_is_reported_at_its_rop(gw, tmp_path):
    changed = tmp_path / "changed.jsonl"
    _has_rules_on_purpose(ROOT / "fixtures/rpch/rpc_basic_noencrypt_display.jsonl", changed)
    rc, out, report = replay(changed, gw, tmp_path / "report.json", *RULER_MAP)
    _no_traceback(out)
    assert rc == 1, out
    by_path = {d["path"]: (s, d) for s in report["steps"] for d in s["differences"]}
    step, diff = by_path["/Execute/0/0:RopOpenFolder/has_rules"]
    assert step["operation"] == "EcDoRpcExt2 as mapihttp-emsmdb:Execute"
    assert (diff["recorded"], diff["live"]) == ("1", "0"), diff
    assert "RopOpenFolder/has_rules" in out


@pytest.mark.timeout(600)
def test_outlook_2003_over_tcp_replayed_over_mapihttp(gw, tmp_path):
    path = ROOT / OUTLOOK
    rc, out, report = replay(path, gw, tmp_path / "report.json", *OUTLOOK_MAP)
    _no_traceback(out)
    assert rc in (0, 1), out
    assert f"{path.name}: " in out and CARRIED in out, out
    calls = _accounted(path, report)
    assert len(calls) == 167, len(calls)
    carried = [(c, s) for c, s, _ in calls if s is not None]
    # the one session whose bind and EcDoConnect are in the capture: EcDoConnect and its answered EcDoRpcs
    assert [c.operation for c, _ in carried] == ["EcDoConnect"] + ["EcDoRpc"] * 4, out
    assert all(s["live_status"] == 200 and s["error"] is None for _, s in carried), out
    assert carried[0][1]["ok"], out                          # Connect: ErrorCode 0 both
    # EcDoRpc's ROP buffers, wrapped in an RPC_HEADER_EXT, are answered ROP by ROP: RopLogon differs only
    # in what Exchange 2003 says of its store (StoreState), RopLongTermIdFromId of a logon FID is the same
    logon, ltid = carried[1][1], carried[2][1]
    assert [d["path"] for d in logon["differences"]] == ["/Execute/0/0:RopLogon/store_state"], logon
    assert ltid["ok"] and ltid["ignored"].get("server-chosen key"), ltid
    reasons = {s["why"] for _, _, s in calls if s is not None}
    assert {r for r in reasons if "bind and its session's start are not in the capture" in r}, reasons
    assert "not replayed: its answer is not in the capture" in reasons
    assert any("EcRRegisterPushNotification has no MAPI/HTTP counterpart" in r for r in reasons), reasons
    # the NSPI bind is carried to /mapi/nspi; the refused one is a sign-in leg
    steps = {s["operation"]: s for s in report["steps"]}
    assert steps["NspiBind as mapihttp-nspi:Bind"]["ok"], out
    assert any("MAPI_E_LOGON_FAILED" in s["why"] for s in report["skipped"]), out


@pytest.mark.timeout(600)
def test_sealed_capture_needs_the_capture_password(gw, tmp_path):
    path = ROOT / "captures/impacket-dcerpc-sealed.pcap"
    rc, out, report = replay(path, gw, tmp_path / "report.json", *RULER_MAP)
    _no_traceback(out)
    calls = _accounted(path, report)
    sealed = [(c, listed) for c, _s, listed in calls if c.protection == "encrypted"]
    assert sealed and all(listed and "sealed" in listed["why"] and "--capture-password" in listed["why"]
                          for _c, listed in sealed), out
    rc, out, report = replay(path, gw, tmp_path / "report-open.json", *RULER_MAP, "--capture-password", "p")
    _no_traceback(out)
    calls = _accounted(path, report, "p")
    assert all(step is not None for _c, step, _l in calls), out
    same = {tuple(_rops_of(c)) for c, s, _l in calls if s["ok"] and c.opnum == 11}
    assert {("RopLogon",), ("RopOpenFolder",)} <= same, out
    # its NSPI calls go to /mapi/nspi: the bind, a DN resolved to a MId, the unbind answer the same
    ok = {s["operation"] for s in report["steps"] if s["ok"]}
    assert {"NspiBind as mapihttp-nspi:Bind", "NspiDNToMId as mapihttp-nspi:DNToMId",
            "NspiUnbind as mapihttp-nspi:Unbind"} <= ok, out
    nspi = [s for s in report["steps"] if s["operation"].startswith("Nspi")]
    assert len(nspi) >= 10 and all(s["error"] is None and s["live_status"] == 200 for s in nspi), out


def _event_on_purpose(src: Path, out: Path) -> int:
    """The recorded NotificationWait (held: PROCESSING, PENDING) answered with EventPending 1 instead."""
    lines = src.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        obj = json.loads(line)
        if any(k.lower() == "x-requesttype" and v == "NotificationWait" for k, v in obj.get("request_headers", [])):
            body = b"PROCESSING\r\nDONE\r\n\r\n" + M.NotificationWaitResponse(event_pending=True).encode()
            obj["response_body"] = base64.b64encode(body).decode()
            lines[i] = json.dumps(obj) + "\n"
            out.write_text("".join(lines))
            return obj["seq"]
    raise AssertionError("no NotificationWait in the session")


@pytest.mark.timeout(600)
def test_recorded_mapi_nspi_session_replays_onto_a_fresh_demo(tmp_path):
    path = ROOT / SESSION
    with demo(tmp_path / "demo") as base_url:
        rc, out, report = replay(path, base_url, tmp_path / "report.json", "--wait-timeout", "3")
        _no_traceback(out)
        assert rc == 0, out
        assert report["summary"]["unexpected"] == 0 and report["summary"]["replayed"] == 20, out
        assert report["skipped"] == [], out
        steps = {s["seq"]: s for s in report["steps"]}
        kinds = [s["operation"].split(":", 1)[1] for s in report["steps"]]
        assert kinds.count("PING") == 2 and kinds.count("NotificationWait") == 1, kinds
        wait = next(s for s in report["steps"] if s["operation"].endswith(":NotificationWait"))
        assert wait["ok"] and wait["ignored"] == {"held: no event, as recorded": 1}, wait
        assert all(s["ok"] for s in steps.values()), out

        # the two mailbox sessions interleaved, as a client with two connections sends them: each keeps its
        # own live session (cookies, handles), so the second's Connect does not take over the first's requests
        lines = path.read_text().splitlines(keepends=True)
        by_seq = {json.loads(line).get("seq"): line for line in lines}
        order = [1, 2, 7, 8, 3, 9, 10, 4, 5, 11, 6, 12] + list(range(13, 21))
        interleaved = tmp_path / "interleaved.jsonl"
        interleaved.write_text(lines[0] + "".join(by_seq[n] for n in order))
        rc, out, report = replay(interleaved, base_url, tmp_path / "report-interleaved.json", "--wait-timeout", "3")
        _no_traceback(out)
        assert rc == 0 and [s["seq"] for s in report["steps"]] == order, out

        changed = tmp_path / "changed.jsonl"
        seq = _event_on_purpose(path, changed)
        rc, out, report = replay(changed, base_url, tmp_path / "report-changed.json", "--wait-timeout", "3")
        _no_traceback(out)
        assert rc == 1, out
        bad = [s for s in report["steps"] if not s["ok"]]
        assert [s["seq"] for s in bad] == [seq], out
        (diff,) = bad[0]["differences"]
        assert diff["path"] == "/NotificationWait/event_pending" and diff["recorded"] == "True", diff
