"""A real client library (matrix-nio) against a real server process: the account life cycle."""

from __future__ import annotations

from nio import (
    AsyncClient,
    DevicesResponse,
    LoginResponse,
    LogoutResponse,
    ProfileGetDisplayNameResponse,
    ProfileSetDisplayNameResponse,
    RegisterResponse,
    WhoamiResponse,
)

from tests.kit.server import ServerProcess


async def test_register_login_devices_displayname_logout(open_server: ServerProcess) -> None:
    user_id = "@alice:localhost"
    client = AsyncClient(open_server.base_url, "alice")
    try:
        registered = await client.register("alice", "hunter2 is a bad password", "nio-phone")
        assert isinstance(registered, RegisterResponse), registered
        assert registered.user_id == user_id

        other = AsyncClient(open_server.base_url, user_id)
        try:
            login = await other.login("hunter2 is a bad password", device_name="nio-laptop")
            assert isinstance(login, LoginResponse), login
            assert login.user_id == user_id

            devices = await other.devices()
            assert isinstance(devices, DevicesResponse), devices
            names = {d.id: d.display_name for d in devices.devices}
            assert names[login.device_id] == "nio-laptop"
            assert names[registered.device_id] == "nio-phone"

            me = await other.whoami()
            assert isinstance(me, WhoamiResponse), me
            assert (me.user_id, me.device_id) == (user_id, login.device_id)

            set_name = await other.set_displayname("Alice")
            assert isinstance(set_name, ProfileSetDisplayNameResponse), set_name
            name = await client.get_displayname(user_id)
            assert isinstance(name, ProfileGetDisplayNameResponse), name
            assert name.displayname == "Alice"

            logout = await other.logout()
            assert isinstance(logout, LogoutResponse), logout
            after = await other.whoami()
            assert not isinstance(after, WhoamiResponse)
        finally:
            await other.close()

        # The first session is untouched by the second one's logout.
        still = await client.whoami()
        assert isinstance(still, WhoamiResponse), still
        wrong = await client.login("not the password")
        assert not isinstance(wrong, LoginResponse)
    finally:
        await client.close()
