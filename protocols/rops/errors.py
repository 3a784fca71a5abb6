"""The one error type the ROP codecs raise."""
from __future__ import annotations


class RopFormatError(ValueError):
    """A ROP buffer, RPC_HEADER_EXT chain or compressed payload is truncated or malformed,
    or a value does not fit its wire field.

    A server answers it as MS-OXCROPS 3.2.5.1 says for a buffer it cannot parse:
    the whole call fails with 0x000004B6 (ecRpcFormat)."""


EC_RPC_FORMAT = 0x000004B6
