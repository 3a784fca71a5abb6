"""HTTP Negotiate (RFC 4559) carrying NTLM inside SPNEGO (RFC 4178), sans-I/O.

Clients send either a SPNEGO NegTokenInit (mechTypes + an optimistic mech
token) or, like some Windows builds without a domain, a bare NTLMSSP token
under the Negotiate scheme; both are accepted and answered in kind.

When the client offers Kerberos first and NTLM later, the acceptor picks
NTLM and answers accept-incomplete without a token (RFC 4178 3.2 d), so the
client restarts with NTLM's NEGOTIATE. Kerberos itself needs a keytab and
GSSAPI (see docs/signin.md); this acceptor does not do it.

mechListMIC (RFC 4178 5): when the client signs the mechTypes it sent, the
signature is checked with the NTLM client-to-server signing key, and the
server sends its own, as Windows does; both use sequence number 0.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from . import ntlm
from .pyspnego import (NegotiateFlags, NegState, NegTokenInit, NegTokenResp, pack_mech_type_list, rc4init, sealkey,
                       sign, signkey, unpack_token)


class NegotiateError(Exception):
    pass


@dataclass
class SpnegoState:
    mech_types: list[str]          # as the client listed them: the mechListMIC covers this list


@dataclass(frozen=True)
class InitialToken:
    spnego: SpnegoState | None     # None: a bare NTLM token under "Negotiate"
    ntlm_token: bytes | None       # None: the client must restart with NTLM (no optimistic NTLM token)


def read_initial(token: bytes) -> InitialToken:
    """The NTLM NEGOTIATE_MESSAGE inside the first Negotiate token."""
    if token.startswith(ntlm.SIGNATURE):
        return InitialToken(None, token)
    try:
        init = unpack_token(token)
    except Exception:
        raise NegotiateError("not a SPNEGO token") from None
    if not isinstance(init, NegTokenInit):
        raise NegotiateError("expected a SPNEGO NegTokenInit")
    mechs = [str(m) for m in (init.mech_types or [])]
    if ntlm.NTLM_OID not in mechs:
        raise NegotiateError("the client offers no mechanism this server accepts (NTLM only; no keytab)")
    state = SpnegoState(mechs)
    # The optimistic token belongs to the client's first mechanism (RFC 4178 3.2 b).
    if mechs[0] == ntlm.NTLM_OID and init.mech_token and init.mech_token.startswith(ntlm.SIGNATURE):
        return InitialToken(state, init.mech_token)
    return InitialToken(state, None)


def wrap_challenge(state: SpnegoState | None, challenge: bytes | None) -> bytes:
    if state is None:
        return challenge or b""
    return NegTokenResp(neg_state=NegState.accept_incomplete, supported_mech=ntlm.NTLM_OID,
                        response_token=challenge).pack()


def read_response(state: SpnegoState | None, token: bytes) -> tuple[bytes, bytes | None]:
    """(NTLM message, the client's mechListMIC) from a later Negotiate token."""
    if state is None or token.startswith(ntlm.SIGNATURE):
        return token, None
    try:
        resp = unpack_token(token)
    except Exception:
        raise NegotiateError("not a SPNEGO token") from None
    if not isinstance(resp, NegTokenResp) or not resp.response_token:
        raise NegotiateError("expected a SPNEGO NegTokenResp with an NTLM token")
    return resp.response_token, resp.mech_list_mic


def _mic(result: ntlm.NtlmResult, usage: str, data: bytes) -> bytes:
    flags, key = result.flags, result.session_key
    return sign(flags, rc4init(sealkey(flags, key, usage)), signkey(flags, key, usage), 0, data)


def finish(state: SpnegoState | None, result: ntlm.NtlmResult, client_mic: bytes | None) -> bytes | None:
    """Check the client's mechListMIC; the final server token (None for bare NTLM)."""
    if state is None:
        return None
    mech_list = pack_mech_type_list(state.mech_types)
    if client_mic is not None and not (result.flags & NegotiateFlags.sign and len(result.session_key) == 16):
        # a MIC needs the signing key NTLM negotiated (MS-NLMP 3.4.4); without one it cannot be checked
        raise NegotiateError("SPNEGO mechListMIC sent but NTLM negotiated no signing")
    if client_mic is not None and not hmac.compare_digest(_mic(result, "initiate", mech_list), client_mic):
        raise NegotiateError("SPNEGO mechListMIC does not match")
    server_mic = _mic(result, "accept", mech_list) if client_mic is not None else None
    return NegTokenResp(neg_state=NegState.accept_complete, mech_list_mic=server_mic).pack()
