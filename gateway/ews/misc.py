"""GetServerTimeZones (MS-OXWSGTZ) and ConvertId (MS-OXWSCORE 3.1.4.3)."""
from __future__ import annotations

import base64
from dataclasses import dataclass

from protocols.ews import ids as ewsids
from protocols.ews.ns import XSI, child, children, local, m, sub, t
from protocols.ews.responses import ResponseError
from protocols.mapi import ids as wire

from .context import EwsContext, for_each


@dataclass(frozen=True)
class Rule:
    """A yearly transition: the ``occurrence``-th ``weekday`` of ``month`` at ``time`` (-1/5 = last)."""

    month: int
    weekday: str
    occurrence: int
    time: str          # xs:duration, e.g. PT2H


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    std_bias: str      # xs:duration, the Windows Bias (UTC = local + bias)
    std_name: str = "Standard"
    dst_bias: str | None = None
    to_dst: Rule | None = None
    to_std: Rule | None = None


# Current rules of a few Windows zones (the registry's "Dynamic DST" last entry).
ZONES: tuple[Zone, ...] = (
    Zone("UTC", "(UTC) Coordinated Universal Time", "PT0H"),
    Zone("GMT Standard Time", "(UTC+00:00) Dublin, Edinburgh, Lisbon, London", "PT0H", dst_bias="-PT1H",
         to_dst=Rule(3, "Sunday", -1, "PT1H"), to_std=Rule(10, "Sunday", -1, "PT2H")),
    Zone("W. Europe Standard Time", "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "-PT1H",
         dst_bias="-PT2H", to_dst=Rule(3, "Sunday", -1, "PT2H"), to_std=Rule(10, "Sunday", -1, "PT3H")),
    Zone("Romance Standard Time", "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris", "-PT1H", dst_bias="-PT2H",
         to_dst=Rule(3, "Sunday", -1, "PT2H"), to_std=Rule(10, "Sunday", -1, "PT3H")),
    Zone("Eastern Standard Time", "(UTC-05:00) Eastern Time (US & Canada)", "PT5H", dst_bias="PT4H",
         to_dst=Rule(3, "Sunday", 2, "PT2H"), to_std=Rule(11, "Sunday", 1, "PT2H")),
    Zone("Central Standard Time", "(UTC-06:00) Central Time (US & Canada)", "PT6H", dst_bias="PT5H",
         to_dst=Rule(3, "Sunday", 2, "PT2H"), to_std=Rule(11, "Sunday", 1, "PT2H")),
    Zone("Pacific Standard Time", "(UTC-08:00) Pacific Time (US & Canada)", "PT8H", dst_bias="PT7H",
         to_dst=Rule(3, "Sunday", 2, "PT2H"), to_std=Rule(11, "Sunday", 1, "PT2H")),
    Zone("India Standard Time", "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi", "-PT5H30M"),
    Zone("Tokyo Standard Time", "(UTC+09:00) Osaka, Sapporo, Tokyo", "-PT9H"),
    Zone("AUS Eastern Standard Time", "(UTC+10:00) Canberra, Melbourne, Sydney", "-PT10H", dst_bias="-PT11H",
         to_dst=Rule(10, "Sunday", 1, "PT2H"), to_std=Rule(4, "Sunday", 1, "PT3H")),
)
ZONES_BY_ID = {z.id: z for z in ZONES}


def write_zone(parent, z: Zone, full: bool = True):
    el = sub(parent, t("TimeZoneDefinition"), Id=z.id, Name=z.name)
    if not full:
        return el
    base = f"trule:Microsoft/Registry/{z.id}/2007"
    periods = sub(el, t("Periods"))
    sub(periods, t("Period"), Bias=z.std_bias, Name="Standard", Id=f"{base}-Standard")
    if z.dst_bias is not None:
        sub(periods, t("Period"), Bias=z.dst_bias, Name="Daylight", Id=f"{base}-Daylight")
    groups = sub(el, t("TransitionsGroups"))
    group = sub(groups, t("TransitionsGroup"), Id="0")
    if z.dst_bias is None:
        tr = sub(group, t("Transition"))
        sub(tr, t("To"), f"{base}-Standard", Kind="Period")
    else:
        for rule, target in ((z.to_dst, "Daylight"), (z.to_std, "Standard")):
            tr = sub(group, t("RecurringDayTransition"))
            sub(tr, t("To"), f"{base}-{target}", Kind="Period")
            sub(tr, t("TimeOffset"), rule.time)
            sub(tr, t("Month"), rule.month)
            sub(tr, t("DayOfWeek"), rule.weekday)
            sub(tr, t("Occurrence"), rule.occurrence)
    transitions = sub(el, t("Transitions"))
    tr = sub(transitions, t("Transition"))
    sub(tr, t("To"), "0", Kind="Group")
    return el


async def get_server_time_zones(ctx: EwsContext):
    body = ctx.req.body
    full = body.get("ReturnFullTimeZoneData", "true").lower() in ("true", "1")
    wanted = [(c.text or "").strip() for c in children(child(body, "Ids"))]

    async def one(_, el):
        defs = sub(el, m("TimeZoneDefinitions"))
        for z in ZONES:
            if not wanted or z.id in wanted:
                write_zone(defs, z, full)
    return await for_each(ctx, [None], one)


def _to_format(ctx: EwsContext, kind: str, fmid: int, fmt: str) -> str:
    if fmt in ("EwsId", "EwsLegacyId"):
        return ewsids.EwsId(kind, ctx.mbx.ident.mailbox_guid, fmid).encode()
    if kind == "folder":
        entry = ctx.mbx.ident.folder_entryid(ctx.mbx.ident.globcnt_of(fmid))
    else:
        entry = ctx.mbx.item_entryid(fmid)
    if fmt == "EntryId":
        return base64.b64encode(entry).decode("ascii")
    if fmt == "HexEntryId":
        return entry.hex().upper()
    if fmt == "StoreId":
        return ewsids.encode_store_id(entry, kind)
    if fmt == "OwaId":
        return ewsids.encode_owa_id(entry, kind)
    raise ResponseError("ErrorInvalidOperation", f"Ids in the {fmt} format are not supported by this server.")


def _from_format(ctx: EwsContext, value: str, fmt: str) -> tuple[str, int]:
    if fmt in ("EwsId", "EwsLegacyId"):
        try:
            eid = ewsids.decode_id(value)
        except ewsids.IdMalformed:
            raise ResponseError("ErrorInvalidIdMalformed", None)
        if eid.mailbox_guid != ctx.mbx.ident.mailbox_guid:
            raise ResponseError("ErrorInvalidIdMalformed", "The id belongs to another mailbox.")
        return eid.kind, eid.fmid
    if fmt in ("EntryId", "HexEntryId", "StoreId", "OwaId"):
        try:
            if fmt == "HexEntryId":
                raw = bytes.fromhex(value)
            elif fmt == "StoreId":
                raw = ewsids.decode_store_id(value)
            elif fmt == "OwaId":
                raw = ewsids.decode_owa_id(value)
            else:
                raw = base64.b64decode(value, validate=True)
            kind, fmid = ctx.mbx.resolve_entryid(raw)
        except (ValueError, wire.IdError):
            raise ResponseError("ErrorInvalidIdMalformed", None)
        return ("folder" if kind == "folder" else "item"), fmid
    raise ResponseError("ErrorInvalidOperation", f"Ids in the {fmt} format are not supported by this server.")


async def convert_id(ctx: EwsContext):
    body = ctx.req.body
    dest = body.get("DestinationFormat", "EwsId")
    sources = children(child(body, "SourceIds"))

    async def one(src, el):
        if local(src) != "AlternateId":
            raise ResponseError("ErrorInvalidOperation", f"{local(src)} sources are not supported.")
        kind, fmid = _from_format(ctx, src.get("Id") or "", src.get("Format", "EwsId"))
        out = sub(el, m("AlternateId"), Format=dest, Id=_to_format(ctx, kind, fmid, dest), Mailbox=ctx.user.email)
        out.set(f"{{{XSI}}}type", "t:AlternateIdType")
    return await for_each(ctx, sources, one)
