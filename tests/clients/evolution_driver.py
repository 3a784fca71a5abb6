#!/usr/bin/python3
"""Drive evolution-data-server + evolution-ews headless, for tests/clients/test_evolution.py.

Run with Debian's /usr/bin/python3 (python3-gi and the EDS typelibs live there), inside a private
D-Bus session bus and with XDG_CONFIG_HOME/XDG_DATA_HOME/XDG_CACHE_HOME/HOME in a temp directory;
the test starts both. The EDS services (evolution-source-registry, the calendar and address-book
factories) are D-Bus activated from /usr/share/dbus-1/services.

Speaks JSON lines: one command per line on stdin ({"cmd": name, ...args}), one answer per line
on stdout ({"ok": true, "result": ...} or {"ok": false, "error": text}). Everything else
(EDS's own chatter) goes to stderr.

What it does the way a user's Evolution does:
- ``account``: writes the EWS collection account (Collection + Authentication + WebDAV Backend +
  Ews Backend) as the account wizard would, with the gateway's certificate accepted as the trust
  prompt's "Accept permanently" stores it (``SslTrust``), then answers every credentials prompt
  (``credentials-required``) with the password, as the password dialog would. There is no keyring.
- ``sources``: the account's child sources (calendar, contacts, tasks, mail, GAL) and their state.
- ``cal_*``: an ECalClient on the EWS calendar or task list: list, instances in a window
  (ECalClient.generate_instances_sync, what the calendar view shows), create/modify/remove.
- ``book_*``: an EBookClient on the EWS address book or the GAL.
- ``mail_*``: Camel's EWS provider (CamelEwsStore) in a CamelSession of our own.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback

import gi

gi.require_version("EDataServer", "1.2")
gi.require_version("ECal", "2.0")
gi.require_version("EBook", "1.2")
gi.require_version("EBookContacts", "1.2")
gi.require_version("ICalGLib", "3.0")
gi.require_version("Camel", "1.2")
from gi.repository import EBook, EBookContacts, ECal, EDataServer, Gio, GLib, ICalGLib  # noqa: E402

ACCOUNT_UID = "exgate-ews-account"

STATE: dict = {"registry": None, "password": None, "user": None, "answered": [], "ssl": [],
               "clients": {}, "restarts": []}
POLLED: dict[str, float] = {}
PENDING: set[str] = set()       # sources a client is connecting to right now


def log(*a):
    print("[driver]", *a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ main-loop helpers

def on_main(fn, *args, timeout=120):
    """Run fn(*args) on the GLib main loop's thread and wait for its result."""
    box: dict = {}
    ev = threading.Event()

    def run():
        try:
            box["r"] = fn(*args)
        except Exception as e:  # noqa: BLE001
            box["e"] = e
        ev.set()
        return False

    GLib.idle_add(run)
    if not ev.wait(timeout):
        raise TimeoutError(f"main loop did not run {fn.__name__} in {timeout} s")
    if "e" in box:
        raise box["e"]
    return box.get("r")


# ------------------------------------------------------------------ credentials

def credentials() -> EDataServer.NamedParameters:
    p = EDataServer.NamedParameters.new()
    p.set(EDataServer.SOURCE_CREDENTIAL_USERNAME, STATE["user"])
    p.set(EDataServer.SOURCE_CREDENTIAL_PASSWORD, STATE["password"])
    return p


def answer(source: EDataServer.Source, reason, why: str) -> None:
    """What the password prompt does: hand the password to the backend that asked."""
    name = source.get_display_name()
    STATE["answered"].append({"source": name, "uid": source.get_uid(), "reason": reason.value_nick,
                              "why": why})
    log(f"credentials-required {name} ({source.get_uid()}): {reason.value_nick}; answering ({why})")
    if reason == EDataServer.SourceCredentialsReason.SSL_FAILED:
        STATE["ssl"].append(name)      # the trust was written beforehand: this should not happen
        return

    def done(src, res):
        try:
            src.invoke_authenticate_finish(res)
        except GLib.Error as e:
            log("invoke_authenticate failed:", e.message)

    source.invoke_authenticate(credentials(), None, done)


def on_credentials_required(registry, source, reason, cert_pem, cert_errors, op_error):
    if reason in (EDataServer.SourceCredentialsReason.REQUIRED, EDataServer.SourceCredentialsReason.REJECTED,
                  EDataServer.SourceCredentialsReason.SSL_FAILED):
        if reason == EDataServer.SourceCredentialsReason.REJECTED:
            n = sum(1 for a in STATE["answered"] if a["uid"] == source.get_uid() and a["reason"] == "rejected")
            if n >= 3:                  # a wrong password: stop, as a user would cancel the prompt
                log(f"{source.get_display_name()}: rejected three times; giving up")
                return
        answer(source, reason, "signal" + (f": {op_error.message}" if op_error else ""))


def poll_waiting_sources():
    """Sources that asked before we listened: answer them from their last request."""
    reg = STATE["registry"]
    if reg is None or STATE["password"] is None:
        return True
    now = time.time()
    for src in reg.list_sources(None):
        status = src.get_connection_status()
        waiting = status == EDataServer.SourceConnectionStatus.AWAITING_CREDENTIALS
        # A backend opening for a client whose prompt we never saw (the signal can come before the
        # source's D-Bus object is ours): give it the password anyway, as a prompt's answer would.
        stuck = src.get_uid() in PENDING and status != EDataServer.SourceConnectionStatus.CONNECTED
        if (waiting or stuck) and now - POLLED.get(src.get_uid(), now - 100) > (3 if stuck else 10):
            POLLED[src.get_uid()] = now
            answer(src, EDataServer.SourceCredentialsReason.REQUIRED, "poll" if waiting else "pending open")
    return True


# ------------------------------------------------------------------ account

def account_keyfile(a: dict) -> str:
    """The collection source as Evolution's EWS account wizard writes it."""
    src = EDataServer.Source.new_with_uid(ACCOUNT_UID, None)
    src.set_display_name(a.get("display_name", "exgate"))
    src.set_enabled(True)
    coll = src.get_extension(EDataServer.SOURCE_EXTENSION_COLLECTION)
    coll.set_backend_name("ews")
    coll.set_identity(a["email"])
    coll.set_calendar_enabled(True)
    coll.set_contacts_enabled(True)
    coll.set_mail_enabled(a.get("mail", True))
    auth = src.get_extension(EDataServer.SOURCE_EXTENSION_AUTHENTICATION)
    auth.set_host(a["host"])
    auth.set_port(int(a["port"]))
    auth.set_user(a["user"])
    auth.set_method(a["method"])           # "NTLM", or "PLAIN" for Basic
    auth.set_remember_password(False)
    sec = src.get_extension(EDataServer.SOURCE_EXTENSION_SECURITY)
    sec.set_method("tls")
    offline = src.get_extension(EDataServer.SOURCE_EXTENSION_OFFLINE)
    offline.set_stay_synchronized(False)
    # The trust prompt's "Accept permanently": the certificate's fingerprint, per host.
    cert = Gio.TlsCertificate.new_from_pem(a["cert_pem"], -1)
    webdav = src.get_extension(EDataServer.SOURCE_EXTENSION_WEBDAV_BACKEND)
    webdav.update_ssl_trust(a["host"], cert, EDataServer.TrustPromptResponse.ACCEPT)
    data = src.to_string()[0]
    ews = "\n".join([
        "[Ews Backend]",
        f"Hosturl={a['hosturl']}",
        "Oaburl=",
        f"Email={a['email']}",
        "Timeout=30",
        "ListenNotifications=false",
        "ConcurrentConnections=1",
        "FilterInbox=false",
        "StoreChangesInterval=3",
        "LimitByAge=false",
        "CheckAll=false",
        "FilterJunk=false",
        "FilterJunkInbox=false",
        "GalUid=",
        "OabOffline=false",
        "OalSelected=",
        "UseImpersonation=false",
        "OverrideUserAgent=false",
        "OverrideOauth2=false",
        "ShowPublicFolders=false",
        "",
    ])
    return data + "\n" + ews


def cmd_account(a: dict):
    STATE["user"] = a["user"]
    STATE["password"] = a["password"]
    d = os.path.join(os.environ["XDG_CONFIG_HOME"], "evolution", "sources")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ACCOUNT_UID + ".source"), "w") as fh:
        fh.write(account_keyfile(a))
    with open(os.path.join(d, MAIL_UID + ".source"), "w") as fh:
        fh.write(mail_keyfile(a))

    def connect():
        reg = EDataServer.SourceRegistry.new_sync(None)
        reg.connect("credentials-required", on_credentials_required)
        STATE["registry"] = reg
        GLib.timeout_add(300, poll_waiting_sources)
        return True

    on_main(connect)
    return cmd_wait_online({"timeout": a.get("timeout", 60)})


def _src_info(s: EDataServer.Source) -> dict:
    kinds = [k for k, ext in (("collection", EDataServer.SOURCE_EXTENSION_COLLECTION),
                              ("calendar", EDataServer.SOURCE_EXTENSION_CALENDAR),
                              ("tasks", EDataServer.SOURCE_EXTENSION_TASK_LIST),
                              ("memos", EDataServer.SOURCE_EXTENSION_MEMO_LIST),
                              ("addressbook", EDataServer.SOURCE_EXTENSION_ADDRESS_BOOK),
                              ("mail_account", EDataServer.SOURCE_EXTENSION_MAIL_ACCOUNT),
                              ("mail_transport", EDataServer.SOURCE_EXTENSION_MAIL_TRANSPORT),
                              ("mail_identity", EDataServer.SOURCE_EXTENSION_MAIL_IDENTITY))
             if s.has_extension(ext)]
    backend = None
    for ext in (EDataServer.SOURCE_EXTENSION_CALENDAR, EDataServer.SOURCE_EXTENSION_TASK_LIST,
                EDataServer.SOURCE_EXTENSION_ADDRESS_BOOK, EDataServer.SOURCE_EXTENSION_COLLECTION,
                EDataServer.SOURCE_EXTENSION_MEMO_LIST):
        if s.has_extension(ext):
            backend = s.get_extension(ext).get_backend_name()
            break
    return {"uid": s.get_uid(), "name": s.get_display_name(), "parent": s.get_parent(), "kinds": kinds,
            "backend": backend, "status": s.get_connection_status().value_nick, "enabled": s.get_enabled()}


def account_sources() -> list[dict]:
    reg = STATE["registry"]
    return [_src_info(s) for s in reg.list_sources(None)
            if s.get_uid() == ACCOUNT_UID or s.get_parent() == ACCOUNT_UID]


def cmd_sources(a: dict):
    return on_main(account_sources)


def cmd_restarts(a: dict):
    """Factories restarted because an open hung (evolution-ews's Basic first-connect deadlock)."""
    return STATE["restarts"]


def cmd_wait_online(a: dict):
    deadline = time.time() + float(a.get("timeout", 60))
    while True:
        srcs = on_main(account_sources)
        coll = [s for s in srcs if s["uid"] == ACCOUNT_UID]
        children = [s for s in srcs if s["parent"] == ACCOUNT_UID]
        if coll and coll[0]["status"] == "connected" and any("calendar" in s["kinds"] for s in children):
            return {"sources": srcs, "answered": STATE["answered"], "ssl_prompts": STATE["ssl"]}
        if time.time() > deadline:
            raise TimeoutError(f"account not online: {srcs}; prompts answered {STATE['answered']}")
        time.sleep(0.3)


def find_source(kind: str, name: str | None = None) -> EDataServer.Source:
    """The account's child source of a kind (calendar/tasks/addressbook/gal/mail_account)."""
    ext = {"calendar": EDataServer.SOURCE_EXTENSION_CALENDAR, "tasks": EDataServer.SOURCE_EXTENSION_TASK_LIST,
           "addressbook": EDataServer.SOURCE_EXTENSION_ADDRESS_BOOK, "gal": EDataServer.SOURCE_EXTENSION_ADDRESS_BOOK,
           "mail_account": EDataServer.SOURCE_EXTENSION_MAIL_ACCOUNT}[kind]

    def pick():
        reg = STATE["registry"]
        out = []
        for s in reg.list_sources(ext):
            if s.get_parent() != ACCOUNT_UID:
                continue
            if name is not None and s.get_display_name() != name:
                continue
            out.append(s)
        return out

    srcs = on_main(pick)
    if kind == "gal":
        srcs = [s for s in srcs if s.has_extension(EDataServer.SOURCE_EXTENSION_AUTOCOMPLETE)
                and "global" in s.get_display_name().lower()] or \
               [s for s in srcs if "global" in s.get_display_name().lower()]
    elif kind == "addressbook":
        srcs = [s for s in srcs if "global" not in s.get_display_name().lower()]
    if not srcs:
        raise LookupError(f"no {kind} source {name or ''} in {on_main(account_sources)}")
    return srcs[0]


FACTORY_NAMES = {"cal": "org.gnome.evolution.dataserver.Calendar8",
                 "book": "org.gnome.evolution.dataserver.AddressBook10"}


def restart_factory(kind: str) -> None:
    """Stop the calendar or address-book factory (found by its bus name, killed by its pid); the next
    open D-Bus activates a fresh one, as restarting Evolution would."""
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    pid = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                        "GetConnectionUnixProcessID", GLib.Variant("(s)", (FACTORY_NAMES[kind],)),
                        GLib.VariantType("(u)"), Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
    log(f"restarting the {kind} factory (pid {pid})")
    os.kill(pid, 9)
    for key in [k for k in STATE["clients"] if k[0] == kind]:
        del STATE["clients"][key]
    STATE["restarts"].append(kind)
    time.sleep(0.5)


def connect_client(kind: str, src: EDataServer.Source, start, finish, tries: int = 6, wait: int = 10):
    """Open a client the way Evolution does (asynchronously, the main loop answering prompts).

    evolution-ews 3.46 can hang a backend for good on its first, password-less connection when the
    account uses Basic: ESoupSession refuses Basic without a password before sending anything, and
    e-ews-connection.c's dispose then quits the connection's soup thread's main loop before that
    thread has started running it, and joins it forever (the thread's g_main_loop_run never
    returns). Every later call on that backend waits behind it. Nothing a server answers can change
    that, so here, as a user would, the factory is restarted when an open does not finish."""
    last = None
    for attempt in range(tries):
        box: dict = {}
        ev = threading.Event()
        cancel = Gio.Cancellable()

        def done(_src, res, _data=None):
            try:
                box["c"] = finish(res)
            except Exception as e:  # noqa: BLE001
                box["e"] = e
            ev.set()

        PENDING.add(src.get_uid())
        POLLED[src.get_uid()] = time.time()
        try:
            on_main(lambda: start(src, wait, cancel, done))
            if ev.wait(wait + 5):
                if "e" in box:
                    raise box["e"]
                return box["c"]
            cancel.cancel()
            ev.wait(5)
            last = TimeoutError(f"opening {src.get_display_name()} did not finish in {wait + 5} s")
            log(f"{last}; attempt {attempt + 1} of {tries}")
            restart_factory(kind)
        finally:
            PENDING.discard(src.get_uid())
    raise last


# ------------------------------------------------------------------ calendar

def cal_client(kind: str, name: str | None = None) -> ECal.Client:
    key = ("cal", kind, name)
    c = STATE["clients"].get(key)
    if c is None:
        src = find_source(kind, name)
        st = ECal.ClientSourceType.EVENTS if kind == "calendar" else ECal.ClientSourceType.TASKS
        c = connect_client("cal", src, lambda s_, w, cn, cb: ECal.Client.connect(s_, st, w, cn, cb),
                           ECal.Client.connect_finish)
        STATE["clients"][key] = c
    return c


def comp_info(comp) -> dict:
    """The parts of an ECalComponent a user sees."""
    def dt(d):
        if d is None:
            return None
        v = d.get_value()
        if v is None:
            return None
        tzid = d.get_tzid()
        return {"value": v.as_ical_string(), "tzid": tzid, "date": v.is_date()}

    summary = comp.get_summary()
    loc = comp.get_location()
    rid = comp.get_recurid()
    atts = []
    for at in comp.get_attendees() or []:
        atts.append({"value": at.get_value(), "partstat": at.get_partstat().value_nick if at.get_partstat() else None})
    org = comp.get_organizer()
    desc = comp.get_descriptions() or []
    return {"uid": comp.get_uid(), "summary": summary.get_value() if summary else None,
            "location": loc, "start": dt(comp.get_dtstart()), "end": dt(comp.get_dtend()),
            "rid": rid.get_datetime().get_value().as_ical_string() if rid and rid.get_datetime() else None,
            "recurring": bool(comp.has_recurrences()),
            "organizer": org.get_value() if org else None, "attendees": atts,
            "description": [x.get_value() for x in desc]}


def cmd_cal_refresh(a):
    c = cal_client(a.get("kind", "calendar"), a.get("name"))
    if c.check_refresh_supported():
        c.refresh_sync(None)
    return True


def cmd_cal_list(a):
    c = cal_client(a.get("kind", "calendar"), a.get("name"))
    ok, comps = c.get_object_list_as_comps_sync(a.get("query", "#t"), None)
    out = [comp_info(x) for x in comps]
    if a.get("ical"):
        for info, x in zip(out, comps):
            info["ical"] = x.get_as_string()
    return out


def cmd_cal_instances(a):
    """What the calendar view shows for [start, end) (unix seconds), expanded in UTC."""
    c = cal_client(a.get("kind", "calendar"), a.get("name"))
    utc = ICalGLib.Timezone.get_utc_timezone()
    out = []

    def cb(icomp, istart, iend, user_data, cancellable):
        comp = ECal.Component.new_from_icalcomponent(icomp.clone())
        info = comp_info(comp)
        s = istart.clone(); s.convert_to_zone_inplace(utc)
        e = iend.clone(); e.convert_to_zone_inplace(utc)
        info["instance_start"] = s.as_ical_string()
        info["instance_end"] = e.as_ical_string()
        out.append(info)
        return True

    c.generate_instances_sync(int(a["start"]), int(a["end"]), None, cb, None)
    out.sort(key=lambda x: x["instance_start"])
    return out


def cmd_cal_create(a):
    c = cal_client(a.get("kind", "calendar"), a.get("name"))
    ic = ICalGLib.Component.new_from_string(a["ical"])
    t0 = time.time()
    ok, uid = c.create_object_sync(ic, ECal.OperationFlags.NONE, None)
    return {"uid": uid, "seconds": time.time() - t0}


def cmd_cal_modify(a):
    c = cal_client(a.get("kind", "calendar"), a.get("name"))
    ok, ic = c.get_object_sync(a["uid"], a.get("rid"), None)
    comp = ECal.Component.new_from_icalcomponent(ic)
    if "summary" in a:
        comp.set_summary(ECal.ComponentText.new(a["summary"], None))
    if "location" in a:
        comp.set_location(a["location"])
    if "start" in a:
        comp.set_dtstart(ECal.ComponentDateTime.new(ICalGLib.Time.new_from_string(a["start"]), a.get("tzid")))
        comp.set_dtend(ECal.ComponentDateTime.new(ICalGLib.Time.new_from_string(a["end"]), a.get("tzid")))
    comp.commit_sequence()
    t0 = time.time()
    c.modify_object_sync(comp.get_icalcomponent(), ECal.ObjModType.ALL, ECal.OperationFlags.NONE, None)
    return {"seconds": time.time() - t0}


def cmd_cal_remove(a):
    c = cal_client(a.get("kind", "calendar"), a.get("name"))
    t0 = time.time()
    c.remove_object_sync(a["uid"], a.get("rid"), ECal.ObjModType.ALL, ECal.OperationFlags.NONE, None)
    return {"seconds": time.time() - t0}


# ------------------------------------------------------------------ contacts

def book_client(kind: str) -> EBook.BookClient:
    key = ("book", kind)
    c = STATE["clients"].get(key)
    if c is None:
        src = find_source(kind)
        c = connect_client("book", src, EBook.BookClient.connect, EBook.BookClient.connect_finish)
        STATE["clients"][key] = c
    return c


def contact_info(ct) -> dict:
    emails = [x for x in (ct.get_attributes(EBookContacts.ContactField.EMAIL) or [])]
    return {"uid": ct.get_property("id"), "full_name": ct.get_property("full-name"),
            "emails": [e.get_value() for e in emails],
            "org": ct.get_property("org"), "vcard": ct.to_string(getattr(EBookContacts.VCardFormat, "30"))}


def cmd_book_list(a):
    c = book_client(a.get("kind", "addressbook"))
    if a.get("refresh") and c.check_refresh_supported():
        c.refresh_sync(None)
    q = a.get("query")
    if q is None:
        sexp = "#t" if a.get("kind", "addressbook") != "gal" else \
            EBookContacts.BookQuery.any_field_contains("").to_string()
    else:
        sexp = EBookContacts.BookQuery.field_test(EBookContacts.ContactField.FULL_NAME, EBookContacts.BookQueryTest.CONTAINS, q).to_string() \
            if not q.startswith("(") else q
    ok, cts = c.get_contacts_sync(sexp, None)
    return [contact_info(x) for x in cts]


# ------------------------------------------------------------------ mail (Camel)

MAIL_UID = "exgate-ews-mail"


def mail_keyfile(a: dict) -> str:
    """The mail account source under the collection (Evolution's wizard writes it beside the
    collection): Camel's EWS store finds the collection, and its certificate trust, from it."""
    return "\n".join([
        "[Data Source]", "DisplayName=exgate mail", "Enabled=true", f"Parent={ACCOUNT_UID}", "",
        "[Mail Account]", "BackendName=ews", "IdentityUid=", "ArchiveFolder=", "NeedsInitialSetup=false", "",
        "[Authentication]", f"Host={a['host']}", f"Port={a['port']}", f"User={a['user']}",
        f"Method={a['method']}", "RememberPassword=false", "",
        "[Ews Backend]", f"Hosturl={a['hosturl']}", f"Email={a['email']}", "FilterInbox=false", "",
    ])


def _camel_session():
    if "camel" in STATE:
        return STATE["camel"]
    from gi.repository import Camel
    root = os.environ["XDG_DATA_HOME"]
    Camel.init(os.path.join(root, "camel-certs"), False)
    Camel.provider_init()
    Camel.provider_load("/usr/lib/evolution-data-server/camel-providers/libcamelews.so")

    class Session(Camel.Session):
        """What Evolution's EMailSession does for a store, reduced to the password."""
        def do_get_password(self, service, prompt, item, flags):
            return STATE["password"]

        def do_trust_prompt(self, service, certificate, errors):
            STATE["ssl"].append("camel")     # the stored trust should make this unnecessary
            return Camel.CertTrust.UNKNOWN if hasattr(Camel, "CertTrust") else 0

    sess = Session(user_data_dir=os.path.join(root, "camel"), user_cache_dir=os.path.join(root, "camel-cache"),
                   online=True)
    STATE["camel"] = (Camel, sess)
    return STATE["camel"]


def cmd_mail(a):
    """Camel's EWS provider (CamelEwsStore): connect, the folder tree, the Inbox's summaries,
    one message read."""
    Camel, sess = _camel_session()
    store = sess.ref_service(MAIL_UID)
    if store is None:
        store = sess.add_service(MAIL_UID, "ews", Camel.ProviderType.STORE)
        st = store.ref_settings()
        st.set_property("hosturl", a["hosturl"])
        st.set_property("email", a["email"])
        st.set_property("user", a["user"])
        st.set_property("host", a["host"])
        st.set_property("port", int(a["port"]))
        st.set_property("auth-mechanism", a["method"])
        st.set_property("filter-inbox", False)
        store.set_password(a["password"])
    t0 = time.time()
    store.connect_sync(None)
    # CamelFolderInfo's next/child are bare pointers to GObject introspection, so the tree cannot be
    # walked from Python: each folder a user would expect is asked for by its path instead.
    store.get_folder_info_sync(None, Camel.StoreGetFolderInfoFlags.RECURSIVE, None)   # the full sync
    # what Evolution does once for a new account (NeedsInitialSetup): the distinguished folders
    # (inbox, sentitems, drafts ...) are looked up and marked in the store's summary
    if not STATE.get("camel_setup"):
        store.initial_setup_sync(None)
        STATE["camel_setup"] = True
    folders = []
    for path in a.get("folders", ["Inbox", "Sent Items", "Drafts", "Deleted Items"]):
        fi = store.get_folder_info_sync(path, 0, None)
        if fi is not None and fi.full_name == path:
            folders.append({"full_name": fi.full_name, "display_name": fi.display_name,
                            "unread": fi.unread, "total": fi.total,
                            "inbox": int(fi.flags) & (63 << 10)   # CAMEL_FOLDER_TYPE_MASK
                            == int(Camel.FolderInfoFlags.TYPE_INBOX)})
    try:
        inbox = store.get_inbox_folder_sync(None)
    except GLib.Error as e:
        # CamelEwsStore (3.46) does not implement get_inbox_folder_sync: CamelStore's default opens
        # a folder literally named "inbox" ("No such folder: inbox"). Evolution finds the Inbox by
        # the CAMEL_FOLDER_TYPE_INBOX flag of its folder info instead, and so does this.
        log("get_inbox_folder_sync:", e.message)
        flagged = [f["full_name"] for f in folders if f["inbox"]]
        if not flagged:
            raise LookupError(f"no folder is flagged as the Inbox: {folders}")
        inbox = store.get_folder_sync(flagged[0], 0, None)
    inbox.refresh_info_sync(None)
    summaries = []
    for uid in inbox.get_uids():
        mi = inbox.get_message_info(uid)
        if mi is None:
            continue
        summaries.append({"uid": uid, "subject": mi.get_subject(), "from": mi.get_from(),
                          "seen": bool(mi.get_flags() & Camel.MessageFlags.SEEN),
                          "flagged": bool(mi.get_flags() & Camel.MessageFlags.FLAGGED)})
    read = None
    want = a.get("read_subject")
    pick = [m for m in summaries if want and want in (m["subject"] or "")]
    if pick:
        msg = inbox.get_message_sync(pick[0]["uid"], None)
        stream = Camel.StreamMem.new()
        msg.write_to_stream_sync(stream, None)
        raw = bytes(stream.get_byte_array() or b"") if hasattr(stream, "get_byte_array") else b""
        body = msg.get_content()
        text = None
        if body is not None:
            out = Camel.StreamMem.new()
            body.decode_to_stream_sync(out, None)
            text = bytes(out.get_byte_array() or b"").decode("utf-8", "replace")
        read = {"subject": msg.get_subject(), "from": msg.get_from().format() if msg.get_from() else None,
                "size": len(raw), "mime_type": body.get_mime_type() if body is not None else None,
                "text": text[:2000] if text else None}
    return {"folders": folders, "inbox": summaries, "read": read, "seconds": time.time() - t0}


# ------------------------------------------------------------------ loop

COMMANDS = {name[4:]: fn for name, fn in globals().items() if name.startswith("cmd_")}


def serve():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            fn = COMMANDS[req.pop("cmd")]
            res = {"ok": True, "result": fn(req)}
        except Exception as e:  # noqa: BLE001
            msg = e.message if isinstance(e, GLib.Error) else str(e)
            res = {"ok": False, "error": f"{type(e).__name__}: {msg}", "trace": traceback.format_exc()}
        OUT.write(json.dumps(res, default=str) + "\n")
        OUT.flush()
    GLib.idle_add(LOOP.quit)


LOOP = GLib.MainLoop()
# The answers get their own copy of stdout; fd 1 itself goes to stderr, where libraries loaded in this
# process print (EWS_DEBUG makes Camel's EWS store print its SOAP traffic to stdout).
OUT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

if __name__ == "__main__":
    threading.Thread(target=serve, daemon=True).start()
    LOOP.run()
