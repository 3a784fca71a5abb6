"""`exgate replay`'s pieces without a server: the structural diff and its rules, the id map, decode summaries."""
from __future__ import annotations

from gateway.replay.diff import diff_answers, diff_xml
from gateway.replay.driver import replayable
from gateway.replay.ids import IdMap
from gateway.replay.summary import describe, endpoint
from protocols.autodiscover.pox import encode_request
from protocols.capture.model import Exchange

ENV = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
       'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
       'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
       '<s:Header><t:ServerVersionInfo MajorVersion="{major}"/></s:Header><s:Body>{body}</s:Body></s:Envelope>')


def answer(items: str, major: int = 15) -> bytes:
    return ENV.format(major=major, body='<m:GetItemResponse><m:ResponseMessages><m:GetItemResponseMessage '
                      f'ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items>{items}</m:Items>'
                      '</m:GetItemResponseMessage></m:ResponseMessages></m:GetItemResponse>').encode()


def msg(id_: str, ck: str, subject: str, when: str = "2026-01-01T00:00:00Z", extra: str = "") -> str:
    return (f'<t:Message><t:ItemId Id="{id_}" ChangeKey="{ck}"/><t:Subject>{subject}</t:Subject>'
            f'<t:DateTimeReceived>{when}</t:DateTimeReceived>{extra}</t:Message>')


def test_ids_times_versions_and_prefixes_are_no_difference():
    a = answer(msg("AAA", "CK1", "hi", extra="<t:ConversationId Id=\"{11111111-2222-3333-4444-555555555555}\"/>"))
    b = answer(msg("BBB", "CK9", "hi", "2027-05-05T10:00:00Z",
                   extra="<t:ConversationId Id=\"{99999999-2222-3333-4444-555555555555}\"/>"), major=14)
    b = b.replace(b"t:", b"types:").replace(b"xmlns:t=", b"xmlns:types=")
    r = diff_xml(a, b)
    assert r.same, r.differences
    assert r.ignored == {"server-chosen id": 3, "server time": 1, "server version": 1}


def test_a_changed_missing_or_extra_element_is_reported_at_its_path():
    a = answer(msg("A", "1", "hi") + msg("B", "1", "second"))
    b = answer(msg("A", "1", "HI") + msg("B", "1", "second") + msg("C", "1", "third"))
    r = diff_xml(a, b)
    base = "/Envelope/Body/GetItemResponse/ResponseMessages/GetItemResponseMessage/Items/Message"
    assert [str(d) for d in r.differences] == [f"{base}[1]/Subject: text recorded 'hi', live 'HI'",
                                               f"{base}[3]: in the live answer, not in the recording"]
    r = diff_answers(200, answer(msg("A", "1", "x", extra="<t:IsRead>true</t:IsRead>")), 500, answer(msg("A", "1", "x")))
    assert [(d.path, d.kind) for d in r.differences] == [("HTTP status", "status"), (f"{base}/IsRead", "missing")]
    assert [d.kind for d in diff_xml(answer(""), b"401 - Unauthorized").differences] == ["unparsable"]


def test_id_map_pairs_by_element_and_order_and_rewrites_in_one_pass():
    ids = IdMap(replacements=[("user1@example.com", "carol@example.test")])
    recorded = answer(msg("R1", "RC1", "a") + msg("R2", "RC2", "b") + "<t:SyncState>S-old</t:SyncState>")
    live = answer(msg("L1", "LC1", "a") + msg("R1", "LC2", "b") + "<t:SyncState>S-new</t:SyncState>")
    ids.learn(recorded, live)
    assert ids.ids == {"R1": "L1", "R2": "R1"} and ids.tokens == {"S-old": "S-new"}
    req = (b'<m:GetItem><m:ItemIds><t:ItemId Id="R2" ChangeKey="RC2"/><t:ItemId Id="R1" ChangeKey="RC1"/>'
           b'<t:ItemId Id="ZZ" ChangeKey="stale"/></m:ItemIds><m:SyncState>S-old</m:SyncState>'
           b'<t:AttachmentId RootItemId="R1"/><t:EmailAddress>user1@example.com</t:EmailAddress></m:GetItem>')
    out = ids.rewrite(req)
    # R2 -> R1 is not then mapped again to L1; change keys are the live server's for that id, unknown ones dropped
    assert out == (b'<m:GetItem><m:ItemIds><t:ItemId Id="R1" ChangeKey="LC2"/><t:ItemId Id="L1" ChangeKey="LC1"/>'
                   b'<t:ItemId Id="ZZ"/></m:ItemIds><m:SyncState>S-new</m:SyncState>'
                   b'<t:AttachmentId RootItemId="L1"/><t:EmailAddress>carol@example.test</t:EmailAddress></m:GetItem>')


def test_endpoints_and_what_is_replayed():
    def ex(path, method="POST", status=200, body=b"", request_type=None):
        headers = [("X-RequestType", request_type)] if request_type else []
        return Exchange(1, method, "https://mail.example.com" + path, request_headers=headers, request_body=body,
                        status=status)
    assert endpoint(ex("/EWS/Exchange.asmx")) == "ews"
    assert endpoint(ex("/mapi/emsmdb/?MailboxId=x")) == "mapihttp-emsmdb"
    assert endpoint(ex("/owa/")) == "other"
    assert replayable(ex("/EWS/Exchange.asmx")) is None
    assert replayable(ex("/EWS/Exchange.asmx", status=401)) == "sign-in leg"
    assert replayable(ex("/mapi/nspi/", request_type="QueryRows")) is None
    assert replayable(ex("/mapi/emsmdb/", request_type="Execute")) is None
    # NotificationWait (held by the server: sent beside the next requests) and PING are replayed too
    assert replayable(ex("/mapi/emsmdb/", request_type="NotificationWait")) is None
    assert replayable(ex("/mapi/emsmdb/", request_type="PING")) is None
    assert replayable(ex("/mapi/nspi/", request_type="PING")) is None
    assert replayable(ex("/mapi/emsmdb/", request_type="Bind")) == "Bind is not a request type of /mapi/emsmdb"
    assert replayable(ex("/rpc/rpcproxy.dll")) == "rpc-over-http is not replayed yet"
    assert replayable(ex("/dig/brandInfo.js")) == "not Exchange traffic"
    assert describe(ex("/owa/"))["note"].startswith("not Exchange traffic exgate decodes")
    d = describe(ex("/autodiscover/autodiscover.xml", body=encode_request("alice@example.test")))
    assert d["request"]["email"] == "alice@example.test"
    bad = describe(ex("/EWS/Exchange.asmx", body=b"<s:Envelope><unclosed>"))
    assert bad["request"]["error"].startswith("request does not parse")
