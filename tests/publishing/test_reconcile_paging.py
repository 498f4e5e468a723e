"""Reconciling a lost answer reads the account's listing back to the attempt, page by page
(issue #4): networks cap their pages (X 100 a request, Mastodon 40), so a page shorter than
asked for is never "everything the account has". A post found on a later page is not sent
again; a listing that stops before the attempt leaves the variant unconfirmed for a person."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import cast

import httpx
import pytest

from dialogo.providers.base import Credentials, Draft, Provider, PublishResult, RecentPosts
from dialogo.providers.contract import Answer, ScriptedRequest, httpx_client, listed_at
from dialogo.providers.testing import FakeNetwork
from dialogo.providers.x import provider as x_provider
from dialogo.providers.x.testing import timeline
from dialogo.publishing import dispatcher
from dialogo.publishing.models import PostStatus, VariantStatus
from tests.publishing.test_dispatcher import Rig, _claimed_since, rig  # noqa: F401 - rig

ACCOUNT = 300  # posts on the X account of these tests, post 300 the newest


def _x(total: int = ACCOUNT, *, history: int | None = None) -> tuple[Provider, list[str]]:
    """An X provider over the contract's timeline of ``total`` posts (post ``n`` made at
    ``listed_at(n)``, 100 a page); with ``history``, X lists no further back than that many
    posts (its 3,200-post wall, made small). Returns the provider and the requests' paths
    (a publish would be ``POST /2/tweets``)."""
    listing = timeline(total)
    sent: list[str] = []

    def respond(request: ScriptedRequest) -> Answer:
        sent.append(f"{request.method} {httpx.URL(request.url).path}")
        answer = listing(request)
        meta = answer.json.get("meta", {}) if isinstance(answer.json, dict) else {}
        token = meta.get("next_token")
        if history is not None and token is not None and total - int(token) + 1 >= history:
            del meta["next_token"]  # the end of what X lists, not of the account
        return answer

    provider = x_provider.XProvider(
        Credentials(access_token="t", account_id="2244994945"),
        http=httpx_client(respond),
        config={"client_id": "c"},
    )
    return provider, sent


def _claimed(number: int) -> dispatcher.Claimed:
    """The variant whose post is post ``number`` of the timeline (X matches by text and
    time: no idempotency key comes back), sent a minute before the post was made."""
    since = listed_at(number) - dt.timedelta(minutes=1)
    return dataclasses.replace(
        _claimed_since(since), network="x", text=f"post {number}", idempotency_key="k"
    )


def test_a_lost_post_on_the_third_page_of_x_is_found_not_resent() -> None:
    """Post 71 is the 230th newest: the third page of X's 100. Before paging, the check took
    X's capped 100 posts for the 200 it asked as the whole account and posted it again."""
    provider, sent = _x()
    claimed = _claimed(71)
    assert dispatcher._send_one(provider, claimed, listed_at(ACCOUNT), 1.0, 60.0) is None
    assert claimed.status == VariantStatus.published.value
    assert claimed.remote_id == str(1000 + 71)
    assert "POST /2/tweets" not in sent  # found, never sent again
    assert all(s.endswith("/tweets") for s in sent)


def test_a_listing_that_stops_before_the_attempt_leaves_the_variant_unconfirmed() -> None:
    """X lists only its latest posts (3,200; here 150): a post older than that wall cannot be
    found or ruled out. The variant waits for a person, with the reason; nothing is sent."""
    provider, sent = _x(history=150)
    claimed = _claimed(20)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(x_provider, "TIMELINE_HISTORY", 150)
        dispatcher._send_one(provider, claimed, listed_at(ACCOUNT), 1.0, 60.0)
    assert claimed.status == VariantStatus.unconfirmed.value and claimed.next_attempt_at is None
    assert claimed.notify == "post_unconfirmed"
    assert "would not list" in (claimed.last_error or "") and "by hand" in (
        claimed.last_error or ""
    )
    assert "POST /2/tweets" not in sent


class _Listing:
    """A provider's answer, as given: ``recent_posts`` returns ``answer`` whatever the limit."""

    def __init__(self, answer: RecentPosts | list[PublishResult]) -> None:
        self.answer = answer
        self.published = 0

    def recent_posts(self, *, limit: int = 20) -> RecentPosts | list[PublishResult]:
        return self.answer

    def publish(self, draft: object) -> PublishResult:
        self.published += 1
        return PublishResult(remote_id="new")


def _others(count: int, **state: str) -> tuple[PublishResult, ...]:
    return tuple(
        PublishResult(remote_id=f"o{n}", state={"text": f"other {n}", **state})
        for n in range(count)
    )


def test_posts_without_a_creation_time_prove_absence_only_when_the_listing_ended() -> None:
    claimed = _claimed(71)
    untimed = _Listing(RecentPosts(posts=_others(dispatcher.RECENT_POSTS_LIMIT), exhausted=False))
    dispatcher._send_one(cast(Provider, untimed), claimed, listed_at(72), 1.0, 60.0)
    assert claimed.status == VariantStatus.unconfirmed.value and untimed.published == 0
    assert "without the time" in (claimed.last_error or "")
    # The network said that is all the account has: absent indeed, published once.
    ended = _Listing(RecentPosts(posts=_others(3), exhausted=True))
    claimed = _claimed(71)
    dispatcher._send_one(cast(Provider, ended), claimed, listed_at(72), 1.0, 60.0)
    assert ended.published == 1 and claimed.status == VariantStatus.published.value


def test_a_plain_list_from_an_old_provider_is_never_taken_as_the_whole_account() -> None:
    """A third-party provider written before ``RecentPosts`` answers a list: however short,
    it proves nothing (it may be one capped page), so nothing is sent again."""
    after = listed_at(80).isoformat()
    old = _Listing(list(_others(3, created_at=after)))
    claimed = _claimed(71)
    dispatcher._send_one(cast(Provider, old), claimed, listed_at(81), 1.0, 60.0)
    assert claimed.status == VariantStatus.unconfirmed.value and old.published == 0
    assert "stopped after 3" in (claimed.last_error or "")


def test_a_lost_post_three_capped_pages_back_is_reconciled_through_the_worker(
    rig: Rig,  # noqa: F811 - the fixture imported above
) -> None:
    """End to end on the fake network, whose pages hold 20 posts: the account posted 45
    times (another tool) between the lost answer and the check."""
    network: FakeNetwork = rig.network
    network.now = rig.clock.now
    post = rig.schedule()
    network.lose_next_answers(1)
    rig.clock.advance(minutes=2)
    rig.run()
    assert rig.variant(post).status == VariantStatus.unconfirmed
    for n in range(45):
        rig.clock.advance(seconds=1)
        network._publish(rig.brand.account, Draft(text=f"other {n}"))
    rig.clock.advance(seconds=dispatcher.RECONCILE_DELAY.total_seconds() + 1)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    ours = network.posts[0]
    assert variant.remote_id == ours.remote_id and len(network.posts) == 46
    assert rig.publish_calls() == 1
    pages = [op for op, _ in network.calls if op == "recent_posts"]
    assert len(pages) == 3  # 20, 20, then ours among the last 10
    assert rig.post(post).status == PostStatus.published
