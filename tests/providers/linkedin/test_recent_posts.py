"""LinkedIn's ``recent_posts`` over several pages of the Posts API's ``q=author`` finder,
against answers written from LinkedIn's documentation (learn.microsoft.com/linkedin):
"Posts API" (``GET /rest/posts?author=…&q=author``, ``count`` up to 100, ``sortBy``
``LAST_MODIFIED`` or ``CREATED``, ``X-RestLi-Method: FINDER``), "Pagination" (``start`` and
``count``; "you have reached the end of the dataset when your response contains fewer
elements … than your count"; the versioned finders' ``paging.links`` with ``rel: next``),
and "API Error Handling"/"Rate Limits" (429, 5xx) for a page in the middle of the listing."""

from __future__ import annotations

import httpx
import pytest

from dialogo.providers.errors import ProviderError, RateLimited, TransientError
from dialogo.providers.linkedin.client import DEFAULT_VERSION
from tests.providers.linkedin.test_provider import ORG, li_error, provider
from tests.providers.x.test_provider import Recorder

FIRST_MS = 1796547600000  # 2026-12-06T09:00:00Z


def post(n: int) -> dict[str, object]:
    """Post ``n`` (the higher, the newer)."""
    return {
        "id": f"urn:li:share:{7000 + n}",
        "author": ORG,
        "commentary": f"Post {n}",
        "createdAt": FIRST_MS + n * 60_000,
        "publishedAt": FIRST_MS + n * 60_000,
        "lifecycleState": "PUBLISHED",
        "visibility": "PUBLIC",
    }


def page(
    newest: int, size: int, start: int, count: int, next_start: int | None = None
) -> httpx.Response:
    paging: dict[str, object] = {"start": start, "count": count}
    if next_start is not None:
        paging["links"] = [
            {
                "rel": "next",
                "type": "application/json",
                "href": f"/rest/posts?author=urn%3Ali%3Aorganization%3A2414183&q=author"
                f"&count={count}&start={next_start}&sortBy=CREATED",
            }
        ]
    elements = [post(n) for n in range(newest, newest - size, -1)]
    return httpx.Response(200, json={"elements": elements, "paging": paging})


def test_full_pages_and_next_links_are_followed_up_to_the_limit() -> None:
    recorder = Recorder()
    recorder.on(
        "GET",
        "/rest/posts",
        page(50, 100, 0, 100),  # a full page: more may follow
        page(-50, 80, 100, 100, next_start=200),  # short, but LinkedIn links the next page
        page(-130, 70, 200, 70),  # the 70 still wanted
    )
    listing = provider(recorder).recent_posts(limit=250)
    assert len(listing) == 250 and listing.exhausted is False
    assert listing[0].remote_id == "urn:li:share:7050"
    assert listing[0].url == "https://www.linkedin.com/feed/update/urn:li:share:7050/"
    assert listing[0].state == {"text": "Post 50", "created_at": "2026-12-06T09:50:00+00:00"}
    sent = recorder.sent("GET", "/rest/posts")
    assert [(r.url.params["start"], r.url.params["count"]) for r in sent] == [
        ("0", "100"),
        ("100", "100"),
        ("200", "70"),
    ]
    for request in sent:  # newest created first, by the finder, in the channel's version
        assert request.url.params["sortBy"] == "CREATED"
        assert (request.url.params["q"], request.url.params["author"]) == ("author", ORG)
        assert request.headers["x-restli-method"] == "FINDER"
        assert request.headers["linkedin-version"] == DEFAULT_VERSION


def test_a_page_shorter_than_asked_without_a_next_link_is_the_end() -> None:
    recorder = Recorder()
    recorder.on("GET", "/rest/posts", page(30, 3, 0, 3), page(27, 2, 3, 3))
    listing = provider(recorder).recent_posts(limit=3)
    assert listing.exhausted is False  # the limit: LinkedIn has not said it has no more
    recorder = Recorder()
    recorder.on("GET", "/rest/posts", page(30, 100, 0, 100), page(-70, 2, 100, 100))
    listing = provider(recorder).recent_posts(limit=1000)
    assert len(listing) == 102 and listing.exhausted is True
    assert listing[-1].remote_id == "urn:li:share:6929"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (li_error(429, "TOO_MANY_REQUESTS", "Resource level throttle limit"), RateLimited),
        (li_error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error"), TransientError),
        (li_error(503, "SERVICE_UNAVAILABLE", "Service Unavailable"), TransientError),
    ],
    ids=["429", "500", "503"],
)
def test_an_error_on_a_later_page_raises_rather_than_a_short_listing(
    answer: httpx.Response, error: type[ProviderError]
) -> None:
    recorder = Recorder()
    recorder.on("GET", "/rest/posts", page(300, 100, 0, 100), answer)
    with pytest.raises(error):
        provider(recorder).recent_posts(limit=200)
    assert len(recorder.sent("GET", "/rest/posts")) == 2
