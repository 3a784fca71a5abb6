"""ruler's MAPI/HTTP recordings as this project's fixtures keep them (fixtures/README.md says where
each came from; its RPC over HTTP log, fixtures/rpch/*.jsonl, is rulerlog.py's):

- **MAPI/HTTP exchanges** (``fixtures/mapihttp/ruler_exchanges.json``): ``{"exchanges": [{method,
  path, headers, request_b64, response_status, response_set_cookie, response_b64}]}``; the
  answer's body is what the recorder kept after the PROCESSING/DONE block.
- **NSPI requests** (``fixtures/nspi/ruler_nspi.json``): ``{"requests": [{path, request_type,
  headers, body_hex}]}``, requests without their answers.

Headers are as ruler sent them; Authorization keeps what the recording kept.
"""
from __future__ import annotations

import base64
import binascii
import json

from .model import Capture, Exchange, Problem

def looks_like_vector_list(data: bytes) -> bool:
    """A JSON list of byte vectors (fixtures/rops/ruler_execute.json's ``vectors``, the spec examples'
    list of ``hex``): single buffers for the codec tests, not a recording of exchanges."""
    head = data[:4096].lstrip()
    return (head.startswith(b"{") and b'"vectors"' in head and b'_hex"' in head) or \
        (head.startswith(b"[") and b'"hex"' in head)


def fixture_kind(data: bytes) -> str | None:
    """"ruler-mapihttp" or "ruler-nspi" for the two JSON documents above, else None."""
    head = data[:2048].lstrip()
    if not head.startswith(b"{"):
        return None
    if b'"exchanges"' in head and b'"request_b64"' in data[:200000]:
        return "ruler-mapihttp"
    if b'"requests"' in head and b'"body_hex"' in data[:200000]:
        return "ruler-nspi"
    return None


def _hex(value, where: str, problems: list[Problem]) -> bytes:
    try:
        return bytes.fromhex(value or "")
    except (ValueError, TypeError):
        problems.append(Problem(where, "not hex; left empty"))
        return b""


def _b64(value, where: str, problems: list[Problem]) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        problems.append(Problem(where, "not base64; left empty"))
        return b""


def read_fixture(data: bytes) -> Capture:
    kind = fixture_kind(data)
    cap = Capture(kind or "unknown")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        cap.problems.append(Problem("file", f"not a complete JSON document ({exc}): truncated or damaged"))
        return cap
    rows = doc.get(("exchanges" if kind == "ruler-mapihttp" else "requests")) if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        cap.problems.append(Problem("file", "no list of exchanges or requests"))
        return cap
    for n, row in enumerate(rows, 1):
        where = f"{'exchange' if kind == 'ruler-mapihttp' else 'request'} {n}"
        if not isinstance(row, dict) or not row.get("path"):
            cap.problems.append(Problem(where, "not an object with a path; skipped"))
            continue
        headers = [(str(k), str(v)) for k, v in row.get("headers") or []]
        src = f"{where} ({row.get('recording') or row.get('source') or ''} #{row.get('seq', '')})".replace(" #)", ")")
        if kind == "ruler-mapihttp":
            ex = Exchange(seq=len(cap.exchanges) + 1, method=str(row.get("method") or "POST"), url=str(row["path"]),
                          request_headers=headers, request_body=_b64(row.get("request_b64"), where, cap.problems),
                          status=row.get("response_status"), source=src,
                          notes=["the answer's body as the recorder kept it (no PROCESSING/DONE block)"])
            ex.response_headers = [("Set-Cookie", str(c)) for c in row.get("response_set_cookie") or []]
            ex.response_body = _b64(row.get("response_b64"), where, cap.problems)
        else:
            if not any(k.lower() == "x-requesttype" for k, _v in headers) and row.get("request_type"):
                headers.append(("X-RequestType", str(row["request_type"])))
            ex = Exchange(seq=len(cap.exchanges) + 1, method="POST", url=str(row["path"]), request_headers=headers,
                          request_body=_hex(row.get("body_hex"), where, cap.problems), source=src,
                          notes=["a request without its answer (the fixture keeps requests only)"])
        cap.exchanges.append(ex)
    return cap
