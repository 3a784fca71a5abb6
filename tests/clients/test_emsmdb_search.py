"""MAPI over HTTP search folders, on both gateways: RopCreateFolder with FolderType 2 (as Outlook makes
Reminders and To-Do), RopSetSearchCriteria over a folder with a content restriction, the search folder's
contents table holding exactly the matching messages of the scope (a message saved later that matches
shows up), RopGetSearchCriteria giving back the restriction, scope and SEARCH_COMPLETE, and the errors:
criteria asked before any were set, SetSearchCriteria on a folder that is not a search folder."""
from __future__ import annotations

import uuid

import pytest

from protocols.mapi.props import core as P
from protocols.mapi.restrictions import FL_IGNORECASE, FL_SUBSTRING, ContentRestriction
from protocols.rops import folder as F, message as MSG, property as PR, table as T

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_emsmdb_folderops import make_folder_with_messages

EC_NOT_SEARCH_FOLDER, EC_NOT_INITIALIZED = 0x00000461, 0x80040605
RESTART_SEARCH, SHALLOW_SEARCH = 0x02, 0x08
SEARCH_COMPLETE = 0x1000


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


async def test_search_folder_over_a_folder(gw):
    tag = uuid.uuid4().hex[:6]
    c = MapiClient(gw)
    await c.connect()
    lr, logon_h = await logon(c)
    subjects = [f"alpha {tag} one", f"beta {tag}", f"ALPHA {tag} two"]
    _, src_h, src, mids = await make_folder_with_messages(c, logon_h, lr, f"Scope {tag}", subjects)
    finder = lr.folder("finder")
    wanted = ContentRestriction(FL_SUBSTRING | FL_IGNORECASE, P.PidTagSubject, f"alpha {tag}")
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, finder, 0),
        F.CreateFolderRequest(LOGON_ID, 1, 2, 2, 1, 0, 0, f"Alpha mail {tag}", ""),
        F.GetSearchCriteriaRequest(LOGON_ID, 2, 1, 1, 1),
        F.SetSearchCriteriaRequest(LOGON_ID, 2, wanted, (src,), RESTART_SEARCH | SHALLOW_SEARCH),
        F.GetSearchCriteriaRequest(LOGON_ID, 2, 1, 1, 1),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 2, 0, 1, (P.PidTagFolderType,)),
        F.SetSearchCriteriaRequest(LOGON_ID, 1, wanted, (src,), RESTART_SEARCH),
    ], [logon_h, NO, NO])
    opened, created, before, setc, criteria, ftype, not_search = got.rops
    assert opened.return_value == 0 and created.return_value == 0
    assert before.return_value == EC_NOT_INITIALIZED
    assert setc.return_value == 0, hex(setc.return_value)
    assert criteria.return_value == 0 and criteria.folder_ids == (src,)
    assert criteria.search_flags & SEARCH_COMPLETE and criteria.restriction == wanted
    assert ftype.row((P.PidTagFolderType,)).values == (2,)
    assert not_search.return_value == EC_NOT_SEARCH_FOLDER
    search_h = got.handles[2]

    cols = (P.PidTagSubject, P.PidTagMid, P.PidTagParentFolderId)

    async def rows():
        got = await c.execute([F.GetContentsTableRequest(LOGON_ID, 0, 1, 0),
                               T.SetColumnsRequest(LOGON_ID, 1, 0, cols),
                               T.QueryRowsRequest(LOGON_ID, 1, 0, 1, 100)], [search_h, NO])
        assert got.rops[0].return_value == 0 and got.rops[0].row_count == len(got.rops[2].rows(cols))
        return sorted(r.values for r in got.rops[2].rows(cols))
    found = await rows()
    assert [r[0] for r in found] == sorted([subjects[0], subjects[2]])
    assert {r[1] for r in found} == {mids[0], mids[2]} and {r[2] for r in found} == {src}

    # a matching message saved into the scope later is in the next read of the table
    got = await c.execute([
        MSG.CreateMessageRequest(LOGON_ID, 0, 1, 0x0FFF, src, 0),
        PR.SetPropertiesRequest(LOGON_ID, 1, ((P.PidTagSubject, f"Alpha {tag} three"), (P.PidTagBody, "x"))),
        MSG.SaveChangesMessageRequest(LOGON_ID, 1, 1, 0x01),
    ], [src_h, NO])
    assert all(r.return_value == 0 for r in got.rops)
    assert len(await rows()) == 3
