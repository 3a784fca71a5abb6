"""RPC over HTTP v2 (MS-RPCH): RTS PDUs (protocols/rpch/rts.py) and `exgate decode` of RPC_IN_DATA /
RPC_OUT_DATA channels down to the ROPs (gateway/replay/mapi.py rpch_items), on impacket's RTS vectors
and ruler's recorded channels (fixtures/rpch/), the latter also as the synthetic captures/ruler-rpchttp.pcap."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway import cli
from gateway.replay.mapi import rpch_items
from protocols.capture import read
from protocols.rpch.dcerpc import decode_pdu, encode_pdu
from protocols.rpch.rts import RtsError, decode_rts, encode_rts

from . import capture_synth

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "fixtures" / "rpch" / "rts_vectors.json").read_text())
PCAP = ROOT / "captures" / "ruler-rpchttp.pcap"


@pytest.mark.parametrize("vec", VECTORS, ids=[v["label"] for v in VECTORS])
def test_rts_vectors(vec):
    raw = bytes.fromhex(vec["hex"])
    pdu = decode_pdu(raw)
    assert pdu.ptype == 20 and encode_pdu(pdu) == raw and len(raw) == vec["frag_len"]
    rts = decode_rts(pdu.body)
    assert rts.flags == vec["rts_flags"] and len(rts.commands) == vec["num_commands"]
    assert encode_rts(rts) == pdu.body
    assert rts.name == vec["label"].split(",")[0]


def test_rts_fields_and_damage():
    a1 = decode_rts(decode_pdu(bytes.fromhex(VECTORS[0]["hex"])).body)
    assert [c.name for c in a1.commands] == ["Version", "Cookie", "Cookie", "ReceiveWindowSize"]
    assert a1.cookies()[0] == "3daff6b0-6277-0798-9b21-546eecf42253" and a1.commands[3].value == 262144
    ack = next(v for v in VECTORS if v["label"] == "FlowControlAckWithDestination")
    r = decode_rts(decode_pdu(bytes.fromhex(ack["hex"])).body)
    assert r.flag_names == ["OTHER_CMD"] and r.commands[1].value["bytes_received"] == 32914
    b2 = decode_rts(decode_pdu(bytes.fromhex(next(v["hex"] for v in VECTORS if v["label"].startswith("CONN/B2")))).body)
    assert b2.commands[-1].name == "ClientAddress" and b2.commands[-1].value == "0.0.0.0"
    with pytest.raises(RtsError):
        decode_rts(a1 and encode_rts(a1)[:-3])
    with pytest.raises(RtsError):
        decode_rts(b"\x00\x00\x01\x00\x63\x00\x00\x00")


def test_every_recorded_pdu_round_trips():
    n = 0
    for name in capture_synth.RPCH_FIXTURES:
        for line in (ROOT / "fixtures" / "rpch" / name).read_text().splitlines():
            row = json.loads(line)
            if "pdu_hex" in row:
                raw = bytes.fromhex(row["pdu_hex"])
                assert encode_pdu(decode_pdu(raw)) == raw
                n += 1
    assert n == 36


def test_synthetic_capture_is_what_the_builder_makes():
    assert PCAP.read_bytes() == capture_synth.rpch_pcap_bytes()


def test_channels_paired_and_decoded_down_to_rops():
    cap = read(PCAP.name, PCAP.read_bytes())
    assert [e.method for e in cap.exchanges] == ["RPC_IN_DATA", "RPC_OUT_DATA"] * 3 and not cap.problems
    items = rpch_items(cap)
    calls = [i for i in items if i["kind"] == "rpch-call"]
    assert [c["operation"] for c in calls] == ["EcDoConnectEx", "EcDoRpcExt2", "EcDoRpcExt2", "EcDoRpcExt2",
                                               "EcDoDisconnect", "EcDoConnectEx", "EcDoRpcExt2", "EcDoRpcExt2",
                                               "EcDoDisconnect"]
    assert len({c["stream"] for c in calls}) == 2          # two virtual connections, each IN + OUT channel
    assert calls[0]["request"]["user_dn"].endswith("/cn=u")
    assert calls[0]["response"]["display_name"] == "Recorder User" and calls[0]["response"]["return_value"] == 0
    assert [r["rop"] for r in calls[1]["rops"]] == ["RopLogon"] and calls[1]["rops"][0]["return_value"] == "0x00000000"
    assert [r["rop"] for r in calls[3]["rops"]] == ["RopGetRulesTable", "RopSetColumns", "RopQueryRows"]
    rts = [i["pdu"] for i in items if i["kind"] == "rpch-pdu" and i["pdu"].startswith("rts")]
    assert rts[:4] == ["rts CONN/A1", "rts CONN/B1", "rts CONN/A3", "rts CONN/C2"]
    # the third session binds with NTLM at level privacy: said, its calls never made it into the recording
    privacy = [i for i in items if i.get("auth", {}).get("level") == "privacy"]
    assert privacy and privacy[0]["pdu"] == "bind" and privacy[0]["auth"]["token"].startswith("NTLMSSP NEGOTIATE")


def test_decode_command_on_rpc_over_http(capsys):
    assert cli.main(["decode", str(PCAP), "--operation", "EcDoRpcExt2"]) == 0
    out = capsys.readouterr().out
    assert out.count("rpc/http call") == 5 and "RopLogon" in out and "RopQueryRows" in out
    assert "9 RPC/HTTP call(s)" in out.splitlines()[-1]
