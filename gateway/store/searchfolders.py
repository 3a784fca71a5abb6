"""Search folders (MS-OXCFOLD 3.2.5.4, 3.2.5.5; MS-OXOSRCH): a folder of the gateway whose contents are the
messages of other folders that match a restriction.

A search folder is a gateway-kept folder row (kind "local") whose ``ref`` holds its criteria as
``search:`` + JSON: the restriction (MS-OXCDATA 2.12 bytes, 4-byte counts, named properties under the
mailbox's tags), the scope folders (GLOBCNTs) and the flags it was set with. Its contents table is one view
over the scope (``tables.ContentsView`` with a scope: one SQL query over the index, a page costs the page),
computed when read: the search is always complete, nothing runs in the background.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from protocols.mapi.props.named import NamedProp
from protocols.mapi.restrictions import decode_restriction, encode_restriction, map_keys

from .errors import InvalidOperation, NotFound

PREFIX = "search:"
# SearchFlags of RopSetSearchCriteria (MS-OXCFOLD 2.2.1.4.1.2)
STOP_SEARCH, RESTART_SEARCH, RECURSIVE_SEARCH, SHALLOW_SEARCH = 0x01, 0x02, 0x04, 0x08
# SearchFlags of RopGetSearchCriteria (2.2.1.5.2.1)
SEARCH_RUNNING, SEARCH_RECURSIVE, SEARCH_COMPLETE = 0x01, 0x04, 0x1000


@dataclass(frozen=True)
class SearchCriteria:
    restriction: object            # a protocols.mapi.restrictions tree (store keys), or None
    scope: tuple                   # FIDs searched (with their subfolders when recursive)
    recursive: bool = False
    stopped: bool = False

    @property
    def state_flags(self) -> int:
        """What RopGetSearchCriteria says: complete (a search here never lags), recursive when asked."""
        return (0 if self.stopped else SEARCH_COMPLETE) | (SEARCH_RECURSIVE if self.recursive else 0)


def is_search(folder) -> bool:
    return folder.kind == "local" and bool(folder.ref) and folder.ref.startswith(PREFIX)


def encode(mbx, criteria: SearchCriteria) -> str:
    restriction = None
    if criteria.restriction is not None:
        tagged = map_keys(criteria.restriction, lambda k: mbx.names.tag_for(k) if isinstance(k, NamedProp) else k)
        restriction = encode_restriction(tagged, count_width=4).hex()
    body = {"restriction": restriction, "scope": [mbx.ident.globcnt_of(f) for f in criteria.scope],
            "recursive": criteria.recursive, "stopped": criteria.stopped}
    return PREFIX + json.dumps(body, separators=(",", ":"))


def decode(mbx, ref: str) -> SearchCriteria | None:
    if not ref or not ref.startswith(PREFIX):
        return None
    body = json.loads(ref[len(PREFIX):])
    if body.get("scope") is None:
        return None                                  # made, never given criteria
    restriction = None
    if body.get("restriction"):
        r, _ = decode_restriction(bytes.fromhex(body["restriction"]), count_width=4)
        restriction = map_keys(r, lambda k: mbx.names.key_for_tag(k) if isinstance(k, int) else k)
    return SearchCriteria(restriction, tuple(mbx.ident.fid(g) for g in body["scope"]), bool(body.get("recursive")),
                          bool(body.get("stopped")))


async def scope_folders(mbx, criteria: SearchCriteria) -> list:
    """The folders a search reads: the scope, and their descendants when recursive (never search folders)."""
    out, seen = [], set()
    todo = list(criteria.scope)
    while todo:
        fid = todo.pop(0)
        if fid in seen:
            continue
        seen.add(fid)
        try:
            f = await mbx.get_folder(fid)
        except NotFound:
            continue                                  # a scope folder deleted since
        if is_search(f):
            continue
        out.append(f)
        if criteria.recursive:
            todo.extend(c.fid for c in await mbx.child_folders(fid))
    return out


def check_scope(criteria: SearchCriteria, search_fid: int) -> None:
    if search_fid in criteria.scope:
        raise InvalidOperation("a search folder cannot search itself")
