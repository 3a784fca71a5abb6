"""Multistatus parsing and request bodies of the DAV client, on bytes Radicale 3.9.0 sent.

The RADICALE_* literals were captured from a throwaway Radicale 3.9.0 (htpasswd
user alice) driven by gateway.backends.dav.DavClient; only the port was dropped.
"""
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from gateway.backends.dav import davxml as x
from gateway.backends.dav.davxml import CALDAV, CARDDAV, CS, DAV, qn

# PROPFIND Depth 0 on /.well-known/caldav for DAV:current-user-principal
RADICALE_WELL_KNOWN = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\"><response><href>/</href>"
    b"<propstat><prop><current-user-principal><href>/alice/</href></current-user-principal></prop>"
    b"<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
)

# PROPFIND Depth 1 on the home set /alice/ with the collection properties
RADICALE_HOME_LISTING = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\""
    b" xmlns:CR=\"urn:ietf:params:xml:ns:carddav\" xmlns:CS=\"http://calendarserver.org/ns/\""
    b" xmlns:ICAL=\"http://apple.com/ns/ical/\"><response><href>/alice/</href><propstat><prop><resourcetype>"
    b"<principal /><collection /></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat><propstat>"
    b"<prop><displayname /><C:supported-calendar-component-set /><CS:getctag /><sync-token />"
    b"<ICAL:calendar-color /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response><response>"
    b"<href>/alice/contacts/</href><propstat><prop><resourcetype><CR:addressbook /><collection /></resourcetype>"
    b"<displayname>Contacts</displayname><C:supported-calendar-component-set /><CS:getctag>"
    b"\"50542834ca4041663e2b45c9f185881292aa2315a039fde2dfe856f0c275d56a\"</CS:getctag><sync-token>"
    b"http://radicale.org/ns/sync/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855</sync-token>"
    b"</prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><ICAL:calendar-color /></prop>"
    b"<status>HTTP/1.1 404 Not Found</status></propstat></response><response><href>/alice/work/</href>"
    b"<propstat><prop><resourcetype><C:calendar /><collection /></resourcetype><displayname>Work</displayname>"
    b"<C:supported-calendar-component-set><C:comp name=\"VEVENT\" /><C:comp name=\"VTODO\" />"
    b"</C:supported-calendar-component-set><CS:getctag>"
    b"\"90225f13dc84ce3dfa9742708e311c7f700f575c9ccc0ebffd21e5253a5eee8a\"</CS:getctag><sync-token>"
    b"http://radicale.org/ns/sync/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855</sync-token>"
    b"</prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><ICAL:calendar-color /></prop>"
    b"<status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"
)

# PROPFIND Depth 1 on /alice/work/ (getetag, resourcetype)
RADICALE_LIST = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
    b"<response><href>/alice/work/</href><propstat><prop><getetag>"
    b"\"ae7c1b5c6423a1bf4d95082c0e00615ceb60ba409114418a8c5e0a3a9c949922\"</getetag><resourcetype><C:calendar />"
    b"<collection /></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response><response>"
    b"<href>/alice/work/weekly%201.ics</href><propstat><prop><getetag>"
    b"\"3725489c8f574b97fc15b3beafaa38dc2774c4ead9f6eeb065c7445d1bd3c434\"</getetag><resourcetype /></prop>"
    b"<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
)

# REPORT calendar-query with <C:expand> over January 2024 on a weekly COUNT=3 event
RADICALE_EXPAND = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
    b"<response><href>/alice/work/weekly%201.ics</href><propstat><prop><getetag>"
    b"\"3725489c8f574b97fc15b3beafaa38dc2774c4ead9f6eeb065c7445d1bd3c434\"</getetag><C:calendar-data>"
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//exgate//test//EN\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\n"
    b"RECURRENCE-ID:20240101T100000Z\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\n"
    b"DTSTAMP:20240101T000000Z\r\nSUMMARY:Weekly sync\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\n"
    b"RECURRENCE-ID:20240108T100000Z\r\nDTSTART:20240108T100000Z\r\nDTEND:20240108T110000Z\r\n"
    b"DTSTAMP:20240101T000000Z\r\nSUMMARY:Weekly sync\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\n"
    b"RECURRENCE-ID:20240115T100000Z\r\nDTSTART:20240115T100000Z\r\nDTEND:20240115T110000Z\r\n"
    b"DTSTAMP:20240101T000000Z\r\nSUMMARY:Weekly sync\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n</C:calendar-data>"
    b"</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
)

# REPORT sync-collection, initial (empty token)
RADICALE_SYNC_INITIAL = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\"><sync-token>"
    b"http://radicale.org/ns/sync/2183343025c5943e960d42f34f9915316573e5fc3e7793f1839729798ee27e83</sync-token>"
    b"<response><href>/alice/work/weekly%201.ics</href><propstat><prop><getetag>"
    b"\"3725489c8f574b97fc15b3beafaa38dc2774c4ead9f6eeb065c7445d1bd3c434\"</getetag></prop>"
    b"<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"
)

# REPORT sync-collection, delta after a DELETE
RADICALE_SYNC_DELETED = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\"><sync-token>"
    b"http://radicale.org/ns/sync/c8860eb992179a26a7169e37c60bbd19cd13f534161ca62ee7782747afdd4cd9</sync-token>"
    b"<response><href>/alice/work/weekly%201.ics</href><status>HTTP/1.1 404 Not Found</status></response>"
    b"</multistatus>"
)

# 403 body for an unknown sync token (RFC 6578 3.2 precondition)
RADICALE_BAD_TOKEN = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<error xmlns=\"DAV:\"><valid-sync-token /></error>"
)

# REPORT addressbook-multiget for one present and one missing vCard
RADICALE_CARD_MULTIGET = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<multistatus xmlns=\"DAV:\""
    b" xmlns:CR=\"urn:ietf:params:xml:ns:carddav\"><response><href>/alice/contacts/missing.vcf</href>"
    b"<status>HTTP/1.1 404 Not Found</status></response><response><href>/alice/contacts/bob%40example.vcf</href>"
    b"<propstat><prop><getetag>\"a5e32a56e83c072bcb9e6ee8cb7b906557e964320c18cf823cd2a7eb47dfe147\"</getetag>"
    b"<CR:address-data>BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bob-1\r\nEMAIL:bob@example.test\r\nFN:Bob Baker\r\n"
    b"N:Baker;Bob;;;\r\nEND:VCARD\r\n</CR:address-data></prop><status>HTTP/1.1 200 OK</status></propstat>"
    b"</response></multistatus>"
)


def test_current_user_principal():
    ms = x.parse_multistatus(RADICALE_WELL_KNOWN, "http://127.0.0.1:5232/.well-known/caldav")
    assert [r.href for r in ms.responses] == ["/"]
    assert ms.responses[0].href_list(qn(DAV, "current-user-principal")) == ["/alice/"]


def test_home_listing_collections():
    ms = x.parse_multistatus(RADICALE_HOME_LISTING)
    kinds = {r.href: x.collection_kind(r) for r in ms.responses}
    assert kinds == {"/alice/": None, "/alice/contacts/": "addressbook", "/alice/work/": "calendar"}
    work = ms.responses[2]
    assert work.text(qn(DAV, "displayname")) == "Work"
    assert x.components_of(work) == {"VEVENT", "VTODO"}
    assert work.text(qn(CS, "getctag")).startswith('"90225f13')
    assert work.text(qn(DAV, "sync-token")).startswith("http://radicale.org/ns/sync/")
    # 404 propstats land in "missing", not in "props"
    assert qn("http://apple.com/ns/ical/", "calendar-color") in work.missing
    assert work.missing[qn("http://apple.com/ns/ical/", "calendar-color")] == 404
    home = ms.responses[0]
    assert home.resource_types == {qn(DAV, "principal"), qn(DAV, "collection")}
    assert qn(DAV, "displayname") not in home.props


def test_client_collection_mapping():
    from gateway.backends.dav.client import DavClient
    ms = x.parse_multistatus(RADICALE_HOME_LISTING)
    col = DavClient._collection(ms.responses[2], "calendar")
    assert col.href == "/alice/work/" and col.kind == "calendar" and col.display_name == "Work"
    assert col.components == {"VEVENT", "VTODO"} and col.color is None
    book = DavClient._collection(ms.responses[1], "addressbook")
    assert book.components == frozenset() and book.display_name == "Contacts"


def test_listing_etags_and_encoded_href():
    ms = x.parse_multistatus(RADICALE_LIST)
    assert [r.href for r in ms.responses] == ["/alice/work/", "/alice/work/weekly%201.ics"]
    assert ms.responses[1].etag == '"3725489c8f574b97fc15b3beafaa38dc2774c4ead9f6eeb065c7445d1bd3c434"'
    assert ms.responses[1].resource_types == frozenset()


def test_expand_calendar_data_keeps_crlf():
    from gateway.backends.dav.client import DavClient
    ms = x.parse_multistatus(RADICALE_EXPAND)
    [res] = DavClient._resources(ms, qn(CALDAV, "calendar-data"))
    assert res.href == "/alice/work/weekly%201.ics"
    assert res.data.count(b"RECURRENCE-ID:") == 3
    assert b"\r\n" in res.data and b"\n" not in res.data.replace(b"\r\n", b"")
    assert res.data.endswith(b"END:VCALENDAR\r\n")


def test_sync_initial_and_deleted():
    first = x.parse_multistatus(RADICALE_SYNC_INITIAL)
    assert first.sync_token.endswith("2183343025c5943e960d42f34f9915316573e5fc3e7793f1839729798ee27e83")
    assert first.responses[0].status is None and first.responses[0].ok
    delta = x.parse_multistatus(RADICALE_SYNC_DELETED)
    [gone] = delta.responses
    assert gone.status == 404 and not gone.ok and gone.href == "/alice/work/weekly%201.ics"
    assert delta.sync_token != first.sync_token


def test_bad_token_error_condition():
    assert x.error_conditions(RADICALE_BAD_TOKEN) == {qn(DAV, "valid-sync-token")}
    assert x.error_conditions(b"not xml") == set()
    assert x.error_conditions(RADICALE_SYNC_INITIAL) == set()


def test_card_multiget_missing_and_percent_encoded_at():
    from gateway.backends.dav.client import DavClient
    ms = x.parse_multistatus(RADICALE_CARD_MULTIGET)
    assert [(r.href, r.status) for r in ms.responses] == [
        ("/alice/contacts/missing.vcf", 404), ("/alice/contacts/bob@example.vcf", None)]
    [card] = DavClient._resources(ms, qn(CARDDAV, "address-data"))
    assert card.data.startswith(b"BEGIN:VCARD\r\n") and b"FN:Bob Baker\r\n" in card.data


@pytest.mark.parametrize("href, base, expected", [
    ("/alice/work/a%20b.ics", "", "/alice/work/a%20b.ics"),
    ("/alice/work/a b.ics", "", "/alice/work/a%20b.ics"),
    ("http://dav.example:8080/alice/work/x.ics", "", "/alice/work/x.ics"),
    ("x.ics", "http://h/alice/work/", "/alice/work/x.ics"),
    ("../bob/", "http://h/alice/work/", "/alice/bob/"),
    ("/alice/contacts/bob%40example.vcf", "", "/alice/contacts/bob@example.vcf"),
    ("/alice/%C3%A9t%C3%A9/", "", "/alice/%C3%A9t%C3%A9/"),
    ("/alice/été/", "", "/alice/%C3%A9t%C3%A9/"),
    ("/alice/a%2fb.ics", "", "/alice/a%2Fb.ics"),   # an encoded "/" inside a name stays one segment
])
def test_canonical_path(href, base, expected):
    assert x.canonical_path(href, base) == expected


def test_multi_href_status_response():
    # RFC 4918 14.24: a response may carry several hrefs and one status.
    body = (b'<d:multistatus xmlns:d="DAV:"><d:response><d:href>/a/1.ics</d:href><d:href>/a/2.ics</d:href>'
            b'<d:status>HTTP/1.1 404 Not Found</d:status></d:response></d:multistatus>')
    ms = x.parse_multistatus(body)
    assert [(r.href, r.status) for r in ms.responses] == [("/a/1.ics", 404), ("/a/2.ics", 404)]


def test_not_multistatus_rejected():
    with pytest.raises(ValueError):
        x.parse_multistatus(RADICALE_BAD_TOKEN)


def _parse(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def test_calendar_query_body_with_expand():
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    root = _parse(x.calendar_query_body("VEVENT", start, start + timedelta(days=31), expand=True))
    assert root.tag == qn(CALDAV, "calendar-query")
    expand = root.find(f"{qn(DAV, 'prop')}/{qn(CALDAV, 'calendar-data')}/{qn(CALDAV, 'expand')}")
    assert expand.get("start") == "20240101T000000Z" and expand.get("end") == "20240201T000000Z"
    comps = root.findall(f".//{qn(CALDAV, 'comp-filter')}")
    assert [c.get("name") for c in comps] == ["VCALENDAR", "VEVENT"]
    tr = comps[1].find(qn(CALDAV, "time-range"))
    assert tr.get("start") == "20240101T000000Z"


def test_calendar_query_body_open_range_and_expand_needs_range():
    root = _parse(x.calendar_query_body("VTODO", None, None))
    assert root.find(f".//{qn(CALDAV, 'time-range')}") is None
    with pytest.raises(ValueError):
        x.calendar_query_body("VEVENT", None, None, expand=True)


def test_ical_utc_converts_offsets_and_naive():
    tz = timezone(timedelta(hours=2))
    assert x.ical_utc(datetime(2024, 3, 1, 12, 0, tzinfo=tz)) == "20240301T100000Z"
    assert x.ical_utc(datetime(2024, 3, 1, 12, 0)) == "20240301T120000Z"


def test_multiget_bodies_by_kind():
    cal = _parse(x.multiget_body("calendar", ["/a/1.ics"]))
    assert cal.tag == qn(CALDAV, "calendar-multiget")
    assert [h.text for h in cal.findall(qn(DAV, "href"))] == ["/a/1.ics"]
    card = _parse(x.multiget_body("addressbook", ["/b/1.vcf", "/b/2.vcf"]))
    assert card.tag == qn(CARDDAV, "addressbook-multiget")
    assert card.find(f"{qn(DAV, 'prop')}/{qn(CARDDAV, 'address-data')}") is not None
    with pytest.raises(ValueError):
        x.multiget_body("inbox", [])


def test_sync_mkcalendar_mkcol_bodies():
    sync = _parse(x.sync_collection_body(None))
    assert sync.findtext(qn(DAV, "sync-token")) in ("", None)
    assert sync.findtext(qn(DAV, "sync-level")) == "1"
    mk = _parse(x.mkcalendar_body("Work", ["vevent", "VTODO"]))
    comps = mk.findall(f".//{qn(CALDAV, 'comp')}")
    assert [c.get("name") for c in comps] == ["VEVENT", "VTODO"]
    col = _parse(x.mkcol_addressbook_body("Contacts"))
    rt = col.find(f".//{qn(DAV, 'resourcetype')}")
    assert {c.tag for c in rt} == {qn(DAV, "collection"), qn(CARDDAV, "addressbook")}


def test_client_has_every_protocol_method():
    import inspect

    from gateway.backends import base
    from gateway.backends.dav import DavClient
    for name, member in vars(base.DavClient).items():
        if inspect.iscoroutinefunction(member):
            assert inspect.iscoroutinefunction(getattr(DavClient, name)), name
            ours = inspect.signature(getattr(DavClient, name)).parameters
            assert list(inspect.signature(member).parameters) == list(ours), name
