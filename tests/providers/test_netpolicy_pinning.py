"""DNS rebinding: a host name checked by the outbound policy must not be resolved again, to
another address, by the HTTP library that connects (issue #3).

No real DNS: ``socket.getaddrinfo`` answers ``rebind.test`` with an allowed address on its first
call and with 127.0.0.1 (refused) on every later call, the attack. The allowed address is
127.0.0.2, listed in the policy's allow-list (it stands for a public address, reachable here),
with a server of its own; a second server on 127.0.0.1, same port, stands for the internal
service. Each client (httpx, requests through Mastodon.py, aiohttp through matrix-nio) must
either reach 127.0.0.2 or refuse, and the 127.0.0.1 server must never see a request.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dialogo.providers.base import Credentials
from dialogo.providers.errors import TransientError
from dialogo.providers.mastodon.provider import MastodonProvider
from dialogo.providers.matrix.provider import MatrixProvider
from dialogo.providers.netpolicy import (
    GuardedTransport,
    OutboundPolicy,
    OutboundRefused,
    guarded_client,
)

HOST = "rebind.test"
GOOD = "127.0.0.2"  # allowed by the policy below: the "public" first answer
BAD = "127.0.0.1"  # the internal service the second answer points at
POLICY = OutboundPolicy.from_allow_list([f"{GOOD}/32"])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: pooled connections can be reused
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))
        body = json.dumps(
            {
                "id": "1",
                "username": self.server.name,
                "acct": self.server.name,
                "user_id": f"@{self.server.name}:{HOST}",
            }
        ).encode()
        self.send_response(200)
        for name, value in (("Content-Type", "application/json"), ("Content-Length", len(body))):
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # quiet
        return None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], name: str) -> None:
        super().__init__(address, _Handler)
        self.name = name
        self.seen: list[tuple[str, str]] = []


@dataclass
class Rebinding:
    """The two servers, the port they share, and the look-ups of ``rebind.test``."""

    good: _Server
    bad: _Server
    port: int
    lookups: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rebinding]:
    bad = _Server((BAD, 0), "bad")
    port = bad.server_address[1]
    good = _Server((GOOD, port), "good")
    threads = [
        threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in (good, bad)
    ]
    for thread in threads:
        thread.start()
    state = Rebinding(good=good, bad=bad, port=port)
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOST:
            return real(host, port, *args, **kwargs)
        answer = GOOD if not state.lookups else BAD  # TTL 0: the next answer is internal
        state.lookups.append(answer)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        yield state
    finally:
        for server in (good, bad):
            server.shutdown()
            server.server_close()


# -- httpx ----------------------------------------------------------------------------------------


def test_httpx_connects_to_the_address_it_checked(rebinding: Rebinding) -> None:
    """Before the fix the request hook resolved the name (127.0.0.2, allowed) and httpx
    resolved it again to connect (127.0.0.1): the request reached the internal server."""
    with guarded_client(POLICY) as client:
        answer = client.get(f"{rebinding.url}/feed.xml")
    assert answer.json()["username"] == "good"
    assert rebinding.bad.seen == []
    # TLS and virtual hosting would see the name: only the TCP connect was redirected
    assert rebinding.good.seen == [("/feed.xml", f"{HOST}:{rebinding.port}")]


def test_httpx_refuses_when_the_connection_would_reach_an_internal_answer(
    rebinding: Rebinding,
) -> None:
    """A check made ahead (a channel's configuration) took the good answer; the connection's
    own look-up gets 127.0.0.1 and is refused, never connected."""
    POLICY.check_url(rebinding.url)
    with guarded_client(POLICY) as client, pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        client.get(f"{rebinding.url}/feed.xml")
    assert rebinding.bad.seen == [] and rebinding.good.seen == []


def test_httpx_resolves_once_per_connection_not_per_request(rebinding: Rebinding) -> None:
    with guarded_client(POLICY) as client:
        for n in range(5):
            assert client.get(f"{rebinding.url}/item/{n}").json()["username"] == "good"
    assert rebinding.lookups == [GOOD]  # one look-up: the pooled connection was reused
    assert len(rebinding.good.seen) == 5 and rebinding.bad.seen == []


def test_httpx_a_guarded_transport_of_ones_own_is_pinned(rebinding: Rebinding) -> None:
    import httpx

    transport = GuardedTransport(POLICY, httpx.HTTPTransport())
    with httpx.Client(transport=transport) as client:
        assert client.get(f"{rebinding.url}/").json()["username"] == "good"
    assert rebinding.bad.seen == []


def test_httpx_through_a_proxy_checks_the_proxy_address(
    rebinding: Rebinding, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection goes to the proxy, so the proxy's address is what is checked (here an
    internal address that the policy does not list: refused, nothing sent to it)."""
    monkeypatch.setenv("HTTP_PROXY", f"http://{BAD}:{rebinding.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    everything_but_loopback = OutboundPolicy(resolver=lambda host, port: ["93.184.215.14"])
    with (
        guarded_client(everything_but_loopback) as client,
        pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"),
    ):
        client.get("http://feeds.example.org/rss")
    assert rebinding.bad.seen == []


def test_httpx_allow_private_still_reaches_loopback(rebinding: Rebinding) -> None:
    """Development (``DIALOGO_OUTBOUND_ALLOW_PRIVATE``): every answer is allowed, and the
    connection still uses the answer of its single look-up."""
    with guarded_client(OutboundPolicy(allow_private=True)) as client:
        assert client.get(f"{rebinding.url}/").json()["username"] == "good"
    with guarded_client(OutboundPolicy(allow_private=True)) as client:
        assert client.get(f"http://{BAD}:{rebinding.port}/").json()["username"] == "bad"
    assert rebinding.lookups == [GOOD]


def test_httpx_an_unresolvable_name_is_a_connection_error(rebinding: Rebinding) -> None:
    import httpx

    with guarded_client(POLICY) as client, pytest.raises(httpx.ConnectError):
        client.get("http://does-not-exist.invalid/")


# -- requests (Mastodon.py) ----------------------------------------------------------------------


def _mastodon(rebinding: Rebinding) -> MastodonProvider:
    return MastodonProvider(
        Credentials(access_token="t"),
        http=guarded_client(POLICY),
        config={"instance_url": rebinding.url},
    )


def test_requests_connects_to_the_address_it_checked(rebinding: Rebinding) -> None:
    provider = _mastodon(rebinding)
    for _ in range(3):
        assert provider.client.verify_credentials()["username"] == "good"
    assert rebinding.lookups == [GOOD]  # one look-up, the connection pooled
    assert len(rebinding.good.seen) == 3 and rebinding.bad.seen == []


def test_requests_refuses_when_the_connection_would_reach_an_internal_answer(
    rebinding: Rebinding,
) -> None:
    """``check_config`` (before the provider is built) took the good answer; Mastodon.py's
    session resolved again and, before the fix, reached 127.0.0.1."""
    provider = _mastodon(rebinding)
    POLICY.check_config(provider.config)
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        provider.client.verify_credentials()
    assert rebinding.bad.seen == [] and rebinding.good.seen == []


def test_requests_allow_private_still_reaches_loopback(rebinding: Rebinding) -> None:
    provider = MastodonProvider(
        Credentials(access_token="t"),
        http=guarded_client(OutboundPolicy(allow_private=True)),
        config={"instance_url": f"http://{BAD}:{rebinding.port}"},
    )
    assert provider.client.verify_credentials()["username"] == "bad"


# -- aiohttp (matrix-nio) ------------------------------------------------------------------------


def _matrix(rebinding: Rebinding, policy: OutboundPolicy = POLICY) -> MatrixProvider:
    return MatrixProvider(
        Credentials(access_token="t", account_id=f"@me:{HOST}"),
        http=guarded_client(policy),
        config={"homeserver": rebinding.url},
    )


def test_aiohttp_connects_to_the_address_it_checked(rebinding: Rebinding) -> None:
    provider = _matrix(rebinding)
    try:
        for _ in range(3):
            assert provider.client.whoami() == f"@good:{HOST}"
    finally:
        provider.client.close()
    assert rebinding.lookups == [GOOD]
    assert len(rebinding.good.seen) == 3 and rebinding.bad.seen == []


def test_aiohttp_refuses_when_the_connection_would_reach_an_internal_answer(
    rebinding: Rebinding,
) -> None:
    provider = _matrix(rebinding)
    POLICY.check_config(provider.config)
    try:
        with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
            provider.client.whoami()
    finally:
        provider.client.close()
    assert rebinding.bad.seen == [] and rebinding.good.seen == []


def test_aiohttp_checks_a_literal_address_which_it_never_resolves(rebinding: Rebinding) -> None:
    provider = MatrixProvider(
        Credentials(access_token="t", account_id="@me:x"),
        http=guarded_client(POLICY),
        config={"homeserver": f"http://{BAD}:{rebinding.port}"},
    )
    try:
        with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is an internal address"):
            provider.client.whoami()
    finally:
        provider.client.close()
    assert rebinding.bad.seen == []


def test_aiohttp_an_unresolvable_name_is_a_transient_error(rebinding: Rebinding) -> None:
    provider = MatrixProvider(
        Credentials(access_token="t", account_id="@me:x"),
        http=guarded_client(POLICY),
        config={"homeserver": "http://does-not-exist.invalid"},
    )
    try:
        with pytest.raises(TransientError):
            provider.client.whoami()
    finally:
        provider.client.close()
