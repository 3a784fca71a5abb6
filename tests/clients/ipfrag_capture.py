"""Make captures/ipfrag-mapihttp.pcapng: ruler's MAPI/HTTP exchanges sent through a real Linux IP router
that fragments them, and UDP datagrams that the sending stack fragments itself (IPv4 and IPv6).

Run as root (network namespaces); needs ``ip`` and ``dumpcap``:

    python tests/clients/ipfrag_capture.py captures/ipfrag-mapihttp.pcapng

Three namespaces: client (h8c, MTU 1500, ``net.ipv4.ip_no_pmtu_disc=1`` so its TCP segments go without
DF), router (h8r, forwarding, MTU 576 towards the server), server (h8s, MTU 576, a route with
``advmss 1460`` so the client sends 1460-byte segments). The router fragments every full client
segment; dumpcap on the server's interface sees the fragments as they arrive. The server answers each
request with ruler's recorded answer (tests/unit/capture_synth's framing). Inside the server namespace,
``lo`` is set to MTU 1280 and a 3000-byte UDP datagram is sent to 127.0.0.1 and ::1: the sending stack
fragments those (IPv6 with a Fragment extension header).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.unit import capture_synth  # noqa: E402

NS = ("h8c", "h8r", "h8s")
UDP_PAYLOAD = bytes(range(256)) * 11 + b"exgate fragment test"     # 2836 bytes: three fragments at MTU 1280


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def setup() -> None:
    teardown()
    for ns in NS:
        sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", "h8c0", "type", "veth", "peer", "name", "h8r0")
    sh("ip", "link", "set", "h8c0", "netns", "h8c")
    sh("ip", "link", "set", "h8r0", "netns", "h8r")
    sh("ip", "link", "add", "h8r1", "type", "veth", "peer", "name", "h8s0")
    sh("ip", "link", "set", "h8r1", "netns", "h8r")
    sh("ip", "link", "set", "h8s0", "netns", "h8s")
    sh("ip", "-n", "h8c", "addr", "add", "10.88.1.2/24", "dev", "h8c0")
    sh("ip", "-n", "h8c", "link", "set", "h8c0", "up")
    sh("ip", "-n", "h8c", "route", "add", "default", "via", "10.88.1.1")
    sh("ip", "-n", "h8r", "addr", "add", "10.88.1.1/24", "dev", "h8r0")
    sh("ip", "-n", "h8r", "addr", "add", "10.88.2.1/24", "dev", "h8r1")
    sh("ip", "-n", "h8r", "link", "set", "h8r0", "up")
    sh("ip", "-n", "h8r", "link", "set", "h8r1", "mtu", "576", "up")
    sh("ip", "-n", "h8s", "addr", "add", "10.88.2.2/24", "dev", "h8s0")
    sh("ip", "-n", "h8s", "link", "set", "h8s0", "mtu", "576", "up")
    sh("ip", "-n", "h8s", "link", "set", "lo", "mtu", "1280", "up")
    sh("ip", "-n", "h8s", "route", "add", "default", "via", "10.88.2.1", "advmss", "1460")
    sh("ip", "netns", "exec", "h8r", "sysctl", "-qw", "net.ipv4.ip_forward=1")
    sh("ip", "netns", "exec", "h8c", "sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1")


def teardown() -> None:
    for ns in NS:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)


def _read_message(f, *, chunked_ok: bool) -> bytes:
    """One HTTP/1.1 message from a socket file (Content-Length or chunked body)."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = f.readline()
        if not line:
            return head
        head += line
    low = head.lower()
    if b"content-length:" in low:
        n = int(low.split(b"content-length:")[1].split(b"\r\n")[0])
        return head + f.read(n)
    body = b""
    while chunked_ok:
        size_line = f.readline()
        body += size_line
        n = int(size_line.strip(), 16)
        body += f.read(n + 2)
        if n == 0:
            break
    return head + body


def server(port: int) -> None:
    answers = [capture_synth._response(ex) for _n, exs in capture_synth.recordings() for ex in exs]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("10.88.2.2", port))
    ls.listen()
    k = 0
    for _conn in capture_synth.recordings():
        c, _ = ls.accept()
        f = c.makefile("rb")
        while True:
            req = _read_message(f, chunked_ok=False)
            if not req:
                break
            c.sendall(answers[k])
            k += 1
        f.close()           # the file holds the socket open too
        c.close()


def client(port: int) -> None:
    for _name, exs in capture_synth.recordings():
        c = socket.create_connection(("10.88.2.2", port))
        f = c.makefile("rb")
        for ex in exs:
            c.sendall(capture_synth._request(ex))
            _read_message(f, chunked_ok=True)
        c.shutdown(socket.SHUT_WR)
        f.read()
        f.close()
        c.close()


def udp() -> None:
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        r = socket.socket(fam, socket.SOCK_DGRAM)
        r.bind((addr, 9999))
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.sendto(UDP_PAYLOAD, (addr, 9999))
        assert r.recv(65536) == UDP_PAYLOAD
        r.close()
        s.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("server", "client", "udp"):
        role = sys.argv[1]
        {"server": lambda: server(8080), "client": lambda: client(8080), "udp": udp}[role]()
        return
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "ipfrag-mapihttp.pcapng").resolve()
    me = str(Path(__file__).resolve())
    setup()
    try:
        cap = subprocess.Popen(["ip", "netns", "exec", "h8s", "dumpcap", "-q", "-i", "h8s0", "-i", "lo",
                                "-w", str(out)], stderr=subprocess.DEVNULL)
        time.sleep(2)
        srv = subprocess.Popen(["ip", "netns", "exec", "h8s", sys.executable, me, "server"])
        time.sleep(0.5)
        sh("ip", "netns", "exec", "h8c", sys.executable, me, "client")
        srv.wait(timeout=30)
        sh("ip", "netns", "exec", "h8s", sys.executable, me, "udp")
        time.sleep(1)
        cap.terminate()
        cap.wait(timeout=10)
        os.chmod(out, 0o644)
    finally:
        teardown()


if __name__ == "__main__":
    main()
