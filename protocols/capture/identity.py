"""Who a request speaks for, from what the capture shows (never a password).

- ``X-User-Identity`` (MAPI/HTTP, MS-OXCMAPIHTTP 2.2.3.1.2: the user's SMTP address);
- ``Authorization: Basic``: the user name before the colon (RFC 7617); the password is dropped;
- ``Authorization: NTLM`` / ``Negotiate`` carrying an NTLM AUTHENTICATE message (MS-NLMP 2.2.1.3:
  DomainNameFields at 28, UserNameFields at 36, each Len u16, MaxLen u16, BufferOffset u32; UTF-16LE
  when NTLMSSP_NEGOTIATE_UNICODE, bit 0 of NegotiateFlags at 60), also inside a SPNEGO token, which
  is found by its ``NTLMSSP\\0`` signature rather than by parsing the ASN.1 around it.
"""
from __future__ import annotations

import base64
import binascii
import struct

SIGNATURE = b"NTLMSSP\x00"


def ntlm_user(token: bytes) -> str | None:
    """``DOMAIN\\user`` (or ``user``) of an NTLM AUTHENTICATE message, wherever it sits in ``token``."""
    at = token.find(SIGNATURE)
    if at < 0 or len(token) < at + 64:
        return None
    msg = token[at:]
    if struct.unpack_from("<I", msg, 8)[0] != 3:
        return None
    flags = struct.unpack_from("<I", msg, 60)[0]

    def field(off: int) -> str:
        n, _max, where = struct.unpack_from("<HHI", msg, off)
        raw = msg[where:where + n]
        return raw.decode("utf-16-le", "replace") if flags & 1 else raw.decode("latin-1")
    try:
        domain, user = field(28), field(36)
    except struct.error:
        return None
    if not user:
        return None                 # an anonymous AUTHENTICATE
    return f"{domain}\\{user}" if domain else user


def ntlm_summary(token: bytes) -> str | None:
    """What an NTLM message is (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE with its TargetName (TargetNameFields
    at 12, NegotiateFlags at 20), AUTHENTICATE with its user; None when ``token`` holds none."""
    at = token.find(SIGNATURE)
    if at < 0 or len(token) < at + 12:
        return None
    msg = token[at:]
    kind = struct.unpack_from("<I", msg, 8)[0]
    if kind == 1:
        return "NTLM NEGOTIATE"
    if kind == 2:
        try:
            n, _max, where = struct.unpack_from("<HHI", msg, 12)
            flags = struct.unpack_from("<I", msg, 20)[0]
        except struct.error:
            return "NTLM CHALLENGE (cut off)"
        raw = msg[where:where + n]
        target = raw.decode("utf-16-le", "replace") if flags & 1 else raw.decode("latin-1")
        return f"NTLM CHALLENGE from {target}" if target else "NTLM CHALLENGE"
    if kind == 3:
        user = ntlm_user(msg)
        return f"NTLM AUTHENTICATE as {user}" if user else "NTLM AUTHENTICATE"
    return f"NTLM message type {kind}"


def auth_header_summary(value: str | None) -> str | None:
    """An Authorization or WWW-Authenticate value carrying an NTLM message (NTLM or Negotiate scheme)."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() not in ("ntlm", "negotiate") or not rest.strip():
        return None
    try:
        return ntlm_summary(base64.b64decode(rest.strip(), validate=False))
    except (binascii.Error, ValueError):
        return None


def authorization_user(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if not rest:
        return None                 # kept as its scheme only (exgate record's files)
    try:
        raw = base64.b64decode(rest, validate=False)
    except (binascii.Error, ValueError):
        return None
    if scheme.lower() == "basic":
        user = raw.split(b":", 1)[0].decode("utf-8", "replace")
        return user or None
    if scheme.lower() in ("ntlm", "negotiate"):
        return ntlm_user(raw)
    return None


def request_user(headers) -> str | None:
    """The user a request names, from its headers (``[(name, value)]``)."""
    ident = auth = None
    for k, v in headers:
        kl = k.lower()
        if kl == "x-user-identity" and v.strip():
            ident = v.strip()
        elif kl == "authorization":
            auth = authorization_user(v)
    return ident or auth
