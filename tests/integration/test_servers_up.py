"""Each real server the fixtures start answers for real, wired as a deployment.

These guard the test setup itself: if one fails, every integration test that
uses that server would fail for the same reason, so the cause shows up here.
"""

from __future__ import annotations

import base64
import imaplib
import smtplib
import time
import urllib.error
import urllib.request
import uuid
from email.message import EmailMessage

import ldap3
import psycopg

from tests.servers import DovecotInfo, PostfixInfo, RadicaleInfo, RealStack, SlapdInfo

TEAM_DN = "cn=team,ou=groups,dc=example,dc=test"


def _imap(dovecot: DovecotInfo) -> imaplib.IMAP4:
    return imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=10)


# --- slapd ---------------------------------------------------------------


def test_ldap_bind_as_alice_sees_memberof(slapd: SlapdInfo) -> None:
    conn = ldap3.Connection(ldap3.Server(slapd.url), user=slapd.user_dn("alice"), password="alicepw")
    assert conn.bind(), conn.result
    try:
        assert conn.search(slapd.people_dn, "(uid=alice)", attributes=["mail", "memberOf"])
        [entry] = conn.entries
        assert str(entry.mail) == "alice@example.test"
        # memberOf exists only because the LDIF was loaded online (overlay ran).
        assert [dn.lower() for dn in entry.memberOf.values] == [TEAM_DN]
    finally:
        conn.unbind()


def test_ldap_wrong_password_is_refused(slapd: SlapdInfo) -> None:
    conn = ldap3.Connection(ldap3.Server(slapd.url), user=slapd.user_dn("alice"), password="wrong")
    assert not conn.bind()
    assert conn.result["description"] == "invalidCredentials"


# --- Dovecot ---------------------------------------------------------------


def test_imap_login_with_directory_password(dovecot: DovecotInfo) -> None:
    m = _imap(dovecot)
    try:
        m.login("alice", "alicepw")
        typ, data = m.capability()
        caps = set(data[0].decode().upper().split())
        assert {"CONDSTORE", "QRESYNC", "SPECIAL-USE", "METADATA"} <= caps
        typ, lines = m.list()
        assert typ == "OK"
        flags = b" ".join(lines).decode()
        for flag in (r"\Drafts", r"\Sent", r"\Trash", r"\Junk", r"\Archive"):
            assert flag in flags, (flag, lines)
        # CONDSTORE is live, not just advertised: SELECT with the CONDSTORE
        # parameter reports HIGHESTMODSEQ (RFC 7162 3.1.2.1, 3.1.8). imaplib
        # sends the mailbox argument as given, so the parameter rides along.
        typ, data = m.select("INBOX (CONDSTORE)")
        assert typ == "OK"
        codes = b" ".join(c for c in m.untagged_responses.get("OK", []) if isinstance(c, bytes))
        assert b"HIGHESTMODSEQ" in codes, codes
    finally:
        m.logout()


def test_imap_wrong_password_is_refused(dovecot: DovecotInfo) -> None:
    m = _imap(dovecot)
    try:
        try:
            m.login("alice", "wrong")
        except imaplib.IMAP4.error as exc:
            assert "AUTHENTICATIONFAILED" in str(exc)
        else:
            raise AssertionError("login with a wrong password succeeded")
    finally:
        m.shutdown()


def test_imap_master_user_opens_alices_mailbox(dovecot: DovecotInfo) -> None:
    marker = f"Master-{uuid.uuid4().hex[:8]}"
    m = _imap(dovecot)
    try:
        m.login(dovecot.master_login("alice"), dovecot.master_password)
        assert m.create(marker)[0] == "OK"
    finally:
        m.logout()

    # SASL PLAIN with authzid=alice, authcid=master (RFC 4616) reaches the same mailbox.
    m = _imap(dovecot)
    try:
        creds = f"alice\0{dovecot.master_user}\0{dovecot.master_password}".encode()
        m.authenticate("PLAIN", lambda _challenge: creds)
        typ, lines = m.list('""', marker)
        assert typ == "OK" and lines[0] is not None and marker.encode() in lines[0]
        m.delete(marker)
    finally:
        m.logout()


def test_imap_address_login_is_the_same_account(dovecot: DovecotInfo) -> None:
    # auth_username_format = %Ln: alice@example.test and Alice are alice.
    m = _imap(dovecot)
    try:
        assert m.login("Alice@example.test", "alicepw")[0] == "OK"
    finally:
        m.logout()


# --- Postfix -> LMTP -> Dovecot --------------------------------------------


def test_smtp_submission_arrives_in_bobs_inbox(postfix: PostfixInfo, dovecot: DovecotInfo) -> None:
    token = uuid.uuid4().hex
    msg = EmailMessage()
    msg["From"] = "alice@example.test"
    msg["To"] = "bob@example.test"
    msg["Subject"] = f"setup check {token}"
    msg.set_content("hello bob\n")
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as smtp:
        refused = smtp.send_message(msg)
    assert refused == {}

    m = _imap(dovecot)
    try:
        m.login("bob", "bobpw")
        deadline = time.monotonic() + 15
        found: list[bytes] = []
        while time.monotonic() < deadline:
            m.select("INBOX", readonly=True)
            typ, data = m.uid("SEARCH", "HEADER", "Subject", token)
            found = data[0].split() if data and data[0] else []
            if found:
                break
            time.sleep(0.2)
        assert found, f"message {token} not in bob's INBOX; maillog:\n{_tail(postfix)}"
    finally:
        m.logout()


def test_smtp_outside_recipient_is_refused(postfix: PostfixInfo) -> None:
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as smtp:
        try:
            smtp.sendmail("alice@example.test", ["someone@elsewhere.invalid"], b"Subject: x\r\n\r\nx\r\n")
        except smtplib.SMTPRecipientsRefused as exc:
            [(code, _)] = exc.recipients.values()
            assert code >= 500
        else:
            raise AssertionError("mail to an outside domain was accepted")


def _tail(postfix: PostfixInfo) -> str:
    try:
        return "\n".join(postfix.maillog.read_text().splitlines()[-20:])
    except OSError as exc:
        return str(exc)


# --- Radicale ----------------------------------------------------------------


def _propfind(radicale: RadicaleInfo, user: str, password: str) -> int:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(
        f"{radicale.url}/{user}/",
        method="PROPFIND",
        headers={"Depth": "0", "Authorization": f"Basic {auth}", "Content-Type": "application/xml"},
        data=b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>',
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_radicale_propfind_with_directory_password(radicale: RadicaleInfo) -> None:
    assert _propfind(radicale, "bob", radicale.users["bob"]) == 207


def test_radicale_wrong_password_is_401(radicale: RadicaleInfo) -> None:
    assert _propfind(radicale, "bob", "wrong") == 401


# --- PostgreSQL --------------------------------------------------------------


def test_postgres_select_1(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, connect_timeout=10) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        assert conn.execute("select current_database()").fetchone() == ("exgate_test",)


# --- everything together -------------------------------------------------------


def test_real_stack_is_the_same_servers(
    real_stack: RealStack, slapd: SlapdInfo, dovecot: DovecotInfo, postfix: PostfixInfo
) -> None:
    assert real_stack.slapd is slapd
    assert real_stack.dovecot is dovecot
    assert real_stack.postfix is postfix
    assert real_stack.postgres_dsn.startswith("postgresql://")
