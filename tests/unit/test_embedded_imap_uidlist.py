"""The embedded pymap server forgets expunged and moved-away messages in its dovecot-uidlist.

pymap 0.36 drops those lines only on an IMAP CHECK, which the gateway never sends: each draft saved
and deleted left a line behind for good, and every later access to the folder read the longer file
(the 50-client soak, bench/soak.py, found 300+ dead lines per Drafts folder after 10 minutes)."""
from __future__ import annotations

import asyncio
import imaplib

from gateway.backends.embedded.imap import EmbeddedImap
from gateway.backends.embedded.users import DemoUser

USER = DemoUser("soaky", "soak-pass-1", "soaky@example.test", "Soak Y")


def _uidlist_uids(path) -> list[int]:
    lines = path.read_text().splitlines()[1:]        # the first line is the header
    return [int(line.split(" ", 1)[0]) for line in lines if line.strip()]


def _save_and_delete(port: int, drafts: int, moves: int) -> None:
    imap = imaplib.IMAP4("127.0.0.1", port)
    try:
        imap.login(USER.login, USER.password)
        for n in range(drafts + moves):
            typ, _ = imap.append("Drafts", r"(\Draft)", None,
                                 f"Subject: draft {n}\r\n\r\nbody {n}\r\n".encode())
            assert typ == "OK"
        typ, _ = imap.select("Drafts")
        assert typ == "OK"
        typ, data = imap.uid("SEARCH", None, "ALL")
        uids = data[0].split()
        assert len(uids) == drafts + moves
        for uid in uids[:moves]:
            typ, _ = imap.uid("MOVE", uid, "Trash")
            assert typ == "OK"
        for uid in uids[moves:]:
            imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        typ, _ = imap.expunge()
        assert typ == "OK"
        typ, data = imap.status("Drafts", "(MESSAGES)")
        assert b"MESSAGES 0" in data[0]
        typ, data = imap.status("Trash", "(MESSAGES)")
        assert f"MESSAGES {moves}".encode() in data[0]
    finally:
        imap.logout()


async def test_expunge_and_move_drop_the_uidlist_lines(tmp_path):
    server = EmbeddedImap(tmp_path, [USER])
    server.prepare()
    await server.start()
    try:
        await asyncio.to_thread(_save_and_delete, server.port, 6, 2)
    finally:
        await server.stop()
    maildir = server.account(USER.login).maildir
    assert _uidlist_uids(maildir / ".Drafts" / "dovecot-uidlist") == []
    assert len(_uidlist_uids(maildir / ".Trash" / "dovecot-uidlist")) == 2
