"""NTLM session security for DCE/RPC (MS-NLMP 3.4, MS-RPCE 2.2.2.11): unsealing what a capture shows.

Given the three NTLMSSP messages a bind carries (NEGOTIATE in the bind, CHALLENGE in bind_ack,
AUTHENTICATE in auth3 or alter_context) and the user's password, ``derive_keys`` computes what both
ends computed: NTOWFv2 (3.3.2), the NTProofStr check, SessionBaseKey, KeyExchangeKey, the
ExportedSessionKey (RC4 of EncryptedRandomSessionKey under NTLMSSP_NEGOTIATE_KEY_EXCH, 3.2.5.1.2),
and the four signing/sealing keys (SIGNKEY/SEALKEY, 3.4.5.2-3). ``Session`` then follows each
direction's RC4 stream (one handle per direction, never reset: connection-oriented) PDU after PDU:
at auth level privacy the stub and its auth padding are encrypted, and every signed PDU carries an
NTLMSSP_MESSAGE_SIGNATURE (2.2.2.9.1: Version 1, RC4 of the first 8 bytes of HMAC_MD5(SigningKey,
SeqNum || message), SeqNum). With header signing (MS-RPCE 2.2.2.11) the message signed is the whole
PDU up to the signature with the stub in clear; without, only the stub and its padding: both are
tried and the one that matches is said.

NTLMv2 and NTLMv1 with extended session security are read. NTLMv1 without extended session
security (DES keys, CRC32 checksums) is refused with a clear message. The primitives (MD4, RC4,
HMAC-MD5) are written here or taken from the standard library, so the module stays a pure codec.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field, replace
from typing import Callable

from .dcerpc import Pdu, encode_pdu

SIGNATURE = b"NTLMSSP\x00"

# NegotiateFlags (MS-NLMP 2.2.2.5)
NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_LM_KEY = 0x00000080
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

CLIENT_SIGN = b"session key to client-to-server signing key magic constant\x00"
SERVER_SIGN = b"session key to server-to-client signing key magic constant\x00"
CLIENT_SEAL = b"session key to client-to-server sealing key magic constant\x00"
SERVER_SEAL = b"session key to server-to-client sealing key magic constant\x00"


class NtlmSealError(ValueError):
    """Why a sealed session cannot be read (a message missing or malformed, an unsupported variant)."""


class WrongPassword(NtlmSealError):
    """The password does not give the keys the capture was made with."""


# -- primitives --------------------------------------------------------------------------------------

def _rotl(x: int, n: int) -> int:
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def md4(data: bytes) -> bytes:
    """RFC 1320 (OpenSSL 3 leaves MD4 out of hashlib, and NTOWF needs it)."""
    msg = bytes(data) + b"\x80" + bytes((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack_from("<16I", msg, off)
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):            # round 1: F(x,y,z) = xy v not(x)z
            k, s = i, (3, 7, 11, 19)[i % 4]
            f = (b & c) | (~b & d)
            a, b, c, d = d, _rotl(a + f + x[k], s), b, c
        for i in range(16):            # round 2: G = majority, constant 0x5A827999
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            g = (b & c) | (b & d) | (c & d)
            a, b, c, d = d, _rotl(a + g + x[k] + 0x5A827999, s), b, c
        for i in range(16):            # round 3: H = parity, constant 0x6ED9EBA1
            k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
            s = (3, 9, 11, 15)[i % 4]
            h = b ^ c ^ d
            a, b, c, d = d, _rotl(a + h + x[k] + 0x6ED9EBA1, s), b, c
        a, b, c, d = (a + aa) & 0xFFFFFFFF, (b + bb) & 0xFFFFFFFF, (c + cc) & 0xFFFFFFFF, (d + dd) & 0xFFFFFFFF
    return struct.pack("<4I", a, b, c, d)


class Rc4:
    """An RC4 handle: a key stream that goes on from one call to the next (MS-NLMP's RC4(Handle, D))."""

    def __init__(self, key: bytes) -> None:
        s = list(range(256))
        j = 0
        for i in range(256):
            j = (j + s[i] + key[i % len(key)]) & 0xFF
            s[i], s[j] = s[j], s[i]
        self._s, self._i, self._j = s, 0, 0

    def crypt(self, data: bytes) -> bytes:
        s, i, j = self._s, self._i, self._j
        out = bytearray(len(data))
        for n, byte in enumerate(data):
            i = (i + 1) & 0xFF
            j = (j + s[i]) & 0xFF
            s[i], s[j] = s[j], s[i]
            out[n] = byte ^ s[(s[i] + s[j]) & 0xFF]
        self._i, self._j = i, j
        return bytes(out)


def rc4k(key: bytes, data: bytes) -> bytes:
    return Rc4(key).crypt(data)


def hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.md5).digest()


def ntowfv1(password: str) -> bytes:
    return md4(password.encode("utf-16-le"))


def ntowfv2(password: str, user: str, domain: str) -> bytes:
    """NTOWFv2 (3.3.2): HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) || UserDom))."""
    return hmac_md5(ntowfv1(password), (user.upper() + domain).encode("utf-16-le"))


# -- the messages --------------------------------------------------------------------------------------

def find_ntlm(token: bytes, kind: int) -> bytes | None:
    """The NTLMSSP message of type ``kind`` in a token (bare, or inside SPNEGO: found by its signature)."""
    at = token.find(SIGNATURE)
    while at >= 0:
        if len(token) >= at + 12 and struct.unpack_from("<I", token, at + 8)[0] == kind:
            return token[at:]
        at = token.find(SIGNATURE, at + 1)
    return None


def _field(msg: bytes, off: int, what: str) -> bytes:
    try:
        n, _max, where = struct.unpack_from("<HHI", msg, off)
    except struct.error:
        raise NtlmSealError(f"NTLM message cut short before its {what} field") from None
    if where + n > len(msg):
        raise NtlmSealError(f"NTLM {what} ({n} bytes at {where}) runs past the message's {len(msg)} bytes")
    return msg[where:where + n]


@dataclass
class Challenge:
    """CHALLENGE_MESSAGE (2.2.1.2): what the keys need of it."""

    flags: int
    server_challenge: bytes
    target_info: bytes = b""


@dataclass
class Authenticate:
    """AUTHENTICATE_MESSAGE (2.2.1.3): the responses, names and the encrypted session key."""

    flags: int
    lm_response: bytes
    nt_response: bytes
    domain: str
    user: str
    workstation: str
    encrypted_random_session_key: bytes


def read_challenge(token: bytes) -> Challenge:
    msg = find_ntlm(token, 2)
    if msg is None or len(msg) < 32:
        raise NtlmSealError("no NTLM CHALLENGE message in the token")
    flags = struct.unpack_from("<I", msg, 20)[0]
    info = _field(msg, 40, "TargetInfo") if len(msg) >= 48 else b""
    return Challenge(flags, msg[24:32], info)


def read_authenticate(token: bytes) -> Authenticate:
    msg = find_ntlm(token, 3)
    if msg is None or len(msg) < 64:
        raise NtlmSealError("no NTLM AUTHENTICATE message in the token")
    flags = struct.unpack_from("<I", msg, 60)[0]

    def text(b: bytes) -> str:
        return b.decode("utf-16-le", "replace") if flags & NEGOTIATE_UNICODE else b.decode("latin-1")
    return Authenticate(flags, _field(msg, 12, "LmChallengeResponse"), _field(msg, 20, "NtChallengeResponse"),
                        text(_field(msg, 28, "DomainName")), text(_field(msg, 36, "UserName")),
                        text(_field(msg, 44, "Workstation")), _field(msg, 52, "EncryptedRandomSessionKey"))


# -- the keys ------------------------------------------------------------------------------------------

@dataclass
class SessionKeys:
    version: str                 # "NTLMv2" or "NTLMv1-ESS"
    flags: int                   # the AUTHENTICATE's NegotiateFlags (what was agreed)
    session_base_key: bytes
    key_exchange_key: bytes
    exported_session_key: bytes
    client_signing_key: bytes
    server_signing_key: bytes
    client_sealing_key: bytes
    server_sealing_key: bytes
    nt_proof_ok: bool | None     # NTLMv2: the NTProofStr the password gives matches; None: not checkable


def sealkey(flags: int, exported: bytes, magic: bytes) -> bytes:
    """SEALKEY (3.4.5.3) with extended session security: the key cut to 128, 56 or 40 bits, then MD5."""
    if flags & NEGOTIATE_128:
        k = exported
    elif flags & NEGOTIATE_56:
        k = exported[:7]
    else:
        k = exported[:5]
    return hashlib.md5(k + magic).digest()


def signkey(exported: bytes, magic: bytes) -> bytes:
    return hashlib.md5(exported + magic).digest()


def derive_keys(challenge: Challenge, auth: Authenticate, password: str | None = None, *,
                nt_hash: bytes | None = None) -> SessionKeys:
    """Everything both ends computed from the password (or the NT hash, MD4(UNICODE(password)))."""
    if nt_hash is None:
        if password is None:
            raise NtlmSealError("a password or NT hash is needed")
        nt_hash = ntowfv1(password)
    flags = auth.flags
    nt = auth.nt_response
    if len(nt) > 24:
        # NTLMv2 (3.3.2): NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp)
        response_key = hmac_md5(nt_hash, (auth.user.upper() + auth.domain).encode("utf-16-le"))
        proof = hmac_md5(response_key, challenge.server_challenge + nt[16:])
        proof_ok: bool | None = hmac.compare_digest(proof, nt[:16])
        base = hmac_md5(response_key, nt[:16])
        kek = base                       # KXKEY is the SessionBaseKey for NTLMv2 (3.4.5.1)
        version = "NTLMv2"
    elif len(nt) == 24 and flags & NEGOTIATE_EXTENDED_SESSIONSECURITY:
        # NTLMv1 with ESS (3.3.1): the response itself needs DES to check; the signatures tell instead
        base = md4(nt_hash)
        kek = hmac_md5(base, challenge.server_challenge + auth.lm_response[:8])
        proof_ok, version = None, "NTLMv1-ESS"
    elif len(nt) == 24:
        raise NtlmSealError("NTLMv1 without extended session security (DES keys, CRC32 signatures) is not supported")
    else:
        raise NtlmSealError(f"anonymous or LM-only AUTHENTICATE (NT response of {len(nt)} bytes): no session key")
    if not flags & NEGOTIATE_EXTENDED_SESSIONSECURITY:
        raise NtlmSealError("NTLM without extended session security is not supported")
    if flags & NEGOTIATE_KEY_EXCH and flags & (NEGOTIATE_SIGN | NEGOTIATE_SEAL):
        if len(auth.encrypted_random_session_key) != 16:
            raise NtlmSealError("NTLMSSP_NEGOTIATE_KEY_EXCH without a 16-byte EncryptedRandomSessionKey")
        exported = rc4k(kek, auth.encrypted_random_session_key)
    else:
        exported = kek
    return SessionKeys(version, flags, base, kek, exported,
                       signkey(exported, CLIENT_SIGN), signkey(exported, SERVER_SIGN),
                       sealkey(flags, exported, CLIENT_SEAL), sealkey(flags, exported, SERVER_SEAL), proof_ok)


# -- one direction's stream ----------------------------------------------------------------------------

@dataclass
class Unsealed:
    """One PDU's stub in clear (auth padding split off) and what its signature said."""

    stub: bytes
    pad: bytes                   # the auth padding in clear (encrypted with the stub at level privacy)
    seq_num: int
    verified: bool
    signed_part: str             # "header" (whole PDU signed), "stub" (stub and padding only) or "none"


@dataclass
class Direction:
    """One side's keys and RC4 handle; each sealed or signed PDU moves the handle on."""

    signing_key: bytes
    sealing_key: bytes
    key_exch: bool
    handle: Rc4 = field(init=False)
    seq_num: int = 0

    def __post_init__(self) -> None:
        self.handle = Rc4(self.sealing_key)

    def _checksum(self, seq: int, message: bytes) -> bytes:
        return hmac_md5(self.signing_key, struct.pack("<I", seq) + message)[:8]

    def signature(self, seq: int, message: bytes) -> bytes:
        """NTLMSSP_MESSAGE_SIGNATURE with ESS (3.4.4.2), moving the handle on by 8 under KEY_EXCH."""
        cs = self._checksum(seq, message)
        if self.key_exch:
            cs = self.handle.crypt(cs)
        return struct.pack("<I", 1) + cs + struct.pack("<I", seq)

    def open(self, sealed: bytes, signature: bytes, messages: dict[str, Callable[[bytes], bytes]]) -> Unsealed:
        """Decrypt ``sealed`` (stub and padding) and check ``signature`` against each candidate message
        (``messages[name](plain) -> bytes``); the sequence number is the one the signature carries."""
        plain = self.handle.crypt(sealed) if sealed else b""
        return self._check(plain, signature, messages)

    def check(self, plain: bytes, signature: bytes, messages: dict[str, Callable[[bytes], bytes]]) -> Unsealed:
        """A signed, not sealed PDU (auth level integrity): only the signature."""
        return self._check(plain, signature, messages)

    def _check(self, plain: bytes, signature: bytes, messages: dict[str, Callable[[bytes], bytes]]) -> Unsealed:
        if len(signature) != 16:
            raise NtlmSealError(f"an NTLM signature is 16 bytes, this one {len(signature)}")
        version, seq = struct.unpack_from("<I", signature)[0], struct.unpack_from("<I", signature, 12)[0]
        got = signature[4:12]
        cs = self.handle.crypt(got) if self.key_exch else got
        self.seq_num = seq + 1
        if version != 1:
            return Unsealed(plain, b"", seq, False, "none")
        for name, make in messages.items():
            if hmac.compare_digest(self._checksum(seq, make(plain)), cs):
                return Unsealed(plain, b"", seq, True, name)
        return Unsealed(plain, b"", seq, False, "none")

    def seal(self, plain: bytes, seq: int, message_of: Callable[[bytes], bytes]) -> tuple[bytes, bytes]:
        """The other way: encrypt ``plain`` and sign ``message_of(plain)`` (for round trips and tests)."""
        sealed = self.handle.crypt(plain)
        return sealed, self.signature(seq, message_of(plain))


@dataclass
class Session:
    """An NTLM security context seen from the wire: the client's and the server's directions."""

    keys: SessionKeys
    user: str = ""
    client: Direction = field(init=False)
    server: Direction = field(init=False)

    def __post_init__(self) -> None:
        kx = bool(self.keys.flags & NEGOTIATE_KEY_EXCH)
        self.client = Direction(self.keys.client_signing_key, self.keys.client_sealing_key, kx)
        self.server = Direction(self.keys.server_signing_key, self.keys.server_sealing_key, kx)

    def side(self, who: str) -> Direction:
        return self.client if who == "client" else self.server


def start_session(challenge_token: bytes, authenticate_token: bytes, password: str | None = None, *,
                  nt_hash: bytes | None = None) -> Session:
    """A Session from the CHALLENGE and AUTHENTICATE tokens of a bind; WrongPassword when the NTLMv2
    response shows the password is not the one the client used."""
    challenge = read_challenge(challenge_token)
    auth = read_authenticate(authenticate_token)
    keys = derive_keys(challenge, auth, password, nt_hash=nt_hash)
    who = f"{auth.domain}\\{auth.user}" if auth.domain else auth.user
    if keys.nt_proof_ok is False:
        raise WrongPassword(f"wrong password for {who} (signature does not verify: the NTLMv2 response "
                            "(NTProofStr) is not the one this password gives)")
    return Session(keys, who)


# -- DCE/RPC PDUs (MS-RPCE 2.2.2.11: the auth padding is sealed with the stub) ------------------------

def _message_of(pdu: Pdu, n_stub: int):
    """Candidate signed messages for a PDU whose clear stub+padding is ``plain``."""
    def header(plain: bytes) -> bytes:
        clear = replace(pdu, stub=plain[:n_stub], auth_pad=plain[n_stub:])
        return encode_pdu(clear)[:-len(pdu.auth.value)]
    return {"header": header, "stub": lambda plain: plain}


def open_pdu(session: Session, who: str, pdu: Pdu) -> Unsealed:
    """A request/response/fault PDU at level integrity or privacy, read with ``who``'s direction
    ("client" or "server"); ``verified`` False when the signature does not match."""
    if pdu.ptype not in (0, 2, 3) or pdu.auth is None or pdu.auth.auth_level not in (5, 6):
        raise NtlmSealError(f"{pdu.name} PDU has no signed or sealed stub")
    n = len(pdu.stub)
    d = session.side(who)
    data = pdu.stub + pdu.auth_pad
    u = (d.open if pdu.auth.auth_level == 6 else d.check)(data, pdu.auth.value, _message_of(pdu, n))
    u.stub, u.pad = u.stub[:n], u.stub[n:]
    return u


def seal_pdu(session: Session, who: str, pdu: Pdu, plain_stub: bytes, plain_pad: bytes, seq: int,
             signed_part: str = "header") -> bytes:
    """The PDU's bytes with ``plain_stub``/``plain_pad`` sealed (level privacy) or signed (integrity) by
    ``who``'s direction: the inverse of ``open_pdu`` (its handle must be where the capture's was)."""
    d = session.side(who)
    n = len(plain_stub)
    if signed_part not in ("header", "stub"):
        raise NtlmSealError(f"signed part {signed_part!r}: expected 'header' or 'stub'")
    make = _message_of(pdu, n)[signed_part]
    plain = plain_stub + plain_pad
    if pdu.auth.auth_level == 6:
        sealed, sig = d.seal(plain, seq, make)
    else:
        sealed, sig = plain, d.signature(seq, make(plain))
    out = replace(pdu, stub=sealed[:n], auth_pad=sealed[n:], auth=replace(pdu.auth, value=sig))
    return encode_pdu(out)
