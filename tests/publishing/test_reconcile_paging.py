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
from dialogo.providers.testing import FakeNetwork, WithoutSince
from dialogo.providers.x import provider as x_provider
from dialogo.providers.x.testing import timeline
from dialogo.publishing import dispatcher
from dialogo.publishing.models import PostStatus, VariantStatus
from tests.publishing.test_dispatcher import START, Rig, _claimed_since, rig  # noqa: F401 - rig

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
    # one listing back to the attempt, each page read once: three requests, not 1 (50
    # posts), then 2 (200), then 3 (800) as when each asking started again from the newest
    assert len(sent) == 3


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
    assert claimed.last_error_code == "reconcile_stopped_short"
    assert claimed.last_error_params == {"network": "x", "count": 200}  # two pages of 100


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
    assert (claimed.last_error_code, claimed.last_error_params) == (
        "reconcile_no_times",
        {"network": "x"},
    )
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
    assert "stopped after 3 posts" in (claimed.last_error or "")
    assert claimed.last_error_code == "reconcile_stopped_short"
    assert claimed.last_error_params == {"network": "x", "count": 3}


# -- each page read once (``recent_posts(since=…)``) ----------------------------------------------

OLDER, NEWER = 30, 55  # posts made an hour before the attempt; posts made after it


def _busy_network(*, ours: bool = True) -> tuple[FakeNetwork, Provider]:
    """A fake network (pages of 20) whose account has :data:`OLDER` posts from an hour
    before the attempt (:data:`START`), then ours (lost answer; absent with ``ours=False``),
    then :data:`NEWER` more: ours is the 56th newest, on the third page, which reaches back
    before the attempt."""
    network = FakeNetwork("pagednet")
    key = "ours" if ours else None
    credentials = network.busy_account("brand", START, older=OLDER, newer=NEWER, key=key)
    return network, network.provider_class()(credentials)


def _pages(network: FakeNetwork) -> int:
    return sum(1 for op, _ in network.calls if op == "recent_posts")


def test_a_lost_post_on_the_third_page_costs_three_requests() -> None:
    """Asked once back to the attempt, the fake network's pages are read once each: 3
    requests. A provider without ``since`` still finds it, asked 50 then 200 posts: 3 + 5
    (the second asking reads the first pages again, to the end of the account's 86)."""
    network, provider = _busy_network()
    found = dispatcher._find_on_network(provider, _claimed_since(START))
    assert found is not None and found.state["idempotency_key"] == "ours"
    assert _pages(network) == 3
    network, provider = _busy_network()
    old = cast(Provider, WithoutSince(provider))
    found = dispatcher._find_on_network(old, _claimed_since(START))
    assert found is not None and found.state["idempotency_key"] == "ours"
    assert _pages(network) == 3 + 5


def test_a_post_absent_from_a_busy_account_is_ruled_out_in_as_many_requests() -> None:
    network, provider = _busy_network(ours=False)
    assert dispatcher._find_on_network(provider, _claimed_since(START)) is None
    assert _pages(network) == 3  # the third page reaches back before the attempt
    network, provider = _busy_network(ours=False)
    old = cast(Provider, WithoutSince(provider))
    assert dispatcher._find_on_network(old, _claimed_since(START)) is None
    assert _pages(network) == 3 + 5


class _Asked:
    """Records how ``recent_posts`` is asked; lists ``posts`` whatever the limit."""

    def __init__(self, posts: RecentPosts) -> None:
        self.posts = posts
        self.asked: list[tuple[int, dt.datetime | None]] = []

    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> RecentPosts:
        self.asked.append((limit, since))
        return self.posts


def _newer(count: int) -> RecentPosts:
    after = (START + dt.timedelta(minutes=1)).isoformat()
    return RecentPosts(posts=_others(count, created_at=after), exhausted=False)


def test_the_check_asks_once_back_to_the_attempt_and_keeps_its_decisions() -> None:
    """One asking, the most a check reads, back to the attempt. What it decides from the
    answer is as before: a listing all newer than the attempt, as long as asked, is too many
    posts to tell; shorter, the network stopped short."""
    flood = _Asked(_newer(dispatcher.RECENT_POSTS_MAX))
    claimed = _claimed_since(START)
    dispatcher._send_one(cast(Provider, flood), claimed, START, 1.0, 60.0)
    assert flood.asked == [(dispatcher.RECENT_POSTS_MAX, START)]
    assert claimed.status == VariantStatus.unconfirmed.value and claimed.next_attempt_at is None
    assert claimed.last_error_code == "reconcile_too_many"
    assert claimed.last_error_params == {"network": "fakenet", "limit": 1000}
    assert "more than 1000 times" in (claimed.last_error or "")
    short = _Asked(_newer(1))
    claimed = _claimed_since(START)
    dispatcher._send_one(cast(Provider, short), claimed, START, 1.0, 60.0)
    assert len(short.asked) == 1 and claimed.last_error_code == "reconcile_stopped_short"
    assert claimed.last_error_params == {"network": "fakenet", "count": 1}
    assert "(it stopped after 1 post)" in (claimed.last_error or "")
    # the oldest listed predates the attempt less the skew: absent, in one asking
    before = (START - dispatcher.CLOCK_SKEW - dt.timedelta(seconds=1)).isoformat()
    ended = _Asked(RecentPosts(posts=_others(2, created_at=before), exhausted=False))
    assert dispatcher._find_on_network(cast(Provider, ended), _claimed_since(START)) is None
    assert ended.asked == [(dispatcher.RECENT_POSTS_MAX, START)]


def test_a_listing_ending_inside_the_skew_is_asked_on_back_to_the_skew() -> None:
    """Back to the attempt, the listing's oldest post is inside the clock skew before it: it
    proves nothing yet, so the check asks on, back to the attempt less the skew, and decides
    from that (here: the same posts again, still inside the skew: nobody can tell)."""
    inside = (START - dispatcher.CLOCK_SKEW + dt.timedelta(seconds=1)).isoformat()
    near = _Asked(RecentPosts(posts=_others(2, created_at=inside), exhausted=False))
    with pytest.raises(dispatcher._CannotTell) as cannot:
        dispatcher._find_on_network(cast(Provider, near), _claimed_since(START))
    assert cannot.value.code == "reconcile_stopped_short"
    skew = START - dispatcher.CLOCK_SKEW
    assert near.asked == [(dispatcher.RECENT_POSTS_MAX, START), (dispatcher.RECENT_POSTS_MAX, skew)]


@pytest.mark.parametrize(
    ("ours", "pages", "single", "decision"),
    [(True, 3, 5, "found"), (False, 3 + 5, 5, "absent")],
)
def test_posts_inside_the_skew_cost_their_pages_only_when_the_post_is_not_found(
    ours: bool, pages: int, single: int, decision: str
) -> None:
    """30 posts made 3 minutes before the attempt (inside the skew), ours, 55 after it. Found
    on the third page, the one reaching back before the attempt: 3 requests (one asking back
    to the skew would read all 5 pages of the account). Absent: the 3 pages, then all 5 back
    to the skew."""
    network = FakeNetwork("pagednet")
    key = "ours" if ours else None
    minutes = dt.timedelta(minutes=3)
    credentials = network.busy_account(
        "brand", START, older=OLDER, newer=NEWER, key=key, before=minutes
    )
    provider = network.provider_class()(credentials)
    found = dispatcher._find_on_network(provider, _claimed_since(START))
    assert ("found" if found is not None else "absent") == decision
    assert _pages(network) == pages
    calls = len(network.calls)
    provider.recent_posts(limit=dispatcher.RECENT_POSTS_MAX, since=START - dispatcher.CLOCK_SKEW)
    assert len(network.calls) - calls == single  # what one asking back to the skew costs


@pytest.mark.parametrize(("older", "newer"), [(0, 45), (OLDER, NEWER)])
def test_a_lost_post_on_the_third_page_is_reconciled_through_the_worker_in_three_requests(
    rig: Rig,  # noqa: F811 - the fixture imported above
    older: int,
    newer: int,
) -> None:
    """End to end on the fake network, whose pages hold 20 posts: the account posted 45 or
    55 times (another tool) between the lost answer and the check; with 30 posts from an hour
    before, the third page reaches back before the attempt and is the last read. The
    attempt's time comes from the variant's row (``first_attempt_at``)."""
    network: FakeNetwork = rig.network
    account = rig.brand.account
    network.now = lambda: rig.clock.now() - dt.timedelta(hours=1)
    for n in range(older):
        network._publish(account, Draft(text=f"old {n}"))
    network.now = rig.clock.now
    post = rig.schedule()
    network.lose_next_answers(1)
    rig.clock.advance(minutes=2)
    rig.run()
    assert rig.variant(post).status == VariantStatus.unconfirmed
    for n in range(newer):
        rig.clock.advance(seconds=1)
        network._publish(account, Draft(text=f"new {n}"))
    rig.clock.advance(seconds=dispatcher.RECONCILE_DELAY.total_seconds() + 1)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published and rig.publish_calls() == 1
    ours = network.posts[older]
    assert variant.remote_id == ours.remote_id and len(network.posts) == older + 1 + newer
    assert _pages(network) == 3  # 20, 20, then ours among the last
    assert rig.post(post).status == PostStatus.published
