"""State database on SQLite: provisioning, counters, named map, stored items.

(The same is run against a real PostgreSQL in tests/integration/test_state_postgres.py.)
"""
import uuid

import pytest

from gateway.store.contentcodec import decode_content, encode_content
from gateway.store.ids import FIRST_FREE_GLOBCNT, Counter
from gateway.store.mailbox import provision
from gateway.store.model import Attachment, MessageContent, Recipient
from gateway.store.namedmap import NamedPropMap
from gateway.store.state.db import StateDB
from protocols.mapi.props import core as P
from protocols.mapi.props.named import PSETID, NamedProp, PidLidReminderSet, PidNameKeywords
from protocols.mapi.types import PropType as T, prop_id


@pytest.fixture
def db(tmp_path):
    d = StateDB.open(tmp_path / "state.sqlite3")
    yield d
    d.close()


def test_provision_is_idempotent_and_persistent(tmp_path):
    path = tmp_path / "s.sqlite3"
    db = StateDB.open(path)
    a = provision(db, "Alice@Example.test")
    assert provision(db, "alice@example.test") == a
    db.close()
    db = StateDB.open(path)
    assert provision(db, "alice@example.test") == a
    rows = db.all("SELECT role FROM folders WHERE mailbox_id = ?", (a.mailbox_id,))
    assert {"root", "ipm_subtree", "notes", "journal", "common_views", "finder"} <= {r[0] for r in rows}


def test_counters_do_not_repeat_across_instances(db):
    ident = provision(db, "bob@example.test")
    c1, c2 = Counter(db, ident.mailbox_id), Counter(db, ident.mailbox_id)
    got = [c1.allocate() for _ in range(100)] + [c2.allocate() for _ in range(100)]
    assert len(set(got)) == 200 and min(got) >= FIRST_FREE_GLOBCNT


def test_named_map_is_stable(db):
    ident = provision(db, "carol@example.test")
    m = NamedPropMap(db, ident.mailbox_id)
    a = m.get_id(PidLidReminderSet)
    b = m.get_id(PidNameKeywords)
    assert a == 0x8000 and b == 0x8001
    assert m.get_id(NamedProp(PSETID.Common, lid=0x8503, type=T.Integer32)) == a  # type does not matter
    assert m.get_id(NamedProp(PidNameKeywords.guid, name="KEYWORDS")) == b      # names are case-insensitive
    again = NamedPropMap(db, ident.mailbox_id)
    assert again.get_id(PidLidReminderSet, create=False) == a
    assert again.key_for_tag(m.tag_for(PidLidReminderSet)) == PidLidReminderSet
    assert prop_id(m.tag_for(PidNameKeywords)) == b


def test_content_codec_round_trip(db):
    ident = provision(db, "dave@example.test")
    names = NamedPropMap(db, ident.mailbox_id)
    inner = MessageContent({P.PidTagSubject: "inner"})
    msg = MessageContent(
        {P.PidTagSubject: "Hi", PidNameKeywords: ["Red", "Blue"], PidLidReminderSet: True},
        [Recipient({P.PidTagDisplayName: "Bob", P.PidTagRecipientType: 1})],
        [Attachment({P.PidTagAttachLongFilename: "a.txt", P.PidTagAttachDataBinary: b"abc"}),
         Attachment({P.PidTagAttachMethod: 5}, inner)])
    back = decode_content(encode_content(msg, names), names)
    assert back == msg


def test_transactions_roll_back(db):
    ident = provision(db, "erin@example.test")
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.execute("UPDATE mailboxes SET display_name = 'x' WHERE id = ?", (ident.mailbox_id,))
            raise RuntimeError("boom")
    assert db.one("SELECT display_name FROM mailboxes WHERE id = ?", (ident.mailbox_id,))[0] is None


# ------------------------------------------------------------------ version 3: one row per backend identity

def _message(db, mailbox_id, mid, fid, *, uid=None, href=None, cn=None):
    db.execute("INSERT INTO messages (mailbox_id, mid, fid, kind, uidvalidity, uid, href, cn, created, modified) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'x', 'x')",
               (mailbox_id, mid, fid, "imap" if uid is not None else "dav", 7 if uid is not None else None, uid,
                href, cn if cn is not None else mid))


def test_schema_2_database_with_duplicate_rows_migrates_to_3(tmp_path):
    """Concurrent syncs of version 2 gave one UID (or href) several MID rows. Version 3 keeps the lowest MID
    of each, tombstones the others under new change numbers (an incremental sync reports them deleted) and
    only then creates the UNIQUE indexes."""
    from gateway.store.state.db import SCHEMA_VERSION
    path = tmp_path / "v2.sqlite3"
    db = StateDB.open(path)
    mid_ = provision(db, "alice@example.test").mailbox_id
    db.execute("DROP INDEX messages_imap_identity")
    db.execute("DROP INDEX messages_dav_identity")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    inbox, cal = 1000, 1001
    for uid, mids in {1: [500, 520, 540], 2: [501], 3: [502, 503]}.items():
        for m in mids:
            _message(db, mid_, m, inbox, uid=uid)
    _message(db, mid_, 504, inbox, uid=1, cn=504)  # same UID in another folder's row: not a duplicate
    db.execute("UPDATE messages SET fid = ? WHERE mailbox_id = ? AND mid = 504", (1002, mid_))
    for href, mids in {"/cal/a.ics": [600, 610], "/cal/b.ics": [601]}.items():
        for m in mids:
            _message(db, mid_, m, cal, href=href)
    db.execute("INSERT INTO props (mailbox_id, obj_kind, obj_id, tag, value) VALUES (?, 'm', 520, 1, ?)",
               (mid_, b"x"))
    before = db.one("SELECT next_globcnt FROM mailboxes WHERE id = ?", (mid_,))[0]
    db.close()

    db = StateDB.open(path)                                # migrates
    try:
        assert db.one("SELECT value FROM meta WHERE key = 'schema_version'") == (str(SCHEMA_VERSION),)
        assert SCHEMA_VERSION >= 3
        live = db.all("SELECT mid FROM messages WHERE mailbox_id = ? ORDER BY mid", (mid_,))
        assert [r[0] for r in live] == [500, 501, 502, 504, 600, 601]
        gone = db.all("SELECT fid, mid, cn FROM tombstones WHERE mailbox_id = ? ORDER BY mid", (mid_,))
        assert [(f, m) for f, m, _ in gone] == [(inbox, 503), (inbox, 520), (inbox, 540), (cal, 610)]
        assert all(cn >= before for _, _, cn in gone)       # newer than anything a client has seen
        assert len({cn for _, _, cn in gone}) == 4
        assert db.one("SELECT next_globcnt FROM mailboxes WHERE id = ?", (mid_,))[0] == before + 4
        assert db.all("SELECT obj_id FROM props WHERE mailbox_id = ? AND obj_kind = 'm'", (mid_,)) == []
        with pytest.raises(Exception, match="UNIQUE"):
            _message(db, mid_, 700, inbox, uid=2)
        with pytest.raises(Exception, match="UNIQUE"):
            _message(db, mid_, 701, 1003, href="/cal/b.ics")
        _message(db, mid_, 702, inbox)                      # local rows (neither UID nor href) are not limited
        _message(db, mid_, 703, inbox)
    finally:
        db.close()
    db = StateDB.open(path)                                # a second open changes nothing
    try:
        assert len(db.all("SELECT mid FROM tombstones WHERE mailbox_id = ?", (mid_,))) == 4
    finally:
        db.close()


def test_a_refused_insert_in_a_savepoint_keeps_the_transaction(db):
    mid_ = provision(db, "alice@example.test").mailbox_id
    with db.transaction():
        _message(db, mid_, 900, 1000, uid=5)
        with pytest.raises(Exception) as info:
            with db.savepoint():
                _message(db, mid_, 901, 1000, uid=5)
        from gateway.store.state.db import is_unique_violation
        assert is_unique_violation(info.value)
        _message(db, mid_, 902, 1000, uid=6)
    assert [r[0] for r in db.all("SELECT mid FROM messages WHERE mailbox_id = ? ORDER BY mid", (mid_,))] == [900, 902]


def test_schema_3_database_gains_the_table_index(tmp_path, monkeypatch):
    """Version 4 adds the contents-table index columns to an existing file; its folders are indexed afresh
    (indexed_at NULL) the first time they are listed."""
    from gateway.store.state import db as dbmod
    from gateway.store.state import schema
    path = tmp_path / "v3.sqlite3"
    with monkeypatch.context() as m:
        m.setattr(schema, "INDEX_COLUMNS", [])
        m.setattr(dbmod, "INDEX_COLUMNS", [])
        m.setattr(dbmod, "INDEX_INDEXES", [])
        m.setattr(dbmod, "SCHEMA_VERSION", 3)
        m.setattr(schema, "_TABLES", schema._TABLES.replace("    indexed_at DOUBLE PRECISION,\n", ""))
        db = StateDB.open(path)
        assert "i_received" not in {r[1] for r in db.all("PRAGMA table_info(messages)")}
        assert "indexed_at" not in {r[1] for r in db.all("PRAGMA table_info(folders)")}
        provision(db, "alice@example.test")
        db.close()
    db = StateDB.open(path)
    try:
        cols = {r[1] for r in db.all("PRAGMA table_info(messages)")}
        assert {name for name, _ in schema.INDEX_COLUMNS} <= cols
        assert "indexed_at" in {r[1] for r in db.all("PRAGMA table_info(folders)")}
        assert db.one("SELECT value FROM meta WHERE key = 'schema_version'") == (str(dbmod.SCHEMA_VERSION),)
        assert any(r[1] == "messages_view_i_received" for r in db.all("PRAGMA index_list(messages)"))
    finally:
        db.close()
    StateDB.open(path).close()    # a second open changes nothing
