"""A ``mastodon-mock`` server (a stateful fake of the Mastodon API on 127.0.0.1, seeded with
the accounts alice, bob and carol) shared by this package's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from mastodon_mock.testing.server import MockServer

from dialogo.providers.base import Credentials
from dialogo.providers.mastodon.provider import MastodonProvider


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(host="127.0.0.1") as running:
        yield running


ProviderFor = Callable[..., MastodonProvider]


@pytest.fixture
def provider_for(server: MockServer) -> Iterator[ProviderFor]:
    made: list[MastodonProvider] = []

    def make(username: str, **config: str) -> MastodonProvider:
        provider = MastodonProvider(
            Credentials(access_token=f"{username}_token"),
            config={"instance_url": server.base_url, **config},
            timeout=10,
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()
