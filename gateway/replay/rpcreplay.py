"""Replaying EMSMDB and NSPI calls captured over DCE/RPC (ncacn_ip_tcp, or RPC over HTTP v2) on a gateway that
speaks MAPI over HTTP: each call is carried as the MAPI/HTTP request that replaces it.

MS-OXCMAPIHTTP 2.2.4 gives each EMSMDB request type the fields of the RPC call it replaces:

- EcDoConnect (opnum 0) and EcDoConnectEx (opnum 10) -> Connect: the user's DN (``--map`` applies), flags,
  code page, LcidSort, LcidString (MS-OXCRPC 3.1.4.1); the recorded answer becomes a Connect answer with
  the call's return value as ErrorCode;
- EcDoRpcExt2 (opnum 11) -> Execute: pulFlags as Flags, rgbIn as RopBuffer (the same RPC_HEADER_EXT chain,
  MS-OXCRPC 3.1.4.2), pcbOut as MaxRopOut, rgbAuxIn as AuxiliaryBuffer; rgbOut and the return value are
  the recorded answer's RopBuffer and ErrorCode;
- EcDoRpc (opnum 2, Outlook 2003) has no RPC_HEADER_EXT: its ROP buffer (XOR 0xA5 undone) is wrapped in
  one uncompressed, unobfuscated piece (MS-OXCRPC 2.2.2.1), and so is its answer; its buffer size is
  MaxRopOut (plus the 8-byte header);
- EcDoDisconnect (opnum 1) -> Disconnect;
- NspiBind (NSPI opnum 0) -> /mapi/nspi Bind: dwFlags and the STAT (MS-OXCMAPIHTTP 2.2.5.1); the other
  NSPI calls -> the /mapi/nspi request of the same name (gateway/replay/rpcnspi.py).

The server's context handles become the live server's session cookies; the handles, FIDs/MIDs and
MIds inside are paired and the answers compared ROP by ROP by the MAPI/HTTP replay
(gateway/replay/mapireplay.py, nspireplay.py), which sees these requests like any other.

A call sealed with NTLM (auth level privacy) is carried once the capture's credentials
(``--capture-password``, not the target's) unseal it. A call that cannot be carried is listed as "not
replayed: <reason>": its stub is sealed and no credentials open it, its connection's bind or its
session's EcDoConnect/NspiBind is not in the capture (its handles were opened before the capture
began), its answer is not in the capture or is a fault, the recorded server refused the sign-in (a
sign-in leg: the replay signs in itself), or the call has no MAPI/HTTP counterpart (the endpoint
mapper, EcRRegisterPushNotification, ...).

The calls go out in the order of their times; each DCE/RPC connection's calls get a MAPI/HTTP session
of their own (driver.Replayer.lane), so sessions that overlap in the capture stay apart.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

from protocols.capture.model import Capture, Exchange
from protocols.mapi.values import PropValueError
from protocols.mapihttp import emsmdb as mh
from protocols.nspi import codec as nspi
from protocols.rops import RopFormatError, encode_ext_buffer
from protocols.rpch import emsmdb as rpc_emsmdb, nspi as rpc_nspi, nspicalls, unseal
from protocols.rpch.ndr import NdrError

from . import rpcnspi
from .mapi import RpcConnection, rpch_connections, tcp_connections

CARRIED = "replayed over MAPI/HTTP: the target does not speak RPC/HTTP"
CARRIED_NOTE = "carried: "             # Exchange.notes prefix naming the DCE/RPC call (driver.operation_of)
LANE_NOTE = "lane: "                    # ... and the connection it came on (its session: driver.Replayer.lane)
CLIENT_INFO = "{E0E0E0E0-0000-4000-8000-000000000014}"
EXT_HEADER = 8                          # an RPC_HEADER_EXT (MS-OXCRPC 2.2.2.1)
MAPI_E_LOGON_FAILED = 0x80040111
PLAIN_ANSWERS = mh.ExecuteFlags.NO_COMPRESSION | mh.ExecuteFlags.NO_XOR_MAGIC
NO_COUNTERPART = {
    "EPM": "the endpoint mapper has no MAPI/HTTP counterpart (MAPI/HTTP has fixed URLs)",
    ("EMSMDB", 4): "EcRRegisterPushNotification has no MAPI/HTTP counterpart (NotificationWait replaces it)",
    ("EMSMDB", 6): "EcDummyRpc has no MAPI/HTTP counterpart (PING replaces it)",
}


@dataclass
class Carried:
    """A capture's exchanges with its DCE/RPC calls as MAPI/HTTP requests, and the calls left out."""

    exchanges: list[Exchange] = field(default_factory=list)
    not_replayed: list[tuple[Exchange, str]] = field(default_factory=list)
    connections: int = 0
    calls: int = 0

    @property
    def carried(self) -> int:
        return sum(1 for ex in self.exchanges if is_carried(ex))


def is_carried(ex: Exchange) -> bool:
    return any(n.startswith(CARRIED_NOTE) for n in ex.notes)


def carried_lane(ex: Exchange) -> str | None:
    return next((n[len(LANE_NOTE):] for n in ex.notes if n.startswith(LANE_NOTE)), None)


def carried_call(ex: Exchange) -> str | None:
    return next((n[len(CARRIED_NOTE):] for n in ex.notes if n.startswith(CARRIED_NOTE)), None)


class _Builder:
    def __init__(self, cap: Capture):
        self.cap = cap
        self.seq = max((ex.seq for ex in cap.exchanges), default=0)
        self.out = Carried()

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def listed(self, conn: RpcConnection, call, time, why: str) -> None:
        ex = Exchange(self._next(), call.operation, f"/{conn.name} call {call.call_id}", time=time,
                      source=f"{conn.name}, call {call.call_id}")
        self.out.not_replayed.append((ex, f"not replayed: {why}"))

    def sealed_binds(self, conn: RpcConnection) -> None:
        """A bind asking for sealing that no call followed in the capture is said too (ruler's recorder
        stops there: it cannot seal)."""
        if conn.conv.calls:
            return
        for who, off, pdu in conn.conv.events:
            if who == "client" and pdu.ptype in (11, 14) and pdu.auth and pdu.auth.level_name == "privacy":
                ex = Exchange(self._next(), pdu.name, f"/{conn.name} call {pdu.call_id}",
                              time=conn.time_of(who, off), source=f"{conn.name}, {pdu.name} {pdu.call_id}")
                why = (f"not replayed: a {pdu.name} asking for sealing ({pdu.auth.type_name} at auth level "
                       "privacy); no call follows it in the capture")
                self.out.not_replayed.append((ex, why))

    def mapi(self, conn: RpcConnection, call, time, endpoint: str, rtype: str, body: bytes, answer: bytes) -> None:
        seq = self._next()
        headers = [("Content-Type", "application/mapi-http"), ("X-RequestType", rtype),
                   ("X-RequestId", f"{CLIENT_INFO}:{seq}"), ("X-ClientInfo", CLIENT_INFO),
                   ("X-ClientApplication", "exgate-replay/1.0 (carried from DCE/RPC)")]
        self.out.exchanges.append(Exchange(
            seq, "POST", f"/mapi/{endpoint}/", headers, body, status=200,
            response_headers=[("X-ResponseCode", "0")], response_body=answer, time=time, conn=conn.conn,
            source=f"{conn.name}, call {call.call_id}",
            notes=[CARRIED_NOTE + call.operation, LANE_NOTE + f"{conn.name} ({endpoint})", CARRIED]))


def _delta(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def _connect(b: _Builder, conn, call, time) -> None:
    q = rpc_emsmdb.decode_connect_request(call.request_stub)
    r = rpc_emsmdb.decode_connect_response(call.response_stub)
    body = mh.ConnectRequest(q.user_dn, q.flags, q.code_page, q.lcid_sort, q.lcid_string).encode()
    polls, retries, delay = struct.unpack_from("<3I", call.response_stub, 20)    # after the context handle
    answer = mh.ConnectResponse(r.return_value, polls, retries, delay, r.dn_prefix or "",
                                r.display_name or "").encode()
    b.mapi(conn, call, time, "emsmdb", "Connect", body, answer)


def _execute_ext2(b: _Builder, conn, call, time) -> None:
    q = rpc_emsmdb.decode_ecdorpcext2_request(call.request_stub)
    r = rpc_emsmdb.decode_ecdorpcext2_response(call.response_stub)
    body = mh.ExecuteRequest(q.flags, q.rgb_in, q.cb_out, q.aux_in).encode()
    answer = mh.ExecuteResponse(r.rgb_out, r.return_value, 0, r.aux_out).encode()
    b.mapi(conn, call, time, "emsmdb", "Execute", body, answer)


def _execute_legacy(b: _Builder, conn, call, time) -> None:
    q = rpc_emsmdb.decode_ecdorpc_request(call.request_stub)
    r = rpc_emsmdb.decode_ecdorpc_response(call.response_stub)
    body = mh.ExecuteRequest(PLAIN_ANSWERS, encode_ext_buffer([q.rop_buffer]), q.size + EXT_HEADER).encode()
    answer = mh.ExecuteResponse(encode_ext_buffer([r.rop_buffer]), r.return_value).encode()
    b.mapi(conn, call, time, "emsmdb", "Execute", body, answer)


def _disconnect(b: _Builder, conn, call, time) -> None:
    rv = struct.unpack_from("<I", call.response_stub, len(call.response_stub) - 4)[0]
    b.mapi(conn, call, time, "emsmdb", "Disconnect", mh.DisconnectRequest().encode(),
           mh.DisconnectResponse(rv).encode())


def _nspi_bind(b: _Builder, conn, call, time) -> str | None:
    q = rpc_nspi.decode_bind_request(call.request_stub)
    r = rpc_nspi.decode_bind_response(call.response_stub)
    if r.return_value == MAPI_E_LOGON_FAILED:
        return ("the recorded server refused the sign-in (MAPI_E_LOGON_FAILED): a sign-in leg, the replay signs "
                "in itself")
    stat = nspi.Stat(**{**q.stat, "delta": _delta(q.stat["delta"])})
    body = nspi.REQUESTS["Bind"](flags=q.flags, state=stat, auxiliary_buffer=b"").encode()
    guid = uuid.UUID(r.server_guid) if r.server_guid else uuid.UUID(int=0)
    answer = nspi.RESPONSES["Bind"](error_code=r.return_value, server_guid=guid, auxiliary_buffer=b"").encode()
    b.mapi(conn, call, time, "nspi", "Bind", body, answer)
    return None


def _nspi_call(b: _Builder, conn, call, time) -> None:
    rtype, body, answer = rpcnspi.carry(call.opnum, call.request_stub, call.response_stub)
    b.mapi(conn, call, time, "nspi", rtype, body, answer)


# (interface, opnum) -> (how it is carried, its session: the call that starts it, or a call that needs
# one carried before it on its connection)
CALLS = {**{("NSPI", op): (_nspi_call, "nspi end" if op == 1 else "nspi") for op in nspicalls.REQUESTS},
         ("EMSMDB", 0): (_connect, "emsmdb start"), ("EMSMDB", 10): (_connect, "emsmdb start"),
         ("EMSMDB", 11): (_execute_ext2, "emsmdb"), ("EMSMDB", 2): (_execute_legacy, "emsmdb"),
         ("EMSMDB", 1): (_disconnect, "emsmdb end"), ("NSPI", 0): (_nspi_bind, "nspi start")}
# what the codecs raise on a stub that does not decode
STUB_ERRORS = (rpc_emsmdb.StubError, rpc_nspi.NspiStubError, mh.MapiHttpDecodeError, RopFormatError, PropValueError,
               struct.error, NdrError, nspi.NspiDecodeError, UnicodeDecodeError)
NULL_IN_STRING = "null-terminated string cannot hold a null"     # the MAPI/HTTP and NSPI encoders' ValueError


def _why_failed(exc: Exception) -> str:
    """Why a call could not be carried: its stub does not decode, or holds a string its MAPI/HTTP request cannot;
    any other exception (KeyError, TypeError, another ValueError) is a bug in the carrying and is said as one
    rather than passing for a damaged stub."""
    if isinstance(exc, STUB_ERRORS):
        return f"its stub does not decode: {exc}"
    if isinstance(exc, UnicodeEncodeError):     # an 8-bit string of the stub (a DN) into MAPI/HTTP's ASCII
        return (f"its string {exc.object!r} is not ASCII, which the MAPI/HTTP request's is (MS-OXCMAPIHTTP: "
                "Connect's UserDN, NSPI's 8-bit strings)")
    if isinstance(exc, ValueError) and NULL_IN_STRING in str(exc):
        return "a string of it holds a null, which the MAPI/HTTP request's null-terminated strings cannot"
    return f"it could not be carried: {type(exc).__name__}: {exc} (a bug worth reporting)"


def _why_not(call, conn: RpcConnection, connected: dict, kind) -> str | None:
    name = call.interface_name
    if call.protection == "encrypted" and not call.decrypted:
        why = call.seal_note or unseal.NO_PASSWORD
        return why.replace("give --password", "give --capture-password")
    if call.interface is None:
        return "its connection's bind is not in the capture: the interface is unknown"
    if call.interface_guessed:
        return f"its connection's bind and its session's start are not in the capture ({conn.guess_note})"
    if kind is None:
        return NO_COUNTERPART.get((name, call.opnum)) or NO_COUNTERPART.get(name.split()[0]) or \
            f"{call.operation} of {name} has no MAPI/HTTP counterpart"
    if not call.response:
        return "its answer is not in the capture"
    if call.fault is not None:
        return f"the recorded answer is a fault (0x{call.fault:08X}): nothing to compare"
    what, _, role = kind[1].partition(" ")
    if role != "start" and not connected[what]:
        start = "EcDoConnect" if what == "emsmdb" else "NspiBind"
        return f"its session's {start} was not replayed or is not in the capture (the session began before it)"
    return None


def _started(ex: Exchange) -> bool:
    """The recorded Connect or Bind succeeded (ErrorCode 0): the calls after it have a session."""
    rtype = ex.request_header("X-RequestType") or ""
    codec = nspi.decode_response if rtype == "Bind" else mh.decode_response
    return getattr(codec(rtype, ex.response_body), "error_code", 1) == 0


def carry(cap: Capture, *, password_for=None) -> Carried:
    """The capture's exchanges, its RPC/HTTP channels replaced by their calls carried over MAPI/HTTP (and
    its DCE/RPC over TCP connections' calls added), in the order of the calls' times.
    ``password_for("DOMAIN\\user")`` gives the password of the user a sealed connection signed in as (the
    capture's credentials, not the target's): its calls are unsealed (protocols/rpch/unseal.py) and carried."""
    b = _Builder(cap)
    conns = rpch_connections(cap, password_for)
    if cap.format in ("pcap", "pcapng"):
        conns += tcp_connections(cap, password_for)
    extra = []
    for conn in conns:
        b.out.connections += 1
        b.sealed_binds(conn)
        connected = {"emsmdb": False, "nspi": False}
        for call in conn.conv.calls:
            b.out.calls += 1
            first = call.request[0]
            offset = next((o for w, o, p in conn.conv.events if p is first), 0)
            time = conn.time_of("client", offset)
            kind = CALLS.get((call.interface_name, call.opnum))
            why = _why_not(call, conn, connected, kind)
            if why is None:
                before = len(b.out.exchanges)
                try:
                    why = kind[0](b, conn, call, time)
                except rpcnspi.NotCarried as exc:
                    why = str(exc)
                except Exception as exc:        # noqa: BLE001 - a capture never stops the replay
                    why = _why_failed(exc)
                what, _, role = kind[1].partition(" ")
                if why is None and role == "start":
                    connected[what] = _started(b.out.exchanges[-1])
                elif role == "end":
                    connected[what] = False
                extra += b.out.exchanges[before:]
                del b.out.exchanges[before:]
            if why is not None:
                b.listed(conn, call, time, why)
    others = []
    for ex in cap.exchanges:
        if ex.method in ("RPC_IN_DATA", "RPC_OUT_DATA"):
            b.out.not_replayed.append((ex, "an RPC/HTTP channel: its calls are " + CARRIED))
        else:
            others.append(ex)
    b.out.exchanges = _merge(others, extra)
    return b.out


def _merge(others: list[Exchange], extra: list[Exchange]) -> list[Exchange]:
    """The capture's exchanges in their order, each carried call put before the first exchange that started
    after it (the calls of a connection keep theirs; a call without a time goes at the end)."""
    extra = sorted(extra, key=lambda ex: (ex.time is None, ex.time or ""))
    out, k = [], 0
    for ex in others:
        while k < len(extra) and extra[k].time is not None and ex.time is not None and extra[k].time < ex.time:
            out.append(extra[k])
            k += 1
        out.append(ex)
    return out + extra[k:]
