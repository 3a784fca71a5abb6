"""Copying between objects (MS-OXCROPS 2.2.8.11-12, 2.2.9.7-8; MS-OXCPRPT 3.2.5.10-11, 3.2.5.19-20):
RopCopyProperties, RopCopyTo, RopCopyToStream, RopCloneStream.

A copy into a message or attachment goes to its working copy (saved with RopSaveChangesMessage); into a
folder, at once. With CopyFlags Move the properties leave the source. NoOverwrite keeps what the target
has. A destination handle that is not open answers ecDstNullObject naming it.
"""
from __future__ import annotations

from copy import deepcopy

from protocols.rops import copy as C
from protocols.rops import stream as S
from protocols.rops.property import PropertyProblem

from .. import editing
from ..call import EC_NOT_FOUND, RopError
from ..objects import StreamObj
from ..props import MISSING, lookup
from .property import _set_on, object_props
from .stream import EC_STREAM_ACCESS_DENIED, _write

_KINDS = ("folder", "message", "attachment")


def _dest(call, req):
    try:
        return call.obj(req.dest_handle_index, *_KINDS)
    except RopError:
        return None


async def _copy(call, req, src, dest, tags) -> list:
    source = await object_props(call, src)
    target = await object_props(call, dest) if req.copy_flags & C.COPY_NO_OVERWRITE else {}
    values, problems = [], []
    for n, tag in enumerate(tags):
        v = lookup(source, tag)
        if v is MISSING or v is None:
            problems.append((n, tag, EC_NOT_FOUND))
        elif lookup(target, tag) is MISSING:
            values.append((tag, v))
    problems += await _set_on(call, dest, values)
    if req.copy_flags & C.COPY_MOVE and src.kind == "message" and values:
        editing.delete_message_props(call.mbx, src, [t for t, _ in values])
    return problems


def _problems(found) -> tuple:
    return tuple(PropertyProblem(n, tag, code) for n, tag, code in found)


async def copy_properties(call, req: C.CopyPropertiesRequest):
    src = call.obj(req.source_handle_index, *_KINDS)
    dest = _dest(call, req)
    if dest is None:
        return C.CopyPropertiesResponse(handle_index=req.source_handle_index, return_value=C.EC_DST_NULL_OBJECT,
                                        dest_handle_index=req.dest_handle_index)
    problems = await _copy(call, req, src, dest, req.property_tags)
    return C.CopyPropertiesResponse(handle_index=req.source_handle_index, return_value=0,
                                    property_problems=_problems(problems))


async def copy_to(call, req: C.CopyToRequest):
    """Every property but the excluded ones (and those the store computes); with WantSubObjects a message's
    recipients and attachments too."""
    src = call.obj(req.source_handle_index, *_KINDS)
    dest = _dest(call, req)
    if dest is None:
        return C.CopyToResponse(handle_index=req.source_handle_index, return_value=C.EC_DST_NULL_OBJECT,
                                dest_handle_index=req.dest_handle_index)
    excluded = set(req.excluded_tags)
    tags = [t for t in (await object_props(call, src)) if isinstance(t, int) and t not in excluded
            and t not in editing.READ_ONLY and t & 0xFFFF]
    problems = [p for p in await _copy(call, req, src, dest, tags) if p[2] != EC_NOT_FOUND]
    if req.want_sub_objects and src.kind == "message" and dest.kind == "message":
        content = deepcopy(editing.working_copy(src))
        target = editing.working_copy(dest)
        editing.need_writable(dest)
        target.recipients, target.attachments = content.recipients, content.attachments
        dest.reshaped = True
    return C.CopyToResponse(handle_index=req.source_handle_index, return_value=0,
                            property_problems=_problems(problems))


async def copy_to_stream(call, req: C.CopyToStreamRequest):
    src = call.obj(req.source_handle_index, "stream")
    try:
        dest = call.obj(req.dest_handle_index, "stream")
    except RopError:
        return C.CopyToStreamResponse(handle_index=req.source_handle_index, return_value=C.EC_DST_NULL_OBJECT,
                                      dest_handle_index=req.dest_handle_index)
    if not dest.writable:
        raise RopError(EC_STREAM_ACCESS_DENIED, "the destination stream is read-only")
    data = bytes(src.data[src.position:src.position + req.byte_count])
    src.position += len(data)
    written = _write(dest, data)
    return C.CopyToStreamResponse(handle_index=req.source_handle_index, return_value=0, read_byte_count=len(data),
                                  written_byte_count=written)


async def clone_stream(call, req: S.CloneStreamRequest):
    """A second stream object on the same property with its own seek pointer (and the same bytes)."""
    st = call.obj(req.input_handle_index, "stream")
    clone = StreamObj(st.logon_id, st.tag, bytearray(st.data) if st.writable else bytes(st.data), st.position,
                      st.owner)
    call.put(req.output_handle_index, st.logon_id, clone)
    return S.CloneStreamResponse(handle_index=req.output_handle_index, return_value=0)


HANDLERS = {0x67: copy_properties, 0x39: copy_to, 0x3A: copy_to_stream, 0x3B: clone_stream}
