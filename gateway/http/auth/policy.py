"""What may be reached without signing in, and how large a request body may be, per endpoint.

Both lists live here and nowhere else: the middleware consults them, the docs
(docs/signin.md) describe them, tests walk them.
"""
from __future__ import annotations

from dataclasses import dataclass

# (method, lower-case path). Exact matches only: "/healthz/../EWS" is not public.
# The Autodiscover POST is public because Outlook posts there before it has
# credentials in some flows (MS-OXDSCLI 3.1.5); the front end decides what an
# anonymous caller may learn.
PUBLIC_ENDPOINTS: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("POST", "/autodiscover/autodiscover.xml"),
})


# (method, lower-case prefix) for public endpoints that carry an argument in the path. Outlook asks the
# JSON Autodiscover (/autodiscover/autodiscover.json/v1.0/<address>?Protocol=...) without credentials; the
# answer holds only this server's URLs.
PUBLIC_PREFIXES: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/autodiscover/autodiscover.json/"),
})


def is_public(method: str, path: str) -> bool:
    key = (method.upper(), path.lower())
    if key in PUBLIC_ENDPOINTS:
        return True
    segments = key[1].split("/")
    if ".." in segments or "." in segments:   # no escaping a public prefix
        return False
    return any(key[0] == m and key[1].startswith(p) for m, p in PUBLIC_PREFIXES)


@dataclass(frozen=True)
class BodyLimit:
    prefix: str          # lower-case path prefix
    max_bytes: int | None  # None: no limit enforced here (streaming channels)
    why: str


MiB = 1024 * 1024

# First matching prefix wins; the last entry is the default.
BODY_LIMITS: tuple[BodyLimit, ...] = (
    BodyLimit("/autodiscover/", 64 * 1024, "an Autodiscover request is a small XML document"),
    BodyLimit("/ews/", 48 * MiB, "EWS requests carry base64 attachments (Exchange's default limit is 35 MB)"),
    BodyLimit("/mapi/", 16 * MiB, "MAPI/HTTP request buffers (MS-OXCMAPIHTTP) stay well below this"),
    # RPC/HTTP IN channels announce a Content-Length of up to 1 GiB and stream (MS-RPCH 2.1.2.1.1).
    BodyLimit("/rpc/", None, "RPC over HTTP channels are long-lived streams"),
    BodyLimit("/", 1 * MiB, "default for every other endpoint"),
)


def body_limit(path: str) -> BodyLimit:
    lp = path.lower()
    for rule in BODY_LIMITS:
        if lp.startswith(rule.prefix):
            return rule
    return BODY_LIMITS[-1]
