"""Tables of the state database (one schema, two dialects).

Ids are stored as GLOBCNT integers (48 bits), never as the 64-bit FID/MID
value, whose top byte would overflow a signed BIGINT.
"""
from __future__ import annotations

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mailboxes (
    id {serial},
    owner TEXT NOT NULL UNIQUE,
    display_name TEXT,
    mailbox_guid TEXT NOT NULL,
    replica_guid TEXT NOT NULL,
    next_globcnt BIGINT NOT NULL,
    hierarchy_cn BIGINT NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS folders (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    fid BIGINT NOT NULL,
    parent BIGINT,
    role TEXT,
    kind TEXT NOT NULL,
    ref TEXT,
    display_name TEXT NOT NULL,
    container_class TEXT,
    uidvalidity BIGINT,
    highestmodseq BIGINT,
    uidnext BIGINT,
    sync_token TEXT,
    total_count BIGINT,
    unread_count BIGINT,
    counted_at DOUBLE PRECISION,
    indexed_at DOUBLE PRECISION,
    cn BIGINT NOT NULL,
    pcl {blob},
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mailbox_id, fid)
);
CREATE INDEX IF NOT EXISTS folders_ref ON folders (mailbox_id, kind, ref);
CREATE INDEX IF NOT EXISTS folders_parent ON folders (mailbox_id, parent);
CREATE TABLE IF NOT EXISTS messages (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    mid BIGINT NOT NULL,
    fid BIGINT NOT NULL,
    kind TEXT NOT NULL,
    uidvalidity BIGINT,
    uid BIGINT,
    href TEXT,
    etag TEXT,
    emailid TEXT,
    modseq BIGINT,
    flags TEXT,
    associated INTEGER NOT NULL DEFAULT 0,
    cn BIGINT NOT NULL,
    pcl {blob},
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    summary {blob},
{index_columns}
    PRIMARY KEY (mailbox_id, mid)
);
CREATE INDEX IF NOT EXISTS messages_uid ON messages (mailbox_id, fid, uid);
CREATE INDEX IF NOT EXISTS messages_href ON messages (mailbox_id, href);
CREATE INDEX IF NOT EXISTS messages_emailid ON messages (mailbox_id, emailid);
CREATE INDEX IF NOT EXISTS messages_cn ON messages (mailbox_id, fid, cn);
CREATE TABLE IF NOT EXISTS tombstones (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    fid BIGINT NOT NULL,
    mid BIGINT NOT NULL,
    cn BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, fid, mid)
);
CREATE INDEX IF NOT EXISTS tombstones_cn ON tombstones (mailbox_id, fid, cn);
CREATE TABLE IF NOT EXISTS props (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    obj_kind TEXT NOT NULL,
    obj_id BIGINT NOT NULL,
    tag BIGINT NOT NULL,
    value {blob} NOT NULL,
    PRIMARY KEY (mailbox_id, obj_kind, obj_id, tag)
);
CREATE TABLE IF NOT EXISTS local_content (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    mid BIGINT NOT NULL,
    content {blob} NOT NULL,
    PRIMARY KEY (mailbox_id, mid)
);
CREATE TABLE IF NOT EXISTS named_props (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    propid INTEGER NOT NULL,
    guid TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_key TEXT NOT NULL,
    name TEXT,
    lid BIGINT,
    PRIMARY KEY (mailbox_id, propid),
    UNIQUE (mailbox_id, guid, kind, name_key)
);
CREATE TABLE IF NOT EXISTS outbox_queue (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    mid BIGINT NOT NULL,
    login TEXT NOT NULL,
    save_fid BIGINT,
    queued_at DOUBLE PRECISION NOT NULL,
    next_try DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (mailbox_id, mid)
);
CREATE INDEX IF NOT EXISTS outbox_queue_due ON outbox_queue (next_try);
CREATE TABLE IF NOT EXISTS ntlm_credentials (
    login TEXT PRIMARY KEY,
    nt_hash TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""


# The backend identity of a live message row is unique: one MID per (folder, UIDVALIDITY, UID) of an IMAP
# message and per href of a DAV resource. Partial indexes (SQLite >= 3.8, PostgreSQL): local rows have
# neither. Created by migrate() after it removed the duplicates an older database may hold (version 3).
UNIQUE_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_imap_identity ON messages (mailbox_id, fid, uidvalidity, uid) "
    "WHERE uid IS NOT NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_dav_identity ON messages (mailbox_id, href) WHERE href IS NOT NULL",
]


# The contents-table index (version 4): the columns tables sort and restrict on, kept beside each row's
# summary blob by the store (gateway/store/tables). Text is kept case-folded: MAPI and EWS sort and compare
# strings without case; an exact-case restriction is checked again on the rows the database found.
INDEX_COLUMNS: list[tuple[str, str]] = [
    ("i_received", "DOUBLE PRECISION"),   # PidTagMessageDeliveryTime, epoch seconds
    ("i_sent", "DOUBLE PRECISION"),       # PidTagClientSubmitTime
    ("i_created", "DOUBLE PRECISION"),    # PidTagCreationTime
    ("i_modified", "DOUBLE PRECISION"),   # PidTagLastModificationTime
    ("i_subject", "TEXT"),                # PidTagSubject
    ("i_norm_subject", "TEXT"),           # PidTagNormalizedSubject
    ("i_sender", "TEXT"),                 # PidTagSenderName
    ("i_from", "TEXT"),                   # PidTagSentRepresentingName
    ("i_to", "TEXT"),                     # PidTagDisplayTo
    ("i_class", "TEXT"),                  # PidTagMessageClass
    ("i_size", "BIGINT"),                 # PidTagMessageSize
    ("i_flags", "BIGINT"),                # PidTagMessageFlags
    ("i_importance", "INTEGER"),          # PidTagImportance
    ("i_flag_status", "INTEGER"),         # PidTagFlagStatus
    ("i_attach", "INTEGER"),              # PidTagHasAttachments
    ("i_start", "DOUBLE PRECISION"),      # PidLidAppointmentStartWhole
    ("i_end", "DOUBLE PRECISION"),        # PidLidAppointmentEndWhole
    ("i_recur", "INTEGER"),               # PidLidRecurring
]
# The rows a contents table shows (tables/rows.py VISIBLE); the indexes hold only those, so a view's
# COUNT and its ordered window are read from the index alone (the query repeats this condition verbatim).
VISIBLE = "kind <> 'imap' OR uid IS NOT NULL"
UNREAD = "associated = 0 AND kind = 'imap' AND uid IS NOT NULL AND (i_flags & 1) = 0"   # MSGFLAG_READ clear
INDEX_INDEXES = [
    f"CREATE INDEX IF NOT EXISTS messages_view_{col} ON messages (mailbox_id, fid, associated, {col}, mid) "
    f"WHERE {VISIBLE}"
    for col in ("i_received", "i_sent", "i_modified", "i_norm_subject", "i_from", "i_size", "i_start")
] + [
    # counts without reading the folder's rows: a view's rows, the associated ones, the gateway's own
    f"CREATE INDEX IF NOT EXISTS messages_view_count ON messages (mailbox_id, fid, associated) WHERE {VISIBLE}",
    "CREATE INDEX IF NOT EXISTS messages_associated ON messages (mailbox_id, fid) WHERE associated = 1",
    f"CREATE INDEX IF NOT EXISTS messages_unread ON messages (mailbox_id, fid) WHERE {UNREAD}",
    "CREATE INDEX IF NOT EXISTS messages_own ON messages (mailbox_id, fid) WHERE kind <> 'imap' AND associated = 0",
] + [f"DROP INDEX IF EXISTS messages_{col}"       # the first form, without the condition
     for col in ("i_received", "i_sent", "i_modified", "i_norm_subject", "i_from", "i_size", "i_start")]


def schema_statements(dialect: str) -> list[str]:
    if dialect == "postgres":
        subst = {"serial": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA"}
    else:
        subst = {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB"}
    cols = "".join(f"    {name} {typ},\n" for name, typ in INDEX_COLUMNS)
    text = _TABLES.format(**subst, index_columns=cols.rstrip("\n"))
    return [s.strip() for s in text.split(";") if s.strip()]
