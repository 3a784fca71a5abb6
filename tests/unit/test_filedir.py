"""FileDirectory and its LDIF reader on the demo directory (demo_data/directory.ldif; no LDAP server)."""
import pytest

from gateway.backends.base import BackendError
from gateway.backends.embedded.users import DIRECTORY_LDIF
from gateway.backends.filedir import (FileDirectory, LdifError, check_password, make_ssha, norm_dn,
                                      parse_ldif)

FIXTURE = DIRECTORY_LDIF
ALICE = "uid=alice,ou=people,dc=example,dc=test"
BOB = "uid=bob,ou=people,dc=example,dc=test"
TEAM = "cn=team,ou=groups,dc=example,dc=test"


@pytest.fixture
def directory():
    return FileDirectory(FIXTURE)


def test_fixture_records():
    records = parse_ldif(FIXTURE.read_text())
    assert [r.dn for r in records][:3] == ["dc=example,dc=test", "ou=people,dc=example,dc=test",
                                           "ou=groups,dc=example,dc=test"]
    assert len(records) == 7
    team = records[-1]
    assert team.attributes["member"] == [ALICE, BOB]


def test_ldif_folding_base64_comments_and_changetype():
    text = (
        "version: 1\n"
        "# a comment\n"
        "dn: uid=dora,ou=people,dc=example,dc=test\n"
        "objectClass: inetOrgPerson\n"
        "uid: dora\n"
        "cn: Dora\n"
        " Dunn\n"                                  # folded continuation
        "sn:: RMO8cnI=\n"                          # base64 UTF-8 ("Dürr")
        "jpegPhoto:: /9j/4A==\n"                   # binary stays base64
        "\n"
        "dn: uid=gone,dc=example,dc=test\n"
        "changetype: delete\n"
    )
    [dora] = parse_ldif(text)
    assert dora.attributes["cn"] == ["DoraDunn"]
    assert dora.attributes["sn"] == ["Dürr"]
    assert dora.attributes["jpegPhoto;binary"] == ["/9j/4A=="]
    with pytest.raises(LdifError):
        parse_ldif("cn: no dn first\n")


async def test_authenticate_right_and_wrong(directory):
    alice = await directory.authenticate("alice", "alicepw")
    assert alice is not None and alice.dn == ALICE and alice.kind == "user"
    assert await directory.authenticate("alice@example.test", "alicepw") == alice
    assert await directory.authenticate("alice", "bobpw") is None
    assert await directory.authenticate("alice", "") is None
    assert await directory.authenticate("nobody", "x") is None
    assert "userPassword" not in alice.attributes


async def test_entry_mapping(directory):
    bob = await directory.get_user("BOB@example.test")
    assert bob.uid == "bob" and bob.display_name == "Bob Baker" and bob.email == "bob@example.test"
    assert bob.attributes["telephoneNumber"] == ["+1 555 0102"]
    assert bob.attributes["title"] == ["Developer"]
    assert bob.attributes["ou"] == ["Engineering"]
    assert bob.attributes["manager"] == [ALICE]
    assert bob.attributes["memberOf"] == [TEAM]        # computed like slapd's memberof overlay
    carol = await directory.get_user("carol")
    assert "memberOf" not in carol.attributes
    assert await directory.get_user("uid=Alice, ou=People,dc=example,dc=test") is not None
    assert await directory.get_user(TEAM) is None       # a group is not a user


async def test_search_prefix(directory):
    assert [e.uid for e in await directory.search("Ar")] == ["alice"]          # sn prefix
    assert [e.uid for e in await directory.search("car")] == ["carol"]         # uid/cn/mail
    assert [e.display_name for e in await directory.search("b")] == ["Bob Baker"]
    assert [e.kind for e in await directory.search("tea")] == ["group"]
    assert await directory.search("lice") == []                                # prefix, not substring
    assert await directory.search("") == []
    assert len(await directory.search("a", limit=1)) == 1


async def test_list_all(directory):
    everything = await directory.list_all()
    assert [(e.display_name, e.kind) for e in everything] == [
        ("Alice Archer", "user"), ("Bob Baker", "user"), ("Carol Clark", "user"), ("team", "group")]
    assert [e.uid for e in await directory.list_all(("user",))] == ["alice", "bob", "carol"]
    team = (await directory.list_all(("group",)))[0]
    assert team.members == (ALICE, BOB)


async def test_expand_group_nested_and_cycle(tmp_path):
    text = FIXTURE.read_text() + (
        "\ndn: cn=all,ou=groups,dc=example,dc=test\nobjectClass: groupOfNames\ncn: all\n"
        "mail: all@example.test\n"
        f"member: {TEAM}\nmember: uid=carol,ou=people,dc=example,dc=test\n"
        "member: cn=all,ou=groups,dc=example,dc=test\nmember: uid=ghost,dc=example,dc=test\n"
    )
    path = tmp_path / "dir.ldif"
    path.write_text(text)
    d = FileDirectory(path)
    assert [e.uid for e in await d.expand_group("all@example.test")] == ["carol", "alice", "bob"]
    assert [e.uid for e in await d.expand_group(TEAM)] == ["alice", "bob"]
    assert [e.uid for e in await d.expand_group("team")] == ["alice", "bob"]
    with pytest.raises(BackendError) as err:
        await d.expand_group("nosuch")
    assert err.value.kind == "notfound"


async def test_hashed_passwords(tmp_path):
    ssha = make_ssha("s3cret", b"\x01\x02\x03\x04")
    path = tmp_path / "dir.ldif"
    path.write_text(
        "dn: uid=dave,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: dave\ncn: Dave\nsn: D\n"
        f"userPassword: {ssha}\n\n"
        "dn: uid=erin,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: erin\ncn: Erin\nsn: E\n"
        # {SHA} of "password", as slappasswd -h {SHA} prints it
        "userPassword: {SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    d = FileDirectory(path)
    assert (await d.authenticate("dave", "s3cret")).uid == "dave"
    assert await d.authenticate("dave", "s3cret ") is None
    assert (await d.authenticate("erin", "password")).uid == "erin"
    assert await d.authenticate("erin", "Password") is None


def test_check_password_schemes():
    assert check_password("plain", "plain") and not check_password("plain", "plain2")
    assert check_password(make_ssha("x", b"salt"), "x")
    assert not check_password("{SSHA}not base64!!", "x")
    assert not check_password("{CRYPT}$6$abc", "x")                # unsupported: refuse, never accept
    assert check_password("{CLEARTEXT}pw", "pw")


def test_norm_dn():
    assert norm_dn("UID=Alice , OU=People,DC=example,DC=test") == "uid=alice,ou=people,dc=example,dc=test"
    assert norm_dn(r"cn=Smith\, John,dc=x") == r"cn=smith\, john,dc=x"


def test_missing_file_is_unavailable(tmp_path):
    with pytest.raises(BackendError) as err:
        FileDirectory(tmp_path / "nope.ldif")
    assert err.value.kind == "unavailable"


@pytest.mark.parametrize("cls_path", ["gateway.backends.filedir:FileDirectory",
                                      "gateway.backends.ldap:LdapDirectory"])
def test_directories_have_every_protocol_method(cls_path):
    import importlib
    import inspect

    from gateway.backends import base
    mod, _, name = cls_path.partition(":")
    cls = getattr(importlib.import_module(mod), name)
    for meth, member in vars(base.DirectoryClient).items():
        if inspect.iscoroutinefunction(member):
            assert inspect.iscoroutinefunction(getattr(cls, meth)), meth
            assert list(inspect.signature(member).parameters) == \
                list(inspect.signature(getattr(cls, meth)).parameters), meth
