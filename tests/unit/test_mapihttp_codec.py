"""MS-OXCMAPIHTTP transport codecs on ruler's recorded MAPI/HTTP exchanges.

Bodies (2.2.4) round-trip byte-exact, header validation answers the X-ResponseCode
of 2.2.3.3.3, the PROCESSING/PENDING/DONE framing (2.2.7) round-trips around the
recorded bodies, and bad bytes raise only MapiHttpDecodeError.
"""
from __future__ import annotations

import base64
import json
import random
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

from protocols.mapihttp import (
    ConnectRequest, ConnectResponse, DisconnectRequest, DisconnectResponse, Endpoint,
    ExecuteFlags, ExecuteRequest, ExecuteResponse, FailureResponse, MapiHttpDecodeError,
    NotificationWaitRequest, NotificationWaitResponse, PingBody, Rejection, RequestMeta,
    RequestType, ResponseCode, ResponseStream, check_sequence, decode_request, decode_response,
    decode_stream, done_block, encode_stream, pending_line, processing_line, response_headers,
    set_cookie_values, validate_request,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "mapihttp" / "ruler_exchanges.json"
EXCHANGES = json.loads(FIXTURE.read_text())["exchanges"]
for _e in EXCHANGES:
    _e["request"] = base64.b64decode(_e["request_b64"])
    _e["response"] = base64.b64decode(_e["response_b64"])
    _e["type"] = next(v for k, v in _e["headers"] if k.lower() == "x-requesttype")

EMSMDB = [e for e in EXCHANGES if e["path"].startswith("/mapi/emsmdb/")]
NSPI = [e for e in EXCHANGES if e["path"].startswith("/mapi/nspi/")]


def _id(e: dict) -> str:
    return f"{e['recording'].removesuffix('.jsonl')}#{e['seq']}-{e['type']}"


def _headers(e: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in e["headers"]}


def test_fixture_holds_what_the_tests_claim():
    kinds = sorted({e["type"] for e in EMSMDB})
    assert kinds == ["Connect", "Disconnect", "Execute"]
    assert len(EMSMDB) == 43 and len(NSPI) == 3
    assert {e["recording"] for e in EXCHANGES} >= {"mapi_basic_check.jsonl", "mapi_ntlm_check.jsonl"}


# ---------------------------------------------------------------- bodies on real bytes

RESPONSE_TYPES = {"Connect": ConnectResponse, "Execute": ExecuteResponse, "Disconnect": DisconnectResponse}
REQUEST_TYPES = {"Connect": ConnectRequest, "Execute": ExecuteRequest, "Disconnect": DisconnectRequest}


@pytest.mark.parametrize("e", EMSMDB, ids=_id)
def test_recorded_bodies_round_trip(e):
    request = decode_request(e["type"], e["request"])
    response = decode_response(e["type"], e["response"])
    assert type(request) is REQUEST_TYPES[e["type"]]
    assert type(response) is RESPONSE_TYPES[e["type"]]  # every recorded answer is a success body
    assert request.encode() == e["request"]
    assert response.encode() == e["response"]
    # the codec classes decode the same way as the by-name helpers
    assert REQUEST_TYPES[e["type"]].decode(e["request"]) == request


def test_connect_fields():
    e = next(e for e in EMSMDB if e["type"] == "Connect")
    req = ConnectRequest.decode(e["request"])
    assert req.user_dn == "/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=u"
    assert (req.flags, req.default_code_page, req.lcid_sort, req.lcid_string) == (0, 1252, 1033, 1033)
    assert req.auxiliary_buffer == b""
    resp = ConnectResponse.decode(e["response"])
    assert (resp.status_code, resp.error_code) == (0, 0)
    assert (resp.max_polling_interval, resp.retry_count, resp.retry_delay) == (60_000, 6, 10_000)
    assert resp.dn_prefix == "/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
    assert resp.display_name == "Recorder User"
    assert len(e["request"]) == len(req.user_dn) + 1 + 5 * 4


@pytest.mark.parametrize("e", [e for e in EMSMDB if e["type"] == "Execute"], ids=_id)
def test_execute_fields(e):
    req = ExecuteRequest.decode(e["request"])
    assert req.flags == ExecuteFlags.NO_COMPRESSION | ExecuteFlags.NO_XOR_MAGIC
    assert req.max_rop_out in (0x5A01, 0x40000)  # ruler sends two different values (see report)
    assert req.auxiliary_buffer == b""
    # RopBuffer is opaque here; its first 8 bytes are an RPC_HEADER_EXT (MS-OXCRPC 2.2.2.1)
    version, flags, size, size_actual = struct.unpack_from("<HHHH", req.rop_buffer)
    assert (version, flags) == (0, 0x0004) and size == size_actual == len(req.rop_buffer) - 8
    resp = ExecuteResponse.decode(e["response"])
    assert (resp.status_code, resp.error_code, resp.flags) == (0, 0, 0)
    version, flags, size, size_actual = struct.unpack_from("<HHHH", resp.rop_buffer)
    assert size == len(resp.rop_buffer) - 8


def test_disconnect_fields():
    for e in (e for e in EMSMDB if e["type"] == "Disconnect"):
        assert DisconnectRequest.decode(e["request"]) == DisconnectRequest(b"")
        assert DisconnectResponse.decode(e["response"]) == DisconnectResponse(0, b"")
    # 3.1.5.4 (R1165) says Disconnect has no body; an empty one is read and written back empty
    assert DisconnectRequest.decode(b"") == DisconnectRequest(None)
    assert DisconnectRequest(None).encode() == b""


def test_notification_wait_and_ping_bodies():
    req = NotificationWaitRequest(0, b"\x01\x02")
    assert req.encode() == b"\0\0\0\0\x02\0\0\0\x01\x02"
    assert NotificationWaitRequest.decode(req.encode()) == req
    for pending in (False, True):
        resp = NotificationWaitResponse(event_pending=pending)
        raw = resp.encode()
        assert raw == struct.pack("<IIII", 0, 0, int(pending), 0)
        assert decode_response("notificationwait", raw) == resp
    with pytest.raises(MapiHttpDecodeError):
        NotificationWaitResponse.decode(struct.pack("<IIII", 0, 0, 2, 0))
    assert decode_request("ping", b"") == PingBody() and PingBody().encode() == b""
    with pytest.raises(MapiHttpDecodeError):
        PingBody.decode(b"\0")


@pytest.mark.parametrize("name", ["Connect", "Execute", "Disconnect", "NotificationWait"])
def test_failure_bodies(name):
    """2.2.4.x.3: a non-zero StatusCode is followed only by the auxiliary buffer."""
    raw = struct.pack("<II", 0x80040115, 3) + b"abc"
    resp = decode_response(name, raw)
    assert resp == FailureResponse(0x80040115, b"abc")
    assert resp.encode() == raw
    with pytest.raises(ValueError):
        FailureResponse(0)


def test_synthetic_success_bodies_round_trip():
    bodies = [
        ConnectRequest("/o=X/cn=u", 0x8000, 65001, 1031, 1031, b"aux"),
        ConnectResponse(0, 1, 2, 3, "/o=X", "Jörg Ünïcode \U0001F600", b"\x00" * 5),
        ExecuteRequest(ExecuteFlags.CHAIN, b"\x00" * 8, 0x40000, b"\x10"),
        ExecuteResponse(b"\x01" * 9, error_code=0x80040111, auxiliary_buffer=b"zz"),
        DisconnectResponse(0x4B9, b"a"),
    ]
    for body in bodies:
        raw = body.encode()
        assert type(body).decode(raw) == body
        assert type(body).decode(raw).encode() == raw


# ---------------------------------------------------------------- headers on real requests


@pytest.mark.parametrize("e", EXCHANGES, ids=_id)
def test_recorded_requests_validate(e):
    meta = validate_request(e["method"], e["path"], e["headers"])
    assert isinstance(meta, RequestMeta), meta
    assert meta.request_type.value.lower() == e["type"].lower()  # NSPI's "BIND" is upper case
    assert meta.endpoint is (Endpoint.EMSMDB if "/emsmdb/" in e["path"] else Endpoint.NSPI)
    assert meta.content_length == len(e["request"])
    assert meta.request_id.guid == "C715155F-2BE8-44E0-BD34-2960065754C8"
    assert meta.client_application == "Outlook/15.0.4815.1002"
    assert meta.client_info == "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}"
    if meta.request_type.creates_context:
        assert meta.context_cookie is None
    else:
        # the cookie is the one the Connect/Bind of the same recording set
        issued = next(x for x in EXCHANGES if x["recording"] == e["recording"]
                      and x["path"].split("?")[0] == e["path"].split("?")[0] and x["response_set_cookie"])
        context = issued["response_set_cookie"][0].split(";")[0].split("=", 1)[1]
        assert meta.context_cookie == context
        assert meta.sequence_cookie == context + "-1"
        assert check_sequence(meta, context + "-1") is None


def test_request_id_counter_increases_within_a_session():
    for recording in {e["recording"] for e in EXCHANGES}:
        counters = [validate_request(e["method"], e["path"], e["headers"]).request_id.counter
                    for e in EXCHANGES if e["recording"] == recording]
        assert counters == sorted(counters) and len(set(counters)) == len(counters)


BASE = next(e for e in EMSMDB if e["type"] == "Execute" and e["recording"] == "mapi_basic_check.jsonl")


def _variant(drop=(), method="POST", path=None, **set_):
    headers = [(k, v) for k, v in BASE["headers"] if k.lower() not in {d.lower() for d in drop}]
    names = {k.lower().replace("_", "-"): v for k, v in set_.items()}
    headers = [(k, names.pop(k.lower())) if k.lower() in names else (k, v) for k, v in headers]
    headers += list(names.items())
    return method, path or BASE["path"], headers


OK = ResponseCode.SUCCESS
HEADER_CASES = [
    ("as recorded", _variant(), OK),
    ("lower-case request type", _variant(x_requesttype="execute"), OK),
    ("upper-case request type", _variant(x_requesttype="EXECUTE"), OK),
    ("request id without braces", _variant(x_requestid="C715155F-2BE8-44E0-BD34-2960065754C8:7"), OK),
    ("chunked request without Content-Length", _variant(drop=["Content-Length"], transfer_encoding="chunked"), OK),
    ("content type with charset", _variant(content_type="application/mapi-http; charset=utf-8"), OK),
    ("no X-ClientInfo (not in R38's list)", _variant(drop=["X-ClientInfo"]), OK),
    ("GET", _variant(method="GET"), ResponseCode.INVALID_VERB),
    ("wrong path", _variant(path="/mapi/foo/?MailboxId=x"), ResponseCode.INVALID_PATH),
    ("EWS path", _variant(path="/EWS/Exchange.asmx"), ResponseCode.INVALID_PATH),
    ("no X-RequestType", _variant(drop=["X-RequestType"]), ResponseCode.MISSING_HEADER),
    ("unknown X-RequestType", _variant(x_requesttype="Frobnicate"), ResponseCode.INVALID_REQUEST_TYPE),
    ("NSPI type on emsmdb", _variant(x_requesttype="Bind"), ResponseCode.INVALID_REQUEST_TYPE),
    ("EMSMDB type on nspi", _variant(path="/mapi/nspi/?MailboxId=x"), ResponseCode.INVALID_REQUEST_TYPE),
    ("no X-RequestId", _variant(drop=["X-RequestId"]), ResponseCode.MISSING_HEADER),
    ("X-RequestId not GUID:counter", _variant(x_requestid="hello"), ResponseCode.INVALID_HEADER),
    ("no Host", _variant(drop=["Host"]), ResponseCode.MISSING_HEADER),
    ("no Content-Type", _variant(drop=["Content-Type"]), ResponseCode.MISSING_HEADER),
    ("wrong Content-Type", _variant(content_type="text/xml"), ResponseCode.INVALID_HEADER),
    ("no Content-Length", _variant(drop=["Content-Length"]), ResponseCode.MISSING_HEADER),
    ("bad Content-Length", _variant(content_length="12x"), ResponseCode.INVALID_HEADER),
    ("too large", _variant(content_length=str(64 * 1024 * 1024)), ResponseCode.TOO_LARGE),
    ("no cookies", _variant(drop=["Cookie"]), ResponseCode.MISSING_COOKIE),
    ("only the sequence cookie", _variant(cookie="MapiSequence=abc-1"), ResponseCode.MISSING_COOKIE),
    ("unreadable cookie header", _variant(cookie="MapiContext"), ResponseCode.INVALID_CONTEXT_COOKIE),
    ("context cookie with odd characters", _variant(cookie="MapiContext=a b<script>"),
     ResponseCode.INVALID_CONTEXT_COOKIE),
    ("context cookie too long", _variant(cookie="MapiContext=" + "a" * 300), ResponseCode.INVALID_CONTEXT_COOKIE),
]


@pytest.mark.parametrize("case", HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_header_validation(case):
    _, (method, path, headers), code = case
    result = validate_request(method, path, headers)
    if code is OK:
        assert isinstance(result, RequestMeta), result
    else:
        assert isinstance(result, Rejection) and result.code is code, result
        assert result.reason


def test_anonymous_and_duplicates_and_multiple_cookie_headers():
    method, path, headers = _variant()
    assert validate_request(method, path, headers, authenticated=False).code is ResponseCode.ANONYMOUS_NOT_ALLOWED
    dup = headers + [("X-RequestType", "Disconnect")]
    assert validate_request(method, path, dup).code is ResponseCode.INVALID_HEADER
    # the spec's 4.2 example sends each cookie in a header of its own
    split = [(k, v) for k, v in headers if k != "Cookie"] + [("Cookie", "MapiContext=abc"), ("Cookie", "MapiSequence=abc-4")]
    meta = validate_request(method, path, split)
    assert (meta.context_cookie, meta.sequence_cookie) == ("abc", "abc-4")
    conflicting = split + [("Cookie", "MapiContext=other")]
    assert validate_request(method, path, conflicting).code is ResponseCode.INVALID_CONTEXT_COOKIE


@pytest.mark.parametrize("request_type,code", [
    ("Connect", OK), ("PING", OK), ("NotificationWait", ResponseCode.MISSING_COOKIE),
    ("Disconnect", ResponseCode.MISSING_COOKIE),
])
def test_which_request_types_need_the_context_cookie(request_type, code):
    method, path, headers = _variant(drop=["Cookie"], x_requesttype=request_type)
    result = validate_request(method, path, headers)
    assert (result.code if isinstance(result, Rejection) else OK) is code


def test_rejection_echoes_what_it_could_read():
    method, path, headers = _variant(drop=["Cookie"])
    rej = validate_request(method, path, headers)
    hdrs = response_headers(rej)
    assert hdrs["X-ResponseCode"] == "13" and hdrs["Content-Type"] == "text/html"
    assert hdrs["X-RequestId"] == "{C715155F-2BE8-44E0-BD34-2960065754C8}:3"
    assert hdrs["X-RequestType"] == "Execute"
    assert hdrs["X-ClientInfo"] == "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}"


def test_success_response_headers_and_cookies():
    meta = validate_request(*_variant(x_requesttype="execute"))
    hdrs = response_headers(meta, expiration_ms=900_000)
    assert hdrs["Content-Type"] == "application/mapi-http" and hdrs["X-ResponseCode"] == "0"
    assert hdrs["X-RequestType"] == "Execute"  # the canonical spelling, whatever the client sent
    assert hdrs["X-PendingPeriod"] == "30000" and hdrs["X-ExpirationInfo"] == "900000"
    assert hdrs["X-ServerApplication"].startswith("Exchange/15.")
    assert set_cookie_values(Endpoint.EMSMDB, "ctx", "ctx-2") == [
        "MapiContext=ctx; path=/mapi/emsmdb/; HttpOnly", "MapiSequence=ctx-2; path=/mapi/emsmdb/; HttpOnly"]
    # the recorder's Set-Cookie values have the same shape
    assert BASE["recording"] and EMSMDB[0]["response_set_cookie"] == set_cookie_values(
        Endpoint.EMSMDB, EMSMDB[0]["response_set_cookie"][0].split(";")[0].split("=")[1],
        EMSMDB[0]["response_set_cookie"][1].split(";")[0].split("=")[1])


def test_check_sequence():
    meta = validate_request(*_variant(cookie="MapiContext=abc; MapiSequence=abc-3"))
    assert check_sequence(meta, None) is None
    assert check_sequence(meta, "abc-3") is None
    assert check_sequence(meta, "abc-4").code is ResponseCode.INVALID_SEQUENCE
    no_seq = validate_request(*_variant(cookie="MapiContext=abc"))
    assert check_sequence(no_seq, "abc-4").code is ResponseCode.MISSING_COOKIE
    # NotificationWait runs beside Execute; Connect ignores the sequence cookie (R1279)
    for request_type in ("NotificationWait", "Connect", "PING"):
        meta = validate_request(*_variant(cookie="MapiContext=abc; MapiSequence=abc-1", x_requesttype=request_type))
        assert check_sequence(meta, "abc-9") is None


def test_request_type_table():
    assert RequestType.parse("notificationwait") is RequestType.NOTIFICATION_WAIT
    assert RequestType.parse("ping") is RequestType.PING and RequestType.PING.endpoints == frozenset(Endpoint)
    assert RequestType.parse("BIND").endpoints == {Endpoint.NSPI}
    assert RequestType.parse("getaddressbookurl") is RequestType.GET_ADDRESS_BOOK_URL
    assert RequestType.parse("EcDoRpcExt2") is None
    assert [c.value for c in ResponseCode] == list(range(19))


# ---------------------------------------------------------------- framing


START = datetime(2026, 12, 5, 2, 30, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("e", EXCHANGES, ids=_id)
def test_framing_round_trips_on_recorded_bodies(e):
    pending = e["seq"] % 4  # a few keep-alives, different per exchange
    pieces = [processing_line()] + [pending_line()] * pending
    pieces.append(done_block(e["response"], elapsed_ms=e["seq"] * 3, start_time=START))
    stream = b"".join(pieces)
    decoded = decode_stream(stream)
    assert decoded.body == e["response"]
    assert decoded.pending == pending and decoded.processing
    assert decoded.elapsed_ms == e["seq"] * 3
    assert decoded.header("x-starttime") == "Sat, 05 Dec 2026 02:30:00 GMT"
    assert decoded.response_code is None
    assert encode_stream(decoded) == stream
    if e["type"] in RESPONSE_TYPES:
        assert decode_response(e["type"], decoded.body).encode() == e["response"]


def test_framing_shapes():
    # PING: meta-tags, no body (3.2.5.3)
    ping = done_block(b"", elapsed_ms=0, start_time="Mon, 01 Jan 2024 00:00:00 GMT")
    assert ping == b"DONE\r\nX-ElapsedTime: 0\r\nX-StartTime: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n"
    assert decode_stream(ping) == ResponseStream(b"", (("X-ElapsedTime", "0"),
                                                       ("X-StartTime", "Mon, 01 Jan 2024 00:00:00 GMT")),
                                                 pending=0, processing=False)
    # a failure after the first headers: X-ResponseCode among the additional headers (R2229)
    late = processing_line() + done_block(b"<html>gone</html>", elapsed_ms=5, start_time=START,
                                          extra=(("X-ResponseCode", "10"), ("Content-Type", "text/html")))
    parsed = decode_stream(late)
    assert parsed.response_code == 10 and parsed.body == b"<html>gone</html>"
    # a body that itself holds CRLFs and "DONE" is not read as framing
    tricky = b"DONE\r\n\r\nPENDING\r\n"
    assert decode_stream(processing_line() + done_block(tricky, elapsed_ms=1, start_time=START)).body == tricky
    with pytest.raises(ValueError):
        done_block(b"", elapsed_ms=1, start_time=START, extra=(("Bad\r\nName", "x"),))


@pytest.mark.parametrize("bad", [
    b"", b"PROCESSING\r\n", b"PROCESSING\r\nPENDING\r\n", b"HTTP/1.1 200 OK\r\n", b"DONE\r\nX-ElapsedTime: 1\r\n",
    b"DONE\r\nno colon here\r\n\r\n", b"DONE\r\n: empty name\r\n\r\n", b"PENDING\r\nPROCESSING\r\nDONE\r\n\r\n",
    b"DONE\r\n" + b"X" * 9000 + b"\r\n\r\n",
])
def test_framing_garbage(bad):
    with pytest.raises(MapiHttpDecodeError):
        decode_stream(bad)


# ---------------------------------------------------------------- robustness


def _decoders():
    for e in EMSMDB:
        yield REQUEST_TYPES[e["type"]].decode, e["request"]
        yield RESPONSE_TYPES[e["type"]].decode, e["response"]
    yield NotificationWaitRequest.decode, NotificationWaitRequest(0, b"ab").encode()
    yield NotificationWaitResponse.decode, NotificationWaitResponse(True).encode()


def _unique(pairs):
    seen, out = set(), []
    for decode, raw in pairs:
        if (decode, raw) not in seen:
            seen.add((decode, raw))
            out.append((decode, raw))
    return out


DECODERS = _unique(_decoders())


def test_every_truncation_and_every_trailing_byte_is_refused():
    for decode, raw in DECODERS:
        for cut in range(len(raw)):
            if cut == 0 and decode == DisconnectRequest.decode:
                continue  # the empty Disconnect body is legal (R1165)
            with pytest.raises(MapiHttpDecodeError):
                decode(raw[:cut])
        with pytest.raises(MapiHttpDecodeError):
            decode(raw + b"\0")


def test_seeded_fuzz_raises_only_the_declared_error():
    rng = random.Random(12)
    all_decoders = [ConnectRequest.decode, ConnectResponse.decode, ExecuteRequest.decode, ExecuteResponse.decode,
                    DisconnectRequest.decode, DisconnectResponse.decode, NotificationWaitRequest.decode,
                    NotificationWaitResponse.decode, PingBody.decode, decode_stream]
    samples = [raw for _, raw in DECODERS]
    for _ in range(3000):
        base = bytearray(rng.choice(samples))
        mode = rng.randrange(4)
        if mode == 0:  # flip bytes
            for _ in range(rng.randint(1, 6)):
                base[rng.randrange(len(base))] = rng.randrange(256)
        elif mode == 1:  # random garbage
            base = bytearray(rng.randbytes(rng.randint(0, 64)))
        elif mode == 2:  # a huge stated size
            if len(base) >= 12:
                pos = rng.randrange(0, len(base) - 4)
                base[pos:pos + 4] = struct.pack("<I", rng.choice([0xFFFFFFFF, 0x7FFFFFFF, len(base) + 1]))
        else:  # splice two samples
            other = rng.choice(samples)
            base = base[:rng.randrange(len(base) + 1)] + other[rng.randrange(len(other) + 1):]
        data = bytes(base)
        decode = rng.choice(all_decoders)
        try:
            value = decode(data)
        except MapiHttpDecodeError:
            continue
        # whatever decodes must encode back to the same bytes
        assert value.encode() == data, (decode, data.hex())


def test_non_bytes_input_is_the_declared_error_too():
    for decode in (ConnectRequest.decode, ExecuteResponse.decode, decode_stream):
        with pytest.raises(MapiHttpDecodeError):
            decode("not bytes")  # type: ignore[arg-type]
