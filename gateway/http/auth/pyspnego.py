"""Every use of pyspnego's private modules, in one place.

pyspnego's public API is a whole acceptor that reads NT hashes from a file;
the gateway finds them asynchronously, so it uses the message codecs and
crypto primitives underneath (``spnego._ntlm_raw``, ``spnego._spnego``).
Those are not a stable API: pyproject.toml bounds pyspnego to the minor
versions this was tested on, and ``tests/unit/test_auth_ntlm.py`` checks these
names on every run. When pyspnego moves them, this module is the one to change.
"""
from __future__ import annotations

from spnego._ntlm_raw.crypto import (compute_response_v1, hmac_md5, ntowfv1, ntowfv2, rc4init, rc4k,
                                     sealkey, signkey)
from spnego._ntlm_raw.messages import (Authenticate, AvFlags, AvId, Challenge, FileTime, Negotiate,
                                       NegotiateFlags, NTClientChallengeV2, TargetInfo, Version)
from spnego._ntlm_raw.security import sign
from spnego._spnego import NegState, NegTokenInit, NegTokenResp, pack_mech_type_list, unpack_token

__all__ = [
    "Authenticate", "AvFlags", "AvId", "Challenge", "FileTime", "Negotiate", "NegotiateFlags",
    "NTClientChallengeV2", "TargetInfo", "Version",
    "compute_response_v1", "hmac_md5", "ntowfv1", "ntowfv2", "rc4init", "rc4k", "sealkey", "signkey", "sign",
    "NegState", "NegTokenInit", "NegTokenResp", "pack_mech_type_list", "unpack_token",
]
