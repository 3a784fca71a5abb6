"""Pairing what the recorded server chose with what the live server chose, so replayed requests make sense.

A recorded session names ItemIds, ChangeKeys, FolderIds, AttachmentIds, SyncStates, Watermarks and
SubscriptionIds that the *recorded* server handed out. After each replayed request, ``learn`` pairs
the recorded answer's values with the live answer's values for the same request: the n-th ItemId of
a FindItem stands for the n-th ItemId (per element name, in document order), and each token element
(SyncState, ...) likewise. ``rewrite`` then puts the live values into later requests, in one pass over
attribute values and element texts (so a mapped value is never mapped again).

``replacements`` are plain text substitutions for what differs between the two servers' users
(``user1@example.com`` -> ``carol@example.test``), applied to request bodies (MimeContent included)
and header values before the ids.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from protocols.ews.ns import local

from .diff import parse

# elements carrying a server-chosen Id/ChangeKey attribute pair
ID_ELEMENTS = {"ItemId", "FolderId", "ParentFolderId", "AttachmentId", "RootItemId", "ConversationId",
               "OccurrenceItemId", "RecurringMasterItemId", "AssociatedCalendarItemId", "ParentItemId",
               "OldItemId", "OldFolderId", "OldParentFolderId", "PersonaId", "ItemIdChangeKey"}
ID_ATTRIBUTES = ("Id", "ChangeKey", "RootItemId", "RootItemChangeKey")
# elements whose text is a server-chosen token the client hands back
TOKEN_ELEMENTS = {"SyncState", "Watermark", "SubscriptionId", "PreviousWatermark"}

_ATTR_VALUE = re.compile(r"""(?P<name>[\w:]+)\s*=\s*(?P<q>["'])(?P<value>[^"']*)(?P=q)""")
_TEXT = re.compile(r">(?P<value>[^<>]+)</")
_ID_TAG = re.compile(r"<(?:\w+:)?(?:" + "|".join(sorted(ID_ELEMENTS)) + r")\b[^>]*>")
_ID_TAG_OR_ATTR = re.compile(f"(?P<idtag>{_ID_TAG.pattern})|{_ATTR_VALUE.pattern}")
_MIME = re.compile(r"(<(?:\w+:)?MimeContent\b[^>]*>)([A-Za-z0-9+/=\s]+)(</)")


@dataclass
class IdMap:
    ids: dict[str, str] = field(default_factory=dict)          # recorded attribute value -> live
    tokens: dict[str, str] = field(default_factory=dict)       # recorded token text -> live
    replacements: list[tuple[str, str]] = field(default_factory=list)
    change_keys: dict[str, str] = field(default_factory=dict)  # live id -> the latest live ChangeKey seen

    def __contains__(self, value: str) -> bool:
        return value in self.ids or value in self.tokens

    def pair(self, recorded: str, live: str) -> None:
        if recorded and live:
            self.ids.setdefault(recorded, live)

    # ------------------------------------------------------------------------------- learning

    @staticmethod
    def _collect(root) -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[str]]]:
        ids: dict[str, list[tuple[str, str]]] = {}
        tokens: dict[str, list[str]] = {}
        if root is None:
            return ids, tokens
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            name = local(el)
            if name in ID_ELEMENTS:
                ids.setdefault(name, []).append(tuple(el.get(a) or "" for a in ID_ATTRIBUTES))
            elif name in TOKEN_ELEMENTS and (el.text or "").strip():
                tokens.setdefault(name, []).append(el.text.strip())
        return ids, tokens

    def learn(self, recorded: bytes, live: bytes) -> int:
        """Pair the values of one request's two answers; returns how many new pairs were made."""
        before = len(self.ids) + len(self.tokens)
        rids, rtok = self._collect(parse(recorded))
        lids, ltok = self._collect(parse(live))
        for name, rvalues in rids.items():
            for (rid, _, rroot, _), (lid, _, lroot, _) in zip(rvalues, lids.get(name, [])):
                self.pair(rid, lid)
                self.pair(rroot, lroot)
        for lvalues in lids.values():     # a change key goes with its id: the newest one the server gave
            for lid, lck, lroot, lrootck in lvalues:
                if lid and lck:
                    self.change_keys[lid] = lck
                if lroot and lrootck:
                    self.change_keys[lroot] = lrootck
        for name, rvalues in rtok.items():
            for r, v in zip(rvalues, ltok.get(name, [])):
                self.tokens.setdefault(r, v)
        return len(self.ids) + len(self.tokens) - before

    # ------------------------------------------------------------------------------ rewriting

    def replace_text(self, s: str) -> str:
        for old, new in self.replacements:
            s = s.replace(old, new)
        return s

    def _mime(self, m: re.Match) -> str:
        if not self.replacements:
            return m.group(0)
        try:
            raw = base64.b64decode(m.group(2))
        except (binascii.Error, ValueError):
            return m.group(0)
        for old, new in self.replacements:
            raw = raw.replace(old.encode(), new.encode())
        return m.group(1) + base64.b64encode(raw).decode() + m.group(3)

    def rewrite(self, body: bytes) -> bytes:
        if not body:
            return body
        s = body.decode("utf-8", errors="surrogateescape")
        s = self.replace_text(s)
        s = _MIME.sub(self._mime, s)

        def element(m: re.Match) -> str:
            """An id element: its Id mapped, its ChangeKey the live server's newest for that id (or
            none: a change key the live server never gave means nothing to it)."""
            tag = m.group("idtag")
            attrs = {a.group("name"): a.group("value") for a in _ATTR_VALUE.finditer(tag)}
            for id_attr, ck_attr in (("Id", "ChangeKey"), ("RootItemId", "RootItemChangeKey")):
                if id_attr not in attrs:
                    continue
                live = self.ids.get(attrs[id_attr], attrs[id_attr])
                tag = re.sub(rf"""(\s{id_attr}\s*=\s*["'])[^"']*(["'])""", lambda x: x.group(1) + live + x.group(2),
                             tag, count=1)
                ck = self.change_keys.get(live)
                pattern = rf"""\s{ck_attr}\s*=\s*["'][^"']*["']"""
                if re.search(pattern, tag):
                    tag = re.sub(pattern, (f' {ck_attr}="{ck}"' if ck else ""), tag, count=1)
            return tag

        def attr(m: re.Match) -> str:
            value = m.group("value")
            if value in self.ids and m.group("name").rsplit(":", 1)[-1] not in ("ChangeKey", "RootItemChangeKey"):
                return f"{m.group('name')}={m.group('q')}{self.ids[value]}{m.group('q')}"
            return m.group(0)

        def text(m: re.Match) -> str:
            value = m.group("value").strip()
            if value in self.tokens:
                return ">" + self.tokens[value] + "</"
            return m.group(0)

        # one pass over id elements and other attributes, so a value is never mapped twice
        s = _ID_TAG_OR_ATTR.sub(lambda m: element(m) if m.group("idtag") else attr(m), s)
        s = _TEXT.sub(text, s)
        return s.encode("utf-8", errors="surrogateescape")

    def unknown_ids(self, body: bytes) -> list[str]:
        """Id attributes of id elements in a (rewritten) request that the live server never handed out."""
        root = parse(body)
        live = set(self.ids.values())
        out = []
        if root is None:
            return out
        for el in root.iter():
            if isinstance(el.tag, str) and local(el) in ID_ELEMENTS and el.get("Id") and el.get("Id") not in live:
                out.append(el.get("Id"))
        return out
