"""Replaying address book traffic (/mapi/nspi, MS-OXCMAPIHTTP 2.2.5): Minimal Entry IDs paired, answers
compared call by call.

A MId is chosen by the server for its session, so a recorded GetMatches, ResolveNames or DNToMId hands
out MIds the live server does not know. ``learn`` pairs the recorded answer's MIds with the live one's
(the MId arrays position by position, the STAT's CurrentRec), and ``rewrite`` puts the live MIds into
later requests (MId arrays, explicit tables, a STAT's CurrentRec, single MIds); the reserved MIds below
0x10 (beginning, current, end of table) are kept. Answers are compared field by field, the STAT and the
rows too, except what differs by nature (gateway/replay/rules.py: server GUIDs, entry ids and keys that
carry MIds or GUIDs, URLs naming the server).
"""
from __future__ import annotations

import dataclasses

from protocols.mapihttp.errors import MapiHttpDecodeError
from protocols.mapihttp.framing import decode_stream
from protocols.nspi import codec as C

from . import rules
from .diff import Difference, DiffResult, decode_both

MID_FIELDS = ("minimal_ids", "explicit_table", "minimal_id", "minimal_id1", "minimal_id2")
# PidTagAddressBookContainerId (MS-OXOABK 2.2.2.1): a container's MId, which a STAT's ContainerID names
CONTAINER_ID_PROP = 0xFFFD
RESERVED_MIDS = 0x10


class NspiReplayError(ValueError):
    pass


@dataclasses.dataclass
class NspiIds:
    mids: dict = dataclasses.field(default_factory=dict)      # recorded MId -> live

    def mid(self, v):
        if isinstance(v, int):
            return v if v < RESERVED_MIDS else self.mids.get(v, v)
        if isinstance(v, tuple):
            return tuple(self.mid(x) for x in v)
        return v

    def pair(self, rec, live) -> None:
        if isinstance(rec, int) and isinstance(live, int):
            if rec >= RESERVED_MIDS and live >= RESERVED_MIDS:
                self.mids[rec] = live
        elif isinstance(rec, (tuple, list)) and isinstance(live, (tuple, list)):
            for a, b in zip(rec, live):
                self.pair(a, b)


def _body(data: bytes) -> bytes:
    try:
        return decode_stream(data).body
    except MapiHttpDecodeError:
        return data


def rewrite(request_type: str, body: bytes, m: NspiIds) -> bytes:
    try:
        req = C.decode_request(request_type, body)
    except (C.NspiDecodeError, ValueError) as exc:
        raise NspiReplayError(f"the recorded {request_type} does not decode: {exc}") from exc
    changes = {f.name: m.mid(getattr(req, f.name)) for f in dataclasses.fields(req) if f.name in MID_FIELDS}
    state = getattr(req, "state", None)
    if state is not None:
        changes["state"] = dataclasses.replace(state, current_rec=m.mid(state.current_rec),
                                               container_id=m.mid(state.container_id))
    return dataclasses.replace(req, **changes).encode() if changes else body


def learn_and_compare(request_type: str, recorded: bytes, live: bytes, m: NspiIds) -> DiffResult:
    result = DiffResult()
    pair = decode_both(request_type, C.decode_response, _body(recorded), _body(live), (C.NspiDecodeError, ValueError),
                       result)
    if pair is None:
        return result
    a, b = pair
    for f in dataclasses.fields(a):
        name, va, vb = f.name, getattr(a, f.name), getattr(b, f.name)
        path = f"/{request_type}/{name}"
        if name in MID_FIELDS:
            m.pair(va, vb)
            result.ignored["server-chosen id"] += 1
        elif name == "state" and va is not None and vb is not None:
            m.pair(va.current_rec, vb.current_rec)
            for sf in dataclasses.fields(va):
                if sf.name == "container_id" and m.mid(va.container_id) == vb.container_id:
                    continue                    # the container the live server calls so
                if sf.name != "current_rec" and getattr(va, sf.name) != getattr(vb, sf.name):
                    result.differences.append(Difference(f"{path}/{sf.name}", "field", str(getattr(va, sf.name)),
                                                         str(getattr(vb, sf.name))))
        elif isinstance(va, C.RowSet) and isinstance(vb, C.RowSet):
            _rows(path, va, vb, result)
        elif _is_pvlist(va) and _is_pvlist(vb):
            _tagged(path, va, vb, result, m)
        elif isinstance(va, tuple) and isinstance(vb, tuple) and va and all(_is_pvlist(x) for x in va + vb):
            if len(va) != len(vb):
                result.differences.append(Difference(path + "/count", "field", str(len(va)), str(len(vb))))
            for i, (x, y) in enumerate(zip(va, vb)):
                _tagged(f"{path}[{i}]", x, y, result, m)
        elif (why := rules.ignored_nspi_field(name)) is not None:
            result.ignored[why] += 1
        elif va != vb:
            result.differences.append(Difference(path, "field", repr(va)[:120], repr(vb)[:120]))
    return result


def _rows(path, a: C.RowSet, b: C.RowSet, result: DiffResult) -> None:
    if len(a.rows) != len(b.rows):
        result.differences.append(Difference(path + "/count", "field", str(len(a.rows)), str(len(b.rows))))
    for i, (x, y) in enumerate(zip(a.rows, b.rows)):
        for tag, va, vb in zip(a.columns, x.values, y.values):
            why = rules.ignored_nspi_tag(tag)
            if why:
                result.ignored[why] += 1
            elif (va.flag, va.value) != (vb.flag, vb.value):
                result.differences.append(Difference(f"{path}/row[{i}]/0x{tag:08X}", "value", repr(va.value)[:120],
                                                     repr(vb.value)[:120]))


def _is_pvlist(v) -> bool:
    return isinstance(v, tuple) and bool(v) and all(isinstance(t, C.TaggedValue) for t in v)


def _tagged(path, a, b, result: DiffResult, m: NspiIds) -> None:
    """Two lists of tagged values (GetProps, GetSpecialTable's rows), property by property."""
    left, right = {t.tag: t.value for t in a}, {t.tag: t.value for t in b}
    for tag in sorted(set(left) | set(right)):
        why = rules.ignored_nspi_tag(tag)
        if why:
            result.ignored[why] += 1
            continue
        x, y = left.get(tag), right.get(tag)
        if tag >> 16 == CONTAINER_ID_PROP and x is not None and y is not None and isinstance(x.value, int):
            m.pair(x.value, y.value)            # the container's MId: the live one stands in a later STAT
            result.ignored["server-chosen id"] += 1
            continue
        if (x is None) != (y is None) or (x is not None and (x.flag, x.value) != (y.flag, y.value)):
            result.differences.append(Difference(f"{path}/0x{tag:08X}", "value", repr(getattr(x, "value", None))[:120],
                                                 repr(getattr(y, "value", None))[:120]))
