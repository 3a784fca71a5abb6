"""What `exgate decode` says about each exchange: endpoint, EWS operation and key fields, Autodiscover.

Uses the codecs the server uses (protocols.ews.envelope, protocols.autodiscover). Nothing here
raises on a bad body: a body that does not parse is described as such.
"""
from __future__ import annotations

from protocols.autodiscover import pox as ad_pox
from protocols.autodiscover import soap as ad_soap
from protocols.capture.model import Exchange
from protocols.ews.envelope import SoapFault, fault_code, parse_request, parse_response
from protocols.ews.ns import child, children, local, text

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
    return "unknown"


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
    if ex.status == 401:
        out["note"] = "sign-in leg (401)"
    if kind == "ews" and ex.method == "POST":
        out["request"] = _ews_request(ex.request_content)
        if ex.status is not None and ex.response_content.strip() and ex.status != 401:
            out["response"] = _ews_response(ex.response_content)
    elif kind == "autodiscover" and ex.method == "POST":
        out.update(_autodiscover(ex))
    elif kind == "autodiscover-soap" and ex.method == "POST":
        out.update(_autodiscover_soap(ex))
    elif kind in ("mapihttp-emsmdb", "mapihttp-nspi"):
        out["request_type"] = ex.request_header("X-RequestType")
        out["note"] = "MAPI/HTTP bodies are not decoded yet (issue 14)"
    elif kind == "unknown":
        out["note"] = "unknown endpoint"
    return out


def _short(v: str, n: int = 24) -> str:
    return v if len(v) <= n or v.startswith("distinguished:") else v[:n - 3] + "..."


def text_line(d: dict) -> str:
    """One exchange as text (a first line and indented details)."""
    head = f"#{d['seq']:<4} {d['method']:<6} {d['path']}  [{d['endpoint']}] -> {d['status'] if d['status'] is not None else 'no answer'}"
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
    if d.get("note"):
        lines.append(f"      ({d['note']})")
    return "\n".join(lines)
