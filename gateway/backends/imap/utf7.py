"""Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3).

Printable US-ASCII 0x20..0x7e stands for itself except "&", which is written
"&-". Everything else is UTF-16BE, base64 with "," instead of "/" and no
padding, between "&" and "-".
"""
from __future__ import annotations

import base64


def _b64_encode(chunk: str) -> str:
    raw = chunk.encode("utf-16-be")
    return "&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-"


def encode(name: str) -> str:
    """str -> modified UTF-7 (ASCII)."""
    out: list[str] = []
    pending: list[str] = []
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            if pending:
                out.append(_b64_encode("".join(pending)))
                pending.clear()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    if pending:
        out.append(_b64_encode("".join(pending)))
    return "".join(out)


def decode(name: str | bytes) -> str:
    """Modified UTF-7 -> str. Bytes that are not valid mUTF-7 are kept as
    they are (some servers send raw UTF-8 names), so decoding never fails."""
    if isinstance(name, bytes):
        try:
            name = name.decode("ascii")
        except UnicodeDecodeError:
            return name.decode("utf-8", "replace")
    out: list[str] = []
    i = 0
    n = len(name)
    while i < n:
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:  # unterminated shift: keep literally
            out.append(name[i:])
            break
        chunk = name[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            try:
                out.append(base64.b64decode(b64, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                out.append(name[i:end + 1])
        i = end + 1
    return "".join(out)
