"""Structural diff of two XML answers (EWS SOAP, Autodiscover), element by element.

Children are matched by local name and position among their same-named siblings, so a server
that orders different elements differently is no difference, while a missing, extra or changed
element is reported with its path (``/Envelope/Body/GetItemResponse/.../Message/Subject``).
What is expected to differ is decided by gateway/replay/rules.py and counted, not reported.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from protocols.ews.envelope import SoapFault, parse_xml
from protocols.ews.ns import local

from . import rules


@dataclass
class Difference:
    path: str
    kind: str                    # "text", "attribute", "missing", "extra", "status", "unparsable"
    recorded: str | None = None
    live: str | None = None

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.path}: in the recording, not in the live answer"
        if self.kind == "extra":
            return f"{self.path}: in the live answer, not in the recording"
        return f"{self.path}: {self.kind} recorded {self.recorded!r}, live {self.live!r}"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DiffResult:
    differences: list[Difference] = field(default_factory=list)
    ignored: Counter = field(default_factory=Counter)      # rule name -> how many times it applied

    @property
    def same(self) -> bool:
        return not self.differences


def _short(value: str | None, limit: int = 120) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[:limit] + f"... ({len(value)} chars)"


def _attr_name(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _walk(a, b, path: str, out: DiffResult) -> None:
    name = local(a)
    rule = rules.ignored_subtree(name)
    if rule:
        out.ignored[rule] += 1
        return
    for key in sorted(set(a.attrib) | set(b.attrib)):
        ra, rb = a.get(key), b.get(key)
        if ra == rb:
            continue
        attr = _attr_name(key)
        rule = rules.ignored_attribute(name, attr, ra, rb)
        if rule:
            out.ignored[rule] += 1
        else:
            out.differences.append(Difference(f"{path}/@{attr}", "attribute", _short(ra), _short(rb)))
    ta, tb = (a.text or "").strip(), (b.text or "").strip()
    if ta != tb and not (len(a) and len(b)):     # text beside child elements is layout
        rule = rules.ignored_text(name, ta, tb)
        if rule:
            out.ignored[rule] += 1
        else:
            out.differences.append(Difference(path, "text", _short(ta), _short(tb)))
    ka = [c for c in a if isinstance(c.tag, str)]
    kb = [c for c in b if isinstance(c.tag, str)]
    names = list(dict.fromkeys([local(c) for c in ka] + [local(c) for c in kb]))
    for n in names:
        ca = [c for c in ka if local(c) == n]
        cb = [c for c in kb if local(c) == n]
        many = max(len(ca), len(cb)) > 1
        for i in range(max(len(ca), len(cb))):
            sub = f"{path}/{n}" + (f"[{i + 1}]" if many else "")
            if i >= len(cb) or i >= len(ca):
                rule = rules.ignored_missing(n)
                if rule:
                    out.ignored[rule] += 1
                else:
                    out.differences.append(Difference(sub, "missing" if i >= len(cb) else "extra"))
                continue
            _walk(ca[i], cb[i], sub, out)


def parse(data: bytes):
    """The XML root, or None when the body is not XML."""
    if not data or not data.strip():
        return None
    try:
        return parse_xml(data.strip())
    except SoapFault:
        return None


def diff_xml(recorded: bytes, live: bytes) -> DiffResult:
    out = DiffResult()
    ra, rb = parse(recorded), parse(live)
    if ra is None or rb is None:
        if ra is None and rb is None:
            if recorded.strip() != live.strip():
                out.ignored["body not XML"] += 1
            return out
        out.differences.append(Difference("/", "unparsable", "not XML" if ra is None else "XML",
                                          "not XML" if rb is None else "XML"))
        return out
    if local(ra) != local(rb):
        out.differences.append(Difference("/", "root", local(ra), local(rb)))
        return out
    _walk(ra, rb, "/" + local(ra), out)
    return out


def diff_answers(recorded_status: int | None, recorded: bytes, live_status: int, live: bytes) -> DiffResult:
    out = diff_xml(recorded, live) if recorded_status is not None else DiffResult()
    if recorded_status is not None and recorded_status != live_status:
        out.differences.insert(0, Difference("HTTP status", "status", str(recorded_status), str(live_status)))
    return out


def decode_both(request_type: str, decode, recorded: bytes, live: bytes, errors: tuple,
                result: DiffResult) -> tuple | None:
    """A MAPI/HTTP or NSPI answer as recorded and as live, decoded; None (with the difference said in
    ``result``) when one does not decode or the two are not the same kind of answer."""
    try:
        a, b = decode(request_type, recorded), decode(request_type, live)
    except errors as exc:
        result.differences.append(Difference(f"/{request_type}", "unparsable", None, str(exc)))
        return None
    if type(a) is not type(b):
        result.differences.append(Difference(f"/{request_type}", "status", type(a).__name__, type(b).__name__))
        return None
    return a, b
