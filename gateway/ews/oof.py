"""GetUserOofSettings / SetUserOofSettings (MS-OXWSOOF 3.1.4).

With a [sieve] server configured, SetUserOofSettings writes a Sieve vacation script over
ManageSieve (gateway/store/sieve_oof.py) and the backend sends the replies; the script is
the source of truth that GetUserOofSettings reads back. The state database keeps a copy
(MailTips read it), and is all there is without a ManageSieve server (the demo).
Both answers put a single m:ResponseMessage directly in the response (MS-OXWSOOF 2.2.4),
not a ResponseMessages list.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from gateway.store import errors as se
from gateway.store import oof as store_oof
from gateway.store import sieve_oof
from protocols.ews.ns import child, m, sub, t, text
from protocols.ews.responses import ResponseError
from protocols.ews.values import format_datetime, parse_datetime

from .context import EwsContext
from .services import flat_response, requested_mailbox

log = logging.getLogger("exgate.ews.oof")


def _reply(parent, name: str, message: str, culture: str | None):
    el = sub(parent, t(name))
    if culture:
        el.set("{http://www.w3.org/XML/1998/namespace}lang", culture)
    sub(el, t("Message"), message or "")


def _reply_text(el) -> tuple[str, str | None]:
    if el is None:
        return "", None
    return (text(el, "Message") or ""), el.get("{http://www.w3.org/XML/1998/namespace}lang")


async def get_user_oof_settings(ctx: EwsContext):
    try:
        owner = requested_mailbox(ctx, child(ctx.req.body, "Mailbox"))
    except ResponseError as err:
        root, _ = flat_response(ctx.operation, err.code, err.message, style="message")
        return root
    s = ctx.mbx.oof_settings(owner)
    try:
        on_server = await _sieve_read(ctx)
    except se.StoreError as exc:
        # Outlook asks at every start: answer with the last settings written, and say why in the log
        log.warning("reading %s's automatic replies from ManageSieve failed, using the stored copy: %s", owner, exc)
        on_server = None
    if on_server is not None:
        if on_server != s:
            try:
                ctx.mbx.save_oof_settings(owner, on_server)
            except ValueError:   # a hand-edited marker; still report what the server holds
                pass
        s = on_server
    root, _ = flat_response(ctx.operation, style="message")
    el = sub(root, t("OofSettings"))
    sub(el, t("OofState"), s.state)
    sub(el, t("ExternalAudience"), s.external_audience)
    # Exchange always reports a Duration; without a schedule it is the coming day
    start = s.start or datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    end = s.end or start + timedelta(days=1)
    d = sub(el, t("Duration"))
    sub(d, t("StartTime"), format_datetime(start))
    sub(d, t("EndTime"), format_datetime(end))
    _reply(el, "InternalReply", s.internal_reply, s.internal_culture)
    _reply(el, "ExternalReply", s.external_reply, s.external_culture)
    sub(root, m("AllowExternalOof"), "All")
    return root


async def set_user_oof_settings(ctx: EwsContext):
    body = ctx.req.body
    try:
        owner = requested_mailbox(ctx, child(body, "Mailbox"))
        el = child(body, "UserOofSettings")
        if el is None:
            raise ResponseError("ErrorInvalidRequest", "UserOofSettings is required.")
        cur = ctx.mbx.oof_settings(owner)
        new = store_oof.OofSettings(
            state=(text(el, "OofState") or cur.state).strip(),
            external_audience=(text(el, "ExternalAudience") or cur.external_audience).strip())
        dur = child(el, "Duration")
        if dur is not None:
            try:
                new.start = parse_datetime(text(dur, "StartTime") or "")
                new.end = parse_datetime(text(dur, "EndTime") or "")
            except ValueError:
                raise ResponseError("ErrorInvalidParameter", "Duration needs a StartTime and an EndTime.")
        else:
            new.start, new.end = cur.start, cur.end
        new.internal_reply, new.internal_culture = _reply_text(child(el, "InternalReply"))
        new.external_reply, new.external_culture = _reply_text(child(el, "ExternalReply"))
        try:
            store_oof.validate(new)
        except ValueError as exc:
            raise ResponseError("ErrorInvalidParameter", str(exc))
        await _sieve_write(ctx, owner, new)
        ctx.mbx.save_oof_settings(owner, new)
    except ResponseError as err:
        root, _ = flat_response(ctx.operation, err.code, err.message, style="message")
        return root
    root, _ = flat_response(ctx.operation, style="message")
    return root


def _sieve_addresses(ctx: EwsContext, owner: str) -> tuple[list[str], list[str]]:
    """(the user's addresses, the domains whose senders get InternalReply)."""
    addresses = list(dict.fromkeys(a for a in (owner, ctx.user.email, ctx.mbx.email) if a and "@" in a))
    domains = [a.rpartition("@")[2] for a in addresses]
    cfg_domain = getattr(ctx.state.config, "domain", None)
    return addresses, list(dict.fromkeys(d.lower() for d in (*domains, cfg_domain) if d))


async def _sieve_read(ctx: EwsContext) -> store_oof.OofSettings | None:
    return await sieve_oof.load_from_server(ctx.state.config, ctx.user.credentials())


async def _sieve_write(ctx: EwsContext, owner: str, settings: store_oof.OofSettings) -> None:
    addresses, domains = _sieve_addresses(ctx, owner)
    try:
        await sieve_oof.save_to_server(ctx.state.config, ctx.user.credentials(), settings,
                                       addresses=addresses, internal_domains=domains)
    except se.AccessDenied as exc:
        raise ResponseError("ErrorAccessDenied", f"The automatic-reply rule could not be stored: {exc}")
    except se.StoreError as exc:
        log.warning("writing %s's vacation script failed: %s", owner, exc)
        raise ResponseError("ErrorInternalServerError",
                            "The automatic-reply rule could not be stored: the ManageSieve server failed "
                            "(the gateway's log has the details).")
