"""Loading the configuration: defaults < TOML file < environment.

The file comes from ``-c/--config``, else ``CONDUWUIT_CONFIG``, else
``CONDUIT_CONFIG``; no file at all is fine (containers configure by env).
Environment variables ``CONDUIT_<OPTION>`` then ``CONDUWUIT_<OPTION>`` (the
latter wins) override the file; ``__`` nests (``CONDUWUIT_WELL_KNOWN__CLIENT``),
and values are parsed as TOML where that parses (``[8008, 8448]``, ``true``, ``3``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from conduwuit.config.model import Config, GlobalConfig

ENV_PREFIXES = ("CONDUIT_", "CONDUWUIT_")  # in order of precedence, lowest first
CONFIG_PATH_VARS = ("CONDUWUIT_CONFIG", "CONDUIT_CONFIG")


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LoadedConfig:
    config: GlobalConfig
    path: Path | None
    warnings: list[str] = field(default_factory=list)


def config_path(cli_path: Path | None, environ: Mapping[str, str]) -> Path | None:
    if cli_path is not None:
        return cli_path
    for var in CONFIG_PATH_VARS:
        if environ.get(var):
            return Path(environ[var])
    return None


def parse_env_value(raw: str) -> Any:
    """A value as TOML if it parses as one (numbers, booleans, lists, quoted strings)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_options(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The options set in the environment, nested, and where each came from."""
    options: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for prefix in ENV_PREFIXES:
        for name, raw in sorted(environ.items()):
            if not name.startswith(prefix) or name in CONFIG_PATH_VARS:
                continue
            path = [part.lower() for part in name[len(prefix) :].split("__")]
            if not all(path):
                continue
            table = options
            for part in path[:-1]:
                existing = table.get(part)
                if not isinstance(existing, dict):
                    existing = table[part] = {}
                table = existing
            table[path[-1]] = parse_env_value(raw)
            sources[".".join(path)] = name
    return options, sources


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def unknown_keys(data: Mapping[str, Any], model: type[BaseModel], prefix: str) -> list[str]:
    """Dotted names of keys that no option of ``model`` (or its sub-tables) knows."""
    found: list[str] = []
    for key, value in data.items():
        info = model.model_fields.get(key)
        if info is None:
            found.append(f"{prefix}{key}")
            continue
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and isinstance(value, Mapping):
            found.extend(unknown_keys(value, sub, f"{prefix}{key}."))
    return found


def read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([f"config file {path} does not exist"]) from None
    except OSError as exc:
        raise ConfigError([f"config file {path} cannot be read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {path} is not valid TOML: {exc}"]) from None


def describe_validation_error(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        parts = [str(part) for part in item["loc"] if not isinstance(part, int)]
        loc = ".".join(parts[1:] if parts[:1] == ["global"] else parts)
        message = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        shown = f" (got {value!r})" if not isinstance(value, dict | list) and value else ""
        if item["type"] == "missing":
            message = "is required but not set"
        problems.append(f"global.{loc}: {message}{shown}")
    return problems


def policy_problems(config: GlobalConfig) -> list[str]:
    """Combinations that validate but must not run."""
    problems = []
    if (
        config.allow_registration
        and config.registration_token is None
        and config.registration_token_file is None
        and not config.yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse
    ):
        problems.append(
            "global.allow_registration is true without a registration token: set "
            "registration_token (or registration_token_file), or, to run an open server "
            "anyone can sign up on, set "
            "yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse = true"
        )
    if config.registration_token_file is not None:
        try:
            token = config.registration_token_file.read_text().strip()
        except OSError as exc:
            problems.append(
                f"global.registration_token_file: cannot read "
                f"{config.registration_token_file}: {exc.strerror}"
            )
        else:
            if not token:
                problems.append("global.registration_token_file: the file is empty")
    if config.tls.enabled:
        for name, tls_path in (("certs", config.tls.certs), ("key", config.tls.key)):
            if tls_path is not None and not tls_path.is_file():
                problems.append(f"global.tls.{name}: {tls_path} does not exist")
    if config.federation_ca_file is not None and not config.federation_ca_file.is_file():
        problems.append(f"global.federation_ca_file: {config.federation_ca_file} does not exist")
    for option, module in (("brotli_compression", "brotli"), ("zstd_compression", "zstandard")):
        if getattr(config, option):
            try:
                __import__(module)
            except ImportError:
                problems.append(
                    f"global.{option} needs the Python package {module!r} "
                    f"(pip install 'conduwuit[compression]')"
                )
    if config.unix_socket_path is not None and config.tls.enabled:
        problems.append("global.unix_socket_path and global.tls cannot be used together")
    return problems


def load_config(cli_path: Path | None, environ: Mapping[str, str]) -> LoadedConfig:
    """Read, merge and validate; ``ConfigError`` lists every problem found."""
    path = config_path(cli_path, environ)
    warnings: list[str] = []
    file_options: dict[str, Any] = {}
    if path is not None:
        data = read_file(path)
        for key in data:
            if key != "global":
                warnings.append(
                    f"unknown table or key {key!r} in {path} (options go under [global])"
                )
        section = data.get("global", {})
        if not isinstance(section, dict):
            raise ConfigError([f"{path}: 'global' must be a table"])
        file_options = section
    env, env_sources = env_options(environ)
    merged = deep_merge(file_options, env)
    for key in unknown_keys(merged, GlobalConfig, ""):
        source = env_sources.get(key)
        where = f"environment variable {source}" if source else f"{path}"
        warnings.append(f"unknown config option global.{key} (from {where}), ignored")
    try:
        config = Config.model_validate({"global": merged}).g
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    problems = policy_problems(config)
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(config=config, path=path, warnings=warnings)


def registration_token(config: GlobalConfig) -> str | None:
    """The configured registration token, from the option or its file."""
    if config.registration_token_file is not None:
        return config.registration_token_file.read_text().strip()
    return config.registration_token
