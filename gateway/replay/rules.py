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


# ---------------------------------------------------------------- MAPI (gateway/replay/mapireplay.py)

# property ids (the type left out: a row may carry PT_ERROR or the other string type) the server chose:
# ids paired through the id map, then keys, change tracking, times and sizes of what the server built
MAPI_ID_PROPS = {0x674A, 0x6748, 0x674D, 0x6749}                 # PidTagMid, FolderId, InstID, ParentFolderId
MAPI_SERVER_PROPS = {
    0x0FFF: "server-chosen key", 0x0E09: "server-chosen key", 0x0FF9: "server-chosen key",    # EntryIds, RecordKey
    0x65E0: "server-chosen key", 0x65E1: "server-chosen key", 0x65E2: "change tracking",       # SourceKeys, ChangeKey
    0x65E3: "change tracking", 0x67A4: "change tracking", 0x0FF6: "server-chosen key",         # PCL, CN, InstanceKey
    0x300B: "server-chosen key", 0x0FFA: "server-chosen key", 0x1035: "server-chosen key",     # SearchKey, ...
    0x0071: "server-chosen key",                                                               # ConversationIndex
    0x3008: "server time", 0x3007: "server time", 0x0E06: "server time", 0x0039: "server time",
    0x0E08: "size of server-built MIME",
}
# response fields that name the server, its clock or its opaque tokens
MAPI_SERVER_FIELDS = {"mailbox_guid": "GUID", "replica_guid": "GUID", "per_user_guid": "GUID",
                      "database_guid": "GUID", "logon_time": "server time", "gwart_time": "server time",
                      "long_term_id": "server-chosen key", "long_term_ids": "server-chosen key",
                      "bookmark": "server-chosen token", "collapse_state": "server-chosen token",
                      "server_name": "server address", "replica_id": "server-chosen id",
                      # RopNotify/RopPending: the subscription's handle and the session index are the server's,
                      # a table row carries ids and keys (its columns are not in the notification)
                      "notification_handle": "server-chosen handle", "session_index": "server's session index",
                      "table_row_data": "notification table row (ids and keys)"}


def ignored_tag(tag: int) -> str | None:
    pid = tag >> 16
    if pid in MAPI_ID_PROPS:
        return "server-chosen id"
    if pid >= 0x8000:
        return "named property id (each mailbox maps its own)"
    return MAPI_SERVER_PROPS.get(pid)


def ignored_rop_field(name: str) -> str | None:
    return MAPI_SERVER_FIELDS.get(name)


# ---------------------------------------------------------------- NSPI (gateway/replay/nspireplay.py)

NSPI_SERVER_FIELDS = {"server_guid": "GUID", "server_url": "server address in a URL",
                      "auxiliary_buffer": "auxiliary buffer", "true_byte": "encoding detail"}


def ignored_nspi_field(name: str) -> str | None:
    return NSPI_SERVER_FIELDS.get(name)


def ignored_nspi_tag(tag: int) -> str | None:
    """Address book properties (0x8000 and up are fixed PidTagAddressBook* ids there, compared); entry ids
    (an ephemeral one carries the session's MId and the server's GUID) and keys are the server's."""
    return MAPI_SERVER_PROPS.get(tag >> 16)


# ---------------------------------------------------------------- MAPI/HTTP request types without ROPs

# Connect answers (MS-OXCMAPIHTTP 2.2.4.1.2): the ErrorCode is compared; the rest names the server's
# organisation, the signed-in user (the replay signs in as --user) and the server's retry advice
CONNECT_FIELDS = {"dn_prefix": "server's organisation DN", "display_name": "signed-in user's display name",
                  "max_polling_interval": "server's polling advice", "retry_count": "server's polling advice",
                  "retry_delay": "server's polling advice", "auxiliary_buffer": "auxiliary buffer"}


def ignored_connect_field(name: str) -> str | None:
    return CONNECT_FIELDS.get(name)


# NotificationWait (MS-OXCMAPIHTTP 2.2.4.4, 3.1.5.5) is held by the server until an event is waiting for
# the session, or until the server's own limit (exgate: 300 s); it is not sequenced, so a client keeps
# one outstanding while its Executes run. The replay sends it when the requests recorded before it
# have been answered, and goes on with the next ones once the server has accepted it (its first
# headers came) while it is held (an event they cause answers it), reading its answer for at most
# NOTIFICATION_WAIT_SECONDS (--wait-timeout). Then:
# - both answered: the HTTP status, X-ResponseCode, ErrorCode and EventPending are compared;
# - the live one still held and the recorded one with no event (EventPending 0, or held until the
#   client gave up: no DONE block): only the shape is compared (status, X-ResponseCode, the PROCESSING
#   line), and the rest is counted as "held: no event, as recorded";
# - the live one still held where the recorded one had an event: a difference at /NotificationWait.
# PING (2.2.6) has no body either way: the status, X-ResponseCode and the empty body are compared.
NOTIFICATION_WAIT_SECONDS = 5.0
HELD_AS_RECORDED = "held: no event, as recorded"


# Recordings that kept less than an exchange (fixtures/mapihttp/ruler_exchanges.json keeps the answer's
# body without its headers; fixtures/nspi/ruler_nspi.json keeps requests only): a MAPI/HTTP request
# without a recorded answer is sent (later requests may need what it sets up) and not compared; a
# recorded body without X-ResponseCode stands for "0" when it starts with StatusCode 0 (MS-OXCMAPIHTTP
# 2.2.4: a body is only sent with X-ResponseCode 0).
NO_RECORDED_ANSWER = "no recorded answer: sent, not compared"
CODE_FROM_BODY = "X-ResponseCode not recorded: the body's StatusCode 0"


def status_code_of(body: bytes) -> str | None:
    """"0" for a recorded MAPI/HTTP answer body (framed or not) whose StatusCode is 0, else None."""
    if body.startswith(b"PROCESSING") or body.startswith(b"DONE"):
        cut = body.find(b"\r\n\r\n")
        body = body[cut + 4:] if cut >= 0 else b""
    return "0" if len(body) >= 4 and body[:4] == b"\0\0\0\0" else None
