"""What a ROP handler works with: ``RopCall`` (the session, the mailbox, this buffer's handle table, the room
left in the response), ``RopError`` and the MAPI error codes (MS-OXCDATA 2.4), the failure response."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.store.errors import AccessDenied, BackendUnavailable, InvalidRestriction, NotFound
from protocols.rops import EC_NOT_SUPPORTED, RESPONSE_CLASSES, RopErrorResponse

from .objects import NO_HANDLE

EC_ERROR = 0x80004005
EC_NOT_FOUND = 0x8004010F
EC_NO_SUPPORT = EC_NOT_SUPPORTED
EC_NULL_OBJECT = 0x000004B9
EC_ACCESS_DENIED = 0x80070005
EC_INVALID_PARAM = 0x80070057
EC_TOO_COMPLEX = 0x80040117
EC_NETWORK = 0x80040115
EC_MAX_OBJS = 0x80040116       # too many objects open in the session (ecMAPIOOM-style refusal)
EC_RPC_FORMAT = 0x000004B6

MAX_PAYLOAD = 0x8000           # one piece of an extended buffer carries at most 32 KB (MS-OXCRPC 3.1.4.1.1)
RPC_HEADER_EXT_SIZE = 8


class RopError(Exception):
    """A ROP's failure: its response carries ``code`` as ReturnValue."""

    def __init__(self, code: int, why: str = ""):
        super().__init__(why or f"0x{code:08X}")
        self.code = code


EC_DUPLICATE_NAME = 0x80040604

def store_error_code(exc: BaseException) -> int:
    from gateway.store.errors import FolderExists, WellKnownFolder
    if isinstance(exc, NotFound):
        return EC_NOT_FOUND
    if isinstance(exc, FolderExists):
        return EC_DUPLICATE_NAME
    if isinstance(exc, WellKnownFolder):
        return EC_ACCESS_DENIED             # a special folder cannot be deleted, renamed or moved
    if isinstance(exc, AccessDenied):
        return EC_ACCESS_DENIED
    if isinstance(exc, InvalidRestriction):
        return EC_TOO_COMPLEX
    if isinstance(exc, BackendUnavailable):
        return EC_NETWORK
    return EC_ERROR


@dataclass
class RopCall:
    """What a handler gets: the session, the user's mailbox, this buffer's handle table, the room left."""

    session: object                 # sessions.Session
    mbx: object                     # gateway.store.Mailbox
    handles: list
    space: int = MAX_PAYLOAD

    @property
    def codepage(self) -> str:
        return self.session.code_page

    def obj(self, index: int, *kinds: str):
        """The object behind the request's handle index; ecNullObject for an empty slot or a released handle."""
        if index >= len(self.handles) or self.handles[index] == NO_HANDLE:
            raise RopError(EC_NULL_OBJECT, f"no object at handle index {index}")
        obj = self.session.objects.get(self.handles[index])
        if obj is None:
            raise RopError(EC_NULL_OBJECT, f"handle 0x{self.handles[index]:08X} is not open")
        if kinds and obj.kind not in kinds:
            raise RopError(EC_NO_SUPPORT, f"a {obj.kind} cannot do this")
        return obj

    def put(self, index: int, logon_id: int, obj) -> int:
        """A new server object in the output slot ``index``."""
        h = self.session.objects.add(logon_id, obj)
        if h is None:
            raise RopError(EC_MAX_OBJS, "the session holds too many objects")
        while len(self.handles) <= index:
            self.handles.append(NO_HANDLE)
        self.handles[index] = h
        return h


def failure(req, code: int):
    """The failure response of a request: its response class with ReturnValue ``code``, answering for the
    output handle index for ROPs that create an object, the input handle index otherwise."""
    rop_id = req.ROP_ID
    idx = getattr(req, "output_handle_index", None)
    if idx is None:
        idx = getattr(req, "input_handle_index", None)
    if idx is None:
        idx = getattr(req, "source_handle_index", 0) or 0       # the move/copy ROPs
    cls = RESPONSE_CLASSES.get(rop_id)
    if cls is not None:
        try:
            return cls(handle_index=idx, return_value=code)
        except TypeError:
            pass
    return RopErrorResponse(rop_id, idx, code)


