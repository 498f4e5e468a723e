"""Mastodon's length rule, from its documentation and ``StatusLengthValidator``: at most 500
characters (grapheme clusters), every http(s) URL counting 23 whatever its length, and a
mention of a remote account (``@user@domain``) counting only ``@user``."""

from __future__ import annotations

import pytest

from dialogo.providers.base import Credentials, Draft, Media
from dialogo.providers.mastodon.provider import (
    MastodonProvider,
    countable_text,
    html_to_text,
    status_length,
)
from dialogo.providers.mastodon.testing import PNG


@pytest.fixture
def provider() -> MastodonProvider:
    return MastodonProvider(Credentials(access_token="t"), config={"instance_url": "m.example"})


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Ciao", 4),
        ("https://example.com", 23),
        ("https://example.com/" + "a" * 300, 23),
        ("http://a.co", 23),  # short links count 23 too
        ("see https://example.com/x?y=1.", 4 + 23 + 1),  # the final dot is not part of it
        ("two https://a.example.org and https://b.example.org", 4 + 23 + 5 + 23),
        ("example.com", 11),  # without a scheme Mastodon does not count it as a link
        ("ftp://example.com", 17),
        ("@ann@mastodon.social", 4),
        ("ciao @ann@mastodon.social!", 5 + 4 + 1),
        ("@ann", 4),
        ("mail ann@example.com", 20),  # an e-mail address is not a mention
        ("🍂", 1),
        ("👩‍👩‍👧", 1),  # one grapheme cluster (a ZWJ sequence)
        ("e\u0301", 1),  # e + combining acute accent
        ("🇮🇹", 1),
    ],
)
def test_status_length(text: str, length: int) -> None:
    assert status_length(text) == length


def test_the_content_warning_counts_too() -> None:
    assert status_length("abc", spoiler_text="cw") == 5


def test_countable_text_keeps_what_precedes_a_link() -> None:
    assert countable_text("(https://example.com)") == "(" + "x" * 23 + ")"


def test_exactly_500_is_fine_and_501_is_not(provider: MastodonProvider) -> None:
    link = "https://example.com/" + "p" * 100
    assert provider.validate(Draft(text="x" * 476 + " " + link)) == []
    issues = provider.validate(Draft(text="x" * 477 + " " + link))
    assert [i.code for i in issues] == ["too_long"]
    assert "501" in issues[0].message
    assert provider.validate(Draft(text="é" * 500)) == []
    assert provider.validate(Draft(text="@team@" + "x" * 600 + ".example " + "y" * 494)) == []


def test_media_rules(provider: MastodonProvider) -> None:
    image = Media(PNG, "image/png", alt_text="a dot")
    video = Media(b"\0\0\0\x18ftypmp42", "video/mp4")

    def codes(draft: Draft) -> list[str]:
        return [i.code for i in provider.validate(draft)]

    assert codes(Draft(text="", media=[image] * 4)) == []
    assert codes(Draft(text="", media=[video])) == []
    assert codes(Draft(text="x", media=[image] * 5)) == ["too_many_media"]
    assert codes(Draft(text="x", media=[image, video])) == ["mixed_media"]
    assert codes(Draft(text="x", media=[video, video])) == ["mixed_media"]
    assert codes(Draft(text="x", media=[Media(b"%PDF", "application/pdf")])) == ["media_type"]
    assert codes(Draft(text="x", media=[Media(b"", "image/png")])) == ["media_empty"]
    big = Media(b"\0" * (16 * 1024 * 1024 + 1), "image/jpeg")
    assert codes(Draft(text="x", media=[big])) == ["media_too_large"]
    assert codes(Draft(text="x", media=[Media(PNG, "image/png", alt_text="a" * 1500)])) == []
    issues = provider.validate(
        Draft(text="x", media=[Media(PNG, "image/png", alt_text="a" * 1501)])
    )
    assert [(i.code, i.field) for i in issues] == [("alt_text_too_long", "media[0].alt_text")]
    assert codes(Draft(text=" ")) == ["empty"]


def test_thread_and_visibility_rules() -> None:
    provider = MastodonProvider(
        Credentials(access_token="t"), config={"instance_url": "m.example", "visibility": "friends"}
    )
    issues = provider.validate(Draft(text="ok", thread=[Draft(text="y" * 501)]))
    assert [(i.code, i.field) for i in issues] == [
        ("visibility", "visibility"),
        ("too_long", "thread[0].text"),
    ]


def test_html_to_text() -> None:
    content = (
        '<p>Ciao <span class="h-card"><a href="https://m.example/@brand" class="u-url mention">'
        "@<span>brand</span></a></span> &amp; grazie!</p><p>Seconda riga<br />terza: "
        '<a href="https://example.com/a/very/long/path" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com/a/very/</span>'
        '<span class="invisible">long/path</span></a></p>'
    )
    assert html_to_text(content) == (
        "Ciao @brand & grazie!\n\nSeconda riga\nterza: https://example.com/a/very/long/path"
    )
