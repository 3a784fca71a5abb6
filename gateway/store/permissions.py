"""Folder permissions (MS-OXCPERM) kept as the IMAP server's access control lists (RFC 4314).

Exchange's permissions table has one row per member: Default (everyone signed in), Anonymous and named
users, each with PidTagMemberRights. On IMAP these are the ACL identifiers ``anyone``, ``anonymous``
and the users' login names; the mailbox owner's own entry is not a member (Exchange does not list it).
Only mail folders on a server that offers ACL have permissions; everywhere else reading gives the two
rows without rights and changing them raises NotSupported (answered as ecNotSupported, never a silent
success).

Rights, MAPI -> IMAP (RFC 4314 2.1) and back. IMAP has no "own items" or free/busy rights, so EditOwned,
DeleteOwned, FolderContact and the free/busy bits are not kept and read back as unset:
- FolderVisible 0x400: ``l``; ReadAny 0x1: ``r s``; Create 0x2: ``i p``; EditAny 0x20: ``w``;
  DeleteAny 0x40: ``t e``; CreateSubFolder 0x80: ``k``; FolderOwner 0x100: ``x a``.
A right is read back as set when all of its IMAP letters are there.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .errors import StoreError

DEFAULT, ANONYMOUS = "anyone", "anonymous"
MEMBER_DEFAULT, MEMBER_ANONYMOUS = 0, 0xFFFFFFFFFFFFFFFF
RIGHTS = ((0x400, "l"), (0x1, "rs"), (0x2, "ip"), (0x20, "w"), (0x40, "te"), (0x80, "k"), (0x100, "xa"))


class NotSupported(StoreError):
    """The folder's backend keeps no permissions."""
    code = "not-supported"


@dataclass(frozen=True)
class Member:
    member_id: int
    identifier: str              # the IMAP ACL identifier
    name: str
    rights: int


def to_imap(rights: int) -> str:
    return "".join(letters for bit, letters in RIGHTS if rights & bit)


def to_mapi(letters: str) -> int:
    return sum(bit for bit, need in RIGHTS if all(c in letters for c in need))


def member_id(identifier: str) -> int:
    """A member's PidTagMemberId: 0 Default, all ones Anonymous, else stable from the identifier."""
    if identifier == DEFAULT:
        return MEMBER_DEFAULT
    if identifier == ANONYMOUS:
        return MEMBER_ANONYMOUS
    return int.from_bytes(hashlib.blake2b(identifier.encode(), digest_size=7).digest(), "little") + 1


async def _imap_folder(mbx, fid: int):
    f = await mbx.get_folder(fid)
    imap = mbx.backends.imap
    if f.kind != "imap" or not getattr(imap, "supports_acl", False):
        return f, None
    return f, imap


async def members(mbx, fid: int) -> list[Member]:
    f, imap = await _imap_folder(mbx, fid)
    found = dict(await imap.get_acl(f.ref)) if imap is not None else {}
    owner = (mbx.ident.owner or "").lower()
    out = [Member(MEMBER_DEFAULT, DEFAULT, "", to_mapi(found.pop(DEFAULT, ""))),
           Member(MEMBER_ANONYMOUS, ANONYMOUS, "Anonymous", to_mapi(found.pop(ANONYMOUS, "")))]
    for identifier, letters in sorted(found.items()):
        if identifier.lower() in (owner, owner.split("@")[0]) or identifier.startswith("$"):
            continue                      # the owner, and Dovecot's group/special identifiers
        out.append(Member(member_id(identifier), identifier, identifier, to_mapi(letters)))
    return out


async def change(mbx, fid: int, *, set_rights: dict[str, int] | None = None, remove: tuple[str, ...] = ()) -> None:
    """Set members' rights (identifier -> PidTagMemberRights) and remove members, on the folder's ACL."""
    f, imap = await _imap_folder(mbx, fid)
    if imap is None:
        raise NotSupported("this folder's server keeps no permissions")
    for identifier, rights in (set_rights or {}).items():
        letters = to_imap(rights)
        if letters:
            await imap.set_acl(f.ref, identifier, letters)
        else:
            await imap.delete_acl(f.ref, identifier)
    for identifier in remove:
        await imap.delete_acl(f.ref, identifier)


def identifier_of_dn(dn: str) -> str | None:
    """The user an address book DN names (``.../cn=Recipients/cn=<alias>``): the alias, which is the
    login the IMAP server knows (the gateway's LegacyExchangeDN is made from it)."""
    last = dn.rsplit("/", 1)[-1]
    return last[3:].lower() if last.lower().startswith("cn=") and len(last) > 3 else None


async def identifier_of(mbx, fid: int, wanted_id: int) -> str | None:
    for m in await members(mbx, fid):
        if m.member_id == wanted_id:
            return m.identifier
    return None
