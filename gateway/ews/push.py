"""Push subscriptions (MS-OXWSNTIF 3.1.4.4): the gateway POSTs SendNotification to the client's URL.

What is checked and how a delivery is retried:

- The URL must be http or https with a host, on one of ``[ews] push_allowed_ports`` (80, 443, 8080,
  8443 by default), with no user name or password in it, else ErrorInvalidPushSubscriptionUrl. Its host must match
  ``[ews] push_allowed_hosts`` (exact names, ``*.example.com``, ``*``). The default is ``["*"]``, as
  Exchange does: a signed-in user can then make the gateway send this fixed SOAP body to any address it
  can reach (server-side request forgery); deployments with internal HTTP services should narrow it.
  Redirects are not followed (they would leave the allow-list behind).
- An attempt succeeds when the client answers 2xx with a SendNotificationResult carrying SubscriptionStatus
  OK or Unsubscribe. Anything else (an error status, no such answer, a timeout) fails; as Exchange does,
  the attempt is retried 30 s after the first try, then at doubling times (60 s, 120 s, ...) while that
  time is within StatusFrequency minutes; after the last failure the subscription is dropped.
"""
from __future__ import annotations

import asyncio
import fnmatch
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from protocols.ews.notification import (SEND_NOTIFICATION_ACTION, NotificationError,
                                        parse_send_notification_result)
from protocols.ews.responses import ResponseError

log = logging.getLogger("exgate.ews.push")

MINUTE = 60.0                  # seconds in a StatusFrequency minute (tests shorten it)
RETRY_SECONDS = 30.0           # the first retry; later ones at doubling times
HTTP_TIMEOUT_SECONDS = 30.0
MAX_ANSWER_BYTES = 64 * 1024


class PushFailed(Exception):
    pass


def host_allowed(host: str, patterns: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for p in patterns:
        p = p.lower().strip()
        if p == "*" or p == host or (p.startswith("*.") and fnmatch.fnmatchcase(host, p)):
            return True
    return False


def check_push_url(url: str | None, allowed_hosts: list[str], allowed_ports: list[int] | None = None) -> str:
    """The URL as given, or ErrorInvalidPushSubscriptionUrl."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        port = parts.port       # a bad port raises here
    except ValueError:
        scheme, host, port, parts = "", None, None, None
    if scheme not in ("http", "https") or not host:
        raise ResponseError("ErrorInvalidPushSubscriptionUrl", "The push subscription URL must be an http or "
                                                               "https URL with a host.")
    if parts.username is not None or parts.password is not None:
        # the gateway would send them to whoever the URL names
        raise ResponseError("ErrorInvalidPushSubscriptionUrl", "The push subscription URL must not carry a user "
                                                               "name or password.")
    port = port or (443 if scheme == "https" else 80)
    if allowed_ports is not None and port not in allowed_ports:
        raise ResponseError("ErrorInvalidPushSubscriptionUrl",
                            f"This server does not send notifications to port {port}.")
    if not host_allowed(host, allowed_hosts):
        raise ResponseError("ErrorInvalidPushSubscriptionUrl", f"This server does not send notifications to {host}.")
    return url


def retry_times(status_frequency: int, *, first: float | None = None, minute: float | None = None) -> list[float]:
    """Seconds after the first attempt at which it is tried again: 30, 60, 120, ... within the window."""
    first = RETRY_SECONDS if first is None else first
    window = status_frequency * (MINUTE if minute is None else minute)
    out, at = [], first
    while at <= window:
        out.append(at)
        at *= 2
    return out


@dataclass
class PushTarget:
    url: str
    status_frequency: int          # minutes (1..1440): StatusEvent interval and retry window
    verify_tls: bool = True


class PushSender:
    """POSTs SendNotification bodies to one subscription's URL."""

    def __init__(self, target: PushTarget):
        self.target = target
        self._session: aiohttp.ClientSession | None = None

    async def _post(self, body: bytes) -> str:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=None if self.target.verify_tls else False),
                timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS))
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SEND_NOTIFICATION_ACTION}"'}
        try:
            async with self._session.post(self.target.url, data=body, headers=headers,
                                          allow_redirects=False) as resp:
                data = await resp.content.read(MAX_ANSWER_BYTES)
                if not 200 <= resp.status < 300:
                    raise PushFailed(f"HTTP {resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise PushFailed(f"{type(exc).__name__}: {exc}") from exc
        try:
            return parse_send_notification_result(data)
        except NotificationError as exc:
            raise PushFailed(f"no SendNotificationResult in the answer: {exc}") from exc

    async def deliver(self, body: bytes) -> str | None:
        """"OK" or "Unsubscribe" as the client answered, or None when every retry failed."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for at in [0.0, *retry_times(self.target.status_frequency)]:
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            try:
                return await self._post(body)
            except PushFailed as exc:
                log.info("push to %s failed: %s", self.target.url, exc)
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
