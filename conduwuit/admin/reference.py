"""docs/admin.md, generated from the command declarations (``make admin-docs``):
the admin room, who may use it, and every command with its usage and an example."""

from __future__ import annotations

from conduwuit.admin.parser import PROG, CommandParser, Group

INTRO = f"""\
# The admin room

<!-- Generated from the admin commands' declarations: `make admin-docs`. -->

When the first user registers, the server creates the admin room `#admins:<server>`
with its own user `@conduit:<server>` (the server user: it has no password and
cannot log in), invites that first user, joins them and gives them power 100.
Users made admins later (`{PROG} users make-user-admin`) are brought in the same
way; revoking admin takes the power away and removes them from the room. The room
can never be made public or world-readable: those state events are refused (403).

The bot answers messages in the admin room that start with `{PROG}` (or with the
server user's ID followed by a colon, `@conduit:<server>: users list-users`). Only
server admins are obeyed; anyone else gets a refusal and nothing is done. Replies
are notices (plain text and HTML); long output is cut with a note. Every command
takes `--help`; `{PROG}` alone lists the groups, `{PROG} <group> --help` the
commands of a group.

A command that takes a list (`rooms moderation ban-list-of-rooms`) reads it from a
fenced code block after the command in the same message, one item a line:

````
{PROG} rooms moderation ban-list-of-rooms
```
!abc:example.org
#spam:example.org
```
````

Each answer is a reply to the command's message. Reports of events, rooms and
users (client-server API "Reporting content") are posted in the admin room as well
as logged; so are new users' registrations (`admin_room_notices`, on by default;
guests too with `log_guest_registrations`).

The same commands run at start-up from the config: `admin_execute = ["users
create-user alice", "server backup-database"]` runs each in order once the server
listens, logs its output and posts it in the admin room. A failing command stops
the start unless `admin_execute_errors_ignore = true`.

From the shell of the server's machine, with `admin_socket_path` set, the running
server takes the same commands over that unix socket (mode 0600: only the user the
server runs as can use it): `conduwuit admin -c conduwuit.toml users list-users`
prints the output and exits 1 if the command failed.
"""


def reference(parser: CommandParser) -> str:
    out = [INTRO]
    for top in parser.groups:
        for path, group in top.walk():
            out.extend(_group(parser, path, group))
    return "\n".join(out)


def _group(parser: CommandParser, path: tuple[str, ...], group: Group) -> list[str]:
    words = " ".join(path)
    out = [f"## `{words}`: {group.help}\n"]
    for command in group.commands:
        usage = parser.help(*path, command.name).split("\n\n", 1)[0]
        usage = " ".join(usage.removeprefix("usage: ").split())
        out.append(f"### `{words} {command.name}`\n")
        out.append(f"{command.help}.\n")
        out.append(f"```\n{usage}\n```\n")
        described = [a for a in command.args if a.options.get("help")]
        if described:
            out.append(
                "\n".join(f"- `{', '.join(a.names)}`: {a.options['help']}" for a in described)
                + "\n"
            )
        if command.example:
            out.append(f"Example: `{command.example}`\n")
    return out
