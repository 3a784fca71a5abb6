"""`exgate passwd` as a process: NT hashes land in the state database, never the password."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.http.auth.credentials import nt_hash

REPO = Path(__file__).resolve().parents[2]


def exgate(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def test_passwd_stores_only_the_nt_hash(tmp_path):
    cfg = tmp_path / "exgate.toml"
    state = tmp_path / "state.sqlite3"
    cfg.write_text(f'[state]\ndsn = "{state}"\n[ldap]\ndirectory_file = "{DIRECTORY_LDIF}"\n')
    r = exgate("passwd", "alice@example.test", "-c", str(cfg), "--password-stdin", stdin="S3cret-pw\n")
    assert r.returncode == 0, r.stderr
    rows = sqlite3.connect(state).execute("SELECT login, nt_hash FROM ntlm_credentials").fetchall()
    assert rows == [("alice", nt_hash("S3cret-pw").hex())]           # keyed by uid, whatever was typed
    assert b"S3cret-pw" not in state.read_bytes()
    r = exgate("passwd", "mallory", "-c", str(cfg), "--password-stdin", stdin="x\n")
    assert r.returncode == 1 and "not a user" in r.stderr
    r = exgate("passwd", "bob", "--state", str(state), "--nt-hash-stdin", stdin=nt_hash("bobpw").hex().upper() + "\n")
    assert r.returncode == 0, r.stderr
    assert exgate("passwd", "--list", "--state", str(state)).stdout.split() == ["alice", "bob"]
    assert exgate("passwd", "bob", "--delete", "--state", str(state)).returncode == 0
    assert exgate("passwd", "--list", "--state", str(state)).stdout.split() == ["alice"]
