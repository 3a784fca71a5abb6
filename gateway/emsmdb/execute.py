"""One Execute: the RopBuffer's RPC_HEADER_EXT chain, each ROP through the handler table, the answer.

MS-OXCRPC 3.1.4.2 (EcDoRpcExt2) and MS-OXCROPS 2.2.1, 3.2.5. Each piece of the request chain is one
ROP buffer; its ROPs run in order against the session's objects, each answering with its own response
(or its own error code: an unknown RopId or a ROP without a handler answers ecNotSupported, a store
error its MAPI code, anything unexpected ecError), so the ROPs before a failing one keep their answers
and the ones after it still run. An unknown RopId ends the buffer: nothing after it can be decoded.
The response handle table is the request's with the slots the ROPs filled.

The response is sent uncompressed and without XOR (both are optional for a server). When the answers
do not fit MaxRopOut, the ROP that overflows is answered with RopBufferTooSmall (SizeNeeded and the
request bytes not processed) and the rest is left for the client to send again; RopQueryRows instead
returns the rows that fit.
"""
from __future__ import annotations

import logging
import struct

from gateway.store.errors import StoreError
from protocols.rops import (
    EC_NOT_SUPPORTED, RopErrorResponse, RopFormatError, UnknownRop, decode_ext_buffer, decode_request_buffer,
    encode_ext_buffer,
)
from protocols.rops.common import BufferTooSmallResponse

from .call import (EC_ERROR, EC_RPC_FORMAT, MAX_PAYLOAD, RPC_HEADER_EXT_SIZE, RopCall, RopError, failure,
                   store_error_code)
from .notify import drain
from .rops import HANDLERS

log = logging.getLogger(__name__)


def _encoded(resp) -> bytes:
    out = bytearray()
    resp.encode(out)
    return bytes(out)


def _request_bytes(reqs) -> bytes:
    out = bytearray()
    for r in reqs:
        r.encode(out)
    return bytes(out)


async def run_rop_buffer(session, mbx, payload: bytes, max_out: int) -> bytes:
    """One ROP request buffer -> the ROP response buffer (RopSize, responses, handle table)."""
    buf = decode_request_buffer(payload)
    handles = list(buf.handles)
    call = RopCall(session, mbx, handles)
    limit = max(64, min(max_out, MAX_PAYLOAD))
    out = bytearray(b"\x00\x00")
    for n, req in enumerate(buf.rops):
        if isinstance(req, UnknownRop):
            out += _encoded(RopErrorResponse(req.rop_id, req.input_handle_index or 0, EC_NOT_SUPPORTED))
            break
        call.space = limit - len(out) - 4 * len(handles) - 8
        handler = HANDLERS.get(req.ROP_ID)
        try:
            if handler is None:
                raise RopError(EC_NOT_SUPPORTED, "not supported")
            resp = await handler(call, req)
        except RopError as exc:
            resp = failure(req, exc.code)
        except StoreError as exc:
            resp = failure(req, store_error_code(exc))
        except RopFormatError as exc:
            log.info("ROP 0x%02X: %s", req.ROP_ID, exc)
            resp = failure(req, EC_ERROR)
        except Exception:   # noqa: BLE001 - nothing a client sends crashes the session
            log.exception("ROP 0x%02X failed", req.ROP_ID)
            resp = failure(req, EC_ERROR)
        if resp is None:                 # RopRelease has no response
            continue
        data = _encoded(resp)
        if len(out) + len(data) + 4 * len(handles) > limit:
            rest = _request_bytes(buf.rops[n:])
            out += _encoded(BufferTooSmallResponse(min(0xFFFF, len(data)), rest))
            break
        out += data
    if session.pending:           # notifications ride on the answer (MS-OXCNOTIF 3.1.5.7)
        room = limit - len(out) - 4 * len(handles)
        if room >= 8:
            out += drain(session, room)[0]
    struct.pack_into("<H", out, 0, len(out))
    for h in handles:
        out += struct.pack("<I", h)
    return bytes(out)


async def execute(session, mbx, rop_buffer: bytes, max_rop_out: int) -> tuple[int, bytes]:
    """An Execute's RopBuffer -> (ErrorCode, response RopBuffer). A chain the server cannot read fails the
    whole call with ecRpcFormat (MS-OXCROPS 3.2.5.1)."""
    try:
        pieces = decode_ext_buffer(rop_buffer)
    except RopFormatError as exc:
        log.info("Execute: unreadable RopBuffer: %s", exc)
        return EC_RPC_FORMAT, b""
    answers = []
    for piece in pieces:
        try:
            answers.append(await run_rop_buffer(session, mbx, piece.payload, max_rop_out - RPC_HEADER_EXT_SIZE))
        except RopFormatError as exc:
            log.info("Execute: unreadable ROP buffer: %s", exc)
            return EC_RPC_FORMAT, b""
    return 0, encode_ext_buffer(answers)
