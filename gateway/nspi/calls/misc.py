"""GetTemplateInfo, ModProps, ModLinkAtt, GetMailboxUrl, GetAddressBookUrl."""
from __future__ import annotations

from protocols.mapi.types import PropType as T
from protocols.nspi import codec as C
from protocols.nspi.template import codec_of

from .. import rows as R
from .. import templates
from .base import Call

# MS-OXNSPI 2.2.1.x NspiGetTemplateInfo flags, MS-OXPROPS template properties
TI_TEMPLATE, TI_SCRIPT = 0x1, 0x4
PidTagTemplateData = 0x00010102
PidTagScriptData = 0x00040102


async def get_template_info(call: Call, req) -> C.GetTemplateInfoResponse:
    """The details template of a display type or of a template DN (MS-OXNSPI 3.1.4.1.18, MS-OXOABKT):
    PidTagTemplateData for TI_TEMPLATE, PidTagScriptData for TI_SCRIPT; other flags are ignored
    (constraint 6). A Unicode or unknown code page is InvalidCodepage (constraints 3-4); a DN that names
    neither a template of ours nor an entry is InvalidLocale (constraint 5). Every locale gets the English
    templates."""
    if codec_of(req.code_page) is None:
        return call.fail(R.INVALID_CODEPAGE)
    if req.template_dn is not None:
        found = templates.for_dn(req.template_dn)
        if found is None:
            # an entry's own DN (its PidTagTemplateid names it, MS-OXOABK): the template of its display type
            entry = (await call.book()).find_dn(req.template_dn)
            if entry is None:
                return call.fail(R.INVALID_LOCALE)
            found = templates.for_display_type(0x1 if entry.kind == "group" else 0x0)
    else:
        found = templates.for_display_type(req.display_type)
    row = []
    if req.flags & TI_TEMPLATE:
        row.append(C.TaggedValue(PidTagTemplateData,
                                 C.PropValue(T.Binary, templates.template_data(found, req.code_page))))
    if req.flags & TI_SCRIPT:
        # a display template runs no script (scripts build addresses in creation templates, MS-OXOABKT 2.2.3)
        row.append(C.TaggedValue(PidTagScriptData, C.PropValue(T.Binary, b"")))
    return C.GetTemplateInfoResponse(code_page=req.code_page, row=tuple(row))


async def mod_props(call: Call, req) -> C.ModPropsResponse:
    """The directory is read-only through the gateway (MS-OXNSPI 3.1.4.1.12): no tags or no such object is
    InvalidParameter, anything else AccessDenied."""
    stat = req.state or C.Stat()
    if req.property_tags is None:
        return call.fail(R.INVALID_PARAMETER)
    book = await call.book()
    if book.entry(stat.current_rec) is None:
        return call.fail(R.INVALID_PARAMETER)
    return call.fail(R.ACCESS_DENIED)


async def mod_link_att(call: Call, req) -> C.ModLinkAttResponse:
    """Members and delegates cannot be changed through the gateway (MS-OXNSPI 3.1.4.1.13): no such object is
    InvalidParameter, anything else AccessDenied."""
    book = await call.book()
    if book.entry(req.minimal_id) is None:
        return call.fail(R.INVALID_PARAMETER)
    return call.fail(R.ACCESS_DENIED)


def _mailbox_id(call: Call) -> str:
    """The MailboxId Autodiscover puts in the user's URLs: <mailbox GUID>@<domain>."""
    email = getattr(call.user, "email", None) or ""
    guid = call.directory.mailbox_guid(email, getattr(call.user, "display_name", None))
    return f"{guid}@{email.split('@', 1)[-1]}"


async def get_mailbox_url(call: Call, req) -> C.GetMailboxUrlResponse:
    """The EMSMDB URL of the server a DN names (MS-OXCMAPIHTTP 2.2.5.18): Autodiscover's ServerDN is
    ``.../cn=Servers/cn=<mailbox GUID>@<domain>``, which names the MailboxId; any other DN, the user's."""
    dn = req.server_dn or ""
    low = dn.lower()
    mid = None
    if "/cn=servers/cn=" in low:
        mid = dn[low.index("/cn=servers/cn=") + len("/cn=servers/cn="):].split("/", 1)[0]
    if not mid or "@" not in mid:
        mid = _mailbox_id(call)
    return C.GetMailboxUrlResponse(server_url=f"{call.base_url}/mapi/emsmdb/?MailboxId={mid}")


async def get_address_book_url(call: Call, req) -> C.GetAddressBookUrlResponse:
    """The NSPI URL (MS-OXCMAPIHTTP 2.2.5.19), as Autodiscover publishes it."""
    return C.GetAddressBookUrlResponse(server_url=f"{call.base_url}/mapi/nspi/?MailboxId={_mailbox_id(call)}")
