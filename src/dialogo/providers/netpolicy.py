"""Which addresses the server may fetch on a workspace manager's behalf (SSRF policy).

RSS feed URLs, Mastodon instances, Matrix homeservers and similar are typed by a person; without
a policy the server would fetch any address, internal ones included (a cloud metadata service at
169.254.169.254, an admin port on 127.0.0.1, a database on 10.0.0.5). The policy resolves the
host and refuses private, loopback, link-local, multicast, reserved and otherwise non-global
addresses unless the settings allow them (``DIALOGO_OUTBOUND_ALLOW_PRIVATE`` or the allow-list
``DIALOGO_OUTBOUND_ALLOW`` of CIDRs and host names).

It is applied at three points: :meth:`OutboundPolicy.check_config` checks every address a
channel's configuration names before a provider is built; every request of the client of
:func:`guarded_client` is checked (scheme, literal addresses), so each hop of a redirect is
checked too (:class:`GuardedTransport` does the same around a transport of one's own); and
every new connection is checked **at connect time**, on the very addresses it connects to.

DNS rebinding. Checking a host name by resolving it, then letting the HTTP library resolve it
again to connect, lets a DNS answer that changes in between (TTL 0) reach an internal address.
So the name is resolved once, when a connection is opened, by :meth:`OutboundPolicy.resolve`,
and the connection goes to one of the addresses that were checked, for every client the
product uses for a typed address:

- ``httpx`` (most providers, RSS, publishing and listening webhooks): :class:`PinnedBackend`,
  an ``httpcore`` network backend set on every connection pool of the client (the direct one
  and the proxies httpx mounts from the environment). Only the TCP connect is redirected: TLS
  (SNI, certificate) and the ``Host`` header still use the host name;
- ``requests`` (Mastodon.py) and ``aiohttp`` (matrix-nio): :mod:`dialogo.providers.pinning`,
  built on the same :meth:`OutboundPolicy.resolve` (no second list of ranges).

A host name with any internal answer is refused as a whole (not filtered down to its public
answers): a name that mixes public and internal answers is the shape of a rebinding attack,
and refusing is what :meth:`OutboundPolicy.check_url` always did. Resolution happens once per
new connection, not per request: a pooled connection is reused without a new look-up.

Through a proxy (``HTTPS_PROXY``), the connection goes to the proxy, so the proxy's own address
is what the backend checks (list it in ``DIALOGO_OUTBOUND_ALLOW`` when it is internal); the
target is still checked by the request check, by resolving it, but the proxy resolves it again
itself, which no client can pin.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import weakref
from collections.abc import Callable, Iterable, Mapping

import httpcore
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
    """The server will not fetch this address: it is internal, or not http(s). Its code says
    which (:data:`ADDRESS_REFUSALS`; worded for people in ``dialogo.providers.labels``)."""

    code = "address_not_allowed"
    status = 422


class Unresolvable(OutboundRefused):
    """The host name has no address (or the look-up failed). Refused by a check made ahead;
    at connect time the clients raise their own connection error instead (transient)."""

    code = "address_unresolvable"


#: The codes of :class:`OutboundRefused`: refused with no more precise reason; an internal
#: address (a literal one, or every answer of a name); a name answering public and internal
#: addresses (refused as a whole); a name without an address; not an http(s) URL.
ADDRESS_REFUSALS = frozenset(
    {
        "address_not_allowed",
        "address_internal",
        "address_mixed",
        "address_unresolvable",
        "address_invalid",
    }
)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (what the connection may use)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"the host {host!r} cannot be resolved ({exc})") from None
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

    def _admits_any(self, host: str) -> bool:
        """Every address of ``host`` is allowed (everything is, or the name is listed)."""
        return self.allow_private or host.lower().rstrip(".") in self.allow_hosts

    def vet(self, host: str, addresses: Iterable[str]) -> list[str]:
        """The addresses ``host`` resolved to, if the server may connect to them; raise
        :class:`OutboundRefused` if any of them is internal and not allowed (a name with one
        internal answer is refused as a whole), or if there is none. The one judgement every
        client's connection goes through (httpx, requests, aiohttp)."""
        answers = list(addresses)
        if not answers:
            raise Unresolvable(f"the host {host!r} cannot be resolved")
        if self._admits_any(host):
            return answers
        bare = host.strip("[]")
        parsed = [ipaddress.ip_address(text.split("%", 1)[0]) for text in answers]  # no zone
        allowed = [self._allowed(address) for address in parsed]
        for text, address, ok in zip(answers, parsed, allowed, strict=True):
            if not ok:
                where = bare if text == bare else f"{host} ({address})"
                raise OutboundRefused(
                    f"{where} is an internal address (private, loopback, link-local, "
                    "multicast or reserved); the server does not fetch internal addresses "
                    "unless DIALOGO_OUTBOUND_ALLOW lists it or DIALOGO_OUTBOUND_ALLOW_PRIVATE "
                    "is true",
                    # a name with public answers too: refused as a whole, said so
                    code="address_mixed" if any(allowed) else "address_internal",
                )
        return answers

    @staticmethod
    def _literal(host: str) -> str | None:
        try:
            return str(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            return None

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` once and return the addresses the connection may use (all of them
        checked by :meth:`vet`); a literal address is checked without any look-up. Connect to
        these, never to the name: resolving the name again could answer differently."""
        literal = self._literal(host)
        if literal is not None:
            return self.vet(literal, [literal])
        return self.vet(host, self.resolver(host, port))

    def check_url(self, url: str | httpx.URL, *, resolve: bool = True) -> None:
        """Raise :class:`OutboundRefused` unless the server may fetch ``url``.

        ``resolve=False`` checks what needs no look-up (the scheme, a literal address) and
        leaves a host name to the connection, which resolves it once and checks the answers
        it connects to (:meth:`resolve`); with ``resolve=True`` the name is resolved here too
        (an early check, before anything connects)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise OutboundRefused(
                "the address is not a valid URL", code="address_invalid"
            ) from None
        if parsed.scheme not in ("http", "https"):
            raise OutboundRefused(
                f"only http and https addresses can be fetched, not {parsed.scheme or 'none'!r}",
                code="address_invalid",
            )
        host = parsed.host
        if not host:
            raise OutboundRefused("the address names no host", code="address_invalid")
        if self._admits_any(host):
            return  # nothing to judge: not even resolved
        if resolve or self._literal(host) is not None:
            self.resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))

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
    """An ``httpx`` transport that checks each request (so each redirect hop) first. An
    ``httpx.HTTPTransport`` inside is pinned (:func:`pin_transport`), and its requests need no
    look-up of their own; any other transport's requests are checked by resolving the name."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.BaseTransport) -> None:
        self.policy = policy
        self.inner = inner
        self.pinned = isinstance(inner, httpx.HTTPTransport)
        pin_transport(inner, policy)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(request.url, resolve=not self.pinned)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class PinnedBackend(httpcore.SyncBackend):
    """An ``httpcore`` network backend that connects only to addresses ``policy`` checked:
    the host name is resolved once (:meth:`OutboundPolicy.resolve`) and the socket connects
    to those very addresses, tried in order as ``socket.create_connection`` does. TLS and the
    ``Host`` header are not touched: they still use the name."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.policy.resolve(host, port)
        except Unresolvable as exc:  # a connection error, as without the policy (transient)
            raise httpcore.ConnectError(exc.message) from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # refused or unreachable: the next answer
                failure = exc
        assert failure is not None  # ``resolve`` never answers an empty list
        raise failure


def pin_transport(transport: httpx.BaseTransport | None, policy: OutboundPolicy) -> None:
    """Make the connections of an ``httpx.HTTPTransport`` (direct or through a proxy) go
    through :class:`PinnedBackend`. httpx 0.28 takes no network backend, so it is set on the
    transport's ``httpcore`` pool, which reads it whenever it opens a connection."""
    if isinstance(transport, httpx.HTTPTransport):
        pool = transport._pool
        if not hasattr(pool, "_network_backend"):  # pragma: no cover - an httpcore change
            raise RuntimeError("httpcore's pool has no network backend to pin; see netpolicy")
        pool._network_backend = PinnedBackend(policy)


_policies: weakref.WeakKeyDictionary[httpx.Client, OutboundPolicy] = weakref.WeakKeyDictionary()


def policy_of(client: httpx.Client | None) -> OutboundPolicy | None:
    """The policy a client of :func:`guarded_client` enforces, else ``None``: how a provider
    whose library has its own HTTP stack (Mastodon.py, matrix-nio) learns the policy to pin
    its own connections with (:mod:`dialogo.providers.pinning`)."""
    return _policies.get(client) if client is not None else None


class _RequestCheck:
    """The request hook of :func:`guarded_client`. A request the client sends directly needs
    no look-up here (its connection resolves the name once and checks what it connects to);
    one sent through a proxy is resolved and checked here, as the connection goes to the proxy."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.client: httpx.Client | None = None

    def __call__(self, request: httpx.Request) -> None:
        client = self.client
        direct = client is not None and client._transport_for_url(request.url) is client._transport
        self.policy.check_url(request.url, resolve=not direct)


def guarded_client(policy: OutboundPolicy) -> httpx.Client:
    """A provider's HTTP client (:func:`dialogo.providers.base.new_http_client`) that enforces
    ``policy``: every request, redirects included, is checked by a request hook (it runs
    whichever transport serves the URL, including the proxies httpx mounts from
    ``HTTPS_PROXY``), and every connection, direct or to a proxy, goes to an address checked
    when it was opened (:class:`PinnedBackend`)."""
    check = _RequestCheck(policy)
    client = new_http_client(request_hooks=[check])
    for transport in (client._transport, *client._mounts.values()):
        pin_transport(transport, policy)
    check.client = client
    _policies[client] = policy
    return client
