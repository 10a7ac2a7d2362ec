"""The one command grammar: ``<group> [<subgroup>] <command> [args]``, argparse
subcommands (conduwuit nests some groups: ``rooms alias set``).

Every command is declared once (its group, name, help and arguments) with the
coroutine that runs it; the same declarations give ``--help`` per group and
command, the "unknown command" answer, and docs/admin.md. argparse never prints
or exits here: its output and errors come back as text for the reply.
"""

from __future__ import annotations

import argparse
import functools
import shlex
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

PROG = "!admin"


class CommandError(Exception):
    """A command's refusal or a usage error: its text is the bot's reply."""


class _Exit(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exit_on_error", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _Exit(f"{self.format_usage()}{self.prog}: error: {message}\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Exit(message or "")

    def print_help(self, file: Any = None) -> None:
        raise _Exit(self.format_help())

    def print_usage(self, file: Any = None) -> None:
        raise _Exit(self.format_usage())


@dataclass(frozen=True)
class Arg:
    """One argparse argument: ``names`` and keyword arguments as add_argument takes."""

    names: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*names: str, **options: Any) -> Arg:
    return Arg(names, options)


Runner = Callable[[argparse.Namespace], Awaitable[str]]


@dataclass(frozen=True)
class Command:
    group: str
    name: str
    help: str
    run: Runner
    args: tuple[Arg, ...] = ()
    example: str = ""


@dataclass(frozen=True)
class Group:
    name: str
    help: str
    commands: tuple[Command, ...]
    #: Nested groups, each a word after this one (``rooms alias ...``).
    subgroups: tuple[Group, ...] = ()

    def walk(self, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Group]]:
        """This group and its subgroups, depth first, each with its words."""
        here = (*path, self.name)
        yield here, self
        for sub in self.subgroups:
            yield from sub.walk(here)


@dataclass(frozen=True)
class Outcome:
    """What a command line gave: the text to show, and whether it succeeded."""

    text: str
    ok: bool


def split_code_block(text: str) -> tuple[str, list[str]]:
    """(the text before the first ```` ``` ````, the stripped non-empty lines of the
    fenced block after it; its opening line's language tag is dropped)."""
    head, fence, rest = text.partition("```")
    if not fence:
        return text, []
    body = rest.partition("```")[0]
    lines = body.split("\n")[1:] if "\n" in body else [body]
    return head, [stripped for raw in lines if (stripped := raw.strip())]


def code_block_text(text: str) -> str:
    """The fenced block's body as written (indentation kept, for YAML), without its
    opening line's language tag; "" without a block."""
    _, fence, rest = text.partition("```")
    if not fence:
        return ""
    body = rest.partition("```")[0]
    return body.split("\n", 1)[1] if "\n" in body else body


class CommandParser:
    """The command groups, or a function giving them for the first command line or
    help (the server's: its command modules stay off the start-up path, issue 21)."""

    def __init__(self, groups: Sequence[Group] | Callable[[], Sequence[Group]]) -> None:
        self._groups = groups

    @functools.cached_property
    def groups(self) -> tuple[Group, ...]:
        groups = self._groups
        return tuple(groups() if callable(groups) else groups)

    @functools.cached_property
    def _parser(self) -> _Parser:
        """The argparse tree, built for the first command line (or help): its ~60
        parsers were ~7 ms of the server's start-up, most of it argparse's gettext
        looking for translations on disk."""
        parser = _Parser(prog=PROG, description="Administer this server.")
        group_parsers = parser.add_subparsers(dest="group", metavar="<group>")
        group_parsers.required = True
        for group in self.groups:
            self._add(group_parsers, group, 0)
        return parser

    def _add(self, parent: Any, group: Group, depth: int) -> None:
        gp = parent.add_parser(group.name, help=group.help, description=group.help)
        commands = gp.add_subparsers(dest=f"command{depth}", metavar="<command>")
        commands.required = True
        for sub in group.subgroups:
            self._add(commands, sub, depth + 1)
        for command in group.commands:
            cp = commands.add_parser(command.name, help=command.help, description=command.help)
            for a in command.args:
                cp.add_argument(*a.names, **a.options)
            cp.set_defaults(run=command.run)

    def help(self, *words: str) -> str:
        try:
            self._parser.parse_args([*words, "--help"])
        except _Exit as exc:
            return exc.text
        raise AssertionError("--help always exits")  # pragma: no cover

    def parse(self, line: str) -> tuple[Runner, argparse.Namespace] | str:
        """The command and its arguments, or the text to answer with (help, errors).
        A fenced code block after the command (conduwuit's way of passing a list) is
        not parsed as words: its non-empty lines are ``ns.code_block``."""
        raw_block = code_block_text(line)
        line, block = split_code_block(line)
        try:
            words = shlex.split(line)
        except ValueError as exc:
            return f"Could not parse the command: {exc}"
        if not words:
            return self.help()
        try:
            ns = self._parser.parse_args(words)
        except _Exit as exc:
            text = exc.text
        except argparse.ArgumentError as exc:
            text = f"{PROG}: error: {exc}"
        else:
            run: Runner = ns.run
            ns.code_block = block
            ns.code_text = raw_block
            return run, ns
        if "invalid choice" in text:
            return f"Unknown command.\n{text}"
        return text

    async def execute(self, line: str) -> Outcome:
        """Run one command line: its output, or the error to show; never raises
        a command's own refusal (CommandError) or a usage error."""
        parsed = self.parse(line)
        if isinstance(parsed, str):
            # Help asked for is a success; a usage error is not.
            return Outcome(parsed, ok=": error: " not in parsed and "Unknown" not in parsed)
        run, ns = parsed
        try:
            return Outcome(await run(ns), ok=True)
        except CommandError as exc:
            return Outcome(f"Error: {exc}", ok=False)
