"""exgate's own session format: JSON lines, one HTTP exchange a line (what `exgate record` writes).

A line::

    {"seq": 1, "time": "2026-12-05T02:40:00.123Z", "conn": 1, "method": "POST",
     "url": "https://mail.example.com/EWS/Exchange.asmx",
     "request_headers": [["Content-Type", "text/xml"], ["Authorization", "NTLM"]],
     "request_body": "<base64>", "status": 200,
     "response_headers": [["Content-Type", "text/xml; charset=utf-8"]], "response_body": "<base64>",
     "elapsed": 0.042}

- headers are ``[name, value]`` pairs in the order sent (a name may repeat); Authorization and
  Proxy-Authorization keep only their scheme (``redact_headers``), so a file can be shared;
- bodies are base64 of the bytes on the wire (a Content-Encoding is kept, readers undo it);
- ``conn`` numbers the client connection (NTLM/Negotiate sign-ins are bound to one), ``elapsed`` is
  seconds until the answer was complete, ``status`` is null when no answer came;
- an optional first line ``{"exgate_capture": 1, ...}`` carries metadata (upstream, start time);
- ``"notes"`` (a list of strings) may say what a converter or the recorder saw.

Reading never stops at a damaged line: a line that is not JSON (a file cut off while it was being
written ends that way) or lacks a field is reported as a Problem and the other lines are read.
"""
from __future__ import annotations

import base64
import binascii
import json

from .model import Capture, Exchange, Problem, redact_headers

FORMAT_VERSION = 1
REQUIRED = ("method", "url")


def _b64(value, where: str, name: str, problems: list[Problem]) -> bytes:
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        problems.append(Problem(where, f"{name} is not base64 ({exc}); left empty"))
        return b""


def _headers(value, where: str, name: str, problems: list[Problem]) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in value.items()]
    try:
        return [(str(k), str(v)) for k, v in value]
    except (TypeError, ValueError):
        problems.append(Problem(where, f"{name} is not a list of [name, value] pairs; left empty"))
        return []


def read_jsonl(data: bytes | str) -> Capture:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    cap = Capture("jsonl")
    lines = text.split("\n")
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"line {no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            last = no == len(lines) or all(not rest.strip() for rest in lines[no:])
            cap.problems.append(Problem(where, ("truncated: the file ends inside this exchange"
                                                if last else "not a JSON object") + f" ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            cap.problems.append(Problem(where, "not a JSON object"))
            continue
        if "exgate_capture" in obj:
            cap.meta.update(obj)
            continue
        missing = [k for k in REQUIRED if not obj.get(k)]
        if missing:
            cap.problems.append(Problem(where, f"no {', '.join(missing)}: not an exchange, skipped"))
            continue
        status = obj.get("status")
        try:
            status = int(status) if status is not None else None
        except (TypeError, ValueError):
            cap.problems.append(Problem(where, f"status {status!r} is not a number"))
            status = None
        cap.exchanges.append(Exchange(
            seq=int(obj["seq"]) if isinstance(obj.get("seq"), int) else len(cap.exchanges) + 1,
            method=str(obj["method"]), url=str(obj["url"]),
            request_headers=_headers(obj.get("request_headers"), where, "request_headers", cap.problems),
            request_body=_b64(obj.get("request_body"), where, "request_body", cap.problems),
            status=status,
            response_headers=_headers(obj.get("response_headers"), where, "response_headers", cap.problems),
            response_body=_b64(obj.get("response_body"), where, "response_body", cap.problems),
            time=obj.get("time"), elapsed=obj.get("elapsed"), conn=obj.get("conn"), source=where,
            notes=[str(n) for n in obj.get("notes") or []]))
    return cap


def meta_line(**meta) -> str:
    return json.dumps({"exgate_capture": FORMAT_VERSION, **meta}, separators=(",", ":")) + "\n"


def exchange_line(ex: Exchange, *, redact: bool = True) -> str:
    """One exchange as a line (with its newline); Authorization reduced to its scheme unless told not to."""
    obj = {"seq": ex.seq, "time": ex.time, "conn": ex.conn, "method": ex.method, "url": ex.url,
           "request_headers": [list(h) for h in (redact_headers(ex.request_headers) if redact else ex.request_headers)],
           "request_body": base64.b64encode(ex.request_body).decode(),
           "status": ex.status,
           "response_headers": [list(h) for h in ex.response_headers],
           "response_body": base64.b64encode(ex.response_body).decode(),
           "elapsed": ex.elapsed}
    if ex.notes:
        obj["notes"] = ex.notes
    return json.dumps(obj, separators=(",", ":")) + "\n"


def write_jsonl(exchanges, **meta) -> str:
    return meta_line(**meta) + "".join(exchange_line(e) for e in exchanges)
