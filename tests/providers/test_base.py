"""The provider base: credentials merging and the entry-point registry."""

from __future__ import annotations

import datetime as dt
import sys
import types
from importlib.metadata import EntryPoint

from dialogo.providers.base import (
    Account,
    AuthKind,
    Capabilities,
    Credentials,
    Draft,
    MessagePage,
    Provider,
    PublishResult,
    ValidationIssue,
)
from dialogo.providers.registry import ProviderRegistry


def test_a_refresh_never_replaces_a_stored_refresh_token_with_nothing() -> None:
    stored = Credentials(access_token="old", refresh_token="r1", account_id="42")
    later = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    merged = stored.merged(Credentials(access_token="new", refresh_token=None, expires_at=later))
    assert merged.access_token == "new"
    assert merged.refresh_token == "r1"
    assert merged.expires_at == later
    assert merged.account_id == "42"
    assert stored.merged(Credentials(refresh_token="r2")).refresh_token == "r2"


def test_a_new_access_token_without_an_expiry_does_not_inherit_the_old_one() -> None:
    past = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stored = Credentials(access_token="old", refresh_token="r1", expires_at=past)
    assert stored.merged(Credentials(access_token="new")).expires_at is None
    # The same token given back (or none at all) keeps what is known of its expiry.
    assert stored.merged(Credentials(access_token="old")).expires_at == past
    assert stored.merged(Credentials(refresh_token="r2")).expires_at == past


class _Echo(Provider):
    capabilities = Capabilities(
        network="echo", display_name="Echo", auth=AuthKind.none, text_limit=10
    )

    def verify(self) -> Account:
        return Account(remote_id="1", handle="echo")

    def validate(self, draft: Draft) -> list[ValidationIssue]:
        too_long = len(draft.text) > self.capabilities.text_limit
        return [ValidationIssue("too_long", "too long")] if too_long else []

    def publish(self, draft: Draft) -> PublishResult:
        return PublishResult(remote_id="p1")

    def fetch_messages(self, since: str | None) -> MessagePage:
        return MessagePage(messages=[], cursor=since)


class _NotAProvider:
    pass


def _eps() -> list[EntryPoint]:
    module = types.ModuleType("dialogo_test_providers")
    module.Echo = _Echo  # type: ignore[attr-defined]
    module.Broken = _NotAProvider  # type: ignore[attr-defined]
    sys.modules["dialogo_test_providers"] = module
    group = "dialogo.providers"
    return [
        EntryPoint("echo", "dialogo_test_providers:Echo", group),
        EntryPoint("broken", "dialogo_test_providers:Broken", group),
        EntryPoint("missing", "dialogo_test_providers_absent:Nope", group),
        EntryPoint("misnamed", "dialogo_test_providers:Echo", group),
    ]


def test_registry_loads_valid_providers_and_skips_the_rest() -> None:
    registry = ProviderRegistry.from_entry_points(eps=_eps())
    assert registry.names() == ["echo"]
    assert registry.get("echo") is _Echo
    assert "broken" not in registry


def test_registry_honours_allow_and_deny_lists() -> None:
    assert ProviderRegistry.from_entry_points(eps=_eps(), deny=["echo"]).names() == []
    assert ProviderRegistry.from_entry_points(eps=_eps(), allow=["other"]).names() == []
    assert ProviderRegistry.from_entry_points(eps=_eps(), allow=["echo"]).names() == ["echo"]


def test_reply_goes_through_publish_with_the_target() -> None:
    from dialogo.providers.base import RemoteRef

    seen: list[Draft] = []

    class Recording(_Echo):
        def publish(self, draft: Draft) -> PublishResult:
            seen.append(draft)
            return PublishResult(remote_id="r1")

    provider = Recording(Credentials())
    provider.reply(RemoteRef("parent"), Draft(text="grazie!"))
    assert seen[0].reply_to == RemoteRef("parent")
    provider.close()
