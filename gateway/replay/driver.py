"""`exgate replay`: the client's side of a recorded session sent again to a gateway, answers compared.

Which exchanges are replayed (``replayable``): POSTs to EWS and Autodiscover that got an answer other
than 401 (a 401 is a sign-in leg; the driver signs in itself with Basic), and MAPI/HTTP mailbox
requests (/mapi/emsmdb Connect, Execute, Disconnect, NotificationWait, PING) and address book calls
(/mapi/nspi: Bind, QueryRows, ResolveNames, ..., PING); the server's session cookies are the live ones.
A NotificationWait is held by the server: it runs beside the requests after it, read for a short time
(gateway/replay/rules.py says what is compared). EMSMDB and NSPI calls over DCE/RPC (RPC/HTTP, TCP)
come here carried as MAPI/HTTP requests (gateway/replay/rpcreplay.py). Each recorded MAPI/HTTP session
(and each DCE/RPC connection) is replayed in a lane of its own (``Replayer.lane``: cookies, handles,
MIds), so sessions that overlap in the capture stay apart. Before each
request the id map (gateway/replay/ids.py, for MAPI gateway/replay/mapireplay.py) puts the live
server's ids into it; after it, the recorded and live answers are paired into the map and compared
(gateway/replay/diff.py and mapireplay.py, rules in gateway/replay/rules.py).
"""
from __future__ import annotations

import asyncio
import base64
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from protocols.capture.model import Capture, Exchange
from protocols.ews.envelope import SoapFault, parse_request

from .diff import Difference, diff_answers
from .ids import IdMap
from . import rules
from .mapireplay import (
    MapiIds, MapiReplayError, compare_plain, compare_wait, learn_and_compare, rewrite_connect, rewrite_execute,
)
from .nspireplay import NspiIds, NspiReplayError
from .nspireplay import learn_and_compare as nspi_compare, rewrite as nspi_rewrite
from .rpcreplay import carried_call, carried_lane
from .summary import endpoint
from .tlsopt import client_ssl

REPLAYED_ENDPOINTS = ("ews", "autodiscover", "autodiscover-soap", "mapihttp-emsmdb", "mapihttp-nspi")
MAPI_REPLAYED = ("connect", "execute", "disconnect", "notificationwait", "ping")
# never sent again as recorded: the driver signs in itself, and aiohttp frames the body
DROPPED_HEADERS = {"authorization", "proxy-authorization", "host", "content-length", "connection", "keep-alive",
                   "transfer-encoding", "cookie", "expect", "te", "upgrade", "accept-encoding", "content-encoding"}


@dataclass
class Step:
    seq: int
    source: str
    endpoint: str
    operation: str
    recorded_status: int | None
    live_status: int | None = None
    differences: list[Difference] = field(default_factory=list)
    ignored: Counter = field(default_factory=Counter)
    error: str | None = None
    live_body: bytes = b""
    sent_body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.differences

    def as_dict(self) -> dict:
        return {"seq": self.seq, "source": self.source, "endpoint": self.endpoint, "operation": self.operation,
                "recorded_status": self.recorded_status, "live_status": self.live_status, "ok": self.ok,
                "error": self.error, "differences": [d.as_dict() for d in self.differences],
                "ignored": dict(self.ignored)}


def operation_of(ex: Exchange) -> str:
    kind = endpoint(ex)
    if kind.startswith("mapihttp"):
        call = carried_call(ex)             # a DCE/RPC call carried as this request
        return (f"{call} as " if call else "") + f"{kind}:{ex.request_header('X-RequestType') or '?'}"
    if kind == "ews":
        try:
            return parse_request(ex.request_content).operation
        except SoapFault:
            return "(unparsable)"
    return kind


def replayable(ex: Exchange) -> str | None:
    """None when the exchange is replayed, else why not."""
    kind = endpoint(ex)
    if kind == "other":
        return "not Exchange traffic"              # a capture's unrelated web traffic
    if kind not in REPLAYED_ENDPOINTS:
        return f"{kind} is not replayed yet"
    if ex.method != "POST":
        return f"{ex.method} is not replayed"
    if ex.status == 401:
        return "sign-in leg"
    if kind == "mapihttp-emsmdb" and (ex.request_header("X-RequestType") or "").lower() not in MAPI_REPLAYED:
        return f"{ex.request_header('X-RequestType')} is not a request type of /mapi/emsmdb"
    return None


def is_held(ex: Exchange) -> bool:
    rtype = (ex.request_header("X-RequestType") or "").lower()
    return endpoint(ex) == "mapihttp-emsmdb" and rtype == "notificationwait"


@dataclass
class Lane:
    """One replayed session: its cookie jar (the live session cookies), handle table and MIds."""

    session: aiohttp.ClientSession
    mapi: MapiIds
    nspi: NspiIds


_CONTEXT = re.compile(r"(?:^|[;,\s])MapiContext=([^;,\s]+)", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")     # what no header may hold (a tab may)


def recorded_context(headers: list[tuple[str, str]], name: str) -> str | None:
    """The MapiContext cookie a recorded request sent (Cookie) or its answer set (Set-Cookie; an empty value
    expires it)."""
    for k, v in headers:
        if k.lower() == name and (m := _CONTEXT.search(v)) and m.group(1):
            return m.group(1)
    return None


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Replayer:
    def __init__(self, target: str, user: str, password: str, *, ids: IdMap | None = None,
                 verify_tls: bool = False, timeout: float = 120.0,
                 wait_timeout: float = rules.NOTIFICATION_WAIT_SECONDS):
        self.target = target.rstrip("/")
        self.auth = basic(user, password)
        self.ids = ids or IdMap()
        self.mapi = MapiIds()
        self.nspi = NspiIds()
        self._ssl = client_ssl(verify_tls)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.wait_timeout = wait_timeout
        self._session: aiohttp.ClientSession | None = None
        self._lanes: dict[str, Lane] = {}          # a recorded MAPI/HTTP session (or DCE/RPC connection) -> its lane
        self._latest: dict[str, str] = {}          # endpoint -> the lane of its latest Connect/Bind

    def _jar(self) -> aiohttp.ClientSession:
        # the live server's MAPI/HTTP session cookies (127.0.0.1 targets too: unsafe)
        return aiohttp.ClientSession(timeout=self._timeout, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> "Replayer":
        self._session = self._jar()
        return self

    async def __aexit__(self, *exc) -> None:
        for s in [self._session] + [lane.session for lane in self._lanes.values()]:
            if s is not None:
                await s.close()

    def lane(self, ex: Exchange) -> "Lane":
        """The session a MAPI/HTTP request belongs to: sessions that overlap in the capture each get their own
        cookie jar and handle table (the FID/MID and long-term id maps are the mailbox's: shared)."""
        kind = endpoint(ex)
        key = carried_lane(ex)
        if key is None and kind.startswith("mapihttp"):
            if (ex.request_header("X-RequestType") or "").lower() in ("connect", "bind"):
                key = recorded_context(ex.response_headers, "set-cookie") or f"{kind} #{ex.seq}"
                self._latest[kind] = key
            else:
                key = recorded_context(ex.request_headers, "cookie")
                if key not in self._lanes:
                    key = self._latest.get(kind)        # a context whose start is not in the capture
        if key is None:
            return Lane(self._session, self.mapi, self.nspi)
        if key not in self._lanes:
            self._lanes[key] = Lane(self._jar(), MapiIds(ids=self.mapi.ids, long_term_ids=self.mapi.long_term_ids),
                                    NspiIds())
        return self._lanes[key]

    async def send(self, ex: Exchange, started: asyncio.Event | None = None) -> Step:
        """Send one recorded request (rewritten through the id map), learn from and compare the answers;
        ``started`` is set once the server answered the request's headers (a held one is then accepted)."""
        assert self._session is not None, "use `async with Replayer(...)`"
        lane = self.lane(ex)
        step = Step(ex.seq, ex.source, endpoint(ex), operation_of(ex), ex.status)
        mapi_execute = step.operation.lower().endswith("mapihttp-emsmdb:execute")
        held = is_held(ex)
        recorded_rops = None
        nspi_call = step.endpoint == "mapihttp-nspi"
        request_type = ex.request_header("X-RequestType") or ""
        if step.endpoint.startswith("mapihttp"):
            body = ex.request_content           # binary: the EWS id map's text rewrite must not touch it
            if nspi_call and request_type.lower() != "ping":
                try:
                    body = nspi_rewrite(request_type, body, lane.nspi)
                except NspiReplayError as exc:
                    step.error = str(exc)
                    return step
            if step.operation.lower().endswith("mapihttp-emsmdb:connect"):
                body = rewrite_connect(body, self.ids.replace_text)
            if mapi_execute:
                try:
                    body, recorded_rops = rewrite_execute(body, lane.mapi, self.ids.replace_text)
                except MapiReplayError as exc:
                    step.error = str(exc)
                    return step
        else:
            body = self.ids.rewrite(ex.request_content)
        step.sent_body = body
        headers = {k: self.ids.replace_text(v) for k, v in ex.request_headers if k.lower() not in DROPPED_HEADERS}
        headers["Authorization"] = self.auth
        if bad := next((k for k, v in headers.items() if _CONTROL.search(k + v)), None):
            # aiohttp refuses it (header injection): a damaged capture, said for this request only
            step.error = f"not sent: the recorded header {bad!r} holds a control character"
            return step
        try:
            async with lane.session.request(ex.method, self.target + self.ids.replace_text(ex.path), data=body,
                                             headers=headers,
                                             ssl=self._ssl) as r:
                step.live_status = r.status
                live_code = r.headers.get("X-ResponseCode")
                if started is not None:
                    started.set()
                step.live_body = await (self._read_held(r) if held else r.read())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            step.error = f"{type(exc).__name__}: {exc}"
            return step
        if step.endpoint.startswith("mapihttp"):
            if ex.status is None:                   # a capture of requests only: sent, nothing to compare
                step.ignored[rules.NO_RECORDED_ANSWER] += 1
                return step
            recorded_code = ex.response_header("X-ResponseCode")
            if recorded_code is None and ex.status == 200 and (code := rules.status_code_of(ex.response_content)):
                recorded_code = code                # a recording that kept the body but not the headers
                step.ignored[rules.CODE_FROM_BODY] += 1
            if ex.status != step.live_status or recorded_code != live_code:
                step.differences.append(Difference("/X-ResponseCode", "status", f"{ex.status} {recorded_code}",
                                                   f"{step.live_status} {live_code}"))
            elif held and recorded_code == "0":
                result = compare_wait(ex.response_content, step.live_body, self.wait_timeout)
                step.differences, step.ignored = result.differences, result.ignored
            elif mapi_execute and recorded_code == "0":
                result = learn_and_compare(ex.response_content, step.live_body, recorded_rops, lane.mapi)
                step.differences, step.ignored = result.differences, result.ignored
            elif nspi_call and recorded_code == "0" and request_type.lower() != "ping":
                result = nspi_compare(request_type, ex.response_content, step.live_body, lane.nspi)
                step.differences, step.ignored = result.differences, result.ignored
            elif recorded_code == "0":                  # Connect, Disconnect, PING (either endpoint)
                result = compare_plain(request_type, ex.response_content, step.live_body)
                step.differences, step.ignored = result.differences, result.ignored
            return step
        if ex.status is not None:
            self.ids.learn(ex.response_content, step.live_body)
            result = diff_answers(ex.status, ex.response_content, step.live_status, step.live_body)
            step.differences, step.ignored = result.differences, result.ignored
        return step

    async def _read_held(self, r: aiohttp.ClientResponse) -> bytes:
        """What a held request (NotificationWait) answered within ``wait_timeout``: the whole stream, or the
        PROCESSING/PENDING lines so far when the server still holds it."""
        got = bytearray()

        async def read() -> None:
            async for chunk in r.content.iter_any():
                got.extend(chunk)
        try:
            await asyncio.wait_for(read(), self.wait_timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        return bytes(got)

    async def replay(self, capture: Capture, *, progress: bool = False) -> tuple[list[Step], list[tuple[Exchange, str]]]:
        steps, skipped = [], []
        held: list[asyncio.Task] = []
        todo = []
        for ex in capture.exchanges:
            why = replayable(ex)
            if why is None:
                todo.append(ex)
            else:
                skipped.append((ex, why))
        started = time.monotonic()
        for n, ex in enumerate(todo, 1):
            if is_held(ex):
                # sent after the requests before it; the ones after it go on once the server has accepted it
                # (its first headers came) and while it holds it
                started = asyncio.Event()
                task = asyncio.ensure_future(self.send(ex, started))
                accepted = asyncio.ensure_future(started.wait())
                await asyncio.wait({task, accepted}, return_when=asyncio.FIRST_COMPLETED)
                accepted.cancel()
                held.append(task)
                steps.append(task)
                continue
            step = await self.send(ex)
            steps.append(step)
            if progress:
                done = int(30 * n / len(todo))
                sys.stderr.write(f"\r[{'#' * done}{'.' * (30 - done)}] {n}/{len(todo)} {step.operation[:28]:<28}"
                                 f" {time.monotonic() - started:5.1f}s")
                sys.stderr.flush()
        if held:
            await asyncio.gather(*held)
            steps = [s.result() if isinstance(s, asyncio.Task) else s for s in steps]
        if progress and todo:
            sys.stderr.write("\n")
        return steps, skipped


def summary_table(steps: list[Step]) -> str:
    """Per operation: requests, same, different, errors."""
    rows: dict[str, list[int]] = {}
    for s in steps:
        r = rows.setdefault(s.operation, [0, 0, 0, 0])
        r[0] += 1
        if s.error:
            r[3] += 1
        elif s.differences:
            r[2] += 1
        else:
            r[1] += 1
    width = max([len("operation")] + [len(k) for k in rows])
    out = [f"{'operation':<{width}}  requests  same  different  errors"]
    for name, (n, same, diff, err) in sorted(rows.items()):
        out.append(f"{name:<{width}}  {n:>8}  {same:>4}  {diff:>9}  {err:>6}")
    tot = [sum(r[i] for r in rows.values()) for i in range(4)]
    out.append(f"{'total':<{width}}  {tot[0]:>8}  {tot[1]:>4}  {tot[2]:>9}  {tot[3]:>6}")
    return "\n".join(out)
