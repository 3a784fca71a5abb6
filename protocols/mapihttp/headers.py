"""Request headers of MS-OXCMAPIHTTP: request types, validation, cookies, response headers.

``validate_request`` reads a request's verb, path and headers (nothing of the
body) and returns either a ``RequestMeta`` or a ``Rejection`` carrying the
X-ResponseCode of 2.2.3.3.3 that the server answers with. What needs session
state (Context Not Found 10, a sequence cookie that is not the expected one)
is left to the caller; ``check_sequence`` is the pure half of the latter.

Required on every request (2.2.2.1, R38): Host, X-RequestType, X-RequestId,
Content-Type (application/mapi-http, R67) and Content-Length (or a chunked
request body). X-ClientInfo and X-ClientApplication are read when present:
the spec says a client sends them on every request (R2045, R161) but does not
list them as required, and ruler sends X-ClientInfo without its ":counter".

Cookie names are the server's choice (3.2.5.1, R1222); we use Exchange's:
MapiContext (the Session Context) and MapiSequence (the sequence cookie).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from datetime import datetime, timezone
from email.utils import format_datetime

from .errors import ResponseCode

CONTENT_TYPE = "application/mapi-http"
CONTEXT_COOKIE = "MapiContext"
SEQUENCE_COOKIE = "MapiSequence"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_PENDING_PERIOD_MS = 30_000  # 2.2.3.3.5, R158


class Endpoint(Enum):
    EMSMDB = "emsmdb"
    NSPI = "nspi"


class RequestType(Enum):
    """X-RequestType values, 2.2.3.3.1 (matched case-insensitively)."""

    # mailbox server endpoint, 2.2.4
    CONNECT = "Connect"
    EXECUTE = "Execute"
    DISCONNECT = "Disconnect"
    NOTIFICATION_WAIT = "NotificationWait"
    # both endpoints, 2.2.6
    PING = "PING"
    # address book server endpoint, 2.2.5 (recognised by name; bodies live in protocols.nspi)
    BIND = "Bind"
    UNBIND = "Unbind"
    COMPARE_MIDS = "CompareMIds"
    DN_TO_MID = "DNToMId"
    GET_MATCHES = "GetMatches"
    GET_PROP_LIST = "GetPropList"
    GET_PROPS = "GetProps"
    GET_SPECIAL_TABLE = "GetSpecialTable"
    GET_TEMPLATE_INFO = "GetTemplateInfo"
    MOD_LINK_ATT = "ModLinkAtt"
    MOD_PROPS = "ModProps"
    QUERY_COLUMNS = "QueryColumns"
    QUERY_ROWS = "QueryRows"
    RESOLVE_NAMES = "ResolveNames"
    RESORT_RESTRICTION = "ResortRestriction"
    SEEK_ENTRIES = "SeekEntries"
    UPDATE_STAT = "UpdateStat"
    GET_MAILBOX_URL = "GetMailboxUrl"
    GET_ADDRESS_BOOK_URL = "GetAddressBookUrl"

    @classmethod
    def parse(cls, value: str) -> "RequestType | None":
        return _BY_LOWER.get(value.strip().lower())

    @property
    def endpoints(self) -> frozenset[Endpoint]:
        if self is RequestType.PING:
            return frozenset(Endpoint)
        if self in _EMSMDB_TYPES:
            return frozenset({Endpoint.EMSMDB})
        return frozenset({Endpoint.NSPI})

    @property
    def creates_context(self) -> bool:
        """Connect and Bind create a Session Context (3.2.5.1); they need no cookie."""
        return self in (RequestType.CONNECT, RequestType.BIND)

    @property
    def needs_context(self) -> bool:
        """Needs the MapiContext cookie: everything but Connect, Bind and PING."""
        return not self.creates_context and self is not RequestType.PING

    @property
    def sequenced(self) -> bool:
        """Checked against the sequence cookie (one request at a time, R1228).

        NotificationWait is left out: it is outstanding while Execute requests
        run on the same Session Context (3.1.5.5).
        """
        return self.needs_context and self is not RequestType.NOTIFICATION_WAIT


_BY_LOWER = {t.value.lower(): t for t in RequestType}
_EMSMDB_TYPES = frozenset({RequestType.CONNECT, RequestType.EXECUTE, RequestType.DISCONNECT,
                           RequestType.NOTIFICATION_WAIT})

# GUID with or without braces, then ":" and a decimal counter (2.2.3.3.2, 2.2.3.3.4)
_GUID = r"\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?"
_ID_RE = re.compile(rf"({_GUID})(?::(\d{{1,20}}))?")
# an opaque cookie value we would have issued: token characters, bounded
_COOKIE_VALUE_RE = re.compile(r"[A-Za-z0-9._~+/=-]{1,256}")
_PATH_RE = re.compile(r"/mapi/(emsmdb|nspi)/?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClientId:
    """X-RequestId / X-ClientInfo: a GUID and a decimal counter (the counter may be absent)."""

    raw: str
    guid: str
    counter: int | None

    @classmethod
    def parse(cls, value: str) -> "ClientId | None":
        m = _ID_RE.fullmatch(value.strip())
        if not m:
            return None
        guid = m.group(1).strip("{}").upper()
        return cls(value, guid, int(m.group(2)) if m.group(2) is not None else None)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """What the headers of an accepted request say."""

    endpoint: Endpoint
    request_type: RequestType
    request_id: ClientId
    content_length: int | None  # None for a chunked request body
    client_info: str | None = None
    client_application: str | None = None
    context_cookie: str | None = None
    sequence_cookie: str | None = None
    cookies: Mapping[str, str] = field(default_factory=dict)

    def echo_headers(self) -> dict[str, str]:
        """The headers a response repeats (R2040, R156)."""
        out = {"X-RequestType": self.request_type.value, "X-RequestId": self.request_id.raw}
        if self.client_info is not None:
            out["X-ClientInfo"] = self.client_info
        return out


@dataclass(frozen=True, slots=True)
class Rejection:
    """A request refused before its body is read: the X-ResponseCode and why."""

    code: ResponseCode
    reason: str
    # echoed when they were readable, so the error response can repeat them
    request_type: str | None = None
    request_id: str | None = None
    client_info: str | None = None

    def echo_headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.request_type is not None:
            out["X-RequestType"] = self.request_type
        if self.request_id is not None:
            out["X-RequestId"] = self.request_id
        if self.client_info is not None:
            out["X-ClientInfo"] = self.client_info
        return out


HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


def _header_lists(headers: HeaderInput) -> dict[str, list[str]]:
    """Lower-cased name -> every value, in order (a multidict's .items() yields repeats)."""
    items = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name.lower(), []).append(value)
    return out


def parse_cookies(values: Iterable[str]) -> dict[str, str] | None:
    """Cookie header values (2.2.3.2.4: ``a=b; c=d``, possibly several headers) -> dict.

    None when a pair has no ``=`` or a name repeats with another value.
    """
    out: dict[str, str] = {}
    for value in values:
        for part in value.split(";"):
            part = part.strip()
            if not part:
                continue
            name, eq, val = part.partition("=")
            name, val = name.strip(), val.strip()
            if not eq or not name:
                return None
            if name in out and out[name] != val:
                return None
            out[name] = val
    return out


def endpoint_of(path: str) -> Endpoint | None:
    """/mapi/emsmdb/ or /mapi/nspi/ (any query string, e.g. ?MailboxId=...) -> the endpoint."""
    m = _PATH_RE.fullmatch(path.split("?", 1)[0])
    return Endpoint(m.group(1).lower()) if m else None


def validate_request(
    method: str,
    path: str,
    headers: HeaderInput,
    *,
    authenticated: bool = True,
    max_body: int = DEFAULT_MAX_BODY,
) -> RequestMeta | Rejection:
    """Check a request's verb, path and headers; the first problem found decides the code."""
    h = _header_lists(headers)

    def one(name: str) -> str | None:
        values = h.get(name.lower())
        return values[0] if values else None

    raw_type = one("X-RequestType")
    raw_id = one("X-RequestId")
    client_info = one("X-ClientInfo")

    def reject(code: ResponseCode, reason: str) -> Rejection:
        return Rejection(code, reason, raw_type, raw_id, client_info)

    if method.upper() != "POST":  # 2.1, R3
        return reject(ResponseCode.INVALID_VERB, f"{method} is not POST")
    endpoint = endpoint_of(path)
    if endpoint is None:
        return reject(ResponseCode.INVALID_PATH, f"{path.split('?', 1)[0]} is neither /mapi/emsmdb/ nor /mapi/nspi/")
    if not authenticated:  # R36
        return reject(ResponseCode.ANONYMOUS_NOT_ALLOWED, "anonymous requests are not accepted")

    for name in ("X-RequestType", "X-RequestId", "Content-Type", "X-ClientInfo", "X-ClientApplication"):
        values = h.get(name.lower(), [])
        if len(set(values)) > 1:
            return reject(ResponseCode.INVALID_HEADER, f"{name} given {len(values)} times")

    if raw_type is None:
        return reject(ResponseCode.MISSING_HEADER, "no X-RequestType")
    request_type = RequestType.parse(raw_type)
    if request_type is None:
        return reject(ResponseCode.INVALID_REQUEST_TYPE, f"unknown X-RequestType {raw_type!r}")
    if endpoint not in request_type.endpoints:
        return reject(ResponseCode.INVALID_REQUEST_TYPE,
                      f"{request_type.value} is not a request type of /mapi/{endpoint.value}/")

    if raw_id is None:
        return reject(ResponseCode.MISSING_HEADER, "no X-RequestId")
    request_id = ClientId.parse(raw_id)
    if request_id is None:
        return reject(ResponseCode.INVALID_HEADER, f"X-RequestId {raw_id!r} is not GUID:counter")

    if one("Host") is None:
        return reject(ResponseCode.MISSING_HEADER, "no Host")

    content_type = one("Content-Type")
    if content_type is None:
        return reject(ResponseCode.MISSING_HEADER, "no Content-Type")
    if content_type.split(";", 1)[0].strip().lower() != CONTENT_TYPE:
        return reject(ResponseCode.INVALID_HEADER, f"Content-Type {content_type!r} is not {CONTENT_TYPE}")

    raw_length = h.get("content-length", [])
    chunked = any("chunked" in v.lower() for v in h.get("transfer-encoding", []))
    content_length: int | None = None
    if raw_length:
        if len(set(raw_length)) > 1 or not raw_length[0].strip().isdigit():
            return reject(ResponseCode.INVALID_HEADER, f"Content-Length {raw_length!r}")
        content_length = int(raw_length[0])
        if content_length > max_body:
            return reject(ResponseCode.TOO_LARGE, f"{content_length} bytes, the limit is {max_body}")
    elif not chunked:
        return reject(ResponseCode.MISSING_HEADER, "no Content-Length")

    cookies = parse_cookies(h.get("cookie", []))
    if cookies is None:
        return reject(ResponseCode.INVALID_CONTEXT_COOKIE, "unreadable Cookie header")
    context = cookies.get(CONTEXT_COOKIE)
    sequence = cookies.get(SEQUENCE_COOKIE)
    if request_type.needs_context:
        if context is None:
            return reject(ResponseCode.MISSING_COOKIE, f"{request_type.value} needs the {CONTEXT_COOKIE} cookie")
        if not _COOKIE_VALUE_RE.fullmatch(context):
            return reject(ResponseCode.INVALID_CONTEXT_COOKIE, f"{CONTEXT_COOKIE} is not a value this server issues")
        if sequence is not None and not _COOKIE_VALUE_RE.fullmatch(sequence):
            return reject(ResponseCode.INVALID_CONTEXT_COOKIE, f"{SEQUENCE_COOKIE} is not a value this server issues")

    return RequestMeta(
        endpoint=endpoint,
        request_type=request_type,
        request_id=request_id,
        content_length=content_length,
        client_info=client_info,
        client_application=one("X-ClientApplication"),
        context_cookie=context,
        sequence_cookie=sequence,
        cookies=cookies,
    )


def check_sequence(meta: RequestMeta, expected: str | None) -> Rejection | None:
    """The sequence check of R1228 for a session that issued ``expected`` (None: it issued none).

    Connect/Bind ignore the sequence cookie (R1279); so do PING and NotificationWait.
    """
    if expected is None or not meta.request_type.sequenced:
        return None
    echo = meta.echo_headers()
    args = (echo.get("X-RequestType"), echo.get("X-RequestId"), echo.get("X-ClientInfo"))
    if meta.sequence_cookie is None:
        return Rejection(ResponseCode.MISSING_COOKIE, f"no {SEQUENCE_COOKIE} cookie", *args)
    if meta.sequence_cookie != expected:
        return Rejection(ResponseCode.INVALID_SEQUENCE, f"{SEQUENCE_COOKIE} is not the current one", *args)
    return None


# ---------------------------------------------------------------- response side


def response_headers(
    echo: RequestMeta | Rejection,
    *,
    response_code: ResponseCode = ResponseCode.SUCCESS,
    server_application: str = "Exchange/15.01.2507.000",
    pending_period_ms: int = DEFAULT_PENDING_PERIOD_MS,
    expiration_ms: int | None = None,
) -> dict[str, str]:
    """The first headers of a response (2.2.2.2), before any meta-tag is streamed.

    Content-Type is application/mapi-http on success and text/html otherwise
    (R2037, R2038). Transfer-Encoding / Content-Length and Set-Cookie are the
    HTTP layer's (``set_cookie_values`` makes the latter).
    """
    code = ResponseCode(response_code)
    if isinstance(echo, Rejection) and code == ResponseCode.SUCCESS:
        code = echo.code
    out = {"Content-Type": CONTENT_TYPE if code == ResponseCode.SUCCESS else "text/html"}
    out.update(echo.echo_headers())
    out["X-ResponseCode"] = str(int(code))
    out["X-ServerApplication"] = server_application
    out["X-PendingPeriod"] = str(pending_period_ms)
    if expiration_ms is not None:
        out["X-ExpirationInfo"] = str(expiration_ms)
    return out


def set_cookie_values(endpoint: Endpoint, context: str, sequence: str | None = None) -> list[str]:
    """Set-Cookie values for the Session Context (3.2.5.1), scoped to the endpoint's path."""
    path = f"/mapi/{endpoint.value}/"
    out = [f"{CONTEXT_COOKIE}={context}; path={path}; HttpOnly"]
    if sequence is not None:
        out.append(f"{SEQUENCE_COOKIE}={sequence}; path={path}; HttpOnly")
    return out


def http_date(moment: datetime) -> str:
    """RFC 2616 date as X-StartTime uses it (2.2.3.3.10, R2046), in GMT; ``moment`` must be aware."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)
