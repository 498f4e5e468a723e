"""``recent_replies(since=…)``: the default (replies are the account's posts) hands ``since`` to
``recent_posts`` where it takes it and leaves out what was made before; every bundled provider
takes it; :func:`takes_since` answers for ``recent_replies`` too."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dialogo.providers.base import (
    Provider,
    PublishResult,
    RecentPosts,
    RemoteRef,
    made_since,
    takes_since,
)
from dialogo.providers.testing import FakeNetwork
from tests.providers.test_contract import NETWORKS, REGISTRY

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def post(n: int | None) -> PublishResult:
    """Post ``n`` made at ``T0 + n`` minutes (``None``: a post whose time is unknown)."""
    if n is None:
        return PublishResult("untimed", state={})
    return PublishResult(f"p{n}", state={"created_at": (T0 + dt.timedelta(minutes=n)).isoformat()})


LISTED = (post(5), post(4), post(None), post(3), post(2), post(1))


def build(kind: type[Provider]) -> Provider:
    return kind.__new__(kind)  # the default reads only recent_posts: no credentials needed


def test_the_default_hands_since_to_recent_posts_and_leaves_out_the_older() -> None:
    asked: list[dict[str, Any]] = []

    class Posts(FakeNetwork("sincenet").provider_class()):  # type: ignore[misc]
        def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> Any:
            asked.append({"limit": limit, "since": since})
            return RecentPosts(posts=LISTED, exhausted=True)

    provider = build(Posts)
    since = T0 + dt.timedelta(minutes=3)
    found = provider.recent_replies(RemoteRef("t"), limit=10, since=since)
    assert [r.remote_id for r in found] == ["p5", "p4", "untimed", "p3"]
    everything = provider.recent_replies(RemoteRef("t"), limit=10)
    assert [r.remote_id for r in everything] == [r.remote_id for r in LISTED]
    assert asked == [{"limit": 10, "since": since}, {"limit": 10, "since": None}]


def test_a_recent_posts_without_since_is_asked_as_before_and_filtered_here() -> None:
    asked: list[int] = []

    class Old(FakeNetwork("oldnet").provider_class()):  # type: ignore[misc]
        def recent_posts(self, *, limit: int = 20) -> Any:  # type: ignore[override]
            asked.append(limit)
            return RecentPosts(posts=LISTED, exhausted=True)

    found = build(Old).recent_replies(RemoteRef("t"), limit=7, since=T0 + dt.timedelta(minutes=4))
    assert [r.remote_id for r in found] == ["p5", "p4", "untimed"] and asked == [7]


@pytest.mark.parametrize("network", NETWORKS)
def test_every_bundled_provider_takes_since(network: str) -> None:
    provider = build(REGISTRY.get(network))
    assert takes_since(provider, "recent_replies") and takes_since(provider)


def test_takes_since_answers_per_method() -> None:
    class Older:
        def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> list[Any]:
            return []

        def recent_replies(self, target: RemoteRef, *, limit: int = 20) -> list[Any]:
            return []

    assert takes_since(Older()) and not takes_since(Older(), "recent_replies")
    assert not takes_since(object(), "recent_replies")


def test_made_since_keeps_the_order_and_the_untimed() -> None:
    assert made_since(LISTED, None) == list(LISTED)
    naive = (T0 + dt.timedelta(minutes=2)).replace(tzinfo=None)  # read as UTC
    assert [r.remote_id for r in made_since(LISTED, naive)] == ["p5", "p4", "untimed", "p3", "p2"]
    later = dt.datetime(2026, 12, 1, 11, 4, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 09:04Z
    assert [r.remote_id for r in made_since(LISTED, later)] == ["p5", "p4", "untimed"]
