"""ResolveNames (MS-OXWSRSLNM) over the directory and the user's contacts; ExpandDL (MS-OXWSXPROP)."""
from __future__ import annotations

from gateway.store import errors as se
from protocols.ews.items import write_mailbox
from protocols.ews.ns import child, m, sub, t, text
from protocols.ews.responses import ResponseError, message, response_root
from protocols.mapi.props import by_name
from protocols.mapi.props import core as P

from .context import EwsContext, store_error

MAX_RESULTS = 100


def _strip(entry: str) -> str:
    e = entry.strip()
    return e[5:] if e[:5].lower() == "smtp:" else e


async def _contacts_matching(ctx: EwsContext, needle: str) -> list[tuple[str, str]]:
    try:
        folder = await ctx.mbx.folder_by_role("contacts")
        items = await ctx.mbx.list_items(folder.fid)
    except Exception:  # noqa: BLE001 - no contacts backend: the directory still answers
        return []
    emails = [by_name(n) for n in ("PidLidEmail1EmailAddress", "PidLidEmail2EmailAddress",
                                   "PidLidEmail3EmailAddress")]
    out = []
    low = needle.lower()
    for it in items:
        name = it.props.get(P.PidTagDisplayName) or it.props.get(P.PidTagSubject) or ""
        for key in emails:
            addr = next((v for k, v in it.props.items() if getattr(k, "key", None) == key.key), None)
            if addr and (name.lower().startswith(low) or addr.lower().startswith(low)
                         or any(w.startswith(low) for w in name.lower().split())):
                out.append((name or addr, addr))
    return out


async def resolve_names(ctx: EwsContext):
    body = ctx.req.body
    entry = _strip(text(body, "UnresolvedEntry") or "")
    full = body.get("ReturnFullContactData", "false").lower() in ("true", "1")
    scope = body.get("SearchScope", "ActiveDirectoryContacts")
    root, messages = response_root(ctx.operation)
    if not entry:
        message(messages, ctx.operation, "ErrorNameResolutionNoResults")
        return root
    found: list[tuple[str, str, str]] = []   # (name, email, MailboxType)
    directory = ctx.directory
    if directory.available and scope != "Contacts":
        try:
            for d in await directory.search(entry, limit=MAX_RESULTS):
                if d.email:
                    found.append((d.display_name or d.email, d.email,
                                  "PublicDL" if d.kind == "group" else "Mailbox"))
        except Exception as exc:  # noqa: BLE001
            err = store_error(exc)
            message(messages, ctx.operation, err.code, err.message)
            return root
    if scope != "ActiveDirectory":
        seen = {e.lower() for _, e, _ in found}
        for name, addr in await _contacts_matching(ctx, entry):
            if addr.lower() not in seen:
                found.append((name, addr, "Contact"))
                seen.add(addr.lower())
    if not found:
        message(messages, ctx.operation, "ErrorNameResolutionNoResults")
        return root
    if len(found) == 1:
        el = message(messages, ctx.operation)
    else:
        el = message(messages, ctx.operation, "ErrorNameResolutionMultipleResults",
                     "Multiple results were found.", response_class="Warning")
    rs = sub(el, m("ResolutionSet"), TotalItemsInView=str(len(found)), IncludesLastItemInRange="true")
    for name, email, mtype in found:
        res = sub(rs, t("Resolution"))
        write_mailbox(res, name, email, "SMTP", mtype)
        if full or True:
            c = sub(res, t("Contact"))
            sub(c, t("DisplayName"), name)
            ea = sub(c, t("EmailAddresses"))
            sub(ea, t("Entry"), f"SMTP:{email}", Key="EmailAddress1")
            sub(c, t("ContactSource"), "Contacts" if mtype == "Contact" else "ActiveDirectory")
    return root


async def expand_dl(ctx: EwsContext):
    mb = child(ctx.req.body, "Mailbox")
    address = _strip(text(mb, "EmailAddress") or "")
    root, messages = response_root(ctx.operation)
    directory = ctx.directory
    try:
        members = await directory.members(address) if directory.available and address else []
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, se.NotFound):    # the directory has no such list: a request error
            err = ResponseError("ErrorNameResolutionNoResults", None)
        else:
            err = store_error(exc)
            if err.code == "ErrorItemNotFound":
                err = ResponseError("ErrorNameResolutionNoResults", None)
        message(messages, ctx.operation, err.code, err.message)
        return root
    if not members:
        message(messages, ctx.operation, "ErrorNameResolutionNoResults")
        return root
    el = message(messages, ctx.operation)
    exp = sub(el, m("DLExpansion"), TotalItemsInView=str(len(members)), IncludesLastItemInRange="true")
    for d in members:
        write_mailbox(exp, d.display_name, d.email, "SMTP", "PublicDL" if d.kind == "group" else "Mailbox")
    return root
