"""Per-request context for EWS handlers: the user's mailbox, id codecs, error mapping."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable

from aiohttp import web

from gateway.http.auth.access import owns_mailbox
from gateway.http.sessions import AuthenticatedUser
from gateway.store import errors as se
from gateway.store.directory import Directory
from gateway.store.mailbox import Mailbox
from gateway.store.objects import Folder
from protocols.ews import ids as ewsids
from protocols.ews.envelope import EwsRequest
from protocols.ews.folders import DISTINGUISHED, ROLE_TO_DISTINGUISHED, FolderRef, FolderView
from protocols.ews.responses import ResponseError, error_message, message, response_root
from protocols.ews.restrict import RestrictionError
from protocols.ews.values import PathError
from protocols.mapi import ids as wire
from protocols.mapi.props import core as P

log = logging.getLogger("exgate.ews")


def store_error(exc: Exception, *, what: str = "item") -> ResponseError:
    """A store (or id) error -> the EWS ResponseCode Exchange would give."""
    if isinstance(exc, ResponseError):
        return exc
    text = str(exc) or None
    if isinstance(exc, se.NotFound):
        return ResponseError("ErrorFolderNotFound" if what == "folder" else "ErrorItemNotFound", None)
    if isinstance(exc, se.Conflict):
        return ResponseError("ErrorIrresolvableConflict", None)
    if isinstance(exc, se.AccessDenied):
        return ResponseError("ErrorAccessDenied", text)
    if isinstance(exc, se.SubmitFailed):
        return ResponseError("ErrorMessageSubmissionBlocked", f"The message could not be sent: {exc}")
    if isinstance(exc, se.FolderExists):
        return ResponseError("ErrorFolderExists", None)
    if isinstance(exc, se.WellKnownFolder) and exc.operation == "delete":
        return ResponseError("ErrorDeleteDistinguishedFolder", None)
    if isinstance(exc, se.InvalidRestriction):
        return ResponseError("ErrorInvalidRestriction", f"The restriction is not valid: {text}" if text else None)
    if isinstance(exc, se.InvalidOperation):
        return ResponseError("ErrorInvalidOperation", text)
    if isinstance(exc, se.QuotaExceeded):
        return ResponseError("ErrorQuotaExceeded", text)
    if isinstance(exc, se.BackendUnavailable):
        # hosts, ports and errno are for the log, not for the client
        log.warning("EWS: backend unavailable: %s", exc)
        return ResponseError("ErrorMailboxStoreUnavailable",
                             "A server behind the mailbox did not answer; try again later.")
    if isinstance(exc, (ewsids.IdMalformed, wire.IdError)):
        return ResponseError("ErrorInvalidIdMalformed", None)
    if isinstance(exc, PathError):
        return ResponseError("ErrorInvalidPropertyRequest", text)
    if isinstance(exc, RestrictionError):
        return ResponseError("ErrorInvalidRestriction", f"The restriction is not valid: {text}" if text else None)
    if isinstance(exc, se.StoreError):
        log.warning("EWS: store error: %s", exc)
        return ResponseError("ErrorInternalServerError", "The mailbox could not carry out the request.")
    log.exception("EWS handler failed", exc_info=exc)
    return ResponseError("ErrorInternalServerError", f"An internal server error occurred: {type(exc).__name__}")


@dataclass
class EwsContext:
    request: web.Request
    state: object                      # GatewayState
    user: AuthenticatedUser
    mbx: Mailbox
    req: EwsRequest
    extra: dict = field(default_factory=dict)

    @property
    def operation(self) -> str:
        return self.req.operation

    @property
    def directory(self) -> Directory:
        """The directory through the store (ResolveNames, ExpandDL, photos, MailTips, free/busy of others)."""
        return self.state.store_directory

    # ------------------------------------------------------------ ids out
    def folder_id(self, fid: int) -> str:
        return ewsids.EwsId("folder", self.mbx.ident.mailbox_guid, fid).encode()

    def item_id(self, mid: int) -> str:
        return ewsids.EwsId("item", self.mbx.ident.mailbox_guid, mid).encode()

    def folder_change_key(self, f: Folder) -> str:
        return ewsids.encode_change_key(self.mbx.ident.change_key(f.cn), "folder")

    async def folder_view(self, f: Folder) -> FolderView:
        parent_id = parent_ck = None
        if f.parent_fid is not None:
            parent_id = self.folder_id(f.parent_fid)
            parent_ck = await self.folder_change_key_of(f.parent_fid)
        return FolderView(self.folder_id(f.fid), self.folder_change_key(f), f.props, parent_id, parent_ck,
                          ROLE_TO_DISTINGUISHED.get(f.role or ""))

    async def folder_change_key_of(self, fid: int) -> str:
        cached = self.extra.setdefault("fck", {})
        if fid not in cached:
            try:
                cached[fid] = self.folder_change_key(await self.mbx.get_folder(fid))
            except se.NotFound:
                cached[fid] = ewsids.encode_change_key(self.mbx.ident.change_key(0), "folder")
        return cached[fid]

    # ------------------------------------------------------------ ids in
    def _decode(self, value: str | None, kind: str) -> int:
        if not value:
            raise ResponseError("ErrorInvalidIdEmpty", None)
        try:
            eid = ewsids.decode_id(value)
        except ewsids.IdMalformed:
            raise ResponseError("ErrorInvalidIdMalformed", None)
        if eid.mailbox_guid != self.mbx.ident.mailbox_guid:
            # an id of another mailbox: this user cannot reach it through their own mailbox
            raise ResponseError("ErrorAccessDenied" if kind == "item" else "ErrorFolderNotFound", None)
        if eid.kind != kind:
            raise ResponseError("ErrorInvalidIdMalformed", f"The id is a {eid.kind} id, not a {kind} id.")
        try:
            self.mbx.ident.globcnt_of(eid.fmid)
        except wire.IdError:
            raise ResponseError("ErrorInvalidIdMalformed", None)
        return eid.fmid

    def mid_of(self, value: str | None) -> int:
        return self._decode(value, "item")

    def fid_of(self, value: str | None) -> int:
        return self._decode(value, "folder")

    def change_key_xid(self, value: str | None) -> bytes | None:
        if not value:
            return None
        try:
            return ewsids.decode_change_key(value)
        except ewsids.IdMalformed:
            raise ResponseError("ErrorInvalidChangeKey", "The change key is invalid.")

    def check_mailbox(self, address: str | None) -> None:
        if address and not owns_mailbox(self.user, address):
            raise ResponseError("ErrorAccessDenied", f"{self.user.email} may not open the mailbox of {address}.")

    async def folder(self, ref: FolderRef) -> Folder:
        """FolderId / DistinguishedFolderId -> Folder (ResponseError on any failure)."""
        if ref.distinguished is not None:
            name = ref.distinguished
            if name not in DISTINGUISHED:
                raise ResponseError("ErrorInvalidRequest", f"{name!r} is not a distinguished folder name.")
            self.check_mailbox(ref.mailbox)
            role = DISTINGUISHED[name]
            if role is None:
                raise ResponseError("ErrorFolderNotFound", None)
            try:
                return await self.mbx.folder_by_role(role)
            except se.NotFound:
                raise ResponseError("ErrorFolderNotFound", None)
        fid = self.fid_of(ref.id)
        try:
            return await self.mbx.get_folder(fid)
        except se.NotFound:
            raise ResponseError("ErrorItemNotFound", None)  # what Exchange says for a deleted folder's id


async def for_each(ctx: EwsContext, things: Iterable, fn: Callable[[object, object], Awaitable[None]], *,
                   what: str = "item"):
    """One ResponseMessage per element; ``fn(thing, message_element)`` fills a Success message.

    A failure of one element gives its own Error message; the others still run."""
    root, messages = response_root(ctx.operation)
    for thing in things:
        mark = len(messages)
        try:
            el = message(messages, ctx.operation)
            await fn(thing, el)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a ResponseCode
            err = store_error(exc, what=what)
            del messages[mark:]
            err_el = error_message(messages, ctx.operation, err)
            for payload in ERROR_PAYLOADS.get(ctx.operation, ()):
                from protocols.ews.ns import m, sub
                sub(err_el, m(payload))
    return root


# Empty containers Exchange puts in error messages (seen in the 2010 SP2 traces), which some clients expect.
ERROR_PAYLOADS = {
    "GetFolder": ("Folders",), "CreateFolder": ("Folders",), "MoveFolder": ("Folders",), "CopyFolder": ("Folders",),
    "UpdateFolder": ("Folders",), "GetItem": ("Items",), "CreateItem": ("Items",), "UpdateItem": ("Items",),
    "MoveItem": ("Items",), "CopyItem": ("Items",),
}


def single(ctx: EwsContext, fill=None, *, code: str = "NoError", text: str | None = None):
    """A response with exactly one message (FindItem, SyncFolderItems ...)."""
    root, messages = response_root(ctx.operation)
    el = message(messages, ctx.operation, code, text)
    if fill is not None:
        fill(el)
    return root, el
