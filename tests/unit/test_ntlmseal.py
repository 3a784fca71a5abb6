"""NTLM session security for DCE/RPC (protocols/rpch/ntlmseal.py): MS-NLMP 4.2.4's NTLMv2 vectors, pyspnego's
primitives as a second opinion, and captures/impacket-dcerpc-sealed.pcap (impacket sealing at auth level
privacy, EXAMPLE\\u with password ``p``; see tests/unit/sealed_synth.py): every PDU unseals, its signature
verifies, the clear stubs are ruler's recorded EMSMDB stubs, a wrong password is said, and sealing the clear
stubs again gives the captured bytes."""
from __future__ import annotations

from pathlib import Path

import pytest

from protocols.capture import read
from protocols.rpch import dcerpc, ntlmseal
from protocols.rpch.ntlmseal import (CLIENT_SEAL, CLIENT_SIGN, Challenge, Direction, NtlmSealError, WrongPassword,
                                     derive_keys, hmac_md5, md4, ntowfv2, rc4k, sealkey, signkey)

from . import sealed_synth

ROOT = Path(__file__).resolve().parents[2]
PCAP = ROOT / "captures" / "impacket-dcerpc-sealed.pcap"

# MS-NLMP 4.2.4 (NTLMv2): User "User", UserDom "Domain", Passwd "Password", ServerChallenge 0123456789abcdef,
# ClientChallenge aa*8, Time 0, RandomSessionKey 55*16, AV pairs NbDomainName "Domain", NbComputerName "Server"
SPEC_FLAGS = 0xE28A8233
SPEC_AV = bytes.fromhex("02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000")
SPEC_TEMP = bytes.fromhex("0101000000000000") + bytes(8) + b"\xaa" * 8 + bytes(4) + SPEC_AV + bytes(4)


def test_md4_and_ntowf():
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"           # RFC 1320 A.5
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert md4(b"1234567890" * 8).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"
    assert ntowfv2("Password", "User", "Domain").hex() == "0c868a403bfd7a93a3001ef22ef02e3f"


def test_spec_ntlmv2_keys_and_wrap():
    """4.2.4.1-4.2.4.4: NTProofStr, SessionBaseKey, EncryptedRandomSessionKey, SEALKEY/SIGNKEY, SEAL("Plaintext")."""
    rk = ntowfv2("Password", "User", "Domain")
    proof = hmac_md5(rk, bytes.fromhex("0123456789abcdef") + SPEC_TEMP)
    assert proof.hex() == "68cd0ab851e51c96aabc927bebef6a1c"
    erk = rc4k(hmac_md5(rk, proof), b"\x55" * 16)
    assert erk.hex() == "c5dad2544fc9799094ce1ce90bc9d03e"
    auth = ntlmseal.Authenticate(SPEC_FLAGS, bytes(24), proof + SPEC_TEMP, "Domain", "User", "COMPUTER", erk)
    keys = derive_keys(Challenge(SPEC_FLAGS, bytes.fromhex("0123456789abcdef")), auth, "Password")
    assert keys.nt_proof_ok and keys.session_base_key.hex() == "8de40ccadbc14a82f15cb0ad0de95ca3"
    assert keys.exported_session_key == b"\x55" * 16
    assert keys.client_sealing_key.hex() == "59f600973cc4960a25480a7c196e4c58"
    assert keys.client_signing_key.hex() == "4788dc861b4782f35d43fd98fe1a2d39"
    d = Direction(keys.client_signing_key, keys.client_sealing_key, True)
    sealed, sig = d.seal("Plaintext".encode("utf-16-le"), 0, lambda m: m)
    assert sealed.hex() == "54e50165bf1936dc996020c1811b0f06fb5f"
    assert sig.hex() == "010000007fb38ec5c55d497600000000"


def test_primitives_agree_with_pyspnego():
    from gateway.http.auth.pyspnego import ntowfv1, rc4init, sealkey as sp_sealkey, signkey as sp_signkey
    for pw in ("p", "Password", "pässwörd" * 9):
        assert ntlmseal.ntowfv1(pw) == ntowfv1(pw)
    key = bytes(range(16))
    for flags in (SPEC_FLAGS, SPEC_FLAGS & ~0x20000000, SPEC_FLAGS & ~0xA0000000):
        assert sealkey(flags, key, CLIENT_SEAL) == sp_sealkey(flags, key, "initiate")
    assert signkey(key, CLIENT_SIGN) == sp_signkey(SPEC_FLAGS, key, "initiate")
    assert rc4k(key, b"x" * 300) == rc4init(key).update(b"x" * 300)


def _conversations():
    cap = read(PCAP.name, PCAP.read_bytes())
    return [dcerpc.converse(st.client.data, st.server.data) for st in cap.streams]


def _tokens(conv):
    challenge = next(p.auth.value for _w, _o, p in conv.events if p.ptype == 12)
    authenticate = next(p.auth.value for _w, _o, p in conv.events          # auth3, or SPNEGO's alter_context
                        if p.ptype in (14, 16) and ntlmseal.find_ntlm(p.auth.value, 3))
    return challenge, authenticate


def _in_order(conv):
    return sorted(((w, p) for w, _o, p in conv.events if p.ptype in (0, 2, 3)),
                  key=lambda e: (e[1].call_id, e[0] != "client"))


def test_sealed_capture_unseals_and_verifies():
    emsmdb, nspi, emsmdb_v1, signed, spnego = _conversations()
    for conv, version in ((emsmdb, "NTLMv2"), (nspi, "NTLMv2"), (emsmdb_v1, "NTLMv1-ESS"), (signed, "NTLMv2"),
                          (spnego, "NTLMv2")):
        session = ntlmseal.start_session(*_tokens(conv), "p")
        assert session.user == "EXAMPLE\\u" and session.keys.version == version
        for who, pdu in _in_order(conv):
            assert pdu.encrypted if conv is not signed else pdu.signed
            u = ntlmseal.open_pdu(session, who, pdu)
            # impacket signs the whole PDU; pyspnego's GSS_WrapEx (SPNEGO, no header signing) the stub only
            assert u.verified and u.signed_part == ("stub" if conv is spnego else "header")
    # the EMSMDB stubs in clear are ruler's, both ways, under NTLMv2 and NTLMv1-ESS
    ruler = [s for _op, q, r in sealed_synth.ruler_calls() for s in (q, r)]
    for conv in (emsmdb, emsmdb_v1, signed, spnego):
        session = ntlmseal.start_session(*_tokens(conv), "p")
        assert [ntlmseal.open_pdu(session, w, p).stub for w, p in _in_order(conv)] == ruler


def test_wrong_password_is_said():
    conv, _nspi, v1, _signed, _spnego = _conversations()
    # NTLMv1-ESS has no NTProofStr to check (its response needs DES): the signatures say it
    session = ntlmseal.start_session(*_tokens(v1), "P")
    assert not any(ntlmseal.open_pdu(session, w, p).verified for w, p in _in_order(v1))
    with pytest.raises(WrongPassword, match=r"wrong password for EXAMPLE\\u \(signature does not verify"):
        ntlmseal.start_session(*_tokens(conv), "P")
    # given the right NTOWF but keys that are not the capture's, every signature fails
    session = ntlmseal.start_session(*_tokens(conv), "p")
    session.keys.client_signing_key = bytes(16)
    session = ntlmseal.Session(session.keys, session.user)
    assert not any(ntlmseal.open_pdu(session, w, p).verified for w, p in _in_order(conv) if w == "client")


def test_reseal_gives_the_captured_bytes():
    for conv in _conversations():
        reader = ntlmseal.start_session(*_tokens(conv), "p")
        writer = ntlmseal.start_session(*_tokens(conv), "p")
        for who, pdu in _in_order(conv):
            u = ntlmseal.open_pdu(reader, who, pdu)
            assert ntlmseal.seal_pdu(writer, who, pdu, u.stub, u.pad, u.seq_num, u.signed_part) \
                == dcerpc.encode_pdu(pdu)


def test_bad_input_is_a_clear_error():
    with pytest.raises(NtlmSealError, match="no NTLM CHALLENGE"):
        ntlmseal.start_session(b"junk", b"junk", "p")
    emsmdb = _conversations()[0]
    challenge, authenticate = _tokens(emsmdb)
    with pytest.raises(NtlmSealError, match="runs past"):
        ntlmseal.start_session(challenge, authenticate[:80], "p")
    with pytest.raises(NtlmSealError, match="bind PDU has no signed or sealed stub"):
        ntlmseal.open_pdu(ntlmseal.start_session(challenge, authenticate, "p"), "client",
                          next(p for _w, _o, p in emsmdb.events if p.ptype == 11))


def _calls(password=None, credentials=()):
    from gateway.replay.mapi import dcerpc_items
    from protocols.rpch.unseal import password_lookup
    cap = read(PCAP.name, PCAP.read_bytes())
    items = dcerpc_items(cap, password_lookup(password, list(credentials)))
    return [i for i in items if i["kind"] == "dcerpc-call"], cap.problems


def _split(calls):
    return ([c for c in calls if c["protection"] == "encrypted"], [c for c in calls if c["protection"] == "signed"])


def test_decode_sealed_calls_down_to_rops():
    """With the password, the sealed EMSMDB calls decode as ruler's unsealed session does (test_rpch)."""
    for kw in ({"password": "p"}, {"credentials": ["EXAMPLE\\u:p"]}, {"credentials": ["U:p"]}):
        calls, problems = _calls(**kw)
        assert not problems
        by_conn: dict = {}
        for c in calls:
            by_conn.setdefault(c["conn"], []).append(c)
        ruler = ["EcDoConnectEx", "EcDoRpcExt2", "EcDoRpcExt2", "EcDoRpcExt2", "EcDoDisconnect"]
        for conn in (1, 3, 4, 5):        # NTLMv2, NTLMv1-ESS, NTLMv2 signed only, SPNEGO
            ems = by_conn[conn]
            assert [c["operation"] for c in ems] == ruler
            assert ems[0]["request"]["user_dn"].endswith("/cn=u")
            assert ems[0]["response"]["display_name"] == "Recorder User"
            assert [r["rop"] for r in ems[1]["rops"]] == ["RopLogon"]
            assert ems[1]["rops"][0]["return_value"] == "0x00000000"
            assert [r["rop"] for r in ems[3]["rops"]] == ["RopGetRulesTable", "RopSetColumns", "RopQueryRows"]
        assert by_conn[5][0]["auth"] == {"type": "negotiate (SPNEGO)", "level": "privacy"}
        assert all(c["signature"] == "signatures verified" for c in calls)
        sealed, signed = _split(calls)
        assert len(sealed) == 37 and all(c["decrypted"] for c in sealed)
        assert len(signed) == 5 and all("decrypted" not in c for c in signed)


def test_decode_sealed_without_or_with_a_wrong_password():
    calls, problems = _calls()
    sealed, signed = _split(calls)
    assert not problems and len(sealed) == 37 and len(signed) == 5
    assert all(c["stub"].startswith("sealed (give --password to decrypt)") and "rops" not in c for c in sealed)
    assert all("stub" not in c and "signature" not in c for c in signed)    # signed only: readable as it is
    calls, problems = _calls("wrong")
    sealed, signed = _split(calls)
    assert len(problems) == 5 and all("wrong password (signature does not verify) for EXAMPLE\\u" in str(p)
                                      for p in problems)
    assert all(c["stub"].startswith("wrong password (signature does not verify)") for c in sealed)
    assert all(c["signature"].startswith("wrong password (signature does not verify)") for c in signed)
    calls, problems = _calls(credentials=["OTHER\\u:p"])          # another domain's u: no password for EXAMPLE\u
    assert all(c["stub"].startswith("sealed (give --password") for c in _split(calls)[0])


def test_decode_command_with_password(capsys):
    from gateway import cli
    assert cli.main(["decode", str(PCAP), "--operation", "EcDoRpcExt2", "--password", "p"]) == 0
    out = capsys.readouterr().out
    assert out.count("EMSMDB EcDoRpcExt2 (NTLM, privacy) as EXAMPLE\\u") == 6 and "RopLogon" in out
    assert "RopGetRulesTable" in out and "sealed" not in out
    assert cli.main(["decode", str(PCAP), "--endpoint", "NSPI", "--credentials", "example\\U:p"]) == 0
    out = capsys.readouterr().out
    assert 'rows=[{"PidTagDisplayName (0x3001001F)":"Bob Example"' in out and "out_mids=[16]" in out
    assert cli.main(["decode", str(PCAP), "--operation", "EcDoConnectEx"]) == 0
    assert "sealed (give --password to decrypt)" in capsys.readouterr().out
    assert cli.main(["decode", str(PCAP), "--password", "q"]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("wrong password (signature does not verify) for EXAMPLE\\u") == 5
    assert cli.main(["decode", str(PCAP), "--credentials", "no-colon"]) == 2
    assert "expected [DOMAIN\\]user:password" in capsys.readouterr().err


RPCH_LOG = ROOT / "fixtures" / "rpch" / "sealed_rpch_synth.jsonl"


def test_sealed_rpc_over_http_log_is_what_the_builder_makes():
    assert RPCH_LOG.read_text() == sealed_synth.rpch_log()


def test_sealed_rpc_over_http_decodes_with_the_password():
    """The same sealed PDUs inside RPC/HTTP channels (rpch_items, as ruler's sessions are read)."""
    from gateway.replay.decoding import decode_file
    dec = decode_file(RPCH_LOG, password_for=lambda user: "p" if user == "EXAMPLE\\u" else None)
    calls = [i for i in dec.items if i.get("kind") == "rpch-call"]
    assert [c["operation"] for c in calls] == ["EcDoConnectEx", "EcDoRpcExt2", "EcDoRpcExt2", "EcDoRpcExt2",
                                               "EcDoDisconnect"]
    assert all(c["decrypted"] and c["signature"] == "signatures verified" for c in calls) and not dec.faults
    assert [r["rop"] for r in calls[1]["rops"]] == ["RopLogon"]
    assert [r["rop"] for r in calls[3]["rops"]] == ["RopGetRulesTable", "RopSetColumns", "RopQueryRows"]
    plain = decode_file(RPCH_LOG)
    assert all(c["stub"].startswith("sealed (give --password to decrypt)")
               for c in plain.items if c.get("kind") == "rpch-call")


def test_password_not_tried_where_nothing_is_sealed():
    """captures/zeek-dcerpc-ntlm.pcapng binds with NTLM at level privacy but makes no call: no key is needed, so
    a password (wrong here: BLACKCLOVER\\Administrator's is not known) is not a decode error."""
    from gateway.replay.decoding import decode_file
    dec = decode_file(ROOT / "captures" / "zeek-dcerpc-ntlm.pcapng", password_for=lambda user: "x")
    assert not dec.faults


def test_damaged_ntlm_messages_are_clear_errors():
    """CHALLENGE/AUTHENTICATE tokens with bytes flipped or cut: a session, or NtlmSealError, nothing else."""
    import random
    rnd = random.Random(14)
    challenge, authenticate = _tokens(_conversations()[0])
    for _ in range(300):
        ch, au = bytearray(challenge), bytearray(authenticate)
        target = rnd.choice((ch, au))
        for _ in range(rnd.randint(1, 3)):
            target[rnd.randrange(len(target))] = rnd.randrange(256)
        if rnd.random() < 0.3:
            del target[rnd.randrange(len(target)):]
        try:
            ntlmseal.start_session(bytes(ch), bytes(au), "p")
        except NtlmSealError:
            pass
