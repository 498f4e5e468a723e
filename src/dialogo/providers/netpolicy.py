"""Which addresses the server may fetch on a workspace manager's behalf (SSRF policy).

RSS feed URLs, Mastodon instances, Matrix homeservers and similar are typed by a person; without
a policy the server would fetch any address, internal ones included (a cloud metadata service at
169.254.169.254, an admin port on 127.0.0.1, a database on 10.0.0.5). The policy resolves the
host and refuses private, loopback, link-local, multicast, reserved and otherwise non-global
addresses unless the settings allow them (``DIALOGO_OUTBOUND_ALLOW_PRIVATE`` or the allow-list
``DIALOGO_OUTBOUND_ALLOW`` of CIDRs and host names).

It is applied twice: :meth:`OutboundPolicy.check_config` checks every address a channel's
configuration names before a provider is built (this covers providers whose library speaks
HTTP on its own: Mastodon.py over ``requests``, the Matrix client), and the client of
:func:`guarded_client` checks every request it sends, so each hop of a redirect is checked
too (:class:`GuardedTransport` does the same around a transport of one's own).

Known limit: the address is resolved to check it and resolved again by the connection (a DNS
answer that changes in between, "DNS rebinding", is not caught). Pinning the connection to the
checked address would need a custom connection pool; left for later.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping

import httpx

from dialogo.providers.base import new_http_client
from dialogo.providers.errors import ProviderError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

#: Configuration keys that hold an address even when it is typed without a scheme.
ADDRESS_KEYS = frozenset(
    {"instance_url", "homeserver", "feed_url", "url", "service", "server", "pds"}
)


class OutboundRefused(ProviderError):
    """The server will not fetch this address: it is internal, or not http(s)."""

    code = "address_not_allowed"
    status = 422


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (what the connection may use)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"the host {host!r} cannot be resolved ({exc})") from None
    return [str(info[4][0]) for info in infos]


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast, reserved,
    unspecified, shared (100.64/10) or documentation space. IPv4-mapped IPv6 addresses
    (``::ffff:10.0.0.1``) are judged as the IPv4 address they carry."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_multicast
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def parse_allow(entries: Iterable[str]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    """Split an allow-list into networks (``10.0.0.0/8``, ``::1``) and host names; raise
    ``ValueError`` naming an entry that is neither."""
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        host = entry.lower().rstrip(".")
        if "/" in host or ":" in host or " " in host:
            raise ValueError(f"{entry!r} is neither a CIDR network nor a host name")
        hosts.add(host)
    return tuple(networks), frozenset(hosts)


@dataclasses.dataclass(frozen=True)
class OutboundPolicy:
    """``allow_private``: every address is allowed (development, or a trusted network).
    ``allow_networks``/``allow_hosts``: exceptions to the refusal of internal addresses."""

    allow_private: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = system_resolve

    @classmethod
    def from_allow_list(
        cls, entries: Iterable[str], *, allow_private: bool = False
    ) -> OutboundPolicy:
        networks, hosts = parse_allow(entries)
        return cls(allow_private=allow_private, allow_networks=networks, allow_hosts=hosts)

    def _allowed(self, address: IPAddress) -> bool:
        if is_public(address):
            return True
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(a in net for a in candidates for net in self.allow_networks)

    def check_url(self, url: str | httpx.URL) -> None:
        """Raise :class:`OutboundRefused` unless the server may fetch ``url``."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise OutboundRefused("the address is not a valid URL") from None
        if parsed.scheme not in ("http", "https"):
            raise OutboundRefused(
                f"only http and https addresses can be fetched, not {parsed.scheme or 'none'!r}"
            )
        host = parsed.host
        if not host:
            raise OutboundRefused("the address names no host")
        if self.allow_private or host.lower().rstrip(".") in self.allow_hosts:
            return
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        addresses = [str(literal)] if literal is not None else self.resolver(host, port)
        if not addresses:
            raise OutboundRefused(f"the host {host!r} cannot be resolved")
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
            if not self._allowed(address):
                where = host if literal is not None else f"{host} ({address})"
                raise OutboundRefused(
                    f"{where} is an internal address (private, loopback, link-local, "
                    "multicast or reserved); the server does not fetch internal addresses "
                    "unless DIALOGO_OUTBOUND_ALLOW lists it or DIALOGO_OUTBOUND_ALLOW_PRIVATE "
                    "is true"
                )

    def check_request(self, request: httpx.Request) -> None:
        """An ``httpx`` request hook: called for each request, each redirect hop included."""
        self.check_url(request.url)

    def check_config(
        self, config: Mapping[str, object], extra: Mapping[str, str] | None = None
    ) -> None:
        """Check every address a channel names: in its configuration, any value with a scheme
        and the usual address keys typed without one (``mastodon.social``); in its encrypted
        ``extra`` (where Matrix and Bluesky keep their server), only the address keys, so
        that no secret is ever parsed or quoted in an error."""
        for key, value in config.items():
            text = str(value or "").strip()
            if "://" in text:
                self.check_url(text)
            elif text and key in ADDRESS_KEYS:
                self.check_url(f"https://{text}")
        for key, value in (extra or {}).items():
            text = (value or "").strip()
            if text and key in ADDRESS_KEYS:
                self.check_url(text if "://" in text else f"https://{text}")


class GuardedTransport(httpx.BaseTransport):
    """An ``httpx`` transport that checks each request (so each redirect hop) first."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.BaseTransport) -> None:
        self.policy = policy
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(request.url)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def guarded_client(policy: OutboundPolicy) -> httpx.Client:
    """A provider's HTTP client (:func:`dialogo.providers.base.new_http_client`) whose every
    request, redirects included, is checked against ``policy``. A request hook rather than a
    transport: it runs whichever transport serves the URL, including the proxies httpx mounts
    from ``HTTPS_PROXY`` (a proxy would fetch the internal address for us)."""
    return new_http_client(request_hooks=[policy.check_request])
