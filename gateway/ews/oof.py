"""GetUserOofSettings / SetUserOofSettings (MS-OXWSOOF 3.1.4).

The settings live in the state database (gateway/store/oof.py). Nothing sends the
automatic reply yet: writing a Sieve vacation script over ManageSieve is a later step.
Both answers put a single m:ResponseMessage directly in the response (MS-OXWSOOF 2.2.4),
not a ResponseMessages list.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.store import oof as store_oof
from protocols.ews.ns import child, m, sub, t, text
from protocols.ews.responses import ResponseError
from protocols.ews.values import format_datetime, parse_datetime

from .context import EwsContext
from .services import flat_response, requested_mailbox


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
    s = store_oof.load(ctx.mbx.db, owner)
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
        cur = store_oof.load(ctx.mbx.db, owner)
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
            store_oof.save(ctx.mbx.db, owner, new)
        except ValueError as exc:
            raise ResponseError("ErrorInvalidParameter", str(exc))
    except ResponseError as err:
        root, _ = flat_response(ctx.operation, err.code, err.message, style="message")
        return root
    root, _ = flat_response(ctx.operation, style="message")
    return root
