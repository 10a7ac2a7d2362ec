"""conduwuit's moderation options that concern other servers, each shown to bite
with remote servers the test plays (tests/kit/remote.py): forbidden_remote_server_names
("global ACLs") and block_non_admin_invites for invites received."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import trustme

from conduwuit.core.room_versions import KNOWN_ROOM_VERSIONS
from tests.http.federation.test_room_reads import q
from tests.kit.homeserver import FakeClock, Homeserver, StartHomeserver
from tests.kit.remote import RemoteServer, federating_homeserver, remote_server, write_ca

V11 = KNOWN_ROOM_VERSIONS["11"]
PROFILE = "/_matrix/federation/v1/query/profile"


def touched(remote: RemoteServer, fragment: str) -> bool:
    return any(fragment in path for _, path in remote.calls)


async def test_forbidden_remote_server_names(
    start: StartHomeserver, ca: trustme.CA, tmp_path: Path
) -> None:
    async with (
        remote_server(ca, 2, FakeClock()) as evil,
        remote_server(ca, 3, FakeClock()) as good,
    ):
        hs = await federating_homeserver(
            start, write_ca(ca, tmp_path), forbidden_remote_server_names=f'["{evil.server_name}"]'
        )
        alice = (await hs.register("alice"))["user_id"]  # the first user: an admin
        bob = (await hs.register("bob"))["user_id"]
        # Its requests are refused; another server's are not.
        query = f"{PROFILE}?user_id={q(bob)}"
        status, error = await evil.request(hs, "GET", query)
        assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
        status, _ = await good.request(hs, "GET", query)
        assert status == 200
        # Nothing is asked of it for our users.
        status, _ = await hs.request(
            "GET", f"/profile/{quote(evil.user('x'))}", token=hs.tokens[bob]
        )
        assert status != 200
        assert not touched(evil, "/query/profile")
        # Our non-admins may not join its rooms (by ID or alias); nothing is asked.
        for target in (f"!room:{evil.server_name}", f"#room:{evil.server_name}"):
            status, error = await hs.request(
                "POST", f"/join/{quote(target)}", {}, token=hs.tokens[bob]
            )
            assert (status, error["error"]) == (
                403,
                "This remote server is banned on this homeserver.",
            ), target
        assert not touched(evil, "make_join") and not touched(evil, "query/directory")
        assert hs.services.users.accounts.is_active(bob)
        # An admin is not refused by the rule (the federation client still sends
        # nothing to the server).
        status, error = await hs.request(
            "POST", f"/join/{quote('!room:' + evil.server_name)}", {}, token=hs.tokens[alice]
        )
        assert status != 200
        assert error["error"] != "This remote server is banned on this homeserver."
        assert not touched(evil, "make_join")


async def test_forbidden_server_join_deactivates_with_auto_deactivate(
    start: StartHomeserver, ca: trustme.CA, tmp_path: Path
) -> None:
    async with remote_server(ca, 2, FakeClock()) as evil:
        hs = await federating_homeserver(
            start,
            write_ca(ca, tmp_path),
            forbidden_remote_server_names=f'["{evil.server_name}"]',
            auto_deactivate_banned_room_attempts=True,
        )
        await hs.register("alice")
        bob = (await hs.register("bob"))["user_id"]
        status, _ = await hs.request(
            "POST", f"/join/{quote('!room:' + evil.server_name)}", {}, token=hs.tokens[bob]
        )
        assert status == 403
        assert not hs.services.users.accounts.is_active(bob)


async def test_allow_profile_lookup_federation_requests(
    start: StartHomeserver, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = write_ca(ca, tmp_path)
    for allowed in (True, False):
        hs = await federating_homeserver(
            start, ca_file, allow_profile_lookup_federation_requests=allowed
        )
        alice = (await hs.register("alice"))["user_id"]
        async with remote_server(ca, 2, hs.clock) as remote:
            status, answer = await remote.request(hs, "GET", f"{PROFILE}?user_id={q(alice)}")
        if allowed:
            assert (status, answer) == (200, {"displayname": "alice"})
        else:
            assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")


def invite(hs: Homeserver, remote: RemoteServer, invitee: str) -> tuple[str, dict[str, Any]]:
    pdu = remote.sign(
        {
            "type": "m.room.member",
            "room_id": f"!far:{remote.server_name}",
            "sender": remote.user("carol"),
            "state_key": invitee,
            "content": {"membership": "invite"},
            "origin_server_ts": hs.clock(),
            "prev_events": [],
            "auth_events": [],
            "depth": 1,
        },
        V11,
    )
    return remote.event_id(pdu, V11), pdu


async def test_block_non_admin_invites_from_other_servers(
    start: StartHomeserver, ca: trustme.CA, tmp_path: Path
) -> None:
    hs = await federating_homeserver(start, write_ca(ca, tmp_path), block_non_admin_invites=True)
    alice = (await hs.register("alice"))["user_id"]
    bob = (await hs.register("bob"))["user_id"]
    async with remote_server(ca, 2, hs.clock) as remote:
        room = f"!far:{remote.server_name}"
        answers = {}
        for user in (bob, alice):
            event_id, pdu = invite(hs, remote, user)
            answers[user] = await remote.request(
                hs,
                "PUT",
                f"/_matrix/federation/v2/invite/{q(room)}/{q(event_id)}",
                {"event": pdu, "room_version": "11", "invite_room_state": []},
            )
        status, error = answers[bob]
        assert (status, error["errcode"]) == (403, "M_FORBIDDEN")
        assert hs.services.rooms.storage.member_index.membership(bob, room) is None
        assert answers[alice][0] == 200
        assert hs.services.rooms.storage.member_index.membership(alice, room) == "invite"
