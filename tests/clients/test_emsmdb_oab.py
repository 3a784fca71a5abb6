"""The mailbox's pointer at the offline address book: PR_OFFLINE_ADDRBOOK_ENTRYID (0x66230102) on the logon
(the store object), read with RopGetPropertiesSpecific and RopGetPropertiesAll on both gateways, is the
Address Book EntryID of the OAB that oab.xml names (MS-OXNSPI 2.2.9.3, MS-OXWOAB 2.2)."""
from __future__ import annotations

from protocols.mapi.entryids import decode_address_book
from protocols.rops import property as PR

from . import test_emsmdb as E
from .test_oab import download, oab_url

gw = E.gw                     # the demo and the real-server gateway
PR_OFFLINE_ADDRBOOK_ENTRYID = 0x66230102
DT_CONTAINER = 0x100


async def test_logon_names_the_offline_address_book(gw):
    c = E.MapiClient(gw)
    await c.connect()
    _, logon_h = await E.logon(c)
    got = await c.execute([PR.GetPropertiesSpecificRequest(E.LOGON_ID, 0, 0, 1, (PR_OFFLINE_ADDRBOOK_ENTRYID,)),
                           PR.GetPropertiesAllRequest(E.LOGON_ID, 0, 0, 1)], [logon_h])
    specific, every = got.rops
    assert specific.return_value == 0 and every.return_value == 0
    eid = specific.row((PR_OFFLINE_ADDRBOOK_ENTRYID,)).values[0]
    assert dict(every.property_values)[PR_OFFLINE_ADDRBOOK_ENTRYID] == eid
    oal, _, _ = await download(await oab_url(gw))
    assert decode_address_book(eid) == (oal.dn, DT_CONTAINER)
    assert oal.dn.endswith("/cn=addrlists/cn=oabs/cn=Default Offline Address Book")
