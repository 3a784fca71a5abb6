"""`exgate decode` on pcap/pcapng: MAPI/HTTP bodies down to every ROP (gateway/replay/mapi.py), NSPI
calls, DCE/RPC calls down to the ROPs of Outlook 2003's EcDoRpc, filters, text and JSON lines, and
damaged captures (a truncated copy of a real one)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from gateway import cli
from gateway.replay.mapi import dcerpc_items, execute_rops, rop_buffers, tag_name
from gateway.replay.summary import describe
from protocols.capture import read
from protocols.rops import decode_ext_buffer

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
RULER = CAPTURES / "ruler-mapihttp.pcap"
OUTLOOK = CAPTURES / "zeek-outlook2003-exchange-mapi.pcap"
EXECUTE = json.loads((ROOT / "fixtures" / "rops" / "ruler_execute.json").read_text())


def _walk(obj):
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def test_tag_names():
    assert tag_name(0x0037001F) == "PidTagSubject (0x0037001F)"
    assert tag_name(0x0037001E) == "PidTagSubject (0x0037001E)"      # the PT_STRING8 form of a listed tag
    assert tag_name(0x12340003) == "0x12340003"


def test_every_mapihttp_exchange_of_the_synthetic_capture_decodes_to_its_rops():
    cap = read(RULER.name, RULER.read_bytes())
    described = [describe(ex) for ex in cap.exchanges]
    assert {d["endpoint"] for d in described} == {"mapihttp-emsmdb", "mapihttp-nspi"}
    types = [d["request_type"] for d in described]
    assert types.count("Execute") == 28 and types.count("Connect") == 8 and "QueryRows" in types and "BIND" in types
    # nothing failed to decode anywhere (bodies, framing, chains, ROP buffers)
    for d in described:
        bad = [x for x in _walk(d) if any(k.endswith("error") and isinstance(x.get(k), str) for k in x)]
        assert not bad, (d["seq"], bad)
    rop_names = {r["rop"] for d in described for r in d.get("rops") or []}
    assert {"RopLogon", "RopOpenFolder", "RopGetContentsTable", "RopSetColumns", "RopQueryRows",
            "RopGetPropertiesSpecific", "RopRelease"} <= rop_names
    # each ROP's bytes (re-encoded by its codec) put together are the request's ROP list: no byte unexplained
    for d, ex in zip(described, cap.exchanges):
        if d["request_type"] != "Execute":
            continue
        from protocols.mapihttp.emsmdb import decode_request
        buf = decode_ext_buffer(decode_request("Execute", ex.request_body).rop_buffer)[0].payload
        size = int.from_bytes(buf[:2], "little")
        assert "".join(r.get("request_hex", "") for r in d["rops"]) == buf[2:size].hex(), d["seq"]
    logon = next(r for d in described for r in d.get("rops") or [] if r["rop"] == "RopLogon")
    assert logon["response"]["folder_ids"][0] == "0x0000010000000001" and logon["return_value"] == "0x00000000"
    qr = next(d for d in described if d["request_type"] == "QueryRows")
    assert "PidTagDisplayName (0x3001001F)" in qr["request"]["columns"]


def test_execute_buffers_of_the_fixture_answer_beside_their_requests():
    seen = set()
    for v in EXECUTE["vectors"]:
        got = execute_rops(bytes.fromhex(v["request_rop_buffer_hex"]),
                           bytes.fromhex(v["response_rop_buffer_hex"]) if v.get("response_rop_buffer_hex") else None)
        assert not got.get("request_error") and not got.get("response_error"), (v["id"], got)
        for r in got["rops"]:
            if "request" in r and "response" in r:
                seen.add(r["rop"])
            if r["rop"].startswith("Rop0x") and "request" in r:
                assert r["note"].startswith("no codec for this RopId")
    # answered ROPs, each beside its request (RopRelease has no answer)
    assert {"RopLogon", "RopCreateFolder", "RopGetRulesTable", "RopOpenMessage", "RopOpenFolder",
            "RopGetContentsTable", "RopSetColumns", "RopQueryRows", "RopGetPropertiesSpecific"} <= seen


def test_compressed_outlook_2007_buffer_is_shown_with_its_chain():
    raw = (CAPTURES / "openchange-lzxpress" / "002_Outlook_2007_in_Tables_operations_comp.dat").read_bytes()
    from protocols.rpch.emsmdb import decode_ecdorpcext2_request
    got = execute_rops(decode_ecdorpcext2_request(raw).rgb_in, None)
    assert got["request_ext"] == [{"flags": "Compressed|Last", "size": got["request_ext"][0]["size"], "size_actual": 380}]
    assert [r["rop"] for r in got["rops"]][:3] == ["RopGetContentsTable", "RopSetColumns", "RopFindRow"]
    find = got["rops"][2]["request"]
    assert any("PidTag" in json.dumps(x) for x in _walk(find))      # the restriction's tags by name


def test_outlook_2003_dcerpc_calls_down_to_rops():
    cap = read(OUTLOOK.name, OUTLOOK.read_bytes())
    items = dcerpc_items(cap)
    calls = [i for i in items if i["kind"] == "dcerpc-call"]
    assert len(calls) == 172
    ops = [c["operation"] for c in calls]
    assert ops.count("EcDoRpc") == 165 and ops.count("NspiBind") == 2 and "EcDoConnect" in ops
    binds = [i for i in items if i["kind"] == "dcerpc-pdu" and i["pdu"] == "bind"]
    assert {b["contexts"][0]["interface"].split()[0] for b in binds} == {"EPM", "NSPI", "EMSMDB"}
    # every EcDoRpc request buffer decodes; the answers that the ROP codecs cannot read yet are few and said
    assert not [c for c in calls if c.get("request_error") or c.get("stub_error")]
    assert len([c for c in calls if c.get("response_error")]) <= 12
    logon = next(c for c in calls if any(r["rop"] == "RopLogon" for r in c.get("rops") or []))
    assert logon["obfuscated"] is True and logon["return_value"] == "0x00000000"
    connect = next(c for c in calls if c["operation"] == "EcDoConnect")
    assert connect["request"]["user_dn"].endswith("cn=ALEONARD") and connect["response"]["display_name"] == "Allison Leonard"
    nspi = [c for c in calls if c["operation"] == "NspiBind"]
    assert [c["return_value"] for c in nspi] == ["0x80040111", "0x00000000"]      # refused without NTLM, then bound
    guessed = [c for c in calls if c.get("interface_note")]
    assert guessed and all(c["interface"] == "EMSMDB" for c in guessed)


def test_decode_command_text_json_and_filters(capsys):
    # exit 1: ruler's `search` sends bytes that are not ROPs (RopId 0x74 after a RopOpenFolder); the
    # reassembly's segment put in order and retransmission dropped are notes only
    assert cli.main(["decode", str(RULER)]) == 1
    out, err = capsys.readouterr()
    assert "RopLogon" in out and "[mapihttp-nspi]" in out and "QueryRows" in out
    assert "note: TCP stream 1" in err and "arrived out of order" in err and "retransmitted" in err
    assert "exchange #41" in err and "(RopId 0x74) has no codec" in err
    assert "-- 46 exchange(s), 0 DCE/RPC call(s) in 339 packet(s), 8 TCP connection(s) decoded; 1 problem(s)" in out

    assert cli.main(["decode", "--json", "--rop", "QueryRows", str(RULER)]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines and all({r["rop"] for r in d["rops"]} == {"RopQueryRows"} for d in lines)

    assert cli.main(["decode", "--endpoint", "nspi", "--operation", "QueryRows", str(RULER)]) == 1
    out = capsys.readouterr().out
    assert out.count("[mapihttp-nspi]") == 2 and "[mapihttp-emsmdb]" not in out

    assert cli.main(["decode", "--operation", "EcDoConnect", str(OUTLOOK)]) == 0   # its problems are notes
    out = capsys.readouterr().out
    assert "EMSMDB EcDoConnect" in out and "Allison Leonard" in out and out.count("dcerpc call") == 1

    assert cli.main(["decode", "--json", "--endpoint", "EMSMDB", "--rop", "RopLogon", str(OUTLOOK)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1 and lines[0]["rops"][0]["request_hex"].startswith("fe")


def test_truncated_real_capture_decodes_what_it_can(tmp_path, capsys):
    data = OUTLOOK.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:int(len(data) * 0.7)])
    assert cli.main(["decode", str(cut)]) == 1
    out, err = capsys.readouterr()
    assert "truncated: the file ends inside" in err
    assert "EcDoRpc" in out and "RopOpenFolder" in out
    assert "DCE/RPC call(s)" in out.splitlines()[-1]


def test_tls_capture_message(tmp_path, capsys):
    import struct

    from protocols.capture.pcap import Packet, write_pcap
    hello = bytes.fromhex("160301002e0100002a0303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(hello), 0, 0, 64, 6, 0, bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1]))
    frame = ip + struct.pack(">HHIIBBHHH", 40001, 443, 6, 0, 0x50, 0x18, 0, 0, 0) + hello
    f = tmp_path / "tls.pcap"
    f.write_bytes(write_pcap([Packet(1, 1.0, 101, frame, len(frame))]))
    assert cli.main(["decode", str(f)]) == 1
    err = capsys.readouterr().err
    assert "1 TLS connection(s)" in err and "--keylog" in err and "tshark" in err
    assert cli.main(["decode", "--keylog", str(tmp_path / "keys.log"), str(f)]) == 1
    err = capsys.readouterr().err
    assert "keys.log: no such file" in err or "tshark is not installed" in err


def test_outlook_2003_request_rops_cover_every_byte():
    """Each EcDoRpc request's ROPs, re-encoded by their codecs, are its whole RopsList (no byte unexplained),
    except where a RopId has no codec yet (then the rest is kept raw, and said so)."""
    from protocols.rpch import emsmdb
    from protocols.rpch.dcerpc import converse
    cap = read(OUTLOOK.name, OUTLOOK.read_bytes())
    items = {(i["stream"], i["call_id"]): i for i in dcerpc_items(cap) if i["kind"] == "dcerpc-call"}
    checked = 0
    for st in cap.streams:
        for call in converse(st.client.data, st.server.data, known_contexts={0: "a4f1db00-ca47-1067-b31f-00dd010662da"}).calls:
            item = items.get((st.name, call.call_id))
            if item is None or item["operation"] != "EcDoRpc":
                continue
            buf = emsmdb.decode_ecdorpc_request(call.request_stub).rop_buffer
            size = int.from_bytes(buf[:2], "little")
            shown = "".join(r.get("request_hex") or r["request"].get("raw", "") for r in item["rops"] if "request" in r)
            assert shown == buf[2:size].hex(), (st.name, call.call_id)
            checked += 1
    assert checked == 165


def test_who_each_request_speaks_for(capsys):
    import base64 as b64

    from protocols.capture.identity import authorization_user, ntlm_user, request_user
    assert authorization_user("Basic " + b64.b64encode(b"alice@example.test:secret").decode()) == "alice@example.test"
    assert authorization_user("NTLM") is None and authorization_user("Basic !!!") is None
    assert request_user([("X-User-Identity", "bob@example.test"), ("Authorization", "NTLM")]) == "bob@example.test"
    assert ntlm_user(b"NTLMSSP\x00\x01\x00\x00\x00" + bytes(60)) is None      # a NEGOTIATE names nobody
    # ruler's MAPI/HTTP sign-in (Basic), Outlook 2003's NTLM AUTHENTICATE in its binds' auth3
    assert cli.main(["decode", "--json", "--user", "u@example.test", str(RULER)]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 46
    cap = read(OUTLOOK.name, OUTLOOK.read_bytes())
    items = dcerpc_items(cap)
    users = {i.get("user") for i in items if i["kind"] == "dcerpc-call"}
    assert users == {"CNAMIS\\ALeonard", None}       # the connections whose sign-in is not in the capture: None
    assert {i["operation"] for i in items if i.get("user") and "operation" in i} >= {"EcDoConnect", "NspiBind", "EcDoRpc"}
    zeek = read("z.pcapng", (CAPTURES / "zeek-dcerpc-ntlm.pcapng").read_bytes())
    assert {i.get("user") for i in dcerpc_items(zeek)} == {"BLACKCLOVER\\Administrator"}
