"""`exgate record`, `exgate decode` and `exgate replay` (registered by gateway/cli.py)."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
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
                         help="every exchange of a capture (pcap, pcapng, JSON lines, HAR, SAZ, libsoup log, "
                              "recorder directory, raw EMSMDB stub) decoded",
                         epilog="exit status: 0 when everything was decoded (notes such as a TCP segment put "
                                "in order or a capture that began mid-connection are printed on stderr and "
                                "do not count); 1 when a part could not be decoded (a damaged or cut-off "
                                "file, a body cut by a lost segment, encrypted traffic without its keys, a "
                                "decode error, a region of EWS, MAPI/HTTP, NSPI, ROPs, DCE/RPC or RTS that no "
                                "codec reads): what could be decoded is still shown; 2 for a usage error or "
                                "a file that cannot be read or is no capture at all")
    dec.add_argument("file", help="capture file, recorder directory or directory of libsoup logs")
    dec.add_argument("--json", action="store_true", help="one JSON object per exchange instead of text")
    dec.add_argument("--endpoint", action="append", default=[], metavar="NAME",
                     help="only these endpoints (ews, autodiscover, mapihttp-emsmdb, mapihttp-nspi, ...) or, for "
                          "DCE/RPC, interfaces (EMSMDB, NSPI, EPM); a part of the name is enough; repeatable")
    dec.add_argument("--operation", action="append", default=[], metavar="NAME",
                     help="only these operations: EWS operations, MAPI/HTTP request types (Execute, Connect, "
                          "QueryRows...), DCE/RPC operations (EcDoRpc, NspiBind...); repeatable")
    dec.add_argument("--rop", action="append", default=[], metavar="NAME",
                     help="only exchanges and calls with this ROP (RopLogon, or Logon), showing only those ROPs; "
                          "repeatable")
    dec.add_argument("--user", action="append", default=[], metavar="NAME",
                     help="only what this user sent (from X-User-Identity, a Basic or NTLM sign-in, which holds for "
                          "its connection); a part of the name is enough; repeatable")
    dec.add_argument("--html", metavar="OUT",
                     help="write one self-contained HTML report (collapsible exchanges, hex beside the decoded "
                          "fields, a timeline) to OUT instead of printing the exchanges")
    dec.add_argument("--keylog", metavar="FILE",
                     help="TLS key log (SSLKEYLOGFILE format) of a pcap/pcapng capture of HTTPS: its TLS "
                          "connections are decrypted through tshark (which must be installed)")
    dec.add_argument("--stub", metavar="INTERFACE:OPERATION[:response]",
                     help="read FILE as one raw DCE/RPC stub (NDR parameters without PDU headers) of this call: "
                          "emsmdb:EcDoRpcExt2 or emsmdb:EcDoRpc; an EcDoRpcExt2 request is recognised without "
                          "it (by its layout, see protocols/capture/stubfile.py)")
    dec.add_argument("--password", metavar="PASSWORD",
                     help="the password of the user an NTLM-sealed (or signed) DCE/RPC connection signed in as: "
                          "its calls are decrypted and their signatures checked (user and domain are the "
                          "capture's own, from the NTLM AUTHENTICATE)")
    dec.add_argument("--credentials", action="append", default=[], metavar="[DOMAIN\\]USER:PASSWORD",
                     help="the password of one user, for captures where several users sign in; repeatable")
    rep = sub.add_parser("replay", formatter_class=fmt,
                         help="send the client's side of a recorded EWS, MAPI/HTTP or RPC/HTTP session to a gateway "
                              "and compare the answers",
                         epilog="EMSMDB and NSPI calls captured over DCE/RPC (RPC over HTTP, TCP) are replayed over "
                                "MAPI/HTTP (the target does not speak RPC/HTTP); what cannot be is listed as 'not "
                                "replayed: <reason>'. Exit status: 0 every replayed request answered as recorded "
                                "(up to what gateway/replay/rules.py expects to differ), 1 an unexpected difference "
                                "or a problem reading the capture, 2 a usage error (no such file, a bad option) or a "
                                "file with nothing to replay (not a capture, a raw stub without its session, no "
                                "request).")
    rep.add_argument("file", help="capture file or recorder directory")
    rep.add_argument("--target", required=True, help="base URL of the gateway, e.g. https://127.0.0.1:8443")
    rep.add_argument("--user", required=True, help="sign in as this user (Basic)")
    rep.add_argument("--password", required=True)
    rep.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                     help="replace text in the requests (the recorded user's address by the live one); repeatable")
    rep.add_argument("--report", help="write the per-request differences as JSON to this file")
    rep.add_argument("--html", help="write the report as one self-contained HTML page to this file")
    rep.add_argument("--verify-tls", action="store_true", help="check the target's TLS certificate")
    rep.add_argument("--quiet", action="store_true", help="only the summary table")
    rep.add_argument("--keylog", metavar="FILE",
                     help="TLS key log (SSLKEYLOGFILE format) of a pcap/pcapng capture of HTTPS: its TLS "
                          "connections are decrypted through tshark (which must be installed), as for decode")
    rep.add_argument("--capture-password", metavar="PASSWORD",
                     help="the password of the user an NTLM-sealed DCE/RPC connection of the capture signed in as "
                          "(not the target's: --password is): its calls are unsealed and replayed")
    rep.add_argument("--capture-credentials", action="append", default=[], metavar="[DOMAIN\\]USER:PASSWORD",
                     help="the password of one user of the capture, where several sign in; repeatable")
    rep.add_argument("--wait-timeout", type=float, default=None, metavar="SECONDS",
                     help="how long to read a NotificationWait the server holds (default 5; see "
                          "gateway/replay/rules.py)")


def _problems(cap) -> None:
    for p in cap.problems:
        print(f"exgate: {p}", file=sys.stderr)


def run_decode(args: argparse.Namespace) -> int:
    from .decoding import Unreadable, decode_file
    from .summary import item_text, text_line
    from protocols.rpch.unseal import password_lookup
    path = Path(args.file)
    try:
        password_for = password_lookup(args.password, args.credentials)
    except ValueError as exc:
        print(f"exgate: {exc}", file=sys.stderr)
        return 2
    try:
        dec = decode_file(path, keylog=args.keylog, stub=args.stub, password_for=password_for)
    except Unreadable as exc:
        print(f"exgate: {exc}", file=sys.stderr)
        return 2
    cap, items = dec.cap, dec.items
    shown = 0
    selected = []
    for d in items:
        d = select(d, args)
        if d is None:
            continue
        shown += 1
        selected.append(d)
        if args.html:
            continue
        if args.json:
            print(json.dumps(d, ensure_ascii=False))
        else:
            print(item_text(d) if d.get("kind", "").startswith(("dcerpc", "rpch")) else text_line(d))
    if args.html:
        from .html import render
        Path(args.html).write_text(render(selected, cap, path.name), encoding="utf-8")
        print(f"exgate: wrote {args.html} ({shown} item(s))")
    filtered = f", {shown} shown" if shown != len(items) else ""
    counts = f"{len(cap.exchanges)} exchange(s)"
    calls = sum(1 for d in items if d.get("kind") == "dcerpc-call")
    rpch = sum(1 for d in items if d.get("kind") == "rpch-call")
    if rpch:
        counts += f", {rpch} RPC/HTTP call(s)"
    if cap.meta.get("stubs"):
        counts = f"{len(cap.meta['stubs'])} raw stub(s)"
    if cap.format in ("pcap", "pcapng"):
        counts += f", {calls} DCE/RPC call(s) in {cap.meta.get('packets', 0)} packet(s), " \
                  f"{cap.meta.get('tcp_streams', 0)} TCP connection(s)"
    for n in dec.notes:
        print(f"exgate: note: {n}", file=sys.stderr)
    for f in dec.faults:
        print(f"exgate: {f}", file=sys.stderr)
    if dec.faults:
        if not args.json:
            print(f"-- {counts}{filtered} decoded; {len(dec.faults)} problem(s) in {path} (see above)")
        return 1
    if not args.json:
        print(f"-- {counts}{filtered} ({cap.format})" + (f"; {len(dec.notes)} note(s)" if dec.notes else ""))
    return 0


def _match(value, wanted: list[str]) -> bool:
    v = (value or "").lower()
    return any(w.lower() in v for w in wanted)


def _rop_match(name: str, wanted: list[str]) -> bool:
    n = name.lower()
    return any(n == w.lower() or n == "rop" + w.lower() for w in wanted)


def select(d: dict, args) -> dict | None:
    """The item if it passes the --endpoint/--operation/--rop filters (with only the asked ROPs), else None."""
    if args.endpoint and not (_match(d.get("endpoint"), args.endpoint) or _match(d.get("interface"), args.endpoint)):
        return None
    if args.operation:
        req = d.get("request") if isinstance(d.get("request"), dict) else {}
        ops = [d.get("request_type"), d.get("operation"), req.get("operation"), d.get("pdu")]
        if not any(op and any(w.lower() == op.lower() for w in args.operation) for op in ops):
            return None
    if args.user and not _match(d.get("user"), args.user):
        return None
    if args.rop:
        rops = [r for r in d.get("rops") or [] if _rop_match(r["rop"], args.rop)]
        if not rops:
            return None
        d = {**d, "rops": rops}
    return d


async def _replay(args: argparse.Namespace) -> int:
    from .driver import Replayer, summary_table
    from .ids import IdMap
    from protocols.rpch.unseal import password_lookup

    from .files import apply_keylog, load
    from .rpcreplay import CARRIED, carry
    path = Path(args.file)
    if not path.exists():
        print(f"exgate: {path}: no such file or directory", file=sys.stderr)
        return 2
    try:
        password_for = password_lookup(args.capture_password, args.capture_credentials)
    except ValueError as exc:
        print(f"exgate: {exc}", file=sys.stderr)
        return 2
    cap = load(path)
    if cap.format == "unknown":
        _problems(cap)
        return 2
    if stubs := cap.meta.get("stubs"):
        # one call's parameters: no Connect before it, so no session or handles to send it in, no answer
        ops = ", ".join(sorted({s.operation for s in stubs}))
        print(f"exgate: {path}: a raw DCE/RPC stub ({ops} parameters) holds one request without its session "
              f"(no EcDoConnect, no context handle, no answer): nothing to replay; `exgate decode {path}` "
              "shows it", file=sys.stderr)
        return 2
    if args.keylog:
        apply_keylog(path, args.keylog, cap)
    # DCE/RPC calls (RPC/HTTP, TCP) as MAPI/HTTP requests, the rest as recorded
    carried = carry(cap, password_for=password_for)
    _problems(cap)
    if not cap.exchanges and not carried.calls and not carried.not_replayed:
        print(f"exgate: {path}: nothing to replay: no HTTP request and no DCE/RPC call in it"
              + (" (see above)" if cap.problems else ""), file=sys.stderr)
        return 2
    replacements = []
    for m in args.map:
        old, sep, new = m.partition("=")
        if not sep or not old:
            print(f"exgate: --map {m!r}: expected OLD=NEW", file=sys.stderr)
            return 2
        replacements.append((old, new))
    options = {} if args.wait_timeout is None else {"wait_timeout": args.wait_timeout}
    async with Replayer(args.target, args.user, args.password, ids=IdMap(replacements=replacements),
                        verify_tls=args.verify_tls, **options) as r:
        steps, skipped = await r.replay(dataclasses.replace(cap, exchanges=carried.exchanges),
                                        progress=sys.stderr.isatty() and not args.quiet)
    skipped += carried.not_replayed
    if not args.quiet:
        for s in steps:
            mark = "ok  " if s.ok else "DIFF"
            print(f"{mark} #{s.seq:<4} {s.operation:<28} recorded {s.recorded_status} live {s.live_status}"
                  + (f"  error: {s.error}" if s.error else ""))
            for d in s.differences:
                print(f"       {d}")
        listed = sorted(((ex, why) for ex, why in skipped if why != "sign-in leg"), key=lambda item: item[0].seq)
        for first, last, n, ex, why in _runs(listed):
            seqs = f"#{first:<4}" if n == 1 else f"#{first}-#{last} ({n} calls)"
            print(f"skip {seqs} {ex.method} {ex.path.rsplit(' call ', 1)[0] if n > 1 else ex.path}: {why}")
    table = summary_table(steps)
    if carried.connections:
        table += (f"\n{path.name}: {carried.carried} of {carried.calls} DCE/RPC call(s) {CARRIED}; "
                  f"{carried.calls - carried.carried} not replayed (listed with the reason)")
    print(table)
    bad = [s for s in steps if not s.ok]
    if args.report:
        Path(args.report).write_text(json.dumps({
            "file": str(path), "target": args.target, "problems": [str(p) for p in cap.problems],
            "steps": [s.as_dict() for s in steps],
            "skipped": [{"seq": ex.seq, "method": ex.method, "path": ex.path, "source": ex.source, "why": why}
                        for ex, why in skipped],
            "summary": {"replayed": len(steps), "unexpected": len(bad)},
            "dcerpc": {"calls": carried.calls, "carried": carried.carried, "note": CARRIED if carried.calls else None},
        }, indent=2) + "\n")
    if args.html:
        from .replayhtml import render
        Path(args.html).write_text(render(steps, skipped, table, file=str(path), target=args.target,
                                          problems=cap.problems), encoding="utf-8")
    print(f"{len(steps)} request(s) replayed, {len(bad)} with unexpected differences")
    # notes (a segment put back in order...) are not problems: the capture was read whole
    return 1 if bad or any(p.is_error for p in cap.problems) else 0


def _runs(skipped):
    """Consecutive skipped items of one kind, connection and reason as one line (a capture that began in
    the middle of a session lists hundreds of its calls with one reason)."""
    out = []
    for ex, why in skipped:
        key = (ex.method, ex.path.rsplit(" call ", 1)[0], why)
        if out and out[-1][0] == key and ex.method != "POST":
            out[-1][1].append(ex)
        else:
            out.append((key, [ex]))
    return [(exs[0].seq, exs[-1].seq, len(exs), exs[0], key[2]) for key, exs in out]


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
