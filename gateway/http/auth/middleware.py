"""The sign-in middleware every endpoint runs behind.

Order of checks for each request:
1. body size (policy.BODY_LIMITS) -> 413 with the reason;
2. ``Authorization: Basic`` -> directory check (refused over plain HTTP
   unless ``http.allow_basic_over_http``);
   ``Authorization: NTLM`` / ``Negotiate`` -> the connection-bound handshake
   (ntlm.py / negotiate.py);
3. no header: a user already signed in on this keep-alive connection by NTLM
   or Negotiate (IIS behaviour) -> that user; a public endpoint -> anonymous;
   anything else -> 401 with the offered schemes.

On success ``request[USER]`` holds an ``AuthenticatedUser`` (sessions.py).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass, field

from aiohttp import web

from gateway.backends.base import BackendError
from gateway.http.guard import GUARD
from gateway.http.sessions import USER, AuthenticatedUser

from . import policy
from .access import MailboxAccessDenied
from .basic import parse_basic, strip_domain
from .throttle import Throttle, ThrottleSettings
from .unavailable import directory_unavailable

log = logging.getLogger("exgate.auth")


@dataclass
class AuthSettings:
    realm: str = "exgate"
    # Offered in this order in WWW-Authenticate (clients pick the first they support).
    schemes: tuple[str, ...] = ("Negotiate", "NTLM", "Basic")
    basic_cache_seconds: float = 120.0   # a verified Basic pair skips the directory for this long
    ntlm_domain: str = "EXGATE"          # NetBIOS domain name in the CHALLENGE target info
    max_pending_handshakes: int = 10_000
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)


class Authenticator:
    """Checks credentials against the directory (and the NT-hash store) for one app."""

    def __init__(self, state, settings: AuthSettings | None = None):
        self.state = state
        self.settings = settings or AuthSettings(schemes=tuple(state.config.http.auth_schemes))
        self.throttle = Throttle(self.settings.throttle)
        self._secret = os.urandom(32)       # keys the Basic cache; never leaves the process
        self._basic_cache: dict[str, tuple[bytes, float, AuthenticatedUser]] = {}
        from .connections import ConnectionTable
        self.connections = ConnectionTable(self.settings.max_pending_handshakes)
        from .credentials import NtHashSource
        from .ntlm import ServerIdentity
        self.nt_hashes = NtHashSource(state)
        domain = state.config.domain
        self.server_identity = ServerIdentity(nb_domain=self.settings.ntlm_domain, nb_computer="EXGATE",
                                              dns_domain=domain, dns_computer=f"exgate.{domain}")

    # ------------------------------------------------------------- users

    def user_from_entry(self, entry, method: str, password: str | None) -> AuthenticatedUser:
        login = entry.uid or strip_domain(entry.dn)
        email = entry.email or f"{login}@{self.state.config.domain}"
        return AuthenticatedUser(login=login, email=email, display_name=entry.display_name or login,
                                 password=password, method=method)

    async def check_basic(self, login: str, password: str, addr: str | None) -> AuthenticatedUser | None:
        login = strip_domain(login).strip()
        key = login.lower()
        digest = hmac.new(self._secret, password.encode("utf-8"), hashlib.sha256).digest()
        cached = self._basic_cache.get(key)
        if cached is not None and cached[1] > time.monotonic() and hmac.compare_digest(cached[0], digest):
            return cached[2]
        directory = self.state.directory
        try:
            # throttle the account, not the spelling: carol, CAROL and carol@example.test are one
            known = await directory.get_user(login) if directory is not None else None
            account = (known.uid or known.dn) if known is not None else login
            async with self.throttle.attempt(account, addr):
                entry = await directory.authenticate(login, password) if directory is not None and password else None
                if entry is None:
                    self.throttle.failure(account, addr)
                else:
                    self.throttle.success(account, addr)
        except BackendError as exc:
            raise directory_unavailable(exc) from None
        if entry is None:
            self._basic_cache.pop(key, None)
            log.info("Basic sign-in refused for %r from %s", login, addr)
            return None
        user = self.user_from_entry(entry, "basic", password)
        if len(self._basic_cache) > 10_000:
            self._basic_cache.clear()
        self._basic_cache[key] = (digest, time.monotonic() + self.settings.basic_cache_seconds, user)
        return user

    # ------------------------------------------------------------- answers

    def offers(self, request: web.Request) -> list[str]:
        out = []
        for s in self.settings.schemes:
            if s == "Basic":
                if request.secure or self.state.config.http.allow_basic_over_http:
                    out.append(f'Basic realm="{self.settings.realm}", charset="UTF-8"')
            else:
                out.append(s)
        return out

    def unauthorized(self, request: web.Request, reason: str, *, challenge: list[str] | None = None
                     ) -> web.HTTPUnauthorized:
        exc = web.HTTPUnauthorized(reason=reason, text=f"401 Unauthorized: {reason}\n")
        for value in (challenge if challenge is not None else self.offers(request)):
            exc.headers.add("WWW-Authenticate", value)
        return exc


AUTH = web.AppKey("exgate_auth", Authenticator)


def _client_address(request: web.Request) -> str | None:
    return request.remote


def _check_body_size(request: web.Request) -> web.Request:
    rule = policy.body_limit(request.path)
    if rule.max_bytes is None:
        return request
    length = request.content_length
    if length is not None and length > rule.max_bytes:
        raise web.HTTPRequestEntityTooLarge(
            max_size=rule.max_bytes, actual_size=length,
            text=f"413 Request Entity Too Large: {request.path} accepts at most {rule.max_bytes} bytes "
                 f"({rule.why})\n")
    if request._client_max_size != rule.max_bytes:   # chunked bodies: aiohttp enforces this on read()
        return request.clone(client_max_size=rule.max_bytes)
    return request


@web.middleware
async def auth_middleware(request: web.Request, handler):
    auth: Authenticator = request.app[AUTH]
    request = _check_body_size(request)
    guard = request.app.get(GUARD)
    if guard is not None and policy.body_limit(request.path).max_bytes is not None:
        await guard.read_body(request)      # a body that never arrives is a 408, not a held connection
    public = policy.is_public(request.method, request.path)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    scheme_l = scheme.lower()
    addr = _client_address(request)
    # set only for a request another worker forwarded on this worker's private socket (gateway/http/forward.py)
    user: AuthenticatedUser | None = request.get(USER)
    final_header: str | None = None

    if user is not None:
        pass
    elif scheme_l == "basic":
        if not request.secure and not auth.state.config.http.allow_basic_over_http:
            # Refuse before looking at the password: it already crossed the wire in clear.
            raise web.HTTPForbidden(reason="Basic authentication over plain HTTP is disabled",
                                    text="403 Forbidden: Basic authentication over plain HTTP is disabled; "
                                         "use HTTPS or NTLM (http.allow_basic_over_http)\n")
        creds = parse_basic(token)
        if creds is None:
            raise auth.unauthorized(request, "malformed Basic credentials")
        user = await auth.check_basic(creds[0], creds[1], addr)
        if user is None:
            raise auth.unauthorized(request, "wrong user name or password")
    elif scheme_l in ("ntlm", "negotiate"):
        from .handshake import step
        outcome = await step(auth, request, scheme, token.strip(), addr)
        if outcome.user is None:
            raise auth.unauthorized(request, outcome.reason, challenge=outcome.challenge)
        user, final_header = outcome.user, outcome.final_header
    elif header:
        if not public:
            raise auth.unauthorized(request, f"unsupported authentication scheme {scheme[:20]!r}")
    else:
        user = auth.connections.user_for(request)
        if user is None and not public:
            raise auth.unauthorized(request, "authentication required")

    if user is not None:
        request[USER] = user
    try:
        response = await handler(request)
    except MailboxAccessDenied as exc:
        raise web.HTTPForbidden(reason="access denied", text=f"403 Forbidden: {exc}\n") from None
    if final_header is not None:
        response.headers["WWW-Authenticate"] = final_header
    return response


def install_auth(app: web.Application, state, settings: AuthSettings | None = None) -> Authenticator:
    auth = Authenticator(state, settings)
    app[AUTH] = auth
    app.middlewares.append(auth_middleware)
    return auth


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
