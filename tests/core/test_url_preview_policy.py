"""The url_preview_* lists: conduwuit's documented semantics, "*" and the root domain."""

from __future__ import annotations

import pytest

from conduwuit.core.url_preview_policy import PreviewPolicy


def test_off_by_default() -> None:
    policy = PreviewPolicy()
    assert not policy.enabled
    assert not policy.allows("https://matrix.org/")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/html,hi",
        "gopher://example.com/",
        "https:///nohost",
        "https://[::1/",
        "//example.com/",
        "example.com",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    assert not PreviewPolicy.of(domain_contains_allowlist=["*"]).allows(url)


def test_star_allows_every_http_url_in_any_allowlist() -> None:
    for field in (
        "domain_contains_allowlist",
        "domain_explicit_allowlist",
        "url_contains_allowlist",
    ):
        policy = PreviewPolicy.of(**{field: ["*"]})  # type: ignore[arg-type]
        assert policy.enabled
        assert policy.allows("https://anything.example/page")
        assert policy.allows("http://127.0.0.1:8080/")


def test_star_in_the_denylist_means_nothing_and_denylist_beats_star() -> None:
    assert not PreviewPolicy.of(domain_explicit_denylist=["*"]).allows("https://a.example/")
    policy = PreviewPolicy.of(domain_contains_allowlist=["*"], domain_explicit_denylist=["*"])
    assert policy.allows("https://a.example/")
    policy = PreviewPolicy.of(
        domain_contains_allowlist=["*"], domain_explicit_denylist=["evil.example"]
    )
    assert not policy.allows("https://evil.example/x")
    assert policy.allows("https://sub.evil.example/x"), "the denylist is an exact match"


def test_explicit_allowlist_is_an_exact_host_match() -> None:
    policy = PreviewPolicy.of(domain_explicit_allowlist=["Google.com"])
    assert policy.allows("https://google.com/search")
    assert policy.allows("https://GOOGLE.COM./search")
    assert not policy.allows("https://www.google.com/")
    assert not policy.allows("https://google.com.evil.example/")


def test_contains_allowlist_matches_hosts_containing_the_entry() -> None:
    policy = PreviewPolicy.of(domain_contains_allowlist=["google.com"])
    assert policy.allows("https://google.com/")
    assert policy.allows("https://www.google.com/")
    assert policy.allows("http://mymaliciousdomaingoogle.com/"), "as documented"
    assert not policy.allows("https://oogle.com/")
    assert not policy.allows("https://example.com/?q=google.com"), "the host, not the URL"


def test_url_contains_allowlist_matches_the_whole_url() -> None:
    policy = PreviewPolicy.of(url_contains_allowlist=["https://example.com/news/"])
    assert policy.allows("https://example.com/news/today")
    assert not policy.allows("https://example.com/other")
    assert not policy.allows("http://example.com/news/today")


def test_denylist_is_checked_before_the_allowlists() -> None:
    policy = PreviewPolicy.of(
        domain_explicit_allowlist=["a.example"],
        domain_contains_allowlist=["a.example"],
        url_contains_allowlist=["a.example"],
        domain_explicit_denylist=["a.example"],
    )
    assert not policy.allows("https://a.example/")
    assert policy.allows("https://b.a.example/")


def test_root_domain_checks_parent_domains() -> None:
    plain = PreviewPolicy.of(domain_explicit_allowlist=["wikipedia.org"])
    assert not plain.allows("https://en.m.wikipedia.org/wiki/Matrix")
    rooted = PreviewPolicy.of(domain_explicit_allowlist=["wikipedia.org"], check_root_domain=True)
    assert rooted.allows("https://en.m.wikipedia.org/wiki/Matrix")
    assert rooted.allows("https://wikipedia.org/")
    assert not rooted.allows("https://wikipedia.org.evil.example/")
    # ... and the denylist too: a denied parent denies its subdomains.
    denied = PreviewPolicy.of(
        domain_contains_allowlist=["*"],
        domain_explicit_denylist=["evil.example"],
        check_root_domain=True,
    )
    assert not denied.allows("https://a.b.evil.example/")
    # Not for the URL-contains list: it is about URLs, not domains.
    url_list = PreviewPolicy.of(url_contains_allowlist=["//example.org/"], check_root_domain=True)
    assert url_list.allows("https://example.org/x")
    assert not url_list.allows("https://www.example.org/x")
    # A single-label parent (the TLD) is never checked.
    tld = PreviewPolicy.of(domain_explicit_allowlist=["org"], check_root_domain=True)
    assert not tld.allows("https://example.org/")
