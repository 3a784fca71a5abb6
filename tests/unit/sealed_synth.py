"""Records captures/impacket-dcerpc-sealed.pcap: two DCE/RPC connections sealed with NTLM (auth level privacy).

Run once by hand (``python -m tests.unit.sealed_synth``): NTLM picks a fresh client challenge and session
key each time, so the file is not reproducible byte for byte (like the TLS capture); the tests read it.

The client is impacket (its own NTLM, sealing and NDR: an implementation independent of
protocols/rpch/ntlmseal.py) signing in as EXAMPLE\\u with password ``p``. The server is a small
thread here: the NTLM acceptor is gateway/http/auth/ntlm.py, the keys and sealing are pyspnego's
primitives, so the capture is made by no line of the decoder it tests.

- connection 1, EMSMDB: the client sends the five request stubs of ruler's unsealed RPC/HTTP session
  (captures/ruler-rpchttp.pcap, first virtual connection: EcDoConnectEx, three EcDoRpcExt2,
  EcDoDisconnect) and the server answers each with ruler's recorded answer, sealed;
- connection 2, NSPI: impacket's own NSPI calls (NspiBind, NspiGetSpecialTable, NspiQueryRows twice, the
  second answered with 60 rows in three sealed fragments,
  NspiDNToMId, NspiGetProps, NspiGetPropList, NspiQueryColumns, NspiResolveNamesW, NspiUpdateStat,
  NspiSeekEntries, NspiCompareMIds, NspiGetTemplateInfo, NspiGetNamesFromIDs, NspiResolveNames,
  NspiModLinkAtt (refused), NspiGetMatches with a restriction and with a property name,
  NspiResortRestriction, NspiGetIDsFromNames, NspiModProps (refused), NspiUnbind; the calls impacket's nspi
  module lacks or declares otherwise than the IDL are declared here with its NDR types), the
  server's answers made with impacket's NDR classes (a recorder's answers, not Exchange's);
- connection 3: connection 1 again with NTLMv1 and extended session security instead of NTLMv2;
- connection 4: connection 1 again at auth level integrity (stubs in clear, every PDU signed);
- connection 5: connection 1 again over SPNEGO (auth type 9) with NTLM inside, both ends pyspnego (see
  spnego_session), signatures over the stub only.

The bytes each way are written as one TCP connection each (200-byte segments) at the times they were
sent.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

from protocols.capture.pcap import Packet, write_pcap

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "captures" / "impacket-dcerpc-sealed.pcap"
USER, DOMAIN, PASSWORD = "u", "EXAMPLE", "p"
SERVER_CHALLENGE = bytes.fromhex("0123456789abcdef")
HANDLE = bytes.fromhex("00000000") + bytes.fromhex("5c1f3a2b4d6e7f8091a2b3c4d5e6f708")
SERVER_GUID = bytes.fromhex("a0b1c2d3e4f5061728394a5b6c7d8e9f")


def _recv_pdu(sock) -> bytes | None:
    head = b""
    while len(head) < 16:
        got = sock.recv(16 - len(head))
        if not got:
            return None
        head += got
    n = struct.unpack_from("<H", head, 8)[0]
    body = b""
    while len(head) + len(body) < n:
        body += sock.recv(n - 16 - len(body))
    return head + body


class _Server:
    """One connection: bind (NTLM CHALLENGE in bind_ack), auth3, then sealed requests and answers."""

    def __init__(self, answer):
        from gateway.http.auth import ntlm
        self.ntlm = ntlm
        self.answer = answer                # (opnum, stub) -> answer stub
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.log: list[tuple[float, str, bytes]] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        from gateway.http.auth.pyspnego import hmac_md5, ntowfv1, rc4init, sealkey, signkey
        conn, _ = self.sock.accept()
        ctx = keys = None
        seq = 0
        while True:
            pdu = _recv_pdu(conn)
            if pdu is None:
                break
            self.log.append((time.time(), "client", pdu))
            ptype, call_id = pdu[2], struct.unpack_from("<I", pdu, 12)[0]
            auth_len = struct.unpack_from("<H", pdu, 10)[0]
            frag = len(pdu)
            trailer = pdu[frag - auth_len - 8:frag - auth_len] if auth_len else b""
            token = pdu[frag - auth_len:] if auth_len else b""
            out = b""
            if ptype == 11:                                       # bind
                ctx = self.ntlm.accept_negotiate(token, server_challenge=SERVER_CHALLENGE)
                ctx_item = pdu[28:28 + 44]
                transfer = ctx_item[24:44]
                body = struct.pack("<HHIH", 4280, 4280, 0x1234, 5) + b"6001\x00"
                body += bytes(-(16 + len(body)) % 4)
                body += bytes([1, 0, 0, 0]) + struct.pack("<HH", 0, 0) + transfer
                sec = trailer[:2] + b"\x00\x00" + trailer[4:8]
                auth = sec + ctx.challenge
                out = bytes([5, 0, 12, 3]) + b"\x10\x00\x00\x00" + struct.pack(
                    "<HHI", 16 + len(body) + len(auth), len(ctx.challenge), call_id) + body + auth
            elif ptype == 16:                                     # auth3
                res = self.ntlm.verify_authenticate(ctx, token, ntowfv1(PASSWORD))
                flags, k = res.flags, res.session_key
                keys = {"flags": flags,
                        "c_seal": rc4init(sealkey(flags, k, "initiate")), "c_sign": signkey(flags, k, "initiate"),
                        "s_seal": rc4init(sealkey(flags, k, "accept")), "s_sign": signkey(flags, k, "accept")}
                continue
            elif ptype == 0:                                      # request, sealed (or only signed)
                _alloc, ctx_id, opnum = struct.unpack_from("<IHH", pdu, 16)
                pad, privacy = trailer[2], trailer[1] == 6
                sealed = pdu[24:frag - auth_len - 8]
                plain = keys["c_seal"].update(sealed) if privacy else sealed
                keys["c_seal"].update(token[4:12])                # the signature's checksum moves the handle on
                stub = plain[:len(plain) - pad]
                reply = self.answer(opnum, stub)
                out = b""
                for at in range(0, len(reply) or 1, 4096):      # fragments of at most 4096 stub bytes
                    piece = reply[at:at + 4096]
                    flags = (1 if at == 0 else 0) | (2 if at + 4096 >= len(reply) else 0)
                    rpad = -len(piece) % 16
                    padded = piece + b"\xaa" * rpad
                    sec = trailer[:2] + bytes([rpad, 0]) + trailer[4:8]
                    head = bytes([5, 0, 2, flags]) + b"\x10\x00\x00\x00" + struct.pack(
                        "<HHI", 16 + 8 + len(padded) + 8 + 16, 16, call_id) + struct.pack(
                        "<IHBB", len(reply) - at, ctx_id, 0, 0)
                    to_sign = head + padded + sec
                    enc = keys["s_seal"].update(padded) if privacy else padded
                    cs = hmac_md5(keys["s_sign"], struct.pack("<I", seq) + to_sign)[:8]
                    cs = keys["s_seal"].update(cs)
                    sig = struct.pack("<I", 1) + cs + struct.pack("<I", seq)
                    seq += 1
                    out += head + enc + sec + sig
            if out:
                self.log.append((time.time(), "server", out))
                conn.sendall(out)
        conn.close()
        self.sock.close()


def _client(port: int, if_uuid, calls, ntlmv2: bool = True, level: int = 6) -> None:
    from impacket.dcerpc.v5 import transport
    from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_WINNT
    t = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:127.0.0.1[{port}]")
    t.set_credentials(USER, PASSWORD, DOMAIN)
    if not ntlmv2:              # NTLMv1 with extended session security (impacket's "NTLM2 session response")
        t.doesSupportNTLMv2 = lambda: False
    dce = t.get_dce_rpc()
    dce.set_auth_type(RPC_C_AUTHN_WINNT)
    dce.set_auth_level(level)               # 6 RPC_C_AUTHN_LEVEL_PKT_PRIVACY, 5 PKT_INTEGRITY
    dce.connect()
    dce.bind(if_uuid)
    calls(dce)
    dce.disconnect()


# -- connection 1: ruler's EMSMDB stubs ------------------------------------------------------------------

def ruler_calls() -> list[tuple[int, bytes, bytes]]:
    from protocols.capture import read
    from protocols.rpch import dcerpc
    pcap = ROOT / "captures" / "ruler-rpchttp.pcap"
    cap = read(pcap.name, pcap.read_bytes())
    cin = next(e for e in cap.exchanges if e.method == "RPC_IN_DATA")
    cout = next(e for e in cap.exchanges if e.method == "RPC_OUT_DATA")
    conv = dcerpc.converse(cout.request_body + cin.request_body, cout.response_body)
    return [(c.opnum, c.request_stub, c.response_stub) for c in conv.calls]


def emsmdb_session(ntlmv2: bool = True, level: int = 6) -> _Server:
    from impacket.uuid import uuidtup_to_bin
    calls = ruler_calls()
    answers = iter(calls)
    srv = _Server(lambda opnum, stub: next(answers)[2])

    def run(dce):
        for opnum, stub, _answer in calls:
            dce.call(opnum, stub)
            dce.recv()
    _client(srv.port, uuidtup_to_bin(("a4f1db00-ca47-1067-b31f-00dd010662da", "0.81")), run, ntlmv2, level)
    srv.thread.join(5)
    return srv


# -- connection 5: SPNEGO (auth type 9) around NTLM, both ends pyspnego, signatures over the stub only -------

def spnego_session() -> list[tuple[float, str, bytes]]:
    """Ruler's EMSMDB calls once more, with both security contexts pyspnego's: SPNEGO carrying NTLM (bind,
    bind_ack, then alter_context and its answer for the third leg and the mechListMIC, MS-RPCE 3.3.1.5.2.1),
    and each stub sealed by GSS_WrapEx (no PFC_SUPPORT_HEADER_SIGN: the signature covers the stub and its
    padding only). The PDUs around them are written here with protocols/rpch/dcerpc.py."""
    import os
    import tempfile
    import spnego
    from protocols.rpch import dcerpc
    users = Path(tempfile.mkdtemp()) / "ntlm_users"
    users.write_text(f"{DOMAIN}:{USER}:{PASSWORD}\n")
    os.environ["NTLM_USER_FILE"] = str(users)          # where pyspnego's acceptor finds the password
    client = spnego.client(f"{DOMAIN}\\{USER}", PASSWORD, hostname="exgate", service="host", protocol="negotiate")
    server = spnego.server(protocol="negotiate")
    emsmdb = dcerpc.Syntax("a4f1db00-ca47-1067-b31f-00dd010662da", 81 << 16)
    ndr = dcerpc.Syntax("8a885d04-1ceb-11c9-9fe8-08002b104860", 2)
    log: list[tuple[float, str, bytes]] = []

    def send(who: str, pdu) -> None:
        log.append((time.time(), who, dcerpc.encode_pdu(pdu)))

    def pdu(ptype: int, call_id: int, token: bytes | None = None, **kw):
        auth = dcerpc.SecTrailer(9, 6, 0, 0, 0, token) if token is not None else None
        return dcerpc.Pdu(ptype=ptype, flags=3, drep=b"\x10\x00\x00\x00", call_id=call_id, auth=auth, **kw)

    ctx = [dcerpc.ContextElem(0, emsmdb, [ndr])]
    t1 = client.step()
    send("client", pdu(11, 1, t1, max_xmit=4280, max_recv=4280, contexts=ctx))
    t2 = server.step(t1)
    send("server", pdu(12, 1, t2, max_xmit=4280, max_recv=4280, assoc_group=0x5678, sec_addr=b"6001\x00",
                       results=[dcerpc.Result(0, 0, ndr)]))
    t3 = client.step(t2)
    send("client", pdu(14, 2, t3, max_xmit=4280, max_recv=4280, assoc_group=0x5678, contexts=ctx))
    t4 = server.step(t3)
    send("server", pdu(15, 2, t4, max_xmit=4280, max_recv=4280, assoc_group=0x5678,
                       results=[dcerpc.Result(0, 0, ndr)]))
    client.step(t4)
    assert client.complete and server.complete and client.negotiated_protocol == "ntlm"

    def sealed(ctx_, ptype: int, call_id: int, stub: bytes, **kw):
        pad = -len(stub) % 4
        w = ctx_.wrap(stub + b"\x00" * pad, encrypt=True).data      # signature (16 bytes), then the sealed data
        p = pdu(ptype, call_id, w[:16], alloc_hint=len(stub), stub=w[16:16 + len(stub)], **kw)
        p.auth_pad, p.auth.pad_length = w[16 + len(stub):], pad
        return p

    for n, (opnum, request, answer) in enumerate(ruler_calls(), 3):
        q = sealed(client, 0, n, request, opnum=opnum)
        send("client", q)
        assert server.unwrap(q.auth.value + q.stub + q.auth_pad).data[:len(request)] == request
        send("server", sealed(server, 2, n, answer))
    return log


# -- connection 2: impacket's NSPI calls, answers made with impacket's NDR ------------------------------

PR_DISPLAY_NAME_W = 0x3001001F
PR_EMAIL_ADDRESS_W = 0x3003001F
PR_ENTRYID = 0x0FFF0102
PR_INSTANCE_KEY = 0x0FF60102
PR_OBJECT_TYPE = 0x0FFE0003
PR_DISPLAY_TYPE = 0x39000003
PR_CONTAINER_FLAGS = 0x36000003
PR_DEPTH = 0x30050003
PR_SMTP_ADDRESS_W = 0x39FE001F
PR_ACCOUNT_W = 0x3A00001F


def _row(props):
    from impacket.dcerpc.v5 import nspi
    row = nspi.PropertyRow_r()
    row["Reserved"] = 0
    row["cValues"] = len(props)
    for tag, value in props:
        v = nspi.PropertyValue_r()
        v["ulPropTag"] = tag
        v["ulReserved"] = 0
        v["Value"]["tag"] = tag & 0xFFFF
        t = tag & 0xFFFF
        if t == 0x001F:
            v["Value"]["lpszW"] = value + "\x00"
        elif t == 0x0003:
            v["Value"]["l"] = value
        elif t == 0x0102:
            v["Value"]["bin"]["cValues"] = len(value)
            v["Value"]["bin"]["lpb"] = list(value)
        elif t == 0x000A:
            v["Value"]["err"] = value
        row["lpProps"].append(v)
    return row


def _stat(**kw):
    from impacket.dcerpc.v5 import nspi
    s = nspi.STAT()
    for k in ("SortType", "ContainerID", "CurrentRec", "Delta", "NumPos", "TotalRecs", "CodePage",
              "TemplateLocale", "SortLocale"):
        s[k] = kw.get(k, 0)
    return s


USERS = [(0x10, "Recorder User", "u@example.test", "u"), (0x11, "Bob Example", "bob@example.test", "bob")]


def _user_row(mid, name, smtp, account, tags):
    vals = {PR_DISPLAY_NAME_W: name, PR_SMTP_ADDRESS_W: smtp, PR_ACCOUNT_W: account, PR_OBJECT_TYPE: 6,
            PR_DISPLAY_TYPE: 0, PR_EMAIL_ADDRESS_W: f"/o=EXAMPLE/ou=Exchange Administrative Group/cn=Recipients/cn={account}",
            PR_INSTANCE_KEY: struct.pack("<I", mid),
            PR_ENTRYID: b"\x87\x00\x00\x00" + bytes(16) + struct.pack("<III", 1, 6, mid)}
    return [(t, vals[t]) if t in vals else ((t & 0xFFFF0000) | 0x000A, 0x8004010F) for t in tags]


def nspi_answer(opnum: int, stub: bytes) -> bytes:
    from impacket.dcerpc.v5 import nspi
    if opnum == 0:
        r = nspi.NspiBindResponse()
        r["pServerGuid"] = SERVER_GUID
        h = nspi.handle_t()
        h["context_handle_attributes"] = 0
        h["context_handle_uuid"] = HANDLE[4:]
        r["contextHandle"] = h
        r["ErrorCode"] = 0
    elif opnum == 12:
        r = nspi.NspiGetSpecialTableResponse()
        r["lpVersion"] = 7
        rows = r["ppRows"]
        rows["cRows"] = 2
        rows["aRow"].append(_row([(PR_DISPLAY_NAME_W, "Global Address List"), (PR_CONTAINER_FLAGS, 9),
                                  (PR_DEPTH, 0), (PR_INSTANCE_KEY, bytes(4))]))
        rows["aRow"].append(_row([(PR_DISPLAY_NAME_W, "All Users"), (PR_CONTAINER_FLAGS, 9), (PR_DEPTH, 1),
                                  (PR_INSTANCE_KEY, struct.pack("<I", 0x2F))]))
        r["ErrorCode"] = 0
    elif opnum == 3:
        q = nspi.NspiQueryRows(stub)
        tags = [int(t["Data"]) for t in q["pPropTags"]["aulPropTag"]]
        r = nspi.NspiQueryRowsResponse()
        r["pStat"] = _stat(CurrentRec=0, NumPos=2, TotalRecs=2, CodePage=1252, TemplateLocale=0x409, SortLocale=0x409)
        users = USERS if int(q["Count"]) <= 50 else [      # a long page: an answer in several fragments
            (0x100 + i, f"Person {i:03d}", f"person{i:03d}@example.test", f"person{i:03d}") for i in range(60)]
        r["ppRows"]["cRows"] = len(users)
        for u in users:
            r["ppRows"]["aRow"].append(_row(_user_row(*u, tags)))
        r["ErrorCode"] = 0
    elif opnum == 7:
        q = nspi.NspiDNToMId(stub)
        r = nspi.NspiDNToMIdResponse()
        n = int(q["pNames"]["Count"])
        r["ppOutMIds"]["cValues"] = n
        for i in range(n):
            d = nspi.DWORD()
            d["Data"] = 0x10 if i == 0 else 0
            r["ppOutMIds"]["aulPropTag"].append(d)
        r["ErrorCode"] = 0
    elif opnum == 9:
        q = nspi.NspiGetProps(stub)
        tags = [int(t["Data"]) for t in q["pPropTags"]["aulPropTag"]][:int(q["pPropTags"]["cValues"]) - 1]
        r = nspi.NspiGetPropsResponse()
        row = _row(_user_row(*USERS[0], tags))
        r["ppRows"]["Reserved"] = row["Reserved"]
        r["ppRows"]["cValues"] = row["cValues"]
        r["ppRows"]["lpProps"] = row["lpProps"]
        r["ErrorCode"] = 0x00040380 if any((t & 0xFFFF) == 0x000A for t, _ in _user_row(*USERS[0], tags)) else 0
    elif opnum in (8, 16):
        r = nspi.NspiGetPropListResponse() if opnum == 8 else nspi.NspiQueryColumnsResponse()
        key = "ppOutMIds" if opnum == 8 else "ppColumns"
        tags = [PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W, PR_ACCOUNT_W, PR_OBJECT_TYPE, PR_ENTRYID]
        r[key]["cValues"] = len(tags)
        for t in tags:
            d = nspi.DWORD()
            d["Data"] = t
            r[key]["aulPropTag"].append(d)
        r["ErrorCode"] = 0
    elif opnum == 20:
        q = nspi.NspiResolveNamesW(stub)
        tags = [int(t["Data"]) for t in q["pPropTags"]["aulPropTag"]]
        r = nspi.NspiResolveNamesWResponse()
        r["ppMIds"]["cValues"] = 1
        d = nspi.DWORD()
        d["Data"] = 0x11
        r["ppMIds"]["aulPropTag"].append(d)
        r["ppRows"]["cRows"] = 1
        r["ppRows"]["aRow"].append(_row(_user_row(*USERS[1], tags)))
        r["ErrorCode"] = 0
    elif opnum == 2:
        r = nspi.NspiUpdateStatResponse()
        r["pStat"] = _stat(ContainerID=0x2F, CurrentRec=0x11, NumPos=1, TotalRecs=2, CodePage=1252)
        r["plDelta"] = 1
        r["ErrorCode"] = 0
    elif opnum == 4:
        q = nspi.NspiSeekEntries(stub)
        r = nspi.NspiSeekEntriesResponse()
        r["pStat"] = _stat(ContainerID=0x2F, CurrentRec=0x11, NumPos=1, TotalRecs=2, CodePage=1252)
        tags = [int(t["Data"]) for t in q["pPropTags"]["aulPropTag"]]
        r["ppRows"]["cRows"] = 1
        r["ppRows"]["aRow"].append(_row(_user_row(*USERS[1], tags)))
        r["ErrorCode"] = 0
    elif opnum == 10:
        r = nspi.NspiCompareMIdsResponse()
        r["plResult"] = -1
        r["ErrorCode"] = 0
    elif opnum == 13:
        r = nspi.NspiGetTemplateInfoResponse()
        row = _row([(0x00010102, bytes(range(24))), (0x00040102, b""), (0x3001001F, "General")])
        r["ppData"]["Reserved"] = 0
        r["ppData"]["cValues"] = row["cValues"]
        r["ppData"]["lpProps"] = row["lpProps"]
        r["ErrorCode"] = 0
    elif opnum == 17:
        q = nspi.NspiGetNamesFromIDs(stub)
        tags = [int(t["Data"]) for t in q["pPropTags"]["aulPropTag"]]
        r = nspi.NspiGetNamesFromIDsResponse()
        r["ppReturnedPropTags"]["cValues"] = len(tags)
        for t in tags:
            d = nspi.DWORD()
            d["Data"] = t
            r["ppReturnedPropTags"]["aulPropTag"].append(d)
        r["ppNames"]["cNames"] = len(tags)
        for i, _t in enumerate(tags):
            name = nspi.PropertyName_r()
            name["lpguid"] = bytes.fromhex("00062008000000000000c00000000046")
            name["ulReserved"] = 0
            name["lID"] = 0x8580 + i
            r["ppNames"]["aulPropTag"].append(name)
        r["ErrorCode"] = 0
    elif opnum == 19:
        q = nspi.NspiResolveNames(stub)
        tags = [int(t["Data"]) for t in q["pPropTags"]["aulPropTag"]]
        r = nspi.NspiResolveNamesResponse()
        r["ppMIds"]["cValues"] = 1
        d = nspi.DWORD()
        d["Data"] = 0x10
        r["ppMIds"]["aulPropTag"].append(d)
        r["ppRows"]["cRows"] = 1
        r["ppRows"]["aRow"].append(_row([(t & 0xFFFF0000 | 0x001E, "Recorder User") if t & 0xFFFF == 0x001E
                                         else (t, v) for t, v in _user_row(*USERS[0], [x | 1 if x & 0xFFFF == 0x001E
                                                                                      else x for x in tags])]))
        r["ErrorCode"] = 0
    elif opnum == 14:
        r = nspi.NspiModLinkAttResponse()
        r["ErrorCode"] = 0x80070005
    elif opnum in (5, 6):
        _gm, gm_resp, _rr, rr_resp = _calls5()[:4]
        r = gm_resp() if opnum == 5 else rr_resp()
        r["pStat"] = _stat(ContainerID=0x2F, CurrentRec=0x11, NumPos=1, TotalRecs=2, CodePage=1252)
        _tags(r["ppOutMIds"], [0x11, 0x10] if opnum == 6 else [0x11])
        if opnum == 5:
            r["ppRows"]["cRows"] = 1
            r["ppRows"]["aRow"].append(_row(_user_row(*USERS[1], [PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W])))
        r["ErrorCode"] = 0
    elif opnum == 18:
        r = _calls5()[5]()
        _tags(r["ppPropTags"], [0x8580001F, 0x80000003])
        r["ErrorCode"] = 0
    elif opnum == 11:
        r = _calls5()[7]()
        r["ErrorCode"] = 0x80070005
    elif opnum == 1:
        r = nspi.NspiUnbindResponse()
        h = nspi.handle_t()
        h["context_handle_attributes"] = 0
        h["context_handle_uuid"] = bytes(16)
        r["contextHandle"] = h
        r["ErrorCode"] = 1
    else:
        return struct.pack("<I", 0x80040102)
    return r.getData()


def _impacket_calls():
    """NspiGetMatches and NspiResortRestriction, which impacket's nspi module leaves commented out, declared
    with its own NDR types (MS-OXNSPI 3.1.4.1.10 and 3.1.4.1.11) so that its engine marshals them."""
    from impacket.dcerpc.v5 import nspi
    from impacket.dcerpc.v5.dtypes import DWORD, ULONG
    from impacket.dcerpc.v5.ndr import NDRCALL

    class NspiGetMatches(NDRCALL):
        opnum = 5
        structure = (("hRpc", nspi.handle_t), ("Reserved1", DWORD), ("pStat", nspi.STAT),
                     ("pReserved", nspi.PPropertyTagArray_r), ("Reserved2", DWORD), ("Filter", nspi.PRestriction_r),
                     ("lpPropName", nspi.PPropertyName_r), ("ulRequested", DWORD),
                     ("pPropTags", nspi.PPropertyTagArray_r))

    class NspiGetMatchesResponse(NDRCALL):
        structure = (("pStat", nspi.STAT), ("ppOutMIds", nspi.PPropertyTagArray_r),
                     ("ppRows", nspi.PPropertyRowSet_r), ("ErrorCode", ULONG))

    class NspiResortRestriction(NDRCALL):
        opnum = 6
        structure = (("hRpc", nspi.handle_t), ("Reserved", DWORD), ("pStat", nspi.STAT),
                     ("pInMIds", nspi.PropertyTagArray_r), ("ppOutMIds", nspi.PPropertyTagArray_r))

    class NspiResortRestrictionResponse(NDRCALL):
        structure = (("pStat", nspi.STAT), ("ppOutMIds", nspi.PPropertyTagArray_r), ("ErrorCode", ULONG))

    from impacket.dcerpc.v5.ndr import NDRUniConformantArray

    class PropertyNamePointers(NDRUniConformantArray):
        item = nspi.PPropertyName_r

    class NspiGetIDsFromNames(NDRCALL):        # impacket's own declares pNames otherwise than the IDL
        opnum = 18
        structure = (("hRpc", nspi.handle_t), ("Reserved", DWORD), ("dwFlags", DWORD), ("cPropNames", DWORD),
                     ("pNames", PropertyNamePointers))

    class NspiGetIDsFromNamesResponse(NDRCALL):
        structure = (("ppPropTags", nspi.PPropertyTagArray_r), ("ErrorCode", ULONG))

    class NspiModProps(NDRCALL):
        opnum = 11
        structure = (("hRpc", nspi.handle_t), ("Reserved", DWORD), ("pStat", nspi.STAT),
                     ("pPropTags", nspi.PPropertyTagArray_r), ("pRow", nspi.PropertyRow_r))

    class NspiModPropsResponse(NDRCALL):
        structure = (("ErrorCode", ULONG),)

    import sys
    module = sys.modules[NspiGetMatches.__module__]   # impacket finds a call's answer class by name in its module
    for cls in (NspiGetMatchesResponse, NspiResortRestrictionResponse, NspiGetIDsFromNamesResponse,
                NspiModPropsResponse):
        setattr(module, cls.__name__, cls)
    module.DCERPCSessionError = nspi.DCERPCSessionError    # and the exception a refused call raises
    return (NspiGetMatches, NspiGetMatchesResponse, NspiResortRestriction, NspiResortRestrictionResponse,
            NspiGetIDsFromNames, NspiGetIDsFromNamesResponse, NspiModProps, NspiModPropsResponse)


_CALLS5 = None


def _calls5():
    global _CALLS5
    if _CALLS5 is None:
        _CALLS5 = _impacket_calls()
    return _CALLS5


def _tags(arr, tags):
    from impacket.dcerpc.v5 import nspi
    arr["cValues"] = len(tags)
    for t in tags:
        d = nspi.DWORD()
        d["Data"] = t
        arr["aulPropTag"].append(d)


def _restriction(kind: str, **kw):
    """An impacket Restriction_r: ("and"|"or", children), ("not", child), ("content"|"property", tag, value),
    ("exist", tag)."""
    from impacket.dcerpc.v5 import nspi
    r = nspi.Restriction_r()
    rt = {"and": 0, "or": 1, "not": 2, "content": 3, "property": 4, "exist": 8}[kind]
    r["rt"] = rt
    r["res"]["tag"] = rt
    if kind in ("and", "or"):
        arm = r["res"]["resAnd" if kind == "and" else "resOr"]
        arm["cRes"] = len(kw["children"])
        for c in kw["children"]:
            arm["lpRes"].append(c)
    elif kind == "not":
        r["res"]["resNot"]["lpRes"] = kw["child"]
    elif kind in ("content", "property"):
        arm = r["res"]["resContent" if kind == "content" else "resProperty"]
        arm["ulFuzzyLevel" if kind == "content" else "relop"] = kw["how"]
        arm["ulPropTag"] = kw["tag"]
        arm["lpProp"]["ulPropTag"] = kw["tag"]
        arm["lpProp"]["ulReserved"] = 0
        arm["lpProp"]["Value"]["tag"] = kw["tag"] & 0xFFFF
        arm["lpProp"]["Value"]["lpszW"] = kw["value"] + "\x00"
    else:
        arm = r["res"]["resExist"]
        arm["ulReserved1"], arm["ulPropTag"], arm["ulReserved2"] = 0, kw["tag"], 0
    return r


def nspi_session() -> _Server:
    from impacket.dcerpc.v5 import nspi
    srv = _Server(nspi_answer)

    def run(dce):
        h = nspi.hNspiBind(dce)["contextHandle"]
        nspi.hNspiGetSpecialTable(dce, h)
        nspi.hNspiQueryRows(dce, h, ContainerID=0x2F, Count=50,
                            pPropTags=[PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W, PR_ACCOUNT_W, PR_ENTRYID, PR_OBJECT_TYPE])
        nspi.hNspiQueryRows(dce, h, ContainerID=0x2F, Count=200,
                            pPropTags=[PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W, PR_ACCOUNT_W, PR_ENTRYID, PR_OBJECT_TYPE])
        nspi.hNspiDNToMId(dce, h, ["/o=EXAMPLE/ou=Exchange Administrative Group/cn=Recipients/cn=u"])
        try:        # one tag the server does not have: MAPI_W_ERRORS_RETURNED, which impacket raises
            nspi.hNspiGetProps(dce, h, CurrentRec=0x10, pPropTags=[PR_DISPLAY_NAME_W, PR_EMAIL_ADDRESS_W,
                                                                  PR_DISPLAY_TYPE, 0x8C9E0102])
        except nspi.DCERPCSessionError as exc:
            assert exc.get_error_code() == 0x00040380
        nspi.hNspiGetPropList(dce, h, dwMId=0x10)
        nspi.hNspiQueryColumns(dce, h)
        nspi.hNspiResolveNamesW(dce, h, pPropTags=[PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W], paStr=["bob"])
        nspi.hNspiUpdateStat(dce, h, _stat(ContainerID=0x2F, CurrentRec=0x10, Delta=1, CodePage=1252))
        nspi.hNspiSeekEntries(dce, h, "Bob", ContainerID=0x2F, pPropTags=[PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W])
        cmp = nspi.NspiCompareMIds()
        cmp["hRpc"] = h
        cmp["pStat"] = _stat(ContainerID=0x2F, CodePage=1252)
        cmp["MId1"], cmp["MId2"] = 0x10, 0x11
        dce.request(cmp)
        nspi.hNspiGetTemplateInfo(dce, h, pDN="/o=EXAMPLE/cn=Display-Templates", dwLocaleID=0x409, ulType=0,
                                  dwCodePage=1252, dwFlags=0x00000001)
        nspi.hNspiGetNamesFromIDs(dce, h, pPropTags=[0x8580001F, 0x8581001F])
        nspi.hNspiResolveNames(dce, h, pPropTags=[0x3001001E, 0x39FE001E], paStr=["u"])
        try:        # the server refuses: ecAccessDenied, which impacket raises
            nspi.hNspiModLinkAtt(dce, h, 0, 0x8009101E, 0x11, [])
        except nspi.DCERPCSessionError as exc:
            assert exc.get_error_code() == 0x80070005
        gm_cls, _gm, rr_cls, _rr, ids_cls, _ids, mod_cls, _mod = _calls5()
        gm = gm_cls()               # ANR-like: display name starts with "Bo" and has an address, or is not hidden
        gm["hRpc"] = h
        gm["pStat"] = _stat(ContainerID=0x2F, CodePage=1252, TemplateLocale=0x409, SortLocale=0x409)
        gm["pReserved"] = nspi.NULL
        gm["Filter"] = _restriction("and", children=[
            _restriction("content", how=0x00010001, tag=PR_DISPLAY_NAME_W, value="Bo"),
            _restriction("or", children=[_restriction("exist", tag=PR_SMTP_ADDRESS_W),
                                         _restriction("not", child=_restriction("property", how=4, tag=0x3A00001F,
                                                                                value="hidden"))])])
        gm["lpPropName"] = nspi.NULL
        gm["ulRequested"] = 50
        _tags(gm["pPropTags"], [PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W])
        dce.request(gm)
        members = gm_cls()          # the members of a list: a property of one object, no filter
        members["hRpc"] = h
        members["pStat"] = _stat(ContainerID=0, CurrentRec=0x11, CodePage=1252)
        members["pReserved"] = nspi.NULL
        members["Filter"] = nspi.NULL
        members["lpPropName"]["lpguid"] = nspi.NULL
        members["lpPropName"]["ulReserved"] = 0
        members["lpPropName"]["lID"] = 0x8009
        members["ulRequested"] = 50
        _tags(members["pPropTags"], [PR_DISPLAY_NAME_W])
        dce.request(members)
        rr = rr_cls()
        rr["hRpc"] = h
        rr["pStat"] = _stat(ContainerID=0x2F, SortType=0, CodePage=1252, SortLocale=0x409)
        _tags(rr["pInMIds"], [0x10, 0x11])
        rr["ppOutMIds"] = nspi.NULL
        dce.request(rr)
        ids = ids_cls()             # two named properties: PSETID_Address by id, then a NULL pointer
        ids["hRpc"] = h
        ids["dwFlags"] = 0x00000002                         # MAPI_CREATE
        ids["cPropNames"] = 2
        name = nspi.PPropertyName_r()
        name["lpguid"] = bytes.fromhex("04200600000000000000c00000000046")
        name["ulReserved"] = 0
        name["lID"] = 0x8085
        ids["pNames"].append(name)
        ids["pNames"].append(nspi.NULL)
        dce.request(ids)
        mod = mod_cls()             # change a display name: refused with ecAccessDenied
        mod["hRpc"] = h
        mod["pStat"] = _stat(CurrentRec=0x10, CodePage=1252)
        _tags(mod["pPropTags"], [PR_DISPLAY_NAME_W])
        row = _row([(PR_DISPLAY_NAME_W, "Recorder U. Ser")])
        mod["pRow"]["Reserved"], mod["pRow"]["cValues"], mod["pRow"]["lpProps"] = 0, row["cValues"], row["lpProps"]
        try:
            dce.request(mod)
        except nspi.DCERPCSessionError as exc:
            assert exc.get_error_code() == 0x80070005
        nspi.hNspiUnbind(dce, h)
    _client(srv.port, nspi.MSRPC_UUID_NSPI, run)
    srv.thread.join(5)
    return srv


# -- the capture -----------------------------------------------------------------------------------------

def _frames(log, n: int):
    from .capture_synth import _frame, _tcp
    cli, srv = ("10.0.0.20", 49700 + n), ("10.0.0.5", 6004)
    cseq, sseq = 7000 + n, 9000 + n
    t0 = log[0][0] - 0.001
    frames = [(t0, _frame(False, cli[0], srv[0], _tcp(cli[1], srv[1], cseq, 0, 0x02))),
              (t0 + 1e-4, _frame(False, srv[0], cli[0], _tcp(srv[1], cli[1], sseq, cseq + 1, 0x12)))]
    cseq, sseq = cseq + 1, sseq + 1
    for t, who, data in log:
        for k in range(0, len(data), 200):
            piece = data[k:k + 200]
            if who == "client":
                frames.append((t, _frame(False, cli[0], srv[0], _tcp(cli[1], srv[1], cseq, sseq, 0x18, piece))))
                cseq += len(piece)
            else:
                frames.append((t, _frame(False, srv[0], cli[0], _tcp(srv[1], cli[1], sseq, cseq, 0x18, piece))))
                sseq += len(piece)
            t += 1e-6
    return frames


# -- the same sealed EMSMDB connection inside RPC over HTTP v2 ------------------------------------------

RPCH_OUT = ROOT / "fixtures" / "rpch" / "sealed_rpch_synth.jsonl"


def rpch_log() -> str:
    """The sealed EMSMDB connection of the pcap as an RPC/HTTP recorder log (rulerlog.py's format): ruler's
    channel openings (Basic, \\u:p) and RTS handshake from fixtures/rpch/rpc_basic_encrypt_check.jsonl, then
    the pcap's sealed PDUs, the client's on the IN channel and the server's on the OUT channel, at their
    times. Deterministic: made from the two files, so the test checks the fixture is what this makes."""
    import json
    from datetime import datetime, timezone
    from protocols.capture import read
    from protocols.rpch import dcerpc
    ruler = [json.loads(x) for x in (ROOT / "fixtures" / "rpch" / "rpc_basic_encrypt_check.jsonl").read_text()
             .splitlines() if x.strip()]
    rows = [r for r in ruler if r["kind"] in ("http", "rpc-out-request-body") and r.get("method") != "POST"
            or r["kind"] in ("rpc-in-pdu", "rpc-out-pdu") and bytes.fromhex(r["pdu_hex"])[2] == 20]
    cap = read(OUT.name, OUT.read_bytes())
    st = cap.streams[0]                                   # the EMSMDB connection
    pdus = []
    for who, side in (("client", st.client), ("server", st.server)):
        for cut in dcerpc.split_pdus(side.data):
            pdus.append((side.time_at(cut.offset), who == "server", cut.raw))
    pdus.sort(key=lambda p: (p[0], p[1]))
    out = []
    for r in rows:
        out.append({k: v for k, v in r.items() if k != "seq"})
    for t, from_server, raw in pdus:
        stamp = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.append({"kind": "rpc-out-pdu" if from_server else "rpc-in-pdu", "pdu_hex": raw.hex(), "time": stamp})
    return "".join(json.dumps({**r, "seq": n}) + "\n" for n, r in enumerate(out, 1))


def main() -> None:
    frames = _frames(emsmdb_session().log, 1) + _frames(nspi_session().log, 2) + \
        _frames(emsmdb_session(ntlmv2=False).log, 3) + _frames(emsmdb_session(level=5).log, 4) + \
        _frames(spnego_session(), 5)
    frames.sort(key=lambda f: f[0])
    OUT.write_bytes(write_pcap([Packet(i, t, 1, f, len(f)) for i, (t, f) in enumerate(frames, 1)]))
    print(f"wrote {OUT} ({len(frames)} frames)")
    RPCH_OUT.write_text(rpch_log())
    print(f"wrote {RPCH_OUT}")


if __name__ == "__main__":
    main()
