"""Connection-oriented DCE/RPC PDUs (ncacn_ip_tcp, and the PDUs inside RPC over HTTP).

The Open Group C706 "DCE 1.1: Remote Procedure Call", chapter 12 (Connection-oriented RPC PDUs), with
the Microsoft extensions of MS-RPCE 2.2.2 (the sec_trailer of 2.2.2.11, bind time feature
negotiation 3.3.1.5.3). Every PDU starts with the 16-byte common header (12.6.1):

    rpc_vers 5, rpc_vers_minor 0 or 1, PTYPE, pfc_flags, packed_drep[4] (byte 0 bit 0x10 set: little
    endian), frag_length u16, auth_length u16, call_id u32

then the PDU type's fields (12.6.4), then, when auth_length is not 0, the stub's auth padding
(auth_pad_length bytes), the 8-byte sec_trailer (auth_type, auth_level, auth_pad_length,
auth_reserved, auth_context_id) and auth_length bytes of the security provider's token (an NTLMSSP
message in bind/alter_context/auth3, a signature on request/response). At auth_level 6
(RPC_C_AUTHN_LEVEL_PKT_PRIVACY) the stub is encrypted; at 5 (PKT_INTEGRITY) it is readable but
signed.

``decode_pdu``/``encode_pdu`` round-trip a PDU byte for byte (reserved fields and padding are kept).
``split_pdus`` cuts a TCP direction into PDUs by frag_length; ``Conversation`` follows binds and
alter_contexts to name each request's interface and operation, joins fragments and pairs each
request with its response (or fault) by call_id.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

PTYPES = {0: "request", 1: "ping", 2: "response", 3: "fault", 4: "working", 5: "nocall", 6: "reject", 7: "ack",
          8: "cl_cancel", 9: "fack", 10: "cancel_ack", 11: "bind", 12: "bind_ack", 13: "bind_nak",
          14: "alter_context", 15: "alter_context_resp", 16: "auth3", 17: "shutdown", 18: "co_cancel",
          19: "orphaned"}
PFC_FIRST_FRAG, PFC_LAST_FRAG, PFC_OBJECT_UUID = 0x01, 0x02, 0x80
AUTH_TYPES = {0: "none", 9: "negotiate (SPNEGO)", 10: "NTLM", 14: "schannel", 16: "Kerberos", 68: "netlogon",
              0xFF: "default"}
AUTH_LEVELS = {1: "none", 2: "connect", 3: "call", 4: "packet", 5: "integrity", 6: "privacy"}
RESULTS = {0: "acceptance", 1: "user_rejection", 2: "provider_rejection", 3: "negotiate_ack"}

# interface UUID -> (name, {opnum: operation}); opnums from each interface's specification
INTERFACES: dict[str, tuple[str, dict[int, str]]] = {
    # MS-OXCRPC 3.1.4 (opnums 0 and 2 are EcDoConnect and EcDoRpc, obsolete since Exchange 2010)
    "a4f1db00-ca47-1067-b31f-00dd010662da": ("EMSMDB", {
        0: "EcDoConnect", 1: "EcDoDisconnect", 2: "EcDoRpc", 3: "EcGetMoreRpc", 4: "EcRRegisterPushNotification",
        5: "EcRUnregisterPushNotification", 6: "EcDummyRpc", 7: "EcRGetDCName", 8: "EcRNetGetDCName",
        9: "EcDoRpcExt", 10: "EcDoConnectEx", 11: "EcDoRpcExt2", 14: "EcDoAsyncConnectEx"}),
    # MS-OXCRPC 3.3.4
    "5261574a-4572-206e-b268-6b199213b4e5": ("AsyncEMSMDB", {0: "EcDoAsyncWaitEx"}),
    # MS-OXNSPI 3.1.4
    "f5cc5a18-4264-101a-8c59-08002b2f8426": ("NSPI", {
        0: "NspiBind", 1: "NspiUnbind", 2: "NspiUpdateStat", 3: "NspiQueryRows", 4: "NspiSeekEntries",
        5: "NspiGetMatches", 6: "NspiResortRestriction", 7: "NspiDNToMId", 8: "NspiGetPropList", 9: "NspiGetProps",
        10: "NspiCompareMIds", 11: "NspiModProps", 12: "NspiGetSpecialTable", 13: "NspiGetTemplateInfo",
        14: "NspiModLinkAtt", 16: "NspiQueryColumns", 17: "NspiGetNamesFromIDs", 18: "NspiGetIDsFromNames",
        19: "NspiResolveNames", 20: "NspiResolveNamesW"}),
    # MS-OXABREF 3.1.4
    "1544f5e0-613c-11d1-93df-00c04fd7bd09": ("RFR (address book referral)", {
        0: "RfrGetNewDSA", 1: "RfrGetFQDNFromServerDN"}),
    # C706 appendix O / MS-RPCE 2.2.1.2.1: the endpoint mapper
    "e1af8308-5d1f-11c9-91a4-08002b14a0fa": ("EPM (endpoint mapper)", {
        0: "ept_insert", 1: "ept_delete", 2: "ept_lookup", 3: "ept_map", 4: "ept_lookup_handle_free",
        5: "ept_inq_object", 6: "ept_mgmt_delete"}),
    # MS-DCOM 3.1.1.5.7 (the interface of captures/zeek-dcerpc-ntlm.pcapng)
    "00000143-0000-0000-c000-000000000046": ("IRemUnknown2 (DCOM)", {
        3: "RemQueryInterface", 4: "RemAddRef", 5: "RemRelease", 6: "RemQueryInterface2"}),
    # MS-RPCE 2.2.1.3: the management interface
    "afa8bd80-7d8a-11c9-bef4-08002b102989": ("MGMT", {
        0: "inq_if_ids", 1: "inq_stats", 2: "is_server_listening", 3: "stop_server_listening", 4: "inq_princ_name"}),
}
TRANSFER_SYNTAXES = {
    "8a885d04-1ceb-11c9-9fe8-08002b104860": "NDR",
    "71710533-beba-4937-8319-b5dbef9ccc36": "NDR64",
}
BIND_TIME_FEATURE_PREFIX = "6cb71c2c-9812-4540-"   # MS-RPCE 3.3.1.5.3: the rest of the UUID carries flags


class DceRpcError(ValueError):
    """A PDU that cannot be read (too short, not version 5, lengths that do not fit)."""


def interface_name(if_uuid: str | None) -> str | None:
    return INTERFACES[if_uuid][0] if if_uuid in INTERFACES else None


def operation_name(if_uuid: str | None, opnum: int) -> str:
    ops = INTERFACES[if_uuid][1] if if_uuid in INTERFACES else {}
    return ops.get(opnum, f"opnum {opnum}")


def syntax_name(s: "Syntax") -> str:
    if s.uuid in TRANSFER_SYNTAXES:
        return TRANSFER_SYNTAXES[s.uuid]
    if s.uuid.startswith(BIND_TIME_FEATURE_PREFIX):
        return "bind time feature negotiation"
    return interface_name(s.uuid) or s.uuid


@dataclass
class Syntax:
    """p_syntax_id_t: an interface or transfer syntax UUID and its version (major.minor)."""

    uuid: str
    version: int            # u32 on the wire: major in the low 16 bits, minor in the high 16
    def __str__(self) -> str:
        return f"{syntax_name(self)} {self.uuid} v{self.version & 0xFFFF}.{self.version >> 16}"


@dataclass
class ContextElem:
    context_id: int
    abstract: Syntax
    transfer: list[Syntax]
    reserved: int = 0


@dataclass
class Result:
    result: int
    reason: int
    transfer: Syntax


@dataclass
class SecTrailer:
    auth_type: int
    auth_level: int
    pad_length: int
    reserved: int
    context_id: int
    value: bytes            # the security provider's token (NTLMSSP message, signature)

    @property
    def type_name(self) -> str:
        return AUTH_TYPES.get(self.auth_type, f"auth type {self.auth_type}")

    @property
    def level_name(self) -> str:
        return AUTH_LEVELS.get(self.auth_level, f"level {self.auth_level}")


@dataclass
class Pdu:
    ptype: int
    flags: int
    drep: bytes
    call_id: int
    vers_minor: int = 0
    # request / response / fault
    alloc_hint: int = 0
    context_id: int = 0
    opnum: int = 0
    object: str | None = None
    cancel_count: int = 0
    reserved: int = 0
    status: int = 0                      # fault
    stub: bytes = b""                    # request/response/fault stub (encrypted at auth level privacy)
    # bind / alter_context (and their answers)
    max_xmit: int = 0
    max_recv: int = 0
    assoc_group: int = 0
    contexts: list[ContextElem] = field(default_factory=list)
    sec_addr: bytes = b""                # bind_ack: the secondary address (port), NUL-terminated
    results: list[Result] = field(default_factory=list)
    reject_reason: int = 0               # bind_nak
    list_reserved: bytes = b"\x00\x00\x00"   # the 3 reserved bytes after n_context_elem / n_results
    align_pad: bytes = b""               # bind_ack: the bytes that align the result list to 4
    body: bytes = b""                    # what follows the fields read (kept for the round trip)
    auth_pad: bytes = b""
    auth: SecTrailer | None = None

    @property
    def name(self) -> str:
        return PTYPES.get(self.ptype, f"PTYPE {self.ptype}")

    @property
    def little(self) -> bool:
        return bool(self.drep[0] & 0x10)

    @property
    def encrypted(self) -> bool:
        return self.auth is not None and self.auth.auth_level == 6 and self.ptype in (0, 2, 3)

    @property
    def signed(self) -> bool:
        return self.auth is not None and self.auth.auth_level == 5 and self.ptype in (0, 2, 3)


def _uuid(b: bytes, little: bool) -> str:
    return str(uuid.UUID(bytes_le=bytes(b)) if little else uuid.UUID(bytes=bytes(b)))


def _uuid_bytes(u: str, little: bool) -> bytes:
    v = uuid.UUID(u)
    return v.bytes_le if little else v.bytes


def _syntax(b: bytes, off: int, e: str, little: bool) -> Syntax:
    return Syntax(_uuid(b[off:off + 16], little), struct.unpack(e + "I", b[off + 16:off + 20])[0])


def _enc_syntax(s: Syntax, e: str, little: bool) -> bytes:
    return _uuid_bytes(s.uuid, little) + struct.pack(e + "I", s.version)


def pdu_length(data: bytes, off: int = 0) -> int | None:
    """frag_length of the PDU at ``off`` (None when its header is not all there or not DCE/RPC)."""
    if len(data) - off < 10 or data[off] != 5:
        return None
    e = "<" if data[off + 4] & 0x10 else ">"
    return struct.unpack(e + "H", data[off + 8:off + 10])[0]


def decode_pdu(data: bytes) -> Pdu:
    if len(data) < 16:
        raise DceRpcError(f"a PDU is at least 16 bytes, got {len(data)}")
    if data[0] != 5 or data[1] > 1:
        raise DceRpcError(f"not DCE/RPC connection-oriented version 5 (version {data[0]}.{data[1]})")
    little = bool(data[4] & 0x10)
    e = "<" if little else ">"
    frag, auth_len, call_id = struct.unpack(e + "HHI", data[8:16])
    if frag < 16 or frag > len(data):
        raise DceRpcError(f"frag_length {frag} does not fit the {len(data)} bytes given")
    b = bytes(data[:frag])
    p = Pdu(ptype=b[2], flags=b[3], drep=b[4:8], call_id=call_id, vers_minor=b[1])
    end = frag
    if auth_len:
        t = frag - auth_len - 8
        if t < 16:
            raise DceRpcError(f"auth_length {auth_len} does not fit frag_length {frag}")
        at, al, pad, res, ctx = struct.unpack(e + "BBBBI", b[t:t + 8])
        p.auth = SecTrailer(at, al, pad, res, ctx, b[t + 8:frag])
        end = t - pad
        if end < 16:
            raise DceRpcError(f"auth_pad_length {pad} reaches into the header")
        p.auth_pad = b[end:t]
    off = 16
    try:
        if p.ptype == 0:
            p.alloc_hint, p.context_id, p.opnum = struct.unpack(e + "IHH", b[16:24])
            off = 24
            if p.flags & PFC_OBJECT_UUID:
                p.object, off = _uuid(b[24:40], little), 40
            p.stub, off = b[off:end], end
        elif p.ptype in (2, 3):
            p.alloc_hint, p.context_id, p.cancel_count, p.reserved = struct.unpack(e + "IHBB", b[16:24])
            off = 24
            if p.ptype == 3:
                p.status = struct.unpack(e + "I", b[24:28])[0]
                off = 28
            p.stub, off = b[off:end], end
        elif p.ptype in (11, 14):
            p.max_xmit, p.max_recv, p.assoc_group = struct.unpack(e + "HHI", b[16:24])
            n, p.list_reserved = b[24], b[25:28]
            off = 28
            for _ in range(n):
                cid, nt, res = struct.unpack(e + "HBB", b[off:off + 4])
                abstract = _syntax(b, off + 4, e, little)
                off += 24
                ts = []
                for _ in range(nt):
                    ts.append(_syntax(b, off, e, little))
                    off += 20
                p.contexts.append(ContextElem(cid, abstract, ts, res))
        elif p.ptype in (12, 15):
            p.max_xmit, p.max_recv, p.assoc_group, alen = struct.unpack(e + "HHIH", b[16:26])
            p.sec_addr = b[26:26 + alen]
            off = 26 + alen
            p.align_pad = b[off:off + (-off % 4)]          # align to 4 from the PDU's start
            off += -off % 4
            n, p.list_reserved = b[off], b[off + 1:off + 4]
            off += 4
            for _ in range(n):
                r, why = struct.unpack(e + "HH", b[off:off + 4])
                p.results.append(Result(r, why, _syntax(b, off + 4, e, little)))
                off += 24
        elif p.ptype == 13:
            p.reject_reason = struct.unpack(e + "H", b[16:18])[0]
            off = 18
    except (struct.error, IndexError, ValueError) as exc:      # ValueError: a UUID cut short
        raise DceRpcError(f"{p.name} PDU cut short inside its fields ({exc})") from None
    if off > end:
        raise DceRpcError(f"{p.name} PDU: its fields run past its end ({off} > {end})")
    p.body = b[off:end]
    return p


def encode_pdu(p: Pdu) -> bytes:
    little = p.little
    e = "<" if little else ">"
    if p.ptype == 0:
        body = struct.pack(e + "IHH", p.alloc_hint, p.context_id, p.opnum)
        if p.flags & PFC_OBJECT_UUID:
            body += _uuid_bytes(p.object, little)
        body += p.stub
    elif p.ptype in (2, 3):
        body = struct.pack(e + "IHBB", p.alloc_hint, p.context_id, p.cancel_count, p.reserved)
        if p.ptype == 3:
            body += struct.pack(e + "I", p.status)
        body += p.stub
    elif p.ptype in (11, 14):
        body = struct.pack(e + "HHI", p.max_xmit, p.max_recv, p.assoc_group)
        body += bytes([len(p.contexts)]) + p.list_reserved
        for c in p.contexts:
            body += struct.pack(e + "HBB", c.context_id, len(c.transfer), c.reserved) + _enc_syntax(c.abstract, e, little)
            body += b"".join(_enc_syntax(t, e, little) for t in c.transfer)
    elif p.ptype in (12, 15):
        body = struct.pack(e + "HHIH", p.max_xmit, p.max_recv, p.assoc_group, len(p.sec_addr)) + p.sec_addr
        need = -(16 + len(body)) % 4
        body += p.align_pad if len(p.align_pad) == need else bytes(need)
        body += bytes([len(p.results)]) + p.list_reserved
        for r in p.results:
            body += struct.pack(e + "HH", r.result, r.reason) + _enc_syntax(r.transfer, e, little)
    elif p.ptype == 13:
        body = struct.pack(e + "H", p.reject_reason)
    else:
        body = b""
    body += p.body
    auth = b""
    if p.auth is not None:
        a = p.auth
        auth = p.auth_pad + struct.pack(e + "BBBBI", a.auth_type, a.auth_level, len(p.auth_pad), a.reserved,
                                        a.context_id) + a.value
    frag = 16 + len(body) + len(auth)
    return (bytes([5, p.vers_minor, p.ptype, p.flags]) + bytes(p.drep)
            + struct.pack(e + "HHI", frag, len(p.auth.value) if p.auth else 0, p.call_id) + body + auth)


@dataclass
class Cut:
    """One PDU's place in a TCP direction, or why the bytes there are not a PDU."""

    offset: int
    raw: bytes
    pdu: Pdu | None = None
    error: str | None = None


def split_pdus(data: bytes) -> list[Cut]:
    """A direction's bytes as PDUs one after another (each frag_length long); damage ends the cut."""
    out: list[Cut] = []
    off = 0
    while off < len(data):
        n = pdu_length(data, off)
        if n is None or n < 16:
            out.append(Cut(off, data[off:], error=f"{len(data) - off} byte(s) that are not a DCE/RPC PDU header"))
            break
        if off + n > len(data):
            out.append(Cut(off, data[off:], error=f"PDU cut off: {len(data) - off} of its {n} bytes in the capture"))
            break
        raw = data[off:off + n]
        try:
            out.append(Cut(off, raw, decode_pdu(raw)))
        except DceRpcError as exc:
            out.append(Cut(off, raw, error=str(exc)))
        off += n
    return out


@dataclass
class Call:
    """One request (its fragments joined) and the response or fault to it."""

    call_id: int
    context_id: int
    opnum: int
    interface: str | None                # UUID of the bound abstract syntax, None when the bind was not seen
    request: list[Pdu] = field(default_factory=list)
    response: list[Pdu] = field(default_factory=list)
    interface_guessed: bool = False
    # set by protocols.rpch.unseal: the stubs in clear (sealed calls), or why they are not
    clear_request: bytes | None = None
    clear_response: bytes | None = None
    seal_note: str | None = None

    @property
    def interface_name(self) -> str:
        return interface_name(self.interface) or (self.interface or "interface unknown (bind not captured)")

    @property
    def operation(self) -> str:
        return operation_name(self.interface, self.opnum)

    @property
    def request_stub(self) -> bytes:
        """The request's NDR bytes: in clear once unsealed (protocols.rpch.unseal), else as on the wire."""
        if self.clear_request is not None:
            return self.clear_request
        return b"".join(p.stub for p in self.request)

    @property
    def response_stub(self) -> bytes:
        if self.clear_response is not None:
            return self.clear_response
        return b"".join(p.stub for p in self.response)

    @property
    def decrypted(self) -> bool:
        return self.clear_request is not None

    @property
    def fault(self) -> int | None:
        return next((p.status for p in self.response if p.ptype == 3), None)

    @property
    def protection(self) -> str:
        pdus = self.request + self.response
        if any(p.encrypted for p in pdus):
            return "encrypted"
        if any(p.signed for p in pdus):
            return "signed"
        return "plain"


@dataclass
class Conversation:
    """What one TCP connection's DCE/RPC says: binds, their answers, calls (in the client's order)."""

    events: list[tuple[str, int, Pdu]] = field(default_factory=list)   # ("client"|"server", offset, pdu)
    calls: list[Call] = field(default_factory=list)
    contexts: dict[int, str] = field(default_factory=dict)             # context id -> interface UUID
    problems: list[str] = field(default_factory=list)


def converse(client: bytes, server: bytes, known_contexts: dict[int, str] | None = None) -> Conversation:
    """Follow a connection: ``known_contexts`` names contexts bound before the capture began (a guess)."""
    conv = Conversation()
    for who, data in (("client", client), ("server", server)):
        for cut in split_pdus(data):
            if cut.pdu is None:
                conv.problems.append(f"{who} offset {cut.offset}: {cut.error}")
            else:
                conv.events.append((who, cut.offset, cut.pdu))
    proposed: dict[int, dict[int, str]] = {}          # call id of a bind -> its context ids -> interface
    by_call: dict[int, Call] = {}
    guessed = dict(known_contexts or {})
    for who, _off, p in conv.events:
        if who == "client" and p.ptype in (11, 14):
            proposed[p.call_id] = {c.context_id: c.abstract.uuid for c in p.contexts}
    for who, _off, p in conv.events:
        if who == "server" and p.ptype in (12, 15):
            ctxs = list(proposed.get(p.call_id, {}).items())
            for (cid, if_uuid), r in zip(ctxs, p.results):
                if r.result == 0:
                    conv.contexts[cid] = if_uuid
    for who, _off, p in conv.events:
        if who == "client" and p.ptype == 0:
            call = by_call.get(p.call_id)
            if call is None or (p.flags & PFC_FIRST_FRAG and call.request and call.request[-1].flags & PFC_LAST_FRAG):
                if_uuid = conv.contexts.get(p.context_id)
                g = if_uuid is None and p.context_id in guessed
                call = Call(p.call_id, p.context_id, p.opnum, if_uuid or guessed.get(p.context_id), interface_guessed=g)
                by_call[p.call_id] = call
                conv.calls.append(call)
            call.request.append(p)
    for who, _off, p in conv.events:
        if who == "server" and p.ptype in (2, 3):
            call = by_call.get(p.call_id)
            if call is None:
                conv.problems.append(f"a {p.name} to call {p.call_id}, whose request is not in the capture")
                continue
            call.response.append(p)
    return conv
