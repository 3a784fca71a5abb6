"""The file-backed directory (exgate demo) as the store's GAL sees it: an edit to the LDIF file shows in the next
Directory.gal (FileDirectory.change_marker reads the file again when its size or times moved); an unchanged
file is not read again; a file that is gone or half written leaves the GAL as it was."""
from __future__ import annotations

import os

from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.filedir import FileDirectory
from gateway.store.directory import Directory, gal_cache

DAVE = ("\ndn: uid=dave,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: dave\ncn: Dave Dune\n"
        "sn: Dune\ndisplayName: Dave Dune\nmail: dave@example.test\n")


def _bump(path):
    """Move the file's mtime on, as a later write would (two writes within one clock tick look alike)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


async def test_an_edit_shows_in_the_next_gal(tmp_path):
    path = tmp_path / "directory.ldif"
    path.write_text(DIRECTORY_LDIF.read_text(encoding="utf-8"))
    client = FileDirectory(path)
    first = await Directory(client).gal()
    assert "Dave Dune" not in [e.display_name for e in first]
    assert await Directory(client).gal() is first and gal_cache(client).reads == 1     # no edit: no read

    with path.open("a", encoding="utf-8") as f:
        f.write(DAVE)
    _bump(path)
    added = await Directory(client).gal()
    assert "Dave Dune" in [e.display_name for e in added] and gal_cache(client).reads == 2

    path.write_text(path.read_text(encoding="utf-8").replace("displayName: Dave Dune", "displayName: David Dune"))
    _bump(path)
    assert "David Dune" in [e.display_name for e in await Directory(client).gal()]

    path.write_text("dn: uid=broken,dc=example,dc=test\nno colon on this line\n")       # half written
    _bump(path)
    kept = await Directory(client).gal()
    assert "David Dune" in [e.display_name for e in kept]
    path.unlink()                                                                         # gone
    assert await Directory(client).gal() is kept
