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
