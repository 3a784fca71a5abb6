"""`exgate decode` throughput on a large capture, next to tshark reading the same file. Prints; asserts nothing.

The capture is made here: ruler's 46 MAPI/HTTP exchanges (tests/unit/capture_synth.py's connections,
200-byte segments, chunked answers) repeated with new ports and times until it holds about
``--exchanges`` exchanges, written as pcap to a temp file. Then, the median of ``--rounds`` runs of each:

  read            protocols.capture.read: pcap records, TCP reassembly, HTTP/1.1 exchanges
  read+describe   the same and gateway.replay.summary.describe on every exchange (MAPI/HTTP bodies,
                  every ROP, NSPI), which is what `exgate decode --json` prints
  DCE/RPC         (a capture with DCE/RPC over TCP) read and every call decoded down to its ROPs
  tshark          `tshark -r FILE -Y http.request -T fields -e http.request.method` (tshark's TCP
                  reassembly and HTTP dissector, no MAPI/HTTP decoding: it has none), when installed
  tshark -V       `tshark -r FILE -V` (every field of every packet to /dev/null), when installed

    python bench/decode.py [--exchanges 20000] [--rounds 3] [--file existing.pcap]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.replay.mapi import dcerpc_items           # noqa: E402
from gateway.replay.summary import describe            # noqa: E402
from protocols.capture import read                     # noqa: E402
from protocols.capture.pcap import Packet, write_pcap  # noqa: E402
from tests.unit import capture_synth                   # noqa: E402


def build(n_exchanges: int) -> bytes:
    recs = capture_synth.recordings()
    frames: list[tuple[float, bytes]] = []
    t = capture_synth.T0
    made, k = 0, 0
    while made < n_exchanges:
        for _name, exs in recs:
            k += 1
            pkts, t = capture_synth._connection(k % 15000 + 1, exs, False, t, swap=False, duplicate=False)
            frames.extend(pkts)
            made += len(exs)
            t += 0.01
            if made >= n_exchanges:
                break
    return write_pcap([Packet(i, tm, 1, f, len(f)) for i, (tm, f) in enumerate(frames, 1)])


def best(fn, rounds: int) -> tuple[float, object]:
    """The median time of ``rounds`` runs (a noisy machine's one lucky run is not the figure) and the result."""
    out, times = None, []
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exchanges", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--file", help="an existing pcap/pcapng instead of the generated one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="exgate-bench-decode-") as tmp:
        path = Path(args.file) if args.file else Path(tmp) / "big.pcap"
        if not args.file:
            path.write_bytes(build(args.exchanges))
        data = path.read_bytes()
        mb = len(data) / 1e6
        t_read, cap = best(lambda: read(path.name, data), args.rounds)
        n = len(cap.exchanges)
        t_desc, _ = best(lambda: [describe(e) for e in read(path.name, data).exchanges], args.rounds)
        rops = sum(len(d.get("rops") or []) for d in (describe(e) for e in cap.exchanges))
        print(f"capture: {path.name}, {mb:.1f} MB, {cap.meta.get('packets')} packets, "
              f"{cap.meta.get('tcp_streams')} TCP connections, {n} HTTP exchanges, {rops} ROPs")
        print(f"{'what':<16} {'seconds':>8} {'exchanges/s':>12} {'MB/s':>8}")
        rows = [("read", t_read), ("read+describe", t_desc)]
        if cap.streams:
            t_rpc, items = best(lambda: dcerpc_items(read(path.name, data)), args.rounds)
            calls = sum(1 for i in items if i["kind"] == "dcerpc-call")
            print(f"DCE/RPC: {calls} calls; read + every call down to its ROPs: {t_rpc:.3f} s, "
                  f"{calls / t_rpc:,.0f} calls/s")
        tshark = shutil.which("tshark")
        if tshark:
            def run(*extra):
                subprocess.run([tshark, "-n", "-r", str(path), *extra], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
            t_ts, _ = best(lambda: run("-Y", "http.request", "-T", "fields", "-e", "http.request.method"),
                           args.rounds)
            t_tv, _ = best(lambda: run("-V"), args.rounds)
            rows += [("tshark http", t_ts), ("tshark -V", t_tv)]
        for name, t in rows:
            print(f"{name:<16} {t:>8.3f} {n / t:>12,.0f} {mb / t:>8.1f}")
        if not tshark:
            print("tshark: not installed (apt-get install tshark) - no comparison")


if __name__ == "__main__":
    main()
