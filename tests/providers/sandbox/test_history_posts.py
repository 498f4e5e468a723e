"""The brand's posts of the simulated history: their remote ids, their metrics (the outcome
the history generated), the frozen clock (``sim_now``) and ids that name no post."""

from __future__ import annotations

import datetime as dt

import pytest

from dialogo.providers.base import Credentials
from dialogo.providers.errors import InvalidPayload
from dialogo.providers.sandbox.provider import (
    DEMO_TOKEN,
    HISTORY_PREFIX,
    SandboxProvider,
    find_history_post,
    history_post_id,
)
from dialogo.simulation import BrandPost, Engagement

CONFIG = {"seed": "5", "population": "2000", "start": "2026-01-01", "history_days": "10"}


def provider(**config: str) -> SandboxProvider:
    return SandboxProvider(Credentials(access_token=DEMO_TOKEN), config={**CONFIG, **config})


def test_history_posts_have_the_metrics_the_history_generated() -> None:
    sandbox = provider(sim_now="2026-01-11T00:00:00+00:00")
    assert sandbox.now() == dt.datetime(2026, 1, 11, tzinfo=dt.UTC)  # the clock stands still
    world = sandbox.world
    events = list(world.events(world.config.start, world.config.end))
    posts = [e for e in events if isinstance(e, BrandPost) and e.brand == "caffeaurora"]
    assert posts
    post = posts[0]
    remote_id = history_post_id(post)
    assert remote_id.startswith(HISTORY_PREFIX)
    assert find_history_post(world, remote_id) == post
    likes = sum(
        1
        for e in events
        if isinstance(e, Engagement) and e.post_id == post.id and e.action == "like"
    )
    (metrics,) = sandbox.fetch_metrics([remote_id])
    assert metrics.likes == likes  # everything landed within the 10 days, before sim_now
    (conversions,) = sandbox.fetch_conversions([remote_id])
    assert conversions["clicks"] == metrics.clicks


def test_the_clock_start_of_verify_is_not_stamped_on_a_frozen_sandbox() -> None:
    sandbox = provider(sim_now="2026-01-11T00:00:00+00:00")
    sandbox.verify()
    assert "clock_start" not in sandbox.credentials.extra


@pytest.mark.parametrize(
    "remote_id",
    [
        HISTORY_PREFIX + "p-caffeaurora-20260102-9",  # no ninth post that day
        HISTORY_PREFIX + "nonsense",
        HISTORY_PREFIX + "p-caffeaurora-2026010-0",
    ],
)
def test_ids_that_name_no_history_post_are_refused(remote_id: str) -> None:
    with pytest.raises(InvalidPayload):
        provider().fetch_metrics([remote_id])
