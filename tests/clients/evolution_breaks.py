"""Breaks one exgate answer on purpose, to show which Evolution test depends on it (a pytest plugin,
in-process: the gateway runs in the test process, so nothing is edited on disk).

    EVO_BREAK=<name> python -m pytest -p tests.clients.evolution_breaks tests/clients/test_evolution.py -k "demo-ntlm and <test>"

name             what is broken                                      the test that fails
hierarchy        SyncFolderHierarchy leaves out the calendar folder  every test (the account never gets its Calendar)
occurrence_mime  GetItem on an occurrence has no MimeContent         test_calendar_view_of_the_seeded_weeks
update_subject   UpdateItem drops Subject changes                    test_event_create_change_delete_shows_over_caldav
invitations      CreateItem sends no invitations                     test_meeting_invitation_reaches_bob
contacts_sync    SyncFolderItems lists no contacts                   test_address_book_lists_the_contacts
tasks_sync       SyncFolderItems lists no tasks                      test_task_list
resolvenames     ResolveNames finds nobody                           test_gal_search
isread           every message reads as unread                       test_mail_through_camel
mime822          calendar MimeContent as RFC 822 (before f90466a)    test_event_create_change_delete_shows_over_caldav
"""
import os

BREAK = os.environ.get("EVO_BREAK")


def _local(el):
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _wrap(name, post=None, pre=None):
    from gateway.ews.dispatch import OPERATIONS
    orig = OPERATIONS[name]

    async def handler(ctx):
        if pre:
            pre(ctx)
        root = await orig(ctx)
        if post:
            post(root)
        return root
    OPERATIONS[name] = handler


def pytest_configure(config):
    if not BREAK:
        return
    print("EVO_BREAK =", BREAK)
    if BREAK == "hierarchy":          # no calendar folder in the folder hierarchy
        def post(root):
            for el in list(root.iter()):
                if _local(el) == "Create" and any(_local(c) == "CalendarFolder" for c in el):
                    el.getparent().remove(el)
        _wrap("SyncFolderHierarchy", post=post)
    elif BREAK == "occurrence_mime":  # occurrences without MimeContent (as before the fix)
        from gateway.ews import calendar

        def nope(*a, **k):
            raise ValueError("broken on purpose")
        calendar.instance_ical = nope
    elif BREAK == "update_subject":   # UpdateItem drops Subject changes
        def pre(ctx):
            for el in list(ctx.req.body.iter()):
                if _local(el) == "SetItemField" and any(
                        _local(c) == "FieldURI" and c.get("FieldURI") == "item:Subject" for c in el):
                    el.getparent().remove(el)
        _wrap("UpdateItem", pre=pre)
    elif BREAK == "invitations":      # CreateItem never sends invitations
        def pre(ctx):
            if ctx.req.body.get("SendMeetingInvitations"):
                ctx.req.body.set("SendMeetingInvitations", "SendToNone")
        _wrap("CreateItem", pre=pre)
    elif BREAK in ("contacts_sync", "tasks_sync"):   # SyncFolderItems lists no contacts / no tasks
        kind = "Contact" if BREAK == "contacts_sync" else "Task"

        def post(root):
            for el in list(root.iter()):
                if _local(el) == "Create" and any(_local(c) == kind for c in el):
                    el.getparent().remove(el)
        _wrap("SyncFolderItems", post=post)
    elif BREAK == "resolvenames":     # the directory finds nobody
        from gateway.ews import people

        async def nobody(ctx):
            root, messages = people.response_root(ctx.operation)
            people.message(messages, ctx.operation, "ErrorNameResolutionNoResults")
            return root
        from gateway.ews.dispatch import OPERATIONS
        OPERATIONS["ResolveNames"] = nobody
    elif BREAK == "isread":           # every message reads as unread
        def post(root):
            for el in root.iter():
                if _local(el) == "IsRead":
                    el.text = "false"
        _wrap("SyncFolderItems", post=post)
        _wrap("GetItem", post=post)
    elif BREAK == "mime822":          # calendar MimeContent as RFC 822 (exgate before f90466a)
        from gateway.store import conversions as conv
        from gateway.store.mailbox import Mailbox
        from gateway.store.model import MessageContent

        async def mime_of(self, item):
            return conv.content_to_mime(item.content or MessageContent(dict(item.props)))
        Mailbox.mime_of = mime_of
    else:
        raise SystemExit(f"unknown EVO_BREAK {BREAK}")
