"""The NTLM / Negotiate round trip over HTTP, bound to the keep-alive connection.

    C: GET /EWS/Exchange.asmx                      S: 401 WWW-Authenticate: Negotiate, NTLM, Basic
    C: Authorization: NTLM <NEGOTIATE>             S: 401 WWW-Authenticate: NTLM <CHALLENGE>
    C: Authorization: NTLM <AUTHENTICATE>          S: 200 (this connection is now signed in)
    C: (no header, same connection)                S: 200

Both legs must arrive on one connection (the server context lives in the
connection's state); an AUTHENTICATE on another connection is refused.
"""
from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from gateway.backends.base import BackendError
from gateway.http.sessions import AuthenticatedUser

from . import negotiate, ntlm

log = logging.getLogger("exgate.auth")
HANDSHAKE_TIMEOUT = 120.0   # seconds between CHALLENGE and AUTHENTICATE


@dataclass
class Outcome:
    user: AuthenticatedUser | None
    reason: str = ""
    challenge: list[str] | None = None     # WWW-Authenticate values for the 401; None: the usual offers
    final_header: str | None = None        # WWW-Authenticate on the success response (SPNEGO accept-completed)


@dataclass
class Pending:
    scheme: str                              # "NTLM" or "Negotiate", as the client wrote it
    spnego: negotiate.SpnegoState | None
    ctx: ntlm.NtlmServerContext | None       # None: waiting for the client's NTLM NEGOTIATE inside SPNEGO
    created: float


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def step(auth, request: web.Request, scheme: str, token: str, addr: str | None) -> Outcome:
    scheme = "Negotiate" if scheme.lower() == "negotiate" else "NTLM"
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return Outcome(None, f"malformed {scheme} token")
    if not raw:
        return Outcome(None, f"empty {scheme} token")
    conn = auth.connections.get(request, create=True)
    if conn is None:
        return Outcome(None, "connection state unavailable")
    pending: Pending | None = conn.pending
    if pending is not None and (time.monotonic() - pending.created > HANDSHAKE_TIMEOUT or pending.scheme != scheme):
        pending = conn.pending = None
    try:
        # A first leg: bare NTLM NEGOTIATE, or a SPNEGO NegTokenInit (GSS framing starts with 0x60).
        if ntlm.message_type(raw) == 1 or (scheme == "Negotiate" and raw[:1] == b"\x60"):
            conn.user = None          # a new handshake replaces whoever was signed in on this connection
            spnego_state, ntlm_token = None, raw
            if scheme == "Negotiate":
                first = negotiate.read_initial(raw)
                spnego_state, ntlm_token = first.spnego, first.ntlm_token
            return _challenge(auth, conn, scheme, spnego_state, ntlm_token)
        if pending is None:
            return Outcome(None, f"{scheme} response without a challenge on this connection")
        mic = None
        if scheme == "Negotiate":
            raw, mic = negotiate.read_response(pending.spnego, raw)
        kind = ntlm.message_type(raw)
        if kind == 1 and pending.ctx is None:    # the client restarted with NTLM after our mech choice
            return _challenge(auth, conn, scheme, pending.spnego, raw)
        if kind != 3 or pending.ctx is None:
            conn.pending = None
            return Outcome(None, f"unexpected {scheme} message")
        conn.pending = None                       # one AUTHENTICATE per CHALLENGE
        return await _authenticate(auth, conn, pending, raw, mic, addr)
    except (ntlm.NtlmError, negotiate.NegotiateError) as exc:
        conn.pending = None
        log.info("%s sign-in refused from %s: %s", scheme, addr, exc)
        return Outcome(None, f"{scheme} sign-in refused")


def _challenge(auth, conn, scheme: str, spnego_state, ntlm_token: bytes | None) -> Outcome:
    ctx = ntlm.accept_negotiate(ntlm_token, auth.server_identity) if ntlm_token else None
    conn.pending = Pending(scheme, spnego_state, ctx, time.monotonic())
    conn.scheme = scheme
    if scheme == "NTLM":
        payload = ctx.challenge
    else:
        payload = negotiate.wrap_challenge(spnego_state, ctx.challenge if ctx else None)
    return Outcome(None, f"{scheme} challenge", challenge=[f"{scheme} {_b64(payload)}"])


async def _authenticate(auth, conn, pending: Pending, raw: bytes, mic: bytes | None, addr: str | None) -> Outcome:
    msg = ntlm.read_authenticate(raw)
    name = msg.user_name or ""
    try:
        cred = await auth.nt_hashes.lookup(name)
    except BackendError as exc:
        from .unavailable import directory_unavailable
        raise directory_unavailable(exc) from None
    # throttled per account (the directory entry), whatever spelling the client sent
    account = (cred.entry.uid or cred.entry.dn) if cred is not None and cred.entry is not None else name
    async with auth.throttle.attempt(account, addr):
        if cred is None:
            auth.throttle.failure(account, addr)
            log.info("%s sign-in refused for %r from %s: unknown user or no NT hash", pending.scheme, name, addr)
            return Outcome(None, "wrong user name or password")
        try:
            result = ntlm.verify_authenticate(pending.ctx, raw, cred.nt_hash, msg)
            final = negotiate.finish(pending.spnego, result, mic)
        except (ntlm.NtlmError, negotiate.NegotiateError) as exc:
            auth.throttle.failure(account, addr)
            log.info("%s sign-in refused for %r from %s: %s", pending.scheme, name, addr, exc)
            return Outcome(None, "wrong user name or password")
        auth.throttle.success(account, addr)
    user = auth.user_from_entry(cred.entry, pending.scheme.lower(), None)
    conn.user = user
    log.info("%s sign-in of %s (%s) from %s", pending.scheme, user.login, result.version, addr)
    return Outcome(user, final_header=f"Negotiate {_b64(final)}" if final else None)
