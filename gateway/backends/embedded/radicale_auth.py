"""Radicale auth plugin for the demo: htpasswd, plus the gateway's trusted proxy path.

Loaded by the Radicale child as ``--auth-type gateway.backends.embedded.radicale_auth``.
Users sign in with their htpasswd passwords as before. The gateway may act
for a user by sending Basic ``<trust user>:<secret>`` and ``X-Remote-User:
<login>``; the secret comes from the environment (trusted.SECRET_ENV), set
only for this child. A request with the header but without the secret gets
no special treatment (plain ``http_x_remote_user`` would trust anyone who can
reach the port).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets

from radicale.auth import htpasswd

SECRET_ENV = "EXGATE_DAV_TRUST_SECRET"   # the same names as trusted.py, kept import-free for the child
USER_ENV = "EXGATE_DAV_TRUST_USER"


class Auth(htpasswd.Auth):
    def __init__(self, configuration) -> None:
        super().__init__(configuration)
        self._trust_secret = os.environ.get(SECRET_ENV, "").encode("utf-8")
        self._trust_user = os.environ.get(USER_ENV, "")
        # Radicale hands get_external_login's answer to login(); this marker,
        # known only inside this process, says "already verified".
        self._marker = secrets.token_hex(16)

    def get_external_login(self, environ):
        if not self._trust_secret or not self._trust_user:
            return ()
        remote = environ.get("HTTP_X_REMOTE_USER", "")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not remote or not authorization.startswith("Basic "):
            return ()
        try:
            user, _, secret = base64.b64decode(authorization[6:].strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return ()
        if user.decode("utf-8", "replace") != self._trust_user or not hmac.compare_digest(secret, self._trust_secret):
            return ()
        if remote == self._trust_user:
            return ()
        return remote, self._marker

    def _login(self, login: str, password: str) -> str:
        if hmac.compare_digest(password.encode("utf-8"), self._marker.encode("utf-8")):
            return login
        return super()._login(login, password)
