"""`exgate demo`, `exgate serve`, `exgate check` and `exgate passwd` (and gateway/replay's record, decode, replay)."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from gateway import checks
from gateway.config import Config, ConfigError, HttpConfig
from gateway.http import tls
from gateway.http.server import start_gateway
from gateway.store.state.db import StateDB

log = logging.getLogger("exgate")


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover - non-Unix
            pass
    await stop.wait()


def _fail(message: str) -> int:
    print(f"exgate: {message}", file=sys.stderr, flush=True)
    return 2


async def run_demo(args: argparse.Namespace) -> int:
    from gateway.backends.embedded import EmbeddedStack, load_demo_users, seed
    from gateway.backends.embedded.users import DIRECTORY_LDIF
    from gateway.store.factory import Credentials, open_mailbox

    # before anything starts or is seeded: a busy port is one line, not a traceback after seeding
    if (problem := checks.listen_problem(args.host, args.port)) is not None:
        return _fail(problem)
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    users = load_demo_users(DIRECTORY_LDIF)
    stack = EmbeddedStack(data_dir / "backends", users, host=args.host)
    await stack.start()
    runner = None
    try:
        await seed(stack, users)
        # --http is for local trials: Basic is then allowed in clear, which a real setup must not do.
        cfg = replace(stack.gateway_config(str(data_dir / "state.sqlite3"), DIRECTORY_LDIF),
                      http=HttpConfig(host=args.host, port=args.port, tls=not args.http,
                                      allow_basic_over_http=args.http))
        db = StateDB.open(cfg.state.dsn)
        # NTLM checks against NT hashes: store the demo users' (as `exgate passwd` would).
        from gateway.http.auth.credentials import NtHashStore
        hashes = NtHashStore(db)
        for u in users:
            hashes.set_password(u.login, u.password)
        # Open every mailbox once: folders get their ids now, and a broken backend shows at start.
        folder_counts = {}
        for u in users:
            mbx = await open_mailbox(db, cfg, Credentials(u.login, u.email, u.display_name, u.password))
            folder_counts[u.login] = len(await mbx.folders())
            await mbx.close()
        gw = await start_gateway(cfg, data_dir, db=db)
        runner, base_url, cert, state = gw.runner, gw.base_url, gw.certificate, gw.state
        info = {
            "base_url": base_url,
            "endpoints": {name: base_url + path for name, path in state.endpoints.items()},
            "tls_certificate": str(cert) if cert else None,
            "tls_sha256": tls.fingerprint(cert) if cert else None,
            "tls_sha1": tls.fingerprint(cert, "sha1") if cert else None,
            "backends": {"imap": f"{stack.imap_host}:{stack.imap_port}", "caldav_carddav": stack.dav_url,
                         "smtp": f"{stack.smtp_host}:{stack.smtp_port}"},
            "state_database": cfg.state.dsn,
            "users": [{"email": u.email, "login": u.login, "password": u.password, "display_name": u.display_name,
                       "folders": folder_counts[u.login]} for u in users],
        }
        (data_dir / "demo.json").write_text(json.dumps(info, indent=2) + "\n")
        print(f"exgate demo is running at {base_url}  (data: {data_dir})")
        for name, url in info["endpoints"].items():
            print(f"  {name:<12} {url}")
        if cert:
            print(f"  certificate  {cert}")
            print(f"               sha256 {info['tls_sha256']}")
            print(f"               sha1   {info['tls_sha1']}  (DavMail: davmail.server.certificate.hash)")
        print(f"  backends     IMAP {info['backends']['imap']}, DAV {stack.dav_url}, SMTP {info['backends']['smtp']}")
        print("  users:")
        for u in info["users"]:
            print(f"    {u['email']:<24} login {u['login']:<8} password {u['password']:<10} "
                  f"({u['folders']} folders)")
        print(f"  (also written to {data_dir / 'demo.json'}; Ctrl-C stops)", flush=True)
        if args.exit_after_start:
            return 0
        await _wait_for_stop()
        return 0
    finally:
        if runner is not None:
            await runner.cleanup()
        await stack.stop()


def _load(args: argparse.Namespace) -> Config:
    cfg = Config.load(args.config)
    if getattr(args, "host", None):
        cfg = replace(cfg, http=replace(cfg.http, host=args.host))
    if getattr(args, "port", None) is not None:
        cfg = replace(cfg, http=replace(cfg.http, port=args.port))
    return cfg


async def run_serve(args: argparse.Namespace) -> int:
    from gateway import workers
    try:
        cfg = _load(args)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.worker is not None:          # one of `--workers N` (gateway/workers.py): the parent checked
        return await _serve_worker(cfg, args)
    try:
        count = workers.worker_count(args.workers if args.workers is not None else cfg.http.workers)
    except workers.WorkersError as exc:
        return _fail(f"{'--workers' if args.workers is not None else args.config + ': [http] workers'}: {exc}")
    if (refusal := workers.sqlite_refusal(count, cfg.state.dsn)) is not None:
        return _fail(refusal)
    # Nothing is created (state database, certificate) until the file and the servers check out.
    problems = await checks.problems(cfg, args.config)
    if (listen := checks.listen_problem(cfg.http.host, cfg.http.port)) is not None:
        problems.append(f"{args.config}: [http] port: {listen}")
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        return _fail(f"not started: {len(problems)} problem(s) in {args.config} "
                     f"(`exgate check -c {args.config}` shows every check)")
    if count > 1:
        return await workers.run(cfg, args, count)
    return await _serve_until_stopped(cfg, args, None)


async def _serve_worker(cfg: Config, args: argparse.Namespace) -> int:
    return await _serve_until_stopped(cfg, args, args.worker)


async def _serve_until_stopped(cfg: Config, args: argparse.Namespace, worker: int | None) -> int:
    """Listen (alone, or as worker ``worker`` of `serve --workers N`) until SIGTERM/SIGINT."""
    import os
    data_dir = Path(args.data_dir).resolve()
    who = "" if worker is None else f"worker {worker}: "
    try:
        gw = await start_gateway(cfg, data_dir, worker=worker)
    except OSError as exc:   # the port was taken between the check and the start
        return _fail(f"{who}cannot listen on {cfg.http.host}:{cfg.http.port}: {exc.strerror or exc}")
    suffix = "" if worker is None else f" (worker {worker}, pid {os.getpid()})"
    print(f"exgate is serving at {gw.base_url}{suffix}", flush=True)
    try:
        await _wait_for_stop()
    finally:
        await gw.stop()
        gw.state.db.close()
    return 0


async def run_check(args: argparse.Namespace) -> int:
    try:
        cfg = _load(args)
    except ConfigError as exc:
        print(checks.table([checks.Finding("configuration", False, str(exc))]))
        return 1
    found = [checks.Finding("configuration", True, f"{args.config} read")]
    settings = checks.settings_findings(cfg)
    found += settings
    if all(f.ok for f in settings):
        found += await checks.backend_findings(cfg)
        listen = checks.listen_problem(cfg.http.host, cfg.http.port)
        found.append(checks.Finding(f"[http] {cfg.http.host}:{cfg.http.port}", listen is None,
                                    listen or "free to listen on", "[http] port"))
        if args.user and all(f.ok for f in found if f.what.startswith(("[imap]", "[ldap]"))):
            password = None
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            found += await checks.user_findings(cfg, args.user, password)
    print(checks.table(found), flush=True)
    return 0 if all(f.ok for f in found) else 1


class _Help(argparse.HelpFormatter):
    """Shows a default where there is one worth showing (not None/False, not already in the text)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def main(argv: list[str] | None = None) -> int:
    fmt = _Help
    parser = argparse.ArgumentParser(prog="exgate", description="Exchange protocols in front of open servers",
                                     formatter_class=fmt)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", formatter_class=fmt,
                          help="start embedded backends with seeded users and the gateway")
    demo.add_argument("--data-dir", default="exgate-demo", help="where mail, calendars and state persist")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--port", type=int, default=8443, help="port to listen on")
    demo.add_argument("--http", action="store_true",
                      help="plain HTTP instead of HTTPS (Basic sign-in is then allowed in clear)")
    demo.add_argument("--exit-after-start", action="store_true", help=argparse.SUPPRESS)
    serve = sub.add_parser("serve", formatter_class=fmt,
                           help="run against real servers described by a config file")
    serve.add_argument("-c", "--config", required=True,
                       help="TOML file (see fixtures/config/exgate.example.toml)")
    serve.add_argument("--host", help="address to listen on (default: [http] host of the file)")
    serve.add_argument("--port", type=int, help="port to listen on (default: [http] port of the file)")
    serve.add_argument("--data-dir", default=".", help="where a generated self-signed certificate is kept")
    serve.add_argument("--workers", metavar="N",
                       help="worker processes sharing the port, restarted when they die; 0 or auto: one per "
                            "CPU; more than one needs a PostgreSQL [state] dsn (default: [http] workers of "
                            "the file, else 1)")
    serve.add_argument("--worker", type=int, help=argparse.SUPPRESS)   # set by the parent of --workers
    check = sub.add_parser("check", formatter_class=fmt,
                           help="check a config file: settings, each server, and optionally one user end to end")
    check.add_argument("-c", "--config", required=True, help="TOML file to check")
    check.add_argument("--user", help="sign in as this user and list their folders")
    check.add_argument("--password-stdin", action="store_true",
                       help="read the user's password from the first line of standard input "
                            "(without it the user is only looked up, and the mailbox opened as [imap] allows)")
    from gateway.admin import add_parser as add_passwd_parser
    add_passwd_parser(sub)
    from gateway.replay import cli as capture_cli    # record, decode, replay (issue 14)
    capture_cli.add_parsers(sub, fmt)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "passwd":
        from gateway.admin import run_passwd
        return run_passwd(args)
    if args.command in capture_cli.COMMANDS:
        return capture_cli.run(args)
    if args.command in ("demo", "serve"):
        from gateway.allocator import pin_mmap_threshold
        pin_mmap_threshold()        # asyncio's 256 KiB read buffers kept out of the heap (see there)
    runner = {"demo": run_demo, "serve": run_serve, "check": run_check}[args.command]
    try:
        return asyncio.run(runner(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
