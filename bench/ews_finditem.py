"""FindItem of 1,000 inbox items through EWS next to a direct IMAP fetch of the same fields.

Starts a real slapd + Dovecot on 127.0.0.1 and the gateway in this process
(HTTPS, Basic), appends N messages to alice's INBOX, then times:
  direct   - imaplib `UID FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)`
  findItem - one raw SOAP FindItem (Default shape: subject, sender, dates, size, read state,
             attachments flag) with an IndexedPageItemView of MaxEntriesReturned=N over HTTP
  exchangelib - the same through exchangelib (what a script user waits for), only=subject,sender,...
and prints each time and the ratio to direct. Printed, never asserted.

    python bench/ews_finditem.py [--messages 1000] [--rounds 5]
"""
from __future__ import annotations

import asyncio
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message="Unverified HTTPS request")  # self-signed, on loopback

from bench.store_list import cli, direct_fetch, seed  # noqa: E402
from gateway.config import Config, HttpConfig, ImapConfig, LdapConfig, StateConfig  # noqa: E402
from gateway.http.server import start_gateway  # noqa: E402
from tests.servers import start_dovecot, start_slapd, start_with_retry  # noqa: E402

FIND = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
 <soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header>
 <soap:Body>
  <m:FindItem Traversal="Shallow">
   <m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>
   <m:IndexedPageItemView MaxEntriesReturned="{n}" Offset="0" BasePoint="Beginning"/>
   <m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds>
  </m:FindItem>
 </soap:Body>
</soap:Envelope>"""


def exchangelib_find(base_url: str, n: int) -> int:
    from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials
    from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
    BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter
    cfg = Configuration(service_endpoint=base_url + "/EWS/Exchange.asmx",
                        credentials=Credentials("alice@example.test", "alicepw"), auth_type=BASIC)
    a = Account("alice@example.test", config=cfg, autodiscover=False, access_type=DELEGATE)
    qs = a.inbox.all().only("subject", "sender", "datetime_received", "size", "is_read", "has_attachments")
    qs.page_size = n
    return len(list(qs))


async def run(n: int, rounds: int) -> None:
    slapd = start_with_retry(start_slapd)
    dovecot = start_with_retry(lambda: start_dovecot(slapd.info))
    gw = None
    try:
        host, port = dovecot.info.host, dovecot.info.imap_port
        await asyncio.to_thread(seed, host, port, n)
        tmp = Path(tempfile.mkdtemp())
        cfg = Config(http=HttpConfig(host="127.0.0.1", port=0, tls=True),
                     state=StateConfig(dsn=str(tmp / "state.sqlite3")), imap=ImapConfig(host=host, port=port),
                     ldap=LdapConfig(url=slapd.info.url, base_dn=slapd.info.base_dn, bind_dn=slapd.info.admin_dn,
                                     bind_password=slapd.info.admin_password))
        gw = await start_gateway(cfg, tmp)

        direct = []
        for _ in range(rounds):
            t = time.perf_counter()
            await asyncio.to_thread(direct_fetch, host, port)
            direct.append(time.perf_counter() - t)

        auth = "Basic " + base64.b64encode(b"alice@example.test:alicepw").decode()
        body = FIND.format(n=n).encode()
        soap = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
            first = None
            for i in range(rounds + 1):
                t = time.perf_counter()
                async with http.post(gw.base_url + "/EWS/Exchange.asmx", data=body, headers={
                        "Authorization": auth, "Content-Type": "text/xml; charset=utf-8"}) as resp:
                    text = await resp.read()
                    assert resp.status == 200, text[:500]
                elapsed = time.perf_counter() - t
                if i == 0:
                    first = elapsed  # ids made, mailbox opened
                else:
                    soap.append(elapsed)
            assert text.count(b"<t:Message>") + text.count(b"<t:Message ") >= n, text[:300]

        lib = []
        for _ in range(rounds):
            t = time.perf_counter()
            count = await asyncio.to_thread(exchangelib_find, gw.base_url, n)
            lib.append(time.perf_counter() - t)
        assert count >= n

        d = statistics.median(direct)
        print(f"\nFindItem of {n} inbox items, {rounds} rounds, Dovecot on loopback, gateway over HTTPS")
        print(f"  direct IMAP UID FETCH (imaplib)      median {d * 1000:8.1f} ms   1.00x")
        print(f"  EWS FindItem, first (mailbox opened) {first * 1000:8.1f} ms          {first / d:6.2f}x")
        print(f"  EWS FindItem (raw SOAP, warm)        median {statistics.median(soap) * 1000:8.1f} ms   "
              f"{statistics.median(soap) / d:6.2f}x")
        print(f"  exchangelib inbox.all() (warm)       median {statistics.median(lib) * 1000:8.1f} ms   "
              f"{statistics.median(lib) / d:6.2f}x")
    finally:
        if gw is not None:
            await gw.stop()
        dovecot.stop()
        slapd.stop()


def main() -> None:
    cli(run)


if __name__ == "__main__":
    main()
