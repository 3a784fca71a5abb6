"""Fiddler SAZ archives (protocols/capture/saz.py): written from exchangelib's recorded session (real
requests; answers from the project's test recorder) and read back field by field; a Fiddler-shaped
archive (absolute URLs, chunked answer, 7-digit timers, index and content-types files); damage."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from gateway import cli
from gateway.replay.files import load
from protocols.capture import read, sniff
from protocols.capture.saz import read_saz, write_saz

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "captures" / "clients" / "exchangelib"


def _fields(e):
    return (e.method, e.path, e.request_headers, e.request_body, e.status, e.response_headers, e.response_body,
            e.time, e.conn)


def test_round_trip_of_a_recorded_session():
    cap = load(RECORDED)
    data = write_saz(cap.exchanges)
    assert sniff("session.bin", data) == "saz"
    back = read("session.saz", data)
    assert back.format == "saz" and not back.problems
    assert [_fields(e) for e in back.exchanges] == [_fields(e) for e in cap.exchanges]
    assert len(back.exchanges) == 55


def _fiddler_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("_index.htm", "<html>sessions</html>")
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("raw/1_c.txt", b"POST https://mail.example.com/EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.example.com\r\n"
                                   b"Content-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello")
        zf.writestr("raw/1_s.txt", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        zf.writestr("raw/1_m.xml", '<?xml version="1.0" encoding="utf-8"?><Session SID="1" BitFlags="0">'
                                   '<SessionTimers ClientConnected="2026-12-05T10:00:00.0000000+01:00" '
                                   'ClientBeginRequest="2026-12-05T10:00:00.1000000+01:00" '
                                   'ServerDoneResponse="2026-12-05T10:00:00.3500000+01:00" />'
                                   '<SessionFlags><SessionFlag N="x-clientport" V="50123" /></SessionFlags></Session>')
        zf.writestr("raw/2_c.txt", b"HEAD /owa/ HTTP/1.1\r\nHost: mail.example.com\r\n\r\n")
        zf.writestr("raw/2_s.txt", b"HTTP/1.1 302 Found\r\nContent-Length: 120\r\nLocation: /owa/auth\r\n\r\n")
        zf.writestr("raw/10_c.txt", b"GET /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: mail.example.com\r\n\r\n")
    return out.getvalue()


def test_fiddler_shaped_archive():
    cap = read_saz(_fiddler_archive())
    assert not cap.problems
    a, b, c = cap.exchanges
    assert (a.seq, a.url, a.request_body, a.status, a.response_body) == (
        1, "https://mail.example.com/EWS/Exchange.asmx", b"hello", 200, b"abcde")
    assert a.conn == 50123 and a.elapsed == 0.25 and a.time.startswith("2026-12-05T10:00:00.1")
    assert (b.method, b.status, b.response_body) == ("HEAD", 302, b"")
    assert (c.seq, c.status, c.notes) == (10, None, ["no answer in the archive"])


def test_damaged_and_protected_archives(tmp_path, capsys):
    data = _fiddler_archive()
    cut = read("x.saz", data[:len(data) // 2])
    assert cut.problems and "not a readable SAZ" in str(cut.problems[0])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("raw/1_c.txt", b"GET / HTTP/1.1\r\n\r\n")
    raw = bytearray(out.getvalue())            # mark the entry encrypted (general purpose flag bit 0)
    raw[6] |= 1
    cd = raw.find(b"PK\x01\x02")
    raw[cd + 8] |= 1
    locked = read_saz(bytes(raw))
    assert "password-protected" in str(locked.problems[0]) and not locked.exchanges
    assert "not a SAZ archive" in str(read_saz(_empty_zip()).problems[0])
    f = tmp_path / "session.saz"
    f.write_bytes(write_saz(load(RECORDED).exchanges))
    assert cli.main(["decode", str(f), "--operation", "GetFolder"]) == 0
    assert "GetFolder" in capsys.readouterr().out


def _empty_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("readme.txt", "x")
    return out.getvalue()
