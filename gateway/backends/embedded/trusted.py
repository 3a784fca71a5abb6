"""A gateway-trusted login for the demo backends, so NTLM users reach them without a password.

After NTLM or Kerberos the gateway never sees the user's password. Real
deployments use a Dovecot master user and a DAV proxy header (docs/signin.md);
the demo backends get the same two paths, keyed by a secret that exists only
in memory for one run of the stack (``GatewayTrust``) - nothing is stored:

- pymap (in-process): ``TrustedLogin`` wraps the maildir Login. SASL PLAIN
  with authcid = trust.user and the secret may act as any existing user
  named in authzid (RFC 4616 2). The stock maildir backend refuses authzid
  impersonation (backends.md section 1), which is why this wrapper exists.
- Radicale (child process): the auth plugin in ``radicale_auth.py`` accepts
  Basic trust.user:secret together with ``X-Remote-User: <login>``; the
  secret reaches the child through its environment, not a file.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

GATEWAY_USER = "exgate-gateway"
SECRET_ENV = "EXGATE_DAV_TRUST_SECRET"
USER_ENV = "EXGATE_DAV_TRUST_USER"
PROXY_HEADER = "X-Remote-User"


@dataclass(frozen=True)
class GatewayTrust:
    user: str = GATEWAY_USER
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)


def trusted_login(inner, trust: GatewayTrust, config):
    """pymap LoginInterface: ``inner`` plus the gateway's master path."""
    from pymap.backend.maildir import Identity
    from pymap.exceptions import AuthorizationFailure, InvalidAuth, UserNotFound
    from pymap.interfaces.login import LoginInterface
    from pysasl.identity import ClearIdentity

    master = ClearIdentity(trust.user, trust.secret)
    role = "exgate-gateway-master"

    class TrustedLogin(LoginInterface):
        @property
        def tokens(self):
            return inner.tokens

        async def authenticate(self, credentials):
            if credentials.authcid == trust.user:
                verify = getattr(credentials, "verify", None)
                if verify is None or not verify(master):
                    raise InvalidAuth()
                return Identity(config, inner.tokens, trust.user, None, {role})
            return await inner.authenticate(credentials)

        async def authorize(self, authenticated, authzid: str):
            if authenticated.name == trust.user and role in authenticated.roles:
                if authzid == trust.user:
                    raise AuthorizationFailure()      # the gateway account has no mailbox of its own
                target = Identity(config, inner.tokens, authzid, None, frozenset())
                try:
                    await target.get()
                except UserNotFound:
                    raise AuthorizationFailure() from None
                return target
            return await inner.authorize(authenticated, authzid)

    return TrustedLogin()
