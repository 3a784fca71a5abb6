"""Opening a capture from disk (the readers in protocols/capture only see bytes)."""
from __future__ import annotations

from pathlib import Path

from protocols.capture import Capture, Problem, read, read_recorder


def load(path: str | Path) -> Capture:
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix == ".txt" and f.name[:1].isdigit())
        if not files:
            return Capture("unknown", problems=[Problem(str(p), "a directory without recorder files (NNNN-*.txt)")])
        return read_recorder([(f.name, f.read_bytes()) for f in files])
    return read(p.name, p.read_bytes())
