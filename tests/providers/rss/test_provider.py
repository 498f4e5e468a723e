"""The RSS/Atom provider against hand-written feeds served by ``httpx.MockTransport``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from dialogo.core.clock import FrozenClock
from dialogo.providers.base import Credentials, Draft, MessageKind
from dialogo.providers.errors import (
    Disconnected,
    InvalidPayload,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from dialogo.providers.rss.provider import RssProvider, strip_html

DATA = Path(__file__).parent / "data"
RSS = (DATA / "bottega.rss.xml").read_bytes()
ATOM = (DATA / "studio.atom.xml").read_bytes()
PAGE = (DATA / "page.html").read_bytes()
URL = "https://bottega.example.it/feed.xml"
NOW = dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, url: str = URL) -> RssProvider:
    return RssProvider(
        Credentials(),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        config={"url": url},
        clock=FrozenClock(NOW),
    )


def serve(body: bytes, content_type: str = "application/rss+xml", **headers: str) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type, **headers})

    return handle


# -- parsing -----------------------------------------------------------------------------------


def test_verify_names_the_feed() -> None:
    account = make(serve(RSS)).verify()
    assert account.remote_id == URL
    assert account.handle == "Bottega Verde & Amici"
    assert account.url == "https://bottega.example.it/"

    atom = make(serve(ATOM, "application/atom+xml"), "https://studio.example.com/atom").verify()
    assert atom.remote_id == "urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6"
    assert atom.handle == "Studio Notes"


def test_rss_entries_become_posts() -> None:
    page = make(serve(RSS)).fetch_messages(None)
    first, second = page.messages
    assert first.kind is MessageKind.post
    assert first.remote_id == "bottega-101"
    assert first.url == "https://bottega.example.it/primavera"
    assert first.author.handle == "Giulia Rossi"
    assert first.created_at == dt.datetime(2026, 3, 2, 7, 30, tzinfo=dt.UTC)
    assert first.language == "it"
    assert first.text == (
        "Nuova collezione di primavera\n\nScopri la collezione in negozio & online.\n\n"
        "Sconti fino al 20 %!"
    )
    # No author: the feed speaks; a summary equal to the title is not repeated; a date that
    # cannot be read is the time of the fetch.
    assert second.author.handle == "Bottega Verde & Amici"
    assert second.text == "Orari di Pasqua"
    assert second.created_at == NOW


def test_atom_entries_become_posts() -> None:
    url = "https://studio.example.com/atom"
    launch, nota = make(serve(ATOM, "application/atom+xml"), url).fetch_messages(None).messages
    assert launch.remote_id == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert launch.text == "Launch day\n\nWe launched today."
    assert launch.author.handle == "Ann Lee"
    assert launch.author.remote_id == "https://studio.example.com/ann"
    assert launch.created_at == dt.datetime(2026, 3, 1, 15, 15, tzinfo=dt.UTC)
    assert launch.created_at.tzinfo is not None
    assert launch.language == "en"
    assert launch.url == "https://studio.example.com/launch"
    assert nota.text == "Una nota in italiano\n\nCiao a tutti"
    assert nota.language == "it"
    assert nota.created_at == dt.datetime(2026, 2, 28, 9, tzinfo=dt.UTC)  # updated, no published
    assert nota.author.handle == "Studio Notes"


def test_strip_html() -> None:
    assert strip_html("<p>Uno &amp; <b>due</b></p><p>tre</p>") == "Uno & due\n\ntre"
    assert strip_html("a<br>b<style>p{}</style><script>x()</script>") == "a\nb"
    assert strip_html("caffè &egrave; &#8364;5 &lt;ok&gt;") == "caffè è €5 <ok>"
    assert strip_html("  plain   text\t here ") == "plain text here"


# -- polling -----------------------------------------------------------------------------------


def test_conditional_get_and_no_duplicates() -> None:
    seen: list[httpx.Request] = []
    state = {"body": RSS, "fresh": True}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if not state["fresh"] and request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(
            200,
            content=state["body"],
            headers={"etag": '"v1"', "last-modified": "Mon, 02 Mar 2026 08:00:00 GMT"},
        )

    provider = make(handle)
    first = provider.fetch_messages(None)
    assert len(first.messages) == 2
    assert "if-none-match" not in seen[0].headers
    cursor = json.loads(first.cursor or "")
    assert cursor["etag"] == '"v1"'
    assert set(cursor["seen"]) == {"bottega-101", "bottega-100"}

    state["fresh"] = False
    second = provider.fetch_messages(first.cursor)
    assert seen[1].headers["if-none-match"] == '"v1"'
    assert seen[1].headers["if-modified-since"] == "Mon, 02 Mar 2026 08:00:00 GMT"
    assert second.messages == []
    assert second.cursor == first.cursor

    # The server ignores the validators and sends the whole feed again, with one new entry.
    state["fresh"] = True
    state["body"] = RSS.replace(
        b"<item>",
        b'<item><title>Novit\xc3\xa0</title><guid isPermaLink="false">bottega-102</guid>'
        b"</item><item>",
        1,
    )
    third = provider.fetch_messages(second.cursor)
    assert [m.remote_id for m in third.messages] == ["bottega-102"]
    assert provider.fetch_messages(third.cursor).messages == []


def test_a_cursor_it_cannot_read_starts_afresh() -> None:
    assert len(make(serve(RSS)).fetch_messages("not json").messages) == 2


def test_redirects_are_followed() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "/feed.xml"})
        return httpx.Response(200, content=RSS)

    assert make(handle, "https://bottega.example.it/old").verify().handle.startswith("Bottega")


# -- what is not a feed, and what cannot be done -----------------------------------------------


@pytest.mark.parametrize(
    "body", [PAGE, b"", b"<rss version='2.0'><channel><title>broken", b"\x00\xff garbage"]
)
def test_something_that_is_not_a_feed_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidPayload, match="not an RSS or Atom feed"):
        make(serve(body, "text/html")).verify()
    with pytest.raises(InvalidPayload):
        make(serve(body, "text/html")).fetch_messages(None)


@pytest.mark.parametrize("url", ["", "ftp://example.org/feed", "file:///etc/passwd", "feed.xml"])
def test_only_http_addresses_are_fetched(url: str) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with pytest.raises(InvalidPayload, match="not a feed address"):
        make(handle, url).verify()


def test_a_feed_cannot_be_published_to() -> None:
    provider = make(serve(RSS))
    issues = provider.validate(Draft(text="Ciao"))
    assert [i.code for i in issues] == ["cannot_publish"]
    with pytest.raises(InvalidPayload, match="listening source"):
        provider.publish(Draft(text="Ciao"))


# -- errors ------------------------------------------------------------------------------------


def answer(status: int, **headers: str) -> Handler:
    return lambda request: httpx.Response(status, text="no", headers=headers)


@pytest.mark.parametrize("status", [404, 410])
def test_a_feed_that_is_gone_disconnects(status: int) -> None:
    with pytest.raises(Disconnected, match="the feed is gone"):
        make(answer(status)).fetch_messages(None)


def test_http_errors_map_to_the_shared_errors() -> None:
    with pytest.raises(ReauthRequired):
        make(answer(401)).verify()
    with pytest.raises(RateLimited) as limited:
        make(answer(429, **{"Retry-After": "120"})).fetch_messages(None)
    assert limited.value.retry_after == 120
    with pytest.raises(TransientError):
        make(answer(502)).fetch_messages(None)

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransientError) as timeout:
        make(hang).fetch_messages(None)
    assert timeout.value.transient
