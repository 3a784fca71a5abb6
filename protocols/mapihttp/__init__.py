"""MS-OXCMAPIHTTP, MAPI over HTTP: the transport as pure codecs (no I/O).

- ``headers``: request types, ``validate_request`` (-> RequestMeta or a
  Rejection with its X-ResponseCode), cookies, the response's first headers.
- ``emsmdb``: the mailbox endpoint's request/response bodies (2.2.4):
  Connect, Execute, Disconnect, NotificationWait, PING.
- ``framing``: PROCESSING/PENDING/DONE, the additional headers, the body (2.2.7).
- ``errors``: ``MapiHttpDecodeError`` (the only error a decoder raises) and
  ``ResponseCode``.

The Execute RopBuffer is opaque here; ``protocols.rops`` reads it.
"""
from .emsmdb import (
    ConnectFlags,
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    DisconnectResponse,
    ExecuteFlags,
    ExecuteRequest,
    ExecuteResponse,
    FailureResponse,
    NotificationWaitRequest,
    NotificationWaitResponse,
    PingBody,
    decode_request,
    decode_response,
)
from .errors import MapiHttpDecodeError, ResponseCode
from .framing import ResponseStream, decode_stream, done_block, encode_stream, pending_line, processing_line
from .headers import (
    ClientId,
    Endpoint,
    Rejection,
    RequestMeta,
    RequestType,
    check_sequence,
    parse_cookies,
    response_headers,
    set_cookie_values,
    validate_request,
)

__all__ = [
    "ClientId", "ConnectFlags", "ConnectRequest", "ConnectResponse", "DisconnectRequest",
    "DisconnectResponse", "Endpoint", "ExecuteFlags", "ExecuteRequest", "ExecuteResponse",
    "FailureResponse", "MapiHttpDecodeError", "NotificationWaitRequest", "NotificationWaitResponse",
    "PingBody", "Rejection", "RequestMeta", "RequestType", "ResponseCode", "ResponseStream",
    "check_sequence", "decode_request", "decode_response", "decode_stream", "done_block",
    "encode_stream", "parse_cookies", "pending_line", "processing_line", "response_headers",
    "set_cookie_values", "validate_request",
]
