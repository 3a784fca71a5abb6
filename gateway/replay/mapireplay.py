"""Replaying MAPI/HTTP mailbox traffic (/mapi/emsmdb): what the recorded server chose, paired with what the
live one chooses, and the answers compared ROP by ROP.

A recorded Execute names server object handles and FIDs/MIDs the recorded server handed out. After each
replayed Execute, ``learn`` pairs the recorded answer's with the live answer's: the response handle
tables slot by slot, and, ROP by ROP (in order), every id field (RopLogon's 13 folder ids, a created
folder's or saved message's id, ...) and the id columns of the rows of RopQueryRows (PidTagMid,
PidTagFolderId, PidTagInstID, PidTagParentFolderId, by row position). ``rewrite`` then puts the live
handles and ids into the next Execute's ROP buffer, re-encoded by the server's own codecs (uncompressed,
without XOR: both are optional for a client). The session cookies are the live server's (the driver's
cookie jar), never the recorded ones.

``compare`` reports, per ROP: a different ROP, a different ReturnValue, a field whose value differs, a
property row value that differs; what is expected to differ (ids, handles, times, change keys...) is
decided by gateway/replay/rules.py (the MAPI part) and counted, not reported.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from protocols.mapihttp import emsmdb as mh
from protocols.mapihttp.errors import MapiHttpDecodeError
from protocols.mapihttp.framing import decode_stream, still_held
from protocols.rops import (
    RopFormatError, UnknownRop, decode_ext_buffer, decode_request_buffer, decode_response_buffer, encode_buffer,
    encode_ext_buffer, rop_name,
)

from . import rules
from .diff import Difference, DiffResult, decode_both

NO_HANDLE = 0xFFFFFFFF
ID_FIELDS = ("folder_id", "folder_ids", "message_id", "message_ids", "object_id", "category_id")
# the ids a notification names (MS-OXCNOTIF 2.2.1.4.1.2): paired like the ROPs' own
NOTIFY_ID_FIELDS = ("parent_folder_id", "old_folder_id", "old_message_id", "old_parent_folder_id",
                    "table_row_folder_id", "table_row_message_id", "insert_after_folder_id", "insert_after_row_id")
QUERY_ROWS = 0x15
SET_COLUMNS = 0x12


class MapiReplayError(ValueError):
    pass


@dataclass
class MapiIds:
    handles: dict = field(default_factory=dict)       # recorded server handle -> live
    ids: dict = field(default_factory=dict)           # recorded FID/MID -> live
    columns: dict = field(default_factory=dict)       # recorded table handle -> its columns
    long_term_ids: dict = field(default_factory=dict)  # recorded LongTermId (as _ltid) -> live LongTermId

    def handle(self, h: int) -> int:
        return h if h == NO_HANDLE else self.handles.get(h, h)

    def id(self, v):
        if isinstance(v, int):
            return self.ids.get(v, v)
        if isinstance(v, tuple):
            return tuple(self.id(x) for x in v)
        return v

    def long_term_id(self, v):
        return self.long_term_ids.get(_ltid(v), v)

    def pair_long_term_ids(self, rec, live) -> None:
        """RopLongTermIdFromId's and RopGetPerUserLongTermIds' answers (MS-OXCDATA 2.2.1.3.1: the server's
        database GUID and counter), for a later RopIdFromLongTermId or RopGetPerUserGuid."""
        recs, lives = (rec, live) if isinstance(rec, (tuple, list)) else ((rec,), (live,))
        for a, b in zip(recs, lives or ()):
            if _ltid(a) is not None and _ltid(b) is not None:
                self.long_term_ids[_ltid(a)] = b

    def pair_id(self, rec, live) -> None:
        if isinstance(rec, int) and isinstance(live, int):
            if rec and live:
                self.ids[rec] = live
        elif isinstance(rec, (tuple, list)) and isinstance(live, (tuple, list)):
            for a, b in zip(rec, live):
                self.pair_id(a, b)


def _ltid(v):
    g, c = getattr(v, "database_guid", None), getattr(v, "global_counter", None)
    return None if g is None else (g, c)


def _body(data: bytes) -> bytes:
    """A recorded or live answer's body: the stream after PROCESSING/PENDING/DONE and the meta-tags."""
    try:
        return decode_stream(data).body
    except MapiHttpDecodeError:
        return data


def _requests(execute_body: bytes) -> tuple[mh.ExecuteRequest, list]:
    req = mh.ExecuteRequest.decode(execute_body)
    return req, [decode_request_buffer(p.payload) for p in decode_ext_buffer(req.rop_buffer)]


def rewrite_execute(body: bytes, m: MapiIds, replace_text=None) -> tuple[bytes, list]:
    """The recorded Execute body with the live handles and ids (and RopLogon's Essdn through ``replace_text``,
    the --map replacements); -> (body, the recorded ROP buffers)."""
    try:
        req, buffers = _requests(body)
    except (MapiHttpDecodeError, RopFormatError) as exc:
        raise MapiReplayError(f"the recorded Execute does not decode: {exc}") from exc
    sent = []
    for buf in buffers:
        rops = []
        for rop in buf.rops:
            if not isinstance(rop, UnknownRop):
                changes = {f.name: m.id(getattr(rop, f.name)) for f in dataclasses.fields(rop) if f.name in ID_FIELDS}
                if _ltid(getattr(rop, "long_term_id", None)) is not None:
                    changes["long_term_id"] = m.long_term_id(rop.long_term_id)
                if replace_text and isinstance(getattr(rop, "essdn", None), str):
                    changes["essdn"] = replace_text(rop.essdn)
                rop = dataclasses.replace(rop, **changes) if changes else rop
            rops.append(rop)
        sent.append(type(buf)(rops, [m.handle(h) for h in buf.handles]))
    payloads = [encode_buffer(b.rops, b.handles) for b in sent]
    out = mh.ExecuteRequest(req.flags, encode_ext_buffer(payloads), req.max_rop_out, req.auxiliary_buffer)
    return out.encode(), buffers


def _answers(body: bytes, requests: list, columns: dict):
    resp = mh.ExecuteResponse.decode(_body(body))
    if not isinstance(resp, mh.ExecuteResponse):
        return resp, []
    out = []
    for piece, asked in zip(decode_ext_buffer(resp.rop_buffer), requests):
        out.append(decode_response_buffer(piece.payload, [r for r in asked.rops if not isinstance(r, UnknownRop)],
                                          columns))
    return resp, out


def _table_columns(asked, handles: list, m: MapiIds) -> None:
    for r in asked.rops:
        if getattr(r, "ROP_ID", None) == SET_COLUMNS and r.input_handle_index < len(handles):
            m.columns[handles[r.input_handle_index]] = tuple(r.property_tags)


def learn_and_compare(recorded_body: bytes, live_body: bytes, recorded_requests: list, m: MapiIds) -> DiffResult:
    """Pair the recorded and live answers of one Execute into ``m`` and compare them ROP by ROP."""
    result = DiffResult()
    cols_by_index = {}
    for asked in recorded_requests:
        for r in asked.rops:
            if getattr(r, "ROP_ID", None) == SET_COLUMNS:
                cols_by_index[r.input_handle_index] = tuple(r.property_tags)
    known = {i: m.columns[h] for asked in recorded_requests for i, h in enumerate(asked.handles) if h in m.columns}
    known.update(cols_by_index)
    try:
        rec, rec_bufs = _answers(recorded_body, recorded_requests, known)
        live, live_bufs = _answers(live_body, recorded_requests, known)
    except (MapiHttpDecodeError, RopFormatError) as exc:
        result.differences.append(Difference("/Execute", "unparsable", None, str(exc)))
        return result
    if type(rec) is not type(live) or getattr(rec, "error_code", 0) != getattr(live, "error_code", 0):
        result.differences.append(Difference("/Execute/ErrorCode", "status", str(getattr(rec, "error_code", rec)),
                                             str(getattr(live, "error_code", live))))
        return result
    for n, (asked, a, b) in enumerate(zip(recorded_requests, rec_bufs, live_bufs)):
        for slot, (ha, hb) in enumerate(zip(a.handles, b.handles)):
            if ha != NO_HANDLE and hb != NO_HANDLE:
                m.handles[ha] = hb
        _table_columns(asked, a.handles, m)
        answered = [r for r in asked.rops if not isinstance(r, UnknownRop) and r.ROP_ID != 0x01]
        for k, (ra, rb) in enumerate(zip(a.rops, b.rops)):
            path = f"/Execute/{n}/{k}:{rop_name(_rid(ra))}"
            if isinstance(ra, UnknownRop) or isinstance(rb, UnknownRop):
                if _rid(ra) != _rid(rb) or getattr(ra, "raw", None) != getattr(rb, "raw", None):
                    result.differences.append(Difference(path, "unparsable", _short(ra), _short(rb)))
                continue
            _pair_and_diff(path, ra, rb, answered[k] if k < len(answered) else None, known, m, result)
        if len(a.rops) != len(b.rops):
            result.differences.append(Difference(f"/Execute/{n}", "count", str(len(a.rops)), str(len(b.rops))))
    return result


def compare_plain(request_type: str, recorded_body: bytes, live_body: bytes) -> DiffResult:
    """Connect, Disconnect, NotificationWait and PING answers (no ROPs): field by field, what names the
    server or the signed-in user left to gateway/replay/rules.py."""
    result = DiffResult()
    pair = decode_both(request_type, mh.decode_response, _body(recorded_body), _body(live_body),
                       (MapiHttpDecodeError, KeyError), result)
    if pair is None:
        return result
    a, b = pair
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        why = rules.ignored_connect_field(f.name) if request_type.lower() == "connect" else None
        if why is None and f.name == "auxiliary_buffer":
            why = "auxiliary buffer"
        if why:
            result.ignored[why] += 1
        elif va != vb:
            result.differences.append(Difference(f"/{request_type}/{f.name}", "field", _short(va), _short(vb)))
    return result


def rewrite_connect(body: bytes, replace_text) -> bytes:
    """A Connect body with the user's DN through the --map replacements (the body as recorded when it does
    not decode: the live server says what is wrong with it)."""
    try:
        req = mh.ConnectRequest.decode(body)
    except MapiHttpDecodeError:
        return body
    dn = replace_text(req.user_dn)
    return body if dn == req.user_dn else dataclasses.replace(req, user_dn=dn).encode()


def compare_wait(recorded_stream: bytes, live_stream: bytes, wait: float) -> DiffResult:
    """A NotificationWait's answers, by the rule of gateway/replay/rules.py: an answer held on either side
    counts as no event (the recorded one held until the client gave up, the live one past ``wait``)."""
    # an empty recorded stream: the recorder kept nothing of an answer the client gave up on
    rec_held, live_held = still_held(recorded_stream) or not recorded_stream, still_held(live_stream)
    if not rec_held and not live_held:
        return compare_plain("NotificationWait", recorded_stream, live_stream)
    result = DiffResult()
    if live_held and not rec_held:
        try:
            rec = mh.decode_response("NotificationWait", _body(recorded_stream))
        except MapiHttpDecodeError as exc:
            result.differences.append(Difference("/NotificationWait", "unparsable", str(exc), None))
            return result
        if getattr(rec, "event_pending", False):
            result.differences.append(Difference("/NotificationWait/event_pending", "field", "True",
                                                 f"held: no event within {wait:g} s"))
            return result
    elif rec_held and not live_held:
        try:
            live = mh.decode_response("NotificationWait", _body(live_stream))
        except MapiHttpDecodeError as exc:
            result.differences.append(Difference("/NotificationWait", "unparsable", None, str(exc)))
            return result
        if getattr(live, "event_pending", True):
            result.differences.append(Difference("/NotificationWait/event_pending", "field",
                                                 "held: no event until the client gave up", _short(live)))
            return result
    result.ignored[rules.HELD_AS_RECORDED] += 1
    return result


def _rid(rop) -> int:
    """A decoded ROP's id; an UnknownRop carries it as ``rop_id``."""
    return getattr(rop, "ROP_ID", None) or getattr(rop, "rop_id", None) or 0


def _pair_and_diff(path, ra, rb, req, columns, m: MapiIds, result: DiffResult) -> None:
    ida, idb = _rid(ra), _rid(rb)
    if ida != idb:
        result.differences.append(Difference(path, "rop", rop_name(ida), rop_name(idb)))
        return
    rva, rvb = getattr(ra, "return_value", 0), getattr(rb, "return_value", 0)
    if rva != rvb:
        result.differences.append(Difference(path + "/ReturnValue", "status", f"0x{rva:08X}", f"0x{rvb:08X}"))
        return
    for f in dataclasses.fields(ra):
        name = f.name
        va, vb = getattr(ra, name), getattr(rb, name, None)
        if name in ID_FIELDS:
            m.pair_id(va, vb)
            result.ignored["server-chosen id"] += 1
            continue
        if name in ("long_term_id", "long_term_ids"):
            m.pair_long_term_ids(va, vb)
            result.ignored["server-chosen key"] += 1
            continue
        if name == "row_data" and ida == QUERY_ROWS:
            _rows(path, ra, rb, columns.get(ra.handle_index), m, result)
            continue
        if name == "row_data" and hasattr(req, "property_tags") and hasattr(ra, "row"):
            _rows(path, ra, rb, tuple(req.property_tags), m, result, one=True)
            continue
        why = rules.ignored_rop_field(name)
        if why:
            result.ignored[why] += 1
            continue
        if dataclasses.is_dataclass(va) and type(va) is type(vb):
            _nested(f"{path}/{name}", va, vb, m, result)        # a RopNotify's NotificationData
            continue
        if va != vb:
            result.differences.append(Difference(f"{path}/{name}", "field", _short(va), _short(vb)))


def _nested(path, a, b, m: MapiIds, result: DiffResult) -> None:
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name in ID_FIELDS or f.name in NOTIFY_ID_FIELDS:
            m.pair_id(va, vb)
            result.ignored["server-chosen id"] += 1
        elif (why := rules.ignored_rop_field(f.name)) is not None:
            result.ignored[why] += 1
        elif va != vb:
            result.differences.append(Difference(f"{path}/{f.name}", "field", _short(va), _short(vb)))


def _rows(path, ra, rb, cols, m: MapiIds, result: DiffResult, *, one: bool = False) -> None:
    if not one and ra.row_count != rb.row_count:
        result.differences.append(Difference(path + "/RowCount", "field", str(ra.row_count), str(rb.row_count)))
    if not cols:
        return
    try:
        rows_a, rows_b = ([ra.row(cols)], [rb.row(cols)]) if one else (ra.rows(cols), rb.rows(cols))
    except RopFormatError as exc:
        result.differences.append(Difference(path + "/RowData", "unparsable", None, str(exc)))
        return
    for i, (x, y) in enumerate(zip(rows_a, rows_b)):
        for tag, va, vb in zip(cols, x.values, y.values):
            why = rules.ignored_tag(tag)
            if why == "server-chosen id":
                m.pair_id(getattr(va, "value", va), getattr(vb, "value", vb))
            if why:
                result.ignored[why] += 1
            elif va != vb:
                result.differences.append(Difference(f"{path}/row[{i}]/0x{tag:08X}", "value", _short(va), _short(vb)))


def _short(v, limit: int = 120) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} chars)"
