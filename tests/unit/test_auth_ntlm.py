"""NTLM and SPNEGO acceptor (gateway/http/auth/ntlm.py, negotiate.py) on real bytes and pyspnego clients."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import spnego

from gateway.http.auth import negotiate, ntlm
from gateway.http.auth.credentials import nt_hash, parse_hex_hash

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
ZEEK = CAPTURES / "zeek-dcerpc-ntlm.pcapng"
EVOLUTION = CAPTURES / "evolution-ews-traces"


def _zeek_messages() -> dict[int, bytes]:
    """The NTLMSSP messages inside the DCE/RPC packets of the Zeek capture (type -> bytes to the packet end)."""
    data = ZEEK.read_bytes()
    out = {}
    for m in re.finditer(rb"NTLMSSP\x00", data):
        out[int.from_bytes(data[m.start() + 8:m.start() + 12], "little")] = data[m.start():m.start() + 700]
    return out


def test_nt_hash_is_md4_of_utf16le():
    # MS-NLMP 4.2.1 test vector: Password "Password" -> NTOWFv1 a4f49c406510bdcab6824ee7c30fd852
    assert nt_hash("Password").hex() == "a4f49c406510bdcab6824ee7c30fd852"
    assert parse_hex_hash("A4F49C406510BDCAB6824EE7C30FD852") == nt_hash("Password")
    assert parse_hex_hash("xyz") is None


def test_captured_negotiate_gets_a_challenge():
    msgs = _zeek_messages()
    assert set(msgs) == {1, 2, 3}
    ctx = ntlm.accept_negotiate(msgs[1], server_challenge=b"\x01" * 8)
    from gateway.http.auth.pyspnego import Challenge, NegotiateFlags
    ch = Challenge.unpack(ctx.challenge)
    assert ch.server_challenge == b"\x01" * 8
    assert ch.flags & NegotiateFlags.target_info and ch.flags & NegotiateFlags.ntlm
    assert not (ch.flags & NegotiateFlags.unicode and ch.flags & NegotiateFlags.oem)


def test_captured_authenticate_is_read_and_a_wrong_hash_refused():
    msgs = _zeek_messages()
    auth = ntlm.read_authenticate(msgs[3])
    assert auth.user_name                 # the capture's account name
    ctx = ntlm.accept_negotiate(msgs[1])  # a different server challenge: cannot match
    with pytest.raises(ntlm.NtlmError):
        ntlm.verify_authenticate(ctx, msgs[3], nt_hash("not the password"))


def test_message_types_and_garbage():
    msgs = _zeek_messages()
    assert [ntlm.message_type(msgs[t]) for t in (1, 2, 3)] == [1, 2, 3]
    assert ntlm.message_type(b"hello") is None
    with pytest.raises(ntlm.NtlmError):
        ntlm.accept_negotiate(msgs[2])            # a CHALLENGE is not a NEGOTIATE
    with pytest.raises(ntlm.NtlmError):
        ntlm.read_authenticate(msgs[1])
    with pytest.raises(ntlm.NtlmError):
        ntlm.read_authenticate(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\xff" * 8)


def test_evolution_trace_challenges_are_type_2():
    found = []
    for path in EVOLUTION.rglob("*"):
        if path.is_file():
            found += re.findall(r"NTLM (TlRMTVNTUA[A-Za-z0-9+/=]+)", path.read_text(errors="replace"))
    assert found
    for token in found[:20]:
        raw = base64.b64decode(token)
        assert ntlm.message_type(raw) == 2
        with pytest.raises(ntlm.NtlmError):
            ntlm.accept_negotiate(raw)


def _round_trip(password_given: str, password_known: str, monkeypatch, level: str = "3"):
    monkeypatch.setenv("LM_COMPAT_LEVEL", level)
    client = spnego.client("alice", password_given, hostname="exgate", protocol="ntlm")
    ctx = ntlm.accept_negotiate(client.step())
    token = client.step(ctx.challenge)
    return ntlm.verify_authenticate(ctx, token, nt_hash(password_known)), token, ctx


def test_ntlmv2_right_and_wrong(monkeypatch):
    result, _, _ = _round_trip("alicepw", "alicepw", monkeypatch)
    assert (result.user_name, result.version) == ("alice", "NTLMv2")
    with pytest.raises(ntlm.NtlmError):
        _round_trip("wrong", "alicepw", monkeypatch)


def test_ntlmv1_with_extended_session_security(monkeypatch):
    result, _, _ = _round_trip("alicepw", "alicepw", monkeypatch, level="1")
    assert result.version == "NTLMv1-ESS"
    with pytest.raises(ntlm.NtlmError):
        _round_trip("wrong", "alicepw", monkeypatch, level="1")


def test_plain_ntlmv1_is_refused(monkeypatch):
    # LM compatibility level 0: NTLMv1 without extended session security (crackable), refused
    with pytest.raises(ntlm.NtlmError, match="extended session security"):
        _round_trip("alicepw", "alicepw", monkeypatch, level="0")


def test_tampered_mic_is_refused(monkeypatch):
    _, token, ctx = _round_trip("alicepw", "alicepw", monkeypatch)
    bad = token[:72] + bytes([token[72] ^ 1]) + token[73:]
    with pytest.raises(ntlm.NtlmError, match="MIC"):
        ntlm.verify_authenticate(ctx, bad, nt_hash("alicepw"))


def test_authenticate_replayed_against_a_new_challenge_is_refused(monkeypatch):
    _, token, _ = _round_trip("alicepw", "alicepw", monkeypatch)
    fresh = ntlm.accept_negotiate(spnego.client("alice", "alicepw", protocol="ntlm").step())
    with pytest.raises(ntlm.NtlmError):
        ntlm.verify_authenticate(fresh, token, nt_hash("alicepw"))


def test_spnego_wrapping_ntlm_with_mech_list_mic(monkeypatch):
    monkeypatch.setenv("LM_COMPAT_LEVEL", "3")
    client = spnego.client("alice", "alicepw", hostname="exgate", protocol="negotiate")
    first = negotiate.read_initial(client.step())
    assert first.spnego is not None and first.ntlm_token is not None
    ctx = ntlm.accept_negotiate(first.ntlm_token)
    answer = client.step(negotiate.wrap_challenge(first.spnego, ctx.challenge))
    ntlm_token, mic = negotiate.read_response(first.spnego, answer)
    result = ntlm.verify_authenticate(ctx, ntlm_token, nt_hash("alicepw"))
    final = negotiate.finish(first.spnego, result, mic)
    client.step(final)                 # pyspnego checks our mechListMIC here
    assert client.complete
    if mic is not None:
        with pytest.raises(negotiate.NegotiateError):
            negotiate.finish(first.spnego, result, bytes(16))


def test_bare_ntlm_under_negotiate():
    token = spnego.client("alice", "alicepw", protocol="ntlm").step()
    first = negotiate.read_initial(token)
    assert first.spnego is None and first.ntlm_token == token


def test_spnego_without_ntlm_is_refused():
    from gateway.http.auth.pyspnego import NegTokenInit
    krb_only = NegTokenInit(mech_types=["1.2.840.113554.1.2.2"], mech_token=b"\x60\x00").pack()
    with pytest.raises(negotiate.NegotiateError):
        negotiate.read_initial(krb_only)


@pytest.mark.parametrize("session_key", [b"", b"\x00" * 16])
def test_mech_list_mic_without_signing_is_refused_not_a_crash(session_key):
    # A NegTokenResp with a mechListMIC after an AUTHENTICATE that negotiated no signing (no key,
    # no NTLMSSP_NEGOTIATE_SIGN): the MIC cannot be checked, so the sign-in fails with 401, never
    # ValueError("Invalid key size (0) for RC4") and HTTP 500.
    state = negotiate.SpnegoState([ntlm.NTLM_OID])
    result = ntlm.NtlmResult("alice", "", "", 0, session_key, "NTLMv2")
    with pytest.raises(negotiate.NegotiateError, match="signing"):
        negotiate.finish(state, result, b"\x01" + b"\x00" * 15)
