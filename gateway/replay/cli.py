"""`exgate record`, `exgate decode` and `exgate replay` (registered by gateway/cli.py)."""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

COMMANDS = ("record", "decode", "replay")


def add_parsers(sub, fmt=argparse.HelpFormatter) -> None:
    rec = sub.add_parser("record", formatter_class=fmt,
                         help="a recording reverse proxy in front of Exchange or exgate: writes a JSON-lines capture")
    rec.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to listen on (port 0: any free port)")
    rec.add_argument("--upstream", required=True, help="base URL of the server, e.g. https://mail.example.com")
    rec.add_argument("--out", required=True, help="the JSON-lines file to append to")
    rec.add_argument("--insecure", action="store_true", help="do not check the upstream's TLS certificate")
    dec = sub.add_parser("decode", formatter_class=fmt,
                         help="every exchange of a capture (JSON lines, HAR, recorder directory) decoded")
    dec.add_argument("file", help="capture file or recorder directory")
    dec.add_argument("--json", action="store_true", help="one JSON object per exchange instead of text")
    rep = sub.add_parser("replay", formatter_class=fmt,
                         help="send the client's side of a recorded EWS session to a gateway and compare the answers")
    rep.add_argument("file", help="capture file or recorder directory")
    rep.add_argument("--target", required=True, help="base URL of the gateway, e.g. https://127.0.0.1:8443")
    rep.add_argument("--user", required=True, help="sign in as this user (Basic)")
    rep.add_argument("--password", required=True)
    rep.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                     help="replace text in the requests (the recorded user's address by the live one); repeatable")
    rep.add_argument("--report", help="write the per-request differences as JSON to this file")
    rep.add_argument("--verify-tls", action="store_true", help="check the target's TLS certificate")
    rep.add_argument("--quiet", action="store_true", help="only the summary table")


def _problems(cap) -> None:
    for p in cap.problems:
        print(f"exgate: {p}", file=sys.stderr)


def run_decode(args: argparse.Namespace) -> int:
    from .files import load
    from .summary import describe, text_line
    path = Path(args.file)
    if not path.exists():
        print(f"exgate: {path}: no such file or directory", file=sys.stderr)
        return 2
    cap = load(path)
    for ex in cap.exchanges:
        d = describe(ex)
        print(json.dumps(d, ensure_ascii=False) if args.json else text_line(d))
    if cap.problems:
        _problems(cap)
        if not args.json:
            print(f"-- {len(cap.exchanges)} exchange(s) decoded; {len(cap.problems)} problem(s) in {path} "
                  f"(see above)")
        return 1
    if not args.json:
        print(f"-- {len(cap.exchanges)} exchange(s) ({cap.format})")
    return 0


async def _replay(args: argparse.Namespace) -> int:
    from .driver import Replayer, summary_table
    from .files import load
    from .ids import IdMap
    path = Path(args.file)
    if not path.exists():
        print(f"exgate: {path}: no such file or directory", file=sys.stderr)
        return 2
    cap = load(path)
    _problems(cap)
    replacements = []
    for m in args.map:
        old, sep, new = m.partition("=")
        if not sep or not old:
            print(f"exgate: --map {m!r}: expected OLD=NEW", file=sys.stderr)
            return 2
        replacements.append((old, new))
    async with Replayer(args.target, args.user, args.password, ids=IdMap(replacements=replacements),
                        verify_tls=args.verify_tls) as r:
        steps, skipped = await r.replay(cap, progress=sys.stderr.isatty() and not args.quiet)
    if not args.quiet:
        for s in steps:
            mark = "ok  " if s.ok else "DIFF"
            print(f"{mark} #{s.seq:<4} {s.operation:<28} recorded {s.recorded_status} live {s.live_status}"
                  + (f"  error: {s.error}" if s.error else ""))
            for d in s.differences:
                print(f"       {d}")
        for ex, why in skipped:
            if why != "sign-in leg":
                print(f"skip #{ex.seq:<4} {ex.method} {ex.path}: {why}")
    print(summary_table(steps))
    bad = [s for s in steps if not s.ok]
    if args.report:
        Path(args.report).write_text(json.dumps({
            "file": str(path), "target": args.target, "problems": [str(p) for p in cap.problems],
            "steps": [s.as_dict() for s in steps],
            "skipped": [{"seq": ex.seq, "method": ex.method, "path": ex.path, "why": why} for ex, why in skipped],
            "summary": {"replayed": len(steps), "unexpected": len(bad)}}, indent=2) + "\n")
    print(f"{len(steps)} request(s) replayed, {len(bad)} with unexpected differences")
    return 1 if bad or cap.problems else 0


async def _record(args: argparse.Namespace) -> int:
    from .record import serve
    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit():
        print(f"exgate: --listen {args.listen!r}: expected HOST:PORT", file=sys.stderr)
        return 2
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except NotImplementedError:   # pragma: no cover
            pass

    def ready(url: str) -> None:
        print(f"exgate record: listening on {url}, forwarding to {args.upstream}, writing {args.out}", flush=True)
    try:
        await serve(host or "127.0.0.1", int(port), args.upstream, Path(args.out), verify_tls=not args.insecure,
                    ready=ready)
    except asyncio.CancelledError:
        return 0
    except OSError as exc:
        print(f"exgate: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "decode":
        try:
            return run_decode(args)
        except BrokenPipeError:     # `exgate decode FILE | head`
            sys.stderr.close()
            return 0
    runner = _replay if args.command == "replay" else _record
    try:
        return asyncio.run(runner(args))
    except KeyboardInterrupt:
        return 0
