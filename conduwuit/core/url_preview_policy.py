"""Which URLs may be previewed: conduwuit's four url_preview_* lists, as pure data.

Previews are off unless an allowlist allows the URL (conduwuit's default). For a URL:

1. only ``http`` and ``https`` with a host;
2. ``"*"`` in any allowlist allows every such URL — except a host in the denylist
   (conduwuit checks ``"*"`` before its denylist; the documentation says the denylist
   comes first, and that is the safer reading, so it is what this does);
3. a host in ``url_preview_domain_explicit_denylist`` (exact match) is refused;
4. a host in ``url_preview_domain_explicit_allowlist`` (exact match) is allowed;
5. a host that *contains* an entry of ``url_preview_domain_contains_allowlist`` is
   allowed ("google.com" allows "www.google.com" and "evilgoogle.com", as the option's
   documentation says; conduwuit's code tests the reverse, entry contains host, which
   lets "oogle.com" through and not "www.google.com");
6. a URL that contains an entry of ``url_preview_url_contains_allowlist`` is allowed;
7. with ``url_preview_check_root_domain``, steps 3 to 5 again for each parent domain of
   the host ("en.m.wikipedia.org": "m.wikipedia.org", "wikipedia.org"; conduwuit
   strips one label only, which does not reach "wikipedia.org" from the example in
   its own documentation);
8. anything else is refused.

Whatever these lists say, the addresses a host resolves to are checked against
``ip_range_denylist`` when the server connects (:mod:`conduwuit.service.ip_denylist`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class PreviewPolicy:
    domain_contains_allowlist: tuple[str, ...] = ()
    domain_explicit_allowlist: tuple[str, ...] = ()
    url_contains_allowlist: tuple[str, ...] = ()
    domain_explicit_denylist: tuple[str, ...] = ()
    check_root_domain: bool = False

    @classmethod
    def of(
        cls,
        *,
        domain_contains_allowlist: list[str] | tuple[str, ...] = (),
        domain_explicit_allowlist: list[str] | tuple[str, ...] = (),
        url_contains_allowlist: list[str] | tuple[str, ...] = (),
        domain_explicit_denylist: list[str] | tuple[str, ...] = (),
        check_root_domain: bool = False,
    ) -> PreviewPolicy:
        """The policy with host entries lower-cased (hosts are compared lower-case)."""
        return cls(
            tuple(d.lower() for d in domain_contains_allowlist),
            tuple(d.lower() for d in domain_explicit_allowlist),
            tuple(url_contains_allowlist),
            tuple(d.lower() for d in domain_explicit_denylist),
            check_root_domain,
        )

    @property
    def enabled(self) -> bool:
        """Whether any URL at all can be previewed."""
        return bool(
            self.domain_contains_allowlist
            or self.domain_explicit_allowlist
            or self.url_contains_allowlist
        )

    def allows(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # a malformed netloc (an unclosed "[", a bad port)
            return False
        if parts.scheme.lower() not in SCHEMES or not host:
            return False
        host = host.rstrip(".")
        domains = [host]
        if self.check_root_domain:
            labels = host.split(".")
            domains += [".".join(labels[i:]) for i in range(1, len(labels) - 1)]
        if any(domain in self.domain_explicit_denylist for domain in domains):
            return False
        if "*" in (
            self.domain_contains_allowlist
            + self.domain_explicit_allowlist
            + self.url_contains_allowlist
        ):
            return True
        for domain in domains:
            if domain in self.domain_explicit_allowlist:
                return True
            if any(entry and entry in domain for entry in self.domain_contains_allowlist):
                return True
            if domain == host and any(
                entry and entry in url for entry in self.url_contains_allowlist
            ):
                return True
        return False
