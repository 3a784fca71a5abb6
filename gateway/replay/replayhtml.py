"""`exgate replay FILE --html out.html`: the replay's report as one self-contained page (the same look as
`exgate decode --html`): the summary table, then every replayed request as a collapsible ``<details>``
(open by itself when its answer differed): its operation and statuses when closed; opened, each
unexpected difference (path, recorded, live), what was ignored and why (rule names from rules.py), and
the request as sent. The requests that were not replayed are listed with the reason. Everything from the
capture is HTML-escaped."""
from __future__ import annotations

from html import escape

from .html import CSS, JS

MAX_SENT = 4096


def _step(s) -> str:
    state = "ok" if s.ok else ("error" if s.error else "different")
    head = (f"#{s.seq} {escape(s.operation)} &mdash; recorded {s.recorded_status} live {s.live_status} "
            f"<span class=\"{'kind' if s.ok else 'st-err'}\">{state}</span>")
    parts = []
    if s.error:
        parts.append(f"<div class=\"row\"><pre>{escape(s.error)}</pre></div>")
    for d in s.differences:
        parts.append(f"<div class=\"row diff\"><h4>{escape(d.path)} ({escape(d.kind)})</h4>"
                     f"<pre>recorded: {escape(str(d.recorded))}\nlive:     {escape(str(d.live))}</pre></div>")
    if s.ignored:
        why = ", ".join(f"{escape(k)} &times;{v}" for k, v in sorted(s.ignored.items()))
        parts.append(f"<div class=\"row\"><pre class=\"kind\">expected to differ: {why}</pre></div>")
    sent = s.sent_body[:MAX_SENT]
    text = sent.decode("utf-8", "replace") if s.endpoint in ("ews", "autodiscover", "autodiscover-soap") \
        else sent.hex()
    more = f"... ({len(s.sent_body)} bytes)" if len(s.sent_body) > MAX_SENT else ""
    parts.append(f"<div class=\"row\"><h4>sent</h4><pre class=\"hex\">{escape(text)}{more}</pre></div>")
    return (f"<details class=\"ex{' bad' if not s.ok else ''}\"{' open' if not s.ok else ''}>"
            f"<summary>{head}</summary>{''.join(parts)}</details>")


def render(steps, skipped, summary_text: str, *, file: str, target: str, problems=()) -> str:
    bad = sum(1 for s in steps if not s.ok)
    out = [f"<!doctype html><html><head><meta charset=\"utf-8\"><title>exgate replay: {escape(file)}</title>"
           f"<style>{CSS}</style><script>{JS}</script></head><body>",
           f"<h1>exgate replay: {escape(file)}</h1>",
           f"<div class=\"meta\">onto {escape(target)}: {len(steps)} request(s) replayed, {bad} with unexpected "
           f"differences</div>"]
    if problems:
        out.append("<div class=\"problems\">" + "<br>".join(escape(str(p)) for p in problems) + "</div>")
    out.append(f"<pre>{escape(summary_text)}</pre>")
    out.append("<div class=\"tools\"><button onclick=\"setAll(true)\">open all</button> "
               "<button onclick=\"setAll(false)\">close all</button> "
               "<input placeholder=\"filter\" oninput=\"filterRows(this.value)\"></div>")
    out.extend(_step(s) for s in steps)
    if skipped:
        out.append("<h4>not replayed</h4><pre>" + "\n".join(
            f"#{ex.seq} {escape(ex.method)} {escape(ex.path)}: {escape(why)}" for ex, why in skipped) + "</pre>")
    out.append("</body></html>")
    return "".join(out)
