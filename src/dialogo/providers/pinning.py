"""The outbound policy pinned into the HTTP stacks of client libraries (``requests``, ``aiohttp``).

:mod:`dialogo.providers.netpolicy` pins ``httpx`` connections to the addresses it checked.
Mastodon.py speaks HTTP through ``requests`` (urllib3) and matrix-nio through ``aiohttp``;
left alone, each resolves the host name again when it connects, after the configuration was
checked, so a DNS answer that changes in between (DNS rebinding) would reach an internal
address. Here both resolve through :meth:`OutboundPolicy.resolve` (one look-up per new
connection, the same judgement and the same ranges as httpx) and connect to what it returned.

Kept apart from ``netpolicy`` so that importing the settings does not import ``requests`` or
``aiohttp``; the providers that use those libraries import this module.

Not pinned: a SOCKS proxy configured for ``requests`` (the SOCKS library connects on its own;
the proxy resolves the target anyway).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import requests
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager, ProxyManager

from dialogo.providers.netpolicy import OutboundPolicy, Unresolvable

# -- requests (urllib3) ---------------------------------------------------------------------------


def _connect_pinned(
    conn: HTTPConnection, policy: OutboundPolicy, connect: Callable[[], socket.socket]
) -> socket.socket:
    """Open ``conn``'s socket to an address ``policy`` checked: urllib3 connects to
    ``_dns_host`` (the name, or the proxy's name) and uses ``host`` for TLS (SNI, certificate)
    and the ``Host`` header, so only ``_dns_host`` is swapped for each checked address."""
    name = conn._dns_host
    try:
        addresses = policy.resolve(name, conn.port)
    except Unresolvable as exc:  # urllib3's own look-up failure (a connection error)
        raise NameResolutionError(conn.host, conn, socket.gaierror(exc.message)) from exc
    failure: NewConnectionError | None = None
    try:
        for address in addresses:
            conn._dns_host = address
            try:
                return connect()
            except NewConnectionError as exc:  # refused or unreachable: the next answer
                failure = exc
    finally:
        conn._dns_host = name
    assert failure is not None  # ``resolve`` never answers an empty list
    raise failure


def _pool_classes(policy: OutboundPolicy) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pools (one per scheme) whose connections are pinned by ``policy``."""

    class PinnedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_pinned(self, policy, super()._new_conn)

    class PinnedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_pinned(self, policy, super()._new_conn)

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}


class PinnedAdapter(HTTPAdapter):
    """A ``requests`` transport adapter whose connections (direct, or to an HTTP proxy) go to
    addresses ``policy`` checked when they were opened; pooled connections are reused."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        self.pinned_pools = _pool_classes(policy)
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pinned_pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # not SOCKS: its pools connect on their own
            manager.pool_classes_by_scheme = self.pinned_pools
        return manager


def pin_session(session: requests.Session, policy: OutboundPolicy) -> requests.Session:
    """Mount :class:`PinnedAdapter` on ``session`` for http and https; return it."""
    adapter = PinnedAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- aiohttp --------------------------------------------------------------------------------------


class PolicyResolver(AbstractResolver):
    """An ``aiohttp`` resolver that answers only addresses ``policy`` checked (the look-up
    runs in a thread, as aiohttp's default resolver does)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.run_in_executor(None, self.policy.resolve, host, port)
        except Unresolvable as exc:  # aiohttp's own look-up failure (a connection error)
            raise OSError(exc.message) from exc
        results: list[ResolveResult] = []
        for address in addresses:
            found = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, found):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=found,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"the host {host!r} has no address of the family asked for")
        return results

    async def close(self) -> None:
        pass


class PinnedConnector(aiohttp.TCPConnector):
    """An ``aiohttp`` connector that connects only to addresses ``policy`` checked: host names
    through :class:`PolicyResolver`, literal addresses (which aiohttp never hands to a
    resolver) checked before each request, redirect hops included."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(resolver=PolicyResolver(policy), **kwargs)
        self.policy = policy

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,
    ) -> Connection:
        self.policy.check_url(str(req.url), resolve=False)
        return await super().connect(req, traces, timeout)
