"""The example config is generated from the models and kept in docs/."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conduwuit.config import GlobalConfig
from conduwuit.config.example import example_config

DOCS_EXAMPLE = Path(__file__).parents[2] / "docs" / "conduwuit-example.toml"


def test_docs_example_is_current() -> None:
    assert DOCS_EXAMPLE.read_text() == example_config(), (
        "docs/conduwuit-example.toml is stale: run `make config`"
    )


def test_example_lists_every_option_and_parses() -> None:
    text = example_config()
    for name in GlobalConfig.model_fields:
        assert f"{name} =" in text or f"[global.{name}]" in text, name
    uncommented = "\n".join(line.lstrip("#") for line in text.splitlines() if " = " in line)
    # With the comments taken off, the defaults are valid TOML again.
    assert tomllib.loads(uncommented)["server_name"] == "your.server.name"
