"""HTTP Basic (RFC 7617) header parsing and the login forms clients send."""
from __future__ import annotations

import base64
import binascii


def parse_basic(token: str) -> tuple[str, str] | None:
    """The credentials of ``Authorization: Basic <token>``; None when malformed.

    RFC 7617 2.1: user-id and password are UTF-8 when the server said
    charset="UTF-8"; older clients send Latin-1, so that is the fallback.
    """
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    if not sep or not user:
        return None
    return user, password


def strip_domain(login: str) -> str:
    r"""``EXAMPLE\alice`` -> ``alice`` (down-level logon name); UPNs and uids stay as they are."""
    if "\\" in login:
        return login.split("\\", 1)[1]
    return login
