"""Stream ROPs (MS-OXCROPS 2.2.9), read-only, on a property of an opened message: RopOpenStream,
RopReadStream, RopGetStreamSize, RopSeekStream.

The stream holds the property's bytes as MS-OXCPRPT 2.2.14 has them: a PtypString as UTF-16LE, a PtypString8
in the session's code page (neither with a terminating NUL), a PtypBinary as is. Opening for writing is
refused (ecNotSupported) until the write side is built. A property the object lacks is ecNotFound.
"""
from __future__ import annotations

from protocols.mapi.types import PropType
from protocols.rops import stream as S

from ..call import EC_INVALID_PARAM, EC_NO_SUPPORT, EC_NOT_FOUND, RopError
from ..objects import StreamObj
from ..props import MISSING, lookup
from .property import object_props

OPEN_READ_ONLY = 0x00
EC_STREAM_SEEK_ERROR = 0x80030019
STREAM_SEEK_SET, STREAM_SEEK_CUR, STREAM_SEEK_END = 0, 1, 2


def stream_bytes(tag: int, v, codepage: str) -> bytes:
    ptype = tag & 0xFFFF
    if ptype == PropType.String:
        return v.encode("utf-16-le", "surrogatepass") if isinstance(v, str) else bytes(v)
    if ptype == PropType.String8:
        return v.encode(codepage, "replace") if isinstance(v, str) else bytes(v)
    if ptype == PropType.Binary:
        return v.encode("utf-8") if isinstance(v, str) else bytes(v)
    raise RopError(EC_NO_SUPPORT, f"a property of type 0x{ptype:04X} is no stream")


async def open_stream(call, req: S.OpenStreamRequest):
    obj = call.obj(req.input_handle_index, "message", "folder")
    if req.open_mode_flags != OPEN_READ_ONLY:
        raise RopError(EC_NO_SUPPORT, "streams are read-only")
    props = await object_props(call, obj)
    v = lookup(props, req.property_tag)
    if v is None or v is MISSING:
        raise RopError(EC_NOT_FOUND, f"no property 0x{req.property_tag:08X}")
    data = stream_bytes(req.property_tag, v, call.codepage)
    call.put(req.output_handle_index, obj.logon_id, StreamObj(obj.logon_id, req.property_tag, data))
    return S.OpenStreamResponse(handle_index=req.output_handle_index, return_value=0, stream_size=len(data))


async def read_stream(call, req: S.ReadStreamRequest):
    st = call.obj(req.input_handle_index, "stream")
    want = req.maximum_byte_count if req.byte_count == S.BABE else req.byte_count
    want = min(want or 0, 0xFFFF, max(call.space - 8, 0))      # RopId, index, ReturnValue, DataSize
    data = st.data[st.position:st.position + want]
    st.position += len(data)
    return S.ReadStreamResponse(handle_index=req.input_handle_index, return_value=0, data=data)


async def get_stream_size(call, req: S.GetStreamSizeRequest):
    st = call.obj(req.input_handle_index, "stream")
    return S.GetStreamSizeResponse(handle_index=req.input_handle_index, return_value=0, stream_size=len(st.data))


async def seek_stream(call, req: S.SeekStreamRequest):
    st = call.obj(req.input_handle_index, "stream")
    offset = req.offset - (1 << 64) if req.offset >= 1 << 63 else req.offset      # a signed 64-bit offset
    base = {STREAM_SEEK_SET: 0, STREAM_SEEK_CUR: st.position, STREAM_SEEK_END: len(st.data)}.get(req.origin)
    if base is None:
        raise RopError(EC_INVALID_PARAM, f"origin {req.origin}")
    pos = base + offset
    if pos < 0 or pos > 0xFFFFFFFF:
        raise RopError(EC_STREAM_SEEK_ERROR, f"seek to {pos}")
    st.position = pos
    return S.SeekStreamResponse(handle_index=req.input_handle_index, return_value=0, new_position=pos)


HANDLERS = {0x2B: open_stream, 0x2C: read_stream, 0x5E: get_stream_size, 0x2E: seek_stream}
