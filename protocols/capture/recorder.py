"""The text files of the project's first test recorder (captures/clients/<client>/NNNN-POST-Op.txt).

One file per request::

    ### request conn=2 peer=127.0.0.1:47616 time=2026-11-22T12:52:33
    POST /EWS/Exchange.asmx HTTP/1.1
    Header: value
    # auth: what the recorder made of the Authorization header   (notes, kept as Exchange.notes)

    <body>

    ### response
    HTTP/1.1 200
    Header: value

    <body>

The caller passes (file name, bytes) pairs in the order to read them (sorted by name: the number
orders them). ``exgate decode``/``replay`` read such a directory as a capture, and
``protocols.capture.jsonl.write_jsonl`` turns it into the JSON-lines format.
"""
from __future__ import annotations

import re

from .model import Capture, Exchange, Problem

_START = re.compile(r"^### request(?P<attrs>[^\n]*)$", re.M)
_ATTR = re.compile(r"(\w+)=(\S+)")


def _head_and_body(part: str) -> tuple[list[str], str]:
    head, sep, body = part.partition("\n\n")
    return head.split("\n"), body


def _strip_section_end(body: str) -> str:
    return body[:-1] if body.endswith("\n") else body


def read_recorder_file(name: str, data: bytes, seq: int) -> tuple[Exchange | None, list[Problem]]:
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    problems: list[Problem] = []
    m = _START.search(text)
    if m is None:
        return None, [Problem(name, "no '### request' line: not a recorder file")]
    attrs = dict(_ATTR.findall(m.group("attrs")))
    rest = text[m.end() + 1:]
    req, sep, resp = rest.partition("\n### response\n")
    lines, body = _head_and_body(req)
    request_line = lines[0].split()
    if len(request_line) < 2:
        return None, [Problem(name, f"bad request line {lines[0]!r}")]
    headers, notes = [], []
    for line in lines[1:]:
        if line.startswith("# "):
            notes.append(line[2:])
        elif ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    req_body = _strip_section_end(body).encode("utf-8")
    ex = Exchange(seq=seq, method=request_line[0], url=request_line[1], request_headers=headers,
                  request_body=req_body, time=attrs.get("time"), source=name, notes=notes)
    try:
        ex.conn = int(attrs["conn"]) if "conn" in attrs else None
    except ValueError:
        pass
    if not sep:
        problems.append(Problem(name, "no '### response' section: the answer is missing"))
        return ex, problems
    rlines, rbody = _head_and_body(resp)
    status_line = rlines[0].split()
    try:
        ex.status = int(status_line[1])
    except (IndexError, ValueError):
        problems.append(Problem(name, f"bad status line {rlines[0]!r}"))
    ex.response_headers = [(k.strip(), v.strip()) for k, v in
                           (line.split(":", 1) for line in rlines[1:] if ":" in line and not line.startswith("# "))]
    ex.response_body = _strip_section_end(rbody).encode("utf-8")
    return ex, problems


def read_recorder(files: list[tuple[str, bytes]]) -> Capture:
    cap = Capture("recorder")
    for name, data in files:
        ex, problems = read_recorder_file(name, data, len(cap.exchanges) + 1)
        cap.problems += problems
        if ex is not None:
            cap.exchanges.append(ex)
    return cap
