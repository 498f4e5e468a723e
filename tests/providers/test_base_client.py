"""A provider's own HTTP client (``providers.base.new_http_client``) still uses the proxies of
the environment as httpx's ``trust_env`` does, though the environment is no longer read for
every client: a loopback server stands for the proxy and records the requests it is sent."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from contextlib import ExitStack
from typing import ClassVar

import pytest

from dialogo.providers import base
from dialogo.providers.base import new_http_client
from tests.loopback import serving

_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 to anything and records the request target: absolute (``http://host/p``)
    when it was sent to it as a proxy, a path when it was the server asked."""

    seen: ClassVar[list[str]]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _recorder() -> type[_Recorder]:
    return type("Recorder", (_Recorder,), {"seen": []})


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable of the machine running the tests, in either case."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
def servers() -> Iterator[tuple[tuple[type[_Recorder], str], ...]]:
    """Two loopback servers: (handler class, base URL) each."""
    with ExitStack() as stack:
        yield tuple((h, stack.enter_context(serving(h))) for h in (_recorder(), _recorder()))


def test_a_proxy_set_in_the_environment_is_used(
    clean_env: pytest.MonkeyPatch, servers: tuple[tuple[type[_Recorder], str], ...]
) -> None:
    (proxy, proxy_url), _ = servers
    clean_env.setenv("HTTP_PROXY", proxy_url)
    with new_http_client() as client:
        assert client.get("http://feeds.example.org/rss").status_code == 200
    assert proxy.seen == ["http://feeds.example.org/rss"]


def test_a_change_of_the_environment_reaches_the_next_client(
    clean_env: pytest.MonkeyPatch, servers: tuple[tuple[type[_Recorder], str], ...]
) -> None:
    """Read again when a proxy variable changes: another proxy, then none (direct); a client
    made before keeps the proxies it was made with, as with httpx's own reading."""
    (first, first_url), (second, second_url) = servers
    clean_env.setenv("http_proxy", first_url)
    before = new_http_client()
    clean_env.setenv("http_proxy", second_url)
    with new_http_client() as client:
        client.get("http://a.example.org/")
    with before:
        before.get("http://b.example.org/")
    clean_env.delenv("http_proxy")
    with new_http_client() as client:
        client.get(f"{second_url}/direct")
    assert first.seen == ["http://b.example.org/"]
    assert second.seen == ["http://a.example.org/", "/direct"]


def test_no_proxy_is_honoured(
    clean_env: pytest.MonkeyPatch, servers: tuple[tuple[type[_Recorder], str], ...]
) -> None:
    (proxy, proxy_url), (target, target_url) = servers
    clean_env.setenv("HTTP_PROXY", proxy_url)
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    with new_http_client() as client:
        client.get(f"{target_url}/feed")
        client.get("http://feeds.example.org/rss")
    assert target.seen == ["/feed"]
    assert proxy.seen == ["http://feeds.example.org/rss"]


def test_the_environment_is_read_again_only_when_a_proxy_variable_changed(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Walking the environment for every client was most of a new client's cost."""
    reads: list[int] = []
    real = base._read_proxies

    def counted() -> dict[str, str | None]:
        reads.append(1)
        return real()

    clean_env.setattr(base, "_read_proxies", counted)
    clean_env.setattr(base, "_proxies", None)
    clean_env.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    for _ in range(3):
        new_http_client().close()
    assert len(reads) == 1
    clean_env.setenv("NO_PROXY", "example.org")
    new_http_client().close()
    clean_env.setenv("UNRELATED_SETTING", "1")
    new_http_client().close()
    assert len(reads) == 2


def test_every_client_shares_the_tls_context_and_keeps_its_own_cookies(
    clean_env: pytest.MonkeyPatch, servers: tuple[tuple[type[_Recorder], str], ...]
) -> None:
    clean_env.setenv("HTTPS_PROXY", servers[0][1])
    with new_http_client() as one, new_http_client() as other:
        one.cookies.set("session", "one's")
        assert "session" not in other.cookies
        contexts = {
            id(getattr(transport, "_pool")._ssl_context)  # noqa: B009 - httpx's own attribute
            for client in (one, other)
            for transport in (client._transport, *client._mounts.values())
        }
        assert contexts == {id(base._ssl_context)}
        assert len(one._mounts) == len(other._mounts) == 1  # the proxy, each its own
        assert next(iter(one._mounts.values())) is not next(iter(other._mounts.values()))


def test_without_httpxs_reader_the_client_reads_the_environment_itself(
    clean_env: pytest.MonkeyPatch, servers: tuple[tuple[type[_Recorder], str], ...]
) -> None:
    """Should a later httpx drop its private reader, each client reads the proxies again."""
    (proxy, proxy_url), (_, origin_url) = servers
    clean_env.setattr(base, "_read_proxies", None)
    clean_env.setattr(base, "_proxies", None)
    clean_env.setenv("HTTP_PROXY", proxy_url)
    with new_http_client() as client:
        assert client.trust_env
        assert client.get(f"{origin_url}/through").status_code == 200
    assert proxy.seen == [f"{origin_url}/through"]
