"""The mailbox model every front end uses: folders, items, MAPI property bags, stable ids."""
from .errors import (AccessDenied, BackendUnavailable, Conflict, FolderExists, InvalidOperation, InvalidRestriction,
                     NotFound, QuotaExceeded, StoreError, SubmitFailed, WellKnownFolder)
from .mailbox import Mailbox, MailboxBackends, provision
from .model import Attachment, MessageContent, Recipient
from .objects import Folder, FolderChanges, Item
from .state.db import StateDB

__all__ = ["AccessDenied", "Attachment", "BackendUnavailable", "Conflict", "Folder", "FolderChanges", "FolderExists",
           "InvalidOperation", "InvalidRestriction", "Item", "QuotaExceeded", "WellKnownFolder", "Mailbox", "MailboxBackends", "MessageContent", "NotFound", "Recipient",
           "StateDB", "StoreError", "SubmitFailed", "provision"]
