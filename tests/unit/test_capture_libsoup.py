"""Readers added for issue 14's corpus: libsoup's debug log (Evolution's traces of real Exchange
2007 SP1 and 2010 SP2), a raw EcDoRpcExt2 stub file (OpenChange's Outlook 2007 dumps), ruler's
MAPI/HTTP and NSPI fixtures; and the exit status of `exgate decode`."""
from __future__ import annotations

from pathlib import Path

from gateway import cli
from gateway.replay.decoding import decode_file
from gateway.replay.files import load
from protocols.capture import read, sniff
from protocols.capture.libsoup import format_messages, read_libsoup, split_messages
from protocols.capture.stubfile import looks_like_ecdorpcext2_request, parse_kind

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "captures" / "evolution-ews-traces"
STUBS = ROOT / "captures" / "openchange-lzxpress"


def test_libsoup_log_of_exchange_2010():
    f = TRACES / "Exchange2010_SP2" / "camel" / "folder" / "create_existing_folder"
    data = f.read_bytes()
    assert sniff(f.name, data) == "libsoup"
    cap = read(f.name, data)
    assert cap.format == "libsoup" and not cap.problems
    legs = [(e.method, e.status) for e in cap.exchanges]
    assert legs == [("POST", 401), ("POST", 200)]                # the NTLM challenge, then the answer
    first, second = cap.exchanges
    assert first.response_header("WWW-Authenticate").startswith("NTLM TlRMTVNTUAACAAAA")
    assert not any(k.startswith("Soup-Debug") for k, _v in first.request_headers)   # libsoup's, not the wire's
    assert first.time == "2013-10-10T02:53:42Z" and first.conn == 1
    assert second.request_header("Content-Length") == "877" and len(second.request_body) == 877   # final LF put back
    assert second.response_body.startswith(b'<?xml version="1.0" encoding="utf-8"?><s:Envelope')
    assert second.response_body.endswith(b"</s:Envelope>")


def test_every_trace_round_trips():
    logs = [f for f in sorted(TRACES.rglob("*")) if f.is_file() and f.stat().st_size]
    assert len(logs) == 28
    for f in logs:
        text = f.read_bytes().decode("utf-8")
        msgs, problems = split_messages(text)
        assert not problems and format_messages(msgs) == text, f


def test_answers_pair_by_message_number_and_damage_is_said():
    text = ("> POST /EWS/Exchange.asmx HTTP/1.1\n> Soup-Debug: ESoapMessage 1 (0x1), SoupSocket 2 (0x2)\n> \n> <a/>\n  \n"
            "> POST /EWS/Exchange.asmx HTTP/1.1\n> Soup-Debug: ESoapMessage 2 (0x3), SoupSocket 2 (0x2)\n> \n> <b/>\n  \n"
            "< HTTP/1.1 200 OK\n< Soup-Debug: ESoapMessage 2 (0x3)\n< \n< <two/>\n  \n"
            "< HTTP/1.1 500 Internal Server Error\n< Soup-Debug: ESoapMessage 1 (0x1)\n< \n< <one/>\n  \n"
            "garbage line\n< HTTP/1.1 200 OK\n< \n< <cut")
    msgs, problems = split_messages(text)
    assert [m.direction for m in msgs] == [">", ">", "<", "<", "<"] and not msgs[-1].complete
    cap = read_libsoup([("log", text.encode())])
    a, b = cap.exchanges
    assert (a.request_body, a.status, a.response_body) == (b"<a/>", 500, b"<one/>")
    assert (b.request_body, b.status, b.response_body) == (b"<b/>", 200, b"<two/>")
    said = [str(p) for p in cap.problems]
    assert any("not a libsoup log line" in p for p in said)
    assert any("an answer whose request is not in the log" in p for p in said)


def test_trace_directories_decode_with_ntlm_legs(capsys):
    from gateway.replay.driver import operation_of, replayable
    cap = load(TRACES / "Exchange2007_SP1")                     # what `exgate replay` reads too
    assert cap.format == "libsoup" and len(cap.exchanges) == 24 and not cap.problems
    plan = [operation_of(e) for e in cap.exchanges if replayable(e) is None]
    assert len(plan) == 23 and set(plan) == {"CreateFolder", "GetFolder", "MoveFolder", "DeleteFolder"}
    sized = [(e.response_header("Content-Length"), e.response_body) for e in cap.exchanges]
    assert all(int(n) == len(b) for n, b in sized if n)         # IIS's CRLF bodies kept as sent
    assert cli.main(["decode", str(TRACES / "Exchange2010_SP2")]) == 0
    out, err = capsys.readouterr()
    assert "sign-in leg (401): NTLM CHALLENGE from GSSLAB" in out
    assert "ErrorFolderExists" in out and "SOAP fault ErrorSchemaValidation" in out and "MoveFolder" in out
    assert "note: calendar/timezones/get_server_time_zones_sync: an empty log" in err     # a note: exit 0
    assert "-- 24 exchange(s) (libsoup); 1 note(s)" in out


def test_raw_ecdorpcext2_stub_is_recognised_and_shows_its_rops(capsys):
    f = STUBS / "002_Outlook_2007_in_Tables_operations_comp.dat"
    data = f.read_bytes()
    assert looks_like_ecdorpcext2_request(data)
    assert not looks_like_ecdorpcext2_request(data + b"\x00")           # a byte after the stub: not this layout
    dec = decode_file(f)
    (item,) = dec.items
    assert item["operation"] == "EcDoRpcExt2" and item["request_ext"][0]["flags"] == "Compressed|Last"
    assert "RopSetColumns" in {r["rop"] for r in item["rops"]} and not dec.faults
    assert cli.main(["decode", str(STUBS / "001_Outlook_2007_in_ModifyRecipients_comp.dat")]) == 0
    out = capsys.readouterr().out
    assert "EMSMDB EcDoRpcExt2" in out and "RopModifyRecipients" in out and "raw stub, recognised by its layout" in out
    # forced by --stub; an unknown kind is a usage error
    assert cli.main(["decode", "--stub", "emsmdb:EcDoRpcExt2", str(f)]) == 0
    assert "recognised by its --stub" in capsys.readouterr().out
    assert parse_kind("emsmdb:EcDoRpc:response") == ("EMSMDB", "EcDoRpc", "response")
    assert cli.main(["decode", "--stub", "nspi:NspiBind", str(f)]) == 2
    assert "is not one exgate reads" in capsys.readouterr().err


def test_ruler_fixtures_read_as_exchanges():
    cap = load(ROOT / "fixtures" / "mapihttp" / "ruler_exchanges.json")
    assert cap.format == "ruler-mapihttp" and len(cap.exchanges) == 46 and not cap.problems
    assert {e.request_header("X-RequestType").lower() for e in cap.exchanges} >= {"connect", "execute", "bind", "queryrows"}
    cap = load(ROOT / "fixtures" / "nspi" / "ruler_nspi.json")
    assert [e.request_header("X-RequestType") for e in cap.exchanges] == ["BIND", "QueryRows", "QueryRows"]
    assert all(e.status is None for e in cap.exchanges)


def test_exit_status(tmp_path, capsys):
    # 0: only notes (a segment put in order, a capture that began mid-connection)
    assert cli.main(["decode", str(ROOT / "captures" / "zeek-outlook2003-exchange-mapi.pcap")]) == 0
    err = capsys.readouterr().err
    assert "note: TCP stream 8" in err and "put in order" in err and "began after the request was sent" in err
    # the same network's NetBIOS, RDP, chat and other web traffic: said as not Exchange's, never as unknown
    assert "note: file: 12 TCP connection(s) carry neither HTTP nor DCE/RPC" in err and "not Exchange traffic" in err
    dec = decode_file(ROOT / "captures" / "zeek-outlook2003-exchange-mapi.pcap")
    assert {d["endpoint"] for d in dec.items if "endpoint" in d} == {"other"}
    # 1: encrypted without keys
    assert cli.main(["decode", str(ROOT / "captures" / "tls-exchangelib.pcapng")]) == 1
    assert "without its session keys" in capsys.readouterr().err
    # 2: not there, not a capture
    assert cli.main(["decode", str(tmp_path / "nothing.pcap")]) == 2
    (tmp_path / "notes.txt").write_text("hello\n")
    assert cli.main(["decode", str(tmp_path / "notes.txt")]) == 2
    assert "not a capture format" in capsys.readouterr().err
