"""TLS for the gateway: a configured PEM pair, or a self-signed one the demo generates.

Outlook and most EWS clients insist on HTTPS; a self-signed certificate is
enough for a demo once the client is told to trust it (the demo prints its
path and SHA-256 fingerprint).
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def ensure_self_signed(cert_path: Path, key_path: Path, hostnames: list[str]) -> None:
    """Create a self-signed certificate for ``hostnames`` unless one is already there."""
    if cert_path.exists() and key_path.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exgate demo")])
    alt = []
    for h in hostnames:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def names_for(host: str, public_url: str | None = None) -> list[str]:
    """The names a generated certificate is valid for: the public URL's host first, then the listening
    address, or this machine's names when it listens on every address (0.0.0.0 is no name a client uses)."""
    import socket
    from urllib.parse import urlsplit

    names = []
    if public_url and urlsplit(public_url).hostname:
        names.append(urlsplit(public_url).hostname)
    if host in ("", "0.0.0.0", "::"):
        names += [socket.getfqdn(), socket.gethostname(), "127.0.0.1"]
    else:
        names.append(host)
    names.append("localhost")
    return list(dict.fromkeys(n for n in names if n))


def fingerprint(cert_path: Path, algorithm: str = "sha256") -> str:
    """``AB:CD:...``; SHA-1 is what DavMail's davmail.server.certificate.hash takes."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    algo = hashes.SHA1() if algorithm == "sha1" else hashes.SHA256()
    return cert.fingerprint(algo).hex(":").upper()


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx


# asyncio gives every TLS connection a 256 KiB buffer for the ciphertext it reads (SSLProtocol.max_size,
# allocated when the connection opens and kept for its life): 290 KiB per idle HTTPS connection here,
# 1,000 idle Outlook/EWS sessions would hold 280 MiB for nothing. A TLS record is at most 16 KiB of
# data, so 64 KiB still takes several records per read; a body streams through it just the same.
TLS_READ_BUFFER = 64 * 1024


def smaller_read_buffers(size: int = TLS_READ_BUFFER) -> None:
    """Use ``size``-byte read buffers for the TLS connections this process opens or accepts from now on."""
    import asyncio.sslproto
    if getattr(asyncio.sslproto.SSLProtocol, "max_size", 0) > size:
        asyncio.sslproto.SSLProtocol.max_size = size
