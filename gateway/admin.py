"""`exgate passwd`: manage the NT hashes NTLM sign-in checks against.

NTLM needs each user's NT hash (MD4 of the UTF-16LE password). When the
directory has no sambaNTPassword attribute, an administrator (or the user,
through a help desk) sets it here; the gateway stores the hash only, in the
state database's ``ntlm_credentials`` table. The password is read from the
terminal (twice) or from stdin with --password-stdin, never from argv.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from gateway.config import Config
from gateway.http.auth.basic import strip_domain
from gateway.http.auth.credentials import NtHashStore, parse_hex_hash
from gateway.store.state.db import StateDB


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("passwd", help="set, remove or list the NT hashes used for NTLM sign-in")
    p.add_argument("user", nargs="?", help="directory uid or e-mail address")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="exgate.toml (state database and directory)")
    where.add_argument("--state", help="state database: SQLite path or postgresql:// DSN")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.add_argument("--nt-hash-stdin", action="store_true",
                   help="read a 32-hex-digit NT hash from stdin (e.g. exported sambaNTPassword)")
    p.add_argument("--delete", action="store_true", help="remove the user's stored hash")
    p.add_argument("--list", action="store_true", help="list the users with a stored hash")
    p.add_argument("--no-directory-check", action="store_true",
                   help="do not require the user to exist in the configured directory")
    return p


async def _directory_uid(cfg: Config, user: str) -> str | None:
    from gateway.store.factory import directory_from_config
    directory = directory_from_config(cfg)
    try:
        entry = await directory.get_user(user)
    finally:
        await directory.close()
    return entry.uid if entry is not None and entry.uid else None


def run_passwd(args: argparse.Namespace) -> int:
    cfg = Config.load(args.config) if args.config else None
    db = StateDB.open(args.state or cfg.state.dsn)
    try:
        store = NtHashStore(db)
        if args.list:
            for login in store.logins():
                print(login)
            return 0
        if not args.user:
            print("exgate passwd: name a user (or --list)", file=sys.stderr)
            return 2
        login = strip_domain(args.user).strip()
        if cfg is not None and not args.no_directory_check:
            uid = asyncio.run(_directory_uid(cfg, login))
            if uid is None:
                print(f"exgate passwd: {login!r} is not a user in the directory", file=sys.stderr)
                return 1
            login = uid       # hashes are keyed by uid, whatever form was typed
        if args.delete:
            found = store.delete(login)
            print(f"{login}: NT hash {'removed' if found else 'was not set'}")
            return 0 if found else 1
        if args.nt_hash_stdin:
            value = parse_hex_hash(sys.stdin.readline())
            if value is None:
                print("exgate passwd: expected 32 hex digits on stdin", file=sys.stderr)
                return 2
            store.set_hash(login, value)
        else:
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            else:
                password = getpass.getpass(f"New password for {login}: ")
                if getpass.getpass("Again: ") != password:
                    print("exgate passwd: the passwords differ", file=sys.stderr)
                    return 1
            if not password:
                print("exgate passwd: empty password refused", file=sys.stderr)
                return 2
            store.set_password(login, password)
        print(f"{login}: NT hash stored")
        return 0
    finally:
        db.close()
