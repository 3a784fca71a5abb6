"""NTLM acceptor (MS-NLMP), sans-I/O, on pyspnego's message codecs and crypto primitives.

pyspnego's own acceptor reads NT hashes from a file named by an environment
variable; the gateway finds them asynchronously (directory or state
database), so this module runs the two acceptor steps itself and leaves the
message layouts and every cryptographic function to pyspnego:

1. ``accept_negotiate(NEGOTIATE)`` -> a server context holding the
   CHALLENGE_MESSAGE to send (MS-NLMP 3.2.5.1.1).
2. ``read_authenticate(AUTHENTICATE)`` gives the user and domain names so the
   caller can fetch that user's NT hash; ``verify_authenticate(ctx, msg,
   nt_hash)`` then checks the response (MS-NLMP 3.2.5.1.2):
   NTLMv2 (NTProofStr, 3.3.2) or NTLMv1 with extended session security
   (3.3.1). Plain NTLMv1 and LM-only responses are refused: they are
   crackable from a capture. When the client sent a MIC (MsvAvFlags 0x2),
   it is checked too.
"""
from __future__ import annotations

import hmac
import os
import time
from dataclasses import dataclass

from .pyspnego import (
    compute_response_v1,
    hmac_md5,
    ntowfv2,
    rc4k,
    Authenticate,
    AvFlags,
    AvId,
    Challenge,
    FileTime,
    Negotiate,
    NegotiateFlags,
    NTClientChallengeV2,
    TargetInfo,
    Version,
)

SIGNATURE = b"NTLMSSP\x00"
NTLM_OID = "1.3.6.1.4.1.311.2.2.10"

# Flags the acceptor may echo from the client's NEGOTIATE. We never sign or
# seal HTTP bodies, but keeping SIGN/SEAL/KEY_EXCH lets clients that insist
# on them (and the SPNEGO mechListMIC) work.
_ECHOED = (NegotiateFlags.unicode | NegotiateFlags.oem | NegotiateFlags.request_target | NegotiateFlags.sign
           | NegotiateFlags.seal | NegotiateFlags.ntlm | NegotiateFlags.always_sign
           | NegotiateFlags.extended_session_security | NegotiateFlags.version | NegotiateFlags.key_128
           | NegotiateFlags.key_exch | NegotiateFlags.key_56)


class NtlmError(Exception):
    """A malformed or wrong NTLM message; the text is safe to log (no secrets)."""


def message_type(token: bytes) -> int | None:
    """1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE (MS-NLMP 2.2.1); None when not NTLMSSP."""
    if len(token) < 12 or not token.startswith(SIGNATURE):
        return None
    return int.from_bytes(token[8:12], "little")


@dataclass(frozen=True)
class ServerIdentity:
    nb_domain: str = "EXGATE"          # MsvAvNbDomainName
    nb_computer: str = "EXGATE"        # MsvAvNbComputerName and the CHALLENGE TargetName
    dns_domain: str = "example.test"   # MsvAvDnsDomainName
    dns_computer: str = "exgate.example.test"


@dataclass
class NtlmServerContext:
    negotiate: bytes         # the raw messages, for the MIC (MS-NLMP 3.1.5.1.2)
    challenge: bytes
    server_challenge: bytes
    flags: int
    created: float


@dataclass(frozen=True)
class NtlmResult:
    user_name: str
    domain_name: str
    workstation: str
    flags: int
    session_key: bytes       # ExportedSessionKey (for SPNEGO's mechListMIC)
    version: str             # "NTLMv2" or "NTLMv1-ESS"


def accept_negotiate(token: bytes, server: ServerIdentity = ServerIdentity(), *,
                     server_challenge: bytes | None = None, now: FileTime | None = None) -> NtlmServerContext:
    if message_type(token) != 1:
        raise NtlmError("expected an NTLM NEGOTIATE_MESSAGE")
    try:
        negotiate = Negotiate.unpack(token)
        neg_flags = int(negotiate.flags)
    except Exception as exc:
        raise NtlmError(f"malformed NEGOTIATE_MESSAGE: {exc.__class__.__name__}") from None
    flags = (neg_flags & _ECHOED) | (NegotiateFlags.request_target | NegotiateFlags.ntlm
                                     | NegotiateFlags.always_sign | NegotiateFlags.target_info
                                     | NegotiateFlags.target_type_domain)
    if flags & NegotiateFlags.unicode:          # one text encoding, Unicode preferred (3.2.5.1.1)
        flags &= ~NegotiateFlags.oem
    elif not flags & NegotiateFlags.oem:
        raise NtlmError("NEGOTIATE_MESSAGE asks for neither Unicode nor OEM text")
    challenge_bytes = server_challenge or os.urandom(8)
    info = TargetInfo()
    info[AvId.nb_computer_name] = server.nb_computer
    info[AvId.nb_domain_name] = server.nb_domain
    info[AvId.dns_computer_name] = server.dns_computer
    info[AvId.dns_domain_name] = server.dns_domain
    info[AvId.timestamp] = now or FileTime.now()
    kwargs = {"version": Version.get_current()} if flags & NegotiateFlags.version else {}
    challenge = Challenge(flags, challenge_bytes, target_name=server.nb_domain, target_info=info, **kwargs)
    return NtlmServerContext(token, challenge.pack(), challenge_bytes, flags, time.monotonic())


def read_authenticate(token: bytes) -> Authenticate:
    if message_type(token) != 3:
        raise NtlmError("expected an NTLM AUTHENTICATE_MESSAGE")
    try:
        msg = Authenticate.unpack(token)
        _ = (msg.user_name, msg.domain_name, msg.nt_challenge_response, msg.lm_challenge_response)
    except Exception as exc:
        raise NtlmError(f"malformed AUTHENTICATE_MESSAGE: {exc.__class__.__name__}") from None
    return msg


def verify_authenticate(ctx: NtlmServerContext, token: bytes, nt_hash: bytes,
                        msg: Authenticate | None = None) -> NtlmResult:
    """Check an AUTHENTICATE_MESSAGE against the user's NT hash; NtlmError when it does not match."""
    msg = msg or read_authenticate(token)
    user = msg.user_name or ""
    domain = msg.domain_name or ""
    nt_resp = msg.nt_challenge_response or b""
    if not user or not nt_resp:
        raise NtlmError("anonymous or LM-only NTLM sign-in is not accepted")
    flags = int(msg.flags)
    mic_expected = False
    if len(nt_resp) > 24:
        # NTLMv2 (MS-NLMP 3.3.2): NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || temp)
        response_key = ntowfv2(user, nt_hash, domain)
        proof, temp = nt_resp[:16], nt_resp[16:]
        if not hmac.compare_digest(hmac_md5(response_key, ctx.server_challenge + temp), proof):
            raise NtlmError("NTLMv2 response does not match")
        key_exchange_key = hmac_md5(response_key, proof)     # SessionBaseKey = KeyExchangeKey in v2
        try:
            av_pairs = NTClientChallengeV2.unpack(temp).av_pairs
            mic_expected = bool(int(av_pairs.get(AvId.flags, 0)) & AvFlags.mic)
        except Exception:
            raise NtlmError("malformed NTLMv2 client challenge") from None
        version = "NTLMv2"
    elif len(nt_resp) == 24:
        if not flags & NegotiateFlags.extended_session_security:
            raise NtlmError("NTLMv1 without extended session security is refused")
        client_challenge = (msg.lm_challenge_response or b"")[:8]
        if len(client_challenge) != 8:
            raise NtlmError("NTLMv1-ESS response without a client challenge")
        expected_nt, _, key_exchange_key = compute_response_v1(flags, nt_hash, b"\x00" * 16, ctx.server_challenge,
                                                               client_challenge)
        if not hmac.compare_digest(expected_nt, nt_resp):
            raise NtlmError("NTLMv1 response does not match")
        version = "NTLMv1-ESS"
    else:
        raise NtlmError("NT response has an impossible length")

    # 3.2.5.1.2: ExportedSessionKey
    if flags & NegotiateFlags.key_exch and flags & (NegotiateFlags.sign | NegotiateFlags.seal):
        session_key = rc4k(key_exchange_key, msg.encrypted_random_session_key or b"")
    else:
        session_key = key_exchange_key

    if mic_expected:
        # The MIC sits at offset 72 (after the 64-byte header and the 8-byte Version, 2.2.1.3).
        if len(token) < 88 or msg.mic is None:
            raise NtlmError("MIC announced but missing")
        zeroed = token[:72] + b"\x00" * 16 + token[88:]
        mic = hmac_md5(session_key, ctx.negotiate + ctx.challenge + zeroed)
        if not hmac.compare_digest(mic, msg.mic):
            raise NtlmError("NTLM MIC does not match")
    return NtlmResult(user, domain, msg.workstation or "", flags, session_key, version)
