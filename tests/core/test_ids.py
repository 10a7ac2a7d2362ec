import pytest

from conduwuit.core.ids import (
    EventId,
    MxcUri,
    RoomAlias,
    RoomId,
    ServerName,
    UserId,
    is_valid_localpart,
    server_of,
)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("matrix.org", "matrix.org", None),
        ("matrix.org:8888", "matrix.org", 8888),
        ("1.2.3.4", "1.2.3.4", None),
        ("1.2.3.4:1234", "1.2.3.4", 1234),
        ("[1234:5678::abcd]", "[1234:5678::abcd]", None),
        ("[1234:5678::abcd]:5678", "[1234:5678::abcd]", 5678),
        ("localhost", "localhost", None),
        ("MATRIX.org", "MATRIX.org", None),
    ],
)
def test_server_name_spec_examples(text: str, host: str, port: int | None) -> None:
    name = ServerName.parse(text)
    assert (name.host, name.port) == (host, port)
    assert str(name) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "matrix.org:",
        "matrix.org:123456",
        "matrix.org:99999",
        "matrix.org:abc",
        "[1234:5678::abcd",
        "[1234:5678::abcd]x",
        "[not-ipv6]",
        "1.2.3.256",
        "exa mple.org",
        "ex_ample.org",
        "a" * 256,
    ],
)
def test_server_name_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        ServerName.parse(text)


def test_user_id_parse() -> None:
    user = UserId.parse("@alice:example.org:8448")
    assert user.localpart == "alice"
    assert user.server_name == ServerName("example.org", 8448)
    assert str(user) == "@alice:example.org:8448"
    assert not user.is_historical


@pytest.mark.parametrize("text", ["@Alice:example.org", "@:example.org", "@a b:example.org"])
def test_user_id_historical_accepted_but_not_strict(text: str) -> None:
    user = UserId.parse(text)
    assert user.is_historical or not user.localpart.islower()
    with pytest.raises(ValueError, match="localpart"):
        UserId.parse(text, strict=True)


@pytest.mark.parametrize(
    "text",
    ["alice:example.org", "@alice", "@ali\x00ce:example.org", "@alice:bad host", "@a:" + "b" * 260],
)
def test_user_id_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        UserId.parse(text)


def test_user_id_length_limit_is_bytes() -> None:
    server = ":example.org"
    ok = "@" + "a" * (255 - 1 - len(server)) + server
    assert UserId.is_valid(ok, strict=True)
    assert not UserId.is_valid("@" + "é" * 125 + server)


@pytest.mark.parametrize(
    ("localpart", "strict", "valid"),
    [
        ("alice", True, True),
        ("a.b_c=d-e/f+g", True, True),
        ("Alice", True, False),
        ("", True, False),
        ("a*b", True, False),
        ("Alice", False, True),
        ("", False, True),
        ("a:b", False, False),
        ("a\x00", False, False),
    ],
)
def test_is_valid_localpart(localpart: str, strict: bool, valid: bool) -> None:
    assert is_valid_localpart(localpart, strict=strict) is valid


def test_room_id_both_forms() -> None:
    old = RoomId.parse("!abc:example.org")
    assert old.server_name == ServerName("example.org")
    new = RoomId.parse("!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM")
    assert new.server_name is None
    assert str(new) == "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM"
    for bad in ["abc:example.org", "!", "!a\x00:example.org", "!x:bad host"]:
        with pytest.raises(ValueError):
            RoomId.parse(bad)


def test_event_id_both_forms() -> None:
    assert EventId.parse("$0:domain").server_name == ServerName("domain")
    assert EventId.parse("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg").server_name is None
    for bad in ["Rqnc", "$", "$" + "a" * 300]:
        with pytest.raises(ValueError):
            EventId.parse(bad)


def test_room_alias() -> None:
    alias = RoomAlias.parse("#somewhere:example.org")
    assert (alias.alias, str(alias.server_name)) == ("somewhere", "example.org")
    for bad in ["somewhere:example.org", "#nowhere", "#a:b:c d"]:
        with pytest.raises(ValueError):
            RoomAlias.parse(bad)


def test_mxc_uri() -> None:
    uri = MxcUri.parse("mxc://example.org/SEsfnsuifSDFSSEF")
    assert uri.media_id == "SEsfnsuifSDFSSEF"
    assert str(uri) == "mxc://example.org/SEsfnsuifSDFSSEF"
    for bad in ["http://example.org/x", "mxc://example.org", "mxc://example.org/a/b", "mxc:///x"]:
        with pytest.raises(ValueError):
            MxcUri.parse(bad)


def test_server_of() -> None:
    assert server_of("@a:example.org:8448") == "example.org:8448"
    assert server_of("$abc") == ""
