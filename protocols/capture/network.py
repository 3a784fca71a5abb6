"""pcap/pcapng captures to a ``Capture``: packets -> TCP connections -> HTTP/1.1 exchanges.

Plain HTTP is split into exchanges (protocols.capture.http1; cleartext HTTP/2 with prior knowledge,
h2c, by protocols.capture.http2). A connection that starts with a TLS
handshake cannot be read without the session keys: it is reported, with how to decrypt it
(a key log and tshark, `exgate decode --keylog`). Every other connection (DCE/RPC over TCP,
anything unknown) is kept in ``Capture.streams`` for the readers of those protocols.
"""
from __future__ import annotations

from . import http2
from .http1 import exchanges, looks_like_http
from .model import Capture, Problem
from .pcap import read_packets
from .tcp import Stream, segments, streams

TLS_HINT = ("TLS: the traffic is encrypted and cannot be decoded without its session keys; "
            "give the key log (SSLKEYLOGFILE) with `--keylog KEYS` (exgate decode, exgate replay) and "
            "install tshark, which decrypts it")


def is_tls(st: Stream) -> bool:
    c = st.client.data
    return len(c) >= 3 and c[0] == 0x16 and c[1] == 0x03


def read_network(data: bytes) -> Capture:
    pf = read_packets(data)
    cap = Capture(pf.format if pf.format != "unknown" else "unknown", problems=list(pf.problems))
    cap.meta["packets"] = len(pf.packets)
    if pf.has_secrets:
        cap.meta["embedded_tls_secrets"] = True
    segs = segments(pf.packets, cap.problems)
    all_streams = streams(segs, cap.problems)
    cap.meta["tcp_streams"] = len(all_streams)
    tls = 0
    for st in all_streams:
        if looks_like_http(st.client.data) and http2.upgrade_offsets(st):     # Upgrade: h2c, 101
            cap.exchanges.extend(http2.upgraded_exchanges(st, len(cap.exchanges) + 1, cap.problems))
        elif looks_like_http(st.client.data):
            cap.exchanges.extend(exchanges(st, len(cap.exchanges) + 1, cap.problems))
        elif http2.looks_like_h2(st.client.data):          # h2c with prior knowledge
            cap.exchanges.extend(http2.exchanges(st, len(cap.exchanges) + 1, cap.problems))
        else:
            if is_tls(st):
                tls += 1
            cap.streams.append(st)
    if tls:
        cap.meta["tls_streams"] = tls
        cap.problems.append(Problem("file", f"{tls} TLS connection(s): " + TLS_HINT
                                    + (" (the file embeds TLS secrets: tshark reads them)" if pf.has_secrets else "")))
    return cap
