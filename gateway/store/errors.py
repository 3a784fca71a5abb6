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


class FolderExists(InvalidOperation):
    """A folder of that name is already under the parent (MAPI ecDuplicateName, EWS ErrorFolderExists)."""
    code = "exists"


class WellKnownFolder(InvalidOperation):
    """A well-known (distinguished) folder cannot be renamed, moved or deleted; ``operation`` says which."""
    code = "wellknown"

    def __init__(self, message: str, operation: str):
        super().__init__(message)
        self.operation = operation       # "rename", "move" or "delete"


class QuotaExceeded(StoreError):
    """The backend refused to store more for this mailbox (IMAP [OVERQUOTA], DAV 507)."""
    code = "quota"


class InvalidRestriction(InvalidOperation):
    """A restriction or sort order the store cannot evaluate (a bad tree, an unknown property type)."""
    code = "restriction"
