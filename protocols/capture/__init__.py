"""Capture readers: files of recorded HTTP traffic to ``Exchange`` lists (pure: the caller reads the file).

``read(name, data)`` picks the reader by content: exgate's JSON lines (``jsonl``), HAR (``har``),
pcap and pcapng (``network``: TCP reassembly, HTTP/1.1 exchanges; other TCP connections such as
DCE/RPC in ``Capture.streams``), Fiddler's SAZ archives (``saz``), libsoup's debug logs as Evolution writes them (``libsoup``),
ruler's recordings as the fixtures keep them (``ruler``, ``rulerlog``),
a raw EcDoRpcExt2 stub (``stub``, recognised by its layout: protocols.capture.stubfile).
The first test recorder's directories (one text file per request) go through ``recorder.read_recorder``.
"""
from __future__ import annotations

from .har import read_har
from .jsonl import read_jsonl
from .libsoup import looks_like_libsoup, read_libsoup
from .model import Capture, Exchange, Problem
from .network import read_network
from .pcap import sniff as sniff_packets
from .recorder import read_recorder
from .ruler import fixture_kind, looks_like_vector_list, read_fixture
from .rulerlog import looks_like_ruler_log, read_ruler_log
from .saz import looks_like_saz, read_saz
from .stubfile import read_stub, sniff_stub

__all__ = ["Capture", "Exchange", "Problem", "read", "read_har", "read_jsonl", "read_libsoup", "read_network", "read_recorder", "read_saz", "sniff"]


def sniff(name: str, data: bytes) -> str | None:
    if sniff_packets(data):
        return sniff_packets(data)
    if name.lower().endswith(".saz") or looks_like_saz(data):
        return "saz"
    if name.lower().endswith((".pcap", ".pcapng", ".cap")):
        return "pcap"                 # read_network says what is wrong with its header
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") and looks_like_ruler_log(head):
        return "ruler-log"
    if fixture_kind(data):
        return fixture_kind(data)
    if looks_like_vector_list(data):
        return "vectors"
    if name.lower().endswith(".har") or (head.startswith(b"{") and b'"log"' in head[:200]):
        return "har"
    if name.lower().endswith((".jsonl", ".ndjson")) or head.startswith(b"{"):
        return "jsonl"
    if head.startswith(b"### request"):
        return "recorder"
    if looks_like_libsoup(data):
        return "libsoup"
    if sniff_stub(data):
        return "stub"
    return None


def read(name: str, data: bytes) -> Capture:
    kind = sniff(name, data)
    if kind == "ruler-log":
        return read_ruler_log(data)
    if kind in ("ruler-mapihttp", "ruler-nspi"):
        return read_fixture(data)
    if kind == "har":
        return read_har(data)
    if kind == "jsonl":
        return read_jsonl(data)
    if kind in ("pcap", "pcapng"):
        return read_network(data)
    if kind == "saz":
        return read_saz(data)
    if kind == "recorder":
        return read_recorder([(name, data)])
    if kind == "libsoup":
        return read_libsoup([(name, data)])
    if kind == "stub":
        return read_stub(name, data)
    if kind == "vectors":
        return Capture("unknown", problems=[Problem(name, "a list of test vectors (single buffers for the codec "
                                                          "tests), not a recording of exchanges: see "
                                                          "fixtures/README.md for where it comes from")])
    return Capture("unknown", problems=[Problem(name, "not a capture format exgate reads "
                                                      "(JSON lines, HAR, pcap, pcapng, SAZ, a libsoup log, a raw "
                                                      "EMSMDB stub, or a recorder directory)")])
