"""A tour of the store API against a running `exgate demo`.

    python -m tests.clients.store_tour --demo-dir exgate-demo [--user bob] [--ids ids.json]

Lists the user's folders in Exchange's shape, reads the seeded items with their
properties, creates, moves and deletes a message and an event, checks each
step over plain IMAP and CalDAV, and records the ids it saw in ``--ids``; run
again after restarting the demo and it checks the ids are the same.
Uses only the store API (plus imaplib/urllib to look at the backends directly).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import imaplib
import json
import sys
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway.config import Config, DavConfig, ImapConfig, SmtpConfig, StateConfig
from gateway.store import MessageContent, NotFound, Recipient, StateDB
from gateway.store.factory import Credentials, open_mailbox
from protocols.mapi.props import by_name
from protocols.mapi.props import core as P


def config_from_demo(info: dict) -> Config:
    ihost, iport = info["backends"]["imap"].rsplit(":", 1)
    shost, sport = info["backends"]["smtp"].rsplit(":", 1)
    return Config(state=StateConfig(dsn=info["state_database"]), imap=ImapConfig(host=ihost, port=int(iport)),
                  dav=DavConfig(url=info["backends"]["caldav_carddav"]), smtp=SmtpConfig(host=shost, port=int(sport)))


def imap_subjects(cfg: Config, user: dict, folder: str) -> list[str]:
    conn = imaplib.IMAP4(cfg.imap.host, cfg.imap.port)
    try:
        conn.login(user["login"], user["password"])
        conn.select(f'"{folder}"', readonly=True)
        _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [p[1].decode(errors="replace").split(":", 1)[1].strip() for p in data
                if isinstance(p, tuple) and b":" in p[1]]
    finally:
        conn.logout()


def dav_status(cfg: Config, user: dict, href: str) -> tuple[int, str]:
    req = urllib.request.Request(cfg.dav.url.rstrip("/") + href, headers={
        "Authorization": "Basic " + base64.b64encode(f"{user['login']}:{user['password']}".encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""


def show_tree(folders, out) -> None:
    by_parent: dict = {}
    for f in folders:
        by_parent.setdefault(f.parent_fid, []).append(f)

    def walk(parent, depth):
        for f in sorted(by_parent.get(parent, []), key=lambda f: f.display_name):
            out(f"{'  ' * depth}{f.display_name:<28} {f.container_class or '':<16} {f.kind:<8} "
                f"fid 0x{f.fid:016x} items {f.props.get(P.PidTagContentCount, 0)}")
            walk(f.fid, depth + 1)
    walk(None, 0)


async def tour(demo_dir: Path, login: str, ids_path: Path | None, out=print) -> dict:
    info = json.loads((demo_dir / "demo.json").read_text())
    user = next(u for u in info["users"] if u["login"] == login)
    cfg = config_from_demo(info)
    db = StateDB.open(cfg.state.dsn)
    mbx = await open_mailbox(db, cfg, Credentials(user["login"], user["email"], user["display_name"],
                                                  user["password"]))
    seen: dict = {}
    try:
        folders = await mbx.folders()
        out(f"== {user['email']}: {len(folders)} folders")
        show_tree(folders, out)
        by_role = {f.role: f for f in folders if f.role}
        seen["folders"] = {r: f"{f.fid:016x}" for r, f in by_role.items()}

        out("== Inbox")
        inbox_items = await mbx.list_items(by_role["inbox"].fid)
        for it in inbox_items:
            p = it.props
            out(f"  {p.get(P.PidTagSubject, '')[:50]:<50} from {p.get(P.PidTagSenderName, '')[:20]:<20} "
                f"{'unread' if not p.get(P.PidTagMessageFlags, 0) & P.MSGFLAG_READ else 'read  '} "
                f"{'[att]' if p.get(P.PidTagHasAttachments) else ''}")
        full = await mbx.get_item(next(i for i in inbox_items if i.props.get(P.PidTagHasAttachments)).mid)
        out(f"  one with attachments: {[a.props.get(P.PidTagAttachLongFilename) for a in full.content.attachments]}")
        seen["inbox"] = sorted(f"{i.mid:016x}:{i.props.get(P.PidTagSubject)}" for i in inbox_items)

        for role in ("calendar", "tasks", "contacts"):
            items = await mbx.list_items(by_role[role].fid)
            out(f"== {by_role[role].display_name}: {len(items)} items")
            for it in items:
                p = it.props
                extra = ""
                if role == "calendar":
                    extra = (f" {p.get(by_name('PidLidAppointmentStartWhole'))}"
                             f"{' recurring' if p.get(by_name('PidLidRecurring')) else ''}")
                out(f"  {p.get(P.PidTagSubject) or p.get(P.PidTagDisplayName)}{extra}")
            seen[role] = sorted(f"{i.mid:016x}" for i in items)

        out("== create, move and delete a message")
        subject = f"tour {uuid.uuid4().hex[:8]}"
        msg = await mbx.create_item(by_role["inbox"].fid, MessageContent(
            {P.PidTagMessageClass: "IPM.Note", P.PidTagSubject: subject, P.PidTagBody: "made by the store tour"},
            [Recipient({P.PidTagRecipientType: P.MAPI_TO, P.PidTagDisplayName: user["display_name"],
                        P.PidTagSmtpAddress: user["email"], P.PidTagEmailAddress: user["email"],
                        P.PidTagAddressType: "SMTP"})]))
        assert subject in imap_subjects(cfg, user, "INBOX")
        out(f"  created in Inbox, seen over IMAP: mid 0x{msg.mid:016x}")
        folder = await mbx.create_folder(by_role["ipm_subtree"].fid, f"Tour-{subject[-8:]}")
        await mbx.move_items([msg.mid], folder.fid)
        assert subject in imap_subjects(cfg, user, folder.ref) and subject not in imap_subjects(cfg, user, "INBOX")
        out(f"  moved to {folder.display_name!r}, seen there over IMAP, same mid: "
            f"{(await mbx.get_item(msg.mid)).fid == folder.fid}")
        await mbx.delete_items([msg.mid])
        await mbx.delete_folder(folder.fid)
        assert subject not in imap_subjects(cfg, user, "INBOX")
        out("  deleted (message and folder)")

        out("== create, move and delete an event")
        start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        ev = await mbx.create_item(by_role["calendar"].fid, MessageContent({
            P.PidTagMessageClass: "IPM.Appointment", P.PidTagSubject: subject,
            by_name("PidLidAppointmentStartWhole"): start,
            by_name("PidLidAppointmentEndWhole"): start + timedelta(minutes=30),
            by_name("PidLidLocation"): "Tour room"}))
        href = mbx.message_row(ev.globcnt)["href"]
        status, text = dav_status(cfg, user, href)
        assert status == 200 and subject in text
        out(f"  created in Calendar, seen over CalDAV at {href}")
        await mbx.move_items([ev.mid], by_role["deleted"].fid)
        assert dav_status(cfg, user, href)[0] == 404
        out("  moved to Deleted Items (gone from CalDAV, kept by the gateway with the same mid)")
        await mbx.delete_items([ev.mid])
        try:
            await mbx.get_item(ev.mid)
            raise AssertionError("the event should be gone")
        except NotFound:
            out("  deleted")
    finally:
        await mbx.close()
        db.close()
    if ids_path is not None:
        if ids_path.exists():
            before = json.loads(ids_path.read_text())
            same = all(before[k] == seen[k] for k in before)
            out(f"== ids after restart: {'the same' if same else 'CHANGED'}")
            seen["same_as_before"] = same
        else:
            ids_path.write_text(json.dumps(seen, indent=1))
            out(f"== ids written to {ids_path}; run again after a restart to compare")
    return seen


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo-dir", default="exgate-demo")
    ap.add_argument("--user", default="bob")
    ap.add_argument("--ids", type=Path)
    args = ap.parse_args()
    seen = asyncio.run(tour(Path(args.demo_dir), args.user, args.ids))
    return 0 if seen.get("same_as_before", True) else 1


if __name__ == "__main__":
    sys.exit(main())
