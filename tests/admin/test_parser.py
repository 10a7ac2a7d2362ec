"""The command grammar's pure parts: nested groups' help, and lists in code blocks."""

from __future__ import annotations

import argparse

from conduwuit.admin.parser import (
    Command,
    CommandParser,
    Group,
    code_block_text,
    split_code_block,
)


async def _echo(ns: argparse.Namespace) -> str:
    return f"ran {ns.code_block}"


DO = Command("top sub", "do", "Do it", _echo)
PARSER = CommandParser(
    [Group("top", "The top group", (), (Group("sub", "A nested group", (DO,)),))]
)


def test_split_code_block() -> None:
    assert split_code_block("a b") == ("a b", [])
    assert split_code_block("ban\n```\n!a:x\n\n  #b:y  \n```") == ("ban\n", ["!a:x", "#b:y"])
    assert split_code_block("ban ```text\none\n```") == ("ban ", ["one"])
    assert split_code_block("ban ```one```") == ("ban ", ["one"])
    # An unclosed block runs to the end.
    assert split_code_block("ban\n```\none\ntwo") == ("ban\n", ["one", "two"])


async def test_nested_group_help_and_run() -> None:
    assert "sub" in PARSER.help("top") and "A nested group" in PARSER.help("top")
    assert "Do it" in PARSER.help("top", "sub")
    outcome = await PARSER.execute("top sub do\n```\nx\ny\n```")
    assert outcome.ok and outcome.text.endswith("['x', 'y']")
    outcome = await PARSER.execute("top sub nope")
    assert not outcome.ok and outcome.text.startswith("Unknown command.")


def test_code_block_text_keeps_indentation() -> None:
    text = "cmd\n```yaml\na:\n  - b: 1\n```"
    assert code_block_text(text) == "a:\n  - b: 1\n"
    assert code_block_text("```x```") == "x"
    assert code_block_text("no block") == ""


async def test_the_argparse_tree_is_built_on_first_use_and_kept() -> None:
    # Built lazily (start-up time); docs/admin.md's test builds the server's whole tree.
    parser = CommandParser([Group("top", "The top group", (DO,))])
    assert "_parser" not in vars(parser)
    assert (await parser.execute("top do")).ok
    built = vars(parser)["_parser"]
    assert "Do it" in parser.help("top")
    assert vars(parser)["_parser"] is built
