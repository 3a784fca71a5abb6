"""MAPI over HTTP through `exgate record` in front of `exgate demo`, then `exgate replay` onto a fresh demo: the
scripted client (the project's codecs) logs on, reads the Inbox table, opens a message by the MID the table
gave, creates and deletes a folder by the FID the server gave, and disconnects. The replay puts the new
server's handles and ids into each Execute and finds no unexpected difference, ROP by ROP; a recorded
answer changed on purpose (a subject in a row) is reported at its ROP, row and column. The same for an
address book session (/mapi/nspi: Bind, GAL pages, ResolveNames to a MId, that MId's GetProps): replayed
without difference, and a display name changed in a recorded answer reported at its row and property."""
from __future__ import annotations

import asyncio
import base64
import json
import uuid
from types import SimpleNamespace

import pytest
from lxml import html as lhtml

from protocols import mapihttp as M
from protocols.capture import read_jsonl
from protocols.mapi.props import core as P
from protocols.mapi.restrictions import SortOrder, SortOrderSet
from protocols.rops import folder as F, message as MSG, property as PR, table as T

from protocols.nspi import codec as C

from .test_emsmdb import LOGON_ID, NO, MapiClient, logon
from .test_nspi import GAL_COLUMNS, NspiClient
from .test_record_replay import demo, recorder, replay

COLUMNS = (P.PidTagMid, P.PidTagSubject, P.PidTagMessageDeliveryTime)


async def mapi_session(base_url: str, tag: str) -> None:
    c = MapiClient(SimpleNamespace(base_url=base_url))
    await c.connect()
    lr, logon_h = await logon(c)
    inbox = lr.folder("inbox")
    got = await c.execute([
        F.OpenFolderRequest(LOGON_ID, 0, 1, inbox, 0),
        F.GetContentsTableRequest(LOGON_ID, 1, 2, 0),
        T.SetColumnsRequest(LOGON_ID, 2, 0, COLUMNS),
        T.SortTableRequest(LOGON_ID, 2, 0, SortOrderSet((SortOrder(P.PidTagSubject, 0),))),
        T.QueryRowsRequest(LOGON_ID, 2, 0, 1, 100),
    ], [logon_h, NO, NO])
    rows = got.rops[4].rows(COLUMNS)
    assert rows
    folder_h = got.handles[1]
    mid = rows[0].values[0]
    got = await c.execute([
        MSG.OpenMessageRequest(LOGON_ID, 0, 1, 0x0FFF, inbox, 0, mid),
        PR.GetPropertiesSpecificRequest(LOGON_ID, 1, 0, 1, (P.PidTagSubject, P.PidTagMid)),
        F.OpenFolderRequest(LOGON_ID, 2, 3, lr.folder("ipm_subtree"), 0),
        F.CreateFolderRequest(LOGON_ID, 3, 4, 1, 1, 0, 0, f"Replayed {tag}", ""),
    ], [folder_h, NO, logon_h, NO, NO])
    assert all(r.return_value == 0 for r in got.rops)
    fid = got.rops[3].folder_id
    got = await c.execute([F.DeleteFolderRequest(LOGON_ID, 0, 0x05, fid)], [got.handles[3]])
    assert got.rops[0].return_value == 0
    status, headers, _ = await c.post("Disconnect", M.DisconnectRequest().encode())
    assert status == 200 and headers["X-ResponseCode"] == "0"


async def shift_ids(base_url: str) -> None:
    c = MapiClient(SimpleNamespace(base_url=base_url))
    await c.connect()
    lr, logon_h = await logon(c)
    for n in range(3):
        got = await c.execute([F.OpenFolderRequest(LOGON_ID, 0, 1, lr.folder("ipm_subtree"), 0),
                               F.CreateFolderRequest(LOGON_ID, 1, 2, 1, 1, 0, 0, f"shift {n}", "")],
                              [logon_h, NO, NO])
        got = await c.execute([F.DeleteFolderRequest(LOGON_ID, 0, 0x05, got.rops[1].folder_id)], [got.handles[1]])
        assert got.rops[0].return_value == 0


async def nspi_session(base_url: str) -> None:
    """The address book: Bind, the hierarchy, the GAL in two pages, a name resolved to a MId, that MId's
    properties (its MId was the server's: the replay must map it), Unbind."""
    c = NspiClient(SimpleNamespace(base_url=base_url))
    await c.bind()
    await c.call(C.GetSpecialTableRequest(flags=0x4, state=C.Stat(code_page=1200), version=None))
    stat = C.Stat(code_page=1200)
    for _ in range(2):
        page = await c.call(C.QueryRowsRequest(flags=0, state=stat, explicit_table=(), row_count=3,
                                               columns=GAL_COLUMNS))
        stat = page.state
    res = await c.call(C.ResolveNamesRequest(state=C.Stat(code_page=1200), property_tags=(P.PidTagDisplayName,),
                                             names=("bob",)))
    (mid,) = res.minimal_ids
    props = await c.call(C.GetPropsRequest(flags=0, state=C.Stat(current_rec=mid, code_page=1200),
                                           property_tags=(P.PidTagDisplayName, P.PidTagSmtpAddress)))
    assert {t.value.value for t in props.property_values} >= {"bob@example.test"}
    await c.call(C.UnbindRequest(reserved=0))


def _change_first_subject(capture, out) -> int:
    """The recorded QueryRows answer with its first row's subject changed; -> the exchange's seq."""
    import dataclasses
    from protocols.rops import (decode_ext_buffer, decode_request_buffer, decode_response_buffer, encode_buffer,
                                encode_ext_buffer)
    from protocols.rops.rows import PropertyRow, encode_row
    lines = capture.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        obj = json.loads(line)
        if not any(k.lower() == "x-requesttype" and v == "Execute" for k, v in obj.get("request_headers", [])):
            continue
        asked = decode_request_buffer(decode_ext_buffer(M.ExecuteRequest.decode(
            base64.b64decode(obj["request_body"])).rop_buffer)[0].payload)
        if not any(isinstance(r, T.QueryRowsRequest) for r in asked.rops):
            continue
        body = base64.b64decode(obj["response_body"])
        inner = M.decode_stream(body).body
        resp = M.ExecuteResponse.decode(inner)
        answered = decode_response_buffer(decode_ext_buffer(resp.rop_buffer)[0].payload, asked.rops)
        k, qr = next((k, r) for k, r in enumerate(answered.rops) if isinstance(r, T.QueryRowsResponse))
        rows = qr.rows(COLUMNS)
        first = PropertyRow(rows[0].flag, (rows[0].values[0], "changed on purpose", *rows[0].values[2:]))
        data = encode_row(first, COLUMNS) + b"".join(encode_row(r, COLUMNS) for r in rows[1:])
        answered.rops[k] = dataclasses.replace(qr, row_data=data)
        new_inner = dataclasses.replace(resp, rop_buffer=encode_ext_buffer(
            [encode_buffer(answered.rops, answered.handles)])).encode()
        assert body.endswith(inner)
        obj["response_body"] = base64.b64encode(body[:len(body) - len(inner)] + new_inner).decode()
        lines[i] = json.dumps(obj) + "\n"
        out.write_text("".join(lines))
        return obj["seq"]
    raise AssertionError("no recorded QueryRows answer")


def _change_resolved_name(capture, out) -> int:
    """The recorded ResolveNames answer with its row's display name changed; -> the exchange's seq."""
    import dataclasses
    lines = capture.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        obj = json.loads(line)
        if not any(k.lower() == "x-requesttype" and v == "ResolveNames" for k, v in obj.get("request_headers", [])):
            continue
        body = base64.b64decode(obj["response_body"])
        inner = M.decode_stream(body).body
        resp = C.decode_response("ResolveNames", inner)
        row = resp.rows.rows[0]
        value = dataclasses.replace(row.values[0], value="Someone Else")
        rows = dataclasses.replace(resp.rows, rows=(dataclasses.replace(row, values=(value, *row.values[1:])),))
        new_inner = dataclasses.replace(resp, rows=rows).encode()
        obj["response_body"] = base64.b64encode(body[:len(body) - len(inner)] + new_inner).decode()
        lines[i] = json.dumps(obj) + "\n"
        out.write_text("".join(lines))
        return obj["seq"]
    raise AssertionError("no recorded ResolveNames answer")


@pytest.mark.timeout(600)
def test_mapi_record_then_replay_onto_a_fresh_demo(tmp_path):
    capture = tmp_path / "mapi.jsonl"
    tag = uuid.uuid4().hex[:8]
    with demo(tmp_path / "demo-a") as gw_a:
        with recorder(gw_a, capture) as proxy:
            asyncio.run(mapi_session(proxy, tag))
            asyncio.run(nspi_session(proxy))
    cap = read_jsonl(capture.read_bytes())
    kinds = [e.request_header("X-RequestType") for e in cap.exchanges]
    assert kinds[0] == "Connect" and "Disconnect" in kinds and kinds.count("Execute") == 4, kinds
    assert kinds[-7:] == ["Bind", "GetSpecialTable", "QueryRows", "QueryRows", "ResolveNames", "GetProps",
                          "Unbind"], kinds

    with demo(tmp_path / "demo-b") as gw_b:
        asyncio.run(shift_ids(gw_b))       # the new server hands out other FIDs than the recorded one did
        rc, out, report = replay(capture, gw_b, tmp_path / "report.json")
        assert rc == 0, out
        assert report["summary"] == {"replayed": len(cap.exchanges), "unexpected": 0}, out
        steps = report["steps"]
        assert [s["operation"].split(":", 1)[1] for s in steps] == kinds
        # the MID from the table and the FID of the new folder were the live server's: opened and deleted
        assert all(s["ok"] for s in steps) and sum(sum(s["ignored"].values()) for s in steps) > 0, out

        changed = tmp_path / "changed.jsonl"
        seq = _change_first_subject(capture, changed)
        page = tmp_path / "replay.html"
        rc, out, report = replay(changed, gw_b, tmp_path / "report-changed.json", "--html", str(page))
        assert rc == 1, out
        # the HTML report: the step that differed is open, names the path, the others are closed
        doc = lhtml.fromstring(page.read_text())
        opened = doc.xpath("//details[@open]")
        assert len(opened) == 1 and "RopQueryRows" in opened[0].text_content()
        assert "changed on purpose" in opened[0].text_content()
        assert len(doc.xpath("//details")) == len(report["steps"])
        bad = [s for s in report["steps"] if not s["ok"]]
        assert [s["seq"] for s in bad] == [seq], out
        (diff,) = bad[0]["differences"]
        assert "RopQueryRows" in diff["path"] and diff["path"].endswith("/row[0]/0x0037001F"), diff
        assert diff["kind"] == "value" and "changed on purpose" in diff["recorded"]

        # an address book answer changed on purpose: the row's display name
        renamed = tmp_path / "renamed.jsonl"
        seq = _change_resolved_name(capture, renamed)
        rc, out, report = replay(renamed, gw_b, tmp_path / "report-renamed.json")
        bad = [s for s in report["steps"] if not s["ok"]]
        assert rc == 1 and [s["seq"] for s in bad] == [seq], out
        (diff,) = bad[0]["differences"]
        assert diff["path"] == f"/ResolveNames/rows/row[0]/0x{P.PidTagDisplayName:08X}", diff
        assert "Someone Else" in diff["recorded"]
