"""The README's first command on a fresh virtualenv: `pip install -e .` (no extras), `exgate demo`, sign in to EWS.

A module that only the [test] extra brings but the gateway imports (pyspnego
once was) passes every other test, since the test environment has it; only a
virtualenv with nothing but the declared dependencies shows it. This makes
one, installs this checkout into it exactly as the README says, starts the
demo from the virtualenv's own `exgate` script on a free port and signs alice
in to EWS with Basic over HTTPS, trusting the certificate the demo printed.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

GET_INBOX = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
 <soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header>
 <soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>
  <m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder></soap:Body>
</soap:Envelope>"""


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("newcomer") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # Only what the README says: the project's own dependencies, no extras, nothing from this interpreter.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                        "-q", "-e", str(REPO)], capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return venv


def _env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    return env


def test_fresh_venv_has_no_test_packages(fresh_venv):
    # the proof that this virtualenv is bare: the test-only packages are absent
    r = subprocess.run([str(fresh_venv / "bin" / "python"), "-c",
                        "import importlib.util as u; print([m for m in ('pytest', 'exchangelib', 'impacket') "
                        "if u.find_spec(m)])"], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
    r = subprocess.run([str(fresh_venv / "bin" / "exgate"), "--help"], capture_output=True, text=True,
                       timeout=60, env=_env(fresh_venv))
    assert r.returncode == 0 and "demo" in r.stdout, r.stderr


def test_fresh_venv_demo_signs_in_to_ews(fresh_venv, tmp_path):
    data = tmp_path / "exgate-demo"
    proc = subprocess.Popen([str(fresh_venv / "bin" / "exgate"), "demo", "--port", "0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            env=_env(fresh_venv), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not (data / "demo.json").exists():
            if proc.poll() is not None:
                raise AssertionError("exgate demo exited: " + proc.stdout.read().decode(errors="replace"))
            assert time.monotonic() < deadline, "exgate demo did not start within 120 s"
            time.sleep(0.2)
        info = json.loads((data / "demo.json").read_text())
        alice = next(u for u in info["users"] if u["login"] == "alice")
        # trust exactly the demo's certificate, as the README tells a user to
        ctx = ssl.create_default_context(cafile=info["tls_certificate"])
        req = urllib.request.Request(info["endpoints"]["ews"], data=GET_INBOX, method="POST", headers={
            "Content-Type": "text/xml; charset=utf-8",
            "Authorization": "Basic " + base64.b64encode(f"{alice['email']}:{alice['password']}".encode()).decode()})
        with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
            body = resp.read().decode()
        assert resp.status == 200
        assert 'ResponseClass="Success"' in body and "<t:DisplayName>Inbox</t:DisplayName>" in body, body[:2000]
        total = int(body.split("<t:TotalCount>")[1].split("<")[0])
        assert total >= 7, body[:2000]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")
    assert "Traceback" not in out.decode(errors="replace")
