"""`exgate record` in front of `exgate demo`, an exchangelib session through it, `exgate replay` onto a fresh demo.

The three commands run as a user runs them (``python -m gateway.cli``, separate processes): a demo
gateway (plain HTTP, Basic), the recording proxy in front of it writing JSON lines, exchangelib
going through the proxy (folders, create a message, find it, get it, delete it). The file then
decodes, and replays onto a second, fresh demo without an unexpected difference (ids, change keys,
times told apart by gateway/replay/rules.py); a Subject changed on purpose in one recorded answer is
reported at that element, with exit code 1.
"""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from exchangelib import BASIC, DELEGATE, NTLM, Account, Configuration, Credentials, Message

from protocols.capture import read_jsonl

ROOT = Path(__file__).resolve().parents[2]
USER = ("alice@example.test", "alicepw")


def _exgate(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, **kw)


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.stdout.read().decode(errors="replace") if proc.stdout else ""


@contextmanager
def demo(data: Path):
    proc = _exgate("demo", "--http", "--port", "0", "--data-dir", str(data))
    try:
        deadline = time.monotonic() + 150
        while not (data / "demo.json").exists():
            if proc.poll() is not None:
                raise AssertionError("exgate demo exited: " + proc.stdout.read().decode(errors="replace"))
            assert time.monotonic() < deadline, "exgate demo did not start within 150 s"
            time.sleep(0.3)
        yield json.loads((data / "demo.json").read_text())["base_url"]
    finally:
        _stop(proc)


@contextmanager
def recorder(upstream: str, out: Path):
    proc = _exgate("record", "--listen", "127.0.0.1:0", "--upstream", upstream, "--out", str(out))
    try:
        line = proc.stdout.readline().decode()
        assert "listening on " in line, line + _stop(proc)
        yield line.split("listening on ", 1)[1].split(",", 1)[0].strip()
    finally:
        _stop(proc)


def exchangelib_session(base_url: str, subject: str) -> None:
    cfg = Configuration(service_endpoint=base_url + "/EWS/Exchange.asmx", credentials=Credentials(*USER),
                        auth_type=BASIC)
    acc = Account(USER[0], config=cfg, autodiscover=False, access_type=DELEGATE)
    names = {f.name for f in acc.msg_folder_root.children}
    assert "Inbox" in names, names
    msg = Message(account=acc, folder=acc.inbox, subject=subject, body="recorded and replayed",
                  to_recipients=[USER[0]])
    msg.save()
    found = list(acc.inbox.filter(subject=subject).only("subject"))
    assert [m.subject for m in found] == [subject]
    got = list(acc.fetch(ids=[(msg.id, msg.changekey)]))
    assert got[0].subject == subject and "recorded and replayed" in str(got[0].body)
    msg.delete()


def replay(capture: Path, target: str, report: Path, *extra: str) -> tuple[int, str, dict]:
    r = subprocess.run([sys.executable, "-m", "gateway.cli", "replay", str(capture), "--target", target,
                        "--user", USER[0], "--password", USER[1], "--report", str(report), *extra],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr, json.loads(report.read_text())


def _change_subject(capture: Path, out: Path, subject: str) -> int:
    """The recorded answer of the GetItem that returned the message, with another Subject; its seq."""
    lines = capture.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        obj = json.loads(line)
        body = base64.b64decode(obj.get("response_body") or "")
        if b"GetItemResponse" in body and subject.encode() in body:
            # the Subject element only (ConversationTopic and the Subject: header keep the old text)
            body, n = re.subn(rb"(<(?:\w+:)?Subject>)" + re.escape(subject.encode()) + rb"(</)",
                              rb"\1changed on purpose\2", body)
            assert n == 1
            obj["response_body"] = base64.b64encode(body).decode()
            lines[i] = json.dumps(obj) + "\n"
            out.write_text("".join(lines))
            return obj["seq"]
    raise AssertionError("no recorded GetItem answer holds the subject")


@pytest.mark.timeout(600)
def test_record_then_replay_onto_a_fresh_demo(tmp_path):
    capture = tmp_path / "session.jsonl"
    subject = f"record and replay {uuid.uuid4().hex[:8]}"
    with demo(tmp_path / "demo-a") as gw_a:
        with recorder(gw_a, capture) as proxy:
            exchangelib_session(proxy, subject)
        # NTLM is bound to the connection: the proxy keeps one upstream connection per client connection
        with recorder(gw_a, tmp_path / "ntlm.jsonl") as proxy:
            cfg = Configuration(service_endpoint=proxy + "/EWS/Exchange.asmx", credentials=Credentials(*USER),
                                auth_type=NTLM)
            assert Account(USER[0], config=cfg, autodiscover=False, access_type=DELEGATE).inbox.total_count >= 1
    ntlm = read_jsonl((tmp_path / "ntlm.jsonl").read_bytes()).exchanges
    assert [(e.status, e.request_header("Authorization")) for e in ntlm[:3]] == [(401, None), (401, "NTLM"),
                                                                                  (200, "NTLM")]
    assert len({e.conn for e in ntlm}) == 1 and all(e.status == 200 for e in ntlm[2:])
    cap = read_jsonl(capture.read_bytes())
    assert not cap.problems, cap.problems
    assert cap.meta.get("upstream") == gw_a
    assert len(cap.exchanges) >= 5
    assert all(e.request_header("Authorization") == "Basic" for e in cap.exchanges)   # scheme only
    assert all(e.status == 200 for e in cap.exchanges), [(e.seq, e.status) for e in cap.exchanges]

    r = subprocess.run([sys.executable, "-m", "gateway.cli", "decode", str(capture)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for op in ("FindFolder", "CreateItem", "FindItem", "GetItem", "DeleteItem"):
        assert op in r.stdout, (op, r.stdout)
    assert f"subject={subject}" in r.stdout

    with demo(tmp_path / "demo-b") as gw_b:
        rc, out, report = replay(capture, gw_b, tmp_path / "report.json")
        assert rc == 0, out
        assert report["summary"] == {"replayed": len(cap.exchanges), "unexpected": 0}, out
        ops = [s["operation"] for s in report["steps"]]
        assert {"CreateItem", "FindItem", "GetItem", "DeleteItem"} <= set(ops), ops
        # the ids the new gateway chose were put into the later requests: GetItem and DeleteItem found the item
        assert all(s["ok"] for s in report["steps"]), out

        changed = tmp_path / "changed.jsonl"
        seq = _change_subject(capture, changed, subject)
        rc, out, report = replay(changed, gw_b, tmp_path / "report-changed.json")
        assert rc == 1, out
        bad = [s for s in report["steps"] if not s["ok"]]
        assert [s["seq"] for s in bad] == [seq], out
        (diff,) = bad[0]["differences"]
        assert diff["path"].endswith("/Items/Message/Subject"), diff
        assert diff == {"path": diff["path"], "kind": "text", "recorded": "changed on purpose", "live": subject}
        assert "Subject" in out and "changed on purpose" in out
