"""`exgate decode CAPTURE --keylog KEYS`: HTTPS in a pcap/pcapng read through tshark and a TLS key log.

exgate does not implement TLS decryption. With a key log (the NSS format that SSLKEYLOGFILE makes
browsers, curl, Python's ``ssl`` ``keylog_filename`` and Outlook through Wireshark's documented setup
write), tshark decrypts each TLS connection that exgate's reader found, and its "follow" statistics
(``-z follow,tls,raw,N``: the decrypted bytes of each side, in order, as hex lines; the second node's
lines indented with a tab) give the two byte streams, which then go through the same HTTP/1.1 splitter
as plain traffic, or the HTTP/2 reader when the client begins with its preface (ALPN h2). tshark numbers TCP connections itself (``tcp.stream``); they are matched to
exgate's by their addresses and ports. Times: a decrypted exchange gets the time its connection's
first bytes were seen (tshark's follow output carries no times).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from protocols.capture import http2
from protocols.capture.http1 import exchanges as http_exchanges, looks_like_http
from protocols.capture.model import Capture, Problem
from protocols.capture.network import is_tls
from protocols.capture.tcp import Direction, Stream

TIMEOUT = 300


def _endpoint(text: str) -> tuple[str, int] | None:
    host, _, port = text.strip().rpartition(":")
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def parse_follow(text: str, client: tuple[str, int]) -> tuple[bytes, bytes]:
    """tshark's ``-z follow,tls,raw,N`` output as (client bytes, server bytes)."""
    nodes: dict[int, tuple[str, int] | None] = {}
    first: list[bytes] = []
    second: list[bytes] = []
    for line in text.splitlines():
        if line.startswith("Node 0:") or line.startswith("Node 1:"):
            nodes[int(line[5])] = _endpoint(line.split(":", 1)[1])
            continue
        if not line.strip() or line.startswith(("=", "Follow:", "Filter:")):
            continue
        target = second if line.startswith("\t") else first
        try:
            target.append(bytes.fromhex(line.strip()))
        except ValueError:
            continue
    # node 0 is whoever tshark saw first (its lines are the unindented ones); tshark may print an empty
    # address for a node it did not see send, so the client is found by whichever node matches it
    n0, n1 = nodes.get(0), nodes.get(1)
    if n0 == client:
        node0_is_client = True
    elif n1 == client:
        node0_is_client = False
    else:
        node0_is_client = not (n0 is not None and n0[1] != 0)
    a, b = b"".join(first), b"".join(second)
    return (a, b) if node0_is_client else (b, a)


def _stream_numbers(tshark: str, path: Path) -> dict[tuple, int]:
    """tshark's tcp.stream number for each connection, keyed by its sorted pair of (address, port)."""
    out = subprocess.run([tshark, "-n", "-r", str(path), "-T", "fields", "-e", "tcp.stream", "-e", "ip.src",
                          "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                          "-Y", "tcp"], capture_output=True, text=True, timeout=TIMEOUT, check=False)
    found: dict[tuple, int] = {}
    for line in out.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 7 or not f[0].isdigit() or not f[3].isdigit() or not f[6].isdigit():
            continue
        src = (f[1] or f[2], int(f[3]))
        dst = (f[4] or f[5], int(f[6]))
        found.setdefault(tuple(sorted((src, dst))), int(f[0]))
    return found


def decrypt(path: Path, keylog: Path, cap: Capture) -> int:
    """Add the HTTP exchanges of the capture's TLS connections, decrypted by tshark; returns how many
    connections were read. Problems (no tshark, no keys for a connection, not HTTP inside) are added to
    ``cap.problems``."""
    tls = [st for st in cap.streams if is_tls(st)]
    if not tls:
        return 0
    tshark = shutil.which("tshark")
    if tshark is None:
        cap.problems.append(Problem("--keylog", "tshark is not installed (Debian/Ubuntu: apt-get install tshark): "
                                                f"the {len(tls)} TLS connection(s) stay unread"))
        return 0
    if not keylog.is_file():
        cap.problems.append(Problem("--keylog", f"{keylog}: no such file"))
        return 0
    numbers = _stream_numbers(tshark, path)
    done = 0
    for st in tls:
        where = f"TCP stream {st.index} ({st.name})"
        n = numbers.get(tuple(sorted((st.client.src, st.client.dst))))
        if n is None:
            cap.problems.append(Problem(where, "tshark does not see this connection; left encrypted"))
            continue
        out = subprocess.run([tshark, "-n", "-r", str(path), "-o", f"tls.keylog_file:{keylog}", "-q",
                              "-z", f"follow,tls,raw,{n}"], capture_output=True, text=True, timeout=TIMEOUT,
                             check=False)
        client, server = parse_follow(out.stdout, st.client.src)
        if not client and not server:
            cap.problems.append(Problem(where, "TLS: the key log has no keys for this connection (or tshark could "
                                               "not decrypt it); left encrypted"))
            continue
        h2 = http2.looks_like_h2(client)                # ALPN h2: the connection preface
        if not h2 and not looks_like_http(client):
            cap.problems.append(Problem(where, f"TLS decrypted, but the client's bytes are neither HTTP/1.x "
                                               f"nor HTTP/2 ({client[:16]!r})"))
            continue
        plain = Stream(st.index, Direction(st.client.src, st.client.dst, client, [(0, st.client.time_at(0))]),
                       Direction(st.server.src, st.server.dst, server, [(0, st.server.time_at(0))]),
                       st.syn_seen, st.closed, st.first_time)
        found = (http2.exchanges(plain, len(cap.exchanges) + 1, cap.problems, scheme="https") if h2
                 else http_exchanges(plain, len(cap.exchanges) + 1, cap.problems))
        for ex in found:
            ex.notes.append("decrypted by tshark with the key log")
            ex.url = ex.url.replace("http://", "https://", 1)
        cap.exchanges.extend(found)
        done += 1
    if done:
        cap.problems[:] = [p for p in cap.problems if not (p.where == "file" and "TLS connection(s)" in p.what)]
        left = len(tls) - done
        if left:
            cap.problems.append(Problem("file", f"{left} of {len(tls)} TLS connection(s) could not be decrypted"))
    return done
