"""``recent_posts(since=…)`` (issue #4): paging stops after the first page reaching back before
``since``, so a reconciliation reads each page of the account once
(:func:`dialogo.providers.base.collect_pages`), and :func:`takes_since` tells the dispatcher
which providers accept it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialogo.providers.base import (
    Page,
    PublishResult,
    collect_pages,
    made_at,
    takes_since,
)
from dialogo.providers.testing import FakeNetwork

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class _Listing:
    """An account of ``total`` posts, post ``n`` (1 the oldest) made at ``T0 + n`` minutes,
    pages of ``size`` by an offset cursor; ``untimed`` posts carry no ``created_at``."""

    def __init__(self, total: int, size: int, untimed: frozenset[int] = frozenset()) -> None:
        self.total, self.size, self.untimed = total, size, untimed
        self.requests = 0

    def __call__(self, cursor: str | None, count: int) -> Page:
        self.requests += 1
        skip = int(cursor or 0)
        numbers = list(range(self.total - skip, 0, -1))[: min(count, self.size)]
        posts = [
            PublishResult(
                remote_id=f"p{n}",
                state={} if n in self.untimed else {"created_at": at(n).isoformat()},
            )
            for n in numbers
        ]
        following = skip + len(numbers)
        return posts, str(following) if following < self.total else None


def at(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def _numbers(listing: Any) -> list[int]:
    return [int(post.remote_id[1:]) for post in listing]


def test_paging_stops_after_the_first_page_reaching_back_before_since() -> None:
    account = _Listing(100, 10)
    # post 65 is on the 4th page (100..91, 90..81, 80..71, 70..61): since between 64 and 65
    listing = collect_pages(
        account, limit=1000, page_size=10, since=at(64) + dt.timedelta(seconds=30)
    )
    assert _numbers(listing) == list(range(100, 60, -1))
    assert account.requests == 4 and not listing.exhausted
    # exactly at a post's time: that post is not *before* since, the next page is read
    account = _Listing(100, 10)
    listing = collect_pages(account, limit=1000, page_size=10, since=at(61))
    assert account.requests == 5 and _numbers(listing)[-1] == 51
    # the limit still cuts first; the network's last page still says exhausted
    account = _Listing(100, 10)
    assert len(collect_pages(account, limit=15, page_size=10, since=at(1))) == 15
    assert account.requests == 2
    account = _Listing(25, 10)
    listing = collect_pages(account, limit=1000, page_size=10, since=at(3))
    assert listing.exhausted and account.requests == 3 and len(listing) == 25


def test_without_since_nothing_changes() -> None:
    account = _Listing(100, 10)
    listing = collect_pages(account, limit=1000, page_size=10)
    assert len(listing) == 100 and listing.exhausted and account.requests == 10


def test_posts_without_a_creation_time_never_stop_the_paging() -> None:
    """A page whose oldest post has no time cannot say how far back it reaches: the next
    page is read, and the first page ending on a timed post before ``since`` stops it."""
    account = _Listing(100, 10, untimed=frozenset({91, 81}))
    listing = collect_pages(account, limit=1000, page_size=10, since=at(95))
    assert account.requests == 3 and _numbers(listing)[-1] == 71
    everything_untimed = _Listing(30, 10, untimed=frozenset(range(1, 31)))
    listing = collect_pages(everything_untimed, limit=1000, page_size=10, since=at(1000))
    assert everything_untimed.requests == 3 and listing.exhausted


def test_an_empty_page_with_a_cursor_does_not_stop_it() -> None:
    pages: list[Page] = [
        ([PublishResult(remote_id="p9", state={"created_at": at(9).isoformat()})], "a"),
        ([], "b"),  # a page the network filtered empty (Matrix drops hidden events)
        ([PublishResult(remote_id="p2", state={"created_at": at(2).isoformat()})], "c"),
        ([PublishResult(remote_id="p1", state={"created_at": at(1).isoformat()})], None),
    ]
    asked: list[str | None] = []

    def fetch(cursor: str | None, count: int) -> Page:
        asked.append(cursor)
        return pages[len(asked) - 1]

    listing = collect_pages(fetch, limit=50, page_size=10, since=at(5), max_requests=10)
    assert _numbers(listing) == [9, 2] and asked == [None, "a", "b"] and not listing.exhausted


def test_made_at_reads_iso_8601_with_z_and_naive_times_as_utc() -> None:
    def post(value: str) -> PublishResult:
        return PublishResult(remote_id="p", state={"created_at": value})

    assert made_at(post("2026-12-01T09:00:00Z")) == T0
    assert made_at(post("2026-12-01T10:00:00+01:00")) == T0
    assert made_at(post("2026-12-01T09:00:00")) == T0
    assert made_at(post("yesterday")) is None and made_at(post("")) is None
    assert made_at(PublishResult(remote_id="p")) is None
    # a naive since reads as UTC too
    account = _Listing(100, 10)
    collect_pages(account, limit=1000, page_size=10, since=at(95).replace(tzinfo=None))
    assert account.requests == 1


class _Old:
    def recent_posts(self, *, limit: int = 20) -> list[PublishResult]:
        return []


class _New:
    def recent_posts(self, *, limit: int = 20, since: dt.datetime | None = None) -> list[Any]:
        return []


class _Anything:
    def recent_posts(self, **options: Any) -> list[PublishResult]:
        return []


class _Positional:
    def recent_posts(self, limit: int = 20, since: dt.datetime | None = None) -> list[Any]:
        return []


def test_takes_since_reads_the_signature_once_per_class() -> None:
    assert not takes_since(_Old()) and takes_since(_New())
    assert takes_since(_Anything()) and takes_since(_Positional())
    assert not takes_since(object())  # no recent_posts at all
    # the fake networks' providers take it, as every provider of this repository
    provider_class = FakeNetwork("sincenet").provider_class()
    assert takes_since(provider_class.__new__(provider_class))

    class Later:
        def recent_posts(self, *, limit: int = 20) -> list[PublishResult]:
            return []

    assert not takes_since(Later())
    # answered once per class: a method changed afterwards is not read again
    Later.recent_posts = _New.recent_posts  # type: ignore[assignment]
    assert not takes_since(Later())
