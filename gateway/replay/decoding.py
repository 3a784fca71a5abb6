"""What `exgate decode` does with a file, as a library call: read it, decode every exchange, RPC/HTTP
channel, DCE/RPC connection and raw stub into items, and say what could not be decoded.

``decode_file`` never raises on a bad capture. Its ``faults`` are what makes the command exit 1: a
reader's error-level problem (a damaged or cut-off file, a lost segment, undecryptable TLS) and any
region of a layer exgate implements that the codecs left undecoded (an EWS body that does not parse,
a MAPI/HTTP or NSPI body, a ROP buffer, a ROP without a codec, a DCE/RPC stub or PDU, an RTS PDU).
Traffic that is not Exchange's (other web sites, NetBIOS, RDP in a network capture) is not a fault.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from protocols.capture import Capture, Problem
from protocols.capture.stubfile import Stub, read_stub
from protocols.rops import RpcHeaderExt
from protocols.rpch import emsmdb as rpc_emsmdb

from .files import apply_keylog, load
from .mapi import EMSMDB_UUID, _why, dcerpc_items, execute_rops, rop_buffers, rpch_items
from .summary import describe


class Unreadable(Exception):
    """The file cannot be read at all (no such file, not a capture, a bad --stub): exit status 2."""


@dataclass
class Decoded:
    path: Path
    cap: Capture
    items: list[dict] = field(default_factory=list)
    undecoded: list[str] = field(default_factory=list)     # regions the codecs left undecoded
    password_for: object = None                             # what unsealed its sealed DCE/RPC calls

    @property
    def faults(self) -> list[str]:
        return [str(p) for p in self.cap.problems if p.is_error] + self.undecoded

    @property
    def notes(self) -> list[str]:
        return [str(p) for p in self.cap.problems if not p.is_error]


def decode_file(path: str | Path, *, keylog: str | Path | None = None, stub: str | None = None,
                password_for=None) -> Decoded:
    """``password_for("DOMAIN\\user")`` gives the password that unseals NTLM-sealed DCE/RPC calls."""
    path = Path(path)
    if not path.exists():
        raise Unreadable(f"{path}: no such file or directory")
    try:
        cap = read_stub(path.name, path.read_bytes(), stub) if stub else load(path)
    except OSError as exc:
        raise Unreadable(f"{path}: {exc.strerror or exc}") from exc
    if cap.format == "unknown":
        raise Unreadable("; ".join(str(p) for p in cap.problems) or f"{path}: not a capture")
    if keylog:
        apply_keylog(path, keylog, cap)
    items = [describe(ex) for ex in cap.exchanges]
    signed_in: dict = {}                    # a sign-in holds for its connection (NTLM, Negotiate, Basic)
    for d in items:
        if d.get("user") and d.get("conn") is not None:
            signed_in[d["conn"]] = d["user"]
        elif d.get("conn") in signed_in:
            d["user"] = signed_in[d["conn"]]
    extra = rpch_items(cap, password_for)   # RPC over HTTP channels, in any format
    if cap.format in ("pcap", "pcapng"):
        extra += dcerpc_items(cap, password_for)
    extra += [stub_item(s, path.name) for s in cap.meta.get("stubs", [])]
    if extra:
        items += extra
        # one timeline across connections (exchanges without a time keep their place at the end)
        items.sort(key=lambda d: (d.get("time") is None, d.get("time") or ""))
    other = [st for st in cap.streams if st.client.data[:1] != b"\x05" and st.server.data[:1] != b"\x05"
             and st.client.data[:1] != b"\x16"]
    if other:                           # RDP, NetBIOS, chat...: neither HTTP nor DCE/RPC nor TLS
        ports = sorted({st.client.dst[1] for st in other})
        cap.problems.append(Problem("file", f"{len(other)} TCP connection(s) carry neither HTTP nor DCE/RPC (server "
                                            f"port(s) {', '.join(map(str, ports))}): not Exchange traffic, left out",
                                    "note"))
    out = Decoded(path, cap, items, password_for=password_for)
    for d in items:
        out.undecoded += undecoded(d)
    return out


def stub_item(s: Stub, name: str) -> dict:
    """A raw stub file as a DCE/RPC call item (no PDU, no bind: the interface is the file's layout's)."""
    item = {"kind": "dcerpc-call", "time": None, "conn": None,
            "stream": f"{name} (raw stub, recognised by its {'layout' if s.how == 'layout' else '--stub'})",
            "call_id": "-", "interface": s.interface, "interface_uuid": EMSMDB_UUID, "opnum": s.opnum,
            "operation": s.operation, "protection": "plain",
            "request_bytes": len(s.data) if s.direction == "request" else 0,
            "response_bytes": len(s.data) if s.direction == "response" else 0, "fragments": 0}
    try:
        if s.operation == "EcDoRpcExt2" and s.direction == "request":
            q = rpc_emsmdb.decode_ecdorpcext2_request(s.data)
            item.update(execute_rops(q.rgb_in, None))
            item["aux_in_bytes"], item["cb_out"] = len(q.aux_in), q.cb_out
        elif s.operation == "EcDoRpcExt2":
            r = rpc_emsmdb.decode_ecdorpcext2_response(s.data)
            item.update(execute_rops(None, r.rgb_out))
            item["return_value"] = f"0x{r.return_value:08X}"
        elif s.direction == "request":
            item.update(rop_buffers(rpc_emsmdb.decode_ecdorpc_request(s.data).rop_buffer, None))
        else:
            r = rpc_emsmdb.decode_ecdorpc_response(s.data)
            item.update(rop_buffers(None, r.rop_buffer))
            item["return_value"] = f"0x{r.return_value:08X}"
    except Exception as exc:            # noqa: BLE001 - a decoder never stops the decode (see mapi._why)
        item["stub_error"] = f"stub does not decode: {_why(exc)}"
        if s.operation == "EcDoRpcExt2" and s.direction == "request" and len(s.data) >= 36:
            h = RpcHeaderExt.decode(s.data, 28)          # what a cut-off stub still says: its first header
            item["request_ext"] = [{"flags": _flag_names(h.flags), "size": h.size, "size_actual": h.size_actual,
                                    "in_file": max(0, len(s.data) - 36)}]
    return item


def _flag_names(flags: int) -> str:
    return "|".join(n for bit, n in ((0x1, "Compressed"), (0x2, "XorMagic"), (0x4, "Last")) if flags & bit) or "0"


_ERROR_KEYS = ("request_error", "response_error", "stub_error", "rts_error", "row_error")


def undecoded(d: dict) -> list[str]:
    """The regions of one decode item that no codec read, each said once with where it is."""
    if d.get("kind", "").startswith(("dcerpc", "rpch")):
        where = f"{d.get('stream')} call {d.get('call_id')}" if d.get("kind", "").endswith("-call") else \
            f"{d.get('stream')} {d.get('pdu')}"
    else:
        where = f"exchange #{d.get('seq')} ({d.get('source') or d.get('path')})"
    out = [f"{where}: {d[k]}" for k in _ERROR_KEYS if d.get(k)]
    for side in ("request", "response"):
        v = d.get(side)
        if isinstance(v, dict) and v.get("error"):
            out.append(f"{where}: {side}: {v['error']}")
    if isinstance(d.get("framing"), dict) and d["framing"].get("error"):
        out.append(f"{where}: PROCESSING/DONE framing: {d['framing']['error']}")
    for r in d.get("rops") or []:
        if r.get("note", "").startswith("no codec"):
            raw = (r.get("request") or {}).get("raw", "")
            out.append(f"{where}: {r['rop']} (RopId 0x{r['rop_id']:02X}) has no codec; "
                       f"{len(raw.split('...')[0]) // 2} byte(s) of the buffer kept raw")
    return out
