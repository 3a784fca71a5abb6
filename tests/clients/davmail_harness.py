"""Run the real DavMail (the Debian package, /usr/bin/davmail) headless in server mode against a gateway.

DavMail is a Java gateway that turns an Exchange server (here: exgate over EWS) into local IMAP,
SMTP, CalDAV/CardDAV and LDAP listeners. This module starts one DavMail process with its own
properties file and temp dir, every listener on a free 127.0.0.1 port, and stops it by its pid.

- EWS mode: ``davmail.mode=EWS`` with ``davmail.url=<gateway>/EWS/Exchange.asmx``.
- Trusting the gateway's self-signed certificate: DavMail accepts a certificate its JVM does not
  trust when its SHA-1 fingerprint (lower-case hex with colons) is ``davmail.server.certificate.hash``
  (what its "accept this certificate?" prompt would save). We read the certificate off the socket.
- Authentication: DavMail's HttpClient prefers Basic over NTLM when both are offered (its preferred
  scheme set is a Java HashSet whose order is Basic, NTLM, Digest). So Basic needs nothing; for NTLM
  the gateway must offer NTLM without Basic, which ``offer_only`` does on the running gateway.
- Logs: log4j at DEBUG for ``davmail`` (every EWS request and response) in ``<dir>/davmail.log``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DAVMAIL_JAR = Path("/usr/share/davmail/davmail.jar")
JAVA = shutil.which("java") or "/usr/bin/java"


def available() -> str | None:
    """None when DavMail can run here, else why not."""
    if not DAVMAIL_JAR.exists():
        return f"{DAVMAIL_JAR} is not installed (apt-get install davmail)"
    if not os.path.exists(JAVA):
        return "no java on PATH"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificate_sha1(base_url: str, pem_path: Path | None = None) -> str:
    """The server certificate's SHA-1 fingerprint as DavMail writes it (aa:bb:...), from its PEM file
    or else off the socket (not from the gateway's own event loop thread: it would wait for itself)."""
    if pem_path is not None:
        der = ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())
        return ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())
    u = urlsplit(base_url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((u.hostname, u.port or 443), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=u.hostname) as tls:
            der = tls.getpeercert(binary_form=True)
    return ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())


@dataclass
class DavMail:
    base_url: str
    dir: Path
    imap_port: int
    smtp_port: int
    caldav_port: int
    ldap_port: int
    pop_port: int
    proc: subprocess.Popen | None = None
    started_in: float = 0.0            # seconds from exec to "listening"
    extra: dict = field(default_factory=dict)
    certificate: Path | None = None    # the gateway's PEM certificate, to trust it by fingerprint

    host = "127.0.0.1"

    @property
    def log_path(self) -> Path:
        return self.dir / "davmail.log"

    @property
    def caldav_url(self) -> str:
        return f"http://{self.host}:{self.caldav_port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 80) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def properties(self) -> str:
        props = {
            "davmail.mode": "EWS",
            "davmail.url": self.base_url.rstrip("/") + "/EWS/Exchange.asmx",
            "davmail.server": "true",
            "davmail.allowRemote": "false",
            "davmail.bindAddress": self.host,
            "davmail.imapPort": self.imap_port,
            "davmail.smtpPort": self.smtp_port,
            "davmail.caldavPort": self.caldav_port,
            "davmail.ldapPort": self.ldap_port,
            "davmail.popPort": self.pop_port,
            "davmail.ssl.nosecureimap": "true",
            "davmail.ssl.nosecuresmtp": "true",
            "davmail.ssl.nosecurecaldav": "true",
            "davmail.ssl.nosecureldap": "true",
            "davmail.ssl.nosecurepop": "true",
            "davmail.server.certificate.hash": certificate_sha1(self.base_url, self.certificate),
            "davmail.enableProxy": "false",
            "davmail.useSystemProxies": "false",
            "davmail.enableKerberos": "false",
            "davmail.disableUpdateCheck": "true",
            "davmail.enableTray": "false",
            "davmail.showStartupBanner": "true",     # logs "... listening on SMTP port ..." when bound
            "davmail.caldavPastDelay": "0",
            "davmail.keepDelay": "30",
            "davmail.sentKeepDelay": "0",
            "davmail.smtpSaveInSent": "true",
            "davmail.imapAutoExpunge": "true",
            "davmail.logFilePath": str(self.log_path),
            "davmail.logFileSize": "0",
            "log4j.rootLogger": "WARN",
            "log4j.logger.davmail": "DEBUG",
            # the EWS requests and answers byte for byte (DavMail maps this onto org.apache.http.wire);
            # Basic credentials show up here too: the log lives in the temp dir, removed after the run
            "log4j.logger.httpclient.wire": "DEBUG",
            "log4j.logger.httpclient": "WARN",
        }
        props.update(self.extra)
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def start(self, timeout: float = 60.0) -> "DavMail":
        props = self.dir / "davmail.properties"
        props.write_text(self.properties(), encoding="utf-8")
        out = open(self.dir / "stdout.log", "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [JAVA, "-Djava.awt.headless=true", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx256m",
             "-jar", str(DAVMAIL_JAR), str(props)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
            start_new_session=True)
        out.close()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"DavMail exited with {self.proc.returncode}:\n{self.output()}\n{self.log_tail()}")
            if self._listening():
                self.started_in = time.monotonic() - t0
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"DavMail did not listen within {timeout} s:\n{self.output()}\n{self.log_tail()}")

    def _listening(self) -> bool:
        # the startup banner names every bound port; probing the ports instead would open sessions
        # that call the gateway
        return " listening on " in self.log()

    def output(self) -> str:
        try:
            return (self.dir / "stdout.log").read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        self.stop()
        if not os.environ.get("EXGATE_KEEP_DAVMAIL"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)   # its own session: this kills DavMail and only it
        except ProcessLookupError:
            return
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def start_davmail(base_url: str, certificate: Path | None = None, **extra) -> DavMail:
    """A started DavMail for ``base_url`` in a new /tmp/davmail-* dir; ``close()`` stops it and removes the dir
    (kept when EXGATE_KEEP_DAVMAIL is set, for reading its log)."""
    d = Path(tempfile.mkdtemp(prefix="davmail-"))
    dm = DavMail(base_url, d, free_port(), free_port(), free_port(), free_port(), free_port(),
                 extra={k.replace("__", "."): v for k, v in extra.items()}, certificate=certificate)
    try:
        return dm.start()
    except BaseException:
        dm.close()
        raise


@contextmanager
def running_davmail(base_url: str, **extra):
    dm = start_davmail(base_url, **extra)
    try:
        yield dm
    finally:
        dm.close()


@contextmanager
def offer_only(gw, schemes: tuple[str, ...]):
    """Make a running gateway offer only ``schemes`` in its 401s (e.g. ("NTLM",) so DavMail uses NTLM);
    what it accepts does not change."""
    from gateway.http.auth import AUTH
    settings = gw.runner.app[AUTH].settings
    before = settings.schemes
    settings.schemes = tuple(schemes)
    try:
        yield
    finally:
        settings.schemes = before
