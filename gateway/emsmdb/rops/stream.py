"""Stream ROPs (MS-OXCROPS 2.2.9) on a property of a message, attachment or folder: RopOpenStream,
RopReadStream, RopWriteStream, RopCommitStream, RopWriteAndCommitStream, RopGetStreamSize,
RopSetStreamSize, RopSeekStream.

The stream holds the property's bytes as MS-OXCPRPT 2.2.14 has them: a PtypString as UTF-16LE, a PtypString8
in the session's code page (neither with a terminating NUL), a PtypBinary as is. A property the object
lacks is ecNotFound unless the stream is opened with Create. A written stream goes back into its message's
or attachment's working copy on RopCommitStream, or when it is released uncommitted (as Exchange does);
the message reaches the store with RopSaveChangesMessage.
"""
from __future__ import annotations

from protocols.mapi.types import PropType
from protocols.rops import stream as S

from .. import editing
from ..call import EC_INVALID_PARAM, EC_NO_SUPPORT, EC_NOT_FOUND, RopError
from ..objects import StreamObj
from ..props import MISSING, lookup
from .property import object_props

OPEN_READ_ONLY, OPEN_READ_WRITE, OPEN_CREATE = 0x00, 0x01, 0x02
EC_STREAM_SEEK_ERROR = 0x80030019
EC_STREAM_ACCESS_DENIED = 0x80030005        # STG_E_ACCESSDENIED: writing a read-only stream
EC_STREAM_SIZE_ERROR = 0x80030070           # STG_E_MEDIUMFULL: past what one property may hold
MAX_STREAM = 64 << 20
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


def stream_value(tag: int, data: bytes, codepage: str):
    ptype = tag & 0xFFFF
    if ptype == PropType.String:
        return bytes(data).decode("utf-16-le", "replace").rstrip("\x00")
    if ptype == PropType.String8:
        return bytes(data).decode(codepage, "replace").rstrip("\x00")
    return bytes(data)


async def open_stream(call, req: S.OpenStreamRequest):
    obj = call.obj(req.input_handle_index, "message", "folder", "attachment")
    mode = req.open_mode_flags
    if mode not in (OPEN_READ_ONLY, OPEN_READ_WRITE, OPEN_CREATE):
        raise RopError(EC_INVALID_PARAM, f"OpenModeFlags 0x{mode:02X}")
    if mode != OPEN_READ_ONLY:
        if obj.kind == "folder":
            raise RopError(EC_NO_SUPPORT, "folder properties are not written by stream")
        editing.need_writable(obj)
    if mode == OPEN_CREATE:
        stream_bytes(req.property_tag, b"", call.codepage)           # the type must be a stream type
        data = b""
    else:
        v = lookup(await object_props(call, obj), req.property_tag)
        if v is None or v is MISSING:
            raise RopError(EC_NOT_FOUND, f"no property 0x{req.property_tag:08X}")
        data = stream_bytes(req.property_tag, v, call.codepage)
    st = StreamObj(obj.logon_id, req.property_tag, data)
    if mode != OPEN_READ_ONLY:
        st.data, st.owner, st.changed = bytearray(data), obj, mode == OPEN_CREATE
    call.put(req.output_handle_index, obj.logon_id, st)
    return S.OpenStreamResponse(handle_index=req.output_handle_index, return_value=0, stream_size=len(data))


def commit(mbx, st, codepage: str) -> None:
    """The stream's bytes back into its object's working copy."""
    if not st.writable or not st.changed:
        return
    value = stream_value(st.tag, st.data, codepage)
    owner = st.owner
    if owner.kind == "message":
        editing.set_message_props(mbx, owner, [(st.tag, value)])
    else:
        owner.props[editing.key_of(mbx, st.tag)] = value
    st.changed = False


def _writable(call, req):
    st = call.obj(req.input_handle_index, "stream")
    if not st.writable:
        raise RopError(EC_STREAM_ACCESS_DENIED, "the stream was opened read-only")
    return st


def _write(st, data: bytes) -> int:
    end = st.position + len(data)
    if end > MAX_STREAM:
        raise RopError(EC_STREAM_SIZE_ERROR, "the stream would pass its size limit")
    if st.position > len(st.data):
        st.data.extend(b"\x00" * (st.position - len(st.data)))
    st.data[st.position:end] = data
    st.position = end
    st.changed = True
    return len(data)


async def write_stream(call, req: S.WriteStreamRequest):
    st = _writable(call, req)
    n = _write(st, req.data)
    return S.WriteStreamResponse(handle_index=req.input_handle_index, return_value=0, written_size=n)


async def write_and_commit_stream(call, req: S.WriteAndCommitStreamRequest):
    st = _writable(call, req)
    n = _write(st, req.data)
    commit(call.mbx, st, call.codepage)
    return S.WriteAndCommitStreamResponse(handle_index=req.input_handle_index, return_value=0, written_size=n)


async def commit_stream(call, req: S.CommitStreamRequest):
    st = call.obj(req.input_handle_index, "stream")
    commit(call.mbx, st, call.codepage)
    return S.CommitStreamResponse(handle_index=req.input_handle_index, return_value=0)


async def set_stream_size(call, req: S.SetStreamSizeRequest):
    st = _writable(call, req)
    if req.stream_size > MAX_STREAM:
        raise RopError(EC_STREAM_SIZE_ERROR, "past the size limit")
    if req.stream_size < len(st.data):
        del st.data[req.stream_size:]
    else:
        st.data.extend(b"\x00" * (req.stream_size - len(st.data)))
    st.changed = True
    return S.SetStreamSizeResponse(handle_index=req.input_handle_index, return_value=0)


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


HANDLERS = {0x2B: open_stream, 0x2C: read_stream, 0x5E: get_stream_size, 0x2E: seek_stream, 0x2D: write_stream,
            0x90: write_and_commit_stream, 0x5D: commit_stream, 0x2F: set_stream_size}
