"""Store errors; each front end maps them to its protocol's codes
(ROP ecNotFound/ecAccessDenied..., EWS ErrorItemNotFound/ErrorIrresolvableConflict...)."""
from __future__ import annotations


class StoreError(Exception):
    code = "failed"


class NotFound(StoreError):
    code = "notfound"


class Conflict(StoreError):
    """The item changed underneath (stale ChangeKey, DAV 412, IMAP [MODIFIED])."""
    code = "conflict"


class AccessDenied(StoreError):
    code = "denied"


class InvalidOperation(StoreError):
    code = "invalid"


class BackendUnavailable(StoreError):
    code = "unavailable"


class SubmitFailed(StoreError):
    """Sending failed; the message stays where it was, visible to the user."""
    code = "submitfailed"
