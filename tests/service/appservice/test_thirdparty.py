"""The third-party lookups service asks at most ``max_concurrent`` services at once
(one loopback appservice registered several times counts the requests in flight)."""

from __future__ import annotations

from pathlib import Path

from conduwuit.service.appservice.client import AppserviceClient
from conduwuit.service.appservice.registry import parse_registration_yaml
from conduwuit.service.appservice.thirdparty import ThirdPartyLookups
from tests.kit.appservice import FakeAppservice
from tests.kit.homeserver import start_homeserver

SERVICES = 5


async def test_services_are_asked_with_bounded_concurrency(
    tmp_path: Path, appservice: FakeAppservice
) -> None:
    hs = await start_homeserver(tmp_path / "db")
    client = AppserviceClient(timeout_s=10, idle_timeout_s=10)
    try:
        appservices = hs.services.users.appservices
        for n in range(SERVICES):
            yaml_text = appservice.registration_yaml(
                f"irc{n}", prefix=f"_irc{n}", as_token=f"as-{n}", protocols=["irc"]
            )
            await appservices.register(parse_registration_yaml(yaml_text))
        instances = [{"network_id": "libera", "desc": "Libera"}]
        appservice.protocols = {"irc": {"instances": instances}}
        appservice.third_party_delay = 0.3
        lookups = ThirdPartyLookups(appservices, client, max_concurrent=2)
        found = await lookups.protocols()
        ids = [i["instance_id"] for i in found["irc"]["instances"]]
        assert ids == [f"irc{n}|libera" for n in range(SERVICES)]
        assert len(appservice.third_party_requests) == SERVICES
        assert appservice.third_party_most_at_once == 2
    finally:
        await client.close()
        await hs.close()
