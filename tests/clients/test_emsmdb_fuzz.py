"""Seeded fuzz of the ROP handlers on the demo gateway: every ROP request the codecs know, with its fields set
at random (handle indexes on a logon, folder, table, message and nothing; ids of this mailbox, of nothing and
of another replica; odd tags, names and sizes), sent in Executes. Whatever the values, each ROP is answered
with its own code and the session goes on: the handlers' catch-all (a logged 'ROP 0x.. failed' with a
traceback, answered ecError) is never reached."""
from __future__ import annotations

import dataclasses
import logging
import random
import uuid

from protocols.mapi.props import core as P
from protocols.rops import REQUEST_CLASSES, RopFormatError, encode_buffer
from protocols.rops import folder as F, message as MSG, table as T

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_emsmdb_folderops import make_folder_with_messages

SKIP = {0xFE, 0x01}            # RopLogon (its own test), RopRelease (would free the objects the others use)
ROUNDS = 6


def _value(f, rnd: random.Random, ids: list[int]):
    name, kind = f.name, str(f.type)
    if name == "logon_id":
        return LOGON_ID
    if "handle_index" in name:
        return rnd.choice([0, 1, 2, 3, 4, 9])
    if name.endswith("_ids") or name in ("message_ids", "folder_ids"):
        return tuple(rnd.choice(ids) for _ in range(rnd.randrange(0, 3)))
    if name.endswith("_id") or name in ("object_id",):
        return rnd.choice(ids)
    if name.endswith("tags") or name == "columns":
        return tuple(rnd.choice([P.PidTagSubject, P.PidTagMid, 0x80010003, 0x0E080003, 0x00000000])
                     for _ in range(rnd.randrange(0, 4)))
    if "str" in kind:
        return rnd.choice(["", "x", "IPM.Note", "Fuzz"])
    if "bytes" in kind:
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 10)))
    if "int" in kind:
        return rnd.choice([0, 1, 2, 3, 0x10, 0xFF])
    return f.default if f.default is not dataclasses.MISSING else None


async def test_random_rops_never_reach_the_catch_all(demo_gateway, caplog):
    c = MapiClient(demo_gateway)
    await c.connect()
    lr, logon_h = await logon(c)
    # a folder of its own with a message: what the fuzz moves, deletes or sends stays out of other tests' way
    _, folder_h, fid, (mid,) = await make_folder_with_messages(c, logon_h, lr, f"Fuzz {uuid.uuid4().hex[:6]}",
                                                                ["fuzzed"])
    cols = (P.PidTagMid, P.PidTagSubject)
    got = await c.execute([F.GetContentsTableRequest(LOGON_ID, 0, 1, 0), T.SetColumnsRequest(LOGON_ID, 1, 0, cols),
                           MSG.OpenMessageRequest(LOGON_ID, 0, 2, 0x0FFF, fid, 0x01, mid)], [folder_h, NO, NO])
    table_h, message_h = got.handles[1], got.handles[2]
    ids = [fid, mid, 0, 1, 0x0005 | (77 << 16), 0x0001 | (0x7FFFFF << 16), (1 << 64) - 1]
    rnd = random.Random(20261205)
    sent = 0
    caplog.set_level(logging.ERROR, logger="gateway.emsmdb.execute")
    for rop_id, cls in sorted(REQUEST_CLASSES.items()):
        if rop_id in SKIP:
            continue
        for _ in range(ROUNDS):
            try:
                req = cls(**{f.name: _value(f, rnd, ids) for f in dataclasses.fields(cls) if f.init})
                encode_buffer([req], [logon_h])
            except (RopFormatError, TypeError, ValueError, OverflowError, AttributeError):
                continue                                    # values the wire cannot carry
            got = await c.execute([req], [logon_h, folder_h, table_h, message_h, NO])
            assert len(got.rops) <= 1
            sent += 1
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert not failed, failed
    assert sent > 300
    # the session is still there and answers
    got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("inbox"), 0)], [logon_h, NO])
    assert got.rops[0].return_value == 0
