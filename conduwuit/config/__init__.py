"""Configuration: pydantic models, loading from file and environment, example generation."""

from conduwuit.config.load import ConfigError, LoadedConfig, load_config, registration_token
from conduwuit.config.model import Config, GlobalConfig, Tls, WellKnown

__all__ = [
    "Config",
    "ConfigError",
    "GlobalConfig",
    "LoadedConfig",
    "Tls",
    "WellKnown",
    "load_config",
    "registration_token",
]
