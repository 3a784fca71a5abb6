"""Opening a capture from disk (the readers in protocols/capture only see bytes).

A file is read by its content (``protocols.capture.read``). A directory is either the test recorder's
(``NNNN-*.txt`` files) or a tree of libsoup logs (Evolution's ``tests/traces/``: every file under it,
in path order, one capture; an empty log is said as a note). ``apply_keylog`` is the ``--keylog`` both
`exgate decode` and `exgate replay` take: a pcap/pcapng's HTTPS decrypted through tshark.
"""
from __future__ import annotations

from pathlib import Path

from protocols.capture import Capture, Problem, read, read_libsoup, read_recorder
from protocols.capture.libsoup import looks_like_libsoup


def load(path: str | Path) -> Capture:
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix == ".txt" and f.name[:1].isdigit())
        if files:
            return read_recorder([(f.name, f.read_bytes()) for f in files])
        tree = sorted(f for f in p.rglob("*") if f.is_file())
        logs = [(f, f.read_bytes()) for f in tree]
        if any(looks_like_libsoup(data) for _f, data in logs):
            others = [f for f, data in logs if data.strip() and not looks_like_libsoup(data)]
            cap = read_libsoup([(str(f.relative_to(p)), data) for f, data in logs if f not in others])
            cap.problems += [Problem(str(f.relative_to(p)), "not a libsoup log; left out") for f in others]
            return cap
        return Capture("unknown", problems=[Problem(str(p), "a directory without recorder files (NNNN-*.txt) "
                                                            "or libsoup logs")])
    return read(p.name, p.read_bytes())


def apply_keylog(path: str | Path, keylog: str | Path, cap: Capture) -> None:
    """Add the exchanges of the capture's TLS connections decrypted with ``keylog`` (SSLKEYLOGFILE format)
    to ``cap``; what stops it (no tshark, no such key log, not a pcap) is one of ``cap.problems``."""
    if cap.format in ("pcap", "pcapng"):
        from .tls import decrypt
        decrypt(Path(path), Path(keylog), cap)
    else:
        cap.problems.append(Problem("--keylog", f"applies to pcap/pcapng captures; {path} is {cap.format}", "note"))
