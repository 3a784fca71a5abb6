"""gateway/store/oab.py on the demo directory file: the records are NSPI's properties, a second look at an
unchanged directory builds nothing, a change raises the sequence number and offers a patch that turns the
previous Full Details file into the new one."""
from __future__ import annotations

from pathlib import Path

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.filedir import FileDirectory
from gateway.store.directory import Directory
from gateway.store.oab import OAB_MEMBER, OfflineAddressBook, oab_guid
from protocols.oab import apply_patch, decode_details, decompress
from protocols.oab.manifest import Manifest

DAVE = """
dn: uid=dave,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: dave
cn: Dave Dunn
displayName: Dave Dunn
givenName: Dave
sn: Dunn
mail: dave@example.test
title: Tester
"""


def _read(book: OfflineAddressBook):
    m = Manifest.decode((book.folder / "oab.xml").read_bytes()).oals[0]
    full = (book.folder / m.file("Full").name).read_bytes()
    return m, full, decompress(full)


async def test_build_change_and_patch(tmp_path):
    ldif = tmp_path / "directory.ldif"
    ldif.write_text(Path(DIRECTORY_LDIF).read_text(encoding="utf-8"), encoding="utf-8")
    client = FileDirectory(ldif)
    directory = Directory(client)
    book = OfflineAddressBook(directory, tmp_path / "oab", "example.test", recheck_seconds=0)
    assert book.guid == oab_guid("EXAMPLE.test") and book.guid != oab_guid("other.test")

    v1 = await book.refresh()
    m1, full1, raw1 = _read(book)
    assert v1.seq == 1 and m1.file("Diff") is None and m1.file("Full").seq == 1
    assert m1.file("Full").size == len(full1) and m1.file("Full").uncompressed_size == len(raw1)
    f1 = decode_details(raw1)
    gal = await directory.gal()
    assert len(f1.records) == len(gal)
    for rec, entry in zip(f1.records, gal):
        nspi = Directory.address_book_props(entry)
        assert all(nspi[t] == v for t, v in rec.items() if t in nspi)
    team = next(r for r in f1.records if r.get(0x3001001F) == "team")
    assert team[OAB_MEMBER] == sorted(Directory.legacy_dn(m) for m in await directory.members("team"))

    assert (await book.refresh()).seq == 1 and book.builds == 1          # nothing changed: nothing built

    ldif.write_text(ldif.read_text(encoding="utf-8") + DAVE, encoding="utf-8")
    client.reload()
    v2 = await book.refresh()
    m2, full2, raw2 = _read(book)
    assert v2.seq == 2 and m2.file("Full").seq == 2 and book.builds == 2
    assert "Dave Dunn" in [r.get(0x3001001F) for r in decode_details(raw2).records]
    patch = (book.folder / m2.file("Diff").name).read_bytes()
    assert apply_patch(raw1, patch) == raw2
    assert m2.file("Diff").size < m2.file("Full").size < len(raw2)        # LZX: against the old file, and alone
    # the version before stays for downloads under way; older files go
    assert (book.folder / m1.file("Full").name).exists()
    ldif.write_text(ldif.read_text(encoding="utf-8").replace("title: Tester", "title: Lead"), encoding="utf-8")
    client.reload()
    assert (await book.refresh()).seq == 3
    assert not (book.folder / m1.file("Full").name).exists()
    assert book.path_of("../state.json") is None and book.path_of("oab.xml") is not None
