"""What a replay expects to differ between a recorded answer and the live one, in one place.

The diff (gateway/replay/diff.py) walks both SOAP answers element by element, by local name (namespace
prefixes never matter). Before it reports a difference it asks this module; each rule has a name, so
the report can count what it ignored and why. Change a rule here, not in the diff.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

# Attributes whose value the server chose (MS-OXWSCORE ItemIdType, MS-OXWSFOLD FolderIdType, ...):
# the replay pairs them through the id map instead of comparing them.
SERVER_ID_ATTRIBUTES = {"Id", "ChangeKey", "RootItemId", "RootItemChangeKey"}

# Elements whose text is an opaque token or a time the server chose.
SERVER_TOKEN_ELEMENTS = {
    "SyncState", "Watermark", "PreviousWatermark", "SubscriptionId",        # sync and notifications
    "InternetMessageId", "ConversationIndex",                               # made when the item was made
    "ChangeKey", "UID", "ICalUid", "UniqueId", "SearchKey",
}
SERVER_TIME_ELEMENTS = {
    "DateTimeCreated", "DateTimeReceived", "DateTimeSent", "LastModifiedTime", "TimeStamp",
    "LastModifiedName", "ReminderNextTime", "DateTimeStamp", "AppointmentReplyTime",
}
# The size of a message the server built includes its Date and Message-ID headers.
SIZE_ELEMENTS = {"Size"}
# Which server answered is not what a replay checks.
IGNORED_SUBTREES = {"ServerVersionInfo"}

GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
URL = re.compile(r"^https?://", re.I)


def ignored_subtree(name: str) -> str | None:
    return "server version" if name in IGNORED_SUBTREES else None


def ignored_attribute(element: str, attribute: str, recorded: str | None, live: str | None) -> str | None:
    """The rule that explains this attribute difference, or None when it is unexpected."""
    if attribute in SERVER_ID_ATTRIBUTES:
        return "server-chosen id"
    if attribute.startswith("{http://www.w3.org/2000/xmlns/}"):
        return "namespace declaration"
    if recorded is not None and live is not None:
        return ignored_value(recorded, live)
    return None


def ignored_text(element: str, recorded: str, live: str) -> str | None:
    if element in SERVER_TOKEN_ELEMENTS:
        return "server-chosen token"
    if element in SERVER_TIME_ELEMENTS:
        return "server time"
    if element in SIZE_ELEMENTS:
        return "size of server-built MIME"
    return ignored_value(recorded, live)


def ignored_value(recorded: str, live: str) -> str | None:
    """Values that differ by nature whatever element holds them."""
    if GUID.match(recorded.strip()) and GUID.match(live.strip()):
        return "GUID"
    if URL.match(recorded.strip()) and URL.match(live.strip()) and \
            urlsplit(recorded.strip()).path.lower() == urlsplit(live.strip()).path.lower():
        return "server address in a URL"
    return None


def ignored_missing(element: str) -> str | None:
    """An element only one side has that is still no surprise."""
    if element in SERVER_TIME_ELEMENTS or element in IGNORED_SUBTREES:
        return "server time" if element in SERVER_TIME_ELEMENTS else "server version"
    return None
