"""HAR 1.2 (HTTP Archive: browser developer tools, Fiddler, Charles, mitmproxy exports) to exchanges.

``log.entries[]``: ``startedDateTime``, ``time`` (ms), ``request`` (method, url, headers[{name, value}],
``postData.text``), ``response`` (status, headers, ``content.text`` with ``content.encoding`` "base64"
for binary bodies), and the connection id where the exporter keeps one (``connection``, ``_connection``).
Request bodies: ``postData.text``, base64 when the exporter marks it (``encoding`` or ``_encoding``
"base64", as mitmproxy and Fiddler do for binary bodies), else text as UTF-8. A response body in a
HAR is already decoded: a Content-Encoding header is then only a note of what was on the wire.

The entries are read one by one, so a HAR cut off in the middle still gives the entries before the
cut (and a Problem saying where it stopped).
"""
from __future__ import annotations

import base64
import binascii
import json

from .model import Capture, Exchange, Problem

_DECODER = json.JSONDecoder()


def _pairs(items) -> list[tuple[str, str]]:
    out = []
    for h in items or []:
        if isinstance(h, dict) and "name" in h:
            out.append((str(h["name"]), str(h.get("value", ""))))
    return out


def _body(obj: dict | None, where: str, what: str, problems: list[Problem]) -> bytes:
    if not isinstance(obj, dict):
        return b""
    text = obj.get("text")
    if not text:
        return b""
    if (obj.get("encoding") or obj.get("_encoding") or "").lower() == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError) as exc:
            problems.append(Problem(where, f"{what} marked base64 but is not ({exc}); kept as text"))
    return str(text).encode("utf-8")


def _entries_start(text: str) -> int | None:
    """Index just after the '[' of log.entries (found textually, so a truncated file still reads)."""
    key = text.find('"entries"')
    if key < 0:
        return None
    bracket = text.find("[", key)
    return bracket + 1 if bracket >= 0 else None


def _skip_ws_comma(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n,":
        i += 1
    return i


def _entry(e: dict, seq: int, where: str, problems: list[Problem]) -> Exchange | None:
    req, resp = e.get("request"), e.get("response") or {}
    if not isinstance(req, dict) or not req.get("method") or not req.get("url"):
        problems.append(Problem(where, "entry without request method and url, skipped"))
        return None
    status = resp.get("status") if isinstance(resp, dict) else None
    # browsers write status 0 for a request that got no answer (blocked, cancelled)
    status = int(status) if isinstance(status, (int, float)) and status > 0 else None
    conn = e.get("connection", e.get("_connection"))
    try:
        conn = int(conn) if conn not in (None, "") else None
    except (TypeError, ValueError):
        conn = None
    t = e.get("time")
    return Exchange(seq=seq, method=str(req["method"]), url=str(req["url"]),
                    request_headers=_pairs(req.get("headers")),
                    request_body=_body(req.get("postData"), where, "request postData", problems),
                    status=status,
                    response_headers=_pairs(resp.get("headers")) if isinstance(resp, dict) else [],
                    response_body=_body(resp.get("content"), where, "response content", problems)
                    if isinstance(resp, dict) else b"",
                    time=e.get("startedDateTime"), elapsed=(t / 1000.0) if isinstance(t, (int, float)) and t >= 0
                    else None, conn=conn, source=where)


def read_har(data: bytes | str) -> Capture:
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    cap = Capture("har")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        log = whole.get("log") if isinstance(whole.get("log"), dict) else {}
        cap.meta = {k: log.get(k) for k in ("version", "creator", "browser") if k in log}
        entries = log.get("entries")
        if not isinstance(entries, list):
            cap.problems.append(Problem("log", "no log.entries list: not a HAR file"))
            return cap
        for n, e in enumerate(entries, 1):
            if not isinstance(e, dict):
                cap.problems.append(Problem(f"entry {n}", "not an object, skipped"))
                continue
            ex = _entry(e, len(cap.exchanges) + 1, f"entry {n}", cap.problems)
            if ex is not None:
                cap.exchanges.append(ex)
        return cap
    # not valid JSON as a whole: read entry after entry until the damage
    i = _entries_start(text)
    if i is None:
        cap.problems.append(Problem("file", "not JSON and no log.entries found: not a HAR file"))
        return cap
    n = 0
    while True:
        i = _skip_ws_comma(text, i)
        if i >= len(text) or text[i] == "]":
            break
        n += 1
        try:
            e, end = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            cap.problems.append(Problem(f"entry {n}", f"truncated or damaged from character {i} "
                                                      f"({exc.msg}); the entries before it are read"))
            break
        i = end
        if isinstance(e, dict):
            ex = _entry(e, len(cap.exchanges) + 1, f"entry {n}", cap.problems)
            if ex is not None:
                cap.exchanges.append(ex)
    if not cap.problems:
        cap.problems.append(Problem("file", "the HAR does not close after its entries (truncated)"))
    return cap


def _har_body(body: bytes, mime: str) -> dict:
    try:
        return {"mimeType": mime, "text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"mimeType": mime, "text": base64.b64encode(body).decode(), "encoding": "base64"}


def to_har(exchanges, creator: str = "exgate") -> dict:
    """Exchanges as a HAR 1.2 document (bodies decoded, as browsers export them)."""
    entries = []
    for ex in exchanges:
        req_mime = ex.request_header("Content-Type") or ""
        resp_mime = ex.response_header("Content-Type") or ""
        post = _har_body(ex.request_content, req_mime)
        if post.get("encoding"):
            post["_encoding"] = post.pop("encoding")
        entries.append({
            "startedDateTime": ex.time or "1970-01-01T00:00:00Z",
            "time": round((ex.elapsed or 0) * 1000, 3),
            "connection": str(ex.conn) if ex.conn is not None else "",
            "request": {"method": ex.method, "url": ex.url, "httpVersion": "HTTP/1.1",
                        "headers": [{"name": k, "value": v} for k, v in ex.request_headers],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": len(ex.request_body),
                        **({"postData": post} if ex.request_body else {})},
            "response": {"status": ex.status or 0, "statusText": "", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": k, "value": v} for k, v in ex.response_headers],
                         "cookies": [], "redirectURL": "", "headersSize": -1, "bodySize": len(ex.response_body),
                         "content": {"size": len(ex.response_content), **_har_body(ex.response_content, resp_mime)}},
            "cache": {}, "timings": {"send": 0, "wait": round((ex.elapsed or 0) * 1000, 3), "receive": 0},
        })
    return {"log": {"version": "1.2", "creator": {"name": creator, "version": "1"}, "entries": entries}}
