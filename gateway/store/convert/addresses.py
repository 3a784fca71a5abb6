"""Addresses for mail conversion: tolerant RFC 5322 address-list parsing and header words. The EntryID
layouts that carry an address (one-off, FlatEntryList, search key) are in protocols/mapi/entryids.py.
"""
from __future__ import annotations

import re
from email.header import decode_header
from email.utils import getaddresses

def fix_raw_header(value: str) -> str:
    """Headers parsed from bytes keep 8-bit octets as surrogate escapes; read them
    as UTF-8 (what SMTPUTF8 and most modern senders use), else as windows-1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("ascii", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    if charset:
        cs = charset.split("*", 1)[0]  # RFC 2231 language suffix
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def decode_words(value) -> str:
    """RFC 2047 encoded words (B and Q, split across words, unknown charsets) -> str.

    Never raises: a broken word is kept as it is written."""
    if value is None:
        return ""
    value = fix_raw_header(str(value))
    value = re.sub(r"\r?\n(?=[ \t])", "", value)  # unfold (RFC 5322 2.2.3)
    try:
        parts = decode_header(value)
    except Exception:  # email.errors.HeaderParseError and odd inputs
        return value
    out = []
    for chunk, charset in parts:
        out.append(_decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(out).replace("\r", "").replace("\n", "")


def parse_address_list(values: list[str]) -> list[tuple[str, str]]:
    """One or more To/Cc/... header values -> [(display name, address)].

    Group syntax contributes its members; an empty group ("undisclosed-recipients:;")
    contributes nothing. Names are decoded from RFC 2047 after splitting so an
    encoded comma cannot break the list."""
    result: list[tuple[str, str]] = []
    cleaned = [fix_raw_header(str(v)) for v in values if v is not None]
    try:
        pairs = getaddresses(cleaned)
    except Exception:
        pairs = []
    for name, addr in pairs:
        addr = (addr or "").strip()
        name = decode_words(name).strip() if name else ""
        if not addr or addr.endswith(":"):
            continue
        if "@" not in addr and not name:
            # "undisclosed-recipients" and similar leftovers are not addresses
            continue
        result.append((name, addr))
    return result
