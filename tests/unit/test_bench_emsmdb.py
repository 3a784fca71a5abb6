"""bench/emsmdb.py at a tiny size, so the bench cannot rot unseen: every part runs and gives its figures
(20 messages, 3 sessions, the embedded backend, the gateway in its child process). Nothing about time is
asserted."""
from __future__ import annotations

from bench import emsmdb as E
from protocols.rops import decode_response_buffer
from protocols.rops import table as T


def test_codec_figures_and_buffers_round_trip():
    rows = E.table_rows(20)
    (buf,) = E.response_buffers(rows)
    resp = decode_response_buffer(buf, [T.QueryRowsRequest(E.LOGON_ID, 0, 0, 1, E.MAX_ROWS)], {0: E.COLUMNS}).rops[0]
    assert resp.row_count == 20 and resp.rows(E.COLUMNS) == rows
    got = E.codec(20, seconds=0.02)
    assert got["buffers"] == 1 and got["bytes"] == len(buf)
    assert set(got["paths"]) == {"response encode", "response decode", "gateway property_row", "request encode",
                                 "request decode"}
    assert all(p["mb_s"] > 0 and p["tables_s"] > 0 for p in got["paths"].values())
    assert got["response round trip mb_s"] > 0 and got["request round trip mb_s"] > 0
    E.print_codec(got)
    assert "cProfile of response decode" in E.profile(20, ["response decode"])


async def test_whole_bench_tiny(tmp_path, capsys):
    figures = await E.run(20, 1, 3, backend="embedded", seconds=0.02, tmp=tmp_path, profile_gateway=True)
    q, s = figures["queryrows"], figures["sessions"]
    assert figures["backend"] == "embedded"
    assert q["rows"] == 20 and q["fetched"] == 20 and q["executes"] >= 4
    for key in ("direct_cold", "direct_warm", "mapi_cold", "mapi_warm", "direct_held", "mapi_held"):
        assert q[key] > 0, key
    x = figures["extra"]
    assert x["rows"] == 20 and x["fetched"] == 20
    for key in ("summary_warm", "extra_cold", "extra_warm", "direct_summary", "direct_whole"):
        assert x[key] > 0, key
    assert "ncalls" in q["gateway_profile"] and "gateway/" in q["gateway_profile"]
    assert s["sessions"] == 3 and s["waiting"] == 3 and s["traced_waiting"] == 3
    assert s["rss_after_kib"] > 0 and s["traced_per_session_kib"] > 0
    out = capsys.readouterr().out
    for part in ("1. QueryRows", "1b. One", "2. The ROP codec", "3. Memory per idle session"):
        assert part in out
