"""The composition root builds discovery from the DNS options of the config."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from pathlib import Path

import pytest
import trustme

from conduwuit.config.load import ConfigError
from conduwuit.server import build_resolver, federation_tls
from conduwuit.service.federation.destination import Destination
from conduwuit.service.federation.dns import DnsOptions, system_nameservers
from conduwuit.service.tls import LazyTLS
from tests.kit.homeserver import FakeClock, homeserver_config


async def test_dns_options_come_from_the_config(tmp_path: Path) -> None:
    config = homeserver_config(
        tmp_path,
        dns_cache_entries=7,
        dns_min_ttl=60,
        dns_min_ttl_nxdomain=120,
        dns_timeout=2.5,
        dns_attempts=3,
        dns_tcp_fallback=False,
        query_all_nameservers=False,
        query_over_tcp_only=True,
        ip_lookup_strategy=1,
    )
    resolver = build_resolver(config, FakeClock())
    try:
        assert resolver.dns.options == DnsOptions(
            timeout_s=2.5,
            attempts=3,
            tcp_fallback=False,
            tcp_only=True,
            query_all_nameservers=False,
            min_ttl_s=60,
            min_ttl_nxdomain_s=120,
            cache_entries=7,
            ip_lookup_strategy=1,
        )
        # an IP literal needs no lookup at all
        assert await resolver.resolve("[::1]:8448") == Destination(
            "[::1]:8448", "::1", 8448, "[::1]:8448", "::1"
        )
    finally:
        await resolver.close()


def test_defaults_are_conduwuits(tmp_path: Path) -> None:
    resolver = build_resolver(homeserver_config(tmp_path), FakeClock())
    assert resolver.dns.options == DnsOptions()


@pytest.mark.parametrize(
    ("option", "value"),
    [("ip_lookup_strategy", 6), ("dns_timeout", 0), ("dns_attempts", -1), ("dns_min_ttl", -5)],
)
def test_bad_dns_options_are_refused(tmp_path: Path, option: str, value: int) -> None:
    with pytest.raises(ConfigError, match=option):
        homeserver_config(tmp_path, **{option: value})


def test_system_nameservers_come_from_resolv_conf() -> None:
    nameservers = system_nameservers()
    assert nameservers and all(port == 53 for _, port in nameservers)
    for address, _ in nameservers:
        ipaddress.ip_address(address)


def test_federation_tls_is_built_on_first_use_unless_a_ca_file_is_set(tmp_path: Path) -> None:
    # issue 21: an idle server holds no CA store; an operator's CA file is still
    # checked at start-up, so a bad one stops the start rather than the first request
    assert not federation_tls(homeserver_config(tmp_path)).built
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    assert federation_tls(homeserver_config(tmp_path, federation_ca_file=str(ca_file))).built
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ssl.SSLError):
        federation_tls(homeserver_config(tmp_path, federation_ca_file=str(bad)))


async def test_lazy_tls_builds_once_off_the_loop_for_concurrent_first_uses() -> None:
    threads: list[int] = []

    def build() -> ssl.SSLContext:
        threads.append(threading.get_ident())
        return ssl.create_default_context()

    tls = LazyTLS(build)
    assert not tls.built
    first, second = await asyncio.gather(tls.context(), tls.context())
    assert first is second and tls.built
    assert await tls.context() is first
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
