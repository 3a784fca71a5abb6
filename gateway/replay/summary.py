"""What `exgate decode` says about each exchange: endpoint, EWS operation and key fields, Autodiscover,
MAPI/HTTP request types with every ROP and NSPI call (gateway/replay/mapi.py), and DCE/RPC calls.

Uses the codecs the server uses (protocols.ews.envelope, protocols.autodiscover, protocols.mapihttp,
protocols.rops, protocols.nspi, protocols.rpch). Nothing here raises on a bad body: a body that does
not parse is described as such.
"""
from __future__ import annotations

import json

from protocols.autodiscover import pox as ad_pox
from protocols.autodiscover import soap as ad_soap
from protocols.capture.identity import auth_header_summary, request_user
from protocols.capture.model import Exchange
from protocols.ews.envelope import SoapFault, fault_code, parse_request, parse_response
from protocols.ews.ns import child, children, local, text

from .mapi import mapihttp

ENDPOINTS = (
    ("/ews/exchange.asmx", "ews"),
    ("/ews/", "ews-other"),
    ("/autodiscover/autodiscover.xml", "autodiscover"),
    ("/autodiscover/autodiscover.svc", "autodiscover-soap"),
    ("/mapi/emsmdb", "mapihttp-emsmdb"),
    ("/mapi/nspi", "mapihttp-nspi"),
    ("/rpc/rpcproxy.dll", "rpc-over-http"),
    ("/oab/", "oab"),
)
# where the same request may name a folder or an item (request side) and what the answer hands back
FOLDER_ELEMENTS = ("FolderId", "DistinguishedFolderId", "ParentFolderId", "ToFolderId", "SavedItemFolderId")
ITEM_ELEMENTS = ("ItemId", "OccurrenceItemId", "RecurringMasterItemId", "AttachmentId")


def endpoint(ex: Exchange) -> str:
    path = ex.path.lower()
    for prefix, name in ENDPOINTS:
        if path.startswith(prefix):
            return name
    return "other"                  # not an Exchange protocol exgate implements (another site, OWA...)


def _ids(root, names) -> list[str]:
    out = []
    for el in root.iter():
        if isinstance(el.tag, str) and local(el) in names:
            value = el.get("Id") or el.get("RootItemId")
            if value:
                out.append(value if local(el) != "DistinguishedFolderId" else f"distinguished:{value}")
    return out


def _ews_request(body: bytes) -> dict:
    try:
        req = parse_request(body)
    except SoapFault as exc:
        return {"error": f"request does not parse: {exc.violation or exc.message}"}
    op = req.body
    out: dict = {"operation": req.operation}
    if req.version:
        out["version"] = req.version
    if req.impersonation:
        out["impersonation"] = f"{req.impersonation.kind}={req.impersonation.value}"
    folders = _ids(op, FOLDER_ELEMENTS)
    items = _ids(op, ITEM_ELEMENTS)
    if folders:
        out["folder_ids"] = folders
    if items:
        out["item_ids"] = items
    for attr in ("Traversal", "MessageDisposition", "SendMeetingInvitations", "DeleteType", "ConflictResolution"):
        if op.get(attr):
            out.setdefault("attributes", {})[attr] = op.get(attr)
    shape = child(child(op, "ItemShape") if child(op, "ItemShape") is not None else child(op, "FolderShape"),
                  "BaseShape")
    if shape is not None:
        out["shape"] = text(shape)
    sync = child(op, "SyncState")
    if sync is not None:
        out["sync_state"] = bool(text(sync))
    subjects = [text(s) for s in op.iter() if isinstance(s.tag, str) and local(s) == "Subject"]
    if subjects:
        out["subjects"] = subjects
    return out


def _response_messages(payload) -> list:
    found = children(child(payload, "ResponseMessages"))
    if found:
        return found
    out = [child(fb, "ResponseMessage") for fb in children(child(payload, "FreeBusyResponseArray"), "FreeBusyResponse")]
    for name in ("SuggestionsResponse",):
        el = child(payload, name)
        if el is not None:
            out.append(child(el, "ResponseMessage"))
    if child(payload, "ResponseMessage") is not None:
        out.append(child(payload, "ResponseMessage"))
    return [m for m in out if m is not None]


def _ews_response(body: bytes) -> dict:
    try:
        svi, payload = parse_response(body)
    except SoapFault as exc:
        return {"error": f"answer does not parse: {exc.violation or exc.message}"}
    if local(payload) == "Fault":
        return {"fault": fault_code(payload), "text": text(payload, "faultstring")}
    out: dict = {"payload": local(payload), "messages": []}
    if svi:
        out["server_version"] = ".".join(svi.get(k, "?") for k in ("MajorVersion", "MinorVersion",
                                                                     "MajorBuildNumber", "MinorBuildNumber"))
    for msg in _response_messages(payload):
        m = {"class": msg.get("ResponseClass"), "code": text(msg, "ResponseCode")}
        if m["code"] not in (None, "NoError") and text(msg, "MessageText"):
            m["text"] = text(msg, "MessageText")
        items, folders = _ids(msg, ITEM_ELEMENTS), _ids(msg, ("FolderId",))
        if items:
            m["item_ids"] = items
        if folders:
            m["folder_ids"] = folders
        root = child(msg, "RootFolder")
        if root is not None and root.get("TotalItemsInView") is not None:
            m["total_in_view"] = root.get("TotalItemsInView")
        out["messages"].append(m)
    return out


def _autodiscover(ex: Exchange) -> dict:
    out: dict = {}
    if ex.request_content.strip():
        try:
            req = ad_pox.parse_request(ex.request_content)
            out["request"] = {"email": req.email, "legacy_dn": req.legacy_dn, "schema": req.schema}
        except ad_pox.PoxError as exc:
            out["request"] = {"error": f"does not parse: {exc}"}
    body = ex.response_content
    if ex.status == 200 and body.strip():
        try:
            r = ad_pox.parse_response(body)
            out["response"] = {"user": r["user"].get("AutoDiscoverSMTPAddress") or r["user"].get("DisplayName"),
                               "action": r["action"], "redirect": r["redirect"], "error": r["error"],
                               "protocols": [{"type": p.get("@Type") or p.get("Type"),
                                              "url": p.get("EwsUrl") or p.get("Server")} for p in r["protocols"]]}
        except Exception as exc:      # lxml raises its own syntax errors
            out["response"] = {"error": f"does not parse: {exc}"}
    return out


def _autodiscover_soap(ex: Exchange) -> dict:
    out: dict = {}
    try:
        req = ad_soap.parse_request(ex.request_content)
        out["request"] = {"operation": req.operation, "users": req.users, "settings": req.settings}
    except Exception as exc:
        out["request"] = {"error": f"does not parse: {exc}"}
    if ex.status == 200 and ex.response_content.strip():
        try:
            out["response"] = [{"mailbox": r.mailbox, "code": r.error_code, "settings": r.settings}
                               for r in ad_soap.parse_response(ex.response_content)]
        except Exception as exc:
            out["response"] = {"error": f"does not parse: {exc}"}
    return out


def describe(ex: Exchange) -> dict:
    """One exchange as a dict (the --json output of `exgate decode`)."""
    kind = endpoint(ex)
    out: dict = {"seq": ex.seq, "source": ex.source, "time": ex.time, "conn": ex.conn, "method": ex.method,
                 "path": ex.path, "endpoint": kind, "status": ex.status,
                 "request_bytes": len(ex.request_body), "response_bytes": len(ex.response_body)}
    auth = ex.request_header("Authorization")
    if auth:
        out["auth"] = auth.split(None, 1)[0]
    user = request_user(ex.request_headers)
    if user:
        out["user"] = user
    legs = [x for x in [auth_header_summary(auth)] + [auth_header_summary(v) for k, v in ex.response_headers
                                                       if k.lower() == "www-authenticate"] if x]
    if legs:
        out["ntlm"] = legs                      # the NTLM legs of a sign-in, as far as the capture kept them
    if ex.status == 401:
        out["note"] = "sign-in leg (401)" + (f": {', '.join(legs)}" if legs else "")
    if ex.notes:
        out["notes"] = list(ex.notes)
    if kind == "ews" and ex.method == "POST":
        out["request"] = _ews_request(ex.request_content)
        if ex.status is not None and ex.response_content.strip() and ex.status != 401:
            out["response"] = _ews_response(ex.response_content)
    elif kind == "autodiscover" and ex.method == "POST":
        out.update(_autodiscover(ex))
    elif kind == "autodiscover-soap" and ex.method == "POST":
        out.update(_autodiscover_soap(ex))
    elif kind in ("mapihttp-emsmdb", "mapihttp-nspi") and ex.method == "POST" and ex.status != 401:
        out.update(mapihttp(ex, kind))
    elif kind == "other":
        out["note"] = "not Exchange traffic exgate decodes (another web site or endpoint)"
    return out


def _short(v: str, n: int = 24) -> str:
    return v if len(v) <= n or v.startswith("distinguished:") else v[:n - 3] + "..."


def text_line(d: dict) -> str:
    """One exchange as text (a first line and indented details)."""
    head = f"#{d['seq']:<4} {d['method']:<6} {d['path']}  [{d['endpoint']}] -> {d['status'] if d['status'] is not None else 'no answer'}"
    if d.get("user"):
        head += f"  (as {d['user']})"
    lines = [head]
    req, resp = d.get("request"), d.get("response")
    if d["endpoint"] == "ews" and isinstance(req, dict):
        if "error" in req:
            lines.append(f"      request: {req['error']}")
        else:
            parts = [req["operation"]]
            for key in ("shape", "attributes"):
                if key in req:
                    parts.append(f"{key}={req[key]}")
            if req.get("folder_ids"):
                parts.append("folders=" + ",".join(_short(f) for f in req["folder_ids"]))
            if req.get("item_ids"):
                parts.append("items=" + ",".join(_short(i) for i in req["item_ids"]))
            if req.get("subjects"):
                parts.append("subject=" + "|".join(req["subjects"]))
            lines.append("      " + " ".join(parts))
        if isinstance(resp, dict):
            if "error" in resp:
                lines.append(f"      answer: {resp['error']}")
            elif "fault" in resp:
                lines.append(f"      answer: SOAP fault {resp['fault']}: {resp.get('text')}")
            else:
                for i, m in enumerate(resp["messages"], 1):
                    extra = []
                    if m.get("item_ids"):
                        extra.append(f"{len(m['item_ids'])} item id(s) " + ",".join(_short(x) for x in m["item_ids"][:3]))
                    if m.get("folder_ids"):
                        extra.append(f"{len(m['folder_ids'])} folder id(s)")
                    if m.get("total_in_view") is not None:
                        extra.append(f"total {m['total_in_view']}")
                    if m.get("text"):
                        extra.append(m["text"])
                    lines.append(f"      [{i}] {m['code']}" + (f"  ({'; '.join(extra)})" if extra else ""))
    elif d["endpoint"].startswith("autodiscover"):
        if req:
            lines.append(f"      request: {req}")
        if resp:
            lines.append(f"      answer: {resp}")
    elif d["endpoint"].startswith("mapihttp-") and d.get("request_type"):
        lines.extend(_mapihttp_lines(d))
    if d.get("note"):
        lines.append(f"      ({d['note']})")
    for n in d.get("notes") or []:
        lines.append(f"      ({n})")
    return "\n".join(lines)


def _value(v, n: int = 60) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return s if len(s) <= n else s[:n - 3] + "..."


def _fields(f: dict | None, skip=("logon_id", "input_handle_index", "handle_index", "return_value", "true_byte")) -> str:
    if not f:
        return ""
    return " ".join(f"{k}={_value(v)}" for k, v in f.items() if k not in skip and v not in ("", [], None))


def rop_lines(d: dict, indent: str = "      ") -> list[str]:
    """Each ROP of a decoded buffer on one line (request fields, then -> the answer's)."""
    lines = []
    for key in ("request_error", "response_error", "stub_error"):
        if d.get(key):
            lines.append(f"{indent}{d[key]}")
    for r in d.get("rops") or []:
        line = f"{indent}{r['rop']}"
        if "request" in r:
            line += " " + _fields(r["request"])
        if "response" in r:
            rv = r.get("return_value", "")
            line += f"  -> {'ok' if rv == '0x00000000' else rv or 'answer'}"
            rest = _fields(r["response"])
            if rest:
                line += " " + rest
        elif "request" in r and r.get("rop_id") != 0x01:      # RopRelease has no answer
            line += "  (no answer)"
        if r.get("note"):
            line += f"  [{r['note']}]"
        lines.append(line.rstrip())
    return lines


def _mapihttp_lines(d: dict) -> list[str]:
    lines = []
    head = f"      {d['request_type']}"
    req, resp = d.get("request") or {}, d.get("response") or {}
    if "error" in req:
        head += f"  request: {req['error']}"
    elif d["request_type"].lower() != "execute":
        head += " " + _fields({k: v for k, v in req.items() if k != "type"})
    if d.get("request_ext"):
        head += "  [" + ", ".join(f"{e['flags']} {e['size']}->{e['size_actual']} bytes" for e in d["request_ext"]) + "]"
    lines.append(head.rstrip())
    if "error" in resp:
        lines.append(f"      answer: {resp['error']}")
    elif resp and d["request_type"].lower() != "execute":
        lines.append("      answer: " + _fields({k: v for k, v in resp.items() if k not in ("type", "true_byte")}, skip=()))
    elif resp:
        lines.append(f"      answer: {resp.get('type')} error_code={resp.get('error_code')} status={resp.get('status_code')}")
    lines.extend(rop_lines(d))
    return lines


def item_text(d: dict) -> str:
    """A DCE/RPC item (a call, or a bind and its answer) as text."""
    label = "rpc/http" if d["kind"].startswith("rpch") else "dcerpc"
    if d["kind"].endswith("-pdu"):
        line = f"@{d['time'] or '-'}  {label} {d['pdu']:<18} {d['stream']}  ({d['from']}, call {d['call_id']})"
        lines = [line]
        for c in d.get("contexts") or []:
            lines.append(f"      context {c['id']}: {c['interface']} over {', '.join(c['transfer'])}")
        for r in d.get("results") or []:
            lines.append(f"      result: {r['result']} {r['transfer']}")
        if d.get("auth"):
            lines.append(f"      auth: {d['auth']['type']}, level {d['auth']['level']}, {d['auth']['token']}")
        if d.get("rts"):
            lines.append("      " + " ".join(f"{k}={_value(v, 40)}" for c in d["rts"]["commands"] for k, v in c.items()))
        return "\n".join(lines)
    auth = f" ({d['auth']['type']}, {d['auth']['level']})" if d.get("auth") else ""
    if d.get("user"):
        auth += f" as {d['user']}"
    lines = [f"@{d['time'] or '-'}  {label} call {d['call_id']:<6} {d['interface']} {d['operation']}{auth} "
             f"[{d['protection']}] {d['request_bytes']}/{d['response_bytes']} bytes  {d['stream']}"]
    if d.get("interface_note"):
        lines.append(f"      ({d['interface_note']})")
    if d.get("stub"):
        lines.append(f"      {d['stub']}")
    if d.get("request"):
        lines.append("      request: " + _fields(d["request"], skip=()))
    if d.get("response"):
        lines.append("      answer: " + _fields(d["response"], skip=()))
    lines.extend(rop_lines(d))
    if d.get("fault"):
        lines.append(f"      fault {d['fault']}")
    if d.get("return_value") and d["return_value"] != "0x00000000":
        lines.append(f"      returned {d['return_value']}")
    if d.get("note"):
        lines.append(f"      ({d['note']})")
    return "\n".join(lines)
