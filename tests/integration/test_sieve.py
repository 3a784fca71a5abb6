"""The ManageSieve client and the vacation script against a real Dovecot Pigeonhole (tests/servers/dovecot.py)."""
from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from gateway.backends.sieve import ManageSieveClient, ManageSieveError
from gateway.store import sieve_oof
from gateway.store.oof import OofSettings
from tests.servers import DovecotInfo


async def _as(dovecot: DovecotInfo, user: str, *, master: bool = False) -> ManageSieveClient:
    if master:
        return await ManageSieveClient.connect(dovecot.host, dovecot.sieve_port, user=dovecot.master_user,
                                               password=dovecot.master_password, authzid=user)
    return await ManageSieveClient.connect(dovecot.host, dovecot.sieve_port, user=user,
                                           password=dovecot.users[user])


async def _clean(c: ManageSieveClient) -> None:
    await c.set_active(None)
    for s in await c.list_scripts():
        await c.delete_script(s.name)


async def test_greeting_capabilities(dovecot):
    c = await ManageSieveClient.connect(dovecot.host, dovecot.sieve_port)
    try:
        caps = c.capabilities
        assert "Pigeonhole" in caps.implementation
        assert {"vacation", "include", "date", "relational", "variables", "envelope"} <= caps.sieve
        assert "PLAIN" in caps.sasl and caps.version == "1.0"
        assert caps.starttls is False      # the test server is plain text on 127.0.0.1
    finally:
        await c.logout()


async def test_put_list_get_activate_delete(dovecot):
    async with await _as(dovecot, "carol") as c:
        await _clean(c)
        name = f"rules-{uuid.uuid4().hex[:6]}"
        body = 'require "fileinto";\r\n# "quoted" and {braces} and ü\r\nif header :contains "subject" "x" { fileinto "Junk"; }\r\n'
        resp = await c.put_script(name, body)
        assert resp.ok
        assert [(s.name, s.active) for s in await c.list_scripts()] == [(name, False)]
        assert await c.get_script(name) == body
        await c.set_active(name)
        assert await c.active_script() == name
        # the active script cannot be deleted (RFC 5804 section 2.10)
        with pytest.raises(ManageSieveError) as err:
            await c.delete_script(name)
        assert err.value.code == "ACTIVE" and err.value.kind == "conflict"
        await c.rename_script(name, name + "-2")
        assert await c.active_script() == name + "-2"
        await c.set_active("")
        assert await c.active_script() is None
        assert await c.have_space("x", 1000)
        await c.noop()
        await c.delete_script(name + "-2")
        assert await c.list_scripts() == []


async def test_errors_carry_codes(dovecot):
    async with await _as(dovecot, "carol") as c:
        with pytest.raises(ManageSieveError) as err:
            await c.get_script("does-not-exist")
        assert (err.value.status, err.value.code, err.value.kind) == ("NO", "NONEXISTENT", "notfound")
        # a script that does not compile is refused with the compiler's words
        with pytest.raises(ManageSieveError) as err:
            await c.put_script("broken", 'requir "vacation";\r\n')
        assert err.value.status == "NO" and "requir" in err.value.text
        with pytest.raises(ManageSieveError):
            await c.check_script('vacation "no require";\r\n')
        assert (await c.check_script('require "vacation";\r\nvacation "ok";\r\n')).ok
        assert "broken" not in [s.name for s in await c.list_scripts()]


async def test_wrong_password_and_closed_port(dovecot):
    with pytest.raises(ManageSieveError) as err:
        await ManageSieveClient.connect(dovecot.host, dovecot.sieve_port, user="alice", password="wrong")
    assert err.value.kind == "auth"
    # STARTTLS asked for but not offered: refused rather than sending the password in clear
    with pytest.raises(ManageSieveError) as err:
        await ManageSieveClient.connect(dovecot.host, dovecot.sieve_port, user="alice", password="alicepw",
                                        starttls=True)
    assert "STARTTLS" in str(err.value)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]        # bound, not listening: refused
        with pytest.raises(ManageSieveError) as err:
            await ManageSieveClient.connect("127.0.0.1", port, timeout=5)
    assert err.value.kind == "unavailable"


async def test_master_user_acts_for_the_user(dovecot):
    name = f"m-{uuid.uuid4().hex[:6]}"
    async with await _as(dovecot, "bob", master=True) as c:
        await c.put_script(name, "keep;\r\n")
    async with await _as(dovecot, "bob") as c:
        names = [s.name for s in await c.list_scripts()]
        assert name in names
        await c.delete_script(name)
    async with await _as(dovecot, "carol") as c:
        assert name not in [s.name for s in await c.list_scripts()]


@pytest.mark.parametrize("settings", [
    OofSettings(),
    OofSettings(state="Enabled", internal_reply='in "q" \\ ${x}\nline', external_reply="<p>out ü</p>"),
    OofSettings(state="Enabled", external_audience="None", internal_reply="in", external_reply="out"),
    OofSettings(state="Enabled", external_audience="Known", external_reply="only outside"),
    OofSettings(state="Scheduled", start=datetime(2030, 1, 1, tzinfo=timezone.utc),
                end=datetime(2030, 1, 2, tzinfo=timezone.utc), internal_reply="<html><body>x</body></html>",
                external_reply="y"),
], ids=["disabled", "enabled-all", "enabled-none", "known-external-only", "scheduled-html"])
async def test_rendered_scripts_compile_on_pigeonhole(dovecot, settings):
    async with await _as(dovecot, "carol", master=True) as c:
        script = sieve_oof.render(settings, addresses=["carol@example.test"], previous="theirs")
        resp = await c.check_script(script)
        assert resp.ok, resp


async def test_oof_script_keeps_and_restores_the_users_own(dovecot):
    async with await _as(dovecot, "carol", master=True) as c:
        await _clean(c)
        assert await sieve_oof.read(c) is None
        await c.put_script("mine", 'require "fileinto";\r\nif header :is "x-spam" "yes" { fileinto "Junk"; }\r\n')
        await c.set_active("mine")
        on = OofSettings(state="Enabled", internal_reply="away", external_reply="away ext")
        script = await sieve_oof.write(c, on, addresses=["carol@example.test"])
        assert await c.active_script() == sieve_oof.SCRIPT_NAME
        assert 'include :personal :optional "mine";' in script
        assert await sieve_oof.read(c) == on
        # a second change keeps remembering "mine"
        later = OofSettings(state="Scheduled", start=datetime.now(timezone.utc).replace(microsecond=0),
                            end=datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1),
                            internal_reply="later")
        await sieve_oof.write(c, later, addresses=["carol@example.test"])
        assert sieve_oof.parse(await c.get_script(sieve_oof.SCRIPT_NAME)).previous == "mine"
        assert await sieve_oof.read(c) == later
        # off: their script is active again, ours stays (inactive) with the texts
        await sieve_oof.write(c, OofSettings(state="Disabled", internal_reply="later"),
                              addresses=["carol@example.test"])
        assert await c.active_script() == "mine"
        got = await sieve_oof.read(c)
        assert got.state == "Disabled" and got.internal_reply == "later"
        assert {s.name for s in await c.list_scripts()} == {"mine", sieve_oof.SCRIPT_NAME}
        # a script the user activates later (another client) wins over ours and is the one kept
        await sieve_oof.write(c, on, addresses=["carol@example.test"])
        await c.put_script("newer", "keep;\r\n")
        await c.set_active("newer")
        assert (await sieve_oof.read(c)).state == "Disabled"     # ours is not the active one
        await sieve_oof.write(c, on, addresses=["carol@example.test"])
        assert sieve_oof.parse(await c.get_script(sieve_oof.SCRIPT_NAME)).previous == "newer"
        await sieve_oof.write(c, OofSettings(), addresses=["carol@example.test"])
        assert await c.active_script() == "newer"
        await _clean(c)


async def test_a_foreign_script_with_our_name_is_left_alone(dovecot):
    async with await _as(dovecot, "carol", master=True) as c:
        await _clean(c)
        await c.put_script(sieve_oof.SCRIPT_NAME, "keep;\r\n")
        with pytest.raises(sieve_oof.ForeignScript):
            await sieve_oof.write(c, OofSettings(state="Enabled", internal_reply="x"), addresses=["carol@example.test"])
        assert await c.get_script(sieve_oof.SCRIPT_NAME) == "keep;\r\n"
        assert await sieve_oof.read(c) is None
        await _clean(c)
