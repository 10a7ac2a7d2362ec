"""Configuration: precedence, env spelling, unknown keys, refusals and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduwuit.config import ConfigError, load_config, registration_token
from conduwuit.config.load import parse_env_value

BASE_ENV = {"CONDUWUIT_SERVER_NAME": "example.org"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conduwuit.toml"
    path.write_text(text)
    return path


def test_defaults_from_env_only() -> None:
    loaded = load_config(None, BASE_ENV)
    config = loaded.config
    assert loaded.path is None
    assert config.server_name == "example.org"
    assert config.addresses == ["127.0.0.1", "::1"]
    assert config.ports == [8008]
    assert config.database_backend == "rocksdb"
    assert config.allow_registration is False
    assert "10.0.0.0/8" in config.ip_range_denylist
    assert "fc00::/7" in config.ip_range_denylist
    assert loaded.warnings == []


def test_file_then_env_precedence(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[global]\nserver_name = "file.example"\nport = 1234\nmax_request_size = 4096\n',
    )
    config = load_config(path, {"CONDUWUIT_PORT": "[8008, 8448]"}).config
    assert config.server_name == "file.example"
    assert config.ports == [8008, 8448]
    assert config.max_request_size == 4096


def test_config_path_from_env_variables(tmp_path: Path) -> None:
    first = write(tmp_path, '[global]\nserver_name = "a.example"\n')
    second = tmp_path / "other.toml"
    second.write_text('[global]\nserver_name = "b.example"\n')
    assert load_config(None, {"CONDUIT_CONFIG": str(first)}).config.server_name == "a.example"
    env = {"CONDUIT_CONFIG": str(first), "CONDUWUIT_CONFIG": str(second)}
    assert load_config(None, env).config.server_name == "b.example"
    # -c wins over both
    assert load_config(first, env).config.server_name == "a.example"


def test_both_env_prefixes_conduwuit_wins() -> None:
    env = {"CONDUIT_SERVER_NAME": "old.example", "CONDUIT_PORT": "9000"}
    config = load_config(None, env).config
    assert config.server_name == "old.example"
    assert config.ports == [9000]
    env["CONDUWUIT_SERVER_NAME"] = "new.example"
    assert load_config(None, env).config.server_name == "new.example"


def test_double_underscore_nests() -> None:
    env = {
        **BASE_ENV,
        "CONDUWUIT_WELL_KNOWN__CLIENT": "https://matrix.example.org",
        "CONDUWUIT_WELL_KNOWN__SERVER": "matrix.example.org:443",
        "CONDUWUIT_TLS__DUAL_PROTOCOL": "true",
    }
    config = load_config(None, env).config
    assert config.well_known.client == "https://matrix.example.org"
    assert config.well_known.server == "matrix.example.org:443"
    assert config.tls.dual_protocol is True


def test_env_values_parse_as_toml_where_they_can() -> None:
    assert parse_env_value("true") is True
    assert parse_env_value("42") == 42
    assert parse_env_value('["a", "b"]') == ["a", "b"]
    assert parse_env_value("example.org") == "example.org"
    assert parse_env_value('"quoted"') == "quoted"


def test_unknown_keys_warn_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[global]\nserver_name = "example.org"\nfrobnicate = 1\n'
        '[global.well_known]\nclientt = "x"\n[other]\nx = 1\n',
    )
    loaded = load_config(path, {"CONDUWUIT_NO_SUCH_OPTION": "1"})
    text = "\n".join(loaded.warnings)
    assert "global.frobnicate" in text
    assert "global.well_known.clientt" in text
    assert "global.no_such_option" in text and "CONDUWUIT_NO_SUCH_OPTION" in text
    assert "'other'" in text


def test_open_registration_refused_with_guidance() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {**BASE_ENV, "CONDUWUIT_ALLOW_REGISTRATION": "true"})
    (problem,) = info.value.problems
    assert "registration_token" in problem
    assert "yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse" in problem


def test_open_registration_allowed_when_confirmed_or_token() -> None:
    confirmed = {
        **BASE_ENV,
        "CONDUWUIT_ALLOW_REGISTRATION": "true",
        "CONDUWUIT_YES_I_AM_VERY_VERY_SURE_I_WANT_AN_OPEN_REGISTRATION_SERVER_PRONE_TO_ABUSE": "1",
    }
    # "1" is an integer in TOML; pydantic's lax bool accepts it.
    assert load_config(None, confirmed).config.allow_registration
    token = {
        **BASE_ENV,
        "CONDUWUIT_ALLOW_REGISTRATION": "true",
        "CONDUWUIT_REGISTRATION_TOKEN": "s",
    }
    assert registration_token(load_config(None, token).config) == "s"


def test_registration_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  secret-token\n")
    env = {
        **BASE_ENV,
        "CONDUWUIT_ALLOW_REGISTRATION": "true",
        "CONDUWUIT_REGISTRATION_TOKEN_FILE": str(token_file),
    }
    assert registration_token(load_config(None, env).config) == "secret-token"
    token_file.unlink()
    with pytest.raises(ConfigError, match="registration_token_file"):
        load_config(None, env)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CONDUWUIT_PORT": "70000"}, "global.port"),
        ({"CONDUWUIT_PORT": "eighty"}, "global.port"),
        ({"CONDUWUIT_ADDRESS": "not-an-ip"}, "global.address"),
        ({"CONDUWUIT_DATABASE_BACKEND": "sqlite"}, "global.database_backend"),
        ({"CONDUWUIT_SERVER_NAME": "bad name!"}, "global.server_name"),
        ({"CONDUWUIT_LOG": "info,conduwuit=loud"}, "global.log"),
        ({"CONDUWUIT_UNIX_SOCKET_PERMS": "999"}, "global.unix_socket_perms"),
        ({"CONDUWUIT_IP_RANGE_DENYLIST": '["10.0.0.0/33"]'}, "global.ip_range_denylist"),
        ({"CONDUWUIT_TLS__CERTS": "/nonexistent.pem"}, "global.tls"),
        ({"CONDUWUIT_WELL_KNOWN__CLIENT": "matrix.example.org"}, "global.well_known.client"),
        ({"CONDUWUIT_ROCKSDB_RECOVERY_MODE": "7"}, "global.rocksdb_recovery_mode"),
        ({"CONDUWUIT_METRICS_PATH": '"/_matrix/metrics"'}, "global.metrics_path"),
        ({"CONDUWUIT_METRICS_PATH": '"metrics"'}, "global.metrics_path"),
        (
            {"CONDUWUIT_SERVER_NOTICES_MXID_LOCALPART": "no:colons"},
            "global.server_notices_mxid_localpart",
        ),
    ],
)
def test_bad_values_name_the_option(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {**BASE_ENV, **env})
    assert any(problem.startswith(fragment) for problem in info.value.problems), info.value.problems


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {"CONDUWUIT_PORT": "0", "CONDUWUIT_ADDRESS": "x"})
    problems = info.value.problems
    assert any("server_name" in p and "required" in p for p in problems)
    assert any(p.startswith("global.port") for p in problems)
    assert any(p.startswith("global.address") for p in problems)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[global\n"), {})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", {})
