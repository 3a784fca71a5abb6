"""`exgate check` and `exgate serve` as processes: a config is checked before anything is created.

Against the real servers (Dovecot, slapd, Radicale, Postfix): `exgate check` signs
alice in and lists her folders; `exgate serve` refuses a file with problems in
one line per problem (file, section, key) and creates nothing; a busy port is
one line for `serve` and for `demo`.
"""
from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from gateway.config import Config, HttpConfig
from tests.stacks import USERS, real_config

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def exgate(*args: str, stdin: str = "", timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_toml(cfg: Config, path: Path) -> Path:
    lines = []
    for section, values in asdict(cfg).items():
        if not isinstance(values, dict):
            lines.insert(0, f"{section} = {_toml_value(values)}")
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def real_toml(dovecot, radicale, postfix, slapd, tmp_path) -> Path:
    cfg = real_config(dovecot, radicale, postfix, slapd, str(tmp_path / "state" / "state.sqlite3"))
    (tmp_path / "state").mkdir()
    cfg = replace(cfg, http=HttpConfig(host="127.0.0.1", port=_free_port()))
    return write_toml(cfg, tmp_path / "exgate.toml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_signs_in_and_lists_folders(real_toml):
    r = exgate("check", "-c", str(real_toml), "--user", "alice", "--password-stdin",
               stdin=USERS["alice"].password + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {line.split("  ")[0].strip(): line for line in r.stdout.splitlines()[1:]}
    for what in ("configuration", "[imap]", "[ldap]", "[smtp]", "[dav]", "[sieve]", "sign-in alice",
                 "mailbox alice@example.test"):
        row = next((line for key, line in rows.items() if key.startswith(what)), None)
        assert row is not None and " ok " in row, (what, r.stdout)
    assert "Inbox holds" in rows["mailbox alice@example.test"]
    # nothing written: the state database of the file was not created
    assert not (real_toml.parent / "state" / "state.sqlite3").exists()


def test_check_reports_a_wrong_password_and_a_dead_server(real_toml, tmp_path):
    r = exgate("check", "-c", str(real_toml), "--user", "alice", "--password-stdin", stdin="wrong\n")
    assert r.returncode == 1
    assert "refused this user name and password" in r.stdout
    text = real_toml.read_text().replace(f"port = {_port_of(real_toml, 'smtp')}", f"port = {_free_port()}")
    broken = tmp_path / "broken.toml"
    broken.write_text(text)
    r = exgate("check", "-c", str(broken))
    assert r.returncode == 1
    smtp = next(line for line in r.stdout.splitlines() if line.startswith("[smtp]"))
    assert "FAILED" in smtp and "connection refused" in smtp


def _port_of(path: Path, section: str) -> int:
    import tomllib
    return tomllib.loads(path.read_text())[section]["port"]


def test_serve_refuses_a_broken_file_and_creates_nothing(real_toml, tmp_path):
    state_dir = tmp_path / "newstate"
    text = real_toml.read_text().replace(str(real_toml.parent / "state" / "state.sqlite3"),
                                         str(state_dir / "state.sqlite3"))
    state_dir.mkdir()
    text = text.replace("[http]\n", f'[http]\ncert_file = "{tmp_path}/missing.crt"\nkey_file = "{tmp_path}/missing.key"\n')
    ldap_url = next(line for line in text.splitlines() if line.startswith("url = \"ldap://"))
    text = text.replace(ldap_url, ldap_url[:-1] + '/"')      # a trailing slash, as the example file has
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    r = exgate("serve", "-c", str(bad), "--data-dir", str(tmp_path / "data"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"{bad}: [http] cert_file: {tmp_path}/missing.crt: no such file", r.stderr
    assert "Traceback" not in r.stderr and lines[-1].startswith("exgate: not started: 1 problem(s)")
    assert list(state_dir.iterdir()) == [] and not (tmp_path / "data").exists()

    # the trailing slash alone is fine: the directory is reached
    good = tmp_path / "good.toml"
    good.write_text(text.replace(f'cert_file = "{tmp_path}/missing.crt"\nkey_file = "{tmp_path}/missing.key"\n', ""))
    r = exgate("check", "-c", str(good))
    assert r.returncode == 0, r.stdout


@pytest.mark.parametrize("setting, expected", [
    ('[imap]\nauth = "sideways"\n', '[imap] auth: \'sideways\': use "user" or "master"'),
    ('[http]\nport = "eighty"\n', "[http] port: should be an integer, not 'eighty'"),
    ('[ldap]\nurl = "http://dir.example"\nbase_dn = "dc=x"\n', "[ldap] url: 'http://dir.example': the scheme must be"),
    ('[smtp]\nhots = "x"\n', "[smtp] hots: unknown setting"),
    ("[imap\n", "not valid TOML"),
])
def test_serve_names_file_section_and_key(tmp_path, setting, expected):
    f = tmp_path / "x.toml"
    f.write_text(setting + f'[state]\ndsn = "{tmp_path}/s.sqlite3"\n')
    r = exgate("serve", "-c", str(f), timeout=30)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{f}: {expected}" in r.stderr or (expected == "not valid TOML" and expected in r.stderr), r.stderr
    assert not (tmp_path / "s.sqlite3").exists()


def test_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = exgate("demo", "--port", str(port), "--data-dir", str(tmp_path / "demo"), timeout=60)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == f"exgate: 127.0.0.1:{port} is already in use by another program; " \
                                   "choose another with --port"
        assert not (tmp_path / "demo").exists()
