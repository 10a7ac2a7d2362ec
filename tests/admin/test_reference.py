"""docs/admin.md is generated from the commands and kept current."""

from __future__ import annotations

from pathlib import Path

from conduwuit.admin.reference import reference
from conduwuit.cli import admin_reference
from tests.kit.homeserver import Homeserver

DOC = Path(__file__).parents[2] / "docs" / "admin.md"


def test_docs_admin_md_is_current() -> None:
    assert DOC.read_text() == admin_reference(), "docs/admin.md is stale: run `make admin-docs`"


async def test_every_command_is_documented_with_an_example(hs: Homeserver) -> None:
    text = reference(hs.admin.parser)
    for group in hs.admin.parser.groups:
        for command in group.commands:
            assert f"### `{group.name} {command.name}`" in text
            assert command.example.startswith(f"!admin {group.name} {command.name}")
