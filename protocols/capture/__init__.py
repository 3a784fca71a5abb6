"""Capture readers: files of recorded HTTP traffic to ``Exchange`` lists (pure: the caller reads the file).

``read(name, data)`` picks the reader by content: exgate's JSON lines (``jsonl``), HAR (``har``).
The first test recorder's directories (one text file per request) go through ``recorder.read_recorder``.
"""
from __future__ import annotations

from .har import read_har
from .jsonl import read_jsonl
from .model import Capture, Exchange, Problem
from .recorder import read_recorder

__all__ = ["Capture", "Exchange", "Problem", "read", "read_har", "read_jsonl", "read_recorder", "sniff"]


def sniff(name: str, data: bytes) -> str | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if name.lower().endswith(".har") or (head.startswith(b"{") and b'"log"' in head[:200]):
        return "har"
    if name.lower().endswith((".jsonl", ".ndjson")) or head.startswith(b"{"):
        return "jsonl"
    if head.startswith(b"### request"):
        return "recorder"
    return None


def read(name: str, data: bytes) -> Capture:
    kind = sniff(name, data)
    if kind == "har":
        return read_har(data)
    if kind == "jsonl":
        return read_jsonl(data)
    if kind == "recorder":
        return read_recorder([(name, data)])
    return Capture("unknown", problems=[Problem(name, "not a capture format exgate reads "
                                                      "(JSON lines, HAR, or a recorder directory)")])
