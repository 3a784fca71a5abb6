"""Conversions per second: a typical 50 KB message and a recurring meeting with exceptions.

Each figure sits next to the library doing only the parsing it builds on
(email.parser for MIME, icalendar for iCalendar), so the ratio is the cost of
the MAPI mapping itself. Printed, never asserted.

    python bench/conversions.py [--seconds 2]

The last lines are about the event loop (issue 11: a 155 KB RTF body took 1.37 s to compress):
the loop's longest stall, seen by a 1 ms ticker standing in for a small request on another
connection, while a 155 KB HTML-in-RTF body is compressed on the loop, compressed through
rtf.compress_async (a worker thread), and read as a whole message (MIME -> properties).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import email
import email.policy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from icalendar import Calendar  # noqa: E402

from gateway.store.convert.ical import appointment_to_ical, ical_to_appointment  # noqa: E402
from gateway.store.convert import rtf as rtfmod  # noqa: E402
from gateway.store.convert.mail import message_to_mime, mime_to_message  # noqa: E402


def typical_message() -> bytes:
    """About 50 KB: text + HTML alternative and a 30 KB PDF-ish attachment, as a MUA sends it."""
    text = "Hello team,\r\n\r\n" + "Here are the notes from today's meeting, with the numbers attached.\r\n" * 60
    html = "<html><body><p>Hello team,</p>" + "<p>Here are the <b>notes</b> from today's meeting.</p>" * 100 + \
           "</body></html>"
    att = base64.encodebytes(bytes(range(256)) * 120).decode().replace("\n", "\r\n")
    return (
        "From: Carol Clark <carol@example.test>\r\nTo: Alice Archer <alice@example.test>, Bob Baker "
        "<bob@example.test>\r\nCc: team@example.test\r\nSubject: =?utf-8?q?Notes_=E2=80=93_Q3_review?=\r\n"
        "Date: Mon, 23 Nov 2026 09:30:00 +0100\r\nMessage-ID: <notes-q3@example.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n--mix\r\n'
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n--alt\r\n'
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text +
        "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--alt--\r\n--mix\r\n"
        'Content-Type: application/pdf; name="q3.pdf"\r\nContent-Disposition: attachment; filename="q3.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + att + "--mix--\r\n").encode()


def big_rtf() -> bytes:
    """About 155 KB of HTML-in-RTF, the kind Outlook writes for a long HTML mail."""
    paras = b"".join(rb"{\*\htmltag64 <p class=MsoNormal>}\htmlrtf {\htmlrtf0 Paragraph %d: the quarterly "
                     rb"figures for region %d, revenue %d.%02d, costs %d\htmlrtf\par}\htmlrtf0 "
                     rb"{\*\htmltag72 </p>}" % (i, i % 17, i * 37 % 1000, i % 100, i * 13 % 997)
                     for i in range(920))
    return (rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}"
            rb"{\*\htmltag19 <html>}{\*\htmltag50 <body>}" + paras + b"}")


def rtf_message(body: bytes) -> bytes:
    return (b"From: a@example.test\r\nTo: b@example.test\r\nSubject: rtf\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/rtf\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body)


async def max_stall(work) -> tuple[float, float]:
    """(the longest gap a 1 ms ticker saw beyond its sleep, the work's wall time) while ``work()`` runs."""
    stall = 0.0
    done = asyncio.Event()

    async def ticker():
        nonlocal stall
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            stall = max(stall, time.perf_counter() - t - 0.001)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    start = time.perf_counter()
    await work()
    wall = time.perf_counter() - start
    done.set()
    await tick
    return stall, wall


def loop_stalls() -> None:
    body = big_rtf()
    msg = rtf_message(body)

    async def inline():
        rtfmod.compress(body)

    async def threaded():
        await rtfmod.compress_async(body)

    async def read_message():
        mime_to_message(msg)

    print(f"\nevent loop while a {len(body) // 1024} KB RTF body is handled "
          f"(a 1 ms ticker = a small request on another connection)")
    print(f"{'work':<58} {'wall ms':>8}   {'longest stall of the loop, ms':>30}")
    for name, work in (("RTF compress on the loop (rtf.compress)", inline),
                       ("RTF compress off the loop (rtf.compress_async)", threaded),
                       ("MIME -> properties of a text/rtf message (GetItem)", read_message)):
        stall, wall = asyncio.run(max_stall(work))
        print(f"{name:<58} {wall * 1000:8.1f}   {stall * 1000:30.1f}")


def rate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    s = ap.parse_args().seconds
    raw = typical_message()
    props = mime_to_message(raw)
    ics = (ROOT / "fixtures" / "ical" / "outlook_weekly_exceptions.ics").read_bytes()
    appt = ical_to_appointment(ics)

    def parse_only():
        m = email.message_from_bytes(raw, policy=email.policy.default)
        for part in m.walk():
            if not part.is_multipart():
                part.get_content()

    rows = [
        (f"MIME -> properties ({len(raw) // 1024} KB message)", rate(lambda: mime_to_message(raw), s),
         "email parser + decode all parts", rate(parse_only, s)),
        ("properties -> MIME (same message)", rate(lambda: message_to_mime(props), s),
         "email parser + decode all parts", rate(parse_only, s)),
        ("iCalendar -> properties (weekly, 2 exceptions, VTIMEZONE)", rate(lambda: ical_to_appointment(ics), s),
         "icalendar Calendar.from_ical", rate(lambda: Calendar.from_ical(ics), s)),
        ("properties -> iCalendar (same meeting)", rate(lambda: appointment_to_ical(appt), s),
         "icalendar Calendar.from_ical", rate(lambda: Calendar.from_ical(ics), s)),
    ]
    print(f"{'conversion':<58} {'per s':>8}   {'baseline':<34} {'per s':>8}  time vs baseline")
    for name, r, base_name, base in rows:
        print(f"{name:<58} {r:8.0f}   {base_name:<34} {base:8.0f}  {base / r:5.2f}x")
    loop_stalls()


if __name__ == "__main__":
    main()
