"""Sign-in and access for every endpoint: Basic, NTLM, Negotiate; mailbox ownership; abuse limits.

Front ends need only:
- ``gateway.http.sessions.current_user(request)`` / ``mailbox_for(request)``
- ``require_own_mailbox(request, address)`` before acting on a named mailbox.
"""
from .access import MailboxAccessDenied, owns_mailbox, require_own_mailbox
from .middleware import AUTH, AuthSettings, Authenticator, auth_middleware, install_auth
from .policy import BODY_LIMITS, PUBLIC_ENDPOINTS, is_public

__all__ = ["AUTH", "AuthSettings", "Authenticator", "auth_middleware", "install_auth", "MailboxAccessDenied",
           "owns_mailbox", "require_own_mailbox", "BODY_LIMITS", "PUBLIC_ENDPOINTS", "is_public"]
