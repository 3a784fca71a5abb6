"""Capture readers (protocols/capture): exgate's JSON lines, HAR, the first recorder's directories.

Real recordings from captures/ (captures/README.md says where each came from): a session `exgate
record` wrote in front of `exgate demo` (exchangelib), the exchangelib recorder directory and the same
session as a HAR. Damaged files give the exchanges before the damage and a Problem naming where.
"""
from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from gateway import cli
from gateway.replay.files import load
from protocols.capture import read, read_har, read_jsonl, read_recorder, sniff
from protocols.capture.jsonl import exchange_line, write_jsonl
from protocols.capture.model import Exchange, decoded_body, redact_headers
from protocols.ews.envelope import parse_request, parse_response

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
SESSION = CAPTURES / "sessions" / "exchangelib-demo.jsonl"
HAR = CAPTURES / "sessions" / "exchangelib-recorder.har"
CLIENT_DIRS = sorted(p for p in (CAPTURES / "clients").iterdir() if p.is_dir())


def test_the_recorded_session_reads_whole():
    cap = read_jsonl(SESSION.read_bytes())
    assert cap.format == "jsonl" and not cap.problems
    assert cap.meta["exgate_capture"] == 1 and cap.meta["upstream"].startswith("http://127.0.0.1:")
    assert len(cap.exchanges) >= 8
    assert [e.seq for e in cap.exchanges] == list(range(1, len(cap.exchanges) + 1))
    for e in cap.exchanges:
        assert e.method == "POST" and e.path == "/EWS/Exchange.asmx" and e.status == 200
        assert e.request_header("authorization") == "Basic"        # the scheme only, never the password
        assert e.conn == 1 and e.elapsed is not None and e.time.endswith("Z")
        parse_request(e.request_content)
        parse_response(e.response_content)
    ops = [parse_request(e.request_content).operation for e in cap.exchanges]
    assert {"CreateItem", "FindItem", "GetItem", "DeleteItem"} <= set(ops)


def test_jsonl_round_trips():
    cap = read_jsonl(SESSION.read_bytes())
    again = read_jsonl(write_jsonl(cap.exchanges, **{k: v for k, v in cap.meta.items() if k != "exgate_capture"}))
    assert again.meta == cap.meta
    assert [vars(e) for e in again.exchanges] == [vars(e) for e in cap.exchanges]


def test_authorization_is_written_as_its_scheme_only():
    ex = Exchange(1, "POST", "/EWS/Exchange.asmx", [("Authorization", "NTLM TlRMTVNTUAADAAAA"),
                                                    ("Proxy-Authorization", "Basic dTpw"), ("X-Other", "a b")])
    line = json.loads(exchange_line(ex))
    assert line["request_headers"] == [["Authorization", "NTLM"], ["Proxy-Authorization", "Basic"], ["X-Other", "a b"]]
    assert redact_headers([("authorization", "Negotiate YII=")]) == [("authorization", "Negotiate")]


def test_truncated_jsonl_gives_what_it_can():
    data = SESSION.read_bytes()
    cut = data[: len(data) - 2000]            # the file ends inside the last exchange
    cap = read_jsonl(cut)
    full = read_jsonl(data)
    assert len(cap.exchanges) == len(full.exchanges) - 1
    assert [vars(e) for e in cap.exchanges] == [vars(e) for e in full.exchanges[:-1]]
    (problem,) = cap.problems
    assert problem.where == f"line {len(full.exchanges) + 1}" and "truncated" in problem.what


def test_damaged_lines_are_reported_and_skipped():
    lines = SESSION.read_text().splitlines(keepends=True)
    lines[3] = lines[3][:50] + "\n"                       # garbage in the middle
    bad_b64 = json.loads(lines[5])
    bad_b64["response_body"] = "***"
    lines[5] = json.dumps(bad_b64) + "\n"
    lines.insert(7, json.dumps({"seq": 99, "status": 200}) + "\n")    # no method, no url
    cap = read_jsonl("".join(lines))
    wheres = {p.where: p.what for p in cap.problems}
    assert "not a JSON object" in wheres["line 4"]
    assert "response_body is not base64" in wheres["line 6"]
    assert "no method, url" in wheres["line 8"]
    assert len(cap.exchanges) == len(read_jsonl(SESSION.read_bytes()).exchanges) - 1
    assert next(e for e in cap.exchanges if e.source == "line 6").response_body == b""


@pytest.mark.parametrize("client", [p.name for p in CLIENT_DIRS])
def test_recorder_directories_read_and_their_ews_bodies_parse(client):
    cap = load(CAPTURES / "clients" / client)
    assert cap.format == "recorder" and not cap.problems
    files = sorted((CAPTURES / "clients" / client).glob("*.txt"))
    assert [e.source for e in cap.exchanges] == [f.name for f in files]
    for e in cap.exchanges:
        assert e.method == "POST" and e.status in (200, 401, 500), (e.source, e.status)
        assert e.conn is not None and e.time
        op = e.source.split("-POST-", 1)[1].removesuffix(".txt")
        if e.request_content.strip():
            assert parse_request(e.request_content).operation == op, e.source
        if e.status != 401:
            parse_response(e.response_content)


def test_har_reads_what_the_recorder_directory_holds():
    har = read_har(HAR.read_bytes())
    rec = load(CAPTURES / "clients" / "exchangelib")
    assert har.format == "har" and not har.problems
    assert har.meta["version"] == "1.2"
    assert len(har.exchanges) == len(rec.exchanges) == 55
    for h, r in zip(har.exchanges, rec.exchanges):
        assert (h.method, h.path, h.status, h.conn) == (r.method, r.url, r.status, r.conn)
        assert h.request_body == r.request_body and h.response_body == r.response_body
        assert h.request_header("Authorization") == r.request_header("Authorization")
    ntlm = [h for h in har.exchanges if (h.request_header("Authorization") or "").startswith("NTLM ")]
    assert ntlm and all(h.url.startswith("http://127.0.0.1:18082/") for h in ntlm)


def test_har_binary_bodies_and_browser_quirks():
    body = gzip.compress(b"<x/>")
    doc = {"log": {"version": "1.2", "entries": [
        {"startedDateTime": "2026-01-01T00:00:00Z", "time": 12.5, "_connection": "7",
         "request": {"method": "POST", "url": "https://mail.example.com/mapi/emsmdb/?MailboxId=a@b",
                     "headers": [{"name": "X-RequestType", "value": "Execute"}],
                     "postData": {"mimeType": "application/mapi-http", "text": base64.b64encode(b"\x00\x01").decode(),
                                  "_encoding": "base64"}},
         "response": {"status": 200, "headers": [],
                      "content": {"size": 4, "text": base64.b64encode(body).decode(), "encoding": "base64"}}},
        {"startedDateTime": "2026-01-01T00:00:01Z", "time": -1,
         "request": {"method": "GET", "url": "https://mail.example.com/owa/", "headers": []},
         "response": {"status": 0, "headers": [], "content": {"size": 0}}},
        {"request": {"url": "https://x/"}},
    ]}}
    cap = read_har(json.dumps(doc))
    a, b = cap.exchanges
    assert a.request_body == b"\x00\x01" and a.response_body == body and a.conn == 7 and a.elapsed == 0.0125
    assert a.path == "/mapi/emsmdb/?MailboxId=a@b" and a.request_header("x-requesttype") == "Execute"
    assert b.status is None and b.elapsed is None            # status 0: no answer (blocked, cancelled)
    assert [str(p) for p in cap.problems] == ["entry 3: entry without request method and url, skipped"]


def test_truncated_har_gives_the_entries_before_the_cut():
    data = HAR.read_text()
    cut = data[: int(len(data) * 0.6)]
    cap = read_har(cut)
    full = read_har(data)
    assert 10 < len(cap.exchanges) < len(full.exchanges)
    assert [vars(e) for e in cap.exchanges] == [vars(e) for e in full.exchanges[: len(cap.exchanges)]]
    (problem,) = cap.problems
    assert problem.where == f"entry {len(cap.exchanges) + 1}" and "truncated" in problem.what
    assert read_har(b"\x00garbage").problems[0].what.startswith("not JSON")


def test_sniffing_and_content_encoding():
    assert sniff("x.bin", SESSION.read_bytes()) == "jsonl"
    assert sniff("x.bin", HAR.read_bytes()) == "har"
    assert sniff("0001-POST-GetFolder.txt", b"### request conn=1\nPOST / HTTP/1.1\n") == "recorder"
    assert read("x.pcap", b"\xd4\xc3\xb2\xa1").problems[0].what == "truncated: 4 of 24 bytes"   # the pcap reader's
    assert read("x.bin", b"\x00\x01").problems[0].what.startswith("not a capture format")
    assert decoded_body(gzip.compress(b"hello"), "gzip") == b"hello"
    assert decoded_body(b"not gzip", "gzip") == b"not gzip"
    rec = read_recorder([("0001-POST-X.txt", b"### request conn=1 time=t\nPOST /EWS/Exchange.asmx HTTP/1.1\n"
                                              b"Host: h\n\n<a/>\n")])
    assert rec.exchanges[0].request_body == b"<a/>" and rec.exchanges[0].status is None
    assert "the answer is missing" in rec.problems[0].what


def test_decode_command_on_a_truncated_file(tmp_path, capsys):
    data = SESSION.read_bytes()
    f = tmp_path / "cut.jsonl"
    f.write_bytes(data[: len(data) - 2000])
    assert cli.main(["decode", str(f)]) == 1
    out, err = capsys.readouterr()
    n = len(read_jsonl(data).exchanges)
    assert f"line {n + 1}: truncated" in err
    assert f"-- {n - 1} exchange(s) decoded; 1 problem(s)" in out
    assert "GetItem" in out and "[1] NoError" in out
    assert cli.main(["decode", "--json", str(SESSION)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == n and rows[0]["endpoint"] == "ews"
    create = next(r for r in rows if r["request"]["operation"] == "CreateItem")
    assert create["request"]["attributes"]["MessageDisposition"] == "SaveOnly"
    assert create["response"]["messages"][0]["code"] == "NoError" and create["response"]["messages"][0]["item_ids"]
    assert cli.main(["decode", str(tmp_path / "missing.jsonl")]) == 2
