"""A DCE/RPC conversation's NTLM-sealed (or signed) calls read in clear, given the user's password.

Each auth context (the sec_trailer's auth_context_id, MS-RPCE 2.2.2.11) is set up by its own three
legs: NEGOTIATE in bind or alter_context, CHALLENGE in bind_ack or alter_context_resp, AUTHENTICATE in
auth3 or alter_context. ``unseal_conversation`` finds them, asks ``password_for("DOMAIN\\\\user")`` for
the password, follows both directions' RC4 streams through every request, response and fault of the
context in the order each side sent them (protocols/rpch/ntlmseal.py), and sets each call's
``clear_request``/``clear_response`` (so ``Call.request_stub`` is the stub in clear) or its
``seal_note`` saying why not:

- ``sealed (give --password to decrypt)``: no password for that user;
- ``wrong password (signature does not verify) for DOMAIN\\\\user``;
- the reason the NTLM variant or the messages cannot be used (Kerberos, NTLMv1 without ESS, a leg
  not in the capture).

A PDU whose signature does not verify with otherwise good keys is counted in the context's report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import ntlmseal
from .dcerpc import Conversation

NO_PASSWORD = "sealed (give --password to decrypt)"


@dataclass
class ContextReport:
    """What became of one auth context."""

    context_id: int
    user: str | None = None
    version: str | None = None            # NTLMv2, NTLMv1-ESS
    status: str = NO_PASSWORD             # "decrypted", NO_PASSWORD, "wrong password ..." or another reason
    verified: int = 0                     # PDUs whose signature matched
    failed: int = 0                       # PDUs whose signature did not
    signed_part: str | None = None        # "header" (whole PDU signed) or "stub"


@dataclass
class Unsealing:
    contexts: dict[int, ContextReport] = field(default_factory=dict)


def _legs(conv: Conversation) -> dict[int, dict[str, bytes]]:
    """auth_context_id -> {"challenge": token, "authenticate": token} from the binds and their answers."""
    legs: dict[int, dict[str, bytes]] = {}
    for who, _off, p in conv.events:
        if p.auth is None or p.ptype not in (11, 12, 14, 15, 16) or not p.auth.value:
            continue
        if p.auth.auth_type not in (9, 10):      # NTLM, or SPNEGO carrying NTLM
            legs.setdefault(p.auth.context_id, {})["other"] = p.auth.type_name.encode()
            continue
        slot = legs.setdefault(p.auth.context_id, {})
        if who == "server" and ntlmseal.find_ntlm(p.auth.value, 2):
            slot["challenge"] = p.auth.value
        elif who == "client" and ntlmseal.find_ntlm(p.auth.value, 3):
            slot["authenticate"] = p.auth.value
    return legs


def unseal_conversation(conv: Conversation, password_for: Callable[[str], str | None] | None) -> Unsealing:
    """Read the conversation's sealed and signed calls in clear where a password is given (see above)."""
    out = Unsealing()
    sessions: dict[int, ntlmseal.Session] = {}
    used = {p.auth.context_id for _w, _o, p in conv.events
            if p.ptype in (0, 2, 3) and p.auth is not None and p.auth.auth_level in (5, 6)}
    for ctx, leg in _legs(conv).items():
        rep = out.contexts.setdefault(ctx, ContextReport(ctx))
        if ctx not in used:
            rep.status = "no signed or sealed call in the capture"     # nothing to read: the password is not tried
            continue
        if "challenge" not in leg or "authenticate" not in leg:
            rep.status = (f"sealed with {leg['other'].decode()}: not readable with a password" if "other" in leg
                          else "sealed, and the NTLM sign-in of this connection is not all in the capture")
            continue
        try:
            auth = ntlmseal.read_authenticate(leg["authenticate"])
        except ntlmseal.NtlmSealError as exc:
            rep.status = f"sealed: {exc}"
            continue
        rep.user = f"{auth.domain}\\{auth.user}" if auth.domain else auth.user
        password = password_for(rep.user) if password_for else None
        if password is None:
            continue
        try:
            sessions[ctx] = ntlmseal.start_session(leg["challenge"], leg["authenticate"], password)
            rep.version = sessions[ctx].keys.version
            rep.status = "decrypted"
        except ntlmseal.WrongPassword:
            rep.status = f"wrong password (signature does not verify) for {rep.user}"
        except ntlmseal.NtlmSealError as exc:
            rep.status = f"sealed: {exc}"
    clear: dict[int, bytes] = {}
    unverified: set[int] = set()
    for who, _off, p in conv.events:                 # each side's PDUs in the order it sent them
        if p.ptype not in (0, 2, 3) or p.auth is None or p.auth.auth_level not in (5, 6):
            continue
        session = sessions.get(p.auth.context_id)
        if session is None:
            continue
        rep = out.contexts[p.auth.context_id]
        try:
            u = ntlmseal.open_pdu(session, who, p)
        except ntlmseal.NtlmSealError as exc:
            rep.failed += 1
            rep.status = f"sealed: {exc}"
            continue
        if u.verified:
            rep.verified += 1
            rep.signed_part = u.signed_part
        else:
            rep.failed += 1
            unverified.add(id(p))
        clear[id(p)] = u.stub
    if any(r.status == "decrypted" and r.failed and not r.verified for r in out.contexts.values()):
        for r in out.contexts.values():          # keys that verify nothing: the password was not the one
            if r.status == "decrypted" and r.failed and not r.verified:
                r.status = f"wrong password (signature does not verify) for {r.user}"
                sessions.pop(r.context_id, None)
    for call in conv.calls:
        pdus = call.request + call.response
        ctxs = {p.auth.context_id for p in pdus if p.auth is not None and p.auth.auth_level in (5, 6)}
        if not ctxs:
            continue
        reports = [out.contexts.get(c) for c in ctxs]
        bad = next((r for r in reports if r is None or r.status != "decrypted"), None)
        if bad is not None:
            status = bad.status if bad else NO_PASSWORD
            if any(p.encrypted for p in pdus) or status.startswith("wrong password"):
                call.seal_note = status          # a signed-only call stays readable; a wrong password is said
            continue
        if all(id(p) in clear for p in pdus):
            if any(p.encrypted for p in pdus):   # at level integrity the stubs were in clear all along
                call.clear_request = b"".join(clear[id(p)] for p in call.request)
                call.clear_response = b"".join(clear[id(p)] for p in call.response)
            bad_sigs = sum(id(p) in unverified for p in pdus)
            call.seal_note = (f"{bad_sigs} of {len(pdus)} signature(s) do not verify" if bad_sigs
                              else "signatures verified")
    return out


def password_lookup(password: str | None = None, credentials: list[str] = ()) -> Callable[[str], str | None] | None:
    """``--password`` (any user) and ``--credentials [DOMAIN\\\\]user:password`` (that user) as one lookup;
    a user given with its domain matches only that domain, names compare case-insensitively."""
    pairs = []
    for c in credentials:
        who, sep, pw = c.partition(":")
        if not sep or not who:
            raise ValueError(f"--credentials {c!r}: expected [DOMAIN\\]user:password")
        pairs.append((who.lower(), pw))
    if password is None and not pairs:
        return None

    def lookup(user: str) -> str | None:
        u = user.lower()
        bare = u.split("\\", 1)[-1]
        for who, pw in pairs:
            if who == u or ("\\" not in who and who == bare):
                return pw
        return password
    return lookup
