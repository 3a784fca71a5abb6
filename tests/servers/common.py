"""Shared helpers for the real-server test setup.

Every server the tests start listens on 127.0.0.1 on a port the kernel picked,
lives in its own temp dir and is stopped by pid. Several engineers (and CI
jobs) run these at the same time on one machine, so nothing here may use a
fixed port, a fixed path or a process name.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generic, Sequence, TypeVar

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "fixtures"

T = TypeVar("T")


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """A port nobody listens on right now (bind to port 0, read it, close).

    There is a small window before the server binds it; `start_with_retry`
    covers the rare loss of that race.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


LogPaths = Path | str | Sequence[Path] | None


def log_tail(path: LogPaths, lines: int = 40) -> str:
    """The last `lines` of one log, or of each of several logs."""
    if path is None:
        return "(no log)"
    if not isinstance(path, (str, Path)):
        return "\n".join(log_tail(p, lines) for p in path)
    p = Path(path)
    try:
        text = p.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read {p}: {exc})"
    tail = text.splitlines()[-lines:]
    return f"--- last {len(tail)} lines of {p} ---\n" + "\n".join(tail)


def wait_for_port(
    port: int,
    *,
    what: str,
    log: LogPaths = None,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 30.0,
    host: str = HOST,
) -> None:
    """Poll until `port` accepts a connection; raise with the log tail if not.

    If `proc` is given and exits first, fail at once instead of waiting out
    the timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        if proc is not None and proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with status {proc.returncode} before listening on "
                f"{host}:{port}\n{log_tail(log)}"
            )
        time.sleep(0.05)
    raise ServerStartError(f"{what} did not listen on {host}:{port} within {timeout:.0f}s\n{log_tail(log)}")


def make_root(name: str) -> Path:
    """A fresh temp dir for one server.

    mkdtemp makes it 0700; servers that drop privileges (dovecot, postfix,
    postgres) must be able to traverse it, so open it to 0755.
    """
    root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{name}-"))
    root.chmod(0o755)
    (root / OWNER_FILE).write_text(_identity(os.getpid()) or "")
    return root


# Each temp root names the test process that owns it and the server pids it
# started, as "pid starttime" lines (start time guards against pid reuse).
# If a session is SIGKILLed, the next session stops those servers by pid and
# removes the root (`reap_stale_roots`); live sessions' roots are left alone.
ROOT_PREFIX = "exgate-"
OWNER_FILE = ".exgate-owner"
PIDS_FILE = ".exgate-pids"


def _identity(pid: int) -> str | None:
    """"pid starttime" for a live process, None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return f"{pid} {fields[19]}"  # field 22 of proc(5): starttime


def record_pid(root: Path, pid: int) -> None:
    ident = _identity(pid)
    if ident is not None:
        with open(root / PIDS_FILE, "a") as f:
            f.write(ident + "\n")


def reap_stale_roots() -> list[Path]:
    """Stop servers left by dead test sessions and remove their temp roots."""
    reaped = []
    for owner in Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*/{OWNER_FILE}"):
        root = owner.parent
        try:
            line = owner.read_text().strip()
            pids = (root / PIDS_FILE).read_text().split("\n") if (root / PIDS_FILE).exists() else []
        except OSError:
            continue
        if not line or _identity(int(line.split()[0])) == line:
            continue  # owner still running (or unknown): not ours to touch
        for entry in filter(None, (p.strip() for p in pids)):
            pid = int(entry.split()[0])
            if _identity(pid) == entry:
                stop_pid(pid, timeout=5)
        shutil.rmtree(root, ignore_errors=True)
        reaped.append(root)
    return reaped


def remove_root(root: Path) -> None:
    if os.environ.get("EXGATE_KEEP_SERVER_DIRS"):
        return
    shutil.rmtree(root, ignore_errors=True)


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class Account:
    """The unprivileged account a server (or its mail) runs as."""

    name: str
    uid: int
    gid: int

    @property
    def group(self) -> str:
        import grp

        return grp.getgrgid(self.gid).gr_name


def service_account(preferred: str = "nobody") -> Account:
    """When root: `preferred` if it exists, else nobody. Otherwise ourselves."""
    if is_root():
        try:
            pw = pwd.getpwnam(preferred)
        except KeyError:
            pw = pwd.getpwnam("nobody")
    else:
        pw = pwd.getpwuid(os.geteuid())
    return Account(pw.pw_name, pw.pw_uid, pw.pw_gid)


def chown_tree(path: Path, account: Account) -> None:
    if not is_root():
        return
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, account.uid, account.gid)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), account.uid, account.gid)


def run(
    cmd: Sequence[str],
    *,
    what: str,
    log: LogPaths = None,
    account: Account | None = None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a short command; on failure raise with its output and the log tail."""
    kwargs: dict[str, object] = {}
    if account is not None and is_root() and account.uid != 0:
        kwargs.update(user=account.uid, group=account.gid, extra_groups=[])
    try:
        res = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            **kwargs,  # type: ignore[arg-type]
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerStartError(f"{what}: {' '.join(cmd)} timed out after {timeout}s\n{log_tail(log)}") from exc
    if res.returncode != 0:
        raise ServerStartError(
            f"{what}: {' '.join(cmd)} exited {res.returncode}\n"
            f"stdout: {res.stdout.strip()}\nstderr: {res.stderr.strip()}\n{log_tail(log)}"
        )
    return res.stdout


def spawn(
    cmd: Sequence[str],
    *,
    log: Path,
    account: Account | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running foreground server with stdout+stderr to `log`.

    Writing to a file rather than a pipe matters: daemons that keep stderr
    open would otherwise block once the pipe fills (backends.md, Dovecot).
    A new session keeps the server out of pytest's terminal signals.
    """
    kwargs: dict[str, object] = {"preexec_fn": _die_with_parent}
    if account is not None and is_root() and account.uid != 0:
        kwargs.update(user=account.uid, group=account.gid, extra_groups=[])
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            **kwargs,  # type: ignore[arg-type]
        )


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the test process dies.

    Teardown and the atexit hook cover normal ends; this covers a SIGKILLed
    pytest, which would otherwise leave foreground servers running in their
    own sessions. Linux only; elsewhere a no-op.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists" for kill(0). Reap it if it is our child; if it
    # was daemonized (pg_ctl, postfix) its reaper is init, which may be slow
    # (in containers PID 1 is not always a prompt reaper), so read its state.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return not Path("/proc/self").exists()  # no procfs: trust kill(0)
    # Field 3, after the parenthesised command name, is the state.
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def stop_pid(pid: int, *, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig`, wait up to `timeout` for the pid to go, then SIGKILL it."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not pid_alive(pid):
            return
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started by `spawn` and every process of its session: what a fault test
    calls a server that is down (Dovecot's per-client processes outlive their master otherwise)."""
    stop_process(proc)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def read_pidfile(path: Path, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = path.read_text().split()
            if text:
                return int(text[0])
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise ServerStartError(f"no pid in {path} after {timeout}s")


@dataclass
class Running(Generic[T]):
    """A started server: what tests see (`info`) and how to stop it."""

    info: T
    _stop: Callable[[], None]
    _stopped: bool = field(default=False)
    # for fault tests: stop the server process only, keeping its root (data, config, ports),
    # and start it again on the same ports (None where a server does not offer it)
    _pause: Callable[[], None] | None = field(default=None)
    _resume: Callable[[], None] | None = field(default=None)

    def pause(self) -> None:
        assert self._pause is not None, "this server cannot be paused"
        self._pause()

    def resume(self) -> None:
        assert self._resume is not None, "this server cannot be resumed"
        self._resume()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        _LIVE.discard(self)  # type: ignore[arg-type]
        self._stop()

    def __hash__(self) -> int:
        return id(self)


# Safety net: if the session dies without fixture teardown (an error in a
# hook, a second Ctrl-C), still stop what we started so nothing lingers.
_LIVE: set[Running[object]] = set()


def register(running: Running[T]) -> Running[T]:
    _LIVE.add(running)  # type: ignore[arg-type]
    return running


@atexit.register
def _stop_all() -> None:
    for r in list(_LIVE):
        try:
            r.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


_IN_USE_MARKERS = ("address already in use", "could not bind", "eaddrinuse")


def start_with_retry(start: Callable[[], Running[T]], attempts: int = 3) -> Running[T]:
    """Retry a start that lost the free-port race to another process."""
    last: ServerStartError | None = None
    for _ in range(attempts):
        try:
            return start()
        except ServerStartError as exc:
            text = str(exc).lower()
            if not any(m in text for m in _IN_USE_MARKERS):
                raise
            last = exc
    assert last is not None
    raise last
