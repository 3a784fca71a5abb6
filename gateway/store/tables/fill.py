"""Columns a table row's summary does not hold, read from the message for the rows of one window.

A row's summary (IMAP ENVELOPE/BODYSTRUCTURE/flags, a DAV resource without its body, overlays, ids) holds
what message lists show first. Clients ask for more: the body's first characters (a preview), the
sender's entry id and search key, the transport headers, PidTagInternetReferences ... Those come from the
item as GetItem / RopGetPropertiesSpecific read it (``Mailbox.get_item``), for the rows of the window only,
so a page costs its own rows, never the folder's. A property the item does not have stays absent (the
table answers ecNotFound in that cell, as Exchange does).

What was read is kept per mailbox by (row, change number), only the columns asked for, strings and binaries
cut to what a table cell can show: the next page or the same page again reads nothing.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Iterable

from protocols.mapi.props import core as P
from protocols.mapi.props.named import NamedProp, PidNameKeywords

from ..errors import StoreError
from .rowcache import drop_row, mailbox_lru

if TYPE_CHECKING:
    from ..mailbox import Mailbox
    from ..objects import Item

log = logging.getLogger(__name__)

CACHE_ROWS = 512      # rows whose extra columns are kept per mailbox (a few pages of a few views)
PARALLEL = 4          # items read at once for one window (the IMAP client pools 3 connections)
CELL_CHARS = 1024     # a table cell shows at most 255 characters / 510 bytes (MS-OXCTABL); more is not kept

# Properties of the table itself, never of the message: reading the message cannot give them.
TABLE_ONLY = frozenset({
    P.PidTagRowType, P.PidTagDepth, P.PidTagInstanceKey, P.PidTagInstanceNum, P.PidTagInstID,
    P.PidTagContentCount, P.PidTagContentUnreadCount, P.PidTagMid, P.PidTagFolderId,
})


# What a row's summary is complete for, by row kind: a property among these that the row lacks, the item
# lacks too, so nothing is read for it. A DAV resource's or the gateway's own item's summary is the whole
# item but its body; an IMAP row's is what ENVELOPE, BODYSTRUCTURE and the flags give (gateway/store/summary.py).
_BODY = frozenset({P.PidTagBody, P.PidTagHtml, P.PidTagBodyHtml, P.PidTagRtfCompressed})
_IMAP_SUMMARY = frozenset({
    P.PidTagMessageClass, P.PidTagMessageSize, P.PidTagMessageDeliveryTime, P.PidTagImportance,
    P.PidTagSensitivity, P.PidTagMessageFlags, P.PidTagHasAttachments, P.PidTagSubject, P.PidTagSubjectPrefix,
    P.PidTagNormalizedSubject, P.PidTagConversationTopic, P.PidTagClientSubmitTime, P.PidTagInternetMessageId,
    P.PidTagInReplyToId, P.PidTagSenderName, P.PidTagSenderEmailAddress, P.PidTagSenderSmtpAddress,
    P.PidTagSenderAddressType, P.PidTagSentRepresentingName, P.PidTagSentRepresentingEmailAddress,
    P.PidTagSentRepresentingSmtpAddress, P.PidTagSentRepresentingAddressType, P.PidTagDisplayTo,
    P.PidTagDisplayCc, P.PidTagDisplayBcc,
    # the IMAP flags and keywords (convert/mail.py flags_to_props)
    P.PidTagFlagStatus, P.PidTagFollowupIcon, P.PidTagLastVerbExecuted,
})
_IMAP_SUMMARY_NAMED = frozenset({PidNameKeywords.key})
_STRINGS = (0x001E, 0x001F)


def summary_complete_for(kind: str, key) -> bool:
    """True when a row of this kind that lacks ``key`` in its summary lacks it in the item as well."""
    if kind in ("dav", "local"):
        return key not in _BODY and not (isinstance(key, int) and (key & 0xFFFF) in _STRINGS and
                                         (key & 0xFFFF0000) | 0x001F in _BODY)
    if kind == "imap":
        if isinstance(key, NamedProp):
            return key.key in _IMAP_SUMMARY_NAMED
        return isinstance(key, int) and ((key & 0xFFFF0000) | 0x001F in _IMAP_SUMMARY or key in _IMAP_SUMMARY)
    return False


# Properties an IMAP row has only from its MIME (gateway/store/convert/mail_in.py): the body in its
# forms, headers the ENVELOPE does not carry, the sender's entry ids and search keys. Every other
# property of an IMAP row is in its summary, its flags or its overlay (what the gateway keeps beside it).
_IMAP_MIME_ONLY = frozenset({
    P.PidTagBody, P.PidTagHtml, P.PidTagBodyHtml, P.PidTagRtfCompressed, P.PidTagRtfInSync, P.PidTagNativeBody,
    P.PidTagInternetCodepage, P.PidTagTransportMessageHeaders, P.PidTagInternetReferences,
    P.PidTagListUnsubscribe, P.PidTagReplyRecipientNames, P.PidTagReplyRecipientEntries,
    P.PidTagConversationIndex, P.PidTagReadReceiptRequested, P.PidTagSenderEntryId, P.PidTagSenderSearchKey,
    P.PidTagSentRepresentingEntryId, P.PidTagSentRepresentingSearchKey,
})


def only_in_items(kind: str, key) -> bool:
    """True when rows of this kind hold ``key`` only in their items (never in the summary): a sort or a
    restriction on it would need every row's item read, which a table does not do (the cost model)."""
    if isinstance(key, NamedProp):
        return False
    if not isinstance(key, int):
        return False
    wide = (key & 0xFFFF0000) | 0x001F if (key & 0xFFFF) in _STRINGS else key
    if kind in ("dav", "local"):
        return wide in _BODY or key in _BODY
    if kind == "imap":
        return wide in _IMAP_MIME_ONLY or key in _IMAP_MIME_ONLY
    return False


def _cache(mbx: "Mailbox") -> "OrderedDict[tuple[int, int], dict]":
    return mailbox_lru(mbx, "_table_extra")


def forget(mbx: "Mailbox", globcnt: int) -> None:
    """A row changed without a new change number (its overlay): what was read of it is stale."""
    drop_row(mbx, "_table_extra", globcnt)


def _cell(value):
    if isinstance(value, str) and len(value) > CELL_CHARS:
        return value[:CELL_CHARS]
    if isinstance(value, (bytes, bytearray)) and len(value) > 2 * CELL_CHARS:
        return bytes(value[:2 * CELL_CHARS])
    return value


def _has(props: dict, key, get) -> bool:
    return get(props)(key) is not None


async def _read(mbx: "Mailbox", item: "Item", gate: asyncio.Semaphore) -> dict | None:
    async with gate:
        try:
            return (await mbx.get_item(item.mid)).props
        except StoreError as exc:      # gone or the backend away: the cells stay not found
            log.info("table row %d: extra columns not read: %s", item.globcnt, exc)
            return None
        except Exception:   # noqa: BLE001 - one message that does not convert leaves its cells, not the page
            log.warning("table row %d: extra columns not read", item.globcnt, exc_info=True)
            return None


async def complete(mbx: "Mailbox", items: "list[Item]", keys: Iterable, get) -> int:
    """Put into each item's properties (in place) the ``keys`` its row lacks, read from the item; ``get``
    is the view's property getter (a string asked for with the other string type is the same property).
    Header rows of a categorized view are left alone. The items to read are read a few at a time (the
    backend clients pool their connections). Returns how many items were read from the backend."""
    wanted = [k for k in dict.fromkeys(keys) if k is not None and k not in TABLE_ONLY]
    if not wanted:
        return 0
    cache = _cache(mbx)
    todo: list[tuple] = []                  # (item, cache key, lacking keys, known or None)
    for item in items:
        if item.kind == "category" or not item.mid:
            continue
        lacking = [k for k in wanted if not _has(item.props, k, get) and not summary_complete_for(item.kind, k)]
        if lacking:
            key = (item.globcnt, item.props.get(P.PidTagChangeNumber) or 0)
            todo.append((item, key, lacking, cache.get(key)))
    reads, seen = [], set()
    for t in todo:                          # one read per row (an MVI view shows a row several times)
        if (t[3] is None or any(k not in t[3] for k in t[2])) and t[1] not in seen:
            seen.add(t[1])
            reads.append(t)
    gate = asyncio.Semaphore(PARALLEL)
    got = await asyncio.gather(*(_read(mbx, t[0], gate) for t in reads))
    fresh = {}
    for (item, key, lacking, known), full in zip(reads, got):
        if full is None:
            continue
        fetched = get(full)
        known = dict(cache.get(key) or {})
        known.update({k: _cell(fetched(k)) for k in lacking})
        cache[key] = fresh[key] = known
        if len(cache) > CACHE_ROWS:
            cache.popitem(last=False)
    for item, key, lacking, known in todo:
        known = fresh.get(key) or cache.get(key) or known
        if known is None:
            continue
        if key in cache:
            cache.move_to_end(key)
        for k in lacking:
            if known.get(k) is not None:
                item.props[k] = known[k]
    return len(reads)
