"""The ROP handler table: RopId -> handler, one module per ROP family (as ``protocols.rops`` has one
codec module per family). A handler is ``async def handler(call: RopCall, request) -> response | None``;
it raises ``execute.RopError`` (or a store error) to answer with an error code."""
from __future__ import annotations

from . import (attachment, categories, common, compose, copyops, extra, folder, folderops, logon, message, named,
               property, rules, search, store, stream, submit, table, tablenav)

_FAMILIES = (common, logon, store, folder, folderops, search, table, tablenav, categories, property, named, message,
             compose, attachment, submit, extra, stream, copyops, rules)


def _build() -> dict:
    out: dict = {}
    for fam in _FAMILIES:
        for rop_id, handler in fam.HANDLERS.items():
            if rop_id in out:
                raise RuntimeError(f"RopId 0x{rop_id:02X} handled twice")
            out[rop_id] = handler
    return out


HANDLERS = _build()
