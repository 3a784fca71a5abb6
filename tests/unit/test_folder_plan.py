"""Which backend collection plays which Exchange folder (pure planning)."""
from gateway.backends.base import DavCollection, ImapFolderInfo
from gateway.store.folders import BY_ROLE, WELL_KNOWN, plan_hierarchy


def F(name, special=None, delim="/"):
    return ImapFolderInfo(name, delim, frozenset(), special)


def roles(plan):
    return {f.role: f.ref for f in plan.folders if f.role}


def test_special_use_wins_over_names():
    plan = plan_hierarchy([F("INBOX"), F("Sent"), F("Gesendet", "\\Sent"), F("Trash", "\\Trash"),
                           F("Drafts", "\\Drafts"), F("Junk", "\\Junk"), F("Outbox")])
    r = roles(plan)
    assert r["sent"] == "Gesendet" and r["deleted"] == "Trash" and r["inbox"] == "INBOX"
    assert plan.create_imap == []
    # the other "Sent" is an ordinary folder under the IPM subtree
    other = [f for f in plan.folders if f.ref == "Sent"][0]
    assert other.role is None and other.parent == ("role", "ipm_subtree")


def test_names_without_special_use_and_missing_roles_are_created():
    plan = plan_hierarchy([F("INBOX"), F("Sent Messages"), F("Deleted Messages"), F("Spam")])
    r = roles(plan)
    assert r["sent"] == "Sent Messages" and r["deleted"] == "Deleted Messages" and r["junk"] == "Spam"
    assert ("drafts", "Drafts") in plan.create_imap and ("outbox", "Outbox") in plan.create_imap


def test_nesting_follows_the_delimiter():
    plan = plan_hierarchy([F("INBOX", delim="."), F("INBOX.Projects", delim="."), F("INBOX.Projects.2026", delim="."),
                           F("Archive", delim=".")])
    by_ref = {f.ref: f for f in plan.folders}
    assert by_ref["INBOX.Projects"].parent == ("imap", "INBOX")
    assert by_ref["INBOX.Projects.2026"].parent == ("imap", "INBOX.Projects")
    assert by_ref["INBOX.Projects.2026"].display_name == "2026"
    assert by_ref["Archive"].parent == ("role", "ipm_subtree")


def test_dav_defaults_and_secondaries():
    cals = [DavCollection("/a/work/", "Work", "calendar", frozenset({"VEVENT"})),
            DavCollection("/a/cal/", "Calendar", "calendar", frozenset({"VEVENT", "VTODO"})),
            DavCollection("/a/todo/", "Tasks", "calendar", frozenset({"VTODO"}))]
    books = [DavCollection("/a/book/", "Contacts", "addressbook")]
    plan = plan_hierarchy([F("INBOX")], cals, books)
    r = roles(plan)
    assert r["calendar"] == "/a/cal/" and r["tasks"] == "/a/todo/" and r["contacts"] == "/a/book/"
    work = [f for f in plan.folders if f.ref == "/a/work/"][0]
    assert work.parent == ("role", "calendar") and work.container_class == "IPF.Appointment"
    assert plan.create_dav == []


def test_missing_dav_collections_are_planned():
    plan = plan_hierarchy([F("INBOX")], [], [])
    assert {r for r, _, _ in plan.create_dav} == {"calendar", "tasks", "contacts"}


def test_well_known_globcnts_are_unique_and_parents_exist():
    counts = [w.globcnt for w in WELL_KNOWN]
    assert len(set(counts)) == len(counts)
    for w in WELL_KNOWN:
        assert w.parent is None or w.parent in BY_ROLE
