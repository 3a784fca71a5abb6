"""Issue 2's walkthrough: `exgate demo` in a child process, the store tour twice, with a restart between."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clients.store_tour import tour

pytestmark = pytest.mark.integration


def start_demo(data_dir: Path) -> subprocess.Popen:
    (data_dir / "demo.json").unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "demo", "--data-dir", str(data_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (data_dir / "demo.json").exists():
            return proc
        if proc.poll() is not None:
            raise AssertionError(f"exgate demo exited: {proc.stdout.read().decode(errors='replace')}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("exgate demo did not start within 60 s")


def stop_demo(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


async def test_store_tour_against_demo_with_restart(tmp_path):
    data = tmp_path / "demo"
    ids = tmp_path / "ids.json"
    lines: list[str] = []
    proc = start_demo(data)
    try:
        first = await tour(data, "bob", ids, out=lines.append)
    finally:
        printed = stop_demo(proc)
    assert "exgate demo is running at https://127.0.0.1:" in printed
    assert "bob@example.test" in printed and "password bobpw" in printed
    info = json.loads((data / "demo.json").read_text())
    assert {u["login"] for u in info["users"]} == {"alice", "bob", "carol"}
    text = "\n".join(lines)
    assert "Top of Information Store" in text and "Inbox" in text and "Calendar" in text
    assert len(first["inbox"]) >= 7 and len(first["calendar"]) >= 3 and len(first["contacts"]) >= 4

    proc = start_demo(data)  # a restart over the same data directory: no re-seeding, same ids
    try:
        second = await tour(data, "bob", ids, out=lines.append)
    finally:
        stop_demo(proc)
    assert second["same_as_before"] is True
    assert second["folders"] == first["folders"] and second["inbox"] == first["inbox"]
