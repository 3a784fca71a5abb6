"""ruler's RPC over HTTP recorder log (fixtures/rpch/*.jsonl): one JSON object a line, HTTP requests and the
DCE/RPC PDUs of the channels they opened, read into ``Exchange`` objects like a pcap's.

A line is one of (``seq`` and ``time`` on each):

- ``{"kind": "http", "method", "path", "headers": [[name, value]...], "body_hex"?, "client_port",
  "response"?: {"status", "body", "www_authenticate"?}}``: an HTTP request (Autodiscover, the opening
  of an RPC_IN_DATA or RPC_OUT_DATA channel, a 401 sign-in leg);
- ``{"kind": "rpc-in-pdu", "pdu_hex"}``: a PDU the client sent on the IN channel;
- ``{"kind": "rpc-out-request-body", "pdu_hex"}``: the OUT channel's request body (CONN/A1);
- ``{"kind": "rpc-out-pdu", "pdu_hex"}``: a PDU the server sent on the OUT channel;
- ``{"kind": "note", "summary"}``: what the recorder says (kept as a note).

A channel's PDUs go to the last opening of that channel that was not refused (a 401 opening is a
sign-in leg): the IN channel's request body and the OUT channel's request and response bodies, as
MS-RPCH 2.1.2.1 puts them on the wire, so the RPC/HTTP readers of a pcap read them the same way. One
log is one virtual connection. Reading never raises: a line that is not JSON or lacks its fields is
a Problem.
"""
from __future__ import annotations

import json

from .model import Capture, Exchange, Problem, note

KINDS = ("http", "rpc-in-pdu", "rpc-out-request-body", "rpc-out-pdu", "note")


def looks_like_ruler_log(data: bytes) -> bool:
    """The first line is a JSON object with one of the log's ``kind`` values and no exgate ``url``."""
    first = data.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    return isinstance(obj, dict) and obj.get("kind") in KINDS and "url" not in obj


def _hex(row: dict, where: str, problems: list[Problem]) -> bytes:
    try:
        return bytes.fromhex(row.get("pdu_hex") or row.get("body_hex") or "")
    except (ValueError, TypeError) as exc:
        problems.append(Problem(where, f"not hex ({exc}); left empty"))
        return b""


def read_ruler_log(data: bytes | str) -> Capture:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    cap = Capture("ruler-log")
    channel: dict[str, Exchange] = {}          # "in"/"out" -> the channel's live opening
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            cap.problems.append(Problem(where, f"not JSON ({exc}); skipped"))
            continue
        kind = row.get("kind") if isinstance(row, dict) else None
        if kind not in KINDS:
            cap.problems.append(Problem(where, f"kind {kind!r} is not one of ruler's log lines; skipped"))
            continue
        if kind == "note":
            cap.problems.append(note(where, str(row.get("summary") or "")))
            continue
        if kind == "http":
            if not row.get("method") or not row.get("path"):
                cap.problems.append(Problem(where, "an http line without method or path; skipped"))
                continue
            resp = row.get("response") if isinstance(row.get("response"), dict) else None
            headers = [(str(k), str(v)) for k, v in row.get("headers") or []]
            rheaders = []
            if resp and resp.get("www_authenticate"):
                rheaders.append(("WWW-Authenticate", str(resp["www_authenticate"])))
            body = resp.get("body") if resp else None
            ex = Exchange(int(row.get("seq") or n), row["method"], row["path"], headers, _hex(row, where, cap.problems),
                          status=resp.get("status") if resp else None, response_headers=rheaders,
                          response_body=body.encode("utf-8") if isinstance(body, str) else b"",
                          time=row.get("time"), conn=row.get("client_port"), source=where)
            cap.exchanges.append(ex)
            if row["method"] in ("RPC_IN_DATA", "RPC_OUT_DATA") and ex.status != 401:
                channel["in" if row["method"] == "RPC_IN_DATA" else "out"] = ex
            continue
        side = "in" if kind == "rpc-in-pdu" else "out"
        ex = channel.get(side)
        if ex is None:
            cap.problems.append(Problem(where, f"a PDU of the {side.upper()} channel before that channel was "
                                               "opened; skipped"))
            continue
        raw = _hex(row, where, cap.problems)
        if kind == "rpc-out-pdu":
            ex.status = 200                     # the OUT channel's answer is under way
            ex.response_body += raw
        else:
            ex.request_body += raw
    return cap
