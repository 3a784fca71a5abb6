"""Issue 14: `exgate decode` works on every capture and recorded session the project holds.

Every file under captures/ is a unit of tests/corpus.py (a file, or a directory read as one capture),
inside one, or listed in NOT_CAPTURES with the reason; so is every recording among the fixtures. Each unit goes
through ``gateway.replay.decoding.decode_file``, the function `exgate decode` runs, and:

- nothing could not be decoded: no reader error, no region of a layer exgate implements left
  undecoded (KNOWN_UNDECODED lists the one the client itself got wrong, with the reason); traffic
  that is not Exchange's (the Outlook 2003 capture's web, NetBIOS, RDP) is not counted;
- every body round-trips through the project's codecs: MAPI/HTTP request and response bodies
  (and their PROCESSING/DONE framing), NSPI bodies, RPC_HEADER_EXT chains and ROP buffers, DCE/RPC
  PDUs, RTS PDUs, EcDoRpc/EcDoRpcExt2/NspiBind stubs: ``encode(decode(b)) == b``. EWS is XML, whose
  bytes no XML tool keeps (quote style, namespace declarations' places): for EWS "round-trips"
  means the project's envelope parser reads the body, and lxml's serialisation of the parsed tree
  parses again to the same canonical XML (C14N) — the infoset survives, not the bytes.

The test-vector lists among the fixtures (single buffers, not recordings) are refused by decode with
a message saying so and are round-tripped here directly.
"""
from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from gateway import cli
from gateway.replay import mapi as rmapi
from gateway.replay.decoding import Unreadable, decode_file
from gateway.replay.summary import endpoint
from protocols.ews.envelope import parse_request, parse_response
from protocols.mapihttp import emsmdb as mh_emsmdb
from protocols.mapihttp.framing import decode_stream, still_held
from protocols.nspi import codec as nspi
from protocols.rops import decode_ext_buffer, decode_request_buffer, decode_response_buffer, encode_buffer
from protocols.rops.rpc_ext import reencode_piece
from protocols.rpch import dcerpc, emsmdb, rts
from protocols.rpch import nspi as rpc_nspi
from protocols.rpch import nspicalls
from protocols.rpch.unseal import password_lookup
from tests.corpus import (CAPTURE_PASSWORDS, FIXTURES_NOT_RECORDINGS, KEYLOGS, NOT_CAPTURES, RECORDING_FOLDERS,
                          UNITS, VECTOR_LISTS)
from tests.stacks import require_program

ROOT = Path(__file__).resolve().parents[2]

# the lists of what to decode are in tests/corpus.py (test_replay_corpus replays the same units)
OPTIONS = {**{u: {"keylog": k} for u, k in KEYLOGS.items()},
           **{u: {"password_for": password_lookup(pw)} for u, pw in CAPTURE_PASSWORDS.items()}}

# ruler 2.4.0's `search` sends a ContentRestriction (03 01 00 01 1f 00 00 10 ...) straight after a
# RopOpenFolder, with no ROP around it: read as ROPs, those bytes end in RopId 0x74 with no codec.
# The recorder that answered it said so too ("answered unknown with ecNotSupported").
_RULER_SEARCH = "exchange #41 ", "Rop0x74 (RopId 0x74) has no codec"
KNOWN_UNDECODED = {
    "captures/ruler-mapihttp.pcap": [_RULER_SEARCH],
    "captures/ruler-mapihttp.pcapng": [_RULER_SEARCH],
    "captures/ipfrag-mapihttp.pcapng": [_RULER_SEARCH],
    "fixtures/mapihttp/ruler_exchanges.json": [_RULER_SEARCH],
}
BINARY = [u for u in UNITS if u.endswith((".pcap", ".pcapng", ".dat"))]


def _known(unit: str, fault: str) -> bool:
    return any(all(part in fault for part in k) for k in KNOWN_UNDECODED.get(unit, []))


def test_every_capture_and_recording_is_accounted_for():
    units = [ROOT / u for u in UNITS]
    left = []
    for f in sorted((ROOT / "captures").rglob("*")):
        if not f.is_file() or "__pycache__" in f.parts:
            continue
        rel = f.relative_to(ROOT).as_posix()
        if rel in NOT_CAPTURES or any(f == u or u in f.parents for u in units):
            continue
        left.append(rel)
    assert not left, f"files under captures/ no test decodes (add them to UNITS or NOT_CAPTURES): {left}"
    listed = set(UNITS) | set(VECTOR_LISTS) | set(FIXTURES_NOT_RECORDINGS)
    left = [f.relative_to(ROOT).as_posix() for d in RECORDING_FOLDERS for f in sorted((ROOT / d).rglob("*"))
            if f.is_file() and f.relative_to(ROOT).as_posix() not in listed]
    assert not left, f"fixtures no test decodes (add them to UNITS, VECTOR_LISTS or FIXTURES_NOT_RECORDINGS): {left}"
    for u in list(UNITS) + list(NOT_CAPTURES) + list(VECTOR_LISTS) + list(FIXTURES_NOT_RECORDINGS):
        assert (ROOT / u).exists(), u


# -- round trips -------------------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.done = Counter()
        self.failed: list[str] = []

    def same(self, what: str, where: str, got: bytes, want: bytes) -> None:
        self.done[what] += 1
        if got != want:
            n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            self.failed.append(f"{where}: {what} does not round-trip (first difference at byte {n}, "
                               f"{len(got)} vs {len(want)} bytes)")

    def run(self, what: str, where: str, fn) -> None:
        try:
            fn()
        except Exception as exc:        # noqa: BLE001 - a codec failing is what is reported
            self.failed.append(f"{where}: {what}: {type(exc).__name__}: {exc}")


def _ews_xml(c: Checks, where: str, body: bytes, parse) -> None:
    def go():
        parse(body)
        tree = etree.fromstring(body)
        again = etree.fromstring(etree.tostring(tree))
        c.same("ews", where, etree.tostring(again, method="c14n"), etree.tostring(tree, method="c14n"))
    c.run("ews", where, go)


def _ext_chain(c: Checks, where: str, buf: bytes) -> list[bytes]:
    pieces = decode_ext_buffer(buf)
    if not any(p.header.compressed for p in pieces):        # our LZ77 output need not be the sender's
        c.same("ext-chain", where, b"".join(reencode_piece(p) for p in pieces), buf)
    return [p.payload for p in pieces]


def _rop_buffers(c: Checks, where: str, req_buf: bytes | None, resp_bufs: list[bytes]) -> None:
    reqs = None
    if req_buf is not None:
        reqs = decode_request_buffer(req_buf)
        c.same("rop-buffer", where + " request", encode_buffer(reqs.rops, reqs.handles), req_buf)
    for i, buf in enumerate(resp_bufs):
        resp = decode_response_buffer(buf, reqs.rops if reqs and i == 0 else ())
        c.same("rop-buffer", where + f" response {i}", encode_buffer(resp.rops, resp.handles), buf)


def _mapihttp(c: Checks, where: str, ex, kind: str) -> None:
    rtype = ex.request_header("X-RequestType") or ""
    is_nspi = kind == "mapihttp-nspi" and rtype.lower() != "ping"      # PING: no body on either endpoint
    codec = nspi if is_nspi else mh_emsmdb
    label = "nspi" if is_nspi else "mapihttp"
    req = codec.decode_request(rtype, ex.request_content)
    c.same(label, where + " request", req.encode(), ex.request_content)
    resp = None
    if ex.status == 200 and ex.response_body:
        body = ex.response_content
        if still_held(body):
            body = b""                  # a NotificationWait the client gave up on: no DONE, no body
        elif body.startswith((b"PROCESSING", b"PENDING", b"DONE")):
            s = decode_stream(body)
            c.same("framing", where, s.encode(), body)
            body = s.body
        if body:
            resp = codec.decode_response(rtype, body)
            c.same(label, where + " response", resp.encode(), body)
    if not is_nspi and rtype.lower() == "execute":
        req_payloads = _ext_chain(c, where + " request", req.rop_buffer)
        resp_payloads = _ext_chain(c, where + " response", resp.rop_buffer) if getattr(resp, "rop_buffer", None) else []
        _rop_buffers(c, where, req_payloads[0], resp_payloads)


def _pdus(c: Checks, where: str, data: bytes) -> None:
    for cut in dcerpc.split_pdus(data):
        if cut.pdu is None:
            continue                    # said by decode (a fault unless it is the end of an RPC/HTTP channel)
        c.same("dcerpc-pdu", f"{where} offset {cut.offset}", dcerpc.encode_pdu(cut.pdu), cut.raw)
        if cut.pdu.ptype == 20:
            c.same("rts", f"{where} offset {cut.offset}", rts.encode_rts(rts.decode_rts(cut.pdu.body)), cut.pdu.body)


def _calls(c: Checks, conn) -> None:
    for call in conn.conv.calls:
        where = f"{conn.name} call {call.call_id}"
        if (call.protection == "encrypted" and not call.decrypted) or call.interface_name not in ("EMSMDB", "NSPI"):
            continue
        q, r = call.request_stub, call.response_stub
        if call.interface_name == "EMSMDB" and call.opnum == 2:
            req = emsmdb.decode_ecdorpc_request(q)
            c.same("stub", where, emsmdb.encode_ecdorpc_request(req), q)
            resp = emsmdb.decode_ecdorpc_response(r).rop_buffer if r else None
            c.run("rop-buffer", where, lambda: _rop_buffers(c, where, req.rop_buffer, [resp] if resp else []))
        elif call.interface_name == "EMSMDB" and call.opnum == 11:
            req = emsmdb.decode_ecdorpcext2_request(q)
            c.same("stub", where, emsmdb.encode_ecdorpcext2_request(req), q)
            resp = emsmdb.decode_ecdorpcext2_response(r) if r else None
            payloads = _ext_chain(c, where, req.rgb_in)
            out = _ext_chain(c, where + " answer", resp.rgb_out) if resp and resp.rgb_out else []
            _rop_buffers(c, where, payloads[0], out)
        elif call.interface_name == "NSPI" and call.opnum in nspicalls.REQUESTS:
            c.same("nspi-stub", where, nspicalls.decode_request(call.opnum, q).encode(), q)
            if r:
                c.same("nspi-stub", where + " answer", nspicalls.decode_response(call.opnum, r).encode(), r)
        elif call.interface_name == "NSPI" and call.opnum == 0:
            c.same("stub", where, rpc_nspi.encode_bind_request(rpc_nspi.decode_bind_request(q)), q)
            if r:
                c.same("stub", where + " answer", rpc_nspi.encode_bind_response(rpc_nspi.decode_bind_response(r)), r)


def round_trips(dec) -> Checks:
    c = Checks()
    cap = dec.cap
    for ex in cap.exchanges:
        where = f"exchange #{ex.seq} ({ex.source})"
        kind = endpoint(ex)
        if kind == "ews" and ex.method == "POST":
            _ews_xml(c, where + " request", ex.request_content, parse_request)
            if ex.status not in (None, 401) and ex.response_content.strip():
                _ews_xml(c, where + " answer", ex.response_content, parse_response)
        elif kind in ("mapihttp-emsmdb", "mapihttp-nspi") and ex.method == "POST" and ex.status != 401 \
                and ex.request_header("X-RequestType"):
            c.run(kind, where, lambda ex=ex, kind=kind, where=where: _mapihttp(c, where, ex, kind))
        elif ex.method in ("RPC_IN_DATA", "RPC_OUT_DATA"):
            _pdus(c, where + " request body", ex.request_body)
            _pdus(c, where + " answer body", ex.response_body)
    for st in cap.streams:
        if st.client.data[:1] == b"\x05" or st.server.data[:1] == b"\x05":
            _pdus(c, f"TCP stream {st.index} client", st.client.data)
            _pdus(c, f"TCP stream {st.index} server", st.server.data)
    pw = dec.password_for
    conns = (rmapi.tcp_connections(cap, pw) if cap.format in ("pcap", "pcapng") else []) + rmapi.rpch_connections(cap, pw)
    for conn in conns:
        c.run("stub", conn.name, lambda conn=conn: _calls(c, conn))
    for s in cap.meta.get("stubs", []):
        req = emsmdb.decode_ecdorpcext2_request(s.data)
        c.same("stub", s.operation, emsmdb.encode_ecdorpcext2_request(req), s.data)
        payloads = _ext_chain(c, s.operation, req.rgb_in)
        c.run("rop-buffer", s.operation, lambda p=payloads: _rop_buffers(c, s.operation, p[0], []))
    return c


# -- the corpus ---------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", list(UNITS))
def test_unit_decodes_and_round_trips(unit, capsys):
    opts = OPTIONS.get(unit, {})
    if "keylog" in opts:
        require_program("tshark", "it decrypts the TLS capture")
    dec = decode_file(ROOT / unit, **opts)
    assert dec.items, f"{unit}: nothing decoded"
    faults = [f for f in dec.faults if not _known(unit, f)]
    assert not faults, f"{unit}: not decoded:\n" + "\n".join(faults)
    for k in KNOWN_UNDECODED.get(unit, []):
        assert any(all(part in f for part in k) for f in dec.faults), f"{unit}: known undecoded region gone: {k}"
    checks = round_trips(dec)
    assert not checks.failed, f"{unit}:\n" + "\n".join(checks.failed[:20])
    missing = UNITS[unit] - set(checks.done)
    assert not missing, f"{unit}: nothing of {missing} was round-tripped ({dict(checks.done)})"
    # the command says the same: exit 0, or 1 for exactly the known region
    args = ["decode"] + (["--keylog", str(opts["keylog"])] if "keylog" in opts else []) + [str(ROOT / unit)]
    assert cli.main(args) == (1 if unit in KNOWN_UNDECODED else 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err


@pytest.mark.parametrize("unit", list(VECTOR_LISTS))
def test_vector_lists_are_refused_by_decode_and_round_trip_here(unit, capsys):
    with pytest.raises(Unreadable, match="a list of test vectors"):
        decode_file(ROOT / unit)
    assert cli.main(["decode", str(ROOT / unit)]) == 2
    assert "not a recording of exchanges" in capsys.readouterr().err
    doc = json.loads((ROOT / unit).read_text())
    c = Checks()
    if unit.endswith("ruler_execute.json"):
        for v in doc["vectors"]:
            body = bytes.fromhex(v["execute_request_body_hex"])
            req = mh_emsmdb.decode_request("Execute", body)
            c.same("mapihttp", v["id"], req.encode(), body)
            assert req.rop_buffer == bytes.fromhex(v["request_rop_buffer_hex"])
            resp = _ext_chain(c, v["id"], bytes.fromhex(v["response_rop_buffer_hex"]))
            _rop_buffers(c, v["id"], _ext_chain(c, v["id"], req.rop_buffer)[0], resp)
    elif unit.endswith("rts_vectors.json"):
        for v in doc:
            _pdus(c, v["label"], bytes.fromhex(v["hex"]))
    else:
        for v in doc:
            raw = bytes.fromhex(v["hex"].replace(" ", ""))
            if v["direction"] == "request":
                c.run("rop", v["id"], lambda raw=raw, v=v: c.same(
                    "rop", v["id"], (lambda b: encode_buffer(b.rops, b.handles))(
                        decode_request_buffer((len(raw) + 2).to_bytes(2, "little") + raw + b"\0\0\0\0")),
                    (len(raw) + 2).to_bytes(2, "little") + raw + b"\0\0\0\0"))
    assert not c.failed, "\n".join(c.failed)
    assert c.done


# -- cut-off copies -----------------------------------------------------------------------------

@pytest.mark.parametrize("unit", BINARY)
def test_truncated_copy_decodes_what_it_can(unit, tmp_path, capsys):
    data = (ROOT / unit).read_bytes()
    cut = tmp_path / Path(unit).name
    cut.write_bytes(data[:int(len(data) * 0.6)])
    opts = OPTIONS.get(unit, {})
    dec = decode_file(cut, **opts) if "keylog" not in opts or shutil.which("tshark") else decode_file(cut)
    assert dec.faults, f"{unit}: a cut-off copy decoded without a word"
    assert any("truncated" in f or "cut off" in f or "ends inside" in f for f in dec.faults), dec.faults
    status = cli.main(["decode", str(cut)])
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in err and "(see above)" in out
    if unit.endswith((".pcap", ".pcapng")) and "tls" not in unit:
        assert dec.items, f"{unit}: nothing decoded from the first 60%"


@pytest.mark.parametrize("unit", BINARY)
def test_corrupted_copy_gives_a_clear_message(unit, tmp_path, capsys):
    """64 bytes overwritten in the middle: whatever they hit, decode goes on and never shows a traceback."""
    data = bytearray((ROOT / unit).read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = b"\xff" * 64
    bad = tmp_path / Path(unit).name
    bad.write_bytes(bytes(data))
    status = cli.main(["decode", str(bad)])
    out, err = capsys.readouterr()
    assert status in (0, 1, 2) and "Traceback" not in err + out
    if status == 2:
        assert "exgate: " in err            # refused with its reason
    else:
        assert out.splitlines()[-1].startswith("-- ")
