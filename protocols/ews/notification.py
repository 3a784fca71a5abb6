"""EWS notification XML (MS-OXWSNTIF): the m:Notification element and the push SendNotification exchange.

The same ``m:Notification`` is carried by GetEvents (pull), GetStreamingEvents (streaming) and, for push
subscriptions, by the SendNotification request the *server* sends to the client's URL (MS-OXWSNTIF 3.1.4.4,
``m:SendNotification/m:ResponseMessages/m:SendNotificationResponseMessage``). The client answers with
``m:SendNotificationResult/m:SubscriptionStatus`` OK or Unsubscribe (SubscriptionStatusType).

Event layout (types.xsd): BaseNotificationEventType is ``Watermark?``; BaseObjectChangedEventType adds
``TimeStamp``, a choice of ``FolderId``/``ItemId``, then ``ParentFolderId``; MovedCopiedEventType adds a choice
of ``OldFolderId``/``OldItemId`` and ``OldParentFolderId``; ModifiedEventType adds ``UnreadCount?``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from .envelope import parse_xml, serialize
from .ns import M, RESPONSE_NSMAP, SOAP, T, child, children, local, m, s, sub, t, text
from .values import format_datetime, parse_datetime

OBJECT_EVENTS = ("CopiedEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent", "NewMailEvent",
                 "FreeBusyChangedEvent")
MOVED_COPIED = ("CopiedEvent", "MovedEvent")
SUBSCRIPTION_STATUSES = ("OK", "Unsubscribe")
SEND_NOTIFICATION_ACTION = "http://schemas.microsoft.com/exchange/services/2006/messages/SendNotification"


class NotificationError(ValueError):
    """Bytes that are not a SendNotification request / result."""


@dataclass(frozen=True)
class Id:
    id: str
    change_key: str | None = None


@dataclass
class NotificationEvent:
    kind: str                               # StatusEvent, CreatedEvent, ... (the element's local name)
    watermark: str | None = None
    timestamp: datetime | None = None       # not on StatusEvent
    item_id: Id | None = None               # an item event ...
    folder_id: Id | None = None             # ... or a folder event
    parent_folder_id: Id | None = None
    old_item_id: Id | None = None           # CopiedEvent / MovedEvent
    old_folder_id: Id | None = None
    old_parent_folder_id: Id | None = None
    unread_count: int | None = None         # ModifiedEvent of a folder

    @property
    def is_folder_event(self) -> bool:
        return self.folder_id is not None


@dataclass
class Notification:
    subscription_id: str
    previous_watermark: str | None = None   # pull and push; streaming leaves both out
    more_events: bool | None = None
    events: list[NotificationEvent] = field(default_factory=list)


# ------------------------------------------------------------------ writing

def _id(parent, name: str, value: Id | None) -> None:
    if value is not None:
        sub(parent, t(name), Id=value.id, ChangeKey=value.change_key)


def write_event(parent, ev: NotificationEvent):
    el = sub(parent, t(ev.kind))
    if ev.watermark is not None:
        sub(el, t("Watermark"), ev.watermark)
    if ev.kind == "StatusEvent":
        return el
    sub(el, t("TimeStamp"), format_datetime(ev.timestamp) if ev.timestamp else None)
    if ev.folder_id is not None:
        _id(el, "FolderId", ev.folder_id)
    else:
        _id(el, "ItemId", ev.item_id)
    _id(el, "ParentFolderId", ev.parent_folder_id)
    if ev.kind in MOVED_COPIED:
        if ev.folder_id is not None:
            _id(el, "OldFolderId", ev.old_folder_id)
        else:
            _id(el, "OldItemId", ev.old_item_id)
        _id(el, "OldParentFolderId", ev.old_parent_folder_id)
    if ev.kind == "ModifiedEvent" and ev.unread_count is not None:
        sub(el, t("UnreadCount"), ev.unread_count)
    return el


def write_notification(parent, n: Notification):
    """Append ``m:Notification`` (NotificationType) to ``parent``."""
    el = sub(parent, m("Notification"))
    sub(el, t("SubscriptionId"), n.subscription_id)
    if n.previous_watermark is not None:
        sub(el, t("PreviousWatermark"), n.previous_watermark)
    if n.more_events is not None:
        sub(el, t("MoreEvents"), n.more_events)
    for ev in n.events:
        write_event(el, ev)
    return el


def build_send_notification(n: Notification, *, request_version: str = "Exchange2010_SP2") -> bytes:
    """The SOAP request a server POSTs to a push subscription's URL (MS-OXWSNTIF 3.1.4.4.2.1)."""
    env = etree.Element(s("Envelope"), nsmap={"s": SOAP, "t": T, "m": M})
    header = sub(env, s("Header"))
    sub(header, t("RequestServerVersion"), Version=request_version)
    body = sub(env, s("Body"))
    root = etree.SubElement(body, m("SendNotification"), nsmap=RESPONSE_NSMAP)
    msgs = sub(root, m("ResponseMessages"))
    msg = sub(msgs, m("SendNotificationResponseMessage"), ResponseClass="Success")
    sub(msg, m("ResponseCode"), "NoError")
    write_notification(msg, n)
    return serialize(env)


def build_send_notification_result(status: str) -> bytes:
    """The client's answer (SendNotificationResultType): SubscriptionStatus OK or Unsubscribe."""
    if status not in SUBSCRIPTION_STATUSES:
        raise ValueError(f"SubscriptionStatus must be one of {SUBSCRIPTION_STATUSES}, not {status!r}")
    env = etree.Element(s("Envelope"), nsmap={"s": SOAP, "m": M})
    body = sub(env, s("Body"))
    result = sub(body, m("SendNotificationResult"))
    sub(result, m("SubscriptionStatus"), status)
    return serialize(env)


# ------------------------------------------------------------------ reading

def _read_id(el, name: str) -> Id | None:
    c = child(el, name)
    if c is None:
        return None
    return Id(c.get("Id") or "", c.get("ChangeKey"))


def read_event(el) -> NotificationEvent:
    ev = NotificationEvent(local(el), watermark=text(el, "Watermark"))
    ts = text(el, "TimeStamp")
    if ts:
        ev.timestamp = parse_datetime(ts)
    ev.item_id, ev.folder_id = _read_id(el, "ItemId"), _read_id(el, "FolderId")
    ev.parent_folder_id = _read_id(el, "ParentFolderId")
    ev.old_item_id, ev.old_folder_id = _read_id(el, "OldItemId"), _read_id(el, "OldFolderId")
    ev.old_parent_folder_id = _read_id(el, "OldParentFolderId")
    unread = text(el, "UnreadCount")
    if unread is not None and unread.strip():
        ev.unread_count = int(unread)
    return ev


def read_notification(el) -> Notification:
    more = text(el, "MoreEvents")
    n = Notification(text(el, "SubscriptionId") or "", text(el, "PreviousWatermark"),
                     None if more is None else more.strip().lower() in ("true", "1"))
    n.events = [read_event(c) for c in children(el)
                if local(c) not in ("SubscriptionId", "PreviousWatermark", "MoreEvents")]
    return n


def _body_payload(data: bytes):
    try:
        root = parse_xml(data)
    except Exception as exc:  # noqa: BLE001 - SoapFault and friends: not ours to raise further
        raise NotificationError(f"not XML: {exc}") from exc
    if local(root) != "Envelope":
        raise NotificationError(f"the root element is {local(root)!r}, not a SOAP Envelope")
    payload = children(child(root, "Body"))
    if not payload:
        raise NotificationError("the SOAP Body is empty")
    return payload[0]


def parse_send_notification(data: bytes) -> list[Notification]:
    """The notifications in a SendNotification request (what a push client receives)."""
    op = _body_payload(data)
    if local(op) != "SendNotification":
        raise NotificationError(f"the body holds {local(op)!r}, not SendNotification")
    out = []
    for msg in children(child(op, "ResponseMessages")):
        n = child(msg, "Notification")
        if n is not None:
            out.append(read_notification(n))
    return out


def parse_send_notification_result(data: bytes) -> str:
    """SubscriptionStatus from the client's answer: "OK" or "Unsubscribe"."""
    op = _body_payload(data)
    if local(op) != "SendNotificationResult":
        raise NotificationError(f"the body holds {local(op)!r}, not SendNotificationResult")
    status = (text(op, "SubscriptionStatus") or "").strip()
    if status not in SUBSCRIPTION_STATUSES:
        raise NotificationError(f"unknown SubscriptionStatus {status!r}")
    return status
