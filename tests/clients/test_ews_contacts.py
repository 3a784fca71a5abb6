"""exchangelib contacts sessions: the seeded address book, create/update/delete of a contact seen over
plain CardDAV, personal distribution lists (create, members, ExpandDL)."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from exchangelib import Mailbox
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.items import Contact, DistributionList
from exchangelib.properties import DLMailbox, ItemId, Member

from gateway.backends.dav import DavClient

from .test_ews_exchangelib import account


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


async def carddav_cards(gw, login: str) -> list[bytes]:
    """Every vCard in the user's address books, read with a plain CardDAV client (no gateway)."""
    cfg = gw.state.config.dav
    if cfg.auth == "proxy":
        dav = DavClient(cfg.url, cfg.service_user, cfg.service_password, headers={cfg.proxy_header: login})
    else:
        dav = DavClient(cfg.url, login, f"{login}pw")
    try:
        _, books = await dav.discover()
        out = []
        for book in books:
            for res in await dav.list_resources(book.href):
                out.append((await dav.get(res.href)).data or b"")
        return out
    finally:
        await dav.close()


def _seeded(gw):
    a = account(gw, "bob")
    names = {c.display_name for c in a.contacts.all()}
    assert {"Dana Diaz", "Erik Eriksson"} <= names, names
    dana = [c for c in a.contacts.all() if c.display_name == "Dana Diaz"][0]
    dana = a.contacts.get(id=dana.id)
    assert dana.email_addresses and "@" in dana.email_addresses[0].email
    # ContactsView over the same folder
    view = list(a.contacts.filter(display_name__startswith="Dana"))
    assert [c.display_name for c in view] == ["Dana Diaz"]


async def test_seeded_contacts(demo_gateway):
    await asyncio.to_thread(_seeded, demo_gateway)


def _create_update(gw, tag):
    a = account(gw)
    c = Contact(account=a, folder=a.contacts, display_name=f"Zed Zulu{tag}", given_name="Zed", surname=f"Zulu{tag}", company_name="Acme",
                job_title="Engineer", email_addresses=[EmailAddress(email=f"zed.{tag}@example.org",
                                                                    label="EmailAddress1")],
                phone_numbers=[PhoneNumber(label="BusinessPhone", phone_number="+49 30 1234")],
                physical_addresses=[PhysicalAddress(label="Business", street="1 Main St", city="Berlin",
                                                    zipcode="10115", country="Germany")])
    c.save()
    got = a.contacts.get(id=c.id)
    assert got.display_name == f"Zed Zulu{tag}"
    assert got.company_name == "Acme" and got.job_title == "Engineer"
    assert [e.email for e in got.email_addresses] == [f"zed.{tag}@example.org"]
    assert [p.phone_number for p in got.phone_numbers] == ["+49 30 1234"]
    assert got.physical_addresses[0].city == "Berlin"
    got.job_title = "Director"
    got.save(update_fields=["job_title"])
    assert a.contacts.get(id=c.id).job_title == "Director"
    return c.id


def _delete(gw, item_id):
    a = account(gw)
    a.contacts.get(id=item_id).delete()
    assert not [x for x in a.contacts.all() if x.id == item_id]


async def test_contact_create_update_delete_over_carddav(gw):
    tag = uuid.uuid4().hex[:8]
    item_id = await asyncio.to_thread(_create_update, gw, tag)
    cards = [c for c in await carddav_cards(gw, "alice") if tag.encode() in c]
    assert len(cards) == 1
    card = cards[0].decode()
    assert f"zed.{tag}@example.org" in card and "TITLE:Director" in card and "Berlin" in card
    await asyncio.to_thread(_delete, gw, item_id)
    assert not [c for c in await carddav_cards(gw, "alice") if tag.encode() in c]


def _distribution_list(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    dl = DistributionList(account=a, folder=a.contacts, display_name=f"friends {tag}",
                          members=[Member(mailbox=Mailbox(name="Bob Baker", email_address="bob@example.test")),
                                   Member(mailbox=Mailbox(name="Carol Clark", email_address="carol@example.test"))])
    dl.save()
    got = a.contacts.get(id=dl.id)
    assert isinstance(got, DistributionList) and got.display_name == f"friends {tag}"
    assert sorted(m.mailbox.email_address for m in got.members) == ["bob@example.test", "carol@example.test"]
    # ExpandDL of the personal list, named by its ItemId
    expanded = list(a.protocol.expand_dl(DLMailbox(item_id=ItemId(got.id, got.changekey), mailbox_type="PrivateDL")))
    assert sorted(x.email_address for x in expanded) == ["bob@example.test", "carol@example.test"]
    got.delete()


async def test_distribution_list(gw):
    await asyncio.to_thread(_distribution_list, gw)
