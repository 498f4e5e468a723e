"""``recent_posts`` of the three Graph API networks (Facebook Pages, Instagram, Threads) over
several pages, against answers written from Meta's documentation:

- Graph API "Paginated Results" (developers.facebook.com/docs/graph-api/results): a page is
  ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next": <url>}}``; ``limit``
  is a maximum ("a query may return fewer than the value of limit due to filtering"), and the
  last page is the one without ``next``;
- Page Published Posts (``GET /{page-id}/published_posts``: ``message``, ``created_time``,
  ``permalink_url``) and IG User Media (``GET /{ig-user-id}/media``: ``caption``,
  ``timestamp``, ``permalink``), both cursor-paginated edges;
- Threads "Retrieve a list of all a user's threads" (``GET /{threads-user-id}/threads``:
  ``text``, ``timestamp``, ``permalink``; ``limit`` "default is 25 and maximum is 100";
  ``before``/``after`` cursors): its example answer has ``paging.cursors`` and no ``next``;
- "Handling errors": code 17 ("User request limit reached") and code 2 (a temporary
  problem) on a page in the middle of the listing.

The contract (:class:`dialogo.providers.base.RecentPosts`): the listing pages the network's
cursor up to ``limit``, says ``exhausted`` only when the network said there is nothing older,
and an error on any page raises the provider's typed error rather than a short list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import httpx
import pytest

from dialogo.providers.base import Provider
from dialogo.providers.errors import ProviderError, RateLimited, TransientError
from tests.providers.facebook.test_provider import PAGE
from tests.providers.facebook.test_provider import provider as facebook
from tests.providers.instagram.test_provider import IG
from tests.providers.instagram.test_provider import provider as instagram
from tests.providers.threads.test_provider import ME
from tests.providers.threads.test_provider import provider as threads
from tests.providers.x.test_provider import Recorder

START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Network:
    name: str
    make: Callable[[Recorder], Provider]
    host: str
    path: str  # the edge, without the version
    text: str
    time: str
    url: str
    #: whether the network's pages carry ``paging.next`` (Threads documents cursors only)
    sends_next: bool = True
    version: str = "/v23.0"

    def post(self, n: int) -> dict[str, object]:
        """Post ``n`` (the higher, the newer), as the network lists it."""
        created = START + dt.timedelta(minutes=n)
        return {
            "id": f"{self.name}-{n}",
            self.text: f"Post {n}",
            self.time: created.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            self.url: f"https://{self.host}/p/{n}",
        }

    def page(self, newest: int, size: int, after: str | None) -> httpx.Response:
        """A page of ``size`` posts from ``newest`` down; ``after`` its cursor when the network
        has more (``None``: the last page, told the way this network tells it)."""
        paging: dict[str, object] = {"cursors": {"before": f"b{newest}", "after": after or "z"}}
        if after is not None and self.sends_next:
            paging["next"] = (
                f"https://{self.host}{self.version}/{self.path}"
                f"?fields=id&limit={size}&after={after}&access_token=not-sent-by-us"
            )
        elif after is None and not self.sends_next:
            paging = {}  # Threads: the end is a page without a cursor (or an empty one)
        posts = [self.post(n) for n in range(newest, newest - size, -1)]
        return httpx.Response(200, json={"data": posts, "paging": paging})

    def route(self) -> str:
        return f"{self.version}/{self.path}"


NETWORKS = [
    Network(
        "facebook",
        facebook,
        "graph.facebook.com",
        f"{PAGE}/published_posts",
        "message",
        "created_time",
        "permalink_url",
    ),
    Network(
        "instagram",
        instagram,
        "graph.facebook.com",
        f"{IG}/media",
        "caption",
        "timestamp",
        "permalink",
    ),
    Network(
        "threads",
        threads,
        "graph.threads.net",
        f"{ME}/threads",
        "text",
        "timestamp",
        "permalink",
        sends_next=False,
        version="/v1.0",
    ),
]
by_name = pytest.mark.parametrize("net", NETWORKS, ids=[n.name for n in NETWORKS])


@by_name
def test_short_pages_are_followed_by_their_cursor_up_to_the_limit(net: Network) -> None:
    recorder = Recorder()
    # Asked for 5, Meta answers 2, then 2, then the 1 still wanted: short pages with a cursor
    # are never the end of the listing.
    recorder.on(
        "GET", net.route(), net.page(30, 2, "c1"), net.page(28, 2, "c2"), net.page(26, 1, "c3")
    )
    listing = net.make(recorder).recent_posts(limit=5)
    assert [p.remote_id for p in listing] == [f"{net.name}-{n}" for n in range(30, 25, -1)]
    assert listing.exhausted is False  # stopped at the limit: older posts may exist
    first = listing[0]
    assert first.url == f"https://{net.host}/p/30"
    assert first.state == {"text": "Post 30", "created_at": "2026-12-06T09:30:00+00:00"}
    sent = recorder.sent("GET", net.route())
    assert [r.url.params.get("after") for r in sent] == [None, "c1", "c2"]
    assert [r.url.params["limit"] for r in sent] == ["5", "3", "1"]
    assert all(r.headers["authorization"].startswith("Bearer ") for r in sent)
    assert all("access_token" not in r.url.params for r in sent)  # the link is not fetched


@by_name
def test_the_networks_last_page_makes_the_listing_exhausted(net: Network) -> None:
    recorder = Recorder()
    if net.sends_next:  # the page without ``paging.next`` is the last
        recorder.on("GET", net.route(), net.page(9, 2, "c1"), net.page(7, 1, None))
    else:  # Threads: a page with a cursor is followed; the empty page after it is the end
        empty = httpx.Response(200, json={"data": []})
        recorder.on("GET", net.route(), net.page(9, 2, "c1"), net.page(7, 1, "c2"), empty)
    listing = net.make(recorder).recent_posts(limit=50)
    assert [p.remote_id for p in listing] == [f"{net.name}-{n}" for n in (9, 8, 7)]
    assert listing.exhausted is True
    assert len(recorder.sent("GET", net.route())) == (2 if net.sends_next else 3)


def graph_error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": "OAuthException", "code": code}},
    )


@by_name
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (graph_error(429, 17, "(#17) User request limit reached"), RateLimited),
        (graph_error(500, 2, "Service temporarily unavailable"), TransientError),
    ],
    ids=["rate-limited", "unavailable"],
)
def test_an_error_on_a_later_page_raises_rather_than_a_short_listing(
    net: Network, answer: httpx.Response, error: type[ProviderError]
) -> None:
    recorder = Recorder()
    recorder.on("GET", net.route(), net.page(40, 2, "c1"), answer)
    with pytest.raises(error) as raised:
        net.make(recorder).recent_posts(limit=10)
    assert raised.value.details["network"] == net.name
    assert len(recorder.sent("GET", net.route())) == 2


def test_a_time_based_next_link_is_followed_with_its_paging_parameters() -> None:
    """Some Page edges still page by time: ``next`` carries ``until`` and
    ``__paging_token`` instead of an ``after`` cursor (Paginated Results, "Time-based
    Pagination")."""
    net = NETWORKS[0]
    first = net.page(5, 2, None)
    body = first.json()
    body["paging"] = {
        "previous": f"https://graph.facebook.com/v23.0/{net.path}?since=1796547900&__previous=1",
        "next": f"https://graph.facebook.com/v23.0/{net.path}?limit=2&until=1796547780"
        "&__paging_token=enc_AdA",
    }
    recorder = Recorder()
    recorder.on("GET", net.route(), httpx.Response(200, json=body), net.page(3, 1, None))
    listing = net.make(recorder).recent_posts(limit=20)
    assert [p.remote_id for p in listing] == ["facebook-5", "facebook-4", "facebook-3"]
    assert listing.exhausted is True
    later = recorder.sent("GET", net.route())[1].url.params
    assert (later["until"], later["__paging_token"], later["limit"]) == (
        "1796547780",
        "enc_AdA",
        "18",
    )
    assert "after" not in later


def test_a_repeated_cursor_stops_without_claiming_the_listing_is_exhausted() -> None:
    net = NETWORKS[1]
    recorder = Recorder()
    recorder.on("GET", net.route(), net.page(20, 2, "same"), net.page(18, 2, "same"))
    listing = net.make(recorder).recent_posts(limit=50)
    assert len(listing) == 4 and listing.exhausted is False
