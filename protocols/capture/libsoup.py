"""libsoup's debug log (SoupLogger with bodies, as evolution-ews writes it when its EWS_DEBUG logging is on).

Every line of a message carries its direction::

    > POST /EWS/Exchange.asmx HTTP/1.1          a request line, then its headers
    > Soup-Debug-Timestamp: 1381373622          added by libsoup: Unix time of the message
    > Soup-Debug: SoupSessionAsync 1 (0x..), ESoapMessage 1 (0x..), SoupSocket 1 (0x..)
    > Host: <redacted>
    >                                           end of the headers
    > <?xml ...                                 the body, one log line per body line
    (two spaces)                                end of the message
    < HTTP/1.1 200 OK                           the answer, the same way

The log holds text only: a body's lines are joined by ``\\n`` (a CR of the wire stays at its line's
end), the final line break the log's line split took is put back where Content-Length says so, and a
binary body cannot be told apart; the ``Soup-Debug*`` lines are libsoup's, not the
wire's, so they are taken out of the headers and give the time, the connection (SoupSocket n) and
the pairing of an answer to its request (the message number, "ESoapMessage n"). Answers whose
request is not in the log, and requests left without an answer, are said, never a traceback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .model import Capture, Exchange, Problem, note

_REQUEST = re.compile(r"^[A-Z_]+ \S+ HTTP/\d\.\d$")
_STATUS = re.compile(r"^HTTP/\d\.\d (\d{3})")
_MESSAGE = re.compile(r"(\w*Message) (\d+) \(")
_SOCKET = re.compile(r"SoupSocket (\d+) \(")


@dataclass
class LogMessage:
    """One request or answer as logged: ``direction`` ">" (request) or "<" (answer)."""

    direction: str
    first_line: str
    line_no: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body_lines: list[str] = field(default_factory=list)
    timestamp: int | None = None
    message: str | None = None        # "ESoapMessage 1": libsoup's number of the message
    socket: int | None = None
    complete: bool = False            # its end (the blank separator line) was logged
    log_headers: list[tuple[str, str]] = field(default_factory=list)   # as logged, Soup-Debug too, unstripped
    headers_ended: bool = False       # the empty line after the headers was logged

    @property
    def body(self) -> bytes:
        body = "\n".join(self.body_lines).encode("utf-8")
        length = next((v for k, v in self.headers if k.lower() == "content-length"), "")
        if length.isdigit() and int(length) == len(body) + 1:
            body += b"\n"          # a body ending in a line break: the log's line split ate it
        return body


def looks_like_libsoup(data: bytes) -> bool:
    head = data[:512].decode("utf-8", "replace").split("\n", 1)[0].rstrip("\r")
    return head.startswith("> ") and bool(_REQUEST.match(head[2:]))


def split_messages(text: str) -> tuple[list[LogMessage], list[Problem]]:
    """The log's messages in order; lines that belong to no message are problems."""
    out: list[LogMessage] = []
    problems: list[Problem] = []
    cur: LogMessage | None = None
    in_body = False
    for no, raw in enumerate(text.split("\n"), 1):
        # a body keeps its carriage returns (IIS answers in CRLF); a log or header line does not
        line = raw if in_body and cur is not None else raw.rstrip("\r")
        if line.strip() == "":
            if cur is not None and line == "  ":
                cur.complete = True
                cur = None
            continue
        d, rest = line[:1], line[2:] if line[1:2] == " " else line[1:]
        if d not in "<>" or len(line) > 1 and line[1] != " ":
            problems.append(Problem(f"line {no}", f"not a libsoup log line ({line[:40]!r}); skipped"))
            continue
        if cur is not None and d != cur.direction:
            cur = None                 # the separator was not logged: a new message anyway
        if cur is None:
            cur = LogMessage(d, rest, no)
            out.append(cur)
            in_body = False
            continue
        if not in_body:
            if rest == "":
                in_body = cur.headers_ended = True
                continue
            name, sep, value = rest.partition(":")
            if not sep:
                problems.append(Problem(f"line {no}", f"header line without a colon ({rest[:40]!r})"))
                continue
            cur.log_headers.append((name, value))
            name, value = name.strip(), value.strip()
            if name == "Soup-Debug-Timestamp":
                cur.timestamp = int(value) if value.isdigit() else None
            elif name == "Soup-Debug":
                m = _MESSAGE.search(value)
                cur.message = f"{m.group(1)} {m.group(2)}" if m else None
                s = _SOCKET.search(value)
                cur.socket = int(s.group(1)) if s else None
            else:
                cur.headers.append((name, value))
        else:
            cur.body_lines.append(rest)
    return out, problems


def format_messages(msgs: list[LogMessage]) -> str:
    """The log again from its messages (``split_messages``' inverse on a well-formed log)."""
    lines: list[str] = []
    for m in msgs:
        d = m.direction
        lines.append(f"{d} {m.first_line}")
        lines += [f"{d} {k}:{v}" for k, v in m.log_headers]
        if m.headers_ended:
            lines.append(f"{d} ")
        lines += [f"{d} {b}" for b in m.body_lines]
        if m.complete:
            lines.append("  ")
    return "\n".join(lines) + "\n" if lines else ""


def _iso(ts: int | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts is not None else None


def read_libsoup(files: list[tuple[str, bytes]]) -> Capture:
    """One or more logs (a directory of them, in the order given) as one capture."""
    cap = Capture("libsoup")
    for name, data in files:
        text = data.decode("utf-8", errors="replace")
        if not text.strip():
            cap.problems.append(note(name, "an empty log (no messages)"))
            continue
        msgs, problems = split_messages(text)
        cap.problems += [Problem(f"{name} {p.where}", p.what) for p in problems]
        waiting: list[Exchange] = []              # requests without their answer yet, oldest first
        by_message: dict[str, Exchange] = {}
        for m in msgs:
            where = f"{name} line {m.line_no}"
            if m.direction == ">":
                if not _REQUEST.match(m.first_line):
                    cap.problems.append(Problem(where, f"not a request line: {m.first_line[:60]!r}"))
                    continue
                method, target, _v = m.first_line.split(" ")
                ex = Exchange(seq=len(cap.exchanges) + 1, method=method, url=target, request_headers=m.headers,
                              request_body=m.body, time=_iso(m.timestamp), conn=m.socket, source=where)
                if not m.complete:
                    ex.notes.append("the log ends inside this request")
                cap.exchanges.append(ex)
                waiting.append(ex)
                if m.message:
                    by_message[m.message] = ex
                continue
            st = _STATUS.match(m.first_line)
            if st is None:
                cap.problems.append(Problem(where, f"not a status line: {m.first_line[:60]!r}"))
                continue
            ex = by_message.pop(m.message, None) if m.message else None
            if ex is None or not any(w is ex for w in waiting):
                ex = waiting[0] if waiting else None
            if ex is None:
                cap.problems.append(Problem(where, "an answer whose request is not in the log; left out"))
                continue
            waiting = [w for w in waiting if w is not ex]
            ex.status = int(st.group(1))
            ex.response_headers = m.headers
            ex.response_body = m.body
            if m.timestamp is not None and ex.time is not None:
                ex.elapsed = float(m.timestamp - int(datetime.fromisoformat(ex.time.replace("Z", "+00:00")).timestamp()))
            if not m.complete:
                cap.problems.append(Problem(where, "the log ends inside this answer (cut off)"))
        for ex in waiting:
            ex.notes.append("no answer in the log")
    return cap
