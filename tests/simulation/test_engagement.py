"""One post's outcome: metrics over time, events, advocates, paid reach, provider shapes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from dialogo.providers import base
from dialogo.simulation import (
    BrandPost,
    Engagement,
    Event,
    Message,
    PostSpec,
    Purchase,
    Targeting,
    World,
)

AT = dt.datetime(2026, 2, 10, 8, 15, tzinfo=dt.UTC)


def _post(**changes: object) -> PostSpec:
    values: dict[str, object] = {
        "id": "test-post",
        "brand": "caffeaurora",
        "at": AT,
        "topic": "coffee",
        "link": True,
    }
    values.update(changes)
    return PostSpec(**values)  # type: ignore[arg-type]


def test_outcome_is_a_function_of_the_post_id(world: World) -> None:
    a = world.simulate_post(_post())
    b = world.simulate_post(_post())
    assert np.array_equal(a.viewers, b.viewers) and np.array_equal(a.like_at, b.like_at)
    c = world.simulate_post(_post(id="another"))
    assert not np.array_equal(a.viewers, c.viewers)
    d = world.simulate_post(_post(), realisation=1)
    assert not np.array_equal(a.viewers, d.viewers)


def test_metrics_grow_over_time_and_match_events(world: World) -> None:
    outcome = world.simulate_post(_post(paid_budget_eur=20.0))
    assert outcome.metrics_at(AT - dt.timedelta(seconds=1)).reach == 0
    previous = None
    for hours in (1, 3, 12, 24, 72, 200):
        metrics = outcome.metrics_at(AT + dt.timedelta(hours=hours))
        if previous is not None:
            for name, value in metrics.as_dict().items():
                assert value >= previous.as_dict()[name]
        previous = metrics
    final = outcome.metrics_at(None)
    assert final == previous
    assert 50 < final.reach < world.population.size
    assert final.impressions >= final.reach >= final.likes > final.replies
    assert final.clicks > 0
    events = outcome.events(world)
    assert all(AT <= e.at < AT + dt.timedelta(days=5) for e in events)
    likes = [e for e in events if isinstance(e, Engagement) and e.action == "like"]
    comments = [e for e in events if isinstance(e, Message)]
    orders = [e for e in events if isinstance(e, Purchase)]
    assert len(likes) == final.likes and len(comments) == final.replies
    assert len(orders) == final.purchases
    assert all(c.kind == "comment" and c.in_reply_to == "test-post" for c in comments)
    assert len({e.id for e in events}) == len(events)
    # Likes come from people who saw the post, after they saw it.
    first_view = dict(zip(outcome.viewers.tolist(), outcome.view_at.tolist(), strict=True))
    for person, at in zip(outcome.like_person.tolist(), outcome.like_at.tolist(), strict=True):
        assert first_view[person] <= at


def test_no_link_no_clicks_and_media_helps(world: World) -> None:
    plain = [world.simulate_post(_post(id=f"p{k}", link=False)) for k in range(8)]
    assert all(o.metrics_at(None).clicks == 0 for o in plain)
    media = [world.simulate_post(_post(id=f"p{k}", link=False, media=True)) for k in range(8)]
    likes_plain = sum(o.metrics_at(None).likes for o in plain)
    likes_media = sum(o.metrics_at(None).likes for o in media)
    assert likes_media > likes_plain


def test_advocates_and_budget_widen_reach(world: World) -> None:
    followers = world.graph.out_degree()
    advocates = tuple(int(i) for i in np.argsort(-followers)[:20])
    base_reach = np.mean(
        [world.simulate_post(_post(id=f"b{k}")).metrics_at().reach for k in range(6)]
    )
    with_advocates = [world.simulate_post(_post(id=f"b{k}", advocates=advocates)) for k in range(6)]
    assert np.mean([o.metrics_at().reach for o in with_advocates]) > base_reach
    assert all((o.repost_via == 4).sum() > 5 for o in with_advocates)  # advocates shared
    paid = world.simulate_post(_post(id="paid", paid_budget_eur=50.0))
    assert paid.metrics_at().reach > 2 * base_reach
    assert paid.metrics_at().impressions >= 50.0 / world.config.behaviour.cpm_eur * 1000
    targeted = world.simulate_post(
        _post(id="t", paid_budget_eur=50.0, targeting=Targeting(segments=("athletes",)))
    )
    paid_viewers = targeted.viewers[targeted.view_via == 2]
    athletes = world.segment_index("athletes")
    assert (world.population.segment[paid_viewers] == athletes).all()


def test_cascades_follow_the_graph(world: World) -> None:
    advocates = tuple(int(i) for i in np.argsort(-world.graph.out_degree())[:10])
    pairs: list[tuple[int, int]] = []
    for k in range(4):
        outcome = world.simulate_post(
            _post(id=f"cascade{k}", topic="sustainability", advocates=advocates)
        )
        cascade = outcome.repost_via == 3
        pairs.extend(
            zip(
                outcome.repost_person[cascade].tolist(),
                outcome.repost_source[cascade].tolist(),
                strict=True,
            )
        )
    assert pairs
    for person, source in pairs:
        assert person in world.graph.successors(source).tolist()  # person follows source


def test_events_have_the_shape_of_provider_types(world: World, week: list[Event]) -> None:
    kinds = {k.value for k in base.MessageKind}
    messages = [e for e in week if isinstance(e, Message)]
    assert {m.kind for m in messages} <= kinds
    author_fields = {f.name for f in dataclasses.fields(base.Author)}
    assert set(world.author(messages[0].author)) <= author_fields
    account_fields = {f.name for f in dataclasses.fields(base.Account)}
    assert set(world.brand_account("caffeaurora", AT)) <= account_fields
    metrics_fields = {f.name for f in dataclasses.fields(base.PostMetrics)}
    snapshot = world.simulate_post(_post()).metrics_at(None).as_dict()
    assert {"impressions", "reach", "likes", "replies", "reposts", "clicks"} <= metrics_fields
    assert {"impressions", "reach", "likes", "replies", "reposts", "clicks"} <= set(snapshot)
    handle = world.author(7)["handle"]
    assert world.person_by_handle("@" + handle) == 7


def test_followers_grow_and_bad_posts_are_rejected(world: World) -> None:
    start, end = world.config.start, world.config.end
    assert world.follower_count("caffeaurora", end) > world.follower_count("caffeaurora", start)
    with pytest.raises(ValueError):
        _post(topic="astrology")
    with pytest.raises(ValueError):
        _post(at=dt.datetime(2026, 1, 1))
    with pytest.raises(KeyError):
        world.simulate_post(_post(brand="nobody"))


def test_history_posts_can_be_measured_again(world: World, week: list[Event]) -> None:
    posts = [e for e in week if isinstance(e, BrandPost)]
    assert len(posts) > 20
    by_post: dict[str, int] = {}
    for event in week:
        if isinstance(event, Engagement) and event.action == "like":
            by_post[event.post_id] = by_post.get(event.post_id, 0) + 1
    end = week[-1].at
    for post in posts[:10]:
        outcome = world.outcome_of(post)
        likes_seen = int((outcome.like_at <= end.timestamp()).sum())
        assert by_post.get(post.id, 0) == likes_seen
