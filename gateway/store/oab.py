"""The offline address book (MS-OXOAB version 4), made from the store's directory.

``OfflineAddressBook`` renders the GAL (``Directory.gal()``: users, groups, rooms, equipment) into a
Full Details file with the properties NSPI gives (``Directory.address_book_props``: display name,
SMTP address, PidTagEmailAddress = LegacyExchangeDN, proxy addresses, phones, title, department,
company, office, object/display type, the photo) plus the links NSPI resolves: a group's members
(PidTagAddressBookMember as DNs, MS-OXOAB 2.9.6.7) and the manager's DN. Records are written to
disk one at a time while a SHA-256 of them is kept; when that hash equals the current version's,
nothing changes. Otherwise the sequence number goes up, the compressed Full file
(``<guid>-data-<seq>.lzx``, LZX compressed 32 KiB blocks) and a patch from the previous version
(``<guid>-binpatch-<seq>.lzx``: each block LZX compressed against the previous file's block at the
same place, so an unchanged stretch costs a few bytes) are written, then ``oab.xml``, then
``state.json`` (small metadata), each by rename so a reader never sees half a file. The uncompressed
file of the current version is kept (hidden, not served) as the next patch's source. The version
before is kept so a download that started on it finishes; older files are removed.

When: ``run_forever`` builds at start and every ``[oab] interval_hours`` (default 8), and
``refresh`` (called when ``oab.xml`` is asked for) re-reads the directory when the last look is
older than ``[oab] recheck_seconds`` (default 60) and rebuilds if the hash differs. One build at a
time per process (an asyncio lock) and per folder (an fcntl lock, for `exgate serve --workers`).
Rendering and writing run in a thread, off the loop.

The OAB's guid is derived from the organisation's DN and the domain, so it is the same for every
worker and every restart of one deployment.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from protocols.mapi.props import core as P
from protocols.oab import details as D
from protocols.oab import lzx as L
from protocols.oab.manifest import FileEntry, Manifest, OalEntry

from .directory import ORG_DN, PidTagThumbnailPhoto, Directory

log = logging.getLogger(__name__)

GAL_NAME = "\\Global Address List"
OAB_DN = ORG_DN.split("/ou=", 1)[0] + "/cn=addrlists/cn=oabs/cn=Default Offline Address Book"

# OAB header record (MS-OXOAB 2.9.2.1; MS-OXPROPS PidTagOfflineAddressBook*)
PidTagOfflineAddressBookName = 0x6800001F
PidTagOfflineAddressBookSequence = 0x68010003
PidTagOfflineAddressBookContainerGuid = 0x6802001E
PidTagOfflineAddressBookDistinguishedName = 0x6804001E
HDR_PROPS = [D.PropRec(PidTagOfflineAddressBookName), D.PropRec(PidTagOfflineAddressBookDistinguishedName),
             D.PropRec(PidTagOfflineAddressBookSequence), D.PropRec(PidTagOfflineAddressBookContainerGuid)]

# links, as DNs (2.9.6.3/2.9.6.7: PtypEmbeddedTable values are written as String8/MultipleString8)
OAB_MEMBER = 0x8009101E          # PidTagAddressBookMember
OAB_MANAGER = 0x8005001E         # PidTagAddressBookManager
ANR, KEY = D.FLAG_ANR, D.FLAG_PRIMARY
OBJ_PROPS = [
    D.PropRec(P.PidTagEmailAddress, KEY), D.PropRec(P.PidTagDisplayName, ANR), D.PropRec(P.PidTagAddressType),
    D.PropRec(P.PidTagSmtpAddress, ANR), D.PropRec(P.PidTagAccount, ANR),
    D.PropRec(P.PidTagAddressBookDisplayNamePrintable), D.PropRec(P.PidTagTransmittableDisplayName),
    D.PropRec(P.PidTagAddressBookProxyAddresses, ANR), D.PropRec(P.PidTagGivenName, ANR),
    D.PropRec(P.PidTagSurname, ANR), D.PropRec(P.PidTagTitle), D.PropRec(P.PidTagDepartmentName),
    D.PropRec(P.PidTagCompanyName), D.PropRec(P.PidTagOfficeLocation, ANR),
    D.PropRec(P.PidTagBusinessTelephoneNumber), D.PropRec(P.PidTagMobileTelephoneNumber),
    D.PropRec(P.PidTagObjectType), D.PropRec(P.PidTagDisplayType), D.PropRec(P.PidTagDisplayTypeEx),
    D.PropRec(OAB_MEMBER), D.PropRec(OAB_MANAGER), D.PropRec(PidTagThumbnailPhoto),
]
OBJ_TAGS = {p.tag for p in OBJ_PROPS}


def oab_guid(domain: str) -> uuid.UUID:
    """Stable per deployment: the same organisation and domain give the same guid."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"exgate-oab:{ORG_DN}:{domain.lower()}")


def record_of(entry, members: list[str] | None, dn_of: dict[str, str]) -> dict:
    """One Address Book object as an OAB record: NSPI's properties of the entry (those in OBJ_PROPS)
    and its links as DNs (``dn_of``: directory DN, lower case -> LegacyExchangeDN)."""
    props = Directory.address_book_props(entry)
    rec = {t: v for t, v in props.items() if t in OBJ_TAGS}
    if members:
        rec[OAB_MEMBER] = sorted({dn_of[m.lower()] for m in members if m.lower() in dn_of}, key=str.lower)
    manager = Directory.attribute(entry, "manager")
    if manager and manager.lower() in dn_of:
        rec[OAB_MANAGER] = dn_of[manager.lower()]
    return rec


@dataclass
class Version:
    seq: int
    hash: str
    built: float
    full: dict          # name, size, uncompressed_size, sha
    diff: dict | None
    source_size: int    # uncompressed size and CRC of this version's Full Details file: the next patch's source
    source_crc: int


class OfflineAddressBook:
    def __init__(self, directory: Directory, root: Path, domain: str, *, interval_hours: float = 8.0,
                 recheck_seconds: float = 60.0):
        self.directory = directory
        self.guid = oab_guid(domain)
        self.folder = Path(root) / str(self.guid)
        self.interval = max(60.0, interval_hours * 3600.0)
        self.recheck_seconds = recheck_seconds
        self._lock = asyncio.Lock()
        self._checked = 0.0
        self.builds = 0

    # ---------------------------------------------------------------- what is served
    def current(self) -> Version | None:
        try:
            raw = json.loads((self.folder / "state.json").read_text())
            return Version(**raw)
        except (OSError, ValueError, TypeError):
            return None

    def path_of(self, name: str) -> Path | None:
        """A file this OAB serves (oab.xml or a .lzx it wrote), or None."""
        if name.lower() == "oab.xml":
            p = self.folder / "oab.xml"
        elif name.startswith(str(self.guid)) and name.endswith(".lzx") and "/" not in name and ".." not in name:
            p = self.folder / name
        else:
            return None
        return p if p.is_file() else None

    # ---------------------------------------------------------------- when to build
    async def refresh(self, force: bool = False) -> Version | None:
        """Build when there is no version yet, when forced, or when the directory's entries changed
        (looked at most once per ``recheck_seconds``)."""
        async with self._lock:
            cur = self.current()
            if cur is not None and not force and time.monotonic() - self._checked < self.recheck_seconds:
                return cur
            self._checked = time.monotonic()
            return await self._build(cur)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.refresh(force=False) if self.current() else await self.refresh(force=True)
            except asyncio.CancelledError:
                raise
            except Exception:   # noqa: BLE001 - a directory that does not answer now may later
                log.exception("offline address book: build failed; the previous version stays")
            await asyncio.sleep(self.interval)

    # ---------------------------------------------------------------- building
    async def _build(self, cur: Version | None) -> Version | None:
        entries = await self.directory.gal()
        dn_of = {e.dn.lower(): Directory.legacy_dn(e) for e in entries}
        members: dict[str, list[str]] = {}
        for e in entries:
            if e.kind == "group":
                try:
                    members[e.dn] = [m.dn for m in await self.directory.members(e.dn)]
                except Exception:   # noqa: BLE001 - an unreadable group is listed without members
                    members[e.dn] = list(e.members)
        return await asyncio.to_thread(self._write, cur, entries, members, dn_of)

    def _write(self, cur: Version | None, entries: list, members: dict, dn_of: dict) -> Version | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a+") as lockf:
            fcntl.flock(lockf, fcntl.LOCK_EX)
            cur = self.current() or cur             # another worker may have built meanwhile
            seq = (cur.seq + 1) if cur else 1
            tmp = self.folder / f".build-{os.getpid()}.oab"
            h = hashlib.sha256()
            hdr = {PidTagOfflineAddressBookName: GAL_NAME, PidTagOfflineAddressBookDistinguishedName: OAB_DN,
                   PidTagOfflineAddressBookSequence: seq, PidTagOfflineAddressBookContainerGuid: str(self.guid)}
            w = D.DetailsWriter(HDR_PROPS, OBJ_PROPS, hdr)
            with open(tmp, "wb") as fh:
                fh.write(w.start())
                for e in entries:
                    rec = w.add(record_of(e, members.get(e.dn), dn_of))
                    h.update(rec)
                    fh.write(rec)
                fh.seek(0)
                fh.write(w.finish())
            digest = h.hexdigest()
            if cur is not None and cur.hash == digest:
                tmp.unlink()
                return cur
            try:
                version = self._publish(cur, seq, digest, tmp)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            self.builds += 1
            log.info("offline address book: sequence %d, %d entries, %d bytes", seq, len(entries),
                     version.full["uncompressed_size"])
            return version

    def _raw(self, seq: int) -> Path:
        """The uncompressed Full Details file of a version: kept (not served) as the next patch's source."""
        return self.folder / f".{self.guid}-data-{seq}.oab"

    def _publish(self, cur: Version | None, seq: int, digest: str, tmp: Path) -> Version:
        size = tmp.stat().st_size
        crc = 0xFFFFFFFF
        for chunk in _chunks(tmp):
            crc = D.oab_crc(chunk, crc)
        full_name = f"{self.guid}-data-{seq}.lzx"
        full = _write_file(self.folder / full_name, [L.lzx_header(size)] + [
            L.lzx_block(c) for c in _chunks(tmp)], size)
        diff = None
        if cur is not None:
            diff_name = f"{self.guid}-binpatch-{seq}.lzx"
            source = self._raw(cur.seq)
            if source.is_file() and source.stat().st_size == cur.source_size:
                # each target block against the source block at the same place (PATCH_BLK reads the
                # source in order); a target longer than the source has its last blocks without one
                refs = _chunks(source)
                blocks = (L.patch_block(c, next(refs, None)) for c in _chunks(tmp))
            else:
                blocks = (L.patch_block(c) for c in _chunks(tmp))
            diff = _write_file(self.folder / diff_name,
                               _chain(L.patch_header(cur.source_size, cur.source_crc, size, crc), blocks), size)
        os.replace(tmp, self._raw(seq))
        version = Version(seq, digest, time.time(), full, diff, size, crc)
        oal = OalEntry(str(self.guid), OAB_DN, GAL_NAME,
                       [FileEntry("Full", full["name"], seq, full["size"], size, full["sha"])])
        if diff is not None:
            oal.files.append(FileEntry("Diff", diff["name"], seq, diff["size"], size, diff["sha"]))
        _atomic(self.folder / "oab.xml", Manifest([oal]).encode())
        _atomic(self.folder / "state.json", json.dumps(version.__dict__).encode())
        keep = {"oab.xml", "state.json", ".lock", full["name"], self._raw(seq).name} | (
            {diff["name"]} if diff else set())
        if cur is not None:
            keep |= {cur.full["name"]} | ({cur.diff["name"]} if cur.diff else set())
        for p in self.folder.iterdir():
            if p.name not in keep and (p.name.endswith(".lzx") or p.name.endswith(".oab")):
                with contextlib.suppress(OSError):
                    p.unlink()
        return version


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterable[bytes]:
    yield first
    yield from rest


def _chunks(path: Path, size: int = L.BLOCK_MAX) -> Iterable[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def _write_file(path: Path, parts: Iterable[bytes], uncompressed: int) -> dict:
    sha, n = hashlib.sha1(), 0
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as fh:
        for part in parts:
            sha.update(part)
            n += len(part)
            fh.write(part)
    os.replace(tmp, path)
    return {"name": path.name, "size": n, "uncompressed_size": uncompressed, "sha": sha.hexdigest()}


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
