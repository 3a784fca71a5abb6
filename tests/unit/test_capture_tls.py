"""HTTPS in a capture: reported without keys, decrypted through tshark with a key log (gateway/replay/tls.py).

captures/tls-exchangelib.pcapng carries three of exchangelib's recorded EWS exchanges over TLS 1.3,
captures/tls-exchangelib.keys is the client's key log (both made by tests/unit/capture_synth.py's
make_tls_capture)."""
from __future__ import annotations

import shutil
from pathlib import Path

from gateway import cli
from gateway.replay import tls
from gateway.replay.files import load
from protocols.capture import read
from tests.stacks import needs_installed

ROOT = Path(__file__).resolve().parents[2]
PCAP = ROOT / "captures" / "tls-exchangelib.pcapng"
KEYS = ROOT / "captures" / "tls-exchangelib.keys"


def test_without_keys_the_capture_says_how(capsys):
    cap = read(PCAP.name, PCAP.read_bytes())
    assert cap.meta["tls_streams"] == 1 and not cap.exchanges
    assert cli.main(["decode", str(PCAP)]) == 1
    err = capsys.readouterr().err
    assert "cannot be decoded without its session keys" in err and "--keylog" in err and "tshark" in err


def test_follow_output_parsing():
    text = ("\n===================================================================\nFollow: tls,raw\n"
            "Filter: tcp.stream eq 0\nNode 0: 10.0.0.1:443\nNode 1: :0\n\t474554\n485454\n\t2f\n"
            "===================================================================\n")
    assert tls.parse_follow(text, ("10.0.0.20", 40443)) == (b"GET/", b"HTT")
    text2 = text.replace("Node 0: 10.0.0.1:443", "Node 0: 10.0.0.20:40443")
    assert tls.parse_follow(text2, ("10.0.0.20", 40443)) == (b"HTT", b"GET/")


def test_no_tshark_is_said(monkeypatch):
    monkeypatch.setattr(tls.shutil, "which", lambda name: None)
    cap = read(PCAP.name, PCAP.read_bytes())
    assert tls.decrypt(PCAP, KEYS, cap) == 0
    assert "tshark is not installed" in str(cap.problems[-1])


@needs_installed(None if shutil.which("tshark") else "tshark", "tshark")
def test_decrypted_with_the_key_log(capsys):
    cap = read(PCAP.name, PCAP.read_bytes())
    assert tls.decrypt(PCAP, KEYS, cap) == 1 and not cap.problems
    recorded = [e for e in load(ROOT / "captures" / "clients" / "exchangelib").exchanges if e.status == 200][:3]
    assert [(e.method, e.path, e.request_body, e.status, e.response_body) for e in cap.exchanges] == [
        (e.method, e.path, e.request_body, e.status, e.response_body) for e in recorded]
    assert all(e.url.startswith("https://") and "decrypted by tshark with the key log" in e.notes for e in cap.exchanges)
    assert cli.main(["decode", str(PCAP), "--keylog", str(KEYS)]) == 0
    out = capsys.readouterr().out
    assert "GetFolder" in out and "-- 3 exchange(s)" in out
    # a wrong key log: said, nothing invented
    wrong = read(PCAP.name, PCAP.read_bytes())
    assert tls.decrypt(PCAP, ROOT / "captures" / "README.md", wrong) == 0
    assert any("no keys for this connection" in str(p) for p in wrong.problems)
