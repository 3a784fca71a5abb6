"""Store errors are mapped to EWS codes by type, never by their text; the directory facade turns
backend failures into store errors."""
from __future__ import annotations

import asyncio

import pytest

from gateway.backends.base import BackendError, DirectoryEntry
from gateway.ews.context import store_error
from gateway.store import errors as se
from gateway.store.directory import Directory
from protocols.mapi.props import core as P


@pytest.mark.parametrize("exc, code", [
    (se.FolderExists("x"), "ErrorFolderExists"),
    (se.WellKnownFolder("x", "delete"), "ErrorDeleteDistinguishedFolder"),
    (se.WellKnownFolder("x", "rename"), "ErrorInvalidOperation"),
    (se.InvalidRestriction("x"), "ErrorInvalidRestriction"),
    (se.QuotaExceeded("x"), "ErrorQuotaExceeded"),
    (se.NotFound("x"), "ErrorItemNotFound"),
    (se.Conflict("x"), "ErrorIrresolvableConflict"),
    (se.AccessDenied("x"), "ErrorAccessDenied"),
    # the words no longer decide: an InvalidOperation that happens to say them stays what it is
    (se.InvalidOperation("a folder named 'a' already exists here"), "ErrorInvalidOperation"),
    (se.InvalidOperation("well-known folders cannot be deleted"), "ErrorInvalidOperation"),
])
def test_ews_maps_store_errors_by_type(exc, code):
    assert store_error(exc).code == code


class FakeDirectory:
    def __init__(self, fail: BackendError | None = None):
        self.fail = fail
        room = DirectoryEntry("cn=r1", "room", "r1", "Room 1", "r1@example.org")
        self.entries = {"rooms@example.org": DirectoryEntry("cn=rooms", "group", None, "Rooms", "rooms@example.org",
                                                            members=("cn=r1",)),
                        "alice@example.org": DirectoryEntry(
                            "cn=alice", "user", "alice", "Alice", "alice@example.org",
                            {"jpegPhoto;binary": ["AAAA"], "sn": ["Liddell"], "shadowLastChange": ["1"],
                             "shadowMax": ["9"]})}
        self.members = {"cn=rooms": [room], "rooms@example.org": [room]}

    async def get_user(self, who):
        if self.fail:
            raise self.fail
        return self.entries.get(who)

    async def search(self, text, limit=100):
        if self.fail:
            raise self.fail
        return [e for k, e in self.entries.items() if k.startswith(text)][:limit]

    async def list_all(self, kinds=("user", "group")):
        return [e for e in self.entries.values() if e.kind in kinds]

    async def expand_group(self, who):
        if self.fail:
            raise self.fail
        if who not in self.members:
            raise BackendError(f"no group {who!r}", "notfound")
        return self.members[who]


def run(coro):
    return asyncio.run(coro)


def test_directory_facade_answers_through_the_client():
    d = Directory(FakeDirectory())
    assert d.available
    alice = run(d.find("alice@example.org"))
    assert alice.display_name == "Alice"
    assert run(d.photo("alice@example.org")) == "AAAA"
    assert run(d.password_expires("alice@example.org")).isoformat().startswith("1970-01-11")
    assert [g.email for g in run(d.room_lists())] == ["rooms@example.org"]
    props = Directory.props(alice)
    assert props[P.PidTagSmtpAddress] == "alice@example.org" and props[P.PidTagSurname] == "Liddell"
    assert props[P.PidTagObjectType] == 6 and props[P.PidTagDisplayType] == 0


def test_directory_facade_without_a_directory_finds_nobody():
    d = Directory(None)
    assert not d.available
    assert run(d.find("alice@example.org")) is None and run(d.search("a")) == [] and run(d.members("x")) == []


@pytest.mark.parametrize("kind, error", [("notfound", se.NotFound), ("unavailable", se.BackendUnavailable),
                                         ("auth", se.AccessDenied), ("failed", se.StoreError)])
def test_directory_facade_turns_backend_errors_into_store_errors(kind, error):
    d = Directory(FakeDirectory(BackendError("boom", kind)))
    with pytest.raises(error):
        run(d.find("alice@example.org"))
    with pytest.raises(error):
        run(d.members("rooms@example.org"))


def test_an_unknown_group_is_not_found():
    with pytest.raises(se.NotFound):
        run(Directory(FakeDirectory()).members("nobody@example.org"))
