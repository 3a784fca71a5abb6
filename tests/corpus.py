"""Every capture and recorded session the project holds, for the tests that run `exgate decode`
(tests/unit/test_capture_corpus.py) and `exgate replay` (tests/clients/test_replay_corpus.py) on all of
them: a capture added to ``UNITS`` is covered by both.

``UNITS`` are files, or directories read as one capture; ``NOT_CAPTURES``, ``FIXTURES_NOT_RECORDINGS`` and
``VECTOR_LISTS`` are the files beside them that are not recordings, with why.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# unit -> what must have been round-tripped in it (at least one of each)
UNITS = {
    "captures/clients/davmail": {"ews"},
    "captures/clients/evolution-ews": {"ews"},
    "captures/clients/exchangelib": {"ews"},
    "captures/evolution-ews-traces/Exchange2007_SP1": {"ews"},
    "captures/evolution-ews-traces/Exchange2010_SP2": {"ews"},
    "captures/openchange-lzxpress/001_Outlook_2007_in_ModifyRecipients_comp.dat": {"stub", "rop-buffer"},
    "captures/openchange-lzxpress/002_Outlook_2007_in_Tables_operations_comp.dat": {"stub", "rop-buffer"},
    "captures/ruler-mapihttp.pcap": {"mapihttp", "nspi", "rop-buffer", "ext-chain", "framing"},
    "captures/ruler-mapihttp.pcapng": {"mapihttp", "nspi", "rop-buffer", "ext-chain", "framing"},
    "captures/ipfrag-mapihttp.pcapng": {"mapihttp", "nspi", "rop-buffer", "ext-chain", "framing"},   # IP fragments
    "captures/ruler-rpchttp.pcap": {"dcerpc-pdu", "rts", "stub", "rop-buffer"},
    "captures/sessions/exchangelib-demo.jsonl": {"ews"},
    "captures/sessions/exchangelib-recorder.har": {"ews"},
    "captures/sessions/mapi-nspi-demo.jsonl": {"mapihttp", "nspi", "rop-buffer", "ext-chain", "framing"},
    "captures/tls-exchangelib.pcapng": {"ews"},            # with its key log (below)
    "captures/h2c-exchange.pcapng": {"ews", "mapihttp", "rop-buffer", "ext-chain", "framing"},   # HTTP/2
    "captures/h2c-curl.pcapng": {"ews"},
    "captures/h2-tls-exchange.pcapng": {"ews", "mapihttp", "rop-buffer", "ext-chain", "framing"},   # key log below
    "captures/zeek-dcerpc-ntlm.pcapng": {"dcerpc-pdu"},
    "captures/impacket-dcerpc-sealed.pcap": {"dcerpc-pdu", "stub", "rop-buffer", "nspi-stub"},   # unsealed (below)
    "captures/zeek-outlook2003-exchange-mapi.pcap": {"dcerpc-pdu", "stub", "rop-buffer"},
    "fixtures/mapihttp/ruler_exchanges.json": {"mapihttp", "nspi", "rop-buffer", "ext-chain"},
    "fixtures/nspi/ruler_nspi.json": {"nspi"},
    "fixtures/rpch/rpc_basic_encrypt_check.jsonl": {"dcerpc-pdu", "rts"},
    "fixtures/rpch/rpc_basic_noencrypt_display.jsonl": {"dcerpc-pdu", "rts", "stub", "rop-buffer"},
    "fixtures/rpch/rpc_ntlm_noencrypt_check.jsonl": {"dcerpc-pdu", "rts", "stub", "rop-buffer"},
    "fixtures/rpch/impacket_exchanger_nspi.jsonl": {"dcerpc-pdu", "rts"},
    "fixtures/rpch/sealed_rpch_synth.jsonl": {"dcerpc-pdu", "rts", "stub", "rop-buffer"},     # unsealed (below)
}
# what a unit is read with: its TLS key log (--keylog), the password its sealed DCE/RPC calls were
# sealed with (decode --password, replay --capture-password; their README rows say so)
KEYLOGS = {"captures/tls-exchangelib.pcapng": ROOT / "captures" / "tls-exchangelib.keys",
           "captures/h2-tls-exchange.pcapng": ROOT / "captures" / "h2-tls-exchange.keys"}
CAPTURE_PASSWORDS = {"captures/impacket-dcerpc-sealed.pcap": "p", "fixtures/rpch/sealed_rpch_synth.jsonl": "p"}
NOT_CAPTURES = {
    "captures/README.md": "this directory's list of files",
    "captures/tls-exchangelib.keys": "the TLS key log of tls-exchangelib.pcapng (given to decode with --keylog)",
    "captures/h2-tls-exchange.keys": "the TLS key log of h2-tls-exchange.pcapng (given to decode with --keylog)",
}
# the fixture folders that hold recordings: every file there is a unit, a vector list or listed here
RECORDING_FOLDERS = ("fixtures/mapihttp", "fixtures/nspi", "fixtures/rops", "fixtures/rpch", "fixtures/specvectors")
FIXTURES_NOT_RECORDINGS = {"fixtures/nspi/extra_people.ldif": "directory entries for the address-book tests"}
VECTOR_LISTS = {
    "fixtures/rops/ruler_execute.json": "ROP buffers cut from ruler's MAPI/HTTP recordings (ruler_exchanges.json holds them whole)",
    "fixtures/specvectors/rop_examples_from_specs.json": "single ROPs printed in the MS-OX* specs",
    "fixtures/rpch/rts_vectors.json": "RTS PDUs from impacket's tests",
}
