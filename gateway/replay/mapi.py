"""What `exgate decode` says about MAPI traffic: MAPI/HTTP bodies (EMSMDB and NSPI) and DCE/RPC calls.

The codecs are the server's own: protocols.mapihttp (bodies, PROCESSING/DONE framing),
protocols.rops (RPC_HEADER_EXT chains with XOR and LZ77, ROP buffers, each ROP), protocols.nspi
(NSPI bodies), protocols.rpch (DCE/RPC PDUs, the EMSMDB stubs). Every ROP is shown with its name
and fields; property tags get their MS-OXPROPS names; each ROP's bytes (re-encoded by its codec,
which round-trips) ride along as ``hex`` for the JSON and HTML outputs. Nothing here raises on a bad
body: what does not parse is described with the codec's reason, and the rest is still shown.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import struct
import uuid

from protocols.capture.http1 import iso_time as _iso
from protocols.capture.identity import ntlm_user, request_user
from protocols.capture.model import Capture, Exchange, Problem
from protocols.mapi.props import name_of
from protocols.mapihttp import emsmdb as mh_emsmdb
from protocols.mapihttp.errors import MapiHttpDecodeError
from protocols.mapihttp.framing import decode_stream, still_held
from protocols.nspi import codec as nspi
from protocols.rops import (
    RopErrorResponse, RopFormatError, UnknownRop, decode_ext_buffer, decode_request_buffer,
    decode_response_buffer, rop_name,
)
from protocols.rops.rows import decode_row
from protocols.rpch import dcerpc, emsmdb as rpc_emsmdb, nspi as rpc_nspi, nspicalls, rts, unseal
from protocols.rpch.ndr import NdrError

MAX_HEX = 4096                        # bytes of a ROP or body shown as hex; longer ones are cut and said so
_TYPES = (0x1F, 0x1E, 0x03, 0x02, 0x0B, 0x40, 0x102, 0x14, 0x48, 0x05, 0x06, 0x0A, 0x0D, 0x101F, 0x101E,
          0x1003, 0x1102, 0x1014, 0x1048, 0xFB, 0x00, 0x01)


_ID_FIELDS = ("folder_id", "folder_ids", "message_id", "message_ids", "fid", "mid", "fids", "mids",
              "parent_id", "object_id")


EXPECTED = (RopFormatError, MapiHttpDecodeError, nspi.NspiDecodeError, rpc_emsmdb.StubError, rpc_nspi.NspiStubError,
            NdrError, KeyError, struct.error)


def _why(exc: Exception) -> str:
    """A codec's reason; an exception a codec is not meant to raise is named, so it can be reported."""
    if isinstance(exc, EXPECTED):
        return str(exc)
    return f"{exc} (the codec raised {type(exc).__name__}: a codec bug worth reporting)"


def tag_name(tag: int) -> str:
    """``PidTagSubject (0x0037001F)``; the name of the same property id with another type when the
    tag itself is not listed (PT_STRING8 for PT_UNICODE, PT_ERROR in a row...)."""
    name = name_of(tag)
    if name is None:
        pid = tag & 0xFFFF0000
        name = next((n for t in _TYPES if (n := name_of(pid | t))), None)
    return f"{name} (0x{tag:08X})" if name else f"0x{tag:08X}"


def _hex(b: bytes) -> str:
    return b[:MAX_HEX].hex() + (f"... ({len(b)} bytes)" if len(b) > MAX_HEX else "")


@functools.lru_cache(maxsize=4096)
def _is_tag_field(name: str) -> bool:
    n = name.lower()
    return "tag" in n or n in ("columns", "props", "proptags", "property_id_list")


@functools.lru_cache(maxsize=4096)
def _is_id_field(name: str) -> bool:
    return name.endswith(_ID_FIELDS)


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(t: type) -> tuple[str, ...] | None:
    """A dataclass type's field names (None for any other type), looked up once per type: a capture's
    describe calls plain() on every field of every ROP."""
    try:
        return _FIELD_NAMES[t]
    except KeyError:
        names = _FIELD_NAMES[t] = (tuple(f.name for f in dataclasses.fields(t)) if dataclasses.is_dataclass(t)
                                   else None)
        return names


def plain(v, key: str = ""):
    """A codec object as JSON-friendly values, with property tags by name."""
    t = type(v)
    if t is str or t is float:
        return v
    names = _field_names(t)
    if names is not None:
        out = {}
        tagged = hasattr(v, "tag") and isinstance(getattr(v, "tag"), int)
        for name in names:
            val = getattr(v, name)
            if name == "raw" and isinstance(v, UnknownRop):
                out["raw"] = _hex(val)
                continue
            out[name] = plain(val, name if not (tagged and name == "tag") else "tag")
        return out
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, int):
        if key and _is_tag_field(key) and 0 <= v <= 0xFFFFFFFF:
            return tag_name(v)
        if _is_id_field(key) and v > 0xFFFF:
            return f"0x{v:016X}"                  # FIDs and MIDs (MS-OXCDATA 2.2.1): replica id and counter
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return _hex(bytes(v))
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, dict):
        return {str(k): plain(x, key) for k, x in v.items()}
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], int) and "value" in key:
        return {"tag": tag_name(v[0]), "value": plain(v[1])}      # a TaggedPropertyValue as (tag, value)
    if isinstance(v, (list, tuple, set, frozenset)):
        return [plain(x, key) for x in v]
    if isinstance(v, (str, float)):
        return v
    return repr(v)


def _rop_bytes(rop) -> str | None:
    try:
        out = bytearray()
        rop.encode(out)
        return _hex(bytes(out))
    except Exception:        # a codec that cannot re-encode what it read: the fields still show
        return None


def _rop_entry(rop) -> dict:
    rid = getattr(rop, "ROP_ID", None)
    if rid is None:
        rid = getattr(rop, "rop_id", None)
    fields = plain(rop)
    entry = {"rop": rop_name(rid) if rid is not None else type(rop).__name__, "rop_id": rid, "fields": fields}
    if isinstance(rop, UnknownRop):
        entry["note"] = "no codec for this RopId: the rest of the buffer is kept raw"
    h = _rop_bytes(rop)
    if h is not None:
        entry["hex"] = h
    return entry


def rop_buffers(request_buf: bytes | None, response_buf: bytes | None) -> dict:
    """One ROP request buffer and its answer (MS-OXCROPS 2.2.1) as ROPs, each answer beside its request."""
    out: dict = {"rops": []}
    reqs = None
    if request_buf is not None:
        try:
            reqs = decode_request_buffer(request_buf)
            out["rops"] = [{"rop": e["rop"], "rop_id": e["rop_id"], "request": e["fields"],
                            **({"request_hex": e["hex"]} if "hex" in e else {}),
                            **({"note": e["note"]} if "note" in e else {})}
                           for e in map(_rop_entry, reqs.rops)]
            out["request_handles"] = [f"0x{h:08X}" for h in reqs.handles]
        except Exception as exc:        # noqa: BLE001 - a decoder never stops the decode (see _why)
            out["request_error"] = f"ROP request buffer does not decode: {_why(exc)}"
            out["request_hex"] = _hex(request_buf)
    if response_buf is not None:
        try:
            resp = decode_response_buffer(response_buf, reqs.rops if reqs else ())
        except Exception as exc:        # noqa: BLE001
            out["response_error"] = f"ROP response buffer does not decode: {_why(exc)}"
            out["response_hex"] = _hex(response_buf)
            return out
        out["response_handles"] = [f"0x{h:08X}" for h in resp.handles]
        cursor = 0
        for rop in resp.rops:
            e = _rop_entry(rop)
            if isinstance(rop, RopErrorResponse):
                e["fields"]["return_value"] = f"0x{rop.return_value:08X}"
            slot = None
            req_obj = None
            for i in range(cursor, len(out["rops"])):
                if out["rops"][i]["rop_id"] == e["rop_id"] and "response" not in out["rops"][i]:
                    slot, cursor = out["rops"][i], i + 1
                    req_obj = reqs.rops[i] if reqs and i < len(reqs.rops) else None
                    break
            _decode_row_data(rop, req_obj, e["fields"])
            if slot is None:
                slot = {"rop": e["rop"], "rop_id": e["rop_id"]}
                out["rops"].append(slot)
            slot["response"] = e["fields"]
            if "hex" in e:
                slot["response_hex"] = e["hex"]
            rv = getattr(rop, "return_value", None)
            if isinstance(rv, int):
                slot["return_value"] = f"0x{rv:08X}"
    return out


def _decode_row_data(rop, req, fields: dict) -> None:
    """A PropertyRow kept raw by its codec (RopGetPropertiesSpecific) read against the request's tags."""
    tags = getattr(req, "property_tags", None)
    data = getattr(rop, "row_data", None)
    if not tags or not isinstance(data, (bytes, bytearray)) or not data:
        return
    try:
        row, _end = decode_row(bytes(data), 0, tags)
    except Exception as exc:            # noqa: BLE001
        fields["row_error"] = f"row does not decode against the requested tags: {_why(exc)}"
        return
    fields["row"] = {tag_name(t): plain(v) for t, v in zip(tags, row.values)}
    fields.pop("row_data", None)


def _ext_chain(buf: bytes) -> tuple[list[dict], list[bytes], str | None]:
    """An RPC_HEADER_EXT chain: its headers and the payloads in clear (XOR and LZ77 undone)."""
    try:
        pieces = decode_ext_buffer(buf)
    except Exception as exc:            # noqa: BLE001
        return [], [], f"RPC_HEADER_EXT chain does not decode: {_why(exc)}"
    heads = []
    for p in pieces:
        flags = [n for bit, n in ((0x1, "Compressed"), (0x2, "XorMagic"), (0x4, "Last")) if p.header.flags & bit]
        heads.append({"flags": "|".join(flags) or "0", "size": p.header.size, "size_actual": p.header.size_actual})
    return heads, [p.payload for p in pieces], None


def execute_rops(request_ext: bytes | None, response_ext: bytes | None) -> dict:
    """The ROPs of an Execute / EcDoRpcExt2: each side an RPC_HEADER_EXT chain of ROP buffers."""
    out: dict = {}
    req_payloads: list[bytes] = []
    resp_payloads: list[bytes] = []
    if request_ext is not None:
        out["request_ext"], req_payloads, err = _ext_chain(request_ext)
        if err:
            out["request_error"] = err
    if response_ext is not None:
        out["response_ext"], resp_payloads, err = _ext_chain(response_ext)
        if err:
            out["response_error"] = err
    first = rop_buffers(req_payloads[0] if req_payloads else None, resp_payloads[0] if resp_payloads else None)
    out.update({k: v for k, v in first.items() if k not in out})
    for extra in resp_payloads[1:]:            # a chained answer: more ROP buffers (RopFastTransfer data...)
        more = rop_buffers(None, extra)
        out["rops"].extend(more.get("rops", []))
    return out


def _unframe(ex: Exchange) -> tuple[bytes, dict]:
    """The response body without the PROCESSING/PENDING/DONE block, and that block's headers."""
    body = ex.response_content
    if body.startswith((b"PROCESSING", b"PENDING", b"DONE")):
        if still_held(body):
            return b"", {"pending": body.count(b"PENDING\r\n"),
                         "held": "no DONE: the server still held the request when the client stopped reading "
                                 "(a NotificationWait given up on)"}
        try:
            s = decode_stream(body)
            return s.body, {"pending": s.pending, "headers": dict(s.headers)}
        except Exception as exc:        # noqa: BLE001
            return b"", {"error": _why(exc)}
    return body, {}


def _body(obj) -> dict:
    d = plain(obj)
    d = {k: v for k, v in d.items() if k not in ("rop_buffer", "rgb_in", "rgb_out")}
    return {"type": type(obj).__name__, **d}


def mapihttp(ex: Exchange, kind: str) -> dict:
    """A MAPI/HTTP exchange: request type, bodies, and for Execute every ROP."""
    rtype = ex.request_header("X-RequestType") or ""
    out: dict = {"request_type": rtype}
    if ex.request_header("X-RequestId"):
        out["request_id"] = ex.request_header("X-RequestId")
    if ex.response_header("X-ResponseCode") is not None:
        out["response_code"] = ex.response_header("X-ResponseCode")
    if not rtype:
        out["note"] = "no X-RequestType header: not a MAPI/HTTP request"
        return out
    # PING (MS-OXCMAPIHTTP 2.2.6) is a request type of both endpoints, with no body either way
    is_nspi = kind == "mapihttp-nspi" and rtype.lower() != "ping"
    req = resp = None
    try:
        req = (nspi.decode_request if is_nspi else mh_emsmdb.decode_request)(rtype, ex.request_content)
        out["request"] = _body(req)
    except Exception as exc:            # noqa: BLE001
        out["request"] = {"error": f"request body does not decode: {_why(exc)}"}
    if ex.status == 200 and ex.response_body:
        body, framing = _unframe(ex)
        if framing:
            out["framing"] = framing
        if body:
            try:
                resp = (nspi.decode_response if is_nspi else mh_emsmdb.decode_response)(rtype, body)
                out["response"] = _body(resp)
            except Exception as exc:    # noqa: BLE001
                out["response"] = {"error": f"response body does not decode: {_why(exc)}"}
    if not is_nspi and rtype.lower() == "execute" and req is not None and hasattr(req, "rop_buffer"):
        resp_buf = getattr(resp, "rop_buffer", None) if resp is not None else None
        out.update(execute_rops(req.rop_buffer, resp_buf))
    return out


# -- DCE/RPC over TCP ---------------------------------------------------------------------------

def _nspi_restriction(res: nspicalls.Restriction) -> dict:
    """A Restriction_r as {kind: its fields}, tags by name, the tree kept."""
    if res.rt in (0, 1):
        body = [_nspi_restriction(c) for c in res.children] if res.children is not None else None
    elif res.rt in (2, 9):
        body = _nspi_restriction(res.child) if res.child is not None else None
        if res.rt == 9:
            body = {"sub_object": tag_name(res.sub_object), "restriction": body}
    else:
        body = {"tag": tag_name(res.prop_tag)}
        if res.rt == 3:
            body["fuzzy_level"] = f"0x{res.fuzzy_level:08X}"
        elif res.rt in (4, 5, 6, 7):
            body["relop"] = res.relop
        if res.rt == 5:
            body["tag2"] = tag_name(res.prop_tag2)
        elif res.rt == 6:
            body["mask"] = f"0x{res.mask:08X}"
        elif res.rt == 7:
            body["size"] = res.size
        if res.prop is not None:
            body["value"] = plain(res.prop.value)
    return {res.kind: body}


def _nspi_value(v):
    if isinstance(v, nspicalls.Restriction):
        return _nspi_restriction(v)
    if isinstance(v, nspicalls.PropTagArray):
        return [tag_name(t) for t in v.tags]
    if isinstance(v, nspicalls.PropRow):
        return None if v.values is None else {
            tag_name(p.tag): f"error 0x{p.value:08X}" if p.tag & 0xFFFF == 0x000A else plain(p.value)
            for p in v.values}
    if isinstance(v, nspicalls.RowSet):
        return [_nspi_value(r) for r in v.rows]
    return plain(v)


def nspi_params(obj: nspicalls.NspiStub) -> dict:
    """An NSPI call's parameters over DCE/RPC as JSON-friendly values: tags and row properties by name,
    MIds as numbers, context handles as hex."""
    out = {}
    for name, v in obj.params().items():
        if name == "return_value":
            continue
        if isinstance(v, nspicalls.PropTagArray) and "mid" in name:
            out[name] = list(v.tags)                # Minimal Entry IDs, not property tags
        else:
            out[name] = _nspi_value(v)
    return out


def _nspi_call(call: dcerpc.Call) -> dict:
    q = nspicalls.decode_request(call.opnum, call.request_stub)
    out: dict = {"request": nspi_params(q)}
    if q.layout != "IDL":               # impacket's marshalling of the call, not the IDL's
        out["request_layout"] = f"{q.layout}'s (not the IDL's)"
    if call.response_stub and call.fault is None:
        r = nspicalls.decode_response(call.opnum, call.response_stub)
        out["response"] = nspi_params(r)
        out["return_value"] = f"0x{r.return_value:08X}"
    return out


def _stub_detail(call: dcerpc.Call) -> dict:
    """What the stubs of the calls exgate knows say (the EMSMDB calls that carry ROPs, Connect)."""
    if call.protection == "encrypted" and not call.decrypted:
        why = call.seal_note or unseal.NO_PASSWORD
        return {"stub": f"{why}: {len(call.request_stub)} byte(s) in, {len(call.response_stub)} out"}
    name = dcerpc.interface_name(call.interface)
    out: dict = {}
    if call.decrypted:                  # NTLM-sealed, read with the password given (protocols/rpch/unseal.py)
        out["decrypted"] = True
    if call.seal_note and (call.decrypted or call.protection == "signed"):
        out["signature"] = call.seal_note
    try:
        if name == "EMSMDB" and call.opnum == 2:
            q = rpc_emsmdb.decode_ecdorpc_request(call.request_stub)
            r = rpc_emsmdb.decode_ecdorpc_response(call.response_stub) if call.response_stub else None
            out["obfuscated"] = q.obfuscated
            out.update(rop_buffers(q.rop_buffer, r.rop_buffer if r else None))
            if r:
                out["return_value"] = f"0x{r.return_value:08X}"
        elif name == "EMSMDB" and call.opnum == 11:
            q = rpc_emsmdb.decode_ecdorpcext2_request(call.request_stub)
            r = rpc_emsmdb.decode_ecdorpcext2_response(call.response_stub) if call.response_stub else None
            out.update(execute_rops(q.rgb_in, r.rgb_out if r else None))
            if r:
                out["return_value"] = f"0x{r.return_value:08X}"
        elif name == "EMSMDB" and call.opnum in (0, 10):
            out["request"] = plain(rpc_emsmdb.decode_connect_request(call.request_stub))
            if call.response_stub:            # EcDoConnectEx's answer starts as EcDoConnect's (MS-OXCRPC 3.1.4.1)
                out["response"] = plain(rpc_emsmdb.decode_connect_response(call.response_stub))
        elif name == "NSPI" and call.opnum in nspicalls.REQUESTS:
            out.update(_nspi_call(call))
        elif name == "NSPI" and call.opnum == 0:
            out["request"] = plain(rpc_nspi.decode_bind_request(call.request_stub))
            if call.response_stub:
                r = rpc_nspi.decode_bind_response(call.response_stub)
                out["response"] = {"server_guid": r.server_guid, "handle": r.handle.hex()}
                out["return_value"] = f"0x{r.return_value:08X}"
    except Exception as exc:            # noqa: BLE001
        out["stub_error"] = f"stub does not decode: {_why(exc)}"
    if call.protection == "signed":
        out["signed"] = True
    return out


@dataclasses.dataclass
class RpcConnection:
    """One DCE/RPC conversation of a capture: a TCP connection, or an RPC/HTTP virtual connection (its IN and
    OUT channels); ``guess_note`` says when its interfaces were guessed (its bind is not in the capture)."""

    name: str
    conn: object
    conv: dcerpc.Conversation
    time_of: object                   # (who, offset) -> ISO time of the PDU there
    guess_note: str | None = None
    user: str | None = None           # the HTTP sign-in of an RPC/HTTP channel


def _unseal(conv: dcerpc.Conversation, password_for, where: str, cap: Capture) -> None:
    """Sealed calls in clear when a password is given; a wrong password is an error of the decode."""
    if not any(p.auth is not None and p.auth.auth_level in (5, 6) for _w, _o, p in conv.events):
        return
    for rep in unseal.unseal_conversation(conv, password_for).contexts.values():
        if rep.status.startswith("wrong password") or (rep.status == "decrypted" and rep.failed):
            cap.problems.append(Problem(where, rep.status if rep.status != "decrypted" else
                                        f"{rep.failed} PDU signature(s) of {rep.user} do not verify"))


def tcp_connections(cap: Capture, password_for=None) -> list[RpcConnection]:
    """Every DCE/RPC conversation in the capture's TCP connections (pcap/pcapng).

    A connection whose bind came before the capture began gets the contexts another connection to
    the same server address bound (said as a guess)."""
    convs = []
    for st in cap.streams:
        if st.client.data[:1] != b"\x05" and st.server.data[:1] != b"\x05":
            continue
        convs.append((st, dcerpc.converse(st.client.data, st.server.data)))
    bound: dict[tuple, dict[int, str]] = {}
    for st, conv in convs:
        if conv.contexts:
            bound.setdefault(st.client.dst, {}).update(conv.contexts)
    out = []
    for st, conv in convs:
        if not conv.contexts and st.client.dst in bound:
            conv = dcerpc.converse(st.client.data, st.server.data, known_contexts=bound[st.client.dst])
        elif not conv.contexts and _looks_like_legacy_emsmdb(conv):
            conv = dcerpc.converse(st.client.data, st.server.data, known_contexts={
                c.context_id: EMSMDB_UUID for c in conv.calls})
        where = f"TCP stream {st.index} ({st.name})"
        _unseal(conv, password_for, where, cap)
        for p in conv.problems:
            # a connection caught mid-way: the requests of the first answers went before the capture began
            began_late = not st.syn_seen and "whose request is not in the capture" in p
            cap.problems.append(Problem(where, p, "note" if began_late else "error"))
        note = None
        if st.client.dst in bound:
            note = "bind not captured: interface guessed from another connection's bind"
        elif any(c.interface_guessed for c in conv.calls):
            note = "bind not captured: interface guessed from the stubs (EcDoRpc ROP buffers)"
        out.append(RpcConnection(st.name, st.index, conv, lambda who, off, st=st: _iso(
            (st.client if who == "client" else st.server).time_at(off)), note))
    return out


def dcerpc_items(cap: Capture, password_for=None) -> list[dict]:
    """Every DCE/RPC call in the capture's TCP connections, as decode items (with their times);
    ``password_for("DOMAIN\\user")`` gives the password that unseals NTLM-sealed calls."""
    items = []
    for c in tcp_connections(cap, password_for):
        items += conversation_items(c.conv, c.name, c.conn, c.time_of, c.guess_note)
    return items


def conversation_items(conv: dcerpc.Conversation, stream: str, conn, time_of, guess_note: str | None = None,
                       kind: str = "dcerpc", default_user: str | None = None) -> list[dict]:
    """One connection's (or RPC/HTTP virtual connection's) PDUs other than calls, then its calls, as items;
    ``time_of(who, offset)`` gives the ISO time of a PDU at that offset of a side's bytes."""
    items = []
    user = next((u for _w, _o, p in conv.events if p.auth and (u := ntlm_user(p.auth.value))), None) or default_user
    for who, off, pdu in conv.events:
        if pdu.ptype in (0, 2, 3):
            continue
        item = {"kind": f"{kind}-pdu", "time": time_of(who, off), "conn": conn, "stream": stream,
                "from": who, "pdu": pdu.name, "call_id": pdu.call_id}
        if pdu.contexts:
            item["contexts"] = [{"id": c.context_id, "interface": str(c.abstract),
                                 "transfer": [str(t) for t in c.transfer]} for c in pdu.contexts]
        if pdu.results:
            item["results"] = [{"result": dcerpc.RESULTS.get(r.result, r.result), "transfer": str(r.transfer)}
                               for r in pdu.results]
        if pdu.sec_addr:
            item["secondary_address"] = pdu.sec_addr.rstrip(b"\x00").decode("latin-1")
        if pdu.auth:
            item["auth"] = {"type": pdu.auth.type_name, "level": pdu.auth.level_name,
                            "token": _auth_token(pdu.auth.value)}
        if pdu.ptype == 20:
            try:
                r = rts.decode_rts(pdu.body)
                item["pdu"] = f"rts {r.name}"
                item["rts"] = {"flags": r.flag_names, "commands": [{c.name: c.value} for c in r.commands]}
            except rts.RtsError as exc:
                item["rts_error"] = str(exc)
        if user:
            item["user"] = user
        items.append(item)
    offsets = {id(p): o for _w, o, p in conv.events}
    for call in conv.calls:
        q0 = call.request[0]
        item = {"kind": f"{kind}-call", "time": time_of("client", offsets.get(id(q0), 0)), "conn": conn,
                "stream": stream, "call_id": call.call_id, "interface": call.interface_name,
                "interface_uuid": call.interface, "opnum": call.opnum, "operation": call.operation,
                "protection": call.protection, "request_bytes": len(call.request_stub),
                "response_bytes": len(call.response_stub), "fragments": len(call.request)}
        if call.interface_guessed and guess_note:
            item["interface_note"] = guess_note
        if user:
            item["user"] = user     # the NTLM AUTHENTICATE of the connection's bind/auth3, or the HTTP sign-in
        if q0.auth:
            item["auth"] = {"type": q0.auth.type_name, "level": q0.auth.level_name}
        if not call.response:
            item["note"] = "no answer in the capture"
        elif call.fault is not None:
            item["fault"] = f"0x{call.fault:08X}"
        item.update(_stub_detail(call))
        items.append(item)
    return items


def rpch_connections(cap: Capture, password_for=None) -> list[RpcConnection]:
    """RPC over HTTP v2 (MS-RPCH): the IN channel's request body (RPC_IN_DATA: CONN/B1, then the client's
    PDUs) and the OUT channel's answer body (RPC_OUT_DATA: the server's PDUs) of one virtual connection,
    paired by the virtual connection cookie of CONN/B1 and CONN/A1 (2.2.4), read as one DCE/RPC
    conversation. A channel whose partner is not in the capture is read on its own."""
    channels: dict[str, dict] = {}
    order: list[str] = []
    for ex in cap.exchanges:
        if ex.method not in ("RPC_IN_DATA", "RPC_OUT_DATA"):
            continue
        cookie = None
        first = dcerpc.split_pdus(ex.request_body)[:1]
        if first and first[0].pdu is not None and first[0].pdu.ptype == 20:
            try:
                cookies = rts.decode_rts(first[0].pdu.body).cookies()
                cookie = cookies[0] if cookies else None
            except rts.RtsError:
                pass
        key = cookie or f"exchange {ex.seq}"
        if key not in channels:
            channels[key] = {}
            order.append(key)
        channels[key]["in" if ex.method == "RPC_IN_DATA" else "out"] = ex
    out = []
    for key in order:
        ch = channels[key]
        cin, cout = ch.get("in"), ch.get("out")
        client = cin.request_body if cin else b""
        server = cout.response_body if cout else b""
        # the OUT channel's own request body (CONN/A1) comes first on the client's side
        client = (cout.request_body if cout else b"") + client
        conv = dcerpc.converse(client, server)
        ref = cin or cout
        name = f"RPC/HTTP {ref.path}" + (f" (virtual connection {key})" if not key.startswith("exchange") else "")
        _unseal(conv, password_for, name, cap)
        for p in conv.problems:
            if "cut off" in p:
                continue        # a channel is a 1 GB body: the capture always ends inside it
            cap.problems.append(Problem(name, p))
        t_in = cin.time if cin else None
        t_out = cout.time if cout else None
        http_user = request_user(cin.request_headers) if cin else None
        if http_user is None and cout:
            http_user = request_user(cout.request_headers)
        out.append(RpcConnection(name, ref.conn, conv,
                                 lambda who, off, a=t_in, b=t_out: (a or b) if who == "client" else (b or a),
                                 user=http_user))
    return out


def rpch_items(cap: Capture, password_for=None) -> list[dict]:
    """The RPC/HTTP virtual connections as decode items: RTS PDUs by name, binds, every call down to its ROPs."""
    items = []
    for c in rpch_connections(cap, password_for):
        items += conversation_items(c.conv, c.name, c.conn, c.time_of, kind="rpch", default_user=c.user)
    return items


EMSMDB_UUID = "a4f1db00-ca47-1067-b31f-00dd010662da"


def _looks_like_legacy_emsmdb(conv: dcerpc.Conversation) -> bool:
    """No bind in the whole capture: opnum-2 calls whose stubs read as EcDoRpc with a ROP buffer that
    decodes are taken as EMSMDB (said as a guess on each call)."""
    tries = [c for c in conv.calls if c.opnum == 2 and c.protection != "encrypted"][:3]
    if not tries:
        return False
    for c in tries:
        try:
            q = rpc_emsmdb.decode_ecdorpc_request(c.request_stub)
            decode_request_buffer(q.rop_buffer)
        except Exception:               # noqa: BLE001 - not EcDoRpc, whatever the reason
            return False
    return True


def _auth_token(value: bytes) -> str:
    if value.startswith(b"NTLMSSP\x00") and len(value) >= 12:
        kind = {1: "NEGOTIATE", 2: "CHALLENGE", 3: "AUTHENTICATE"}.get(value[8], str(value[8]))
        return f"NTLMSSP {kind} ({len(value)} bytes)"
    if value[:1] in (b"\x60", b"\xa1", b"\xa0"):
        return f"SPNEGO/GSS token ({len(value)} bytes)"
    return f"{len(value)} bytes (signature)" if len(value) == 16 else f"{len(value)} bytes"
