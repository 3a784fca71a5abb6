"""rpcreplay.carry says why a DCE/RPC call was not carried: a stub the codecs refuse is "its stub does not
decode", a string its MAPI/HTTP request cannot hold is said as such, and anything else (a KeyError, a
TypeError, a bare ValueError) is a bug in the carrying, named with its exception, never passing for a
damaged stub (tests/clients/test_replay_corpus.py fails on such a name)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.replay import rpcreplay
from gateway.replay.files import load
from protocols.rpch.ndr import NdrError

CAPTURE = Path(__file__).resolve().parents[2] / "captures" / "ruler-rpchttp.pcap"


def _raise(exc):
    def carry(*_args):
        raise exc
    return carry


@pytest.mark.parametrize("exc, why", [
    (NdrError("a pointer past the end"), "not replayed: its stub does not decode: a pointer past the end"),
    (UnicodeEncodeError("ascii", "/o=Ex\xe4mple", 5, 6, "ordinal not in range(128)"),
     "not replayed: its string '/o=Ex\xe4mple' is not ASCII"),
    (ValueError("a null-terminated string cannot hold a null"), "not replayed: a string of it holds a null"),
    (KeyError("handle"), "not replayed: it could not be carried: KeyError: 'handle' (a bug worth reporting)"),
    (TypeError("unhashable"), "not replayed: it could not be carried: TypeError: unhashable (a bug"),
    (ValueError("3 is not a valid RopId"), "not replayed: it could not be carried: ValueError: 3 is not"),
])
def test_why_a_call_was_not_carried(monkeypatch, exc, why):
    monkeypatch.setitem(rpcreplay.CALLS, ("EMSMDB", 11), (_raise(exc), "emsmdb"))
    carried = rpcreplay.carry(load(CAPTURE))
    listed = [w for ex, w in carried.not_replayed if ex.method == "EcDoRpcExt2"]
    assert listed and all(w.startswith(why) for w in listed), listed
