"""`exgate decode FILE --html out.html`: one self-contained HTML page (no outside files, scripts or fonts).

A timeline of the capture (one mark per exchange or call, by time), then every exchange and DCE/RPC
call as a collapsible ``<details>``: its summary line when closed; opened, the decoded fields on the
left and the bytes as hex on the right (each ROP request and answer on its own row, the HTTP bodies
at the end). Buttons open or close them all and a box filters them by text. The problems the readers
found are listed at the top. Everything from the capture is HTML-escaped.
"""
from __future__ import annotations

import json
from datetime import datetime
from html import escape

from protocols.capture.model import Capture

MAX_BODY_HEX = 16384

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#1b1b1b}
h1{font-size:1.3em;margin:0 0 .3em} .meta{color:#555;margin-bottom:.8em}
.problems{background:#fff4e5;border:1px solid #f0b46c;padding:.4em .8em;margin:.6em 0}
.timeline{position:relative;height:34px;border:1px solid #ccc;background:#fafafa;margin:.6em 0 1em}
.timeline a{position:absolute;top:4px;width:3px;height:26px;background:#3b6fb6;opacity:.7}
.timeline a.dcerpc{background:#9b59b6} .timeline a.bad{background:#c0392b}
.tools{margin:.4em 0} .tools input{width:22em}
details.ex{border:1px solid #d7d7d7;border-radius:4px;margin:3px 0;background:#fff}
details.ex>summary{cursor:pointer;padding:3px 6px;font-family:ui-monospace,monospace;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
details.ex[open]>summary{background:#eef3fa}
.st-err{color:#c0392b;font-weight:bold} .kind{color:#777}
.row{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:8px;padding:4px 8px;border-top:1px dashed #e3e3e3}
.row h4{margin:.2em 0;font-size:.95em}
pre{margin:0;font:12px/1.35 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
pre.hex{color:#444;background:#f6f6f6;padding:4px}
"""

JS = """
function setAll(open){document.querySelectorAll('details.ex').forEach(function(d){if(d.style.display!=='none')d.open=open;});}
function filterRows(q){q=q.toLowerCase();document.querySelectorAll('details.ex').forEach(function(d){
 d.style.display=(!q||d.textContent.toLowerCase().indexOf(q)>=0)?'':'none';});}
"""


def hexdump(h: str) -> str:
    """Hex text (as the decode gives it) as offset + 16 bytes a line."""
    extra = ""
    if "..." in h:
        h, extra = h.split("...", 1)
        extra = "..." + extra
    lines = []
    for i in range(0, len(h), 32):
        chunk = h[i:i + 32]
        pairs = " ".join(chunk[j:j + 2] for j in range(0, len(chunk), 2))
        raw = bytes.fromhex(chunk) if len(chunk) % 2 == 0 else b""
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in raw)
        lines.append(f"{i // 2:06x}  {pairs:<47}  {text}")
    return "\n".join(lines) + (f"\n{extra}" if extra else "")


def _pre(obj) -> str:
    return f"<pre>{escape(json.dumps(obj, indent=1, ensure_ascii=False))}</pre>"


def _hexpre(h: str | None) -> str:
    return f'<pre class="hex">{escape(hexdump(h))}</pre>' if h else "<pre class='hex'>(no bytes)</pre>"


def _summary(d: dict) -> tuple[str, bool]:
    label = "rpc/http" if str(d.get("kind", "")).startswith("rpch") else "dcerpc"
    if str(d.get("kind", "")).endswith("-call"):
        bad = bool(d.get("fault") or (d.get("return_value") not in (None, "0x00000000")) or d.get("response_error"))
        s = (f"{escape(d.get('time') or '')} <span class=kind>{label}</span> call {d['call_id']} "
             f"{escape(d['interface'])} <b>{escape(d['operation'])}</b> [{escape(d['protection'])}] "
             f"{d['request_bytes']}/{d['response_bytes']} bytes {escape(d['stream'])}")
        return s, bad
    if str(d.get("kind", "")).endswith("-pdu"):
        return (f"{escape(d.get('time') or '')} <span class=kind>{label}</span> <b>{escape(d['pdu'])}</b> "
                f"({escape(d['from'])}, call {d['call_id']}) {escape(d['stream'])}"), False
    req = d.get("request") if isinstance(d.get("request"), dict) else {}
    op = d.get("request_type") or req.get("operation")
    status = d.get("status")
    bad = status is None or status >= 400
    st = f"<span class='{'st-err' if bad else ''}'>{status if status is not None else 'no answer'}</span>"
    return (f"#{d.get('seq')} {escape(d.get('time') or '')} {escape(d.get('method', ''))} {escape(d.get('path', ''))} "
            f"<span class=kind>[{escape(d.get('endpoint', ''))}]</span> <b>{escape(op or '')}</b> -> {st}"), bad


def _item(d: dict, n: int, bodies: dict) -> str:
    head, bad = _summary(d)
    rows = []
    top = {k: v for k, v in d.items() if k not in ("rops",) and not k.endswith("_hex")}
    rows.append(f"<div class=row><div><h4>decoded</h4>{_pre(top)}</div><div></div></div>")
    for r in d.get("rops") or []:
        left = {k: v for k, v in r.items() if not k.endswith("_hex")}
        right = ""
        if r.get("request_hex"):
            right += "<h4>request bytes</h4>" + _hexpre(r["request_hex"])
        if r.get("response_hex"):
            right += "<h4>answer bytes</h4>" + _hexpre(r["response_hex"])
        rows.append(f"<div class=row><div><h4>{escape(r['rop'])}</h4>{_pre(left)}</div><div>{right}</div></div>")
    for key in ("request_hex", "response_hex"):
        if d.get(key):
            rows.append(f"<div class=row><div><h4>{key.split('_')[0]} ROP buffer (not decoded)</h4></div>"
                        f"<div>{_hexpre(d[key])}</div></div>")
    body = bodies.get(d.get("seq")) if d.get("kind") is None else None
    if body:
        for name, b in body:
            if b:
                h = b[:MAX_BODY_HEX].hex() + (f"... ({len(b)} bytes)" if len(b) > MAX_BODY_HEX else "")
                rows.append(f"<div class=row><div><h4>{name}</h4></div><div>{_hexpre(h)}</div></div>")
    return (f'<details class="ex" id="x{n}"><summary class="{"st-err" if bad else ""}">{head}</summary>'
            + "".join(rows) + "</details>")


def _epoch(t: str | None) -> float | None:
    if not t:
        return None
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def render(items: list[dict], cap: Capture, title: str) -> str:
    """The whole page for decode items (``describe`` dicts and DCE/RPC items) of one capture."""
    bodies = {ex.seq: [("request body", ex.request_content), ("answer body", ex.response_content)]
              for ex in cap.exchanges}
    times = [_epoch(d.get("time")) for d in items]
    known = [t for t in times if t is not None]
    marks = []
    if known:
        t0, t1 = min(known), max(known)
        span = (t1 - t0) or 1.0
        for n, (d, t) in enumerate(zip(items, times)):
            if t is None:
                continue
            left = 100.0 * (t - t0) / span
            kind = "dcerpc" if str(d.get("kind", "")).startswith(("dcerpc", "rpch")) else ""
            if _summary(d)[1]:
                kind += " bad"
            marks.append(f'<a class="{kind.strip()}" href="#x{n}" style="left:calc({left:.3f}% - 1px)" '
                         f'title="{escape(d.get("time") or "")}"></a>')
    problems = ""
    if cap.problems:
        problems = ("<div class=problems><b>Problems found while reading</b><ul>"
                    + "".join(f"<li>{escape(str(p))}</li>" for p in cap.problems) + "</ul></div>")
    span_text = ""
    if known:
        span_text = f", {escape(min(d.get('time') for d in items if d.get('time')))} .. " \
                    f"{escape(max(d.get('time') for d in items if d.get('time')))}"
    meta = (f"{len(cap.exchanges)} HTTP exchange(s), "
            f"{sum(1 for d in items if str(d.get('kind', '')).endswith('-call'))} DCE/RPC call(s); format {escape(cap.format)}"
            + span_text)
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{escape(title)}</title><style>{CSS}</style><script>{JS}</script></head><body>"
            f"<h1>exgate decode: {escape(title)}</h1><div class=meta>{meta}</div>{problems}"
            f"<div class=timeline title='timeline'>{''.join(marks)}</div>"
            "<div class=tools><button type=button id=open-all onclick='setAll(true)'>open all</button> "
            "<button type=button id=close-all onclick='setAll(false)'>close all</button> "
            "<input id=filter type=search placeholder='filter (text in an exchange)' oninput='filterRows(this.value)'>"
            "</div>"
            + "".join(_item(d, n, bodies) for n, d in enumerate(items))
            + "</body></html>\n")
