"""Authorization: a signed-in user opens their own mailbox only.

Front ends call ``require_own_mailbox(request, address)`` before acting on a
mailbox named in a request (EWS Mailbox/EmailAddress, a MAPI/HTTP mailbox DN,
an Autodiscover EMailAddress ...). It raises ``MailboxAccessDenied`` (a
store AccessDenied) which each front end maps to its protocol's error
(EWS ErrorAccessDenied, ROP ecAccessDenied ...); if a front end lets it
escape, the auth middleware answers HTTP 403.

Access to another user's folders that the backend grants (IMAP ACL, DAV
sharing) goes through the store's own calls on the user's own backend
sessions, never by opening the other user's mailbox here.
"""
from __future__ import annotations

from aiohttp import web

from gateway.http.sessions import AuthenticatedUser, current_user
from gateway.store.errors import AccessDenied


class MailboxAccessDenied(AccessDenied):
    def __init__(self, user: AuthenticatedUser, address: str):
        super().__init__(f"{user.login} may not open the mailbox of {address}")
        self.user = user
        self.address = address


def normalize_address(address: str) -> str:
    """``SMTP:Alice@Example.Test`` / ``<alice@example.test>`` -> ``alice@example.test``."""
    a = address.strip().strip("<>").strip()
    if a[:5].lower() == "smtp:":
        a = a[5:]
    return a.lower()


def owns_mailbox(user: AuthenticatedUser, address: str) -> bool:
    wanted = normalize_address(address)
    if not wanted:
        return False
    return wanted in {normalize_address(user.email), user.login.lower()}


def require_own_mailbox(request: web.Request, address: str) -> AuthenticatedUser:
    """The signed-in user when ``address`` is theirs; MailboxAccessDenied otherwise."""
    user = current_user(request)
    if not owns_mailbox(user, address):
        raise MailboxAccessDenied(user, address)
    return user
