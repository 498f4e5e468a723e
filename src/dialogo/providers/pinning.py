"""The outbound policy and the request deadline in the HTTP stacks of client libraries
(``requests``, ``aiohttp``).

:mod:`dialogo.providers.netpolicy` pins ``httpx`` connections to the addresses it checked.
Mastodon.py speaks HTTP through ``requests`` (urllib3) and matrix-nio through ``aiohttp``;
left alone, each resolves the host name again when it connects, after the configuration was
checked, so a DNS answer that changes in between (DNS rebinding) would reach an internal
address. Here both resolve through :meth:`OutboundPolicy.resolve` (one look-up per new
connection, the same judgement and the same ranges as httpx) and connect to what it returned.

The request deadline (:mod:`dialogo.providers.deadline`, the dispatcher's lease) is checked
again as late as each library allows, as the httpx clients do it just before a request's first
byte: in ``requests`` by the urllib3 connection itself, after the pool handed it over and
after it connected, just before the request's head is written (:class:`DeadlineConnection`),
the read that follows waiting no longer than the time left; in ``aiohttp`` when the connector
hands the request its connection (new or reused, :class:`DeadlineConnector`), the last point
aiohttp lets anyone act before it writes (``on_request_headers_sent`` comes after the write).
``requests`` sessions get it from :class:`DeadlineAdapter` (the Mastodon client's session
mounts it; :class:`PinnedAdapter` is one too), aiohttp sessions from their connector.

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
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager, ProxyManager

from dialogo.providers import deadline as deadlines
from dialogo.providers.netpolicy import OutboundPolicy, Unresolvable

# -- requests (urllib3) ---------------------------------------------------------------------------

#: The shortest read timeout given to an answer awaited once the deadline has passed (the
#: request left in time): as good as lost, reconciled later by asking the network.
_LATE_READ = 0.01


class DeadlineConnection(HTTPConnection):
    """A urllib3 connection that checks the request deadline last, just before the request's
    first byte: after the pool handed the connection over and after it connected (the HTTPS
    pool connects first; a plain connection connects here, as ``http.client`` would when it
    writes). Past the deadline nothing is written (``ConnectTimeoutError``: ``requests``
    raises ``ConnectTimeout``, a failure before sending); in time, the write and the read of
    the answer wait no longer than the time left."""

    def endheaders(
        self, message_body: Any = None, *, encode_chunked: bool = False
    ) -> None:  # the head of the request is buffered until here
        left = deadlines.remaining()
        if left is not None:
            if self.sock is None:
                self.connect()
                left = deadlines.remaining() or 0.0
            if left <= 0:  # nothing of this request was written: it did not leave
                raise ConnectTimeoutError(self, f"{self.host}: {deadlines.NOT_SENT}")
            self.sock.settimeout(_capped(self.sock.gettimeout(), left))
        super().endheaders(message_body, encode_chunked=encode_chunked)

    def getresponse(self) -> Any:  # urllib3's HTTPResponse
        left = deadlines.remaining()
        if left is not None:  # the answer's read, as a late httpx request's: the time left
            timeout = self.timeout
            self.timeout = _capped(timeout if isinstance(timeout, int | float) else None, left)
        return super().getresponse()


def _capped(timeout: float | None, left: float) -> float:
    left = max(left, _LATE_READ)
    return left if timeout is None else min(timeout, left)


class DeadlineHTTPSConnection(DeadlineConnection, HTTPSConnection):
    pass


class DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = DeadlineConnection


class DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


_DEADLINE_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": DeadlineHTTPPool,
    "https": DeadlineHTTPSPool,
}


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

    class PinnedHTTPConnection(DeadlineConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_pinned(self, policy, super()._new_conn)

    class PinnedHTTPSConnection(DeadlineHTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_pinned(self, policy, super()._new_conn)

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A ``requests`` transport adapter whose connections check the request deadline just
    before a request's first byte (:class:`DeadlineConnection`), through an HTTP proxy too."""

    def __init__(
        self, pools: dict[str, type[HTTPConnectionPool]] | None = None, **kwargs: Any
    ) -> None:
        self.pinned_pools = pools or _DEADLINE_POOLS
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


class PinnedAdapter(DeadlineAdapter):
    """A ``requests`` transport adapter whose connections (direct, or to an HTTP proxy) go to
    addresses ``policy`` checked when they were opened; pooled connections are reused. The
    request deadline is checked as by :class:`DeadlineAdapter`."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(_pool_classes(policy), **kwargs)


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


class DeadlineConnector(aiohttp.TCPConnector):
    """An ``aiohttp`` connector that checks the request deadline when it hands a request its
    connection (opened or reused), after any wait for it: the last moment before aiohttp
    writes the request. Past the deadline the connection goes back to the pool unused and
    the request fails before anything of it was written (``TransientError``, as the
    deadline's check before a call)."""

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,
    ) -> Connection:
        self.before_connecting(req)
        conn = await super().connect(req, traces, timeout)
        left = deadlines.remaining()
        if left is not None and left <= 0:
            conn.release()  # nothing was written on it: it may serve another request
            deadlines.refuse_if_passed(f"{req.method} {req.url.host}")
        return conn

    def before_connecting(self, req: aiohttp.ClientRequest) -> None:
        """A check of the request before its connection is looked for (none here)."""


class PinnedConnector(DeadlineConnector):
    """An ``aiohttp`` connector that connects only to addresses ``policy`` checked: host names
    through :class:`PolicyResolver`, literal addresses (which aiohttp never hands to a
    resolver) checked before each request, redirect hops included. The request deadline is
    checked as by :class:`DeadlineConnector`."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(resolver=PolicyResolver(policy), **kwargs)
        self.policy = policy

    def before_connecting(self, req: aiohttp.ClientRequest) -> None:
        self.policy.check_url(str(req.url), resolve=False)
