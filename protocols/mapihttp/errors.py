"""Errors of the MAPI/HTTP transport codecs, and the X-ResponseCode values.

``MapiHttpDecodeError`` is the one exception every decoder in this package
raises for bytes it cannot read (truncated, garbage, trailing data). A server
answers it with X-ResponseCode 12 (Invalid Request Body).
"""
from __future__ import annotations

from enum import IntEnum


class MapiHttpDecodeError(ValueError):
    """Bytes that are not a well-formed MAPI/HTTP body or response stream."""


class ResponseCode(IntEnum):
    """X-ResponseCode values, MS-OXCMAPIHTTP 2.2.3.3.3 (R136-R154).

    14 is reserved: a client ignores it and a server never sends it.
    """

    SUCCESS = 0
    UNKNOWN_FAILURE = 1
    INVALID_VERB = 2
    INVALID_PATH = 3
    INVALID_HEADER = 4
    INVALID_REQUEST_TYPE = 5
    INVALID_CONTEXT_COOKIE = 6
    MISSING_HEADER = 7
    ANONYMOUS_NOT_ALLOWED = 8
    TOO_LARGE = 9
    CONTEXT_NOT_FOUND = 10
    NO_PRIVILEGE = 11
    INVALID_REQUEST_BODY = 12
    MISSING_COOKIE = 13
    RESERVED = 14
    INVALID_SEQUENCE = 15
    ENDPOINT_DISABLED = 16
    INVALID_RESPONSE = 17
    ENDPOINT_SHUTTING_DOWN = 18
