"""Directory and service answers: GetUserPhoto, GetPasswordExpirationDate, GetServiceConfiguration,
GetMailTips, GetRoomLists, GetRooms and the delegate operations.

Several of these answer with ResponseClass/ResponseCode on the response element itself rather
than in a ResponseMessages list (MS-OXWSGTRM GetRoomLists, MS-OXWSCDATA GetUserPhoto, MS-OXWSDLGM
GetDelegate); ``flat_response`` builds both forms. Delegates: the backends have no delegate model
(IMAP ACLs and DAV sharing differ per server), so GetDelegate reports none and Add/Update/Remove
say honestly that this server cannot do it.
"""
from __future__ import annotations

import logging

from lxml import etree

from protocols.ews.items import write_mailbox
from protocols.ews.ns import RESPONSE_NSMAP, child, children, m, sub, t, text
from protocols.ews.responses import DEFAULT_TEXT, ResponseError, response_name
from protocols.ews.values import format_datetime

from .context import EwsContext

log = logging.getLogger(__name__)

MAX_MESSAGE_SIZE = 35 * 1024 * 1024     # what the EWS body limit lets through (policy.py: 48 MiB of base64)
MAX_MAILTIPS_RECIPIENTS = 50


def flat_response(operation: str, code: str = "NoError", message_text: str | None = None, *, style: str = "attr"):
    """``m:<Op>Response`` for operations without ResponseMessages.

    style "attr": ResponseClass on the root, ResponseCode as its child (GetUserPhoto, GetRoomLists ...);
    style "message": one ``m:ResponseMessage`` child (GetUserOofSettings, SetUserOofSettings).
    Returns (root, the element holding ResponseCode)."""
    root = etree.Element(m(f"{response_name(operation)}Response"), nsmap=RESPONSE_NSMAP)
    holder = root if style == "attr" else sub(root, m("ResponseMessage"))
    ok = code == "NoError"
    holder.set("ResponseClass", "Success" if ok else "Error")
    if not ok:
        sub(holder, m("MessageText"), message_text or DEFAULT_TEXT.get(code, code))
    sub(holder, m("ResponseCode"), code)
    if not ok:
        sub(holder, m("DescriptiveLinkKey"), 0)
    return root, holder


def requested_mailbox(ctx: EwsContext, mailbox_el) -> str:
    """The address in a Mailbox element (Address or EmailAddress); only the caller's own is allowed."""
    address = (text(mailbox_el, "Address") or text(mailbox_el, "EmailAddress") or "").strip() \
        if mailbox_el is not None else ""
    if address.lower().startswith("smtp:"):
        address = address[5:]
    if not address:
        return ctx.user.email
    ctx.check_mailbox(address)
    return ctx.user.email


def _domain(ctx: EwsContext) -> str:
    cfg = getattr(ctx.state, "config", None)
    return (getattr(cfg, "domain", None) or ctx.user.email.rsplit("@", 1)[-1]).lower()


# ------------------------------------------------------------------ GetUserPhoto (MS-OXWSCDATA 3.1.4.x, EWS 2013)

async def get_user_photo(ctx: EwsContext):
    email = (text(ctx.req.body, "Email") or "").strip()
    photo = await ctx.directory.photo(email) if email else None
    if not photo:
        root, holder = flat_response(ctx.operation, "ErrorItemNotFound",
                                     f"There is no photo for {email or 'this user'}.")
        sub(root, m("HasChanged"), False)
        return root
    root, _ = flat_response(ctx.operation)
    sub(root, m("HasChanged"), True)
    sub(root, m("PictureData"), photo)
    return root


# ------------------------------------------------------------------ GetPasswordExpirationDate (MS-OXWSGPED)

async def get_password_expiration_date(ctx: EwsContext):
    address = (text(ctx.req.body, "MailboxSmtpAddress") or "").strip() or ctx.user.email
    try:
        ctx.check_mailbox(address)
    except ResponseError as err:
        root, _ = flat_response(ctx.operation, err.code, err.message)
        return root
    root, _ = flat_response(ctx.operation)
    when = await ctx.directory.password_expires(ctx.user.login)
    if when is not None:
        sub(root, m("PasswordExpirationDate"), format_datetime(when))
    # no element: the password does not expire
    return root


# ------------------------------------------------------------------ GetServiceConfiguration (MS-OXWSGTSC? / MailTips)

def _mailtips_configuration(parent, ctx: EwsContext):
    el = sub(parent, m("MailTipsConfiguration"))
    sub(el, t("MailTipsEnabled"), True)
    sub(el, t("MaxRecipientsPerGetMailTipsRequest"), MAX_MAILTIPS_RECIPIENTS)
    sub(el, t("MaxMessageSize"), MAX_MESSAGE_SIZE)
    sub(el, t("LargeAudienceThreshold"), 25)
    sub(el, t("ShowExternalRecipientCount"), False)
    domains = sub(el, t("InternalDomains"))
    sub(domains, t("Domain"), Name=_domain(ctx), IncludeSubdomains="false")
    sub(el, t("PolicyTipsEnabled"), False)
    sub(el, t("LargeAudienceCap"), 1000)


def _um_configuration(parent):
    el = sub(parent, m("UnifiedMessagingConfiguration"))
    sub(el, t("UmEnabled"), False)
    sub(el, t("PlayOnPhoneDialString"), "")
    sub(el, t("PlayOnPhoneEnabled"), False)


def _protection_rules(parent, ctx: EwsContext):
    el = sub(parent, m("ProtectionRulesConfiguration"), RefreshInterval="24")
    sub(el, t("Rules"))
    domains = sub(el, t("InternalDomains"))
    sub(domains, t("Domain"), Name=_domain(ctx))


async def get_service_configuration(ctx: EwsContext):
    body = ctx.req.body
    names = [(c.text or "").strip() for c in children(child(body, "RequestedConfiguration"))]
    root, _ = flat_response(ctx.operation)
    messages = sub(root, m("ResponseMessages"))
    msg = sub(messages, m("ServiceConfigurationResponseMessageType"), ResponseClass="Success")
    sub(msg, m("ResponseCode"), "NoError")
    for name in names or ["MailTips", "UnifiedMessagingConfiguration", "ProtectionRules"]:
        if name == "MailTips":
            _mailtips_configuration(msg, ctx)
        elif name == "UnifiedMessagingConfiguration":
            _um_configuration(msg)
        elif name == "ProtectionRules":
            _protection_rules(msg, ctx)
        # PolicyNudges, SharePointURLs ...: nothing to configure, left out
    return root


# ------------------------------------------------------------------ GetMailTips (MS-OXWSMTGS? MS-OXWMT)

async def _recipient_tips(ctx: EwsContext, parent, address: str, name: str | None):
    directory = ctx.directory
    tips = sub(parent, m("MailTips"))
    rcpt = sub(tips, t("RecipientAddress"))
    sub(rcpt, t("Name"), name or "")
    sub(rcpt, t("EmailAddress"), address)
    sub(rcpt, t("RoutingType"), "SMTP")
    sub(tips, t("PendingMailTips"))
    internal = address.lower().endswith("@" + _domain(ctx))
    entry = None
    members = 1
    if directory.available and internal:
        entry = await directory.find(address)
        if entry is None:
            try:
                members = len(await directory.members(address))
                entry = True
            except Exception:  # noqa: BLE001 - not a group either
                entry = None
    oof = sub(tips, t("OutOfOffice"))
    body = sub(oof, t("ReplyBody"))
    if entry is not None and entry is not True:
        s = directory.automatic_replies(entry.email or address)
        if s.active():
            sub(body, t("Message"), s.internal_reply)
            if s.state == "Scheduled":
                d = sub(oof, t("Duration"))
                sub(d, t("StartTime"), format_datetime(s.start))
                sub(d, t("EndTime"), format_datetime(s.end))
        else:
            sub(body, t("Message"))
    else:
        sub(body, t("Message"))
    sub(tips, t("MailboxFull"), False)
    sub(tips, t("TotalMemberCount"), members)
    sub(tips, t("ExternalMemberCount"), 0 if internal else 1)
    sub(tips, t("MaxMessageSize"), MAX_MESSAGE_SIZE)
    sub(tips, t("DeliveryRestricted"), False)
    sub(tips, t("IsModerated"), False)
    sub(tips, t("InvalidRecipient"), bool(internal and directory.available and entry is None))


async def get_mail_tips(ctx: EwsContext):
    body = ctx.req.body
    recipients = children(child(body, "Recipients"))
    root, _ = flat_response(ctx.operation)
    messages = sub(root, m("ResponseMessages"))
    for r in recipients[:MAX_MAILTIPS_RECIPIENTS]:
        msg = sub(messages, m("MailTipsResponseMessageType"), ResponseClass="Success")
        sub(msg, m("ResponseCode"), "NoError")
        await _recipient_tips(ctx, msg, (text(r, "EmailAddress") or "").strip(), text(r, "Name"))
    return root


# ------------------------------------------------------------------ GetRoomLists / GetRooms (MS-OXWSGTRM)

async def _room_lists(ctx: EwsContext):
    """Directory groups whose members are all rooms: what Exchange calls room lists."""
    return await ctx.directory.room_lists(
        on_unreadable=lambda g, exc: log.warning("GetRoomLists: group %s could not be read: %s", g.dn, exc))


async def get_room_lists(ctx: EwsContext):
    try:
        lists = await _room_lists(ctx)
    except Exception as exc:  # noqa: BLE001
        root, _ = flat_response(ctx.operation, "ErrorInternalServerError", f"The directory failed: {exc}")
        return root
    root, _ = flat_response(ctx.operation)
    container = sub(root, m("RoomLists"))
    for g in lists:
        write_mailbox(container, g.display_name, g.email, mtype="PublicDL").tag = t("Address")
    return root


async def get_rooms(ctx: EwsContext):
    address = (text(child(ctx.req.body, "RoomList"), "EmailAddress") or "").strip()
    lists = {(g.email or "").lower(): g for g in await _room_lists(ctx)}
    group = lists.get(address.lower())
    if group is None:
        root, _ = flat_response(ctx.operation, "ErrorNameResolutionNoResults",
                                f"{address or 'The room list'} is not a room list in the directory.")
        return root
    root, _ = flat_response(ctx.operation)
    rooms = sub(root, m("Rooms"))
    for r in await ctx.directory.members(group.dn):
        room = sub(rooms, t("Room"))
        write_mailbox(room, r.display_name, r.email, mtype="Mailbox").tag = t("Id")
    return root


# ------------------------------------------------------------------ delegates (MS-OXWSDLGM)

async def get_delegate(ctx: EwsContext):
    address = text(child(ctx.req.body, "Mailbox"), "EmailAddress")
    try:
        if address:
            ctx.check_mailbox(address.strip())
    except ResponseError as err:
        root, _ = flat_response(ctx.operation, err.code, err.message)
        return root
    root, _ = flat_response(ctx.operation)
    # no delegates: the backends hold no delegate list; meeting requests go to the owner only
    sub(root, m("DeliverMeetingRequests"), "DelegatesAndMe")
    return root


async def delegate_not_supported(ctx: EwsContext):
    root, _ = flat_response(ctx.operation, "ErrorInvalidOperation",
                            "Delegates are not supported by this server: the mail, calendar and contact "
                            "backends keep no delegate list (share folders through the backends' ACLs instead).")
    return root

