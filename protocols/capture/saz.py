"""Fiddler's Session Archive Zip (SAZ) to exchanges (pure: the caller hands the file's bytes).

A SAZ is a ZIP file (Fiddler's own description, the Fiddler wiki "SAZ Files" and Telerik's
"Fiddler Archives (SAZ)" knowledge-base page): ``raw/<id>_c.txt`` holds the client's request as it
was sent (request line, headers, body), ``raw/<id>_s.txt`` the server's response, ``raw/<id>_m.xml``
the session's metadata: ``<Session SID=..>`` with ``<SessionTimers ClientBeginRequest=..
ServerDoneResponse=..>`` (ISO 8601 times) and ``<SessionFlags><SessionFlag N="x-clientport" V=..>``;
``_index.htm`` and ``[Content_Types].xml`` are for people and packaging tools and are not read. Sessions
are taken in the order of their ids. Password-protected archives are reported, not read.
"""
from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime

from lxml import etree

from .http1 import parse_message
from .model import Capture, Exchange, Problem

_ENTRY = re.compile(r"^raw/(\d+)_([csm])\.(txt|xml)$", re.I)


def looks_like_saz(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04" and b"raw/" in data[:4096]


def _meta(xml: bytes) -> dict:
    out: dict = {}
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return out
    timers = root.find("SessionTimers")
    if timers is not None:
        out["begin"] = timers.get("ClientBeginRequest") or timers.get("ClientConnected")
        out["done"] = timers.get("ServerDoneResponse") or timers.get("ClientDoneResponse")
    for flag in root.iter("SessionFlag"):
        if flag.get("N") in ("x-clientport", "x-client-port"):
            out["client_port"] = flag.get("V")
    return out


def _seconds(a: str | None, b: str | None) -> float | None:
    try:
        t0 = datetime.fromisoformat(a[:26] + a[27:] if a and len(a) > 27 and a[26].isdigit() else a)
        t1 = datetime.fromisoformat(b[:26] + b[27:] if b and len(b) > 27 and b[26].isdigit() else b)
    except (TypeError, ValueError):
        return None
    return round((t1 - t0).total_seconds(), 6)


def read_saz(data: bytes) -> Capture:
    cap = Capture("saz")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        cap.problems.append(Problem("file", f"not a readable SAZ (ZIP) archive: {exc} (a cut-off archive loses "
                                            "its central directory, which holds the list of files)"))
        return cap
    sessions: dict[int, dict[str, zipfile.ZipInfo]] = {}
    for info in zf.infolist():
        m = _ENTRY.match(info.filename)
        if m:
            sessions.setdefault(int(m.group(1)), {})[m.group(2).lower()] = info
    if not sessions:
        cap.problems.append(Problem("file", "a ZIP file without raw/<n>_c.txt sessions: not a SAZ archive"))
    for sid in sorted(sessions):
        parts = sessions[sid]
        where = f"session {sid}"
        blobs: dict[str, bytes] = {}
        for kind, info in parts.items():
            if info.flag_bits & 0x1:
                cap.problems.append(Problem(where, "password-protected SAZ: decrypt it in Fiddler and save it again"))
                break
            try:
                blobs[kind] = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                cap.problems.append(Problem(where, f"{info.filename} cannot be read: {exc}"))
        if "c" not in blobs:
            continue
        req = parse_message(blobs["c"], response=False)
        if req is None:
            cap.problems.append(Problem(where, "the request's head is not complete"))
            continue
        parts_line = req.first_line.decode("latin-1").split(" ")
        if len(parts_line) < 3:
            cap.problems.append(Problem(where, f"not a request line: {req.first_line[:60]!r}"))
            continue
        method, target = parts_line[0], parts_line[1]
        host = next((v for k, v in req.headers if k.lower() == "host"), "")
        url = target if target.startswith(("http://", "https://")) else f"https://{host}{target}"
        resp = parse_message(blobs["s"], response=True, method=method) if blobs.get("s") else None
        status = None
        if resp is not None:
            m = re.match(rb"HTTP/\d\.\d (\d{3})", resp.first_line)
            status = int(m.group(1)) if m else None
        meta = _meta(blobs["m"]) if "m" in blobs else {}
        conn = meta.get("client_port")
        ex = Exchange(seq=sid, method=method, url=url, request_headers=req.headers, request_body=req.body,
                      status=status, response_headers=resp.headers if resp else [],
                      response_body=resp.body if resp else b"", time=meta.get("begin"),
                      elapsed=_seconds(meta.get("begin"), meta.get("done")),
                      conn=int(conn) if conn and conn.isdigit() else None, source=f"raw/{sid}",
                      notes=list(req.notes) + [f"answer: {n}" for n in (resp.notes if resp else [])])
        if resp is None:
            ex.notes.append("no answer in the archive")
        cap.exchanges.append(ex)
    return cap


def write_saz(exchanges) -> bytes:
    """A SAZ archive of exchanges (raw/NN_c.txt, _s.txt, _m.xml), as Fiddler lays it out; bodies as held."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, ex in enumerate(exchanges, 1):
            head = f"{ex.method} {ex.url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in ex.request_headers)
            zi = zipfile.ZipInfo(f"raw/{n:02d}_c.txt", (2026, 1, 1, 0, 0, 0))
            zf.writestr(zi, head.encode("latin-1") + b"\r\n" + ex.request_body, zipfile.ZIP_DEFLATED)
            if ex.status is not None:
                rhead = f"HTTP/1.1 {ex.status} -\r\n" + "".join(f"{k}: {v}\r\n" for k, v in ex.response_headers)
                zi = zipfile.ZipInfo(f"raw/{n:02d}_s.txt", (2026, 1, 1, 0, 0, 0))
                zf.writestr(zi, rhead.encode("latin-1") + b"\r\n" + ex.response_body, zipfile.ZIP_DEFLATED)
            timers = f'<SessionTimers ClientBeginRequest="{ex.time}" />' if ex.time else ""
            flags = (f'<SessionFlags><SessionFlag N="x-clientport" V="{ex.conn}" /></SessionFlags>'
                     if ex.conn is not None else "")
            zi = zipfile.ZipInfo(f"raw/{n:02d}_m.xml", (2026, 1, 1, 0, 0, 0))
            zf.writestr(zi, f'<?xml version="1.0" encoding="utf-8"?><Session SID="{n}">{timers}{flags}</Session>',
                        zipfile.ZIP_DEFLATED)
    return out.getvalue()
